/* SPDX-License-Identifier: MIT */
/*
 * Internal to the bus client, not for other components: the client object and its connection,
 * and what its files share. bus-url.c parses the server list; bus-conn.c connects, reads and
 * reconnects; bus-client.c holds the object's lifetime, the writes and the public entry points;
 * bus-request.c keeps subscriptions, publishes, inbox requests and flushes.
 */
#ifndef DEW_BUS_INTERNAL_H
#define DEW_BUS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "bus-client.h"
#include "error.h"
#include "nats-proto.h"

enum { DEW__BUS_READ_SIZE = 64 * 1024 };

enum dew__bus_state {
	DEW__BUS_STATE_WAITING,	   /* the reconnect timer is armed */
	DEW__BUS_STATE_RESOLVING,  /* uv_getaddrinfo in flight */
	DEW__BUS_STATE_CONNECTING, /* TCP connect in flight */
	DEW__BUS_STATE_WAIT_INFO,  /* TCP up, waiting for the server's INFO */
	DEW__BUS_STATE_HANDSHAKE,  /* CONNECT and PING sent, waiting for the PONG */
	DEW__BUS_STATE_CONNECTED,
	DEW__BUS_STATE_CLOSING,
};

/* One server of the URL list (bus-url.c). */
struct dew__bus_server {
	char *host; /* without brackets */
	int port;
	char *user, *pass, *token; /* owned; NULL when absent */
	char *display;		   /* "nats://host:port", no credentials */
};

/* One connection attempt; freed in its close callback, so libuv never sees freed memory. */
struct dew__bus_conn {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	struct dew_bus *bus;
	struct dew_nats_parser parser;
	struct dew_buf out; /* frames not yet handed to uv_write */
	bool writing;	    /* a uv_write is in flight: new frames coalesce in out meanwhile */
	bool tcp_up;
	char rbuf[DEW__BUS_READ_SIZE];
};

/* An address lookup in flight; it owns itself and is ignored once bus->resolve points elsewhere. */
struct dew__bus_resolve {
	uv_getaddrinfo_t req;
	struct dew_bus *bus;
};

struct dew__bus_msgs;

struct dew_bus {
	uv_loop_t *loop;
	struct dew_bus_options opts; /* servers and name are not kept */
	char *name;
	struct dew__bus_server *servers;
	size_t n_servers, cur;
	enum dew__bus_state state;
	bool closing, ever_connected, auth_failed;
	unsigned refs;
	unsigned attempts; /* failed attempts since the last established connection */
	uv_timer_t reconnect_timer, connect_timer, ping_timer;
	struct dew__bus_conn *conn;	/* the current connection or attempt */
	struct dew__bus_conn *draining; /* the connection flushed at close */
	struct dew__bus_resolve *resolve;
	size_t max_payload;
	bool srv_headers;
	unsigned pings_out;
	uint64_t *tags; /* one per PING in flight, in order; 0 for keepalives */
	size_t tag_head, n_tags, cap_tags;
	struct dew__bus_msgs *msgs;
	struct dew_bus_stats stats;
};

/* --- bus-url.c: the server list ---------------------------------------------------------------- */

/*
 * Append the servers of the comma-separated URL list to bus->servers (bounded in count and
 * length). Returns 0, or -EINVAL with *err set (credentials redacted from the message); the
 * servers parsed so far stay in bus->servers for the caller to free.
 */
int dew__bus_parse_servers(struct dew_bus *bus, const char *list, struct dew_error **err);
/* Free the strings s owns; s itself is an element of bus->servers. */
void dew__bus_server_free(struct dew__bus_server *s);

/* --- bus-client.c: lifetime and writing -------------------------------------------------------- */

/* Keep bus alive across a callback or an open handle; the last unref after close frees it. */
void dew__bus_ref(struct dew_bus *bus);
void dew__bus_unref(struct dew_bus *bus);
/* Call the user's on_event, if any. */
void dew__bus_emit(struct dew_bus *bus, enum dew_bus_event ev, const char *detail);
/* The current server's URL without credentials (owned by bus), for log lines and events. */
const char *dew__bus_where(const struct dew_bus *bus);
uv_loop_t *dew__bus_loop(const struct dew_bus *bus);
bool dew__bus_closing(const struct dew_bus *bus);
struct dew__bus_msgs *dew__bus_msgs(const struct dew_bus *bus);
struct dew_bus_stats *dew__bus_stats(struct dew_bus *bus);
/* The server's max_payload (1 MiB until known) and whether it takes headers. */
size_t dew__bus_max_payload(const struct dew_bus *bus);
bool dew__bus_headers(const struct dew_bus *bus);
/* The output buffer of the established connection, or NULL while not connected. */
struct dew_buf *dew__bus_out(struct dew_bus *bus);
/* Start writing what was appended to dew__bus_out (coalesced: at most one write in flight). */
void dew__bus_kick(struct dew_bus *bus);
/* Start writing what was appended to conn->out, unless a write is in flight or conn is not current. */
void dew__bus_conn_kick(struct dew__bus_conn *conn);
/* Send a PING whose PONG is passed to dew__bus_msgs_pong with tag; false when not connected. */
bool dew__bus_ping(struct dew_bus *bus, uint64_t tag);
/* Detach bus->conn (if any) and close its handle; the close callback frees it. */
void dew__bus_conn_drop(struct dew_bus *bus);

/* --- bus-conn.c: connecting, reading, reconnecting --------------------------------------------- */

/* The connection or attempt failed with status (a UV_E* code): drop it, report, reconnect later. */
void dew__bus_fail(struct dew_bus *bus, int status);
/* Callback of bus->reconnect_timer (whose data is bus): start a connection attempt. */
void dew__bus_on_reconnect_timer(uv_timer_t *t);

/* --- bus-request.c: what travels over the connection ------------------------------------------- */

struct dew__bus_msgs *dew__bus_msgs_new(struct dew_bus *bus, size_t max_buffered);
void dew__bus_msgs_free(struct dew__bus_msgs *m);
/* A MSG or HMSG from the server: call the subscription's callback. */
void dew__bus_msgs_deliver(struct dew__bus_msgs *m, const struct dew_nats_frame *f);
/* Connected: append the subscriptions, then the buffered publishes, then pending flush PINGs. */
void dew__bus_msgs_connected(struct dew__bus_msgs *m, struct dew_buf *out);
/* The PONG answering the PING sent with tag (> 0) arrived. */
void dew__bus_msgs_pong(struct dew__bus_msgs *m, uint64_t tag);
/* Closing: every pending request and flush gets DEW_BUS_ECANCELED. */
void dew__bus_msgs_cancel_all(struct dew__bus_msgs *m);

#endif
