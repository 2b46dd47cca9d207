// SPDX-License-Identifier: MIT
/*
 * The controller's store (store.h) on SQLite: one database file in WAL mode with synchronous=FULL,
 * so a write is on disk when its call returns and neither kill -9 nor a power loss loses it;
 * foreign keys tie tokens, apps and routes to their owners; the schema is a list of migrations
 * applied in order at open. Statements are prepared once and cached; values are only ever bound,
 * never pasted into SQL text. This file holds the schema, the statements, the helpers every
 * query uses, users and tokens; store-sqlite-apps.c holds apps and routes.
 */
#include "store-sqlite-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "random.h"

enum {
	STORE_BUSY_TIMEOUT_MS = 5000, /* another connection (a second controller, the CLI) holds the lock */
};

/*
 * The schema, one migration per entry: entry i takes the database from user_version i to i + 1.
 * Entries are never edited once released; a change is a new entry. Enums are stored as their
 * names so the database reads well in the sqlite3 shell.
 */
static const char *const store_migrations[] = {
	/* 1: users, tokens, apps, routes. UNIQUE(owner_id, name) also indexes apps by owner. */
	"CREATE TABLE users ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT UNIQUE NOT NULL,"
	" password_hash TEXT NOT NULL,"
	" admin INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE tokens ("
	" sha256 TEXT PRIMARY KEY,"
	" user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" expires INTEGER NOT NULL);"
	"CREATE INDEX tokens_by_user ON tokens(user_id);"
	"CREATE INDEX tokens_by_expiry ON tokens(expires);"
	"CREATE TABLE apps ("
	" id INTEGER PRIMARY KEY,"
	" guid TEXT UNIQUE NOT NULL,"
	" owner_id INTEGER NOT NULL REFERENCES users(id),"
	" name TEXT NOT NULL,"
	" instances INTEGER NOT NULL CHECK (instances >= 0),"
	" memory_mb INTEGER NOT NULL CHECK (memory_mb >= 0),"
	" disk_mb INTEGER NOT NULL CHECK (disk_mb >= 0),"
	" stack TEXT NOT NULL,"
	" buildpack TEXT,"
	" command TEXT,"
	" env_json TEXT NOT NULL DEFAULT '{}',"
	" state TEXT NOT NULL CHECK (state IN ('STOPPED', 'STARTED')),"
	" package_state TEXT NOT NULL CHECK (package_state IN ('PENDING', 'STAGED', 'FAILED')),"
	" package_sha256 TEXT,"
	" droplet_sha256 TEXT,"
	" detected_buildpack TEXT,"
	" detected_command TEXT,"
	" staging_error TEXT,"
	" version TEXT NOT NULL,"
	" revision INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL,"
	" UNIQUE (owner_id, name));"
	"CREATE TABLE routes ("
	" id INTEGER PRIMARY KEY,"
	" host TEXT UNIQUE NOT NULL,"
	" app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
	" owner_id INTEGER NOT NULL REFERENCES users(id));"
	"CREATE INDEX routes_by_app ON routes(app_id);"
	"CREATE INDEX routes_by_owner ON routes(owner_id);",
};

static const char *const store_sql[SQL__COUNT] = {
	[SQL_USER_INSERT] = "INSERT INTO users (name, password_hash, admin, created) VALUES (?, ?, ?, ?)",
	[SQL_USER_GET] = "SELECT " STORE_USER_COLUMNS " FROM users WHERE id = ?",
	[SQL_USER_GET_BY_NAME] = "SELECT " STORE_USER_COLUMNS " FROM users WHERE name = ?",
	[SQL_USER_COUNT] = "SELECT count(*) FROM users",
	[SQL_TOKEN_INSERT] = "INSERT INTO tokens (sha256, user_id, expires) VALUES (?, ?, ?)",
	[SQL_TOKEN_LOOKUP] = "SELECT user_id, expires FROM tokens WHERE sha256 = ?",
	[SQL_TOKEN_DELETE] = "DELETE FROM tokens WHERE sha256 = ?",
	[SQL_TOKEN_PURGE] = "DELETE FROM tokens WHERE expires < ?",
	[SQL_APP_INSERT] =
		"INSERT INTO apps (" STORE_APP_COLUMNS ") VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
		" ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
	[SQL_APP_GET] = "SELECT " STORE_APP_COLUMNS " FROM apps WHERE id = ?",
	[SQL_APP_GET_BY_GUID] = "SELECT " STORE_APP_COLUMNS " FROM apps WHERE guid = ?",
	[SQL_APP_GET_BY_NAME] = "SELECT " STORE_APP_COLUMNS " FROM apps WHERE owner_id = ? AND name = ?",
	[SQL_APP_LIST_OWNER] =
		"SELECT " STORE_APP_COLUMNS " FROM apps WHERE owner_id = ? ORDER BY name, owner_id",
	[SQL_APP_LIST_ALL] = "SELECT " STORE_APP_COLUMNS " FROM apps ORDER BY name, owner_id",
	/* guid (?1), owner_id (?2) and created (?20) never change. */
	[SQL_APP_UPDATE] =
		"UPDATE apps SET name = ?3, instances = ?4, memory_mb = ?5, disk_mb = ?6, stack = ?7,"
		" buildpack = ?8, command = ?9, env_json = ?10, state = ?11, package_state = ?12,"
		" package_sha256 = ?13, droplet_sha256 = ?14, detected_buildpack = ?15,"
		" detected_command = ?16, staging_error = ?17, version = ?18, revision = revision + 1,"
		" updated = ?21 WHERE id = ?22 AND revision = ?19",
	[SQL_APP_EXISTS] = "SELECT 1 FROM apps WHERE id = ?",
	[SQL_APP_DELETE] = "DELETE FROM apps WHERE id = ?",
	[SQL_USAGE] = "SELECT count(*),"
		      " coalesce(sum(CASE WHEN state = 'STARTED' THEN instances * memory_mb END), 0)"
		      " FROM apps WHERE owner_id = ?",
	[SQL_ROUTE_INSERT] = "INSERT INTO routes (host, app_id, owner_id) VALUES (?, ?, ?)",
	[SQL_ROUTE_GET_BY_HOST] = "SELECT " STORE_ROUTE_COLUMNS " FROM routes WHERE host = ?",
	[SQL_ROUTE_LIST_APP] = "SELECT " STORE_ROUTE_COLUMNS " FROM routes WHERE app_id = ? ORDER BY host",
	[SQL_ROUTE_LIST_OWNER] =
		"SELECT " STORE_ROUTE_COLUMNS " FROM routes WHERE owner_id = ? ORDER BY host",
	[SQL_ROUTE_LIST_ALL] = "SELECT " STORE_ROUTE_COLUMNS " FROM routes ORDER BY host",
	[SQL_ROUTE_DELETE] = "DELETE FROM routes WHERE id = ?",
};

/*
 * Fill *err with "store: [what: ]<SQLite's message>[ (<errno text>)]" and return -EIO. The errno
 * is added for I/O failures, where SQLite's own words ("disk I/O error") do not say which.
 */
int store_sqlite_error(struct store *s, int rc, const char *what, struct dew_error **err)
{
	int primary = rc & 0xff, sys = sqlite3_system_errno(s->db);
	bool add_sys =
		sys > 0 && (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL);

	return dew_error_set_code(err, EIO, "store: %s%s%s%s%s%s", what ? what : "", what ? ": " : "",
				  sqlite3_errmsg(s->db), add_sys ? " (" : "", add_sys ? strerror(sys) : "",
				  add_sys ? ")" : "");
}

/* Map a failed statement's result code to store.h's errors. */
int store_fail(struct store *s, int rc, struct dew_error **err)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT; /* the user or app referred to does not exist */
	case SQLITE_CONSTRAINT_NOTNULL:
	case SQLITE_CONSTRAINT_CHECK:
		return dew_error_set_code(err, EINVAL, "store: %s", sqlite3_errmsg(s->db));
	default:
		return store_sqlite_error(s, rc, NULL, err);
	}
}

/*
 * The cleanup of a cached statement's use: reset it, so no read keeps a transaction (and the WAL)
 * open, and drop its bindings, so it keeps no pointer to a caller's strings.
 */
void store_stmt_release(sqlite3_stmt **st)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
}

/*
 * Bind the arguments after types to parameters 1, 2, ... of st: 't' a const char * (NULL binds
 * NULL), 'i' an int64_t (pass exactly that type).
 */
int store_bind(struct store *s, sqlite3_stmt *st, struct dew_error **err, const char *types, ...)
{
	va_list ap;
	int rc = SQLITE_OK;

	va_start(ap, types);
	for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
		if (types[i] == 't') {
			const char *v = va_arg(ap, const char *);
			/* SQLITE_STATIC: the statement is stepped and released before the call returns. */
			rc = v ? sqlite3_bind_text(st, i + 1, v, -1, SQLITE_STATIC)
			       : sqlite3_bind_null(st, i + 1);
		} else if (types[i] == 'i') {
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		}
	}
	va_end(ap);
	return rc == SQLITE_OK ? 0 : store_fail(s, rc, err);
}

/* Run a statement that returns no row. */
int store_step_done(struct store *s, sqlite3_stmt *st, struct dew_error **err)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, err);
}

/* Step to the first row: 0 with one, -ENOENT when there is none. */
int store_step_row(struct store *s, sqlite3_stmt *st, struct dew_error **err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : store_fail(s, rc, err);
}

/* A write that names one row by id: -ENOENT when it touched none. */
int store_step_changed(struct store *s, sqlite3_stmt *st, struct dew_error **err)
{
	int rc = store_step_done(s, st, err);

	if (rc < 0)
		return rc;
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

char *store_col_str(sqlite3_stmt *st, int col)
{
	const unsigned char *v = sqlite3_column_text(st, col);

	if (!v && sqlite3_column_type(st, col) != SQLITE_NULL)
		abort(); /* out of memory converting the value, as xmalloc would */
	return v ? xstrdup((const char *)v) : NULL;
}

int store_enum_parse(const char *const *names, size_t n, const unsigned char *v)
{
	for (size_t i = 0; v && i < n; i++)
		if (strcmp(names[i], (const char *)v) == 0)
			return (int)i;
	return -1;
}

/* The name of an enum value, or NULL (which the NOT NULL column refuses) when out of range. */
const char *store_enum_name(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

/* ---- open, migrate, close ---- */

/* Run SQL text of this file (pragmas, migrations); what names the step in the error. */
static int store_exec(struct store *s, const char *sql, const char *what, struct dew_error **err)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_sqlite_error(s, rc, what, err);
}

/* The text of the first column of the first row of a pragma, into buf. */
static int store_pragma(struct store *s, const char *sql, char *buf, size_t size, const char *what,
			struct dew_error **err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		snprintf(buf, size, "%s", v ? (const char *)v : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		buf[0] = '\0';
		rc = SQLITE_OK;
	}
	rc = rc == SQLITE_OK ? 0 : store_sqlite_error(s, rc, what, err);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Create the database file with mode 0600 before SQLite does (it would use 0644 less the umask):
 * it holds password and token hashes. SQLite gives its -wal and -shm files the same mode.
 */
static int store_create_file(const char *path, struct dew_error **err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno == EEXIST ? 0 : dew_error_set(err, errno, "store: create `%s`", path);
	close(fd);
	/* The new name must survive a power loss along with the first commit. */
	const char *slash = strrchr(path, '/');
	cleanup_free char *dir =
		slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return dew_error_set(err, errno, "store: sync directory `%s`", dir);
	return 0;
}

/* Connection settings; pragmas are per connection, so they run at every open. */
static int store_configure(struct store *s, const char *path, struct dew_error **err)
{
	cleanup_free char *what = xasprintf("open `%s`", path);
	char mode[16], fk[16];
	int rc;

	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	/* Refuse writes to the schema tables themselves, even from SQL text we did not write. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	rc = store_pragma(s, "PRAGMA journal_mode = WAL", mode, sizeof mode, what, err);
	if (rc < 0)
		return rc;
	/* Readers never block the writer and a commit is one append to the WAL. */
	if (strcmp(mode, "wal") != 0)
		return dew_error_set_code(err, EIO,
					  "store: open `%s`: the file system does not support WAL mode"
					  " (journal mode stayed `%s`)",
					  path, mode);
	/* FULL with WAL: the WAL is fsynced at every commit, so an acknowledged write survives a power loss.
	 */
	rc = store_exec(s, "PRAGMA synchronous = FULL", what, err);
	if (rc == 0)
		rc = store_exec(s, "PRAGMA foreign_keys = ON", what, err);
	if (rc == 0)
		rc = store_pragma(s, "PRAGMA foreign_keys", fk, sizeof fk, what, err);
	if (rc == 0 && strcmp(fk, "1") != 0)
		rc = dew_error_set_code(err, EIO, "store: open `%s`: SQLite was built without foreign keys",
					path);
	return rc;
}

/* Apply the migrations the database lacks, each in its own transaction. */
static int store_migrate(struct store *s, const char *path, struct dew_error **err)
{
	const int latest = (int)DEW_ARRAY_SIZE(store_migrations);
	cleanup_free char *what = xasprintf("migrate `%s`", path);

	for (;;) {
		char buf[32] = "", sql[64];
		int rc, version;

		/* IMMEDIATE takes the write lock before the version is read: two controllers starting
		 * together apply each migration once. */
		rc = store_exec(s, "BEGIN IMMEDIATE", what, err);
		if (rc < 0)
			return rc;
		rc = store_pragma(s, "PRAGMA user_version", buf, sizeof buf, what, err);
		version = atoi(buf);
		if (rc == 0 && version > latest)
			rc = dew_error_set_code(
				err, EIO,
				"store: `%s` has schema version %d, newer than this controller's %d", path,
				version, latest);
		if (rc == 0 && version == latest) {
			s->version = version;
			return store_exec(s, "COMMIT", what, err);
		}
		if (rc == 0) {
			dew_info("store: migrating `%s` to schema version %d", path, version + 1);
			rc = store_exec(s, store_migrations[version], what, err);
		}
		/* A pragma takes no bound parameter; the value is our own integer. */
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
		if (rc == 0)
			rc = store_exec(s, sql, what, err);
		if (rc == 0)
			rc = store_exec(s, "COMMIT", what, err);
		if (rc < 0) {
			if (!sqlite3_get_autocommit(s->db))
				sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
}

/* Open (creating) the database at path and migrate it to the current schema. */
int store_open(const char *path, struct store **out, struct dew_error **err)
{
	struct store *s = xzalloc(sizeof *s);
	int rc;

	*out = NULL;
	rc = store_create_file(path, err);
	if (rc < 0)
		goto fail;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		cleanup_free char *what = xasprintf("open `%s`", path);
		if (!s->db)
			abort(); /* SQLite could not allocate its handle */
		rc = store_sqlite_error(s, rc, what, err);
		goto fail;
	}
	rc = store_configure(s, path, err);
	if (rc == 0)
		rc = store_migrate(s, path, err);
	for (int i = 0; rc == 0 && i < SQL__COUNT; i++) {
		int r = sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
					   NULL);
		if (r != SQLITE_OK)
			rc = store_sqlite_error(s, r, "prepare", err);
	}
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

/* Finalize the statements and close the database; the last connection checkpoints the WAL. */
void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < SQL__COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		dew_warn("store: close: %s", sqlite3_errmsg(s->db));
	free(s);
}

/* The schema version store_open migrated to. */
int store_schema_version(struct store *s)
{
	return s->version;
}

/* ---- users ---- */

/* Free the strings of *u and zero it. */
void store_user_clear(struct store_user *u)
{
	free(u->name);
	free(u->password_hash);
	memset(u, 0, sizeof *u);
}

/* Insert a user; -EEXIST when the name is taken. */
int store_user_create(struct store *s, const char *name, const char *password_hash, bool admin, int64_t *id,
		      struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_USER_INSERT];
	int rc = store_bind(s, st, err, "ttii", name, password_hash, (int64_t)admin, (int64_t)time(NULL));

	if (rc == 0)
		rc = store_step_done(s, st, err);
	if (rc == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static int store_user_fetch(struct store *s, sqlite3_stmt *st, struct store_user *out, struct dew_error **err)
{
	int rc = store_step_row(s, st, err);

	if (rc < 0)
		return rc;
	out->id = sqlite3_column_int64(st, 0);
	out->name = store_col_str(st, 1);
	out->password_hash = store_col_str(st, 2);
	out->admin = sqlite3_column_int64(st, 3) != 0;
	out->created = sqlite3_column_int64(st, 4);
	return 0;
}

/* The user with this id into *out (cleared with store_user_clear); -ENOENT when none. */
int store_user_get(struct store *s, int64_t id, struct store_user *out, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_USER_GET];
	int rc = store_bind(s, st, err, "i", id);

	memset(out, 0, sizeof *out);
	return rc < 0 ? rc : store_user_fetch(s, st, out, err);
}

/* The user with this name into *out (cleared with store_user_clear); -ENOENT when none. */
int store_user_get_by_name(struct store *s, const char *name, struct store_user *out, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_USER_GET_BY_NAME];
	int rc = store_bind(s, st, err, "t", name);

	memset(out, 0, sizeof *out);
	return rc < 0 ? rc : store_user_fetch(s, st, out, err);
}

/* The number of users. */
int store_user_count(struct store *s, int64_t *n, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_USER_COUNT];
	int rc = store_step_row(s, st, err);

	if (rc == 0)
		*n = sqlite3_column_int64(st, 0);
	return rc;
}

/* ---- tokens ---- */

/* Record a token's hash for user_id until expires. */
int store_token_create(struct store *s, const char *token_sha256, int64_t user_id, int64_t expires,
		       struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_TOKEN_INSERT];
	int rc = store_bind(s, st, err, "tii", token_sha256, user_id, expires);

	return rc < 0 ? rc : store_step_done(s, st, err);
}

/* The user and expiry of a token's hash; -ENOENT when unknown. */
int store_token_lookup(struct store *s, const char *token_sha256, int64_t *user_id, int64_t *expires,
		       struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_TOKEN_LOOKUP];
	int rc = store_bind(s, st, err, "t", token_sha256);

	if (rc == 0)
		rc = store_step_row(s, st, err);
	if (rc == 0) {
		*user_id = sqlite3_column_int64(st, 0);
		*expires = sqlite3_column_int64(st, 1);
	}
	return rc;
}

/* Forget a token; -ENOENT when unknown. */
int store_token_delete(struct store *s, const char *token_sha256, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_TOKEN_DELETE];
	int rc = store_bind(s, st, err, "t", token_sha256);

	return rc < 0 ? rc : store_step_changed(s, st, err);
}

/* Remove tokens that expired before now. */
int store_token_purge(struct store *s, int64_t now, struct dew_error **err)
{
	cleanup_stmt sqlite3_stmt *st = s->stmt[SQL_TOKEN_PURGE];
	int rc = store_bind(s, st, err, "i", now);

	if (rc == 0)
		rc = store_step_done(s, st, err);
	if (rc == 0)
		dew_debug("store: purged %d expired tokens", sqlite3_changes(s->db));
	return rc;
}
