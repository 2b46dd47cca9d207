// SPDX-License-Identifier: MIT
/*
 * Unit tests of the HTTP connection core, driven with no socket: bytes are fed in, and the
 * response bytes a client would read, the close request and the timers asked for are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "http-conn.h"
#include "tap.h"

#define DATE "Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"

struct harness {
	struct dew_http_conn *conn;
	struct dew_buf out; /* everything written, as the client reads it */
	struct dew_buf log; /* handler events */
	bool closed;
	int reading; /* last set_reading(), -1 before any */
	struct dew_http_req *pending[8];
	size_t n_pending;
	int aborts;
};

static void h_write(struct dew_http_conn *conn, char *data, size_t len)
{
	struct harness *h = dew__http_conn_transport(conn);
	dew_buf_append(&h->out, data, len);
	free(data);
}

static void h_close(struct dew_http_conn *conn)
{
	struct harness *h = dew__http_conn_transport(conn);
	h->closed = true;
}

static void h_set_reading(struct dew_http_conn *conn, bool on)
{
	struct harness *h = dew__http_conn_transport(conn);
	h->reading = on;
}

static time_t h_now(struct dew_http_conn *conn)
{
	return 1700000000;
}

static const struct dew__http_conn_ops ops = { h_write, h_close, h_set_reading, NULL, h_now, NULL };

/* ---- handlers ---- */

static void hello(struct dew_http_req *req)
{
	dew_http_respond(req, 200, "text/plain", "hello", 5);
}

static void echo(struct dew_http_req *req)
{
	dew_http_respond(req, 200, "application/octet-stream", req->body, req->body_len);
}

static void item(struct dew_http_req *req)
{
	char *q = dew_http_query(req, "q");
	char text[256];
	snprintf(text, sizeof text, "%s|%s|%s", dew_http_param(req, "id"), q ? q : "(none)", req->path);
	free(q);
	dew_http_respond(req, 200, "text/plain", text, strlen(text));
}

static void on_abort(struct dew_http_req *req)
{
	struct harness *h = req->server_data;
	h->aborts++;
}

static void async_req(struct dew_http_req *req)
{
	struct harness *h = req->server_data;
	req->on_abort = on_abort;
	h->pending[h->n_pending++] = req;
}

static void stream_req(struct dew_http_req *req)
{
	struct harness *h = req->server_data;
	dew_buf_printf(&h->log, "request %s;", dew_http_param(req, "name"));
	req->data = xzalloc(sizeof(size_t));
}

static int stream_body(struct dew_http_req *req, const char *data, size_t len)
{
	*(size_t *)req->data += len;
	if (!memchr(data, '!', len))
		return 0;
	/* Refusing hands the request back: release what the handler attached first. */
	free(req->data);
	return 422;
}

static void stream_end(struct dew_http_req *req)
{
	struct harness *h = req->server_data;
	size_t n = *(size_t *)req->data;
	free(req->data);
	dew_buf_printf(&h->log, "end %zu;", n);
	dew_http_respond_json(req, 201, json_pack("{s:I}", "bytes", (json_int_t)n));
}

static void reject(struct dew_http_req *req)
{
	dew_http_respond_error(req, 401, 401, "no token");
}

static void sse(struct dew_http_req *req)
{
	dew_http_stream_start(req, 200, "text/event-stream");
	dew_http_stream_write(req, "a", 1);
	dew_http_stream_write(req, "bc", 2);
	dew_http_stream_end(req);
}

static const struct dew_http_route routes[] = {
	{ "GET", "/hello", hello, NULL, NULL, 0 },
	{ "POST", "/echo", echo, NULL, NULL, 0 },
	{ "POST", "/small", echo, NULL, NULL, 8 },
	{ "GET", "/items/:id", item, NULL, NULL, 0 },
	{ "GET", "/async", async_req, NULL, NULL, 0 },
	{ "PUT", "/stream/:name", stream_req, stream_body, stream_end, 0 },
	{ "PUT", "/reject", reject, stream_body, NULL, 0 },
	{ "GET", "/sse", sse, NULL, NULL, 0 },
};

static void h_init(struct harness *h, const struct dew_http_limits *limits)
{
	memset(h, 0, sizeof *h);
	h->reading = -1;
	struct dew__http_conn_config cfg = {
		&ops, h, routes, DEW_ARRAY_SIZE(routes), limits, h, "192.0.2.1:4000",
	};
	h->conn = dew__http_conn_new(&cfg);
}

static void h_free(struct harness *h)
{
	dew__http_conn_free(h->conn);
	for (size_t i = 0; i < h->n_pending; i++)
		dew_http_respond(h->pending[i], 500, NULL, NULL, 0);
	dew_buf_close(&h->out);
	dew_buf_close(&h->log);
}

static intmax_t count(const char *haystack, const char *needle)
{
	intmax_t n = 0;

	for (const char *p = haystack; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void feed(struct harness *h, const char *s)
{
	dew__http_conn_feed(h->conn, s, strlen(s));
}

/* Feed s whole (split < 0), in two parts at split, or one byte at a time (split == 0). */
static char *run(const char *s, ssize_t split, bool *closed)
{
	struct harness h;
	size_t len = strlen(s);

	h_init(&h, NULL);
	if (split < 0) {
		dew__http_conn_feed(h.conn, s, len);
	} else if (split == 0) {
		for (size_t i = 0; i < len; i++)
			dew__http_conn_feed(h.conn, s + i, 1);
	} else {
		dew__http_conn_feed(h.conn, s, (size_t)split);
		dew__http_conn_feed(h.conn, s + split, len - (size_t)split);
	}
	*closed = h.closed;
	dew_buf_append(&h.out, h.log.data, h.log.len);
	char *out = dew_buf_steal(&h.out);
	h_free(&h);
	return out;
}

static const char *const split_cases[] = {
	"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde",
	"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	"3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nT: 1\r\n\r\n",
	"PUT /stream/f%20o HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789",
	"GET /hello HTTP/1.1\r\n\r\nGET /items/7?q=a+b HTTP/1.1\r\n\r\nHEAD /hello HTTP/1.1\r\n\r\n",
	"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
	"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	"GET /nope HTTP/1.0\r\n\r\nGET /hello HTTP/1.1\r\n\r\n",
	"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET /sse HTTP/1.1\r\n\r\nDELETE /hello HTTP/1.1\r\n\r\n",
};

static void test_splits(void)
{
	for (size_t c = 0; c < DEW_ARRAY_SIZE(split_cases); c++) {
		const char *s = split_cases[c];
		bool closed, closed2;
		cleanup_free char *whole = run(s, -1, &closed);
		size_t bad = 0;

		for (size_t i = 1; i < strlen(s); i++) {
			cleanup_free char *out = run(s, (ssize_t)i, &closed2);
			if (strcmp(out, whole) != 0 || closed != closed2)
				bad = bad ? bad : i;
		}
		cleanup_free char *bytes = run(s, 0, &closed2);
		tap_ok(bad == 0 && strcmp(bytes, whole) == 0 && closed == closed2,
		       "case %zu: same answer for every split (first bad split: %zu)", c, bad);
		if (c == 2)
			tap_has_str(whole, "Content-Length: 7\r\n\r\nabcdefg", "chunked body reassembled");
		if (c == 3)
			tap_has_str(whole, "{\"bytes\":10}request f o;end 10;", "streaming: head, body, end");
	}
}

static void test_get(void)
{
	struct harness h;

	h_init(&h, NULL);
	feed(&h, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	tap_is_str(h.out.data,
		   "HTTP/1.1 200 OK\r\n" DATE "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
		   "simple GET: exact response");
	tap_ok(!h.closed, "simple GET: keep-alive");
	tap_is_int(dew__http_conn_timer(h.conn), DEW__HTTP_TIMER_IDLE, "idle timer after the answer");
	dew_buf_reset(&h.out);
	feed(&h, "HEAD /hello HTTP/1.1\r\n\r\n");
	tap_is_str(h.out.data,
		   "HTTP/1.1 200 OK\r\n" DATE "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
		   "HEAD: length announced, no body");
	dew_buf_reset(&h.out);
	feed(&h, "GET /items/a%2Bb?x=1&q=%41%20b+c HTTP/1.1\r\n\r\n");
	tap_has_str(h.out.data, "\r\n\r\na+b|A b c|/items/a+b", "param and query percent-decoded");
	h_free(&h);
}

static void test_pipelining(void)
{
	struct harness h;

	h_init(&h, NULL);
	feed(&h, "GET /items/1 HTTP/1.1\r\n\r\nGET /items/2 HTTP/1.1\r\n\r\nGET /items/3 HTTP/1.1\r\n\r\n");
	const char *a = strstr(h.out.data, "1|(none)"), *b = strstr(h.out.data, "2|(none)");
	const char *c = strstr(h.out.data, "3|(none)");
	tap_ok(a && b && c && a < b && b < c, "three pipelined requests answered in order");

	h_free(&h);
	h_init(&h, NULL);
	feed(&h, "GET /async HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
	tap_is_int((intmax_t)h.out.len, 0, "async handler: the next response is held back");
	tap_is_int(dew__http_conn_timer(h.conn), DEW__HTTP_TIMER_NONE, "no timer while the handler works");
	tap_is_int((intmax_t)h.n_pending, 1, "the second request is not parsed yet");
	dew_http_respond(h.pending[0], 202, "text/plain", "later", 5);
	h.n_pending = 0;
	const char *late = strstr(h.out.data, "later"), *hi = strstr(h.out.data, "hello");
	tap_ok(late && hi && late < hi, "async answer first, then the pipelined one");
	tap_ok(!h.closed, "connection kept");
	h_free(&h);
}

static void test_keep_alive(void)
{
	struct harness h;

	h_init(&h, NULL);
	feed(&h, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
	tap_has_str(h.out.data, "Connection: close\r\n", "Connection: close echoed");
	tap_ok(h.closed, "closed after Connection: close");
	tap_is_int(count(h.out.data, "HTTP/1.1 "), 1, "nothing answered after the close");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "GET /hello HTTP/1.0\r\n\r\n");
	tap_has_str(h.out.data, "Connection: close\r\n", "HTTP/1.0: Connection: close");
	tap_ok(h.closed, "HTTP/1.0 without keep-alive closes");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	tap_has_str(h.out.data, "Connection: keep-alive\r\n", "HTTP/1.0 keep-alive confirmed");
	tap_ok(!h.closed, "HTTP/1.0 keep-alive stays open");
	h_free(&h);
}

/* Feed s to a fresh conn (limits may be NULL); return the first line and check the close. */
static void expect_error(const struct dew_http_limits *limits, const char *s, const char *status,
			 const char *desc, const char *name)
{
	struct harness h;

	h_init(&h, limits);
	feed(&h, s);
	tap_ok(h.out.data && strncmp(h.out.data, status, strlen(status)) == 0, "%s: %.*s", name,
	       (int)strcspn(status, "\r"), status);
	if (h.out.data && strncmp(h.out.data, status, strlen(status)) != 0)
		tap_diag("got: %.60s", h.out.data);
	tap_has_str(h.out.data, desc, "%s: description", name);
	tap_ok(h.closed, "%s: connection closed", name);
	h_free(&h);
}

static void test_errors(void)
{
	struct dew_buf b = DEW_BUF_INIT;

	dew_buf_puts(&b, "GET /hello HTTP/1.1\r\nX-Big: ");
	for (int i = 0; i < 17000; i++)
		dew_buf_putc(&b, 'a');
	dew_buf_puts(&b, "\r\n\r\n");
	expect_error(NULL, b.data, "HTTP/1.1 431 Request Header Fields Too Large\r\n",
		     "{\"code\":431,\"description\":\"request header fields too large (limit 16384 bytes)\"}",
		     "oversized header");
	dew_buf_reset(&b);
	dew_buf_puts(&b, "GET /");
	for (int i = 0; i < 17000; i++)
		dew_buf_putc(&b, 'a');
	dew_buf_puts(&b, " HTTP/1.1\r\n\r\n");
	expect_error(NULL, b.data, "HTTP/1.1 414 URI Too Long\r\n",
		     "request target too long (limit 16384 bytes)", "long URL");
	dew_buf_reset(&b);
	dew_buf_puts(&b, "GET /hello HTTP/1.1\r\n");
	for (int i = 0; i < 101; i++)
		dew_buf_printf(&b, "X-H%d: v\r\n", i);
	dew_buf_puts(&b, "\r\n");
	expect_error(NULL, b.data, "HTTP/1.1 431 ", "too many header fields (limit 100)", "too many headers");
	dew_buf_close(&b);

	expect_error(NULL, "GET\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", "malformed request",
		     "bad request line");
	expect_error(NULL, "GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 ", "HTTP version 2.0 not supported",
		     "HTTP/2.0");
	expect_error(NULL, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		     "HTTP/1.1 400 ", "both Content-Length and Transfer-Encoding", "CL + TE");
	expect_error(NULL, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		     "HTTP/1.1 400 ", "more than one Content-Length", "two Content-Lengths");
	expect_error(NULL, "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 ",
		     "unsupported transfer coding `gzip`", "gzip TE");
	expect_error(NULL, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HTTP/1.1 400 ",
		     "invalid chunk size", "bad chunk size");
	expect_error(NULL, "POST /small HTTP/1.1\r\nContent-Length: 100\r\n\r\n", "HTTP/1.1 413 ",
		     "request body too large (limit 8 bytes)", "Content-Length over the route limit");
	expect_error(NULL,
		     "POST /small HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nfghij",
		     "HTTP/1.1 413 ", "request body too large (limit 8 bytes)", "chunked over the limit");
	expect_error(&(struct dew_http_limits){ .max_body = 4 },
		     "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "HTTP/1.1 413 ", "(limit 4 bytes)",
		     "server body limit");
	expect_error(NULL, "GET /hello HTTP/1.1\r\nExpect: magic\r\n\r\n", "HTTP/1.1 417 ",
		     "unsupported expectation", "unknown Expect");
	expect_error(NULL, "PUT /stream/x HTTP/1.1\r\nContent-Length: 3\r\n\r\na!c", "HTTP/1.1 422 ",
		     "request body refused", "on_body refusal");
}

static void test_routing_errors(void)
{
	struct harness h;

	h_init(&h, NULL);
	feed(&h, "GET /nope HTTP/1.1\r\n\r\n");
	tap_has_str(h.out.data, "HTTP/1.1 404 Not Found\r\n", "404 status");
	tap_has_str(h.out.data, "\r\n\r\n{\"code\":404,\"description\":\"no route for GET /nope\"}",
		    "404 body");
	tap_ok(!h.closed, "404 without a body keeps the connection");
	dew_buf_reset(&h.out);
	feed(&h, "DELETE /hello HTTP/1.1\r\n\r\n");
	tap_has_str(h.out.data, "HTTP/1.1 405 Method Not Allowed\r\n", "405 status");
	tap_has_str(h.out.data, "Allow: GET, HEAD\r\n", "405 Allow header");
	dew_buf_reset(&h.out);
	feed(&h, "GET /items/%2e%2E HTTP/1.1\r\n\r\n");
	tap_has_str(h.out.data, "HTTP/1.1 400 ", "encoded .. refused");
	dew_buf_reset(&h.out);
	feed(&h, "POST /nope HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
	tap_has_str(h.out.data, "Connection: close\r\n", "404 before an unread body closes");
	tap_ok(h.closed, "closed");
	h_free(&h);
}

static void test_streaming(void)
{
	struct harness h;

	h_init(&h, NULL);
	feed(&h, "PUT /stream/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
	feed(&h, "2\r\nde\r\n0\r\n\r\n");
	tap_is_str(h.log.data, "request a;end 5;", "streaming: on_request, on_body, on_end");
	tap_has_str(h.out.data, "HTTP/1.1 201 Created\r\n", "streaming: answered at on_end");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "GET /sse HTTP/1.1\r\n\r\n");
	tap_has_str(h.out.data, "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n2\r\nbc\r\n0\r\n\r\n",
		    "streamed response is chunked");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "GET /sse HTTP/1.0\r\n\r\n");
	tap_ok(h.out.data && strstr(h.out.data, "Connection: close\r\n\r\nabc") && h.closed,
	       "HTTP/1.0 streamed response is close-delimited");
	h_free(&h);
}

static void test_continue(void)
{
	struct harness h;

	h_init(&h, NULL);
	feed(&h, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
	tap_is_str(h.out.data, "HTTP/1.1 100 Continue\r\n\r\n", "100 Continue before the body");
	feed(&h, "ok");
	tap_has_str(h.out.data, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", "then the answer");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "POST /small HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n");
	tap_ok(h.out.data && strncmp(h.out.data, "HTTP/1.1 413 ", 13) == 0, "over the limit: 413, no 100");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "PUT /reject HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n");
	tap_ok(h.out.data && strncmp(h.out.data, "HTTP/1.1 401 ", 13) == 0 && h.closed,
	       "streaming route refusing at the head: no 100, answer, close");
	h_free(&h);
}

static void test_timeouts_and_abort(void)
{
	struct harness h;

	h_init(&h, NULL);
	tap_is_int(dew__http_conn_timer(h.conn), DEW__HTTP_TIMER_HEADER, "new connection: header timer");
	feed(&h, "GET /hello HTTP/1.1\r\nHost:");
	dew__http_conn_timeout(h.conn);
	tap_has_str(h.out.data, "HTTP/1.1 408 Request Timeout\r\n", "partial head + timeout: 408");
	tap_has_str(h.out.data, "Connection: close\r\n", "408 closes");
	tap_ok(h.closed, "closed after 408");
	h_free(&h);

	h_init(&h, NULL);
	dew__http_conn_timeout(h.conn);
	tap_ok(h.closed && h.out.len == 0, "silent connection: closed without an answer");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "GET /hello HTTP/1.1\r\n\r\n");
	dew_buf_reset(&h.out);
	dew__http_conn_timeout(h.conn);
	tap_ok(h.closed && h.out.len == 0, "idle keep-alive timeout closes quietly");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
	tap_is_int(dew__http_conn_timer(h.conn), DEW__HTTP_TIMER_IDLE, "body arriving: idle timer");
	dew__http_conn_timeout(h.conn);
	tap_ok(h.closed && h.out.data && strstr(h.out.data, "HTTP/1.1 408 ") &&
		       strstr(h.out.data, "body timeout"),
	       "stalled body: 408 and close");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "GET /async HTTP/1.1\r\n\r\n");
	struct dew_http_req *req = h.pending[0];
	h.n_pending = 0;
	dew__http_conn_abort(h.conn);
	tap_is_int(h.aborts, 1, "abort calls on_abort");
	tap_ok(req->conn == NULL, "aborted request is detached");
	dew_http_stream_write(req, "x", 1); /* harmless before the answer */
	dew_http_respond(req, 200, "text/plain", "late", 4);
	tap_is_int((intmax_t)h.out.len, 0, "answer after abort writes nothing (and frees)");
	h_free(&h);

	h_init(&h, NULL);
	feed(&h, "GET /async HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
	req = h.pending[0];
	h.n_pending = 0;
	dew_http_stream_start(req, 200, "text/plain");
	dew_http_stream_write(req, "x", 1);
	dew__http_conn_abort(h.conn);
	dew_http_stream_write(req, "y", 1);
	dew_http_stream_end(req);
	tap_ok(h.out.data && strstr(h.out.data, "1\r\nx\r\n") && !strstr(h.out.data, "1\r\ny\r\n") &&
		       !strstr(h.out.data, "hello"),
	       "stream cut by an abort: nothing after it, ending it releases the request");
	h_free(&h);
}

static void test_backpressure(void)
{
	struct harness h;
	size_t n = DEW__HTTP_MAX_PENDING / 20 + 10;
	struct dew_buf b = DEW_BUF_INIT;

	h_init(&h, NULL);
	feed(&h, "GET /async HTTP/1.1\r\n\r\n");
	for (size_t i = 0; i < n; i++)
		dew_buf_puts(&b, "GET /hello HTTP/1.1\r\n\r\n");
	dew__http_conn_feed(h.conn, b.data, b.len);
	tap_is_int(h.reading, 0, "too much queued input: reading stopped");
	dew_http_respond(h.pending[0], 200, NULL, NULL, 0);
	h.n_pending = 0;
	tap_is_int(h.reading, 1, "queue drained: reading resumed");
	tap_is_int(count(h.out.data, "HTTP/1.1 200"), (intmax_t)n + 1, "every queued request answered");
	dew_buf_close(&b);
	h_free(&h);
}

int main(void)
{
	test_get();
	test_splits();
	test_pipelining();
	test_keep_alive();
	test_errors();
	test_routing_errors();
	test_streaming();
	test_continue();
	test_timeouts_and_abort();
	test_backpressure();
	return tap_done();
}
