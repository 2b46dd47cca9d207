/* SPDX-License-Identifier: MIT */
/*
 * The controller's store (issue #7, DESIGN.md section 6): users, tokens, apps and routes.
 * Callers see only this interface; store-sqlite.c and store-sqlite-apps.c implement it on
 * SQLite (WAL, busy timeout, foreign keys, versioned migrations run by store_open), and a
 * PostgreSQL backend for several controllers can implement the same functions later. Every call
 * is synchronous and runs on the caller's thread; one struct store is used by one thread at a
 * time.
 *
 * Errors: 0 on success; -ENOENT not found; -EEXIST a uniqueness rule (user name, app name per
 * owner, route host); -ESTALE an update whose expected revision is not the stored one (these
 * three leave *err untouched); other negative errnos with *err set for failures of the store
 * itself (disk full, corruption) or a caller's bug (-EINVAL: a NULL required field).
 * Strings in out-structs are owned by the struct and freed by its *_clear function.
 */
#ifndef DEW_CONTROLLER_STORE_H
#define DEW_CONTROLLER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct store;

/* Open (creating) the database at path and migrate it to the current schema. */
int store_open(const char *path, struct store **out, struct dew_error **err);
void store_close(struct store *s);
/* The schema version store_open migrated to. */
int store_schema_version(struct store *s);

/* ---- users ---- */

struct store_user {
	int64_t id;
	char *name;
	char *password_hash; /* auth.h's encoded form */
	bool admin;
	int64_t created; /* Unix seconds */
};
void store_user_clear(struct store_user *u);

/* -EEXIST when the name is taken. */
int store_user_create(struct store *s, const char *name, const char *password_hash, bool admin, int64_t *id,
		      struct dew_error **err);
int store_user_get(struct store *s, int64_t id, struct store_user *out, struct dew_error **err);
int store_user_get_by_name(struct store *s, const char *name, struct store_user *out, struct dew_error **err);
int store_user_count(struct store *s, int64_t *n, struct dew_error **err);

/* ---- tokens (only their SHA-256 is stored) ---- */

int store_token_create(struct store *s, const char *token_sha256, int64_t user_id, int64_t expires,
		       struct dew_error **err);
/* The token's user and expiry; -ENOENT when unknown (expired ones are still returned). */
int store_token_lookup(struct store *s, const char *token_sha256, int64_t *user_id, int64_t *expires,
		       struct dew_error **err);
int store_token_delete(struct store *s, const char *token_sha256, struct dew_error **err);
/* Remove tokens that expired before now. */
int store_token_purge(struct store *s, int64_t now, struct dew_error **err);

/* ---- apps ---- */

enum store_app_state { STORE_APP_STOPPED, STORE_APP_STARTED };
enum store_package_state { STORE_PACKAGE_PENDING, STORE_PACKAGE_STAGED, STORE_PACKAGE_FAILED };
/* Their names, as stored and as the API shows them ("STARTED", "STAGED"); store-names.c. */
extern const char *const store_app_state_names[2];
extern const char *const store_package_state_names[3];

struct store_app {
	int64_t id;
	char *guid; /* the app id on the bus (droplet): a UUID */
	int64_t owner_id;
	char *name;
	int64_t instances;
	int64_t memory_mb, disk_mb;
	char *stack;
	char *buildpack; /* NULL: detect */
	char *command;	 /* NULL: the droplet's */
	char *env_json;	 /* a JSON object of strings, "{}" when none */
	enum store_app_state state;
	enum store_package_state package_state;
	char *package_sha256; /* NULL until bits were uploaded */
	char *droplet_sha256; /* NULL until staged */
	char *detected_buildpack;
	char *detected_command;
	char *staging_error;	  /* why the last staging failed, or NULL */
	char *version;		  /* changes on every restart / restage (a UUID) */
	int64_t revision;	  /* bumped by every update: optimistic concurrency */
	int64_t created, updated; /* Unix seconds */
};
void store_app_clear(struct store_app *a);

/* Create: a->guid, version, revision (1), created and updated are set by the store and written
 * back into *a. -EEXIST when the owner has an app of that name, -ENOENT when the owner does
 * not exist. */
int store_app_create(struct store *s, struct store_app *a, struct dew_error **err);
int store_app_get(struct store *s, int64_t id, struct store_app *out, struct dew_error **err);
int store_app_get_by_guid(struct store *s, const char *guid, struct store_app *out, struct dew_error **err);
int store_app_get_by_name(struct store *s, int64_t owner_id, const char *name, struct store_app *out,
			  struct dew_error **err);
/* Every app of owner_id (owner_id < 0: of everyone), ordered by name then owner; *n of them in a
 * new array the caller frees with store_app_list_free. */
int store_app_list(struct store *s, int64_t owner_id, struct store_app **out, size_t *n,
		   struct dew_error **err);
void store_app_list_free(struct store_app *apps, size_t n);
/* Write every field of *a but id, guid, owner_id and created if the stored revision is
 * a->revision (else -ESTALE; -ENOENT when the app is gone); on success a->revision is bumped
 * and a->updated set. A rename onto an existing name is -EEXIST. */
int store_app_update(struct store *s, struct store_app *a, struct dew_error **err);
/* Delete the app and its routes. */
int store_app_delete(struct store *s, int64_t id, struct dew_error **err);
/* Apps of owner_id and the memory of their STARTED instances (instances * memory_mb). */
int store_usage(struct store *s, int64_t owner_id, int64_t *apps, int64_t *started_memory_mb,
		struct dew_error **err);

/* ---- routes ---- */

struct store_route {
	int64_t id;
	char *host; /* the whole lowercased hostname[/path], e.g. "web.dew.example.com" */
	int64_t app_id;
	int64_t owner_id;
};
void store_route_clear(struct store_route *r);

/* -EEXIST when the host is taken (by anyone); -ENOENT when the app or owner does not exist. */
int store_route_create(struct store *s, const char *host, int64_t app_id, int64_t owner_id, int64_t *id,
		       struct dew_error **err);
int store_route_get_by_host(struct store *s, const char *host, struct store_route *out,
			    struct dew_error **err);
/* Routes of one app (app_id >= 0) or of one owner (app_id < 0, owner_id >= 0), or all (both < 0). */
int store_route_list(struct store *s, int64_t app_id, int64_t owner_id, struct store_route **out, size_t *n,
		     struct dew_error **err);
void store_route_list_free(struct store_route *routes, size_t n);
int store_route_delete(struct store *s, int64_t id, struct dew_error **err);

#endif
