/* SPDX-License-Identifier: MIT */
/*
 * dew-healthd's context (issue #10, DESIGN.md section 10), shared by its files:
 *
 *   main.c     options, config, start-up, /metrics
 *   desired.c  GET /v1/internal/desired (signed) from the controller, on the thread pool
 *   watch.c    the bus: dea.heartbeat, droplet.exited, droplet.updated; the sweep; acting on
 *              decide.h's decisions with cloudcontrollers.hm.requests
 *   leader.c   which of several healthd acts (healthmanager.leader announcements)
 * and decide.h (pure logic, unit tested). What the DEAs run is kept with the controller's own
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
};

struct hm {
	struct dew_daemon daemon;
	struct hm_config cfg;
	uv_loop_t *loop;
	struct dew_bus *bus;
	struct actual *actual;
	struct hm_history *history;
	json_t *desired;      /* guid -> the app as GET /v1/internal/desired gives it */
	json_t *settle;	      /* guid -> ms until which no decision is made for it */
	json_t *flap_sent;    /* guid -> the FLAPPING indices the controller was told of last */
	bool have_desired;    /* one full read succeeded */
	uint64_t acting_from; /* no decision before this (a full round of heartbeats after connecting) */
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
/* The bus (re)connected: send healthmanager.start and wait a heartbeat round before acting. */
void watch_connected(struct hm *hm);

#endif
