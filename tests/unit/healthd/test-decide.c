// SPDX-License-Identifier: MIT
/*
 * Unit tests of healthd/decide.h: missing indices are started, extras (other versions, indices
 * beyond the count, a second instance of an index: the newest, everything of a stopped or
 * unknown app) are stopped, a START is not repeated while pending, a crash lets the index start
 * at once, FLAPPING indices back off exponentially and give up, and a new version resets them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actual.h"
#include "alloc.h"
#include "decide.h"
#include "json.h"
#include "tap.h"

#define APP "6f1c1c7e-3c1b-4a4e-9a57-0d0c2f7b1e11"

static const struct hm_policy policy = {
	.pending_ms = 1000,
	.flap_window_ms = 60000,
	.flap_crashes = 2,
	.give_up_crashes = 4,
	.backoff_min_ms = 100,
	.backoff_max_ms = 250,
};

static json_t *desired(const char *state, const char *version, int instances)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "droplet", APP, "version", version, "state", state,
			 "package_state", "STAGED", "instances", instances, "last_updated", 1);
}

static void heartbeat(struct actual *a, const char *droplets)
{
	cleanup_free char *text = xasprintf("{\"dea\":\"d1\",\"droplets\":[%s]}", droplets);
	json_auto_t *j = dew_json_parse(text, strlen(text), NULL);
	if (!j || actual_heartbeat(a, j, 0, NULL, NULL) < 0)
		abort();
}

#define INST(v, id, idx, st, since)                                                                          \
	"{\"droplet\":\"" APP "\",\"version\":\"" v "\",\"instance\":\"" id "\",\"index\":" #idx             \
	",\"state\":\"" st "\",\"state_timestamp\":" #since "}"

/* The decision as text: "start=[..] stop=[..] flapping=[..]". */
static char *decide_text(const json_t *want, struct actual *a, struct hm_history *h, uint64_t now)
{
	struct hm_decision d;
	hm_decide(APP, want, a, h, &policy, now, &d);
	cleanup_free char *s1 = dew_json_dumps(d.start), *s2 = dew_json_dumps(d.stop),
			  *s3 = dew_json_dumps(d.flapping);
	char *out = xasprintf("start=%s stop=%s flapping=%s", s1, s2, s3);
	hm_decision_clear(&d);
	return out;
}

#define CHECK(want, act, hist, now, expect, what)                                                            \
	do {                                                                                                 \
		cleanup_free char *got = decide_text(want, act, hist, now);                                  \
		tap_is_str(got, expect, "%s", what);                                                         \
	} while (0)

static void test_start_and_stop(void)
{
	struct actual *a = actual_new();
	struct hm_history *h = hm_history_new();
	json_auto_t *want = desired("STARTED", "v2", 2);
	heartbeat(a, INST("v2", "a", 0, "RUNNING", 1) "," INST("v1", "old", 1, "RUNNING", 1) "," INST(
			     "v2", "extra", 5, "RUNNING", 1) "," INST("v2", "dup", 0, "STARTING", 2));
	CHECK(want, a, h, 10000, "start=[1] stop=[\"extra\",\"dup\"] flapping=[]",
	      "index 1 started; index 5 and the newer duplicate of 0 stopped; the old version of 1 kept");
	hm_history_started(h, APP, "v2", 1, 10000);
	CHECK(want, a, h, 10500, "start=[] stop=[\"extra\",\"dup\"] flapping=[]",
	      "a START is not repeated while pending");
	CHECK(want, a, h, 11001, "start=[1] stop=[\"extra\",\"dup\"] flapping=[]",
	      "but again once it expired");
	json_auto_t *stopped = desired("STOPPED", "v2", 2);
	CHECK(stopped, a, h, 12000, "start=[] stop=[\"a\",\"old\",\"extra\",\"dup\"] flapping=[]",
	      "a STOPPED app: every live instance stopped");
	CHECK(NULL, a, h, 12000, "start=[] stop=[\"a\",\"old\",\"extra\",\"dup\"] flapping=[]",
	      "an app the controller does not have: the same");
	hm_history_free(h);
	actual_free(a);
}

/* A rolling replacement: an old version's instance stops once its successor is RUNNING. */
static void test_rolling(void)
{
	struct actual *a = actual_new();
	struct hm_history *h = hm_history_new();
	json_auto_t *want = desired("STARTED", "v2", 2);
	heartbeat(a, INST("v1", "old0", 0, "RUNNING", 1) "," INST("v1", "old1", 1, "RUNNING", 1) "," INST(
			     "v1", "old2", 2, "RUNNING", 1) "," INST("v2", "new0", 0, "STARTING", 2));
	CHECK(want, a, h, 10000, "start=[1] stop=[\"old2\"] flapping=[]",
	      "old instances wait for their successors; one beyond the count stops at once");
	heartbeat(a, INST("v1", "old0", 0, "RUNNING", 1) "," INST("v1", "old1", 1, "RUNNING", 1) "," INST(
			     "v2", "new0", 0, "RUNNING", 2) "," INST("v2", "new1", 1, "STARTING", 3));
	CHECK(want, a, h, 10000, "start=[] stop=[\"old0\"] flapping=[]",
	      "index 0's successor runs: its old instance stops; index 1's still starts");
	json_auto_t *staging =
		json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "droplet", APP, "version", "v3", "state",
			  "STARTED", "package_state", "PENDING", "instances", 1, "last_updated", 2);
	CHECK(staging, a, h, 10000, "start=[] stop=[] flapping=[]",
	      "new bits being staged: nothing stopped, nothing started");
	json_object_set_new(staging, "package_state", json_string("FAILED"));
	CHECK(staging, a, h, 10000, "start=[] stop=[] flapping=[]",
	      "their staging failed: the last good instances keep serving");
	hm_history_free(h);
	actual_free(a);
}

static void test_flapping(void)
{
	struct actual *a = actual_new();
	struct hm_history *h = hm_history_new();
	json_auto_t *want = desired("STARTED", "v1", 1);
	heartbeat(a, "");
	hm_history_started(h, APP, "v1", 0, 0);
	hm_history_crash(h, APP, "v1", 0, 100);
	CHECK(want, a, h, 100, "start=[0] stop=[] flapping=[]", "a crash: the index starts again at once");
	hm_history_crash(h, APP, "v1", 0, 200);
	CHECK(want, a, h, 250, "start=[] stop=[] flapping=[0]", "two crashes: FLAPPING, waiting backoff_min");
	CHECK(want, a, h, 300, "start=[0] stop=[] flapping=[0]", "started once backoff_min passed");
	hm_history_crash(h, APP, "v1", 0, 400);
	CHECK(want, a, h, 550, "start=[] stop=[] flapping=[0]", "three crashes: the delay doubled (200 ms)");
	CHECK(want, a, h, 600, "start=[0] stop=[] flapping=[0]", "started after 200 ms");
	hm_history_crash(h, APP, "v1", 0, 700);
	CHECK(want, a, h, 5000, "start=[] stop=[] flapping=[0]", "four crashes (give_up_crashes): given up");
	int64_t n = 0;
	tap_ok(hm_history_flapping(h, &policy, APP, "v1", 0, 5000, &n) && n == 4, "flapping with 4 crashes");
	CHECK(want, a, h, 61000, "start=[0] stop=[] flapping=[]",
	      "once its crashes aged out of the window it is no longer flapping and starts again");
	json_auto_t *next = desired("STARTED", "v2", 1);
	hm_history_crash(h, APP, "v1", 0, 62000);
	CHECK(next, a, h, 62000, "start=[0] stop=[] flapping=[]", "a new version starts a new history");
	hm_history_free(h);
	actual_free(a);
}

int main(void)
{
	test_start_and_stop();
	test_rolling();
	test_flapping();
	return tap_done();
}
