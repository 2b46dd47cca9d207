// SPDX-License-Identifier: MIT
/*
 * Unit tests of healthd/queue.h: starts come out by priority (evacuation, crash, sweep) and in
 * arrival order within one, an index is queued once and moves up when queued again at a higher
 * priority, an app's starts can be dropped, and exit reasons map to their priorities.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "queue.h"
#include "tap.h"

/* Everything queued, in the order it comes out: "guid/index:priority ...". */
static char *drain(struct hm_queue *q)
{
	char *out = xstrdup("");
	char *guid;
	int64_t index;
	enum hm_priority prio;
	while (hm_queue_pop(q, &guid, &index, &prio)) {
		char *next = xasprintf("%s%s%s/%lld:%s", out, *out ? " " : "", guid, (long long)index,
				       hm_priority_names[prio]);
		free(out);
		free(guid);
		out = next;
	}
	return out;
}

static void test_order(void)
{
	struct hm_queue *q = hm_queue_new();
	tap_ok(hm_queue_push(q, "a", 0, HM_PRIO_SWEEP), "a/0 queued");
	tap_ok(hm_queue_push(q, "a", 1, HM_PRIO_SWEEP), "a/1 queued");
	tap_ok(hm_queue_push(q, "b", 0, HM_PRIO_CRASH), "b/0 queued");
	tap_ok(hm_queue_push(q, "c", 2, HM_PRIO_EVACUATION), "c/2 queued");
	tap_ok(!hm_queue_push(q, "a", 1, HM_PRIO_SWEEP), "a/1 again: not queued twice");
	tap_ok(!hm_queue_push(q, "b", 0, HM_PRIO_SWEEP), "b/0 at a lower priority: stays where it is");
	tap_ok(!hm_queue_push(q, "a", 0, HM_PRIO_EVACUATION), "a/0 at a higher priority: not new");
	tap_is_int((int)hm_queue_len(q), 4, "four starts queued");
	tap_ok(hm_queue_has(q, "a", 1) && !hm_queue_has(q, "a", 2), "has: a/1 yes, a/2 no");
	cleanup_free char *order = drain(q);
	tap_is_str(order, "c/2:evacuation a/0:evacuation b/0:crash a/1:sweep",
		   "evacuations first (in arrival order), then crashes, then sweep findings");
	tap_is_int((int)hm_queue_len(q), 0, "empty after");
	char *guid = NULL;
	int64_t index;
	enum hm_priority prio;
	tap_ok(!hm_queue_pop(q, &guid, &index, &prio), "pop of an empty queue: false");
	tap_ok(hm_queue_push(q, "a", 0, HM_PRIO_SWEEP), "a popped index can be queued again");
	hm_queue_free(q);
}

static void test_forget(void)
{
	struct hm_queue *q = hm_queue_new();
	hm_queue_push(q, "a", 0, HM_PRIO_SWEEP);
	hm_queue_push(q, "b", 0, HM_PRIO_SWEEP);
	hm_queue_push(q, "a", 1, HM_PRIO_CRASH);
	hm_queue_push(q, "a", 2, HM_PRIO_EVACUATION);
	tap_is_int((int)hm_queue_forget(q, "a"), 3, "forget a: its three starts go");
	tap_is_int((int)hm_queue_forget(q, "zz"), 0, "forget an app with nothing queued: none");
	cleanup_free char *order = drain(q);
	tap_is_str(order, "b/0:sweep", "b's start stays");
	hm_queue_free(q);
}

static void test_reasons(void)
{
	tap_is_str(hm_priority_names[hm_priority_of_reason("DEA_EVACUATION")], "evacuation",
		   "DEA_EVACUATION: evacuation");
	tap_is_str(hm_priority_names[hm_priority_of_reason("CRASHED")], "crash", "CRASHED: crash");
	tap_is_str(hm_priority_names[hm_priority_of_reason("DEA_SHUTDOWN")], "crash", "DEA_SHUTDOWN: crash");
	tap_is_str(hm_priority_names[hm_priority_of_reason("STOPPED")], "sweep", "STOPPED: sweep");
	tap_is_str(hm_priority_names[hm_priority_of_reason(NULL)], "sweep", "no reason: sweep");
}

int main(void)
{
	test_order();
	test_forget();
	test_reasons();
	return tap_done();
}
