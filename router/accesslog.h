/* SPDX-License-Identifier: MIT */
/*
 * One access log line per request, in gorouter's field order (no I/O):
 *   host - [time] "METHOD target HTTP/1.x" status bytes_received bytes_sent "referer"
 *   "user_agent" "remote_addr" "backend_addr" x_forwarded_for:"…" x_forwarded_proto:"…"
 *   vcap_request_id:"…" response_time:secs app_id:"…" app_index:"…" instance_id:"…"
 *   x_cf_routererror:"…"
 * Every value that comes from a client or a backend is escaped, so a line is always one line and
 * a quoted field always ends at its own closing quote, whatever the request held.
 */
#ifndef ROUTER_ACCESSLOG_H
#define ROUTER_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "http1.h"

enum {
	ACCESSLOG_MAX_TARGET = 1024, /* longer targets are cut (marked with "...") */
	ACCESSLOG_MAX_VALUE = 256,   /* the same for header values */
};

struct accesslog_entry {
	const char *host; /* "" when the request had none usable */
	size_t host_len;
	time_t when;		 /* the request's start */
	const struct h1_head *h; /* method, minor, and the fields read: Referer, User-Agent, X-Forwarded-* */
	const char *target;	 /* the target as routed (NULL: h->target) */
	size_t target_len;
	int status; /* 0: no response */
	uint64_t bytes_received, bytes_sent;
	const char *remote_addr;
	const char *backend_addr; /* NULL when none was chosen */
	const char *proto;	  /* X-Forwarded-Proto sent when the client gave none */
	const char *request_id;
	double response_time; /* seconds */
	const char *app_id, *instance_id;
	int64_t app_index;	  /* -1: unknown */
	const char *router_error; /* X-Cf-Routererror, or NULL */
};

/* Append e as one line, newline included, to out. */
void accesslog_format(struct dew_buf *out, const struct accesslog_entry *e);

/* Append v (len bytes) escaped for a quoted field: '"' and '\' get a backslash, control bytes,
 * DEL and bytes over 0x7f become \xHH; at most max input bytes, then "...". */
void accesslog_escape(struct dew_buf *out, const char *v, size_t len, size_t max);

#endif
