/* SPDX-License-Identifier: MIT */
/*
 * dew-healthd's context (issue #10, DESIGN.md section 10), shared by its files:
 *
 *   main.c     options, config, start-up, /metrics
 *   desired.c  GET /v1/internal/desired (signed) from the controller, on the thread pool
 *   watch.c    the bus: dea.heartbeat, droplet.exited, droplet.updated; the sweep; lost and
 *              evacuating DEAs; acting on decide.h's decisions with cloudcontrollers.hm.requests
 *   starts.c   the starts decided, through the priority queue (queue.h) under the rate limit
 *   health.c   healthmanager.health: running counts for whoever asks
 *   leader.c   which of several healthd acts (healthmanager.leader announcements)
 * and decide.h, queue.h (pure logic, unit tested). What the DEAs run is kept with the controller's own
 * view (controller/actual.h), linked from libcontroller.
 *
 * Several dew-healthd may run; one leads and acts (leader.c), the others keep their view
 * current and stand by.
 */
#ifndef DEW_HEALTHD_H
#define DEW_HEALTHD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus-client.h"
#include "daemon.h"
#include "decide.h"
#include "queue.h"

struct actual;

struct hm_config {
	struct dew_daemon_core core;
	char *controller_url;
	char *internal_secret;
	uint64_t heartbeat_interval_ms; /* the DEAs': a DEA silent for 3 of them is lost */
	uint64_t desired_interval_ms;
	uint64_t settle_ms; /* no decision for an app this long after it changed */
	uint64_t sweep_ms;
	int64_t starts_per_second;
	struct hm_policy policy;
	uint64_t pending_ms, flap_window_ms, backoff_min_ms, backoff_max_ms;
	int64_t flap_crashes, give_up_crashes;
};

struct hm_counters {
	uint64_t heartbeats, exits, crashes, bad_messages, updates;
	uint64_t starts, stops, rate_limited, lost_deas;
	uint64_t desired_reads, desired_failures;
	uint64_t evacuations;			  /* droplet.exited DEA_EVACUATION taken */
	uint64_t prio_starts[HM_N_PRIOS];	  /* starts asked for, by the priority they went at */
	uint64_t stops_held;			  /* STOPs not repeated: one was asked for recently */
	uint64_t health_requests, health_replies; /* healthmanager.health */
};

struct hm {
	struct dew_daemon daemon;
	struct hm_config cfg;
	uv_loop_t *loop;
	struct dew_bus *bus;
	struct actual *actual;
	struct hm_history *history;
	json_t *desired;	/* guid -> the app as GET /v1/internal/desired gives it */
	json_t *settle;		/* guid -> ms until which no decision is made for it */
	json_t *flap_sent;	/* guid -> the FLAPPING indices the controller was told of last */
	json_t *hints;		/* "<guid>/<index>" -> [priority, ms]: why the index went down */
	json_t *stops_sent;	/* instance id -> ms its STOP was asked for */
	json_t *evacuating;	/* DEA id -> {instance id: true} it reported as DEA_EVACUATION */
	struct hm_queue *queue; /* starts decided, not yet asked for (starts.c) */
	uv_timer_t drain_timer; /* the next token of the rate limit */
	bool health_on;		/* healthmanager.health subscribed (health.c) */
	bool have_desired;	/* one full read succeeded */
	uint64_t acting_from;	/* no decision before this (a full round of heartbeats after connecting) */
	uv_timer_t sweep_timer, desired_timer;
	uv_timer_t tick_timer;	  /* every heartbeat interval: lost DEAs */
	uv_timer_t recheck_timer; /* an app settling, a delayed or rate-limited start */
	uint64_t recheck_at;
	double tokens; /* the start rate limit's bucket */
	uint64_t tokens_ms;
	bool bus_connected;
	int fetches;   /* reads in flight */
	char id[37];   /* this healthd, for the leader choice */
	json_t *peers; /* leader.c: id -> ms last heard */
	uv_timer_t leader_timer;
	bool leading;
	uint64_t lead_from; /* not leading before: the others' announcements are heard first */
	struct hm_counters n;
};

/* desired.c */

/* Read every app (guid NULL) or one, on the thread pool; the result replaces hm->desired (or
 * its entry) when it arrives. */
void desired_fetch(struct hm *hm, const char *guid);

/* starts.c */

/* Queue a start of guid's index at prio (a start already queued keeps its place or moves up). */
void starts_queue(struct hm *hm, const char *guid, int64_t index, enum hm_priority prio);
/* Ask for the queued starts that are still needed, as many as the rate limit allows now; the
 * rest when the next token is due. Only the leader asks: a standby drops its queue. */
void starts_drain(struct hm *hm);
void starts_start(struct hm *hm);
void starts_stop(struct hm *hm);

/* health.c */

/* Answer healthmanager.health from now on (once the view is whole: a full round of heartbeats
 * after the first connection); idempotent. */
void health_start(struct hm *hm);

/* leader.c */

void leader_start(struct hm *hm);
void leader_stop(struct hm *hm);

/* watch.c */

void watch_start(struct hm *hm);
void watch_stop(struct hm *hm);
/* Decide and act for app guid now (unless it is settling or healthd is not acting yet). */
void watch_act(struct hm *hm, const char *guid);
/* Decide for every app again in ms (or sooner, when another recheck is due first). */
void watch_recheck_in(struct hm *hm, uint64_t ms);
/* Publish a cloudcontrollers.hm.requests {droplet, op, version, last_updated, revision, key: list,
 * flapping?} for app (its desired-state entry). */
void watch_request(struct hm *hm, const json_t *app, const char *op, const char *key, json_t *list,
		   json_t *flapping);
/* The bus (re)connected: send healthmanager.start and wait a heartbeat round before acting. */
void watch_connected(struct hm *hm);

#endif
