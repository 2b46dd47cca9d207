// SPDX-License-Identifier: MIT
/*
 * dew-healthd: the health manager (dew-healthd(8)). Options and config, start-up and /metrics;
 * healthd.h maps the other files.
 */
#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actual.h"
#include "alloc.h"
#include "healthd.h"
#include "log.h"
#include "metrics.h"
#include "random.h"

static const struct dew_conf_key hm_keys[] = {
	DEW_DAEMON_CORE_KEYS(struct hm_config, "127.0.0.1:0", "127.0.0.1:9025"),
	{ "controller_url", DEW_CONF_STRING, offsetof(struct hm_config, controller_url),
	  "http://127.0.0.1:9022", 0, 0, NULL, "the controller's API, for GET /v1/internal/desired" },
	{ "internal_secret", DEW_CONF_STRING, offsetof(struct hm_config, internal_secret), NULL, 0, 0, NULL,
	  "the controller's internal_secret (signs the desired-state reads); required" },
	{ "heartbeat_interval", DEW_CONF_DURATION, offsetof(struct hm_config, heartbeat_interval_ms), "5s",
	  10, 3600000, NULL, "the DEAs' heartbeat_interval: a DEA silent for 3 of them is lost" },
	{ "desired_interval", DEW_CONF_DURATION, offsetof(struct hm_config, desired_interval_ms), "30s", 100,
	  86400000, NULL, "full read of the desired state" },
	{ "settle_time", DEW_CONF_DURATION, offsetof(struct hm_config, settle_ms), "2s", 0, 3600000, NULL,
	  "no decision for an app this long after droplet.updated" },
	{ "sweep_interval", DEW_CONF_DURATION, offsetof(struct hm_config, sweep_ms), "1s", 10, 3600000, NULL,
	  "every app is checked this often (crashes are acted on at once)" },
	{ "starts_per_second", DEW_CONF_INT, offsetof(struct hm_config, starts_per_second), "50", 1, 100000,
	  NULL, "instance starts asked for per second at most" },
	{ "start_pending", DEW_CONF_DURATION, offsetof(struct hm_config, pending_ms), "10s", 100, 3600000,
	  NULL, "a START is not repeated for this long while its instance does not show" },
	{ "flap_window", DEW_CONF_DURATION, offsetof(struct hm_config, flap_window_ms), "5m", 1000, 86400000,
	  NULL, "crashes of an index count within this window" },
	{ "flap_crashes", DEW_CONF_INT, offsetof(struct hm_config, flap_crashes), "3", 1, 1000, NULL,
	  "crashes within flap_window that make an index FLAPPING (restarts back off)" },
	{ "give_up_crashes", DEW_CONF_INT, offsetof(struct hm_config, give_up_crashes), "10", 1, 100000, NULL,
	  "crashes within flap_window after which an index is not restarted until the app changes" },
	{ "backoff_min", DEW_CONF_DURATION, offsetof(struct hm_config, backoff_min_ms), "1s", 0, 86400000,
	  NULL, "first restart delay of a FLAPPING index (doubling per crash)" },
	{ "backoff_max", DEW_CONF_DURATION, offsetof(struct hm_config, backoff_max_ms), "2m", 0, 86400000,
	  NULL, "longest restart delay" },
};

static const struct dew_daemon_info hm_info = {
	.name = "dew-healthd",
	.section = "healthd",
	.summary = "The dew health manager: restarts what dies, stops what should not run.",
	.keys = hm_keys,
	.n_keys = DEW_ARRAY_SIZE(hm_keys),
	.uses_bus = true,
};

static void hm_metrics(struct dew_buf *out, void *data)
{
	struct hm *hm = data;
	static const struct {
		const char *name, *help;
		size_t offset;
	} counters[] = {
		{ "dew_healthd_heartbeats_total", "dea.heartbeat messages taken.",
		  offsetof(struct hm_counters, heartbeats) },
		{ "dew_healthd_exits_total", "droplet.exited messages taken.",
		  offsetof(struct hm_counters, exits) },
		{ "dew_healthd_crashes_total", "Crashes heard of.", offsetof(struct hm_counters, crashes) },
		{ "dew_healthd_bad_messages_total", "Bus messages dropped as malformed.",
		  offsetof(struct hm_counters, bad_messages) },
		{ "dew_healthd_updates_total", "droplet.updated messages taken.",
		  offsetof(struct hm_counters, updates) },
		{ "dew_healthd_starts_total", "Instance starts asked for.",
		  offsetof(struct hm_counters, starts) },
		{ "dew_healthd_stops_total", "Instance stops asked for.",
		  offsetof(struct hm_counters, stops) },
		{ "dew_healthd_rate_limited_total", "Starts put off by starts_per_second.",
		  offsetof(struct hm_counters, rate_limited) },
		{ "dew_healthd_lost_deas_total", "DEAs found lost.",
		  offsetof(struct hm_counters, lost_deas) },
		{ "dew_healthd_desired_reads_total", "Reads of the desired state.",
		  offsetof(struct hm_counters, desired_reads) },
		{ "dew_healthd_desired_failures_total", "Failed reads of the desired state.",
		  offsetof(struct hm_counters, desired_failures) },
		{ "dew_healthd_evacuations_total", "Instances reported as DEA_EVACUATION.",
		  offsetof(struct hm_counters, evacuations) },
		{ "dew_healthd_stops_held_total",
		  "STOPs not repeated: asked for within 2 heartbeat intervals.",
		  offsetof(struct hm_counters, stops_held) },
		{ "dew_healthd_health_requests_total", "healthmanager.health requests answered.",
		  offsetof(struct hm_counters, health_requests) },
		{ "dew_healthd_health_replies_total",
		  "healthmanager.health replies sent (one per app asked).",
		  offsetof(struct hm_counters, health_replies) },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(counters); i++)
		dew_metrics_counter(out, counters[i].name, counters[i].help,
				    *(const uint64_t *)((const char *)&hm->n + counters[i].offset));
	dew_metrics_header(out, "dew_healthd_priority_starts_total", DEW_METRIC_COUNTER,
			   "Instance starts asked for, by priority (why the index went down).");
	for (int p = 0; p < HM_N_PRIOS; p++)
		dew_metrics_sample(out, "dew_healthd_priority_starts_total",
				   (const char *const[]){ "priority", hm_priority_names[p], NULL },
				   (double)hm->n.prio_starts[p]);
	dew_metrics_gauge(out, "dew_healthd_start_queue", "Starts decided, waiting for the rate limit.",
			  (double)hm_queue_len(hm->queue));
	dew_metrics_gauge(out, "dew_healthd_evacuating_deas",
			  "DEAs draining instances they reported as DEA_EVACUATION.",
			  (double)json_object_size(hm->evacuating));
	dew_metrics_gauge(out, "dew_healthd_apps", "Apps in the desired state.",
			  (double)json_object_size(hm->desired));
	dew_metrics_gauge(out, "dew_healthd_instances", "Instances the DEAs report.",
			  (double)actual_total(hm->actual));
	size_t flapping = 0;
	const char *guid;
	json_t *v;
	json_object_foreach (hm->flap_sent, guid, v)
		flapping += json_object_size(v);
	dew_metrics_gauge(out, "dew_healthd_flapping", "Indices FLAPPING, as last told to the controller.",
			  (double)flapping);
	dew_metrics_gauge(out, "dew_healthd_leader", "1 while this healthd leads (acts).", hm->leading);
	dew_metrics_gauge(out, "dew_healthd_bus_connected", "1 while connected to the bus.",
			  hm->bus_connected);
}

static void hm_on_bus_event(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data)
{
	struct hm *hm = data;
	(void)bus;
	switch (ev) {
	case DEW_BUS_CONNECTED:
	case DEW_BUS_RECONNECTED:
		hm->bus_connected = true;
		watch_connected(hm);
		break;
	case DEW_BUS_DISCONNECTED:
	case DEW_BUS_CLOSED:
		hm->bus_connected = false;
		break;
	case DEW_BUS_SERVER_ERROR:
		dew_warn("bus server error: %s", detail ? detail : "?");
		break;
	}
}

static void hm_stop(struct dew_daemon *d, int signum)
{
	struct hm *hm = d->data;
	(void)signum;
	watch_stop(hm);
	starts_stop(hm);
	leader_stop(hm);
	if (hm->bus)
		dew_bus_close(hm->bus);
	dew_daemon_close(d);
}

int main(int argc, char **argv)
{
	struct hm hm = { 0 };
	cleanup_error struct dew_error *err = NULL;
	int r = dew_daemon_parse_args(&hm.daemon, &hm_info, &hm.cfg, &hm.cfg.core, argc, argv, &err);
	if (r == DEW_DAEMON_EXIT)
		return 0;
	if (r < 0 || !hm.cfg.internal_secret || !*hm.cfg.internal_secret) {
		fprintf(stderr, "dew-healthd: %s\n",
			r < 0 ? dew_error_msg(err) : "internal_secret is required (the controller's)");
		dew_daemon_free(&hm.daemon);
		return 2;
	}
	hm.cfg.policy = (struct hm_policy){
		.pending_ms = hm.cfg.pending_ms,
		.flap_window_ms = hm.cfg.flap_window_ms,
		.flap_crashes = hm.cfg.flap_crashes,
		.give_up_crashes = hm.cfg.give_up_crashes,
		.backoff_min_ms = hm.cfg.backoff_min_ms,
		.backoff_max_ms = hm.cfg.backoff_max_ms,
	};
	size_t n = strlen(hm.cfg.controller_url);
	while (n > 0 && hm.cfg.controller_url[n - 1] == '/')
		hm.cfg.controller_url[--n] = '\0';
	curl_global_init(CURL_GLOBAL_DEFAULT);
	hm.actual = actual_new();
	hm.history = hm_history_new();
	hm.desired = json_object();
	hm.settle = json_object();
	hm.flap_sent = json_object();
	hm.hints = json_object();
	hm.stops_sent = json_object();
	hm.evacuating = json_object();
	dew_uuid4(hm.id);
	hm.daemon.data = &hm;
	hm.daemon.on_stop = hm_stop;
	hm.loop = uv_default_loop();
	hm.tokens = (double)hm.cfg.starts_per_second;
	hm.tokens_ms = uv_now(hm.loop);
	const struct dew_status_source src = { .metrics = hm_metrics, .data = &hm };
	const struct dew_bus_options bo = {
		.servers = hm.cfg.core.bus,
		.ping_interval_ms = hm.cfg.core.bus_ping_interval_ms,
		.name = "dew-healthd",
		.on_event = hm_on_bus_event,
		.data = &hm,
	};
	if (dew_daemon_start(&hm.daemon, hm.loop, &src, &err) < 0 ||
	    dew_bus_new(&hm.bus, hm.loop, &bo, &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		r = 1;
		goto out;
	}
	watch_start(&hm);
	starts_start(&hm);
	leader_start(&hm);
	if (dew_daemon_ready(&hm.daemon, -1, &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		r = 1;
		goto out;
	}
	dew_notice("health manager for the apps of %s", hm.cfg.controller_url);
	uv_run(hm.loop, UV_RUN_DEFAULT);
	uv_loop_close(hm.loop);
	dew_info("stopped");
	r = 0;
out:
	actual_free(hm.actual);
	hm_history_free(hm.history);
	json_decref(hm.desired);
	json_decref(hm.settle);
	json_decref(hm.flap_sent);
	json_decref(hm.hints);
	json_decref(hm.stops_sent);
	json_decref(hm.evacuating);
	hm_queue_free(hm.queue);
	curl_global_cleanup();
	dew_daemon_free(&hm.daemon);
	return r;
}
