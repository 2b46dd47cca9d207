/* SPDX-License-Identifier: MIT */
/*
 * What the DEAs run, as the controller hears it (DESIGN.md section 5.1): every dea.heartbeat
 * {dea, droplets: [{droplet, version, instance, index, state, state_timestamp}]} replaces what
 * that DEA said before; a DEA silent for the advertise TTL is forgotten; a start the controller
 * saw accepted counts as STARTING on that DEA until the DEA's next heartbeat. Crash reports
 * (droplet.exited with reason CRASHED) are kept per app, the newest ACTUAL_CRASHES_PER_APP of
 * them, for ACTUAL_CRASH_APPS apps at most (the app heard from least recently goes first).
 * Pure logic: no I/O, no loop; unit tested in tests/unit/controller/test-actual.c.
 */
#ifndef DEW_CONTROLLER_ACTUAL_H
#define DEW_CONTROLLER_ACTUAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
	ACTUAL_CRASHES_PER_APP = 20,
	ACTUAL_CRASH_APPS = 10000,
	ACTUAL_DEAS_MAX = 4096,
	ACTUAL_INSTANCES_PER_DEA = 10000,
};

/* Instance states as the DEA names them. */
enum actual_state {
	ACTUAL_STARTING,
	ACTUAL_RUNNING,
	ACTUAL_STOPPING,
	ACTUAL_STOPPED,
	ACTUAL_CRASHED,
	ACTUAL_DELETED,
	ACTUAL_N_STATES,
};
extern const char *const actual_state_names[ACTUAL_N_STATES];

struct actual_instance {
	const char *dea;
	const char *droplet, *version, *instance;
	int64_t index;
	enum actual_state state;
	double since; /* Unix seconds */
};

struct actual;

/* An id as the DEAs' messages carry them (app, version, instance): 1-64 of [A-Za-z0-9_.-], not
 * starting with '.'; NULL is not. */
bool actual_id_ok(const char *s);

struct actual *actual_new(void);
void actual_free(struct actual *a);

/* Take a heartbeat received at now_ms. A malformed one is -EINVAL with *err naming the field and
 * changes nothing; a new DEA beyond ACTUAL_DEAS_MAX is -ENOSPC. risen (may be NULL) gets a key
 * for the droplet of each instance that is RUNNING now and was not in that DEA's last view. */
int actual_heartbeat(struct actual *a, const json_t *msg, uint64_t now_ms, json_t *risen,
		     struct dew_error **err);
/* A start accepted by dea: STARTING until that DEA's next heartbeat. */
void actual_note_start(struct actual *a, const char *dea, const char *droplet, const char *version,
		       const char *instance, int64_t index, double now);
/* Forget DEAs not heard from since now_ms - ttl_ms; returns how many were forgotten. Their ids are
 * appended to gone when it is not NULL (a JSON array). */
size_t actual_expire(struct actual *a, uint64_t now_ms, uint64_t ttl_ms, json_t *gone);
/* Forget one DEA and its instances (the health manager found it lost); false when unknown. */
bool actual_forget_dea(struct actual *a, const char *dea);
/* Give state to every instance dea reports whose id is a key of ids (a JSON object), until that
 * DEA's next heartbeat; returns how many it reports. */
size_t actual_dea_mark(struct actual *a, const char *dea, const json_t *ids, enum actual_state state);
/* The instance ended (droplet.exited): state until its DEA's next heartbeat says otherwise.
 * False when no DEA reported it. */
bool actual_set_state(struct actual *a, const char *instance, enum actual_state state);

/* Call fn for every instance of droplet (all DEAs); returns how many there were. */
typedef void (*actual_fn)(const struct actual_instance *inst, void *data);
size_t actual_each(const struct actual *a, const char *droplet, actual_fn fn, void *data);
/* Instances of droplet at version (NULL: any) whose state is in mask (bits 1 << state). */
size_t actual_count(const struct actual *a, const char *droplet, const char *version, unsigned mask);
#define ACTUAL_LIVE ((1u << ACTUAL_STARTING) | (1u << ACTUAL_RUNNING))
/* Is index of droplet at version STARTING or RUNNING somewhere? */
bool actual_index_live(const struct actual *a, const char *droplet, const char *version, int64_t index);
/* The versions of droplet that have STARTING or RUNNING instances, other than keep (NULL-terminated,
 * dew_strv_free). */
char **actual_other_versions(const struct actual *a, const char *droplet, const char *keep);
/*
 * A rolling replacement: may inst, STARTING or RUNNING at a version other than version, stop? Yes
 * when its index is not below instances, or when version has a RUNNING instance at its index;
 * no while its successor is not running yet (so the old one keeps serving). false for an
 * instance of version itself or one not live.
 */
bool actual_superseded(const struct actual *a, const struct actual_instance *inst, const char *version,
		       int64_t instances);
/* The ids of droplet's instances actual_superseded lets stop, as a JSON array. */
json_t *actual_superseded_ids(const struct actual *a, const char *droplet, const char *version,
			      int64_t instances);
/* Indices >= from of droplet (any version) that are STARTING or RUNNING, as a JSON array. */
json_t *actual_live_indices_from(const struct actual *a, const char *droplet, int64_t from);
size_t actual_total(const struct actual *a);

/* Take a droplet.exited message: a CRASHED one is kept as a crash record. -EINVAL with *err when
 * malformed. */
int actual_exited(struct actual *a, const json_t *msg, struct dew_error **err);
/* The crash records of droplet, newest first: [{instance, index, version, exit_status,
 * exit_description, since, dea, log_tail?}] (a new reference; [] when none). */
json_t *actual_crashes(const struct actual *a, const char *droplet);
/* The newest crash record of droplet's index at version (borrowed), or NULL. */
const json_t *actual_last_crash(const struct actual *a, const char *droplet, const char *version,
				int64_t index);
/* Forget droplet's crash records (the app was deleted). */
void actual_forget_app(struct actual *a, const char *droplet);

#endif
