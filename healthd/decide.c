// SPDX-License-Identifier: MIT
/*
 * Decisions for one app (decide.h). The history is a JSON object: per app its version and per
 * index the times of its recent crashes and of the last START asked for. An app whose version
 * changed starts a new history, which is how a restart or new bits reset a FLAPPING index.
 */
#include "decide.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

enum { HISTORY_CRASHES_MAX = 64 };

struct hm_history {
	json_t *apps; /* guid -> {version, idx: {"<i>": {crashes: [ms], started: ms}}} */
};

struct hm_history *hm_history_new(void)
{
	struct hm_history *h = xzalloc(sizeof(*h));
	h->apps = json_object();
	return h;
}

void hm_history_free(struct hm_history *h)
{
	if (!h)
		return;
	json_decref(h->apps);
	free(h);
}

void hm_history_forget(struct hm_history *h, const char *guid)
{
	json_object_del(h->apps, guid);
}

/* The record of index (created), in an app history reset when version changed. */
static json_t *history_index(struct hm_history *h, const char *guid, const char *version, int64_t index)
{
	json_t *app = json_object_get(h->apps, guid);
	const char *v = json_string_value(json_object_get(app, "version"));
	if (!app || !v || strcmp(v, version) != 0) {
		app = json_pack("{s:s, s:{}}", "version", version, "idx");
		json_object_set_new(h->apps, guid, app);
	}
	char key[24];
	snprintf(key, sizeof key, "%" PRId64, index);
	json_t *idx = json_object_get(app, "idx"), *rec = json_object_get(idx, key);
	if (!rec) {
		rec = json_pack("{s:[], s:I}", "crashes", "started", (json_int_t)0);
		json_object_set_new(idx, key, rec);
	}
	return rec;
}

void hm_history_crash(struct hm_history *h, const char *guid, const char *version, int64_t index,
		      uint64_t now_ms)
{
	json_t *rec = history_index(h, guid, version, index);
	json_t *crashes = json_object_get(rec, "crashes");
	json_array_append_new(crashes, json_integer((json_int_t)now_ms));
	while (json_array_size(crashes) > HISTORY_CRASHES_MAX)
		json_array_remove(crashes, 0);
	/* The START asked for before is over: the next one may go at once (or after the back-off). */
	json_object_set_new(rec, "started", json_integer(0));
}

void hm_history_started(struct hm_history *h, const char *guid, const char *version, int64_t index,
			uint64_t now_ms)
{
	json_object_set_new(history_index(h, guid, version, index), "started",
			    json_integer((json_int_t)now_ms));
}

/* Crashes of rec within the window ending at now_ms, and the time of the last one. */
static int64_t history_recent(const json_t *rec, uint64_t window_ms, uint64_t now_ms, uint64_t *last)
{
	json_t *t;
	size_t k;
	int64_t n = 0;
	*last = 0;
	json_array_foreach (json_object_get(rec, "crashes"), k, t) {
		uint64_t at = (uint64_t)json_integer_value(t);
		if (at + window_ms >= now_ms) {
			n++;
			*last = at > *last ? at : *last;
		}
	}
	return n;
}

bool hm_history_flapping(struct hm_history *h, const struct hm_policy *p, const char *guid,
			 const char *version, int64_t index, uint64_t now_ms, int64_t *crashes)
{
	uint64_t last;
	*crashes = history_recent(history_index(h, guid, version, index), p->flap_window_ms, now_ms, &last);
	return *crashes >= p->flap_crashes;
}

void hm_decision_clear(struct hm_decision *d)
{
	json_decref(d->start);
	json_decref(d->stop);
	json_decref(d->flapping);
	*d = (struct hm_decision){ 0 };
}

/* The live instances of an app, gathered from the DEAs' view. */
struct live {
	json_t *list; /* [{instance, version, index, since, superseded}] */
	const struct actual *act;
	const char *version; /* the desired one, NULL when the app is not running */
	int64_t want;
};

static void live_one(const struct actual_instance *i, void *data)
{
	struct live *l = data;
	if (!(ACTUAL_LIVE & (1u << i->state)))
		return;
	json_array_append_new(l->list,
			      json_pack("{s:s, s:s, s:I, s:f, s:b}", "instance", i->instance, "version",
					i->version, "index", (json_int_t)i->index, "since", i->since,
					"superseded", actual_superseded(l->act, i, l->version, l->want)));
}

/* Is a older than b (the one to keep of two instances of an index)? */
static bool live_older(const json_t *a, const json_t *b)
{
	double sa = json_real_value(json_object_get(a, "since")),
	       sb = json_real_value(json_object_get(b, "since"));
	if (sa != sb)
		return sa < sb;
	return strcmp(json_string_value(json_object_get(a, "instance")),
		      json_string_value(json_object_get(b, "instance"))) < 0;
}

/* Should instance i (of live) stop? One of another version only once its successor runs
 * (actual_superseded: a rolling replacement), a second one of an index the younger. */
static bool live_extra(const json_t *live, const json_t *i, const char *version, int64_t want)
{
	json_int_t index = json_integer_value(json_object_get(i, "index"));
	if (!version || index >= want)
		return true;
	if (strcmp(json_string_value(json_object_get(i, "version")), version) != 0)
		return json_is_true(json_object_get(i, "superseded"));
	json_t *o;
	size_t k;
	json_array_foreach (live, k, o) {
		if (o != i && json_integer_value(json_object_get(o, "index")) == index &&
		    !strcmp(json_string_value(json_object_get(o, "version")), version) && live_older(o, i))
			return true;
	}
	return false;
}

/* May index start now? false with *flapping / *retry_ms set when it must wait or gave up. */
static bool may_start(struct hm_history *h, const struct hm_policy *p, const char *guid, const char *version,
		      int64_t index, uint64_t now_ms, bool *flapping, uint64_t *retry_ms)
{
	json_t *rec = history_index(h, guid, version, index);
	uint64_t started = (uint64_t)json_integer_value(json_object_get(rec, "started")), last;
	int64_t n = history_recent(rec, p->flap_window_ms, now_ms, &last);
	*flapping = n >= p->flap_crashes;
	*retry_ms = 0;
	if (started && started + p->pending_ms > now_ms) {
		*retry_ms = started + p->pending_ms - now_ms;
		return false;
	}
	if (n >= p->give_up_crashes)
		return false;
	if (!*flapping)
		return true;
	uint64_t delay = p->backoff_min_ms;
	for (int64_t k = p->flap_crashes; k < n && delay < p->backoff_max_ms; k++)
		delay *= 2;
	if (delay > p->backoff_max_ms)
		delay = p->backoff_max_ms;
	if (last + delay > now_ms) {
		*retry_ms = last + delay - now_ms;
		return false;
	}
	return true;
}

void hm_decide(const char *guid, const json_t *desired, const struct actual *act, struct hm_history *h,
	       const struct hm_policy *p, uint64_t now_ms, struct hm_decision *out)
{
	*out = (struct hm_decision){ .start = json_array(), .stop = json_array(), .flapping = json_array() };
	const char *version = json_string_value(json_object_get(desired, "version"));
	const char *state = json_string_value(json_object_get(desired, "state"));
	const char *pkg = json_string_value(json_object_get(desired, "package_state"));
	bool started = state && !strcmp(state, "STARTED");
	bool running = started && version && pkg && !strcmp(pkg, "STAGED");
	if (started && !running)
		return; /* new bits being staged (or failed to): what runs now serves until they run */
	int64_t want = running ? json_integer_value(json_object_get(desired, "instances")) : 0;
	struct live l = {
		.list = json_array(), .act = act, .version = running ? version : NULL, .want = want
	};
	actual_each(act, guid, live_one, &l);

	json_t *i;
	size_t k;
	json_array_foreach (l.list, k, i)
		if (live_extra(l.list, i, running ? version : NULL, want))
			json_array_append(out->stop, json_object_get(i, "instance"));
	for (int64_t index = 0; index < want; index++) {
		if (actual_index_live(act, guid, version, index))
			continue;
		bool flapping = false;
		uint64_t retry = 0;
		if (may_start(h, p, guid, version, index, now_ms, &flapping, &retry))
			json_array_append_new(out->start, json_integer(index));
		if (flapping)
			json_array_append_new(out->flapping, json_integer(index));
		if (retry && (!out->retry_ms || retry < out->retry_ms))
			out->retry_ms = retry;
	}
	json_decref(l.list);
}
