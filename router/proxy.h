/* SPDX-License-Identifier: MIT */
/*
 * The proxy's connections: a client connection carries one request (an exchange) at a time
 * through an upstream connection to a backend. Shared by client.c (the client socket),
 * proxy.c (the exchange) and upstream.c (backend sockets and pools).
 */
#ifndef ROUTER_PROXY_H
#define ROUTER_PROXY_H

#include "random.h"
#include "router.h"

enum client_state {
	CLIENT_HEAD,	   /* reading a request head (or idle between requests) */
	CLIENT_CONNECTING, /* head read; waiting for a backend connection */
	CLIENT_FORWARD,	   /* request sent or being sent; response awaited or being relayed */
	CLIENT_TUNNEL,	   /* upgraded: bytes both ways */
	CLIENT_CLOSING,
};

struct upstream;

/* One request through the proxy. */
struct exchange {
	struct dew_buf head_bytes; /* a copy of the request head (h and req point into it) */
	struct h1_head h;
	struct head_request req;
	struct backend *be; /* held while in use */
	struct backend *tried[TABLE_MAX_ATTEMPTS];
	size_t n_tried;
	struct upstream *up;
	struct body req_body;
	struct body resp_body;
	bool req_head_sent;
	bool resp_head_done; /* the final response head was parsed */
	bool resp_started;   /* bytes went to the client */
	bool upstream_reusable;
	bool active; /* counted in rt->n_active */
	unsigned attempts;
	char request_id[DEW_UUID_LEN + 1];
	uint64_t start_ns; /* uv_hrtime() at the head: response_time and the latency histogram */
	int status;
	uint64_t bytes_in; /* request body bytes forwarded */
	uint64_t bytes_out;
	const char *router_error; /* X-Cf-Routererror of the router's own answer, or NULL */
};

struct client {
	struct router *rt; /* first: conn_alloc finds the router through it */
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct client *next, *prev;
	struct dew_buf in; /* received, not yet consumed */
	enum client_state state;
	bool reading;
	bool eof;
	bool close_after; /* close once the current response is written */
	bool head_timer;  /* the header timeout runs (a head has started) */
	bool in_process;  /* inside client_process(): it picks up the next request itself */
	bool corked;	  /* client_write collects into cork until client_uncork */
	struct dew_buf cork;
	char ip[48];
	struct exchange ex;
	struct h1_field *fields; /* rt->limits.max_fields */
	int handles;		 /* open handles (tcp, timer) */
};

struct upstream {
	struct router *rt; /* first, as in struct client */
	uv_tcp_t tcp;
	uv_timer_t timer; /* connect timeout, then idle timeout in the pool */
	uv_connect_t connect_req;
	struct backend *be; /* held */
	struct client *client;
	struct dew_buf in; /* response head being read */
	struct upstream *pool_next, *pool_prev;
	bool connected;
	bool reused; /* taken from the pool */
	bool pooled;
	bool closing;
	bool reading;
	bool got_bytes; /* any byte of a response arrived on this exchange */
	int handles;
};

/* upstream.c */
/*
 * A connection to be for c: an idle one from the pool unless fresh, else a new one (connecting).
 * proxy_upstream_ready() follows once connected (at once for a pooled one: the caller checks
 * up->connected), proxy_upstream_failed() on failure.
 */
struct upstream *upstream_get(struct router *rt, struct backend *be, struct client *c, bool fresh);
/* Detach from its client: into the pool when reusable, else closed. */
void upstream_release(struct upstream *up, bool reusable);
int upstream_write(struct upstream *up, const char *p, size_t len);
void upstream_set_reading(struct upstream *up, bool on);
/* Close every idle connection of be (it left the table). */
void upstream_pool_drop(struct backend *be);

/* proxy.c: the exchange */
/* A complete head is at the start of c->in (len bytes, parsed into h): start the exchange. */
void proxy_begin(struct client *c, const struct h1_head *h, int len);
void proxy_upstream_ready(struct client *c);
/*
 * The upstream failed: status is a UV_E* code; connecting tells a connect failure, stale a
 * reused idle connection that ended before any byte of a response.
 */
void proxy_upstream_failed(struct client *c, int status, bool connecting, bool stale);
void proxy_upstream_data(struct client *c, const char *p, size_t len);
/* The client sent bytes while an exchange runs (body or tunnel). Returns bytes consumed. */
size_t proxy_client_data(struct client *c, const char *p, size_t len);
/* The client went away or the exchange must end now: upstream closed, counters settled. */
void proxy_abort(struct client *c);
/* End the exchange's bookkeeping (upstream dropped unless already released): counters, log. */
void proxy_settle(struct client *c);
/* A write to the client drained below the low water mark. */
void proxy_client_drained(struct client *c);
void proxy_upstream_drained(struct client *c);

/* client.c */
void client_write(struct client *c, const char *p, size_t len);
/* Collect the writes that follow into one (a response head and the body bytes read with it
 * leave in one syscall instead of two); client_uncork sends them. */
void client_cork(struct client *c);
void client_uncork(struct client *c);
/* The exchange ended: next request, or close when asked. */
void client_exchange_done(struct client *c);
void client_set_reading(struct client *c, bool on);
/* Close now (no more writes). */
void client_close(struct client *c);
/* Timer for the response head (endpoint_timeout), or none. */
void client_response_timer(struct client *c, bool on);

/* errors.c */
enum router_error {
	RERR_UNKNOWN_ROUTE,
	RERR_NO_ENDPOINTS,
	RERR_CONN_LIMIT,
	RERR_ENDPOINT_FAILURE,
	RERR_EMPTY_HOST,
	RERR_BAD_REQUEST,
	RERR_NOT_ALLOWED,
	RERR_HEAD_TOO_LARGE,
	RERR_URI_TOO_LONG,
	RERR_VERSION,
	RERR_TIMEOUT,
};
/* Write the router's own response to c (closing after it when close is set) and end the exchange. */
void errors_respond(struct client *c, enum router_error e, bool close);
/* The status an error answers with. */
int errors_status(enum router_error e);

#endif
