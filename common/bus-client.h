/* SPDX-License-Identifier: MIT */
/*
 * The bus client every component uses (DESIGN.md section 5): a NATS-protocol client on libuv
 * that takes a list of server URLs, connects (CONNECT + PING/PONG), reconnects with backoff and
 * jitter replaying its subscriptions, buffers publishes while disconnected (bounded), and offers
 * publish, subscribe (plain and queue), unsubscribe, request with timeout over one
 * `_INBOX.<id>.*` subscription, and flush. It works the same against dew-bus and nats-server.
 * Every function runs on the loop thread given to dew_bus_new.
 */
#ifndef DEW_BUS_CLIENT_H
#define DEW_BUS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

#include "error.h"

struct dew_bus;

/* A delivered message; every pointer is valid only during the callback. */
struct dew_bus_msg {
	const char *subject;
	size_t subject_len;
	const char *reply; /* NULL when the sender expects no reply */
	size_t reply_len;
	const char *hdr; /* "NATS/1.0…" header block, NULL when none */
	size_t hdr_len;
	const char *data; /* payload (not NUL-terminated) */
	size_t len;
	uint64_t sid;
};

typedef void (*dew_bus_msg_fn)(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data);

enum dew_bus_event {
	DEW_BUS_CONNECTED,    /* first connection established (CONNECT answered by PONG) */
	DEW_BUS_DISCONNECTED, /* lost the server; reconnecting */
	DEW_BUS_RECONNECTED,  /* connected again; subscriptions replayed, buffer flushed */
	DEW_BUS_SERVER_ERROR, /* the server sent -ERR; detail is its text */
	DEW_BUS_CLOSED,	      /* dew_bus_close finished */
};

struct dew_bus_options {
	const char *servers;	     /* "nats://[user:pass@|token@]host:port[,…]" */
	const char *name;	     /* client name sent in CONNECT (e.g. "dew-dea") */
	uint64_t connect_timeout_ms; /* per attempt [2000] */
	uint64_t reconnect_min_ms;   /* first backoff [50]; doubles up to max, with jitter */
	uint64_t reconnect_max_ms;   /* [2000] */
	size_t max_buffered_bytes;   /* publishes kept while disconnected [8 MiB] */
	/* Keepalive: a PING this often [120000, as the NATS clients]; a server that leaves two
	 * unanswered is dead and the next one is tried. Bounds how long a server that stops
	 * answering without closing the connection (a power loss, a partition) goes unnoticed. */
	uint64_t ping_interval_ms;
	bool no_echo; /* do not deliver our own publishes back to us */
	void (*on_event)(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data);
	void *data;
};

/* Status values of request and flush callbacks (libuv style: 0 or negative). */
enum {
	DEW_BUS_ETIMEDOUT = UV_ETIMEDOUT,  /* no (more) replies in time */
	DEW_BUS_ENORESPONDERS = UV_ENOENT, /* nobody subscribes to the subject (no_responders) */
	DEW_BUS_ECANCELED = UV_ECANCELED,  /* the client was closed */
};

/*
 * Create a client and start connecting (returns at once; on_event reports progress). Bad
 * options (an unparsable URL list) fail here with *err set.
 */
int dew_bus_new(struct dew_bus **out, uv_loop_t *loop, const struct dew_bus_options *opts,
		struct dew_error **err);

/* Close: pending requests and flushes get DEW_BUS_ECANCELED, then DEW_BUS_CLOSED, then free. */
void dew_bus_close(struct dew_bus *bus);

bool dew_bus_is_connected(const struct dew_bus *bus);

/*
 * Publish (reply and hdr may be NULL). While disconnected the frame is buffered up to
 * max_buffered_bytes; returns 0, -EINVAL (bad subject), -EMSGSIZE (over the server's
 * max_payload) or -ENOBUFS (buffer full).
 */
int dew_bus_publish(struct dew_bus *bus, const char *subject, const char *reply, const void *data,
		    size_t len);
int dew_bus_publish_hdr(struct dew_bus *bus, const char *subject, const char *reply, const void *hdr,
			size_t hdr_len, const void *data, size_t len);
/* Publish json compactly encoded; does not take the reference. */
int dew_bus_publish_json(struct dew_bus *bus, const char *subject, const char *reply, const json_t *json);

/*
 * Subscribe to subject (wildcards allowed) in queue group queue (NULL for a plain
 * subscription). Returns the sid (> 0), or 0 when subject or queue is invalid.
 * The subscription is replayed after every reconnect.
 */
uint64_t dew_bus_subscribe(struct dew_bus *bus, const char *subject, const char *queue, dew_bus_msg_fn cb,
			   void *data);

/* Unsubscribe now (max_msgs 0) or after max_msgs more deliveries in total. 0 or -ENOENT. */
int dew_bus_unsubscribe(struct dew_bus *bus, uint64_t sid, uint64_t max_msgs);

/*
 * Reply callback: status 0 with a message, or a final status (DEW_BUS_ETIMEDOUT,
 * DEW_BUS_ENORESPONDERS, DEW_BUS_ECANCELED) with msg NULL.
 */
typedef void (*dew_bus_reply_fn)(struct dew_bus *bus, int status, const struct dew_bus_msg *msg, void *data);

/*
 * Request: publish data on subject with a unique reply subject under this client's inbox. With
 * many false, cb gets the first reply and the request ends; with many true, cb gets every reply
 * until timeout_ms and then DEW_BUS_ETIMEDOUT (the end marker for gathering, e.g.
 * dea.find.droplet). Returns a request id (> 0) or a negative errno.
 */
int64_t dew_bus_request(struct dew_bus *bus, const char *subject, const void *data, size_t len,
			uint64_t timeout_ms, bool many, dew_bus_reply_fn cb, void *cbdata);
/* Forget a pending request; its callback is not called. */
void dew_bus_request_cancel(struct dew_bus *bus, int64_t id);

/* Flush: cb(status) once the server has seen everything sent so far (PING/PONG barrier). */
int dew_bus_flush(struct dew_bus *bus, uint64_t timeout_ms,
		  void (*cb)(struct dew_bus *bus, int status, void *data), void *data);

struct dew_bus_stats {
	uint64_t msgs_in, msgs_out, bytes_in, bytes_out, reconnects, dropped;
};
void dew_bus_get_stats(const struct dew_bus *bus, struct dew_bus_stats *out);

/* The URL of the server currently connected to (without credentials), or NULL. */
const char *dew_bus_server(const struct dew_bus *bus);

#endif
