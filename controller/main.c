// SPDX-License-Identifier: MIT
/*
 * dew-controller (dew-controller(8)): options and config, the store and the blob store, the
 * bus, the REST API listener, /metrics, and `--create-admin NAME` (password on standard input),
 * which adds an admin to the store and exits. controller.h maps the other files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actual.h"
#include "alloc.h"
#include "auth.h"
#include "blobs.h"
#include "controller.h"
#include "deapool.h"
#include "fs.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "random.h"
#include "store.h"

enum { CC_SECRET_MIN = 16, CC_SECRET_RANDOM = 32 };

static const struct dew_conf_key cc_keys[] = {
	DEW_DAEMON_CORE_KEYS(struct cc_config, "127.0.0.1:9022", "127.0.0.1:9024"),
	{ "db", DEW_CONF_STRING, offsetof(struct cc_config, db), "/var/lib/dew/controller/dew.db", 0, 0, NULL,
	  "the SQLite database" },
	{ "blobs_dir", DEW_CONF_STRING, offsetof(struct cc_config, blobs_dir), "/var/lib/dew/blobs", 0, 0,
	  NULL, "resource pool, packages and droplets" },
	{ "domain", DEW_CONF_STRING, offsetof(struct cc_config, domain), "dew.local", 0, 0, NULL,
	  "apps get <name>.<domain>" },
	{ "api_host", DEW_CONF_STRING, offsetof(struct cc_config, api_host), "127.0.0.1", 0, 0, NULL,
	  "address the routers use to reach the API (registered as api.<domain>)" },
	{ "default_stack", DEW_CONF_STRING, offsetof(struct cc_config, default_stack), "host", 0, 0, NULL,
	  "stack of apps that name none" },
	{ "create_admin", DEW_CONF_STRING, offsetof(struct cc_config, create_admin), NULL, 0, 0, NULL,
	  "add this admin user (password from standard input) and exit" },
	{ "open_registration", DEW_CONF_BOOL, offsetof(struct cc_config, open_registration), "false", 0, 0,
	  NULL, "anyone may create a (non-admin) user" },
	{ "token_ttl", DEW_CONF_DURATION, offsetof(struct cc_config, token_ttl_ms), "24h", 1000,
	  365LL * 86400000, NULL, "validity of login tokens" },
	{ "quota_memory", DEW_CONF_INT, offsetof(struct cc_config, quota_memory_mb), "10240", 0, 1 << 30,
	  NULL, "MB of started instances per user" },
	{ "quota_apps", DEW_CONF_INT, offsetof(struct cc_config, quota_apps), "100", 0, 1000000, NULL,
	  "apps per user" },
	{ "max_instances", DEW_CONF_INT, offsetof(struct cc_config, max_instances), "100", 1, 10000, NULL,
	  "instances of one app" },
	{ "max_memory", DEW_CONF_INT, offsetof(struct cc_config, max_memory_mb), "8192", 1, 65536, NULL,
	  "MB of memory of one instance" },
	{ "max_disk", DEW_CONF_INT, offsetof(struct cc_config, max_disk_mb), "16384", 1, 1048576, NULL,
	  "MB of disk of one instance" },
	{ "advertise_ttl", DEW_CONF_DURATION, offsetof(struct cc_config, advertise_ttl_ms), "15s", 100,
	  3600000, NULL, "a DEA silent this long is left out of placement (3 advertise intervals)" },
	{ "max_upload", DEW_CONF_SIZE, offsetof(struct cc_config, max_upload), "1G", 1024, INT64_MAX, NULL,
	  "bytes of one app's files" },
	{ "max_upload_file", DEW_CONF_SIZE, offsetof(struct cc_config, max_upload_file), "512M", 1024,
	  INT64_MAX, NULL, "bytes of one file of an app" },
	{ "max_upload_files", DEW_CONF_INT, offsetof(struct cc_config, max_upload_files), "65536", 1,
	  10000000, NULL, "files of one app" },
	{ "internal_secret", DEW_CONF_STRING, offsetof(struct cc_config, internal_secret), NULL, 0, 0, NULL,
	  "HMAC key of the signed internal URIs (at least 16 bytes; unset: random at each start, so "
	  "URIs handed out before a restart stop working)" },
	{ "internal_url", DEW_CONF_STRING, offsetof(struct cc_config, internal_url), NULL, 0, 0, NULL,
	  "base URL DEAs fetch packages from and upload droplets to (unset: http://<api_host>:<port>)" },
	{ "staging_timeout", DEW_CONF_DURATION, offsetof(struct cc_config, staging_timeout_ms), "15m", 1000,
	  86400000, NULL, "a staging without a reply this long after the DEA's limit (+30 s) failed" },
	{ "find_timeout", DEW_CONF_DURATION, offsetof(struct cc_config, find_timeout_ms), "500ms", 10, 60000,
	  NULL, "how long the instances, stats and crashes of an app are gathered from the DEAs at most" },
	{ "logs_recent", DEW_CONF_INT, offsetof(struct cc_config, logs_recent), "200", 0, 100000, NULL,
	  "log lines kept per app for `logs?recent`" },
	{ "logs_memory", DEW_CONF_SIZE, offsetof(struct cc_config, logs_memory), "64M", 0, INT64_MAX, NULL,
	  "bytes of kept log lines of all apps (the app logged to least recently loses its lines first)" },
	{ "password_iterations", DEW_CONF_INT, offsetof(struct cc_config, password_iterations), "210000",
	  1000, 10000000, NULL, "PBKDF2 iterations of new password hashes" },
};

static const struct dew_daemon_info cc_info = {
	.name = "dew-controller",
	.section = "controller",
	.summary = "The dew controller: REST API, users, apps, routes.",
	.keys = cc_keys,
	.n_keys = DEW_ARRAY_SIZE(cc_keys),
	.uses_bus = true,
};

static void cc_metrics(struct dew_buf *out, void *data)
{
	struct cc *cc = data;
	dew_metrics_counter(out, "dew_controller_auth_failures_total",
			    "Requests refused for a missing or bad token.", cc->n.auth_failures);
	dew_metrics_counter(out, "dew_controller_advertisements_total", "dea.advertise messages taken.",
			    cc->n.advertisements);
	dew_metrics_counter(out, "dew_controller_bad_advertisements_total", "dea.advertise messages dropped.",
			    cc->n.bad_advertisements);
	dew_metrics_gauge(out, "dew_controller_deas", "DEAs in the placement pool.",
			  (double)dea_pool_count(cc->deas));
	dew_metrics_counter(out, "dew_controller_stagings_started_total", "staging requests sent.",
			    cc->n.stagings_started);
	dew_metrics_counter(out, "dew_controller_stagings_succeeded_total", "Packages staged.",
			    cc->n.stagings_succeeded);
	dew_metrics_counter(out, "dew_controller_stagings_failed_total", "Stagings that failed.",
			    cc->n.stagings_failed);
	dew_metrics_gauge(out, "dew_controller_stagings_in_flight", "staging requests awaiting a reply.",
			  (double)staging_in_flight(cc));
	dew_metrics_gauge(out, "dew_controller_bus_connected", "1 while connected to the bus.",
			  cc->bus_connected);
	static const struct {
		const char *name, *help;
		size_t offset;
	} counters[] = {
		{ "dew_controller_heartbeats_total", "dea.heartbeat messages taken.",
		  offsetof(struct cc_counters, heartbeats) },
		{ "dew_controller_exits_total", "droplet.exited messages taken.",
		  offsetof(struct cc_counters, exits) },
		{ "dew_controller_bad_dea_messages_total",
		  "dea.heartbeat and droplet.exited messages dropped.",
		  offsetof(struct cc_counters, bad_dea_messages) },
		{ "dew_controller_deas_lost_total",
		  "DEAs the health manager said were lost (out of placement).",
		  offsetof(struct cc_counters, deas_lost) },
		{ "dew_controller_placements_total", "dea.<id>.start messages sent.",
		  offsetof(struct cc_counters, placements) },
		{ "dew_controller_placement_failures_total", "Instances no DEA could take.",
		  offsetof(struct cc_counters, placement_failures) },
		{ "dew_controller_starts_refused_total", "Starts a DEA refused.",
		  offsetof(struct cc_counters, starts_refused) },
		{ "dew_controller_hm_requests_total", "Health manager requests taken.",
		  offsetof(struct cc_counters, hm_requests) },
		{ "dew_controller_hm_stale_total",
		  "Health manager requests ignored as decided on an older state.",
		  offsetof(struct cc_counters, hm_stale) },
		{ "dew_controller_hm_malformed_total", "Health manager requests dropped as malformed.",
		  offsetof(struct cc_counters, hm_malformed) },
		{ "dew_controller_hm_starts_total", "Instances started for the health manager.",
		  offsetof(struct cc_counters, hm_starts) },
		{ "dew_controller_hm_stops_total", "dea.stop messages sent for the health manager.",
		  offsetof(struct cc_counters, hm_stops) },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(counters); i++)
		dew_metrics_counter(out, counters[i].name, counters[i].help,
				    *(const uint64_t *)((const char *)&cc->n + counters[i].offset));
	dew_metrics_counter(out, "dew_controller_log_lines_total", "App log lines taken.", cc->n.log_lines);
	dew_metrics_counter(out, "dew_controller_bad_log_lines_total", "Log messages dropped as malformed.",
			    cc->n.bad_log_lines);
	dew_metrics_gauge(out, "dew_controller_log_streams", "Live log streams.", (double)cc->n_log_streams);
	dew_metrics_gauge(out, "dew_controller_log_bytes", "Bytes of log lines kept.",
			  (double)cc->logs_bytes);
	api_write_metrics(cc, out);
	dew_metrics_gauge(out, "dew_controller_instances_reported", "Instances the DEAs report.",
			  (double)actual_total(cc->actual));
}

static void cc_on_bus_event(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data)
{
	struct cc *cc = data;
	switch (ev) {
	case DEW_BUS_CONNECTED:
	case DEW_BUS_RECONNECTED:
		cc->bus_connected = true;
		/* Every DEA advertises at once: placement need not wait an interval. */
		dew_bus_publish(bus, "dea.locate", NULL, "", 0);
		register_publish(cc);
		if (!cc->resumed) {
			cc->resumed = true;
			staging_resume(cc);
		}
		break;
	case DEW_BUS_DISCONNECTED:
	case DEW_BUS_CLOSED:
		cc->bus_connected = false;
		break;
	case DEW_BUS_SERVER_ERROR:
		dew_warn("bus server error: %s", detail ? detail : "?");
		break;
	}
}

static void cc_stop(struct dew_daemon *d, int signum)
{
	struct cc *cc = d->data;
	deas_stop(cc);
	register_stop(cc);
	logs_stop(cc);
	staging_stop(cc);
	uv_close((uv_handle_t *)&cc->purge_timer, NULL);
	if (cc->bus)
		dew_bus_close(cc->bus);
	if (cc->http)
		dew_http_server_stop(cc->http, NULL, NULL);
	cc->http = NULL;
	dew_daemon_close(d);
}

/* Open the store (creating its directory), and the blobs unless only the store is needed. */
static int cc_open_store(struct cc *cc, bool blobs, struct dew_error **err)
{
	cleanup_free char *dbdir = xstrdup(cc->cfg.db);
	char *slash = strrchr(dbdir, '/');
	if (slash && slash != dbdir) {
		*slash = '\0';
		if (dew_mkdir_p(dbdir, 0700, err) < 0)
			return dew_error_prefix(err, "db");
	}
	if (store_open(cc->cfg.db, &cc->store, err) < 0)
		return -EIO;
	/* Opening the blobs clears their tmp/: never from --create-admin next to a live controller. */
	if (blobs && blobs_open(cc->cfg.blobs_dir, &cc->blobs, err) < 0)
		return dew_error_prefix(err, "blobs_dir");
	return 0;
}

/* --create-admin NAME: the password is the first line of standard input. */
static int cc_create_admin(struct cc *cc)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (n < 0) {
		fprintf(stderr, "dew-controller: --create-admin: give the password on standard input\n");
		free(line);
		return 2;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	cleanup_error struct dew_error *err = NULL;
	int r = cc_user_add(cc, cc->cfg.create_admin, line, true, &err);
	explicit_bzero(line, (size_t)n);
	free(line);
	if (r == -EEXIST) {
		fprintf(stderr, "dew-controller: user `%s` exists already\n", cc->cfg.create_admin);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "dew-controller: %s\n", dew_error_msg(err));
		return r == -EINVAL ? 2 : 1;
	}
	printf("admin `%s` created\n", cc->cfg.create_admin);
	return 0;
}

enum { CC_PURGE_MS = 600000 };

/* Expired tokens go from the store every ten minutes (and at start). */
static void cc_on_purge(uv_timer_t *t)
{
	struct cc *cc = t->data;
	cleanup_error struct dew_error *err = NULL;
	if (store_token_purge(cc->store, (int64_t)time(NULL), &err) < 0)
		dew_warn("purge expired tokens: %s", dew_error_msg(err));
}

static int cc_start(struct cc *cc, struct dew_error **err)
{
	/* Made now, not at the first unknown login: that login would take twice as long. */
	cc->decoy_hash = auth_password_hash("decoy password", (unsigned)cc->cfg.password_iterations);
	cleanup_free char *host = NULL;
	int port;
	if (dew_parse_hostport(cc->cfg.core.listen, &host, &port) < 0)
		return dew_error_set(err, 0, "listen: expected HOST:PORT, got `%s`", cc->cfg.core.listen);
	const struct dew_http_limits limits = { .max_body = 1 << 20, .on_response = api_count_response };
	if (dew_http_server_start(&cc->http, cc->loop, host, port, api_routes, api_n_routes, &limits, cc,
				  err) < 0)
		return -EIO;
	if (!cc->cfg.internal_url)
		cc->cfg.internal_url =
			xasprintf("http://%s:%d", cc->cfg.api_host, dew_http_server_port(cc->http));
	const struct dew_bus_options bo = {
		.servers = cc->cfg.core.bus,
		.ping_interval_ms = cc->cfg.core.bus_ping_interval_ms,
		.name = "dew-controller",
		.on_event = cc_on_bus_event,
		.data = cc,
	};
	if (dew_bus_new(&cc->bus, cc->loop, &bo, err) < 0)
		return -EIO;
	staging_init(cc);
	deas_start(cc);
	hm_start(cc);
	logs_start(cc);
	register_start(cc);
	uv_timer_init(cc->loop, &cc->purge_timer);
	cc->purge_timer.data = cc;
	uv_timer_start(&cc->purge_timer, cc_on_purge, 0, CC_PURGE_MS);
	return dew_daemon_ready(&cc->daemon, dew_http_server_port(cc->http), err);
}

int main(int argc, char **argv)
{
	struct cc cc = { 0 };
	cleanup_error struct dew_error *err = NULL;
	int r = dew_daemon_parse_args(&cc.daemon, &cc_info, &cc.cfg, &cc.cfg.core, argc, argv, &err);
	if (r == DEW_DAEMON_EXIT)
		return 0;
	if (r < 0) {
		fprintf(stderr, "dew-controller: %s\n", dew_error_msg(err));
		return 2;
	}
	if (!cc.cfg.domain || !cc.cfg.db || !cc.cfg.blobs_dir || !cc.cfg.default_stack || !cc.cfg.api_host) {
		fprintf(stderr, "dew-controller: domain, db, blobs_dir, default_stack and api_host must not "
				"be empty\n");
		dew_daemon_free(&cc.daemon);
		return 2;
	}
	if (cc.cfg.internal_secret && strlen(cc.cfg.internal_secret) < CC_SECRET_MIN) {
		fprintf(stderr, "dew-controller: internal_secret must hold at least %d bytes\n",
			CC_SECRET_MIN);
		dew_daemon_free(&cc.daemon);
		return 2;
	}
	if (!cc.cfg.internal_secret) {
		/* Only this process signs and checks its URIs; several controllers must share one. */
		cc.cfg.internal_secret = xmalloc(2 * CC_SECRET_RANDOM + 1);
		dew_random_hex(cc.cfg.internal_secret, CC_SECRET_RANDOM);
	}
	cc.deas = dea_pool_new();
	cc.actual = actual_new();
	cc.down = json_object();
	cc.requests = json_object();
	cc.flapping = json_object();
	dew_uuid4(cc.instance_id);
	if (cc.cfg.create_admin) {
		r = cc_open_store(&cc, false, &err) < 0
			    ? (fprintf(stderr, "dew-controller: %s\n", dew_error_msg(err)), 1)
			    : cc_create_admin(&cc);
		goto out;
	}
	cc.daemon.data = &cc;
	cc.daemon.on_stop = cc_stop;
	cc.loop = uv_default_loop();
	cc.start_ms = uv_now(cc.loop);
	const struct dew_status_source src = { .metrics = cc_metrics, .data = &cc };
	if (dew_daemon_start(&cc.daemon, cc.loop, &src, &err) < 0 || cc_open_store(&cc, true, &err) < 0 ||
	    cc_start(&cc, &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		r = 1;
		goto out;
	}
	dew_notice("controller for *.%s: database %s (schema %d), blobs in %s", cc.cfg.domain, cc.cfg.db,
		   store_schema_version(cc.store), cc.cfg.blobs_dir);
	uv_run(cc.loop, UV_RUN_DEFAULT);
	staging_free_all(&cc);
	lifecycle_free_all(&cc);
	logs_free(&cc);
	uv_loop_close(cc.loop);
	dew_info("stopped");
	r = 0;
out:
	store_close(cc.store);
	blobs_close(cc.blobs);
	dea_pool_free(cc.deas);
	actual_free(cc.actual);
	json_decref(cc.down);
	json_decref(cc.requests);
	json_decref(cc.flapping);
	free(cc.decoy_hash);
	dew_daemon_free(&cc.daemon);
	return r;
}
