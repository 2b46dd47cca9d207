// SPDX-License-Identifier: MIT
/*
 * dew-dea: the droplet execution agent (dew-dea(8)). Options and config, start-up (id,
 * stacks, runtime, droplet cache, file server, stager, bus, re-adoption), /metrics, and the
 * signals: SIGTERM/SIGINT stop (instances stopped or, with on_shutdown=keep, left running),
 * SIGUSR2 evacuates. dea.h maps the other files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dea.h"
#include "droplet-cache.h"
#include "fetch.h"
#include "files.h"
#include "fs.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "random.h"
#include "stage.h"

#ifndef DEW_STACKS_DIR
#define DEW_STACKS_DIR "/usr/share/dew/stacks"
#endif

static const char *const dea_shutdown_modes[] = { "stop", "keep", NULL };

static const struct dew_conf_key dea_keys[] = {
	DEW_DAEMON_CORE_KEYS(struct dea_config, "127.0.0.1:0", "127.0.0.1:9023"),
	{ "id", DEW_CONF_STRING, offsetof(struct dea_config, id), NULL, 0, 0, NULL,
	  "this DEA's id (default: generated once, kept in <state_dir>/dea-id)" },
	{ "ip", DEW_CONF_STRING, offsetof(struct dea_config, ip), "127.0.0.1", 0, 0, NULL,
	  "host IP advertised for this DEA's instances and status" },
	{ "max_memory", DEW_CONF_SIZE, offsetof(struct dea_config, max_memory), "4G", 1 << 20, INT64_MAX,
	  NULL, "memory offered to instances (advertised in MB)" },
	{ "max_disk", DEW_CONF_SIZE, offsetof(struct dea_config, max_disk), "16G", 1 << 20, INT64_MAX, NULL,
	  "disk offered to instances (advertised in MB)" },
	{ "stacks", DEW_CONF_STRING, offsetof(struct dea_config, stacks), "host", 0, 0, NULL,
	  "stacks this DEA runs, comma-separated" },
	{ "placement_tags", DEW_CONF_STRING, offsetof(struct dea_config, placement_tags), NULL, 0, 0, NULL,
	  "placement tags, comma-separated" },
	{ "base_dir", DEW_CONF_STRING, offsetof(struct dea_config, base_dir), "/var/lib/dew/dea", 0, 0, NULL,
	  "droplets and instance directories" },
	{ "state_dir", DEW_CONF_STRING, offsetof(struct dea_config, state_dir), "/run/dew/dea", 0, 0, NULL,
	  "the DEA's state (its id)" },
	{ "stacks_dir", DEW_CONF_STRING, offsetof(struct dea_config, stacks_dir), DEW_STACKS_DIR, 0, 0, NULL,
	  "holds <stack>/stack.json and buildpacks/" },
	{ "runtime_root", DEW_CONF_STRING, offsetof(struct dea_config, runtime_root), "/run/dew/containers",
	  0, 0, NULL, "container state directory of libdewrt (what dew-run(8) reads)" },
	{ "advertise_interval", DEW_CONF_DURATION, offsetof(struct dea_config, advertise_interval_ms), "5s",
	  10, 3600000, NULL, "interval of dea.advertise" },
	{ "heartbeat_interval", DEW_CONF_DURATION, offsetof(struct dea_config, heartbeat_interval_ms), "5s",
	  10, 3600000, NULL, "interval of dea.heartbeat" },
	{ "register_interval", DEW_CONF_DURATION, offsetof(struct dea_config, register_interval_ms), "20s",
	  100, 3600000, NULL, "router.register refresh until a router says its own interval" },
	{ "route_stale_threshold", DEW_CONF_INT, offsetof(struct dea_config, route_stale_s), "120", 1, 86400,
	  NULL, "stale_threshold_in_seconds sent with router.register" },
	{ "port_min", DEW_CONF_INT, offsetof(struct dea_config, port_min), "61000", 1024, 65535, NULL,
	  "first port given to instances" },
	{ "port_max", DEW_CONF_INT, offsetof(struct dea_config, port_max), "61999", 1024, 65535, NULL,
	  "last port given to instances" },
	{ "health_check_timeout", DEW_CONF_DURATION, offsetof(struct dea_config, health_check_timeout_ms),
	  "60s", 100, 3600000, NULL, "how long an app may take to accept connections on its port" },
	{ "stop_timeout", DEW_CONF_DURATION, offsetof(struct dea_config, stop_timeout_ms), "10s", 0, 3600000,
	  NULL, "SIGTERM to SIGKILL when stopping an instance" },
	{ "crash_retention", DEW_CONF_DURATION, offsetof(struct dea_config, crash_retention_ms), "1h", 0,
	  30LL * 86400000, NULL, "how long a crashed instance's directory and logs are kept" },
	{ "droplet_cache_size", DEW_CONF_SIZE, offsetof(struct dea_config, droplet_cache_size), "10G",
	  1 << 20, INT64_MAX, NULL, "bound of the droplet cache on disk" },
	{ "download_timeout", DEW_CONF_DURATION, offsetof(struct dea_config, download_timeout_ms), "10m",
	  1000, 86400000, NULL, "droplet and package downloads, droplet uploads" },
	{ "log_rate", DEW_CONF_INT, offsetof(struct dea_config, log_rate), "200", 1, 1000000, NULL,
	  "log lines per second and instance published on logs.<app>" },
	{ "pids_limit", DEW_CONF_INT, offsetof(struct dea_config, pids_limit), "1024", 16, 4194304, NULL,
	  "processes per instance" },
	{ "on_shutdown", DEW_CONF_ENUM, offsetof(struct dea_config, shutdown_mode), "stop", 0, 0,
	  dea_shutdown_modes, "stop instances on SIGTERM, or keep them running for the next DEA" },
	{ "evacuation_delay", DEW_CONF_DURATION, offsetof(struct dea_config, evacuation_delay_ms), "30s", 0,
	  3600000, NULL, "SIGUSR2: how long instances keep serving after DEA_EVACUATION is reported" },
	{ "files_secret", DEW_CONF_STRING, offsetof(struct dea_config, files_secret), NULL, 0, 0, NULL,
	  "HMAC secret of file server tokens, shared with the controller (default: random per start)" },
	{ "files_token_ttl", DEW_CONF_DURATION, offsetof(struct dea_config, files_token_ttl_ms), "1h", 1000,
	  30LL * 86400000, NULL, "validity of the file tokens this DEA mints" },
	{ "staging_timeout", DEW_CONF_DURATION, offsetof(struct dea_config, staging_timeout_ms), "15m", 1000,
	  86400000, NULL, "time limit of one staging" },
	{ "staging_concurrency", DEW_CONF_INT, offsetof(struct dea_config, staging_concurrency), "2", 0, 64,
	  NULL, "stagings at once (0: this DEA does not stage)" },
};

static const struct dew_daemon_info dea_info = {
	.name = "dew-dea",
	.section = "dea",
	.summary = "The dew droplet execution agent: runs app instances in containers.",
	.keys = dea_keys,
	.n_keys = DEW_ARRAY_SIZE(dea_keys),
	.uses_bus = true,
};

/* A comma list as a NULL-terminated vector, blanks around items and empty items dropped. */
static char **main_split(const char *list)
{
	size_t n = 0;
	char **v = xcalloc(1, sizeof(*v));
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *s = p;
		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len) {
			v = xreallocarray(v, n + 2, sizeof(*v));
			v[n++] = xstrndup(s, len);
			v[n] = NULL;
		}
		p = end ? end + 1 : p + strlen(p);
	}
	return v;
}

/* The id becomes a subject token (dea.<id>.start): letters, digits, '-' and '_' only. */
static bool main_id_valid(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > DEA_MAX_ID_LEN)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == len;
}

/* The explicit id, else the one in <state_dir>/dea-id, else a new one stored there. */
static int main_resolve_id(struct dea *dea, struct dew_error **err)
{
	if (dea->cfg.id) {
		if (!main_id_valid(dea->cfg.id))
			return dew_error_set(err, 0, "id `%s`: use up to %d letters, digits, '-' or '_'",
					     dea->cfg.id, DEA_MAX_ID_LEN);
		dea->id = xstrdup(dea->cfg.id);
		return 0;
	}
	if (dew_mkdir_p(dea->cfg.state_dir, 0755, err) < 0)
		return dew_error_prefix(err, "state_dir");
	cleanup_free char *path = xasprintf("%s/dea-id", dea->cfg.state_dir);
	cleanup_free char *data = NULL;
	size_t len = 0;
	cleanup_error struct dew_error *rerr = NULL;
	if (dew_read_file(path, 4096, &data, &len, &rerr) == 0) {
		while (len && (data[len - 1] == '\n' || data[len - 1] == ' '))
			data[--len] = '\0';
		if (!main_id_valid(data))
			return dew_error_set(err, 0, "%s holds no valid id; remove it to get a new one",
					     path);
		dea->id = steal_pointer(&data);
		return 0;
	}
	char uuid[DEW_UUID_LEN + 1];
	dew_uuid4(uuid);
	cleanup_free char *text = xasprintf("%s\n", uuid);
	if (dew_write_file_atomic(path, text, strlen(text), 0644, err) < 0)
		return -EIO;
	dew_notice("new DEA id %s stored in %s", uuid, path);
	dea->id = xstrdup(uuid);
	return 0;
}

static void main_metrics(struct dew_buf *out, void *data)
{
	struct dea *dea = data;
	dew_metrics_header(out, "dew_dea_instances", DEW_METRIC_GAUGE, "Instances on this DEA by state.");
	for (int st = INSTANCE_STARTING; st < INSTANCE_DELETED; st++) {
		size_t n = 0;
		for (const struct instance *i = dea->instances; i; i = i->next)
			n += i->state == (enum instance_state)st;
		const char *labels[] = { "state", instance_state_name((enum instance_state)st), NULL };
		dew_metrics_sample(out, "dew_dea_instances", labels, (double)n);
	}
	dew_metrics_gauge(out, "dew_dea_reserved_memory_bytes", "Memory reserved by instances.",
			  (double)(dea->reserved_mb << 20));
	dew_metrics_gauge(out, "dew_dea_max_memory_bytes", "Memory offered to instances.",
			  (double)dea->cfg.max_memory);
	dew_metrics_gauge(out, "dew_dea_used_memory_bytes", "Memory used by running instances.",
			  (double)instance_used_memory(dea));
	static const struct {
		const char *name, *help;
		size_t offset;
	} counters[] = {
		{ "dew_dea_starts_total", "Start messages accepted.", offsetof(struct dea_counters, starts) },
		{ "dew_dea_start_failures_total", "Instances that could not be started.",
		  offsetof(struct dea_counters, start_failures) },
		{ "dew_dea_refused_starts_total", "Start messages refused (no room, wrong stack, ...).",
		  offsetof(struct dea_counters, refused) },
		{ "dew_dea_crashes_total", "Instances that crashed or could not be started.",
		  offsetof(struct dea_counters, crashes) },
		{ "dew_dea_oom_kills_total", "Instances ended by the OOM killer.",
		  offsetof(struct dea_counters, oom_kills) },
		{ "dew_dea_health_timeouts_total", "Health checks that timed out.",
		  offsetof(struct dea_counters, health_timeouts) },
		{ "dew_dea_stops_total", "Instances stopped (dea.stop, shutdown, evacuation).",
		  offsetof(struct dea_counters, stops) },
		{ "dew_dea_advertisements_total", "dea.advertise messages published.",
		  offsetof(struct dea_counters, advertisements) },
		{ "dew_dea_heartbeats_total", "dea.heartbeat messages published.",
		  offsetof(struct dea_counters, heartbeats) },
		{ "dew_dea_dropped_messages_total", "Malformed bus messages dropped.",
		  offsetof(struct dea_counters, dropped_messages) },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(counters); i++)
		dew_metrics_counter(out, counters[i].name, counters[i].help,
				    *(const uint64_t *)((const char *)&dea->n + counters[i].offset));
	struct droplet_cache_stats dc = { 0 };
	if (dea->droplets)
		droplet_cache_get_stats(dea->droplets, &dc);
	dew_metrics_counter(out, "dew_dea_droplet_cache_hits_total", "Droplets found in the cache.", dc.hits);
	dew_metrics_counter(out, "dew_dea_droplet_cache_misses_total", "Droplets downloaded.", dc.misses);
	dew_metrics_gauge(out, "dew_dea_droplet_cache_bytes", "Bytes in the droplet cache.",
			  (double)dc.bytes);
	struct stager_stats ss = { 0 };
	if (dea->stager)
		stager_get_stats(dea->stager, &ss);
	dew_metrics_counter(out, "dew_dea_stagings_total",
			    "Staging requests received (invalid and busy included).", ss.requests);
	dew_metrics_counter(out, "dew_dea_staging_failures_total", "Stagings that failed.", ss.failed);
	dew_metrics_gauge(out, "dew_dea_stagings_running", "Stagings running now.", (double)ss.running);
	dew_metrics_gauge(out, "dew_dea_bus_connected", "1 while connected to the bus.", dea->bus_connected);
	dew_metrics_gauge(out, "dew_dea_evacuating", "1 while evacuating (SIGUSR2).", dea->evacuating);
}

static void main_on_stager_closed(void *arg)
{
	struct dea *dea = arg;
	dew_bus_close(dea->bus);
}

/* Close every handle of the DEA so the loop ends (instances are left as they are). */
static void main_close(struct dea *dea)
{
	if (dea->daemon.closed)
		return;
	/* Downloads in flight would hold the loop (and this process) for up to download_timeout. */
	fetch_abort_all();
	advertise_stop(dea);
	heartbeat_stop(dea);
	routes_stop(dea);
	uv_close((uv_handle_t *)&dea->shutdown_timer, NULL);
	uv_close((uv_handle_t *)&dea->sig_usr2, NULL);
	/* Instances' handles (polls, timers, log tails) are closed; the instances themselves live on. */
	while (dea->instances) {
		struct instance *i = dea->instances;
		instance_destroy(i, false);
	}
	if (dea->stager) {
		/* Running stagings finish and reply first: the bus closes after them. */
		struct stager_stats ss;
		stager_get_stats(dea->stager, &ss);
		if (ss.running)
			dew_notice("waiting for %llu staging(s) to finish", (unsigned long long)ss.running);
		stager_close(dea->stager, main_on_stager_closed, dea);
		dea->stager = NULL;
	} else if (dea->bus) {
		dew_bus_close(dea->bus);
	}
	if (dea->http)
		dew_http_server_stop(dea->http, NULL, NULL);
	dea->http = NULL;
	dew_daemon_close(&dea->daemon);
}

void dea_shutdown_check(struct dea *dea)
{
	if (dea->shutting_down && dea->n_instances == 0)
		main_close(dea);
}

static void main_on_shutdown_timer(uv_timer_t *t)
{
	struct dea *dea = t->data;
	dew_warn("%zu instance(s) still stopping after the shutdown deadline: leaving them",
		 dea->n_instances);
	main_close(dea);
}

/* Stop for good: stop the instances (or keep them), then close once they are gone. */
static void main_shutdown(struct dea *dea, enum instance_exit_reason reason)
{
	if (dea->shutting_down)
		return;
	dea->shutting_down = true;
	if (dea->cfg.shutdown_mode == DEA_SHUTDOWN_KEEP && reason == EXIT_DEA_SHUTDOWN) {
		dew_notice("leaving %zu instance(s) running for the next DEA (on_shutdown=keep)",
			   dea->n_instances);
		main_close(dea);
		return;
	}
	dew_notice("stopping %zu instance(s) (%s)", dea->n_instances, instance_reason_name(reason));
	/* Crash records go too: nobody will re-adopt them. */
	for (struct instance *i = dea->instances, *next; i; i = next) {
		next = i->next;
		if (i->state == INSTANCE_CRASHED)
			instance_destroy(i, true);
	}
	stop_all(dea, reason);
	uv_timer_start(&dea->shutdown_timer, main_on_shutdown_timer, dea->cfg.stop_timeout_ms + 5000, 0);
	dea_shutdown_check(dea);
}

static void main_stop(struct dew_daemon *d, int signum)
{
	struct dea *dea = d->data;
	/* Instances already reported as evacuated must not be left running. */
	main_shutdown(dea, dea->evacuating ? EXIT_DEA_EVACUATION : EXIT_DEA_SHUTDOWN);
}

static void main_on_evacuated(uv_timer_t *t)
{
	main_shutdown(t->data, EXIT_DEA_EVACUATION);
}

/* SIGUSR2: stop advertising, report every instance as DEA_EVACUATION so the health manager
 * starts it elsewhere, keep serving for evacuation_delay, then stop them and exit. */
static void main_on_usr2(uv_signal_t *s, int signum)
{
	struct dea *dea = s->data;
	if (dea->evacuating || dea->shutting_down)
		return;
	dea->evacuating = true;
	dew_notice("evacuating: %zu instance(s) reported as DEA_EVACUATION; stopping them in %llu ms",
		   dea->n_instances, (unsigned long long)dea->cfg.evacuation_delay_ms);
	for (struct instance *i = dea->instances; i; i = i->next) {
		if (i->state != INSTANCE_STARTING && i->state != INSTANCE_RUNNING)
			continue;
		exit_publish(i, EXIT_DEA_EVACUATION);
		i->evacuation_reported = true;
	}
	uv_timer_start(&dea->shutdown_timer, main_on_evacuated, dea->cfg.evacuation_delay_ms, 0);
}

/* The file server's secret: configured (shared with the controller) or random per start. */
static int main_files_secret(struct dea *dea, struct dew_error **err)
{
	if (dea->cfg.files_secret) {
		if (strlen(dea->cfg.files_secret) < FILES_SECRET_MIN)
			return dew_error_set(err, 0, "files_secret: use at least %d characters",
					     FILES_SECRET_MIN);
		dea->files_secret = xstrdup(dea->cfg.files_secret);
	} else {
		char a[DEW_UUID_LEN + 1], b[DEW_UUID_LEN + 1];
		dew_uuid4(a);
		dew_uuid4(b);
		dea->files_secret = xasprintf("%s%s", a, b);
	}
	dea->files = (struct files_ctx){
		.secret = dea->files_secret, .instance_dir = instance_dir_of, .data = dea, .loop = dea->loop
	};
	return 0;
}

/* Load every stack this DEA offers (errors name the stack and its file). */
static int main_load_stacks(struct dea *dea, struct dew_error **err)
{
	size_t n = 0;
	while (dea->stacks[n])
		n++;
	dea->stack_defs = xcalloc(n + 1, sizeof(*dea->stack_defs));
	for (size_t i = 0; i < n; i++)
		if (dew_stack_load(dea->cfg.stacks_dir, dea->stacks[i], false, &dea->stack_defs[i], err) < 0)
			return -EINVAL; /* the message names the stack and its file */
	return 0;
}

static int main_start(struct dea *dea, struct dew_error **err)
{
	cleanup_free char *host = NULL;
	int port;
	/* Every handle main_close closes exists from here on, whatever fails below. */
	uv_timer_init(dea->loop, &dea->shutdown_timer);
	dea->shutdown_timer.data = dea;
	uv_signal_init(dea->loop, &dea->sig_usr2);
	dea->sig_usr2.data = dea;
	advertise_start(dea);
	heartbeat_start(dea);
	routes_start(dea);
	dea->handles_ready = true;
	if (dea->cfg.port_min > dea->cfg.port_max)
		return dew_error_set(err, 0, "port_min %" PRId64 " is above port_max %" PRId64,
				     dea->cfg.port_min, dea->cfg.port_max);
	if (dew_parse_hostport(dea->cfg.core.listen, &host, &port) < 0)
		return dew_error_set(err, 0, "listen: expected HOST:PORT, got `%s`", dea->cfg.core.listen);
	if (main_load_stacks(dea, err) < 0 || main_files_secret(dea, err) < 0)
		return -EINVAL;
	dea->instances_dir = xasprintf("%s/instances", dea->cfg.base_dir);
	cleanup_free char *cache_dir = xasprintf("%s/droplets", dea->cfg.base_dir);
	if (dew_mkdir_p(dea->instances_dir, 0755, err) < 0)
		return dew_error_prefix(err, "base_dir");
	if (dewrt_context_init(&dea->rt, dea->cfg.runtime_root, err) < 0)
		return dew_error_prefix(err, "runtime_root");
	if (droplet_cache_open(cache_dir, dea->cfg.droplet_cache_size, &dea->droplets, err) < 0)
		return dew_error_prefix(err, "droplet cache");
	if (dew_http_server_start(&dea->http, dea->loop, host, port, files_routes, files_n_routes, NULL,
				  &dea->files, err) < 0)
		return -EIO;
	/* Read before the bus connects: the first advertisement carries them. */
	if (dea->cfg.staging_concurrency > 0)
		dea->buildpacks = advertise_scan_buildpacks(dea->cfg.stacks_dir);
	const struct dew_bus_options bo = {
		.servers = dea->cfg.core.bus,
		.ping_interval_ms = dea->cfg.core.bus_ping_interval_ms,
		.name = "dew-dea",
		.on_event = dispatch_on_bus_event,
		.data = dea,
	};
	if (dew_bus_new(&dea->bus, dea->loop, &bo, err) < 0)
		return -EIO;
	if (dea->cfg.staging_concurrency > 0) {
		dea->stage_work_dir = xasprintf("%s/staging", dea->cfg.base_dir);
		const struct stager_config sc = {
			.stacks_dir = dea->cfg.stacks_dir,
			.stacks = dea->stacks,
			.runtime_root = dea->cfg.runtime_root,
			.work_dir = dea->stage_work_dir,
			.timeout_ms = dea->cfg.staging_timeout_ms,
			.download_timeout_ms = dea->cfg.download_timeout_ms,
			.max_concurrent = (unsigned)dea->cfg.staging_concurrency,
		};
		if (dew_mkdir_p(dea->stage_work_dir, 0755, err) < 0 ||
		    stager_new(dea->loop, dea->bus, &sc, &dea->stager, err) < 0)
			return dew_error_prefix(err, "staging");
	}
	uv_signal_start(&dea->sig_usr2, main_on_usr2, SIGUSR2);
	dispatch_subscribe(dea);
	adopt_all(dea);
	return dew_daemon_ready(&dea->daemon, dew_http_server_port(dea->http), err);
}

int main(int argc, char **argv)
{
	struct dea dea = { .rt_lock = PTHREAD_MUTEX_INITIALIZER };
	cleanup_error struct dew_error *err = NULL;

	int r = dew_daemon_parse_args(&dea.daemon, &dea_info, &dea.cfg, &dea.cfg.core, argc, argv, &err);
	if (r == DEW_DAEMON_EXIT)
		return 0;
	if (r < 0) {
		fprintf(stderr, "dew-dea: %s\n", dew_error_msg(err));
		return 2;
	}
	dea.stacks = main_split(dea.cfg.stacks);
	dea.placement_tags = main_split(dea.cfg.placement_tags);
	if (!dea.stacks[0]) {
		fprintf(stderr, "dew-dea: stacks: name at least one stack\n");
		r = 2;
		goto out;
	}
	if (!dea.cfg.ip) {
		fprintf(stderr, "dew-dea: ip: must not be empty\n");
		r = 2;
		goto out;
	}
	dea.daemon.data = &dea;
	dea.daemon.on_stop = main_stop;
	dea.loop = uv_default_loop();
	dea.start_ms = uv_now(dea.loop);

	const struct dew_status_source src = { .metrics = main_metrics, .data = &dea };
	if (dew_daemon_start(&dea.daemon, dea.loop, &src, &err) < 0 || main_resolve_id(&dea, &err) < 0 ||
	    main_start(&dea, &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		r = 1;
		if (dea.handles_ready) {
			/* Close what was opened so the loop can end cleanly. */
			main_close(&dea);
			uv_run(dea.loop, UV_RUN_DEFAULT);
		}
		goto out;
	}
	dew_notice("DEA %s at %s: stacks %s, %llu MB of memory, %zu instance(s)", dea.id, dea.cfg.ip,
		   dea.cfg.stacks, (unsigned long long)(dea.cfg.max_memory >> 20), dea.n_instances);
	uv_run(dea.loop, UV_RUN_DEFAULT);
	dew_info("stopped");
	r = 0;
out:
	uv_loop_close(dea.loop);
	droplet_cache_close(dea.droplets);
	dewrt_context_close(&dea.rt);
	for (size_t i = 0; dea.stack_defs && dea.stacks[i]; i++)
		dew_stack_free(dea.stack_defs[i]);
	free(dea.stack_defs);
	free(dea.instances_dir);
	free(dea.stage_work_dir);
	free(dea.files_secret);
	dew_strv_free(dea.stacks);
	dew_strv_free(dea.placement_tags);
	dew_strv_free(dea.buildpacks);
	free(dea.id);
	dew_daemon_free(&dea.daemon);
	return r;
}
