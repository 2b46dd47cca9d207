/* SPDX-License-Identifier: MIT */
/*
 * The health manager's start queue (issue #10): every START decided goes through it, under the
 * rate limit (starts_per_second). It is served by priority, then first come first served: the
 * indices of a DEA that is evacuating (droplet.exited DEA_EVACUATION: it is about to stop them)
 * first, then those that crashed or whose DEA shut down, then those a sweep or a lost DEA found.
 * An index is queued once; queued again at a higher priority, it moves up. Pure logic, unit tested
 * in tests/unit/healthd/test-queue.c.
 */
#ifndef DEW_HEALTHD_QUEUE_H
#define DEW_HEALTHD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hm_priority {
	HM_PRIO_EVACUATION, /* its DEA is draining: it still serves, but not for long */
	HM_PRIO_CRASH,	    /* it ended on its own (crashed, or its DEA shut down) */
	HM_PRIO_SWEEP,	    /* found missing by a sweep or with a lost DEA */
	HM_N_PRIOS,
};
extern const char *const hm_priority_names[HM_N_PRIOS];

/* The priority a droplet.exited reason gives to restarting the index; HM_PRIO_SWEEP for an
 * unknown reason or a requested stop. */
enum hm_priority hm_priority_of_reason(const char *reason);

struct hm_queue;
struct hm_queue *hm_queue_new(void);
void hm_queue_free(struct hm_queue *q);

/* Queue a start of guid's index at prio. True when it was not queued before; one already queued
 * at a lower priority moves to the end of prio's line. */
bool hm_queue_push(struct hm_queue *q, const char *guid, int64_t index, enum hm_priority prio);
/* Take the next start: highest priority first, in arrival order within one. False when empty;
 * else *guid is the caller's to free. */
bool hm_queue_pop(struct hm_queue *q, char **guid, int64_t *index, enum hm_priority *prio);
/* Is guid's index queued? */
bool hm_queue_has(const struct hm_queue *q, const char *guid, int64_t index);
/* Drop guid's queued starts (the app is gone or changed); how many went. */
size_t hm_queue_forget(struct hm_queue *q, const char *guid);
size_t hm_queue_len(const struct hm_queue *q);

#endif
