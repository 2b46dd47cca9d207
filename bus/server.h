/* SPDX-License-Identifier: MIT */
/*
 * dew-bus internals: the server (listener, clients, subscription index, limits) and the
 * per-connection client state. Every function runs on the server's loop thread.
 */
#ifndef DEW_BUS_SERVER_H
#define DEW_BUS_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "daemon.h"
#include "nats-proto.h"
#include "sublist.h"

struct bus_config {
	struct dew_daemon_core core;
	uint64_t max_payload;	    /* bytes of headers + payload per message */
	int64_t max_control_line;   /* bytes of one protocol line */
	uint64_t max_pending;	    /* outbound bytes queued per connection before it is cut off */
	uint64_t write_deadline_ms; /* a write making no progress this long cuts the consumer off */
	int64_t max_connections;
	uint64_t ping_interval_ms;
	int64_t max_pings_out;
	uint64_t auth_timeout_ms;
	char *auth_token;
	char *user;
	char *password;
	char *server_name;
};

struct bus_stats {
	uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
	uint64_t connections_total, slow_consumers, errors_sent;
};

struct bus_client;

struct bus_server {
	uv_loop_t *loop;
	const struct bus_config *cfg;
	uv_tcp_t listener;
	uv_timer_t sweep;   /* pings, auth timeouts, write deadlines */
	uv_check_t flusher; /* one write per connection per loop turn */
	struct sublist *subs;
	struct bus_client *clients; /* all connections (doubly linked) */
	struct bus_client *dirty;   /* connections with output to write this turn */
	size_t n_clients;
	uint64_t next_cid;
	char server_id[57];
	char *info_json; /* the INFO fields common to every client, without the closing brace */
	int port;
	char *read_buf; /* shared: reads are parsed synchronously, one at a time */
	size_t read_buf_len;
	bool auth_required;
	bool stopping;
	struct bus_stats stats;
	void (*stopped)(void *arg);
	void *stopped_arg;
	int pending_closes; /* handles still to close before the server can be freed */
	uint64_t rng;	    /* xorshift state: picks queue group members without a syscall */
};

/* A fast pseudo-random number below n (n > 0) for queue-group member choice. */
size_t bus_server_pick(struct bus_server *srv, size_t n);

struct bus_sub {
	struct bus_client *client;
	char *subject;
	char *queue; /* NULL for a plain subscription */
	char *sid;
	uint64_t max; /* 0: unlimited */
	uint64_t delivered;
	struct bus_sub *next_in_bucket;
};

struct bus_client {
	struct bus_server *srv;
	uv_tcp_t tcp;
	uint64_t cid;
	char ip[64];
	struct dew_nats_parser parser;
	/* Options from CONNECT. */
	bool connected, verbose, pedantic, echo, headers, no_responders;
	char *name;
	/* Output: `out` collects frames; `inflight` is being written. */
	struct dew_buf out;
	struct dew_buf inflight;
	uv_write_t write_req;
	bool writing;
	bool is_dirty;
	uint64_t write_started_ms;
	/* Subscriptions by sid. */
	struct bus_sub **sid_buckets;
	size_t n_sid_buckets, n_subs;
	/* Liveness. */
	uint64_t accepted_ms, next_ping_ms;
	int pings_out;
	bool closing, close_after_flush;
	struct bus_client *prev, *next, *next_dirty;
};

/* server.c */
int bus_server_start(struct bus_server **out, uv_loop_t *loop, const struct bus_config *cfg,
		     struct dew_error **err);
void bus_server_stop(struct bus_server *srv, void (*done)(void *arg), void *arg);
void bus_server_metrics(struct dew_buf *out, void *data);
int bus_server_port(const struct bus_server *srv);
/* A handle of the server or of a connection finished closing (frees the server at the end). */
void bus_server_release(struct bus_server *srv);
/* Queue c for the end-of-turn write. */
void bus_server_mark_dirty(struct bus_server *srv, struct bus_client *c);

/* client.c */
struct bus_client *bus_client_new(struct bus_server *srv);
void bus_client_start(struct bus_client *c);
/* Write what is queued (called by the server once per loop turn). */
void bus_client_flush(struct bus_client *c);
/* Send -ERR 'text'; when fatal, close once it is written. */
void bus_client_send_err(struct bus_client *c, const char *text, bool fatal);
void bus_client_close(struct bus_client *c);
/* Stop reading, send what is queued, then close (errors nats-server answers with silence). */
void bus_client_close_after_flush(struct bus_client *c, const char *why);
/* Periodic checks: ping, stale connection, auth timeout, write deadline. */
void bus_client_sweep(struct bus_client *c, uint64_t now_ms);
/* Frames were appended to c->out: enforce the pending limit (slow consumer), schedule a write. */
void bus_client_queued(struct bus_client *c);
/* Append a whole frame (text) and schedule it. */
void bus_client_send(struct bus_client *c, const char *text);

/* route.c: deliver a publish to every matching subscription. */
void route_publish(struct bus_client *from, const struct dew_nats_frame *f);

/* sidmap.c: a client's subscriptions by sid. */
struct bus_sub *sidmap_get(struct bus_client *c, const char *sid, size_t len);
void sidmap_put(struct bus_client *c, struct bus_sub *sub);
void sidmap_del(struct bus_client *c, struct bus_sub *sub);
/* Remove every subscription of c from the map and the index; free them. */
void sidmap_clear(struct bus_client *c);
/* Remove one subscription from the index and the map and free it. */
void bus_sub_remove(struct bus_client *c, struct bus_sub *sub);

#endif
