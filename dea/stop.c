// SPDX-License-Identifier: MIT
/*
 * Stopping instances: dea.stop {droplet, version?, instances?[], indices?[]} (every filter
 * given must match), and the DEA's own stops (shutdown, evacuation, a failed health check).
 * A stop unregisters the routes first, so the routers send no new requests, then sends
 * SIGTERM and after stop_timeout SIGKILL; exit.c finishes when the container has stopped.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "alloc.h"
#include "dea.h"
#include "json.h"
#include "log.h"
#include "start.h"

enum { STOP_FILTER_MAX = 10000 };

static void stop_on_grace(uv_timer_t *t)
{
	struct instance *inst = t->data;
	struct dea *dea = inst->dea;
	cleanup_error struct dew_error *err = NULL;
	dew_notice("instance %s of %s did not stop within %llu ms: SIGKILL", inst->msg->instance_id,
		   inst->msg->name, (unsigned long long)dea->cfg.stop_timeout_ms);
	if (dewrt_kill(&dea->rt, launch_container_id(inst), SIGKILL, &err) < 0)
		dew_debug("instance %s: %s", inst->msg->instance_id, dew_error_msg(err));
}

void stop_instance(struct instance *inst, enum instance_exit_reason reason)
{
	struct dea *dea = inst->dea;
	if (inst->state != INSTANCE_STARTING && inst->state != INSTANCE_RUNNING)
		return;
	inst->stop_reason = reason;
	if (inst->working)
		return; /* launch_done stops it once its container exists */
	health_cancel(inst);
	routes_unregister(inst);
	instance_set_state(inst, INSTANCE_STOPPING);
	cleanup_error struct dew_error *err = NULL;
	if (dewrt_kill(&dea->rt, launch_container_id(inst), SIGTERM, &err) < 0)
		dew_debug("instance %s: %s", inst->msg->instance_id, dew_error_msg(err));
	uv_timer_start(&inst->timer, stop_on_grace, dea->cfg.stop_timeout_ms, 0);
}

void stop_all(struct dea *dea, enum instance_exit_reason reason)
{
	for (struct instance *i = dea->instances, *next; i; i = next) {
		next = i->next; /* a stop may finish at once and free i */
		stop_instance(i, reason);
	}
}

/* Does value (a string) appear in the array? */
static bool stop_has_string(const json_t *a, const char *value)
{
	size_t i;
	json_t *v;
	json_array_foreach (a, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), value))
			return true;
	return false;
}

static bool stop_has_int(const json_t *a, int64_t value)
{
	size_t i;
	json_t *v;
	json_array_foreach (a, i, v)
		if (json_is_integer(v) && json_integer_value(v) == value)
			return true;
	return false;
}

int stop_filter_parse(const json_t *body, struct stop_filter *f, struct dew_error **err)
{
	memset(f, 0, sizeof(*f));
	if (dew_json_get_string(body, "droplet", 0, START_ID_MAX, &f->droplet, err) < 0 ||
	    dew_json_get_string(body, "version", DEW_JSON_OPTIONAL, START_ID_MAX, &f->version, err) < 0 ||
	    dew_json_get_array(body, "instances", DEW_JSON_OPTIONAL, STOP_FILTER_MAX, &f->instances, err) <
		    0 ||
	    dew_json_get_array(body, "indices", DEW_JSON_OPTIONAL, STOP_FILTER_MAX, &f->indices, err) < 0 ||
	    dew_json_get_array(body, "states", DEW_JSON_OPTIONAL, STOP_FILTER_MAX, &f->states, err) < 0)
		return -EINVAL;
	return 0;
}

bool stop_filter_match(const struct stop_filter *f, const struct instance *inst)
{
	const struct start_msg *m = inst->msg;
	if (strcmp(f->droplet, m->droplet) != 0)
		return false;
	if (f->version && strcmp(f->version, m->version) != 0)
		return false;
	if (f->instances && !stop_has_string(f->instances, m->instance_id))
		return false;
	if (f->indices && !stop_has_int(f->indices, m->index))
		return false;
	if (f->states && !stop_has_string(f->states, instance_state_name(inst->state)))
		return false;
	return true;
}

void stop_on_stop(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	struct stop_filter f;
	cleanup_error struct dew_error *err = NULL;
	if (!body || stop_filter_parse(body, &f, &err) < 0) {
		dea_drop(dea, msg, body ? dew_error_msg(err) : "empty message");
		return;
	}
	unsigned n = 0;
	for (struct instance *i = dea->instances, *next; i; i = next) {
		next = i->next;
		if (stop_filter_match(&f, i) &&
		    (i->state == INSTANCE_STARTING || i->state == INSTANCE_RUNNING)) {
			n++;
			dew_info("dea.stop: stopping instance %s of %s (index %" PRId64 ")",
				 i->msg->instance_id, i->msg->name, i->msg->index);
			stop_instance(i, EXIT_STOPPED);
		}
	}
	if (msg->reply) {
		json_auto_t *r = json_pack("{s:s, s:i}", "dea", dea->id, "stopping", n);
		dea_reply(dea, msg, r);
	}
}
