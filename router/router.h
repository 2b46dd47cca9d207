/* SPDX-License-Identifier: MIT */
/*
 * dew-router's context and the map of its files. main.c: options, start-up, signals.
 * feed.c: the bus (router.register/unregister, router.start, router.greet, pruning).
 * client.c: client connections (accept, read, timers, close). proxy.c: one request's trip
 * through a backend (retries, streaming, upgrades). upstream.c: backend connections and their
 * idle pools. conn.c: socket writes with backpressure. errors.c: the router's own responses.
 * ops.c: /health, /metrics, /routes, drain, access log. workers.c: the worker threads. The pure
 * parts: table.c, http1.c, head.c, body.c, regmsg.c, accesslog.c.
 *
 * A struct router is one worker: its own loop, listener (SO_REUSEPORT), bus connection, routing
 * table, backend pools and counters; nothing of it is touched by another thread on the request
 * path. Worker 0 runs on the main thread and also holds the daemon core (status listener,
 * signals): /metrics there reads the other workers' counters (single writer, relaxed atomics)
 * and their latency histograms (under each worker's stats_lock).
 */
#ifndef ROUTER_ROUTER_H
#define ROUTER_ROUTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "body.h"
#include "bus-client.h"
#include "daemon.h"
#include "head.h"
#include "http1.h"
#include "http.h"
#include "metrics.h"
#include "table.h"

struct router_config {
	struct dew_daemon_core core;
	char *id;
	char *ip;
	uint64_t register_interval_ms;
	uint64_t prune_threshold_ms;
	uint64_t prune_interval_ms;
	uint64_t backend_idle_timeout_ms;
	uint64_t client_idle_timeout_ms;
	uint64_t header_timeout_ms;
	uint64_t connect_timeout_ms;
	uint64_t endpoint_timeout_ms;
	uint64_t max_header_bytes;
	int64_t max_request_line;
	int64_t max_headers;
	int64_t max_conns_per_backend;
	int64_t max_attempts;
	int64_t max_connections;
	uint64_t bench_time_ms;
	int load_balancing; /* 0 round-robin, 1 least-connection */
	char *sticky_cookies;
	char *forwarded_proto;
	char *routes_user;
	char *routes_password;
	uint64_t drain_wait_ms;
	uint64_t drain_timeout_ms;
	char *access_log;
	int64_t workers; /* 0: one per core */
};

struct router_counters {
	uint64_t responses[6]; /* by status class: [1] 1xx … [5] 5xx, [0] none (aborted) */
	uint64_t requests;
	uint64_t bad_requests;
	uint64_t retries;
	uint64_t registrations;
	uint64_t unregistrations;
	uint64_t pruned;
	uint64_t bad_messages;
	uint64_t upgrades;
	uint64_t backend_connects;
	uint64_t backend_reuses;
	uint64_t connect_failures;
	uint64_t router_errors; /* responses made by the router itself */
	uint64_t accepted;	/* client connections accepted */
};

/* Counters and gauges have one writer (their worker) and are read by /metrics on worker 0. */
#define ROUTER_ADD(lv, n) __atomic_store_n(&(lv), (lv) + (n), __ATOMIC_RELAXED)
#define ROUTER_INC(lv) ROUTER_ADD(lv, 1)
#define ROUTER_DEC(lv) __atomic_store_n(&(lv), (lv)-1, __ATOMIC_RELAXED)
#define ROUTER_LOAD(lv) __atomic_load_n(&(lv), __ATOMIC_RELAXED)

enum worker_command {
	WORKER_DRAIN = 1,
	WORKER_STOP = 2,
};

struct client;

struct router {
	struct dew_daemon daemon;
	struct router_config cfg;
	uv_loop_t *loop;
	struct table table;
	struct dew_bus *bus;
	bool bus_connected;
	char id[64];
	uv_tcp_t listener;
	bool listening;
	uv_timer_t prune_timer;
	uv_timer_t drain_timer;
	uv_signal_t sig_usr1;
	bool draining;
	bool stopping;
	uint64_t drain_started_ms;
	struct client *clients; /* every open client connection */
	size_t n_clients;
	size_t n_active; /* requests in flight */
	struct router_counters n;
	struct dew_histogram latency; /* under stats_lock */
	uv_mutex_t stats_lock;
	struct h1_limits limits;
	int access_fd;		   /* O_APPEND, shared by the workers; -1: no access log */
	struct dew_buf access_buf; /* whole lines waiting for a write */
	uv_timer_t flush_timer;	   /* writes the access log every second */
	/* workers.c */
	unsigned index;		 /* 0: the main thread's worker */
	struct router **workers; /* worker 0: every worker, [0] itself; others: NULL */
	size_t n_workers;
	struct router *main; /* worker 0 */
	uv_thread_t thread;
	uv_async_t cmd_async; /* worker 0 tells the others to drain or stop */
	uv_mutex_t cmd_lock;
	bool cmd_open; /* cmd_async may be sent to (under cmd_lock) */
	int cmd;       /* enum worker_command bits (under cmd_lock) */
	bool finished; /* the worker's loop ended (atomic) */
	struct h1_limits resp_limits;
	struct h1_field *resp_fields; /* response heads are parsed one at a time */
	struct dew_buf scratch;	      /* heads being written */
	uint64_t rng;		      /* request ids (unique, not secret) */
	char rbuf[64 * 1024];	      /* every read lands here first (one loop thread) */
};

/* conn.c */
enum { CONN_HIGH_WATER = 256 * 1024, CONN_LOW_WATER = 64 * 1024 };
/* Queue len bytes on s (tried at once, the rest copied); cb runs for queued writes. 0 or UV_E*. */
int conn_write(uv_stream_t *s, const char *p, size_t len, uv_write_cb cb);
/* The libuv alloc callback: the router's shared read buffer (handle->data is the owner, whose
 * first member is a struct router pointer). */
void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
/* Bytes queued on s. */
size_t conn_queued(const uv_stream_t *s);

/* client.c */
/* Listen on addr; with reuseport, SO_REUSEPORT first so that every worker can bind it. */
int client_listen(struct router *rt, const struct sockaddr *addr, bool reuseport, struct dew_error **err);
int client_port(struct router *rt);
void client_stop_listening(struct router *rt);
/* Close every client connection (now: stopping; idle ones only: draining). */
void client_close_all(struct router *rt, bool idle_only);

/* feed.c */
int feed_start(struct router *rt, struct dew_error **err);
void feed_stop(struct router *rt);

/* main.c: close everything of this worker so its loop ends (SIGTERM, or the end of a drain);
 * worker 0 also closes the daemon core. */
void router_shutdown(struct router *rt);
/* main.c: a worker's loop, table, timers, access log buffer, listener and bus feed. */
int router_setup(struct router *rt, const struct sockaddr *addr, struct dew_error **err);
/* main.c: free what router_setup made, once the worker's loop has ended. */
void router_free(struct router *rt);

/* workers.c */
/* The other workers (cfg.workers - 1 of them), set up on this thread, then each started on its
 * own thread. addr is where worker 0 listens (its port resolved). */
int workers_start(struct router *rt0, const struct sockaddr *addr, struct dew_error **err);
/* Worker 0: tell every other worker to drain or stop. */
void workers_command(struct router *rt0, enum worker_command cmd);
/* Worker 0: every other worker's loop has ended. */
bool workers_finished(const struct router *rt0);
/* Worker 0, after its loop: wait for the other threads and free them. */
void workers_join(struct router *rt0);
/* Worker i: close the command handle so the loop can end. */
void workers_close_command(struct router *rt);

/* ops.c */
void ops_metrics(struct dew_buf *out, void *data);
bool ops_healthy(const char **reason, void *data);
void ops_routes(struct dew_http_req *req);
void ops_drain_start(struct router *rt);
void ops_access_log(struct router *rt, const struct client *c, int status, uint64_t bytes_sent, double secs);
/* Write the whole lines buffered so far (one write(2): lines of workers never interleave). */
void ops_access_flush(struct router *rt);

#endif
