/* SPDX-License-Identifier: MIT */
/*
 * The health manager's decisions for one app (issue #10, DESIGN.md section 10), pure logic:
 * given what the controller wants (the app as GET /v1/internal/desired gives it), what the DEAs
 * run (controller/actual.h, fed by heartbeats) and this index's history (crashes, starts asked
 * for), say which indices to START and which instances to STOP. Unit tested in
 * tests/unit/healthd/test-decide.c.
 *
 *   - STARTED and STAGED: every index below `instances` with no STARTING or RUNNING instance of
 *     the current version is started, unless a start of it was asked for less than
 *     pending_ms ago, or it is flapping and its back-off has not passed, or it gave up;
 *   - instances at an index >= `instances`, a second live instance of an index of the current
 *     version (the oldest is kept), an instance of another version once the current version's
 *     instance at its index is RUNNING (a rolling replacement, actual_superseded), and every live
 *     instance of an app that is not STARTED or not wanted at all, are stopped;
 *   - STARTED but not STAGED (new bits being staged, or their staging failed): nothing, so the
 *     instances of the last good droplet keep serving.
 *
 * Flapping: an index that crashed `flap_crashes` times within `flap_window_ms` is FLAPPING; its
 * next start waits backoff_min_ms, doubling with each further crash up to backoff_max_ms; after
 * `give_up_crashes` crashes within the window it is not started again until the app changes
 * version (a restart or new bits reset the history, as does a crash-free window).
 */
#ifndef DEW_HEALTHD_DECIDE_H
#define DEW_HEALTHD_DECIDE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "actual.h"

struct hm_policy {
	uint64_t pending_ms;	 /* a START asked for is not repeated for this long */
	uint64_t flap_window_ms; /* crashes count within this window */
	int64_t flap_crashes;	 /* crashes in the window that make an index FLAPPING */
	int64_t give_up_crashes; /* crashes in the window after which it is not restarted */
	uint64_t backoff_min_ms; /* first delay of a FLAPPING index */
	uint64_t backoff_max_ms; /* longest delay */
};

/* The history of every index of every app: {guid: {version, indices: {"i": {...}}}}. */
struct hm_history;
struct hm_history *hm_history_new(void);
void hm_history_free(struct hm_history *h);
/* A crash of index of guid at version (droplet.exited, reason CRASHED) at now_ms. */
void hm_history_crash(struct hm_history *h, const char *guid, const char *version, int64_t index,
		      uint64_t now_ms);
/* A START of index was asked for at now_ms. */
void hm_history_started(struct hm_history *h, const char *guid, const char *version, int64_t index,
			uint64_t now_ms);
/* Forget an app (it is gone from the desired state). */
void hm_history_forget(struct hm_history *h, const char *guid);
/* Is index FLAPPING (crashes in the window >= flap_crashes)? The crash count in *crashes. */
bool hm_history_flapping(struct hm_history *h, const struct hm_policy *p, const char *guid,
			 const char *version, int64_t index, uint64_t now_ms, int64_t *crashes);

/* What to do for one app. */
struct hm_decision {
	json_t *start;	   /* [index] */
	json_t *stop;	   /* [instance id] */
	json_t *flapping;  /* [index] FLAPPING now (delayed or given up) */
	uint64_t retry_ms; /* > 0: a delayed start is due in this many ms */
};
void hm_decision_clear(struct hm_decision *d);

/*
 * Decide for app guid: desired is its entry of GET /v1/internal/desired ({droplet, version,
 * state, package_state, instances, ...}) or NULL when the controller no longer has it.
 */
void hm_decide(const char *guid, const json_t *desired, const struct actual *act, struct hm_history *h,
	       const struct hm_policy *p, uint64_t now_ms, struct hm_decision *out);

#endif
