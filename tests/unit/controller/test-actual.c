// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/actual.h: a heartbeat replaces what its DEA said before, malformed ones
 * are refused whole and change nothing, noted starts count until the next heartbeat, silent DEAs
 * expire, counts by version, state and index, other versions and extra indices, and crash records
 * (only CRASHED exits, newest first, bounded per app, forgotten with the app).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actual.h"
#include "alloc.h"
#include "json.h"
#include "tap.h"

#define APP "6f1c1c7e-3c1b-4a4e-9a57-0d0c2f7b1e11"

static int feed(struct actual *a, const char *text, uint64_t now, char **msg)
{
	struct dew_error *err = NULL;
	json_auto_t *j = dew_json_parse(text, strlen(text), &err);
	int r = j ? actual_heartbeat(a, j, now, NULL, &err) : -EINVAL;
	if (msg)
		*msg = err ? xstrdup(err->msg) : NULL;
	dew_error_free(err);
	return r;
}

static int exited(struct actual *a, const char *text)
{
	json_auto_t *j = dew_json_parse(text, strlen(text), NULL);
	return j ? actual_exited(a, j, NULL) : -EINVAL;
}

#define INST(v, id, idx, st)                                                                                 \
	"{\"droplet\":\"" APP "\",\"version\":\"" v "\",\"instance\":\"" id "\",\"index\":" #idx             \
	",\"state\":\"" st "\",\"state_timestamp\":1.5}"

static void test_heartbeats(void)
{
	struct actual *a = actual_new();
	tap_is_int(feed(a,
			"{\"dea\":\"d1\",\"droplets\":[" INST("v1", "i1", 0, "RUNNING") "," INST(
				"v1", "i2", 1, "STARTING") "]}",
			10, NULL),
		   0, "a heartbeat is taken");
	tap_is_int((int)actual_count(a, APP, "v1", ACTUAL_LIVE), 2, "two live instances of v1");
	tap_is_int((int)actual_count(a, APP, NULL, 1u << ACTUAL_RUNNING), 1, "one RUNNING");
	tap_ok(actual_index_live(a, APP, "v1", 1), "index 1 is live");
	tap_ok(!actual_index_live(a, APP, "v2", 1), "not at version v2");
	tap_is_int(feed(a, "{\"dea\":\"d1\",\"droplets\":[" INST("v1", "i1", 0, "CRASHED") "]}", 20, NULL), 0,
		   "the next heartbeat of d1");
	tap_is_int((int)actual_count(a, APP, NULL, ACTUAL_LIVE), 0, "it replaced the first: nothing live");
	tap_is_int((int)actual_total(a), 1, "one instance known");

	static const char *const bad[] = {
		"{\"droplets\":[]}",
		"{\"dea\":\"d1\"}",
		"{\"dea\":\"../x\",\"droplets\":[]}",
		"{\"dea\":\"d1\",\"droplets\":[" INST("v1", "i1", 0, "BOGUS") "]}",
		"{\"dea\":\"d1\",\"droplets\":[" INST("v1", "i1", -1, "RUNNING") "]}",
		"{\"dea\":\"d1\",\"droplets\":[" INST("v1", "i1", 0, "RUNNING") ", 5]}",
		"{\"dea\":\"d1\",\"droplets\":[{\"droplet\":\"" APP
		"\",\"version\":\"v\",\"instance\":\"i\",\"index\":0,"
		"\"state\":\"RUNNING\",\"state_timestamp\":\"now\"}]}",
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(bad); i++) {
		cleanup_free char *msg = NULL;
		int r = feed(a, bad[i], 30, &msg);
		tap_is_int(r, -EINVAL, "malformed heartbeat %zu refused: %s", i, msg ? msg : "?");
	}
	tap_is_int((int)actual_total(a), 1, "the refused heartbeats changed nothing");
	actual_free(a);
}

static void test_notes_and_expiry(void)
{
	struct actual *a = actual_new();
	actual_note_start(a, "d2", APP, "v2", "i9", 3, 1.0);
	tap_ok(actual_index_live(a, APP, "v2", 3), "a noted start is live at once");
	feed(a, "{\"dea\":\"d2\",\"droplets\":[]}", 100, NULL);
	tap_ok(!actual_index_live(a, APP, "v2", 3), "the DEA's next heartbeat replaces the note");
	feed(a, "{\"dea\":\"d3\",\"droplets\":[" INST("v2", "i3", 0, "RUNNING") "]}", 1000, NULL);
	actual_expire(a, 1100, 500, NULL);
	tap_is_int((int)actual_total(a), 1, "d3 is kept within the TTL");
	json_auto_t *gone = json_array();
	actual_expire(a, 2000, 500, gone);
	tap_is_int((int)actual_total(a), 0, "and forgotten after it");
	tap_is_int((int)json_array_size(gone), 1, "one DEA expired");
	tap_is_str(json_string_value(json_array_get(gone, 0)), "d3", "its id is given");
	actual_free(a);
}

static void test_forget_and_mark(void)
{
	struct actual *a = actual_new();
	feed(a,
	     "{\"dea\":\"d1\",\"droplets\":[" INST("v1", "a", 0, "RUNNING") "," INST("v1", "b", 1,
										     "RUNNING") "]}",
	     1, NULL);
	feed(a, "{\"dea\":\"d2\",\"droplets\":[" INST("v1", "c", 2, "RUNNING") "]}", 1, NULL);
	json_auto_t *ids = json_pack("{s:b, s:b, s:b}", "a", 1, "c", 1, "zz", 1);
	tap_is_int((int)actual_dea_mark(a, "d1", ids, ACTUAL_STOPPING), 1,
		   "mark: only the named DEA's instances that are in the set");
	tap_ok(!actual_index_live(a, APP, "v1", 0), "a marked instance is STOPPING");
	tap_ok(actual_index_live(a, APP, "v1", 1) && actual_index_live(a, APP, "v1", 2),
	       "the others keep their state (c is on another DEA)");
	tap_is_int((int)actual_dea_mark(a, "d9", ids, ACTUAL_STOPPING), 0,
		   "mark: an unknown DEA reports none");
	tap_ok(actual_forget_dea(a, "d1"), "forget a known DEA");
	tap_ok(!actual_forget_dea(a, "d1"), "and it is unknown after");
	tap_is_int((int)actual_total(a), 1, "its instances went with it, the other DEA's stay");
	actual_free(a);
}

static void test_versions_and_indices(void)
{
	struct actual *a = actual_new();
	feed(a,
	     "{\"dea\":\"d1\",\"droplets\":[" INST("v1", "a", 0, "RUNNING") "," INST(
		     "v2", "b", 0, "STARTING") "," INST("v2", "c", 3, "RUNNING") "," INST("v3", "d", 1,
											  "CRASHED") "]}",
	     1, NULL);
	char **other = actual_other_versions(a, APP, "v2");
	tap_ok(other[0] && !strcmp(other[0], "v1") && !other[1], "other live versions than v2: v1 only");
	dew_strv_free(other);
	json_auto_t *extra = actual_live_indices_from(a, APP, 1);
	cleanup_free char *s = dew_json_dumps(extra);
	tap_is_str(s, "[3]", "live indices from 1: 3 (the crashed index 1 is not live)");
	tap_is_int((int)actual_each(a, "someone-else", NULL, NULL), 0, "another app has no instances");
	actual_free(a);
}

/* A heartbeat's text with the risen droplets' keys as "a,b". */
static char *risen_after(struct actual *a, const char *text)
{
	json_auto_t *j = dew_json_parse(text, strlen(text), NULL);
	json_auto_t *risen = json_object();
	if (!j || actual_heartbeat(a, j, 1, risen, NULL) < 0)
		return xstrdup("(refused)");
	char *out = xstrdup("");
	const char *k;
	json_t *v;
	json_object_foreach (risen, k, v) {
		char *t = xasprintf("%s%s%s", out, *out ? "," : "", k);
		free(out);
		out = t;
	}
	return out;
}

static void test_rolling(void)
{
	struct actual *a = actual_new();
	cleanup_free char *r1 =
		risen_after(a, "{\"dea\":\"d1\",\"droplets\":[" INST("v1", "o0", 0, "RUNNING") "," INST(
				       "v1", "o1", 1, "RUNNING") "," INST("v2", "n0", 0, "STARTING") "]}");
	tap_is_str(r1, APP, "a DEA's first heartbeat: its RUNNING instances have risen");
	json_auto_t *none = actual_superseded_ids(a, APP, "v2", 2);
	tap_is_int((int)json_array_size(none), 0, "no successor runs yet: no old instance may stop");
	json_auto_t *shrunk = actual_superseded_ids(a, APP, "v2", 1);
	tap_ok(json_array_size(shrunk) == 1 && !strcmp(json_string_value(json_array_get(shrunk, 0)), "o1"),
	       "an old instance beyond the count may stop at once");
	cleanup_free char *r2 =
		risen_after(a, "{\"dea\":\"d1\",\"droplets\":[" INST("v1", "o0", 0, "RUNNING") "," INST(
				       "v1", "o1", 1, "RUNNING") "," INST("v2", "n0", 0, "RUNNING") "]}");
	tap_is_str(r2, APP, "n0 became RUNNING: its app has risen");
	cleanup_free char *r3 =
		risen_after(a, "{\"dea\":\"d1\",\"droplets\":[" INST("v1", "o0", 0, "RUNNING") "," INST(
				       "v1", "o1", 1, "RUNNING") "," INST("v2", "n0", 0, "RUNNING") "]}");
	tap_is_str(r3, "", "the same heartbeat again: nothing has risen");
	json_auto_t *one = actual_superseded_ids(a, APP, "v2", 2);
	tap_ok(json_array_size(one) == 1 && !strcmp(json_string_value(json_array_get(one, 0)), "o0"),
	       "index 0's successor runs: only its old instance may stop");
	json_auto_t *mine = actual_superseded_ids(a, APP, "v1", 2);
	tap_ok(json_array_size(mine) == 1 && !strcmp(json_string_value(json_array_get(mine, 0)), "n0"),
	       "with v1 wanted again (a rollback): v2's instance at an index v1 runs may stop, v1's none");
	actual_free(a);
}

static void test_crashes(void)
{
	struct actual *a = actual_new();
	tap_is_int(exited(a, "{\"droplet\":\"" APP "\",\"version\":\"v1\",\"instance\":\"i1\",\"index\":0,"
			     "\"reason\":\"STOPPED\",\"exit_status\":0}"),
		   0, "a STOPPED exit is taken");
	json_auto_t *none = actual_crashes(a, APP);
	tap_is_int((int)json_array_size(none), 0, "but is no crash");
	for (int i = 0; i < ACTUAL_CRASHES_PER_APP + 5; i++) {
		cleanup_free char *m = xasprintf(
			"{\"droplet\":\"" APP "\",\"version\":\"v1\",\"instance\":\"i%d\",\"index\":%d,"
			"\"reason\":\"CRASHED\",\"exit_status\":137,\"exit_description\":\"out of memory\","
			"\"crash_timestamp\":%d.5,\"log_tail\":[\"err: boom\", 7]}",
			i, i % 2, i);
		exited(a, m);
	}
	json_auto_t *list = actual_crashes(a, APP);
	tap_is_int((int)json_array_size(list), ACTUAL_CRASHES_PER_APP, "crash records are bounded per app");
	tap_is_str(json_string_value(json_object_get(json_array_get(list, 0), "instance")), "i24",
		   "newest first");
	cleanup_free char *tail = dew_json_dumps(json_object_get(json_array_get(list, 0), "log_tail"));
	tap_is_str(tail, "[\"err: boom\"]", "the log tail keeps its strings only");
	const json_t *last = actual_last_crash(a, APP, "v1", 1);
	tap_is_str(json_string_value(json_object_get(last, "instance")), "i23", "the last crash of index 1");
	tap_ok(!actual_last_crash(a, APP, "v9", 1), "none at another version");
	tap_is_int(exited(a, "{\"droplet\":\"" APP "\",\"reason\":\"CRASHED\"}"), -EINVAL,
		   "a malformed exit is refused");
	actual_forget_app(a, APP);
	json_auto_t *gone = actual_crashes(a, APP);
	tap_is_int((int)json_array_size(gone), 0, "forgotten with the app");
	actual_free(a);
}

int main(void)
{
	test_heartbeats();
	test_notes_and_expiry();
	test_forget_and_mark();
	test_versions_and_indices();
	test_rolling();
	test_crashes();
	return tap_done();
}
