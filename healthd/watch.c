// SPDX-License-Identifier: MIT
/*
 * What dew-healthd watches and how it acts (issue #10): dea.heartbeat feeds the view of what
 * runs; droplet.exited marks an instance ended at once and, for a crash, records it and decides
 * for its app right away (a crash is repaired in the same heartbeat round, not at the next
 * sweep); droplet.updated re-reads that app and lets it settle; a sweep every sweep_ms decides
 * for every app; every heartbeat interval, DEAs silent for 3 of them are lost (and the
 * controllers told). Decisions become cloudcontrollers.hm.requests carrying the version,
 * last_updated and revision they were based on: stops at once (but not the same instance again
 * within 2 heartbeat intervals), starts through the priority queue (starts.c), ranked by why the
 * index went down. Nothing is decided before one full read of the desired state and a full round
 * of heartbeats after (re)connecting.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actual.h"
#include "alloc.h"
#include "healthd.h"
#include "json.h"
#include "log.h"

enum {
	WATCH_MSG_MAX = 1 << 20,
	WATCH_HINT_MS = 60000, /* why an index went down counts for its restart this long */
};

static json_t *watch_parse(struct hm *hm, const struct dew_bus_msg *msg)
{
	json_t *j = msg->len <= WATCH_MSG_MAX ? dew_json_parse(msg->data, msg->len, NULL) : NULL;
	if (!j || !json_is_object(j)) {
		json_decref(j);
		if (hm->n.bad_messages++ % 100 == 0)
			dew_warn("a malformed message on the bus: dropped");
		return NULL;
	}
	return j;
}

void watch_request(struct hm *hm, const json_t *app, const char *op, const char *key, json_t *list,
		   json_t *flapping)
{
	json_auto_t *m =
		json_pack("{s:O, s:s, s:O?, s:O?, s:O?, s:O}", "droplet", json_object_get(app, "droplet"),
			  "op", op, "version", json_object_get(app, "version"), "last_updated",
			  json_object_get(app, "last_updated"), "revision", json_object_get(app, "revision"),
			  key, list);
	if (m && flapping)
		json_object_set(m, "flapping", flapping);
	if (m)
		dew_bus_publish_json(hm->bus, "cloudcontrollers.hm.requests", NULL, m);
}

/* {"<index>": {crashes, gave_up}} of the FLAPPING indices of d, or NULL when it is what the
 * controller was told last (nothing to say). */
static json_t *watch_flapping(struct hm *hm, const char *guid, const json_t *app, const struct hm_decision *d,
			      uint64_t now)
{
	const char *version = json_string_value(json_object_get(app, "version"));
	json_t *info = json_object(), *i;
	size_t k;
	json_array_foreach (d->flapping, k, i) {
		int64_t crashes = 0;
		char key[24];
		hm_history_flapping(hm->history, &hm->cfg.policy, guid, version, json_integer_value(i), now,
				    &crashes);
		snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(i));
		json_object_set_new(info, key,
				    json_pack("{s:I, s:b}", "crashes", (json_int_t)crashes, "gave_up",
					      crashes >= hm->cfg.policy.give_up_crashes));
	}
	json_t *sent = json_object_get(hm->flap_sent, guid);
	if ((!sent && !json_object_size(info)) || (sent && json_equal(sent, info))) {
		json_decref(info);
		return NULL;
	}
	json_object_set(hm->flap_sent, guid, info);
	return info;
}

/* "<guid>/<index>": ids are [A-Za-z0-9_.-] (actual_id_ok), so the '/' is unambiguous. */
static void watch_hint_key(char *key, size_t n, const char *guid, int64_t index)
{
	snprintf(key, n, "%s/%" PRId64, guid, index);
}

/* Remember why guid's index went down (an exit's reason), for the priority of its restart. */
static void watch_hint(struct hm *hm, const char *guid, int64_t index, enum hm_priority prio, uint64_t now)
{
	char key[96];
	watch_hint_key(key, sizeof key, guid, index);
	json_object_set_new(hm->hints, key, json_pack("[i, I]", (int)prio, (json_int_t)now));
}

/* The priority of a start of guid's index: its recent exit's, else a sweep's; used up. */
static enum hm_priority watch_hint_take(struct hm *hm, const char *guid, int64_t index, uint64_t now)
{
	char key[96];
	watch_hint_key(key, sizeof key, guid, index);
	json_t *h = json_object_get(hm->hints, key);
	enum hm_priority prio = HM_PRIO_SWEEP;
	if (h && (uint64_t)json_integer_value(json_array_get(h, 1)) + WATCH_HINT_MS >= now)
		prio = (enum hm_priority)json_integer_value(json_array_get(h, 0));
	if (h)
		json_object_del(hm->hints, key);
	return prio;
}

/* The instances of stop not asked to stop within the last 2 heartbeat intervals (a new
 * reference): a DEA that was asked shows the instance STOPPING in its next heartbeat, so
 * asking again at every sweep before that only repeats the same dea.stop. */
static json_t *watch_stops(struct hm *hm, const json_t *stop, uint64_t now)
{
	json_t *out = json_array(), *i;
	size_t k;
	json_array_foreach (stop, k, i) {
		json_t *at = json_object_get(hm->stops_sent, json_string_value(i));
		if (at && (uint64_t)json_integer_value(at) + 2 * hm->cfg.heartbeat_interval_ms > now) {
			hm->n.stops_held++;
			continue;
		}
		json_object_set_new(hm->stops_sent, json_string_value(i), json_integer((json_int_t)now));
		json_array_append(out, i);
	}
	return out;
}

static void watch_on_recheck(uv_timer_t *t);

void watch_recheck_in(struct hm *hm, uint64_t ms)
{
	uint64_t due = uv_now(hm->loop) + ms;
	if (uv_is_active((uv_handle_t *)&hm->recheck_timer) && hm->recheck_at <= due)
		return;
	hm->recheck_at = due;
	uv_timer_start(&hm->recheck_timer, watch_on_recheck, ms, 0);
}

void watch_act(struct hm *hm, const char *guid)
{
	uint64_t now = uv_now(hm->loop);
	if (!hm->leading)
		return; /* the leader acts; this one keeps its view current */
	if (!hm->bus_connected || !hm->have_desired || now < hm->acting_from) {
		if (hm->bus_connected && hm->have_desired)
			watch_recheck_in(hm, hm->acting_from - now);
		return;
	}
	json_t *until = json_object_get(hm->settle, guid);
	if (until && (uint64_t)json_integer_value(until) > now) {
		watch_recheck_in(hm, (uint64_t)json_integer_value(until) - now);
		return;
	}
	json_object_del(hm->settle, guid);
	const json_t *app = json_object_get(hm->desired, guid);
	struct hm_decision d;
	hm_decide(guid, app, hm->actual, hm->history, &hm->cfg.policy, now, &d);
	json_auto_t *stops = watch_stops(hm, d.stop, now);
	if (json_array_size(stops)) {
		/* For an app the controller no longer has, a STOP needs no version. */
		json_auto_t *gone = app ? NULL : json_pack("{s:s}", "droplet", guid);
		watch_request(hm, app ? app : gone, "STOP", "instances", stops, NULL);
		hm->n.stops += json_array_size(stops);
		dew_info("app %s: stopping %zu instance(s)", guid, json_array_size(stops));
	}
	json_t *i;
	size_t k;
	json_array_foreach (d.start, k, i)
		starts_queue(hm, guid, json_integer_value(i),
			     watch_hint_take(hm, guid, json_integer_value(i), now));
	json_auto_t *flapping = app ? watch_flapping(hm, guid, app, &d, now) : NULL;
	if (flapping) {
		json_auto_t *none = json_array();
		watch_request(hm, app, "START", "indices", none, flapping);
	}
	starts_drain(hm);
	/* Again when a delayed start is due. */
	if (d.retry_ms)
		watch_recheck_in(hm, d.retry_ms);
	hm_decision_clear(&d);
}

static void watch_on_heartbeat(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct hm *hm = data;
	(void)bus;
	json_auto_t *j = watch_parse(hm, msg);
	if (!j || actual_heartbeat(hm->actual, j, uv_now(hm->loop), NULL, NULL) < 0) {
		hm->n.bad_messages += j != NULL;
		return;
	}
	hm->n.heartbeats++;
	/* An evacuating DEA lists the instances it reported as DEA_EVACUATION as RUNNING until it
	 * stops them: they are going, so neither live for an index nor a duplicate of their
	 * replacement. Once none is listed any more, the DEA is forgotten here. */
	const char *dea = json_string_value(json_object_get(j, "dea"));
	json_t *evacuated = json_object_get(hm->evacuating, dea);
	if (evacuated && !actual_dea_mark(hm->actual, dea, evacuated, ACTUAL_STOPPING))
		json_object_del(hm->evacuating, dea);
}

static void watch_on_exited(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct hm *hm = data;
	(void)bus;
	json_auto_t *j = watch_parse(hm, msg);
	const char *guid = json_string_value(json_object_get(j, "droplet"));
	const char *version = json_string_value(json_object_get(j, "version"));
	const char *instance = json_string_value(json_object_get(j, "instance"));
	const char *reason = json_string_value(json_object_get(j, "reason"));
	json_t *index = json_object_get(j, "index");
	if (!j || !actual_id_ok(guid) || !actual_id_ok(version) || !actual_id_ok(instance) || !reason ||
	    !json_is_integer(index) || json_integer_value(index) < 0) {
		hm->n.bad_messages += j != NULL;
		return;
	}
	hm->n.exits++;
	uint64_t now = uv_now(hm->loop);
	enum hm_priority prio = hm_priority_of_reason(reason);
	if (prio == HM_PRIO_EVACUATION) {
		/* It still runs, until the DEA's evacuation_delay ends. */
		actual_set_state(hm->actual, instance, ACTUAL_STOPPING);
		const char *dea = json_string_value(json_object_get(j, "dea"));
		if (actual_id_ok(dea)) {
			json_t *ids = json_object_get(hm->evacuating, dea);
			if (!ids)
				json_object_set_new(hm->evacuating, dea, ids = json_object());
			json_object_set_new(ids, instance, json_true());
		}
		hm->n.evacuations++;
	} else {
		actual_set_state(hm->actual, instance,
				 !strcmp(reason, "CRASHED") ? ACTUAL_CRASHED : ACTUAL_STOPPED);
	}
	if (!strcmp(reason, "CRASHED")) {
		hm->n.crashes++;
		hm_history_crash(hm->history, guid, version, json_integer_value(index), now);
	}
	watch_hint(hm, guid, json_integer_value(index), prio, now);
	watch_act(hm, guid);
}

static void watch_on_updated(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct hm *hm = data;
	(void)bus;
	json_auto_t *j = watch_parse(hm, msg);
	const char *guid = json_string_value(json_object_get(j, "droplet"));
	if (!j || !actual_id_ok(guid)) {
		hm->n.bad_messages += j != NULL;
		return;
	}
	hm->n.updates++;
	json_object_set_new(hm->settle, guid,
			    json_integer((json_int_t)(uv_now(hm->loop) + hm->cfg.settle_ms)));
	desired_fetch(hm, guid);
}

static void watch_act_all(struct hm *hm)
{
	const char *guid;
	json_t *v;
	json_object_foreach (hm->desired, guid, v)
		watch_act(hm, guid);
}

static void watch_on_sweep(uv_timer_t *t)
{
	watch_act_all(t->data);
}

static void watch_on_recheck(uv_timer_t *t)
{
	watch_act_all(t->data);
}

/* Forget STOPs asked for, and exit reasons, too old to matter. */
static void watch_prune(struct hm *hm, uint64_t now)
{
	const char *key;
	json_t *v, *tmp;
	json_object_foreach_safe (hm->stops_sent, tmp, key, v)
		if ((uint64_t)json_integer_value(v) + 2 * hm->cfg.heartbeat_interval_ms <= now)
			json_object_del(hm->stops_sent, key);
	json_object_foreach_safe (hm->hints, tmp, key, v)
		if ((uint64_t)json_integer_value(json_array_get(v, 1)) + WATCH_HINT_MS < now)
			json_object_del(hm->hints, key);
}

/* Every heartbeat interval: a DEA silent for 3 of them is lost, and its instances with it. The
 * leader tells the controllers (healthmanager.dea_lost), which take it out of placement at once
 * rather than after their advertise_ttl: the restarts asked for next must not go to it. */
static void watch_on_tick(uv_timer_t *t)
{
	struct hm *hm = t->data;
	uint64_t now = uv_now(hm->loop);
	watch_prune(hm, now);
	if (!hm->bus_connected)
		return; /* while the bus is down no heartbeat comes: nobody is lost for it */
	if (now >= hm->acting_from)
		health_start(hm);
	json_auto_t *gone = json_array();
	size_t lost = actual_expire(hm->actual, now, 3 * hm->cfg.heartbeat_interval_ms, gone);
	if (!lost)
		return;
	dew_notice("%zu DEA(s) silent for 3 heartbeat intervals: their instances are lost", lost);
	hm->n.lost_deas += lost;
	json_t *id;
	size_t k;
	json_array_foreach (gone, k, id) {
		json_object_del(hm->evacuating, json_string_value(id));
		json_auto_t *m = json_pack("{s:O}", "dea", id);
		if (hm->leading)
			dew_bus_publish_json(hm->bus, "healthmanager.dea_lost", NULL, m);
	}
	watch_act_all(hm);
}

static void watch_on_desired_timer(uv_timer_t *t)
{
	struct hm *hm = t->data;
	if (!hm->fetches)
		desired_fetch(hm, NULL);
}

void watch_connected(struct hm *hm)
{
	/* Every DEA answers with a full heartbeat: a round later the view is whole. */
	dew_bus_publish(hm->bus, "healthmanager.start", NULL, "", 0);
	hm->acting_from =
		uv_now(hm->loop) + hm->cfg.heartbeat_interval_ms + hm->cfg.heartbeat_interval_ms / 2;
	if (!hm->fetches)
		desired_fetch(hm, NULL);
}

void watch_start(struct hm *hm)
{
	if (dew_bus_subscribe(hm->bus, "dea.heartbeat", NULL, watch_on_heartbeat, hm) == 0 ||
	    dew_bus_subscribe(hm->bus, "droplet.exited", NULL, watch_on_exited, hm) == 0 ||
	    dew_bus_subscribe(hm->bus, "droplet.updated", NULL, watch_on_updated, hm) == 0)
		abort();
	uv_timer_init(hm->loop, &hm->sweep_timer);
	uv_timer_init(hm->loop, &hm->desired_timer);
	uv_timer_init(hm->loop, &hm->recheck_timer);
	uv_timer_init(hm->loop, &hm->tick_timer);
	hm->sweep_timer.data = hm->desired_timer.data = hm->recheck_timer.data = hm->tick_timer.data = hm;
	uv_timer_start(&hm->sweep_timer, watch_on_sweep, hm->cfg.sweep_ms, hm->cfg.sweep_ms);
	uv_timer_start(&hm->tick_timer, watch_on_tick, hm->cfg.heartbeat_interval_ms,
		       hm->cfg.heartbeat_interval_ms);
	uv_timer_start(&hm->desired_timer, watch_on_desired_timer, hm->cfg.desired_interval_ms,
		       hm->cfg.desired_interval_ms);
}

void watch_stop(struct hm *hm)
{
	uv_close((uv_handle_t *)&hm->sweep_timer, NULL);
	uv_close((uv_handle_t *)&hm->desired_timer, NULL);
	uv_close((uv_handle_t *)&hm->recheck_timer, NULL);
	uv_close((uv_handle_t *)&hm->tick_timer, NULL);
}
