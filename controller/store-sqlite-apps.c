// SPDX-License-Identifier: MIT
/*
 * The controller's store (store.h) on SQLite, apps and routes: the queries on the statements
 * store-sqlite.c prepares (store-sqlite-internal.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "random.h"
#include "store-sqlite-internal.h"

/* ---- apps ---- */

/* Free the strings of *a and zero it. */
void store_app_clear(struct store_app *a)
{
	free(a->guid);
	free(a->name);
	free(a->stack);
	free(a->buildpack);
	free(a->command);
	free(a->env_json);
	free(a->package_sha256);
	free(a->droplet_sha256);
	free(a->detected_buildpack);
	free(a->detected_command);
	free(a->staging_error);
	free(a->version);
	memset(a, 0, sizeof *a);
}

/* Read the row st is on (STORE_APP_COLUMNS) into *a. */
static int store_app_read(sqlite3_stmt *st, struct store_app *a, struct dew_error **err)
{
	int state = store_enum_parse(store_app_state_names, DEW_ARRAY_SIZE(store_app_state_names),
				     sqlite3_column_text(st, 11));
	int package_state =
		store_enum_parse(store_package_state_names, DEW_ARRAY_SIZE(store_package_state_names),
				 sqlite3_column_text(st, 12));

	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(st, 0);
	/* Only a hand edit that bypassed the CHECK constraints gets here. */
	if (state < 0 || package_state < 0)
		return dew_error_set_code(
			err, EIO, "store: app %" PRId64 " has an unknown state or package state", a->id);
	a->guid = store_col_str(st, 1);
	a->owner_id = sqlite3_column_int64(st, 2);
	a->name = store_col_str(st, 3);
	a->instances = sqlite3_column_int64(st, 4);
	a->memory_mb = sqlite3_column_int64(st, 5);
	a->disk_mb = sqlite3_column_int64(st, 6);
	a->stack = store_col_str(st, 7);
	a->buildpack = store_col_str(st, 8);
	a->command = store_col_str(st, 9);
	a->env_json = store_col_str(st, 10);
	a->state = (enum store_app_state)state;
	a->package_state = (enum store_package_state)package_state;
	a->package_sha256 = store_col_str(st, 13);
	a->droplet_sha256 = store_col_str(st, 14);
	a->detected_buildpack = store_col_str(st, 15);
	a->detected_command = store_col_str(st, 16);
	a->staging_error = store_col_str(st, 17);
	a->version = store_col_str(st, 18);
	a->revision = sqlite3_column_int64(st, 19);
	a->created = sqlite3_column_int64(st, 20);
	a->updated = sqlite3_column_int64(st, 21);
	return 0;
}

/* Bind *a to ?1..?21 of SQL_APP_INSERT / SQL_APP_UPDATE (STORE_APP_COLUMNS without id). */
static int store_app_bind(struct store *s, sqlite3_stmt *st, const struct store_app *a,
			  struct dew_error **err)
{
	return store_bind(
		s, st, err, "titiiittttttttttttiii", a->guid, a->owner_id, a->name, a->instances,
		a->memory_mb, a->disk_mb, a->stack, a->buildpack, a->command,
		a->env_json ? a->env_json : "{}",
		store_enum_name(store_app_state_names, DEW_ARRAY_SIZE(store_app_state_names), (int)a->state),
		store_enum_name(store_package_state_names, DEW_ARRAY_SIZE(store_package_state_names),
				(int)a->package_state),
		a->package_sha256, a->droplet_sha256, a->detected_buildpack, a->detected_command,
		a->staging_error, a->version, a->revision, a->created, a->updated);
}

/* Insert *a with a new guid and version, revision 1 and the current time, written back into *a. */
int store_app_create(struct store *s, struct store_app *a, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_APP_INSERT];
	char guid[DEW_UUID_LEN + 1], version[DEW_UUID_LEN + 1];
	struct store_app row = *a;
	int rc;

	dew_uuid4(guid);
	dew_uuid4(version);
	row.guid = guid;
	row.version = version;
	row.revision = 1;
	row.created = row.updated = time(NULL);
	rc = store_app_bind(s, st, &row, err);
	if (rc == 0)
		rc = store_step_done(s, st, err);
	if (rc < 0)
		return rc;
	free(a->guid);
	free(a->version);
	a->id = sqlite3_last_insert_rowid(s->db);
	a->guid = xstrdup(guid);
	a->version = xstrdup(version);
	a->revision = 1;
	a->created = a->updated = row.created;
	if (!a->env_json)
		a->env_json = xstrdup("{}");
	return 0;
}

static int store_app_fetch(struct store *s, sqlite3_stmt *st, struct store_app *out, struct dew_error **err)
{
	int rc = store_step_row(s, st, err);

	return rc < 0 ? rc : store_app_read(st, out, err);
}

/* The app with this id into *out (cleared with store_app_clear); -ENOENT when none. */
int store_app_get(struct store *s, int64_t id, struct store_app *out, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_APP_GET];
	int rc = store_bind(s, st, err, "i", id);

	memset(out, 0, sizeof *out);
	return rc < 0 ? rc : store_app_fetch(s, st, out, err);
}

/* The app with this guid into *out; -ENOENT when none. */
int store_app_get_by_guid(struct store *s, const char *guid, struct store_app *out, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_APP_GET_BY_GUID];
	int rc = store_bind(s, st, err, "t", guid);

	memset(out, 0, sizeof *out);
	return rc < 0 ? rc : store_app_fetch(s, st, out, err);
}

/* owner_id's app called name into *out; -ENOENT when none. */
int store_app_get_by_name(struct store *s, int64_t owner_id, const char *name, struct store_app *out,
			  struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_APP_GET_BY_NAME];
	int rc = store_bind(s, st, err, "it", owner_id, name);

	memset(out, 0, sizeof *out);
	return rc < 0 ? rc : store_app_fetch(s, st, out, err);
}

/* The apps of owner_id (or all), by name then owner, in a new array. */
int store_app_list(struct store *s, int64_t owner_id, struct store_app **out, size_t *n,
		   struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[owner_id >= 0 ? SQL_APP_LIST_OWNER : SQL_APP_LIST_ALL];
	struct store_app *apps = NULL;
	size_t len = 0, cap = 0;
	int rc = owner_id >= 0 ? store_bind(s, st, err, "i", owner_id) : 0;

	*out = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? 2 * cap : 16;
			apps = xreallocarray(apps, cap, sizeof *apps);
		}
		if (store_app_read(st, &apps[len], err) < 0) {
			store_app_list_free(apps, len);
			return -EIO;
		}
		len++;
	}
	if (rc != SQLITE_DONE) {
		store_app_list_free(apps, len);
		return store_fail(s, rc, err);
	}
	*out = apps;
	*n = len;
	return 0;
}

/* Free n apps and the array. */
void store_app_list_free(struct store_app *apps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_app_clear(&apps[i]);
	free(apps);
}

/* Write *a over the stored app if its revision is a->revision; bump a->revision and a->updated. */
int store_app_update(struct store *s, struct store_app *a, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_APP_UPDATE];
	struct store_app row = *a;
	int rc;

	row.updated = time(NULL);
	rc = store_app_bind(s, st, &row, err);
	if (rc == 0) {
		int r = sqlite3_bind_int64(st, 22, a->id);
		rc = r == SQLITE_OK ? 0 : store_fail(s, r, err);
	}
	if (rc == 0)
		rc = store_step_done(s, st, err);
	if (rc < 0)
		return rc;
	if (sqlite3_changes(s->db) == 0) {
		/* Nothing matched id and revision: tell a vanished app from a concurrent update. */
		cleanup_stmt sqlite3_stmt *ex = s->stmt[SQL_APP_EXISTS];
		rc = store_bind(s, ex, err, "i", a->id);
		if (rc == 0)
			rc = store_step_row(s, ex, err);
		return rc == 0 ? -ESTALE : rc;
	}
	a->revision++;
	a->updated = row.updated;
	if (!a->env_json)
		a->env_json = xstrdup("{}");
	return 0;
}

/* Delete an app; ON DELETE CASCADE removes its routes in the same statement. -ENOENT when none. */
int store_app_delete(struct store *s, int64_t id, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_APP_DELETE];
	int rc = store_bind(s, st, err, "i", id);

	return rc < 0 ? rc : store_step_changed(s, st, err);
}

/* How many apps owner_id has and the memory their STARTED instances claim. */
int store_usage(struct store *s, int64_t owner_id, int64_t *apps, int64_t *started_memory_mb,
		struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_USAGE];
	int rc = store_bind(s, st, err, "i", owner_id);

	if (rc == 0)
		rc = store_step_row(s, st, err);
	if (rc == 0) {
		*apps = sqlite3_column_int64(st, 0);
		*started_memory_mb = sqlite3_column_int64(st, 1);
	}
	return rc;
}

/* ---- routes ---- */

/* Free the strings of *r and zero it. */
void store_route_clear(struct store_route *r)
{
	free(r->host);
	memset(r, 0, sizeof *r);
}

static void store_route_read(sqlite3_stmt *st, struct store_route *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->host = store_col_str(st, 1);
	r->app_id = sqlite3_column_int64(st, 2);
	r->owner_id = sqlite3_column_int64(st, 3);
}

/* Insert a route; -EEXIST when the host is taken, -ENOENT when the app or owner does not exist. */
int store_route_create(struct store *s, const char *host, int64_t app_id, int64_t owner_id, int64_t *id,
		       struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_ROUTE_INSERT];
	int rc = store_bind(s, st, err, "tii", host, app_id, owner_id);

	if (rc == 0)
		rc = store_step_done(s, st, err);
	if (rc == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

/* The route of host into *out (cleared with store_route_clear); -ENOENT when none. */
int store_route_get_by_host(struct store *s, const char *host, struct store_route *out,
			    struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_ROUTE_GET_BY_HOST];
	int rc = store_bind(s, st, err, "t", host);

	memset(out, 0, sizeof *out);
	if (rc == 0)
		rc = store_step_row(s, st, err);
	if (rc == 0)
		store_route_read(st, out);
	return rc;
}

/* The routes of an app, of an owner or all, by host, in a new array. */
int store_route_list(struct store *s, int64_t app_id, int64_t owner_id, struct store_route **out, size_t *n,
		     struct dew_error **err)
{
	enum store_sql_id q = app_id >= 0     ? SQL_ROUTE_LIST_APP
			      : owner_id >= 0 ? SQL_ROUTE_LIST_OWNER
					      : SQL_ROUTE_LIST_ALL;
	cleanup_stmt sqlite3_stmt *st = s->stmt[q];
	struct store_route *routes = NULL;
	size_t len = 0, cap = 0;
	int rc = q == SQL_ROUTE_LIST_ALL ? 0 : store_bind(s, st, err, "i", app_id >= 0 ? app_id : owner_id);

	*out = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? 2 * cap : 16;
			routes = xreallocarray(routes, cap, sizeof *routes);
		}
		store_route_read(st, &routes[len++]);
	}
	if (rc != SQLITE_DONE) {
		store_route_list_free(routes, len);
		return store_fail(s, rc, err);
	}
	*out = routes;
	*n = len;
	return 0;
}

/* Free n routes and the array. */
void store_route_list_free(struct store_route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_route_clear(&routes[i]);
	free(routes);
}

/* Delete a route; -ENOENT when none. */
int store_route_delete(struct store *s, int64_t id, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_ROUTE_DELETE];
	int rc = store_bind(s, st, err, "i", id);

	return rc < 0 ? rc : store_step_changed(s, st, err);
}
