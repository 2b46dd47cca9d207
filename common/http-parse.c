// SPDX-License-Identifier: MIT
/*
 * Request parsing: http-parser callbacks assemble struct dew__http_request (every size bounded
 * before anything is stored), refuse what the server does not implement, route at the end of
 * the head, buffer or stream the body and hand complete requests to their handlers.
 */
#include <http_parser.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "http-conn.h"

/* ---- parser callbacks: head ---- */

static int on_message_begin(http_parser *p)
{
	struct dew_http_conn *conn = p->data;

	/* A request still here would be a bug: only answered ones let the parser go on. */
	if (conn->closing || conn->req)
		return -1;
	struct dew__http_request *r = xzalloc(sizeof *r);
	r->pub.conn = conn;
	r->pub.server_data = conn->server_data;
	r->pub.query = "";
	snprintf(r->pub.remote_addr, sizeof r->pub.remote_addr, "%s", conn->remote_addr);
	conn->req = r;
	conn->n_requests++;
	dew_buf_reset(&conn->url);
	dew_buf_reset(&conn->field);
	dew_buf_reset(&conn->value);
	conn->in_value = false;
	conn->head_bytes = 0;
	conn->n_trailers = 0;
	return 0;
}

static int head_grow(struct dew_http_conn *conn, size_t len)
{
	if (len > conn->limits.max_header_bytes - conn->head_bytes)
		return dew__http_conn_fail(conn, 431, "request header fields too large (limit %zu bytes)",
					   conn->limits.max_header_bytes);
	conn->head_bytes += len;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct dew_http_conn *conn = p->data;

	if (conn->closing || !conn->req)
		return -1;
	if (len > conn->limits.max_header_bytes - conn->url.len)
		return dew__http_conn_fail(conn, 414, "request target too long (limit %zu bytes)",
					   conn->limits.max_header_bytes);
	if (head_grow(conn, len) < 0)
		return -1;
	dew_buf_append(&conn->url, at, len);
	return 0;
}

/* Store the header just read (name in conn->field, value in conn->value). */
static int push_header(struct dew_http_conn *conn, struct dew__http_request *r)
{
	const char *f = conn->field.data ? conn->field.data : "";
	const char *v = conn->value.data ? conn->value.data : "";
	size_t vlen = conn->value.len;

	conn->in_value = false;
	if (head_grow(conn, 4) < 0) /* ": " and CRLF */
		return -1;
	if (r->head_done) {
		/* A trailer of a chunked body: counted, not kept. */
		if (++conn->n_trailers > conn->limits.max_headers)
			return dew__http_conn_fail(conn, 431, "too many trailer fields (limit %zu)",
						   conn->limits.max_headers);
		goto reset;
	}
	if (r->n_headers >= conn->limits.max_headers)
		return dew__http_conn_fail(conn, 431, "too many header fields (limit %zu)",
					   conn->limits.max_headers);
	if (memchr(f, '\0', conn->field.len) || memchr(v, '\0', vlen))
		return dew__http_conn_fail(conn, 400, "NUL byte in header `%s`", f);
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (r->n_headers == r->cap_headers) {
		r->cap_headers = r->cap_headers ? 2 * r->cap_headers : 16;
		r->headers = xreallocarray(r->headers, r->cap_headers, sizeof *r->headers);
	}
	r->headers[r->n_headers].name = xstrndup(f, conn->field.len);
	r->headers[r->n_headers].value = xstrndup(v, vlen);
	r->pub.headers = r->headers;
	r->pub.n_headers = ++r->n_headers;
reset:
	dew_buf_reset(&conn->field);
	dew_buf_reset(&conn->value);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct dew_http_conn *conn = p->data;

	if (conn->closing || !conn->req)
		return -1;
	if (conn->in_value && push_header(conn, conn->req) < 0)
		return -1;
	if (head_grow(conn, len) < 0)
		return -1;
	dew_buf_append(&conn->field, at, len);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct dew_http_conn *conn = p->data;

	if (conn->closing || !conn->req)
		return -1;
	if (head_grow(conn, len) < 0)
		return -1;
	conn->in_value = true;
	dew_buf_append(&conn->value, at, len);
	return 0;
}

/* ---- head complete: validate, route, start ---- */

/* Fill the public fields from the parser and refuse what we do not implement. */
static int fill_request(struct dew_http_conn *conn, struct dew__http_request *r, char **raw_path)
{
	http_parser *p = &conn->parser;
	const char *te = dew_http_header(&r->pub, "Transfer-Encoding");

	r->pub.method = http_method_str((enum http_method)p->method);
	r->pub.http_major = p->http_major;
	r->pub.http_minor = p->http_minor;
	r->target = dew_buf_steal(&conn->url);
	r->pub.target = r->target;
	r->is_head = p->method == HTTP_HEAD;
	r->pub.keep_alive = http_should_keep_alive(p);
	/* http-parser leaves content_length at ULLONG_MAX when the header is absent. */
	if (p->flags & F_CHUNKED)
		r->pub.content_length = UINT64_MAX;
	else
		r->pub.content_length = p->content_length == UINT64_MAX ? 0 : p->content_length;
	r->body_done = !(p->flags & F_CHUNKED) && r->pub.content_length == 0;

	if (p->http_major != 1 || p->http_minor > 1)
		return dew__http_conn_fail(conn, 505, "HTTP version %u.%u not supported", p->http_major,
					   p->http_minor);
	const char *bad = dew__http_split_target(r->target, raw_path, &r->query);
	r->pub.query = r->query ? r->query : "";
	if (bad)
		return dew__http_conn_fail(conn, 400, "%s", bad);
	/* Only "chunked" is decoded; anything else would hand the handler an encoded body. */
	for (size_t i = 0, n = 0; i < r->n_headers; i++) {
		if (strcasecmp(r->headers[i].name, "Transfer-Encoding") == 0 && ++n > 1)
			return dew__http_conn_fail(conn, 501, "more than one Transfer-Encoding header");
	}
	if (te && strcasecmp(te, "chunked") != 0)
		return dew__http_conn_fail(conn, 501, "unsupported transfer coding `%s` (only chunked)", te);
	const char *expect = dew_http_header(&r->pub, "Expect");
	if (expect && strcasecmp(expect, "100-continue") != 0)
		return dew__http_conn_fail(conn, 417, "unsupported expectation `%s`", expect);
	return 0;
}

/* Route the request; answer 400/404/405 at once. Returns 0 when routed, 1 when answered. */
static int route_request(struct dew_http_conn *conn, struct dew__http_request *r, const char *raw_path)
{
	struct dew__http_match m;
	int status = dew__http_route(conn->routes, conn->n_routes, r->pub.method, raw_path, &m);

	r->path = m.path ? steal_pointer(&m.path) : xstrdup(raw_path);
	r->pub.path = r->path;
	r->params = steal_pointer(&m.params);
	r->n_params = m.n_params;
	m.n_params = 0;
	if (status == 0) {
		r->pub.route = m.route;
		dew__http_match_close(&m);
		return 0;
	}
	/* Through the normal response path: the connection survives when no body follows. */
	if (status == 400) {
		dew_http_respond_error(&r->pub, 400, 400, "%s", m.error);
	} else if (status == 405) {
		dew_http_add_header(&r->pub, "Allow", m.allow);
		dew_http_respond_error(&r->pub, 405, 405, "method %s not allowed for %s (allowed: %s)",
				       r->pub.method, raw_path, m.allow);
	} else {
		dew_http_respond_error(&r->pub, 404, 404, "no route for %s %s", r->pub.method, raw_path);
	}
	dew__http_match_close(&m);
	return 1;
}

static void send_continue(struct dew_http_conn *conn)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	conn->ops->write(conn, xstrdup(cont), sizeof cont - 1);
}

static int start_request(struct dew_http_conn *conn, struct dew__http_request *r)
{
	const struct dew_http_route *route = r->pub.route;
	/* A 1.0 client never waits for 100 (RFC 9110 10.1.1); nor does one sending no body. */
	bool want_continue = !r->body_done && r->pub.http_minor >= 1 && dew_http_header(&r->pub, "Expect");

	r->body_limit = route->max_body ? route->max_body : conn->limits.max_body;
	if (r->pub.content_length != UINT64_MAX && r->pub.content_length > r->body_limit)
		return dew__http_conn_fail(conn, 413, "request body too large (limit %llu bytes)",
					   (unsigned long long)r->body_limit);
	if (!route->on_body) {
		/* Not all of it: a client could claim max_body on every connection and send nothing. */
		if (r->pub.content_length != UINT64_MAX)
			dew_buf_reserve(&r->body,
					r->pub.content_length < 65536 ? r->pub.content_length : 65536);
		if (want_continue)
			send_continue(conn);
		return 0;
	}
	/* Streaming: the handler sees the head first and may refuse before any body is sent. */
	r->handled = true;
	route->on_request(&r->pub);
	if (!conn->req || conn->closing)
		return conn->closing ? -1 : 0;
	if (want_continue && !r->started)
		send_continue(conn);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct dew_http_conn *conn = p->data;
	struct dew__http_request *r = conn->req;
	cleanup_free char *raw_path = NULL;

	if (conn->closing || !r)
		return -1;
	if (conn->in_value && push_header(conn, r) < 0)
		return -1;
	/* No protocol upgrades (WebSocket, CONNECT tunnels): a plain request, then the next one. */
	p->upgrade = 0;
	r->head_done = true;
	if (fill_request(conn, r, &raw_path) < 0)
		return -1;
	if (route_request(conn, r, raw_path) != 0)
		return conn->closing ? -1 : 0;
	return start_request(conn, r);
}

/* ---- body and end of message ---- */

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct dew_http_conn *conn = p->data;
	struct dew__http_request *r = conn->req;

	if (conn->closing || !r)
		return -1;
	if (len > r->body_limit - r->body_seen)
		return dew__http_conn_fail(conn, 413, "request body too large (limit %llu bytes)",
					   (unsigned long long)r->body_limit);
	r->body_seen += len;
	if (!r->pub.route->on_body) {
		dew_buf_append(&r->body, at, len);
		return 0;
	}
	int status = r->pub.route->on_body(&r->pub, at, len);
	if (!conn->req || conn->closing)
		return -1; /* answered (early: the rest of the body is never read) or aborted */
	if (status == 0)
		return 0;
	/* The handler hands the request back: answer for it, or cut a response it had started. */
	if (r->started) {
		conn->req = NULL;
		dew__http_request_free(r);
		dew__http_conn_close(conn);
		return -1;
	}
	dew_http_respond_error(&r->pub, status, status, "request body refused: %s",
			       dew_http_status_text(status));
	return -1;
}

static int on_message_complete(http_parser *p)
{
	struct dew_http_conn *conn = p->data;
	struct dew__http_request *r = conn->req;

	if (conn->closing)
		return -1;
	/* Back to the run loop after every message: it goes on only once this one is answered. */
	http_parser_pause(p, 1);
	if (!r)
		return 0; /* answered at headers-complete (404 without a body) */
	r->complete = r->body_done = true;
	if (!r->pub.route->on_body) {
		dew_buf_append(&r->body, "", 0); /* NUL-terminates, also a reserved empty buffer */
		r->pub.body = r->body.data;
		r->pub.body_len = r->body.len;
		r->handled = true;
		r->pub.route->on_request(&r->pub);
	} else if (r->pub.route->on_end) {
		r->pub.route->on_end(&r->pub);
	}
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static const struct {
	enum http_errno e;
	int status;
	const char *text;
} parse_errors[] = {
	{ HPE_INVALID_TRANSFER_ENCODING, 501, "unsupported Transfer-Encoding (only chunked)" },
	{ HPE_INVALID_CHUNK_SIZE, 400, "invalid chunk size in the request body" },
	{ HPE_INVALID_CONTENT_LENGTH, 400, "invalid Content-Length or chunk size" },
	{ HPE_INVALID_VERSION, 400, "malformed HTTP version in the request line" },
	{ HPE_INVALID_METHOD, 400, "malformed request line: unknown method" },
	{ HPE_INVALID_URL, 400, "malformed request line: invalid request target" },
};

static void parse_error(struct dew_http_conn *conn, enum http_errno e)
{
	bool te = conn->field.len && strcasecmp(conn->field.data, "Transfer-Encoding") == 0;

	if (e == HPE_HEADER_OVERFLOW) {
		dew__http_conn_fail(conn, 431, "request header fields too large (limit %zu bytes)",
				    conn->limits.max_header_bytes);
		return;
	}
	if (e == HPE_UNEXPECTED_CONTENT_LENGTH) {
		/* Smuggling territory (RFC 9112 6.3): never guess which framing the client meant. */
		te = te || (conn->req && dew_http_header(&conn->req->pub, "Transfer-Encoding"));
		dew__http_conn_fail(conn, 400, "%s",
				    te ? "request has both Content-Length and Transfer-Encoding"
				       : "request has more than one Content-Length");
		return;
	}
	for (size_t i = 0; i < DEW_ARRAY_SIZE(parse_errors); i++) {
		if (parse_errors[i].e == e) {
			dew__http_conn_fail(conn, parse_errors[i].status, "%s", parse_errors[i].text);
			return;
		}
	}
	dew__http_conn_fail(conn, 400, "malformed request: %s", http_errno_description(e));
}

/* Run http-parser over data, one message at a time. */
size_t dew__http_parse(struct dew_http_conn *conn, const char *data, size_t len)
{
	size_t off = 0;

	conn->in_run = true;
	while (off < len && !conn->closing && !dew__http_conn_waiting(conn)) {
		size_t n = http_parser_execute(&conn->parser, &parser_settings, data + off, len - off);
		enum http_errno e = HTTP_PARSER_ERRNO(&conn->parser);
		off += n;
		if (e == HPE_PAUSED) {
			http_parser_pause(&conn->parser, 0);
		} else if (e != HPE_OK) {
			if (!conn->closing)
				parse_error(conn, e);
		} else if (off < len) {
			dew__http_conn_fail(conn, 400, "malformed request: parser stopped early");
		}
	}
	conn->in_run = false;
	return off;
}
