/* SPDX-License-Identifier: MIT */
/*
 * dew-dea's context, shared by its files: the configuration, the bus client, the timers and
 * counters. So far the DEA is present on the bus only (advertise.c, heartbeat.c); it runs no
 * instances yet. Everything here runs on the daemon's one loop thread.
 */
#ifndef DEA_DEA_H
#define DEA_DEA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus-client.h"
#include "daemon.h"

enum {
	DEA_MAX_ID_LEN = 64,	     /* the id is a subject token (dea.<id>.start) */
	DEA_MAX_REQUEST = 64 * 1024, /* larger request payloads are dropped unparsed */
};

/* Section [dea] of dew.conf. */
struct dea_config {
	struct dew_daemon_core core;
	char *id;
	char *ip;
	uint64_t max_memory; /* bytes */
	uint64_t max_disk;   /* bytes */
	char *stacks;	     /* comma list */
	char *placement_tags;
	char *base_dir;
	char *state_dir;
	uint64_t advertise_interval_ms;
	uint64_t heartbeat_interval_ms;
};

struct dea {
	struct dew_daemon daemon;
	struct dea_config cfg;
	uv_loop_t *loop;
	struct dew_bus *bus;
	struct dew_http_server *http; /* the main listener: the future file server */
	char *id;		      /* owned */
	char **stacks;		      /* NULL-terminated, owned */
	char **placement_tags;	      /* NULL-terminated, owned; may be empty */
	uint64_t start_ms;	      /* uv_now at start, for uptime */
	uv_timer_t advertise_timer;
	uv_timer_t heartbeat_timer;
	bool bus_connected;
	uint64_t advertisements;
	uint64_t heartbeats;
	uint64_t dropped_messages;
};

/* A bus subject the DEA answers; request handlers are only called with a reply subject. */
struct dea_subject {
	const char *subject;
	bool request;
	void (*on_msg)(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);
};

/* advertise.c */

/* Subscribe to every subject of the dispatch table and start the advertise timer. */
void advertise_start(struct dea *dea);
/* Close the advertise timer (the bus client is closed by the caller). */
void advertise_stop(struct dea *dea);
/* Publish dea.advertise now (skipped while the bus is disconnected: reconnecting advertises). */
void advertise_publish(struct dea *dea);
/* The bus client's event callback: tracks the connection and advertises on (re)connect. */
void advertise_on_bus_event(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data);
/* Uptime as Cloud Foundry's components report it: "<d>d:<h>h:<m>m:<s>s"; the caller frees it. */
char *advertise_uptime(const struct dea *dea);

/* heartbeat.c */

/* Start the dea.heartbeat timer. */
void heartbeat_start(struct dea *dea);
/* Close the heartbeat timer. */
void heartbeat_stop(struct dea *dea);
/* Publish a full dea.heartbeat now (skipped while the bus is disconnected). */
void heartbeat_publish(struct dea *dea);
/* healthmanager.start: the health manager (re)started and wants every DEA's state at once. */
void heartbeat_on_hm_start(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);

#endif
