/* SPDX-License-Identifier: MIT */
/*
 * What the parts of bus-check share: the check's loop and waits, a client with its event
 * counts (bus-check.c), and the checks against scripted fake servers (bus-check-fake.c).
 */
#ifndef DEW_TESTS_BUS_CHECK_H
#define DEW_TESTS_BUS_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus-client.h"

enum {
	WAIT_MS = 10 * 1000, /* generous: a check fails by its condition, not by a slow machine */
	QUEUE_MSGS = 300,
	DOWN_MSGS = 5,
};

struct check {
	uv_loop_t *loop;
	uv_timer_t tick; /* wakes uv_run(UV_RUN_ONCE) so waits can check their deadline */
	char prefix[32];
	char subjects[8][160];
	unsigned next_subject;
	uint64_t ping_ms; /* the clients' ping_interval_ms (0: the default) */
};

struct client {
	struct check *ck;
	struct dew_bus *bus;
	int connected, disconnected, reconnected, server_errors, closed;
	char last_error[256];
	bool close_on_connect;
	const char *down_subject; /* publish DOWN_MSGS here from the DISCONNECTED handler */
	int down_ok;		  /* how many of those publishes returned 0 */
};

#define RUN_UNTIL(ck, cond, ms)                                                                              \
	({                                                                                                   \
		uint64_t dl__ = uv_now((ck)->loop) + (ms);                                                   \
		while (!(cond) && uv_now((ck)->loop) < dl__)                                                 \
			uv_run((ck)->loop, UV_RUN_ONCE);                                                     \
		(cond);                                                                                      \
	})

/* A client of url named name, with cl counting its events (ck->ping_ms its keepalive); 0 or
 * the dew_bus_new error. */
int client_start(struct check *ck, struct client *cl, const char *url, const char *name);

/* bus-check-fake.c: a server that misbehaves, one that goes mute after the handshake. */
void check_hostile_server(struct check *ck);
void check_mute_server(struct check *ck);

#endif
