// SPDX-License-Identifier: MIT
/*
 * dea.find.droplet {droplet, version?, instances?[], indices?[], states?[], include_stats?}:
 * one reply per matching instance {dea, droplet, version, instance, index, state,
 * state_timestamp, host, port, file_uri, file_token}, crashed ones with exit_status,
 * exit_description and crash_timestamp, and with include_stats the live usage next to the
 * quotas (Cloud Foundry's shape: stats {name, uris, host, port, uptime, mem_quota, disk_quota,
 * fds_quota, usage {time, cpu, mem, disk}}, sizes in bytes, cpu as a fraction of one core
 * since the previous sample).
 */
#include <string.h>
#include <inttypes.h>
#include <time.h>

#include "alloc.h"
#include "dea.h"
#include "files.h"
#include "json.h"
#include "log.h"
#include "start.h"

static json_t *find_stats(struct instance *inst)
{
	struct dea *dea = inst->dea;
	const struct start_msg *m = inst->msg;
	struct dewrt_stats s = { 0 };
	bool live = inst->state == INSTANCE_RUNNING || inst->state == INSTANCE_STARTING;
	if (live && !inst->working) {
		cleanup_error struct dew_error *err = NULL;
		if (dewrt_stats(&dea->rt, launch_container_id(inst), &s, &err) < 0)
			dew_debug("stats of %s: %s", m->instance_id, dew_error_msg(err));
	}
	uint64_t now_ms = uv_now(dea->loop);
	double cpu = 0;
	if (inst->cpu_last_ms && now_ms > inst->cpu_last_ms && s.cpu_usage_ns >= inst->cpu_last_ns)
		cpu = (double)(s.cpu_usage_ns - inst->cpu_last_ns) / 1e6 /
		      (double)(now_ms - inst->cpu_last_ms);
	inst->cpu_last_ns = s.cpu_usage_ns;
	inst->cpu_last_ms = now_ms;
	json_t *uris = json_array();
	for (size_t i = 0; m->uris[i]; i++)
		json_array_append_new(uris, json_string(m->uris[i]));
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S +0000", gmtime_r(&t, &tm));
	return json_pack("{s:s, s:o, s:s, s:i, s:I, s:I, s:I, s:I, s:{s:s, s:f, s:I, s:I}}", "name", m->name,
			 "uris", uris, "host", dea->cfg.ip, "port", inst->port, "uptime",
			 (json_int_t)(live ? time(NULL) - inst->started_at : 0), "mem_quota",
			 (json_int_t)m->memory_mb << 20, "disk_quota", (json_int_t)m->disk_mb << 20,
			 "fds_quota", (json_int_t)m->fds, "usage", "time", when, "cpu", cpu, "mem",
			 (json_int_t)s.memory_usage, "disk", (json_int_t)s.disk_used);
}

static json_t *find_reply(struct instance *inst, bool stats)
{
	struct dea *dea = inst->dea;
	const struct start_msg *m = inst->msg;
	int port = dea->http ? dew_http_server_port(dea->http) : 0;
	cleanup_free char *uri =
		xasprintf("http://%s:%d/instances/%s/files/", dea->cfg.ip, port, m->instance_id);
	int64_t expires = (int64_t)time(NULL) + (int64_t)(dea->cfg.files_token_ttl_ms / 1000);
	cleanup_free char *token = files_token_mint(dea->files.secret, m->instance_id, expires);
	json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:f, s:s, s:i, s:s, s:s}", "dea", dea->id,
			      "droplet", m->droplet, "version", m->version, "instance", m->instance_id,
			      "index", (json_int_t)m->index, "state", instance_state_name(inst->state),
			      "state_timestamp", inst->state_ts, "host", dea->cfg.ip, "port", inst->port,
			      "file_uri", uri, "file_token", token);
	if (inst->state == INSTANCE_CRASHED) {
		json_object_set_new(r, "exit_status", json_integer(inst->exit_status));
		json_object_set_new(r, "exit_description",
				    json_string(inst->exit_description ? inst->exit_description : ""));
		json_object_set_new(r, "crash_timestamp", json_real(inst->crash_ts));
	}
	if (stats)
		json_object_set_new(r, "stats", find_stats(inst));
	return r;
}

void find_on_find_droplet(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	struct stop_filter f;
	bool stats = false;
	cleanup_error struct dew_error *err = NULL;
	if (!body || stop_filter_parse(body, &f, &err) < 0 ||
	    dew_json_get_bool(body, "include_stats", DEW_JSON_OPTIONAL, &stats, &err) < 0) {
		dea_drop(dea, msg, body ? dew_error_msg(err) : "empty message");
		return;
	}
	for (struct instance *i = dea->instances; i; i = i->next) {
		if (!stop_filter_match(&f, i))
			continue;
		json_auto_t *r = find_reply(i, stats);
		dea_reply(dea, msg, r);
	}
}
