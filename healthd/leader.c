// SPDX-License-Identifier: MIT
/*
 * Which dew-healthd acts when several run (issue #10): every healthd announces itself on
 * `healthmanager.leader` {id} every heartbeat interval; the leader is the one with the smallest
 * id among those heard within the last 2 intervals, itself included. Only the leader decides.
 * When it dies its announcements stop, and within 2 intervals the next one in id order takes
 * over; a healthd that was not leading waits a full heartbeat round (watch_connected's grace)
 * before its first decision, so it acts on a whole view. During a bus partition each side
 * elects its own leader: requests may then come from two, which the controller tolerates (a
 * START of an index already being started is ignored).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "healthd.h"
#include "json.h"
#include "log.h"

enum { LEADER_MSG_MAX = 4096 };

static void leader_evaluate(struct hm *hm)
{
	uint64_t now = uv_now(hm->loop), horizon = 2 * hm->cfg.heartbeat_interval_ms;
	const char *id, *best = hm->id;
	json_t *seen, *tmp;
	json_object_foreach_safe (hm->peers, tmp, id, seen) {
		if ((uint64_t)json_integer_value(seen) + horizon < now) {
			json_object_del(hm->peers, id);
			continue;
		}
		if (strcmp(id, best) < 0)
			best = id;
	}
	bool leading = !strcmp(best, hm->id) && now >= hm->lead_from;
	if (leading && !hm->leading) {
		dew_notice("leading: this healthd acts now");
		/* A full round of heartbeats before the first decision. */
		hm->acting_from = now + hm->cfg.heartbeat_interval_ms + hm->cfg.heartbeat_interval_ms / 2;
		watch_recheck_in(hm, hm->acting_from - now);
	} else if (!leading && hm->leading) {
		dew_notice("healthd %s leads: this one stands by", best);
	}
	hm->leading = leading;
}

static void leader_on_msg(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct hm *hm = data;
	(void)bus;
	json_auto_t *j = msg->len <= LEADER_MSG_MAX ? dew_json_parse(msg->data, msg->len, NULL) : NULL;
	const char *id = json_string_value(json_object_get(j, "id"));
	if (!id || !*id || strlen(id) > 64) {
		hm->n.bad_messages++;
		return;
	}
	if (strcmp(id, hm->id) != 0)
		json_object_set_new(hm->peers, id, json_integer((json_int_t)uv_now(hm->loop)));
	leader_evaluate(hm);
}

static void leader_on_timer(uv_timer_t *t)
{
	struct hm *hm = t->data;
	if (hm->bus_connected) {
		json_auto_t *m = json_pack("{s:s}", "id", hm->id);
		dew_bus_publish_json(hm->bus, "healthmanager.leader", NULL, m);
	}
	leader_evaluate(hm);
}

void leader_start(struct hm *hm)
{
	hm->peers = json_object();
	if (dew_bus_subscribe(hm->bus, "healthmanager.leader", NULL, leader_on_msg, hm) == 0)
		abort();
	uv_timer_init(hm->loop, &hm->leader_timer);
	hm->leader_timer.data = hm;
	/* Not leading until a round of announcements was heard: no two leaders at start. */
	hm->leading = false;
	hm->lead_from = uv_now(hm->loop) + 2 * hm->cfg.heartbeat_interval_ms;
	uv_timer_start(&hm->leader_timer, leader_on_timer, 0, hm->cfg.heartbeat_interval_ms);
}

void leader_stop(struct hm *hm)
{
	uv_close((uv_handle_t *)&hm->leader_timer, NULL);
	json_decref(hm->peers);
	hm->peers = NULL;
}
