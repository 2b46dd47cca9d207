// SPDX-License-Identifier: MIT
/*
 * The starts healthd decides on (issue #10) go through a priority queue (queue.h) and leave it
 * under the rate limit, a token bucket of starts_per_second (bursts of as many): when a mass
 * failure holds starts back, the indices of an evacuating DEA go first (it is about to stop
 * them), then crashed ones, then what a sweep or a lost DEA found. An index is checked again
 * when its turn comes, so a start queued on a state that changed since is dropped there.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "actual.h"
#include "alloc.h"
#include "healthd.h"
#include "log.h"

/* Take a start from the bucket. */
static bool starts_token(struct hm *hm)
{
	uint64_t now = uv_now(hm->loop);
	double rate = (double)hm->cfg.starts_per_second;
	hm->tokens += (double)(now - hm->tokens_ms) * rate / 1000.0;
	hm->tokens_ms = now;
	if (hm->tokens > rate)
		hm->tokens = rate;
	if (hm->tokens < 1) {
		hm->n.rate_limited++;
		return false;
	}
	hm->tokens -= 1;
	return true;
}

void starts_queue(struct hm *hm, const char *guid, int64_t index, enum hm_priority prio)
{
	hm_queue_push(hm->queue, guid, index, prio);
}

/* The app guid if its index is still to be started: started and staged, index below its count,
 * not settling, and no STARTING or RUNNING instance of its version. */
static const json_t *starts_wanted(struct hm *hm, const char *guid, int64_t index)
{
	const json_t *app = json_object_get(hm->desired, guid);
	const char *version = json_string_value(json_object_get(app, "version"));
	const char *state = json_string_value(json_object_get(app, "state"));
	const char *pkg = json_string_value(json_object_get(app, "package_state"));
	json_t *until = json_object_get(hm->settle, guid);
	if (!version || !state || !pkg || strcmp(state, "STARTED") != 0 || strcmp(pkg, "STAGED") != 0 ||
	    index >= json_integer_value(json_object_get(app, "instances")) ||
	    (until && (uint64_t)json_integer_value(until) > uv_now(hm->loop)))
		return NULL;
	return actual_index_live(hm->actual, guid, version, index) ? NULL : app;
}

static void starts_on_drain(uv_timer_t *t)
{
	starts_drain(t->data);
}

void starts_drain(struct hm *hm)
{
	char *guid;
	int64_t index;
	enum hm_priority prio;
	if (!hm->leading) {
		while (hm_queue_pop(hm->queue, &guid, &index, &prio))
			free(guid);
		return;
	}
	if (!hm->bus_connected)
		return; /* kept: the decisions after the reconnection drain it */
	uint64_t now = uv_now(hm->loop);
	json_auto_t *batch = json_object(); /* guid -> [index]: one request per app */
	while (hm_queue_len(hm->queue) && starts_token(hm)) {
		hm_queue_pop(hm->queue, &guid, &index, &prio);
		const json_t *app = starts_wanted(hm, guid, index);
		if (!app) {
			hm->tokens += 1; /* nothing asked for: the token is not spent */
			free(guid);
			continue;
		}
		json_t *list = json_object_get(batch, guid);
		if (!list)
			json_object_set_new(batch, guid, list = json_array());
		json_array_append_new(list, json_integer(index));
		hm_history_started(hm->history, guid, json_string_value(json_object_get(app, "version")),
				   index, now);
		hm->n.prio_starts[prio]++;
		free(guid);
	}
	const char *g;
	json_t *list;
	json_object_foreach (batch, g, list) {
		watch_request(hm, json_object_get(hm->desired, g), "START", "indices", list, NULL);
		hm->n.starts += json_array_size(list);
		dew_info("app %s: starting %zu missing instance(s)", g, json_array_size(list));
	}
	if (hm_queue_len(hm->queue) && !uv_is_active((uv_handle_t *)&hm->drain_timer))
		uv_timer_start(&hm->drain_timer, starts_on_drain,
			       1000 / (uint64_t)hm->cfg.starts_per_second + 1, 0);
}

void starts_start(struct hm *hm)
{
	hm->queue = hm_queue_new();
	uv_timer_init(hm->loop, &hm->drain_timer);
	hm->drain_timer.data = hm;
}

void starts_stop(struct hm *hm)
{
	uv_close((uv_handle_t *)&hm->drain_timer, NULL);
}
