/* SPDX-License-Identifier: MIT */
/*
 * dew-controller's context, shared by its files (issue #7; DESIGN.md sections 5.1, 6, 9).
 * Everything runs on the daemon's one loop thread; the store is called synchronously from it
 * (SQLite in WAL mode answers in microseconds), blocking work on bits runs on the thread pool.
 *
 *   main.c        options, config, start-up, --create-admin, /metrics
 *   api.c         the route table, authentication, error answers, JSON helpers
 *   api-users.c   /v1/users, /v1/tokens
 *   api-apps.c    /v1/apps CRUD: validation, quotas, optimistic concurrency, default routes
 *   api-bits.c    /v1/resource_match, /v1/apps/:name/bits (streamed; packages built off the loop)
 *   api-info.c    /v1/info
 *   api-internal.c /v1/internal/packages, /v1/internal/droplets (signed URIs, for DEAs)
 *   deas.c        dea.advertise into the DEA pool (deapool.h), expiry
 *   staging.c     `staging` requests to DEAs, their log rings, STAGED/FAILED
 *   register.c    api.<domain> registered with the routers
 * and libcontroller (each part with its own unit test): store.h, auth.h, blobs.h, upload.h,
 * deapool.h.
 *
 * Nothing here keeps state that several controllers on one store would disagree on, except the
 * DEA pool, which every controller builds from the same advertisements, and the stagings in
 * flight (staging.c), which the store would have to hold for several controllers.
 */
#ifndef DEW_CONTROLLER_H
#define DEW_CONTROLLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus-client.h"
#include "daemon.h"
#include "http.h"

struct store;
struct blobs;
struct dea_pool;
struct dew_buf;
struct staging;
struct store_app;

/* Section [controller] of dew.conf. */
struct cc_config {
	struct dew_daemon_core core;
	char *db;
	char *blobs_dir;
	char *domain;
	char *default_stack;
	char *create_admin; /* --create-admin NAME: add an admin (password from stdin) and exit */
	bool open_registration;
	uint64_t token_ttl_ms;
	int64_t quota_memory_mb;
	int64_t quota_apps;
	int64_t max_instances;
	int64_t max_memory_mb;
	int64_t max_disk_mb;
	uint64_t advertise_ttl_ms;
	int64_t password_iterations;
	char *api_host;		  /* the address routers use to reach the API */
	uint64_t max_upload;	  /* bytes of one app */
	uint64_t max_upload_file; /* bytes of one file */
	int64_t max_upload_files;
	char *internal_secret; /* signs internal URIs; unset: random per start (main.c) */
	char *internal_url;    /* how DEAs reach the API; unset: http://<api_host>:<port> */
	uint64_t staging_timeout_ms;
};

struct cc_counters {
	uint64_t auth_failures, advertisements, bad_advertisements;
	uint64_t stagings_started, stagings_succeeded, stagings_failed;
};

struct cc {
	struct dew_daemon daemon;
	struct cc_config cfg;
	uv_loop_t *loop;
	struct store *store;
	struct blobs *blobs;
	struct dea_pool *deas;
	struct dew_bus *bus;
	struct dew_http_server *http;
	uv_timer_t expire_timer;
	uv_timer_t register_timer;
	uint64_t register_interval_ms;
	char instance_id[37]; /* this controller process, for router.register */
	char *decoy_hash;     /* verified for unknown user names, so their timing matches */
	uv_timer_t purge_timer;
	bool bus_connected;
	uint64_t start_ms;
	struct cc_counters n;
	struct staging *stagings; /* staging.c's table, one entry per app staged since start */
};

/* The user a request is authenticated as. */
struct cc_user {
	int64_t id;
	char *name;
	bool admin;
};
void cc_user_clear(struct cc_user *u);

/* api.c */

extern const struct dew_http_route api_routes[];
extern const size_t api_n_routes;
/* The controller of a request. */
struct cc *api_cc(struct dew_http_req *req);
/*
 * Authenticate req by its bearer token: true with *u filled, or false after answering 401
 * ("not logged in or token expired: run `dew login`"). The caller then must not answer.
 */
bool api_auth(struct dew_http_req *req, struct cc_user *u);
/* Answer {code, description} with status (code = status). */
void api_error(struct dew_http_req *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Answer for a store error: -ENOENT 404 (what names the thing), -EEXIST 409, -ESTALE 412, else 500
 * (logged). */
void api_store_error(struct dew_http_req *req, int r, const struct dew_error *err, const char *what);
/* Parse the buffered body as a JSON object: NULL after answering 400 naming the problem. */
json_t *api_body_object(struct dew_http_req *req);

/* api-users.c */

void api_users_create(struct dew_http_req *req);
void api_tokens_create(struct dew_http_req *req);
void api_tokens_delete(struct dew_http_req *req);
/* Create a user with a password (validated); 0, -EEXIST, -EINVAL with *err naming the field. */
int cc_user_add(struct cc *cc, const char *name, const char *password, bool admin, struct dew_error **err);

/* api-apps.c */

void api_apps_list(struct dew_http_req *req);
void api_apps_create(struct dew_http_req *req);
void api_apps_get(struct dew_http_req *req);
void api_apps_update(struct dew_http_req *req);
void api_apps_delete(struct dew_http_req *req);
/* GET /v1/apps/:name/staging_log: the last staging's log lines as text/plain (404 when none). */
void api_apps_staging_log(struct dew_http_req *req);

/* api-bits.c */

enum {
	API_MATCH_MAX_BODY = 32 << 20, /* resource_match: 100,000 entries fit */
};
#define API_BITS_MAX_BODY ((size_t)64 << 30) /* the upload limits (max_upload) apply first */
void api_resource_match(struct dew_http_req *req);
void api_bits_begin(struct dew_http_req *req);
int api_bits_body(struct dew_http_req *req, const char *data, size_t len);
void api_bits_end(struct dew_http_req *req);

/* api-info.c */

void api_info(struct dew_http_req *req);

/* api-internal.c: authenticated by a signature of method and path with internal_secret (auth.h),
 * 403 otherwise. */

#define API_DROPLET_MAX_BODY ((size_t)16 << 30)
/* GET /v1/internal/packages/:sha256 and /v1/internal/droplets/:sha256: the blob, or 404. */
void api_internal_package_get(struct dew_http_req *req);
void api_internal_droplet_get(struct dew_http_req *req);
/* PUT /v1/internal/droplets/:guid (streaming): the body becomes a droplet blob; with
 * X-Droplet-Sha256 it must hash to that (422, nothing kept); 201 {sha256, size}. */
void api_internal_droplet_put(struct dew_http_req *req);
int api_internal_droplet_body(struct dew_http_req *req, const char *data, size_t len);
void api_internal_droplet_end(struct dew_http_req *req);

/* register.c */

/* Register api.<domain> with the routers now, on router.start and every register interval. */
void register_start(struct cc *cc);
void register_stop(struct cc *cc);
void register_publish(struct cc *cc);

/* staging.c (on the loop) */

/*
 * Stage a's package when a is STARTED with a PENDING package and that package is not staging
 * already (a staging of an older package is abandoned). The outcome is written to the app in the
 * store later (STAGED with the droplet, or FAILED with staging_error) unless the app has another
 * package by then; droplet.updated follows a success.
 */
void staging_maybe_start(struct cc *cc, const struct store_app *a);
/* Forget app guid's staging (abandoning one in flight) and its log. */
void staging_forget(struct cc *cc, const char *guid);
/* Free the table (at exit, after the bus closed). */
void staging_free_all(struct cc *cc);
size_t staging_in_flight(const struct cc *cc);
/* Append the log lines of guid's last staging to out, one per line: false when it has none. */
bool staging_log_text(struct cc *cc, const char *guid, struct dew_buf *out);

/* deas.c */

/* Subscribe to dea.advertise and start expiring silent DEAs. */
void deas_start(struct cc *cc);
void deas_stop(struct cc *cc);

#endif
