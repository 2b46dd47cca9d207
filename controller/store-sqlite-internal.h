/* SPDX-License-Identifier: MIT */
/*
 * What the two halves of the SQLite store share (store-sqlite.c: schema, statements, helpers,
 * users, tokens; store-sqlite-apps.c: apps and routes). Not for use outside the store.
 */
#ifndef DEW_CONTROLLER_STORE_SQLITE_INTERNAL_H
#define DEW_CONTROLLER_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>

#include "store.h"

#define STORE_USER_COLUMNS "id, name, password_hash, admin, created"
#define STORE_ROUTE_COLUMNS "id, host, app_id, owner_id"
/* In the order of store_app_read; the ?N of store_app_bind follow it (id excepted). */
#define STORE_APP_COLUMNS                                                                                    \
	"id, guid, owner_id, name, instances, memory_mb, disk_mb, stack, buildpack, command, env_json,"      \
	" state, package_state, package_sha256, droplet_sha256, detected_buildpack, detected_command,"       \
	" staging_error, version, revision, created, updated"

enum store_sql_id {
	SQL_USER_INSERT,
	SQL_USER_GET,
	SQL_USER_GET_BY_NAME,
	SQL_USER_COUNT,
	SQL_TOKEN_INSERT,
	SQL_TOKEN_LOOKUP,
	SQL_TOKEN_DELETE,
	SQL_TOKEN_PURGE,
	SQL_APP_INSERT,
	SQL_APP_GET,
	SQL_APP_GET_BY_GUID,
	SQL_APP_GET_BY_NAME,
	SQL_APP_LIST_OWNER,
	SQL_APP_LIST_ALL,
	SQL_APP_UPDATE,
	SQL_APP_EXISTS,
	SQL_APP_DELETE,
	SQL_USAGE,
	SQL_ROUTE_INSERT,
	SQL_ROUTE_GET_BY_HOST,
	SQL_ROUTE_LIST_APP,
	SQL_ROUTE_LIST_OWNER,
	SQL_ROUTE_LIST_ALL,
	SQL_ROUTE_DELETE,
	SQL__COUNT,
};

struct store {
	sqlite3 *db;
	int version;
	sqlite3_stmt *stmt[SQL__COUNT];
};

/*
 * Fill *err with "store: [what: ]<SQLite's message>[ (<errno text>)]" and return -EIO. The errno
 * is added for I/O failures, where SQLite's own words ("disk I/O error") do not say which.
 */
int store_sqlite_error(struct store *s, int rc, const char *what, struct dew_error **err);
/* Map a failed statement's result code to store.h's errors (-EEXIST, -ENOENT, -EINVAL, -EIO). */
int store_fail(struct store *s, int rc, struct dew_error **err);
/* Reset a cached statement and drop its bindings (the cleanup of cleanup_stmt). */
void store_stmt_release(sqlite3_stmt **st);
#define cleanup_stmt __attribute__((cleanup(store_stmt_release)))
/* Bind the arguments after types to parameters 1, 2, ...: 't' a const char * (NULL binds NULL),
 * 'i' an int64_t. */
int store_bind(struct store *s, sqlite3_stmt *st, struct dew_error **err, const char *types, ...);
/* Run a statement that returns no row. */
int store_step_done(struct store *s, sqlite3_stmt *st, struct dew_error **err);
/* Step to the first row: 0 with one, -ENOENT when there is none. */
int store_step_row(struct store *s, sqlite3_stmt *st, struct dew_error **err);
/* A write that names one row by id: -ENOENT when it touched none. */
int store_step_changed(struct store *s, sqlite3_stmt *st, struct dew_error **err);
/* Column col as a new string, or NULL for SQL NULL. */
char *store_col_str(sqlite3_stmt *st, int col);
/* The index of v in names, or -1. */
int store_enum_parse(const char *const *names, size_t n, const unsigned char *v);
/* The name of an enum value, or NULL (which the NOT NULL column refuses) when out of range. */
const char *store_enum_name(const char *const *names, size_t n, int v);

#endif
