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
 *   deas.c        dea.advertise into the DEA pool (deapool.h), dea.heartbeat and droplet.exited
 *                 into the instances they run (actual.h), expiry
 *   lifecycle.c   desired state -> dea.<id>.start (placed), dea.stop, dea.update; why indices are down
 *   hm.c          cloudcontrollers.hm.requests from the health manager
 *   staging.c     `staging` requests to DEAs, their log rings, STAGED/FAILED
 *   register.c    api.<domain> registered with the routers
 * and libcontroller (each part with its own unit test): store.h, auth.h, blobs.h, upload.h,
 * deapool.h, actual.h.
 *
 * Nothing here keeps state that several controllers on one store would disagree on, except the
 * DEA pool and the instances they run, which every controller builds from the same messages, and
 * the stagings in flight (staging.c), the starts waiting for a DEA's answer and the reasons
 * indices are down (lifecycle.c), which the store would have to hold for several controllers.
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
struct actual;
struct start;
struct logs_stream;

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
	uint64_t find_timeout_ms; /* how long dea.find.droplet replies are gathered at most */
	int64_t logs_recent;	  /* lines kept per app */
	uint64_t logs_memory;	  /* bytes of kept lines of all apps */
};

struct cc_counters {
	uint64_t auth_failures, advertisements, bad_advertisements;
	uint64_t stagings_started, stagings_succeeded, stagings_failed;
	uint64_t heartbeats, exits, bad_dea_messages, deas_lost;
	uint64_t placements, placement_failures, starts_refused;
	uint64_t hm_requests, hm_stale, hm_malformed, hm_starts, hm_stops;
	uint64_t log_lines, bad_log_lines;
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
	struct actual *actual;	  /* what the DEAs run (deas.c) */
	struct start *starts;	  /* lifecycle.c: starts waiting for their DEA's answer */
	json_t *down;		  /* lifecycle.c: app guid -> {index: why it is down} */
	json_t *logs;		  /* logs.c: app guid -> {lines, bytes} */
	size_t logs_bytes;
	struct logs_stream *log_streams;
	size_t n_log_streams;
	uv_timer_t logs_timer;
	size_t n_staging_watchers;
	bool resumed;		  /* staging_resume ran */
	json_t *requests;	  /* api.c: "method\troute\tstatus" -> answers */
	json_t *flapping;	  /* hm.c: guid -> {version, indices: {"<i>": {crashes, gave_up}}} */
	uv_timer_t staging_timer; /* staging.c: requests a busy DEA turned down are sent again */
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
/* The server's on_response hook: count the answer by method, route pattern and status. */
void api_count_response(const struct dew_http_req *req, int status);
/* dew_controller_requests_total{method, route, status} for /metrics. */
void api_write_metrics(struct cc *cc, struct dew_buf *out);
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
/*
 * Authenticate req and load the app named by its :name for the caller (or, for an admin, for
 * ?owner=): 0 with *u, *a and *owner (the owner's name) filled, or -1 after answering (401, or
 * 404 for an app the caller may not see).
 */
int api_app_load(struct dew_http_req *req, struct cc_user *u, struct store_app *a, char **owner);
/* GET /v1/apps/:name/staging_log: the last staging's log lines as text/plain (404 when none). */
void api_apps_staging_log(struct dew_http_req *req);

/* api-instances.c: GET /v1/apps/:name/instances, /stats, /crashes (dea.find.droplet). */

void api_apps_instances(struct dew_http_req *req);
void api_apps_stats(struct dew_http_req *req);
void api_apps_crashes(struct dew_http_req *req);
/* GET /v1/apps/:name/files/<path>?instance=N[&tail=B]: proxied from the instance's DEA. */
void api_apps_files(struct dew_http_req *req);

/* files-proxy.c: answer req with GET <file_uri><path>[?tail=] from a DEA's file server
 * (Authorization: Bearer token), streamed through with backpressure; 502 when the DEA fails. */
void files_proxy_start(struct dew_http_req *req, struct cc *cc, const char *file_uri, const char *token,
		       const char *path, const char *tail);

/* logs.c: logs.<app id> into rings per app and live streams. */

void api_apps_logs(struct dew_http_req *req);
void logs_start(struct cc *cc);
/* End the live streams (before the HTTP server stops). */
void logs_stop(struct cc *cc);
void logs_free(struct cc *cc);
/* The app is gone: drop its lines, end its streams. */
void logs_forget(struct cc *cc, const char *guid);

/* api-routes.c: /v1/routes. */

void api_routes_list(struct dew_http_req *req);
void api_routes_create(struct dew_http_req *req);
void api_routes_delete(struct dew_http_req *req);
/* s[0..n) is a DNS label: 1-63 of a-z, 0-9 and '-', not starting or ending with '-' (route host
 * labels and app names). */
bool api_dns_label_ok(const char *s, size_t n);
/* Why host cannot be a route (caller frees), or NULL: a lowercase host name under the domain,
 * not api.<domain>. */
char *api_route_refusal(struct cc *cc, const char *host);

/* api-bits.c */

enum {
	API_MATCH_MAX_BODY = 32 << 20, /* resource_match: 100,000 entries fit */
};
#define API_BITS_MAX_BODY ((size_t)64 << 30) /* the upload limits (max_upload) apply first */
void api_resource_match(struct dew_http_req *req);
void api_bits_begin(struct dew_http_req *req);
int api_bits_body(struct dew_http_req *req, const char *data, size_t len);
void api_bits_end(struct dew_http_req *req);
/* PUT /v1/apps/:name/package {sha256}: make a stored package the app's (404 when none). */
void api_apps_package(struct dew_http_req *req);

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

/* GET /v1/internal/desired: {apps: [{droplet, name, version, state, package_state, instances,
 * memory, disk, last_updated}]} of every app, for the health manager; /v1/internal/desired/:guid
 * one of them. */
void api_internal_desired(struct dew_http_req *req);
void api_internal_desired_app(struct dew_http_req *req);

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
/* Stage every STARTED app whose package is PENDING (at the first connection to the bus: the
 * stagings of a controller that stopped are not waited for, they are made again). */
void staging_resume(struct cc *cc);
void staging_init(struct cc *cc);
void staging_stop(struct cc *cc);
/* Forget app guid's staging (abandoning one in flight) and its log. */
void staging_forget(struct cc *cc, const char *guid);
/* Free the table (at exit, after the bus closed). */
void staging_free_all(struct cc *cc);
size_t staging_in_flight(const struct cc *cc);
/*
 * Answer req with the log of guid's last staging as text/plain, one line per line: at once when
 * it is over; while it runs, streamed (the lines so far, then each as it comes, ending with the
 * staging). False, without answering, when guid was not staged since the controller started.
 */
bool staging_log_answer(struct cc *cc, const char *guid, struct dew_http_req *req);

/* lifecycle.c (on the loop) */

/*
 * Make the DEAs match a (after it changed from old, NULL when unknown): stop a STOPPED app's
 * instances; for a STARTED app with a droplet, stop other versions and indices >= instances and
 * start every missing index.
 */
void lifecycle_converge(struct cc *cc, const struct store_app *a, const struct store_app *old);
/* Place and start index of a (unless a start of it is waiting for its DEA already). */
void lifecycle_start_index(struct cc *cc, const struct store_app *a, int64_t index);
/* The app is gone: stop its instances, forget its reasons and crashes. */
void lifecycle_deleted(struct cc *cc, const char *guid);
/* A heartbeat showed an instance of app guid newly RUNNING: stop what it replaces. */
void lifecycle_risen(struct cc *cc, const char *guid);
/* a's routes changed: dea.update. */
void lifecycle_routes_changed(struct cc *cc, const struct store_app *a);
/* Why index of app guid is not running (placement or start failure), or NULL. */
const char *lifecycle_down_reason(struct cc *cc, const char *guid, int64_t index);
/* The route hosts of a (a new array). */
json_t *lifecycle_uris(struct cc *cc, const struct store_app *a);
void lifecycle_free_all(struct cc *cc);

/* hm.c */

void hm_start(struct cc *cc);

/* deas.c */

/* Subscribe to dea.advertise and start expiring silent DEAs. */
void deas_start(struct cc *cc);
void deas_stop(struct cc *cc);

#endif
