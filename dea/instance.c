// SPDX-License-Identifier: MIT
/*
 * The DEA's instances: the registry (a list: a DEA runs hundreds, not millions), the state
 * names of Cloud Foundry's DEA, the capacity accounting, instance.json (what re-adoption reads
 * after a restart) and the heartbeat view. An instance is freed only after every libuv handle
 * it opened has closed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "alloc.h"
#include "dea.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "logs.h"
#include "start.h"

static const char *const state_names[] = {
	[INSTANCE_STARTING] = "STARTING", [INSTANCE_RUNNING] = "RUNNING", [INSTANCE_STOPPING] = "STOPPING",
	[INSTANCE_STOPPED] = "STOPPED",	  [INSTANCE_CRASHED] = "CRASHED", [INSTANCE_DELETED] = "DELETED",
};

static const char *const reason_names[] = {
	[EXIT_NONE] = "NONE",
	[EXIT_STOPPED] = "STOPPED",
	[EXIT_CRASHED] = "CRASHED",
	[EXIT_DEA_SHUTDOWN] = "DEA_SHUTDOWN",
	[EXIT_DEA_EVACUATION] = "DEA_EVACUATION",
};

const char *instance_state_name(enum instance_state s)
{
	return (size_t)s < DEW_ARRAY_SIZE(state_names) ? state_names[s] : "UNKNOWN";
}

const char *instance_reason_name(enum instance_exit_reason r)
{
	return (size_t)r < DEW_ARRAY_SIZE(reason_names) ? reason_names[r] : "UNKNOWN";
}

int instance_state_parse(const char *name)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(state_names); i++)
		if (strcmp(state_names[i], name) == 0)
			return (int)i;
	return -1;
}

double instance_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)(tv.tv_usec / 1000) / 1000.0;
}

struct instance *instance_find(struct dea *dea, const char *instance_id)
{
	for (struct instance *i = dea->instances; i; i = i->next)
		if (strcmp(i->msg->instance_id, instance_id) == 0)
			return i;
	return NULL;
}

const char *instance_dir_of(void *data, const char *instance_id)
{
	struct instance *inst = instance_find(data, instance_id);
	return inst ? inst->dir : NULL;
}

struct instance *instance_new(struct dea *dea, struct start_msg *msg, char *msg_json)
{
	struct instance *inst = xcalloc(1, sizeof(*inst));
	inst->dea = dea;
	inst->msg = msg;
	inst->msg_json = msg_json;
	inst->dir = xasprintf("%s/%s", dea->instances_dir, msg->instance_id);
	inst->app_dir = xasprintf("%s/app", inst->dir);
	inst->log_dir = xasprintf("%s/logs", inst->dir);
	inst->state = INSTANCE_STARTING;
	inst->state_ts = instance_now();
	inst->started_at = (int64_t)inst->state_ts;
	inst->pidfd = -1;
	inst->exit_status = -1;
	inst->mem_mb = (uint64_t)msg->memory_mb;
	inst->disk_mb = (uint64_t)msg->disk_mb;
	uv_timer_init(dea->loop, &inst->timer);
	inst->timer.data = inst;
	instance_handle_opened(inst);
	inst->next = dea->instances;
	dea->instances = inst;
	dea->n_instances++;
	return inst;
}

void instance_persist(struct instance *inst)
{
	if (inst->state == INSTANCE_DELETED)
		return;
	json_auto_t *start = json_loads(inst->msg_json, 0, NULL);
	json_auto_t *m =
		json_pack("{s:O?, s:i, s:I, s:s, s:f, s:b}", "start", start, "port", inst->port, "started_at",
			  (json_int_t)inst->started_at, "state", instance_state_name(inst->state),
			  "state_timestamp", inst->state_ts, "adopted", inst->adopted);
	if (inst->state == INSTANCE_CRASHED) {
		/* What a crash record shows must survive a DEA restart too. */
		json_object_set_new(m, "exit_status", json_integer(inst->exit_status));
		json_object_set_new(m, "exit_description",
				    json_string(inst->exit_description ? inst->exit_description : ""));
		json_object_set_new(m, "crash_timestamp", json_real(inst->crash_ts));
	}
	cleanup_free char *text = dew_json_dumps(m);
	cleanup_free char *path = xasprintf("%s/instance.json", inst->dir);
	cleanup_error struct dew_error *err = NULL;
	if (dew_write_file_replace(path, text, strlen(text), 0600, &err) < 0)
		dew_warn("instance %s: %s", inst->msg->instance_id, dew_error_msg(err));
}

void instance_set_state(struct instance *inst, enum instance_state s)
{
	if (inst->state == s)
		return;
	dew_info("instance %s (%s/%" PRId64 "): %s -> %s", inst->msg->instance_id, inst->msg->name,
		 inst->msg->index, instance_state_name(inst->state), instance_state_name(s));
	inst->state = s;
	inst->state_ts = instance_now();
	instance_persist(inst);
	heartbeat_publish(inst->dea);
}

bool instance_reserve(struct instance *inst)
{
	struct dea *dea = inst->dea;
	uint64_t mem = dea->cfg.max_memory >> 20, disk = dea->cfg.max_disk >> 20;
	if (inst->reserved)
		return true;
	if (dea->reserved_mb + inst->mem_mb > mem || dea->reserved_disk_mb + inst->disk_mb > disk)
		return false;
	dea->reserved_mb += inst->mem_mb;
	dea->reserved_disk_mb += inst->disk_mb;
	inst->reserved = true;
	advertise_publish(dea);
	return true;
}

void instance_unreserve(struct instance *inst)
{
	struct dea *dea = inst->dea;
	if (!inst->reserved)
		return;
	dea->reserved_mb -= inst->mem_mb;
	dea->reserved_disk_mb -= inst->disk_mb;
	inst->reserved = false;
	advertise_publish(dea);
}

json_t *instance_heartbeat_json(const struct instance *inst)
{
	const struct start_msg *m = inst->msg;
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:f}", "droplet", m->droplet, "version", m->version,
			 "instance", m->instance_id, "index", (json_int_t)m->index, "state",
			 instance_state_name(inst->state), "state_timestamp", inst->state_ts);
}

uint64_t instance_used_memory(struct dea *dea)
{
	uint64_t used = 0;
	for (const struct instance *i = dea->instances; i; i = i->next) {
		struct dewrt_stats st;
		if (i->state == INSTANCE_RUNNING &&
		    dewrt_stats_cgroup(&dea->rt, launch_container_id(i), &st, NULL) == 0)
			used += st.memory_usage;
	}
	return used;
}

void instance_follow_logs(struct instance *inst, bool from_start)
{
	struct log_tail_options lo = {
		.log_dir = inst->log_dir,
		.app_id = inst->msg->droplet,
		.index = inst->msg->index,
		.instance_id = inst->msg->instance_id,
		.rate = (uint32_t)inst->dea->cfg.log_rate,
		.from_start = from_start,
	};
	if (log_tail_new(inst->dea->loop, inst->dea->bus, &lo, &inst->logs) < 0)
		dew_warn("instance %s: cannot follow its logs", inst->msg->instance_id);
}

void instance_handle_opened(struct instance *inst)
{
	inst->handles++;
}

static void instance_free(struct instance *inst)
{
	if (inst->pidfd >= 0)
		close(inst->pidfd);
	start_msg_free(inst->msg);
	free(inst->msg_json);
	free(inst->dir);
	free(inst->app_dir);
	free(inst->log_dir);
	free(inst->exit_description);
	dew_error_free(inst->work_err);
	free(inst);
}

void instance_unref(struct instance *inst)
{
	if (--inst->handles == 0 && inst->state == INSTANCE_DELETED)
		instance_free(inst);
}

void instance_handle_closed(uv_handle_t *h)
{
	instance_unref(h->data);
}

static void instance_close(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, instance_handle_closed);
}

void instance_destroy(struct instance *inst, bool remove_dir)
{
	struct dea *dea = inst->dea;
	for (struct instance **p = &dea->instances; *p; p = &(*p)->next)
		if (*p == inst) {
			*p = inst->next;
			dea->n_instances--;
			break;
		}
	instance_unreserve(inst);
	if (inst->logs) {
		log_tail_free(inst->logs);
		inst->logs = NULL;
	}
	if (remove_dir) {
		cleanup_error struct dew_error *err = NULL;
		if (dew_remove_tree(inst->dir, &err) < 0)
			dew_warn("instance %s: %s", inst->msg->instance_id, dew_error_msg(err));
	}
	inst->state = INSTANCE_DELETED;
	/* The handles hold the instance until their close callbacks have run. */
	inst->handles++;
	health_cancel(inst);
	if (inst->exit_poll_on) {
		inst->exit_poll_on = false;
		instance_close((uv_handle_t *)&inst->exit_poll);
	}
	instance_close((uv_handle_t *)&inst->timer);
	if (--inst->handles == 0)
		instance_free(inst);
}
