/* SPDX-License-Identifier: MIT */
/*
 * What the proxy makes of a parsed head (http1.h) and the head it sends on: the request's host,
 * path, framing and connection semantics, checked against request smuggling (Content-Length
 * with Transfer-Encoding, conflicting lengths, codings other than chunked); the request head for
 * the backend (hop-by-hop fields dropped, X-Forwarded-*, X-Vcap-Request-Id, X-Request-Start and
 * X-CF-* set, client copies replaced); the response's framing and the head for the client
 * (hop-by-hop dropped, request id echoed, sticky-session cookie added). No I/O.
 */
#ifndef ROUTER_HEAD_H
#define ROUTER_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "body.h"
#include "buf.h"
#include "http1.h"
#include "table.h"

enum { HEAD_MAX_CONN_TOKENS = 8 };

/* A request as the proxy sees it; pointers go into the parsed buffer or into this struct. */
struct head_request {
	char host[TABLE_MAX_HOST + 1]; /* lowercased, no port */
	size_t host_len;
	const char *authority; /* the Host to send (absolute-form authority, else Host) */
	size_t authority_len;
	const char *target; /* origin-form target to send */
	size_t target_len;
	size_t path_len; /* target up to '?' */
	enum body_kind body;
	uint64_t length;
	bool keep_alive;
	bool upgrade; /* Upgrade + Connection: upgrade */
	const char *upgrade_value;
	size_t upgrade_len;
	bool idempotent;
	bool is_head;
	const char *sticky; /* __VCAP_ID__ cookie value (not NUL-terminated) */
	size_t sticky_len;
	const struct h1_field *conn_tokens[HEAD_MAX_CONN_TOKENS]; /* Connection fields */
	size_t n_conn_fields;
	const char *why; /* why the request was refused */
};

/*
 * Check and interpret a parsed request head. Returns 0, or the HTTP status to refuse it with
 * (400, or 405 for CONNECT) and r->why set; r->host_len is 0 when the host is missing or empty
 * (the empty_host error).
 */
int head_request_check(const struct h1_head *h, struct head_request *r);

/* What the router adds to a request it forwards. */
struct head_forward {
	const char *client_ip;
	const char *proto;	/* X-Forwarded-Proto when the client sent none */
	const char *request_id; /* a fresh UUID */
	uint64_t start_ms;	/* X-Request-Start: Unix milliseconds */
	const struct backend *be;
};

/* Append the request head for the backend to out. */
void head_request_write(struct dew_buf *out, const struct h1_head *h, const struct head_request *r,
			const struct head_forward *f);

/* A response as the proxy sees it. */
struct head_response {
	enum body_kind body;
	uint64_t length;
	bool keep_alive; /* the backend keeps the connection open */
	bool interim;	 /* 1xx other than 101: a final response follows */
	bool upgraded;	 /* 101 to an upgrade request */
	const char *why;
};

/*
 * Interpret a parsed response head to request r (HEAD and upgrades matter). Returns 0, or -1
 * with resp->why set when the framing is unusable (both Content-Length and Transfer-Encoding,
 * conflicting lengths): the proxy answers 502.
 */
int head_response_check(const struct h1_head *h, const struct head_request *r, struct head_response *resp);

/* What the router adds to a response. */
struct head_reply {
	const char *request_id;
	bool close;		  /* Connection: close to the client */
	bool keep_alive_10;	  /* Connection: keep-alive to an HTTP/1.0 client */
	const char *sticky_names; /* comma list of cookie names that start a sticky session */
	const char *instance_id;  /* value of __VCAP_ID__ */
};

/* Append the response head for the client to out. */
void head_response_write(struct dew_buf *out, const struct h1_head *h, const struct head_response *resp,
			 const struct head_reply *rp);

#endif
