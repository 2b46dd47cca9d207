// SPDX-License-Identifier: MIT
/*
 * The HTTP/1.1 connection core: queues what a transport feeds while a handler holds the current
 * request (so pipelined requests are answered strictly in order), asks for timers, answers
 * protocol errors and timeouts, detaches requests when the client goes away. Parsing itself is
 * in http-parse.c. No sockets here: the transport gets response bytes through its ops.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "http-conn.h"
#include "log.h"

/* Fill limits from in, zero fields from the defaults of http.h. */
void dew__http_limits_resolve(struct dew_http_limits *out, const struct dew_http_limits *in)
{
	static const struct dew_http_limits defaults = {
		.max_header_bytes = 16384,
		.max_headers = 100,
		.max_body = 1024 * 1024,
		.header_timeout_ms = 10000,
		.idle_timeout_ms = 60000,
		.max_connections = 4096,
	};

	*out = in ? *in : defaults;
	if (!out->max_header_bytes)
		out->max_header_bytes = defaults.max_header_bytes;
	if (!out->max_headers)
		out->max_headers = defaults.max_headers;
	if (!out->max_body)
		out->max_body = defaults.max_body;
	if (!out->header_timeout_ms)
		out->header_timeout_ms = defaults.header_timeout_ms;
	if (!out->idle_timeout_ms)
		out->idle_timeout_ms = defaults.idle_timeout_ms;
	if (!out->max_connections)
		out->max_connections = defaults.max_connections;
}

/*
 * Take the current request away from the connection. A handler that has it keeps it (rule of
 * http.h: it still answers exactly once, which then only frees it) and learns through on_abort;
 * one no handler has seen yet is freed here.
 */
static void conn_drop_request(struct dew_http_conn *conn)
{
	struct dew__http_request *r = conn->req;

	conn->req = NULL;
	if (!r)
		return;
	if (!r->handled) {
		dew__http_request_free(r);
		return;
	}
	r->pub.conn = NULL;
	if (r->pub.on_abort)
		r->pub.on_abort(&r->pub);
}

static time_t conn_now(struct dew_http_conn *conn)
{
	return conn->ops->now ? conn->ops->now(conn) : time(NULL);
}

/* Ask the transport to close, once. */
void dew__http_conn_close(struct dew_http_conn *conn)
{
	if (conn->closing)
		return;
	conn->closing = true;
	conn->ops->close(conn);
}

/* Answer a protocol error with {code, description} and close. */
int dew__http_conn_fail(struct dew_http_conn *conn, int status, const char *fmt, ...)
{
	if (conn->closing)
		return -1;
	struct dew__http_request *r = conn->req;
	bool can_answer = !(r && r->started);
	bool head = r && r->is_head;
	va_list ap;

	va_start(ap, fmt);
	cleanup_free char *text = xvasprintf(fmt, ap);
	va_end(ap);
	dew_debug("http: %s: %d %s", conn->remote_addr, status, text);

	conn_drop_request(conn);
	if (can_answer && !conn->closing) {
		size_t len;
		char *out = dew__http_error_response(status, text, head, conn_now(conn), &len);
		conn->ops->write(conn, out, len);
	}
	dew__http_conn_close(conn);
	return -1;
}

static void conn_update_timer(struct dew_http_conn *conn)
{
	enum dew__http_timer t;

	if (conn->closing)
		return;
	if (!conn->req)
		/* A new connection must send its first head in time; later ones may idle. */
		t = conn->n_requests ? DEW__HTTP_TIMER_IDLE : DEW__HTTP_TIMER_HEADER;
	else if (!conn->req->head_done)
		t = DEW__HTTP_TIMER_HEADER;
	else if (!conn->req->complete)
		t = DEW__HTTP_TIMER_IDLE;
	else
		t = DEW__HTTP_TIMER_NONE;
	if (t == conn->timer)
		return;
	conn->timer = t;
	if (conn->ops->set_timer)
		conn->ops->set_timer(conn, t);
}

/* Parse what was queued while a handler had the previous request. */
static void conn_resume(struct dew_http_conn *conn)
{
	size_t n = dew__http_parse(conn, conn->in.data, conn->in.len);

	if (conn->closing) {
		dew_buf_close(&conn->in);
		return;
	}
	dew_buf_consume(&conn->in, n);
	if (conn->reading_off && conn->in.len <= DEW__HTTP_MAX_PENDING) {
		conn->reading_off = false;
		if (conn->ops->set_reading)
			conn->ops->set_reading(conn, true);
	}
	conn_update_timer(conn);
}

/* A connection that has read nothing yet: its header timer runs. */
struct dew_http_conn *dew__http_conn_new(const struct dew__http_conn_config *cfg)
{
	struct dew_http_conn *conn = xzalloc(sizeof *conn);

	conn->ops = cfg->ops;
	conn->transport = cfg->transport;
	conn->routes = cfg->routes;
	conn->n_routes = cfg->n_routes;
	conn->server_data = cfg->server_data;
	dew__http_limits_resolve(&conn->limits, cfg->limits);
	snprintf(conn->remote_addr, sizeof conn->remote_addr, "%s",
		 cfg->remote_addr ? cfg->remote_addr : "-");
	http_parser_init(&conn->parser, HTTP_REQUEST);
	conn->parser.data = conn;
	conn->timer = DEW__HTTP_TIMER_HEADER;
	return conn;
}

/* The transport's context. */
void *dew__http_conn_transport(const struct dew_http_conn *conn)
{
	return conn->transport;
}

/* Parse what the client sent, or queue it while a handler holds the current request. */
void dew__http_conn_feed(struct dew_http_conn *conn, const char *data, size_t len)
{
	if (conn->closing || len == 0 || conn->in_run)
		return;
	/* Usually nothing is queued: parse straight from the caller's buffer. */
	if (conn->in.len == 0) {
		size_t n = dew__http_parse(conn, data, len);
		data += n;
		len -= n;
	}
	if (len && !conn->closing) {
		dew_buf_append(&conn->in, data, len);
		if (!dew__http_conn_waiting(conn)) {
			conn_resume(conn);
			return;
		}
		if (!conn->reading_off && conn->in.len > DEW__HTTP_MAX_PENDING) {
			conn->reading_off = true;
			if (conn->ops->set_reading)
				conn->ops->set_reading(conn, false);
		}
	}
	conn_update_timer(conn);
}

/* The transport's timer fired: 408 for a late head or a stalled body, else a quiet close. */
void dew__http_conn_timeout(struct dew_http_conn *conn)
{
	struct dew__http_request *r = conn->req;

	if (conn->closing)
		return;
	if (conn->timer == DEW__HTTP_TIMER_HEADER && r)
		dew__http_conn_fail(conn, 408, "request header timeout (%llu ms)",
				    (unsigned long long)conn->limits.header_timeout_ms);
	else if (conn->timer == DEW__HTTP_TIMER_IDLE && r && r->head_done && !r->complete)
		dew__http_conn_fail(conn, 408, "request body timeout (no data for %llu ms)",
				    (unsigned long long)conn->limits.idle_timeout_ms);
	else if (conn->timer != DEW__HTTP_TIMER_NONE)
		dew__http_conn_close(conn); /* idle keep-alive, or a connection that never sent a byte */
}

/* The client is gone: detach the request a handler holds (on_abort), stop everything. */
void dew__http_conn_abort(struct dew_http_conn *conn)
{
	conn->closing = true;
	conn_drop_request(conn);
}

/* The timer the connection currently wants. */
enum dew__http_timer dew__http_conn_timer(const struct dew_http_conn *conn)
{
	return conn->timer;
}

/* Whether the connection is closing (input ignored). */
bool dew__http_conn_closing(const struct dew_http_conn *conn)
{
	return conn->closing;
}

/* Abort, then free the connection and its buffers. */
void dew__http_conn_free(struct dew_http_conn *conn)
{
	if (!conn)
		return;
	dew__http_conn_abort(conn);
	dew_buf_close(&conn->in);
	dew_buf_close(&conn->url);
	dew_buf_close(&conn->field);
	dew_buf_close(&conn->value);
	free(conn);
}

/* ---- the response side's view of the connection ---- */

/* Decide (and remember) whether the connection closes after the response now starting. */
bool dew__http_request_closes(struct dew__http_request *r)
{
	struct dew_http_conn *conn = r->pub.conn;

	/* An unread body would be parsed as the next request: close instead of guessing. */
	r->close_after = !conn || conn->closing || !r->pub.keep_alive || !r->body_done;
	r->pub.keep_alive = !r->close_after;
	return r->close_after;
}

/* Send response bytes for r; dropped when r is detached or the connection closing. */
void dew__http_request_write(struct dew__http_request *r, char *data, size_t len)
{
	struct dew_http_conn *conn = r->pub.conn;

	if (!conn || conn->closing) {
		free(data);
		return;
	}
	conn->ops->write(conn, data, len);
}

/* Bytes the transport still holds for the request's connection. */
size_t dew_http_write_queue_size(const struct dew_http_req *req)
{
	struct dew_http_conn *conn = req->conn;

	if (!conn || conn->closing || !conn->ops->queued)
		return 0;
	return conn->ops->queued(conn);
}

/* The response of r is complete: free r, then close or parse the next request. */
void dew__http_request_done(struct dew__http_request *r)
{
	struct dew_http_conn *conn = r->pub.conn;
	bool close = r->close_after;

	if (!conn) {
		dew__http_request_free(r);
		return;
	}
	conn->req = NULL;
	dew__http_request_free(r);
	if (close) {
		dew__http_conn_close(conn);
		return;
	}
	/* An answer from outside the parse loop (async handler) restarts parsing. */
	if (!conn->in_run)
		conn_resume(conn);
}

/* The clock for r's Date header. */
time_t dew__http_request_now(struct dew__http_request *r)
{
	return r->pub.conn ? conn_now(r->pub.conn) : time(NULL);
}
