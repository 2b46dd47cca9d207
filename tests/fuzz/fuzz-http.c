// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the HTTP connection core: the input is fed to a conn in up to 8 chunks
 * (split points taken from the input) with small limits, against buffered, streaming and
 * asynchronous routes; pending requests are answered (or aborted) at the end.
 *
 * Input: byte 0 = flags (bits 0-2: split count, 3: abort before answering, 4: fire the timer,
 * 5: answer async by a stream), then one byte per split point, then the bytes of the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "http-conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz {
	struct dew_buf out;
	bool closed;
	struct dew_http_req *pending; /* held by the async route */
	struct dew_http_req *aborted; /* a streaming request whose client went away */
	unsigned flags;
};

static void fz_write(struct dew_http_conn *conn, char *data, size_t len)
{
	struct fuzz *fz = dew__http_conn_transport(conn);

	/* Every byte we send must belong to a response: a status line comes first. */
	if (fz->out.len == 0 && (len < 9 || memcmp(data, "HTTP/1.1 ", 9) != 0))
		__builtin_trap();
	if (fz->closed)
		__builtin_trap(); /* nothing may be written after close */
	if (fz->out.len < 1 << 20)
		dew_buf_append(&fz->out, data, len);
	free(data);
}

static void fz_close(struct dew_http_conn *conn)
{
	struct fuzz *fz = dew__http_conn_transport(conn);

	if (fz->closed)
		__builtin_trap(); /* ops->close is called once */
	fz->closed = true;
}

static time_t fz_now(struct dew_http_conn *conn)
{
	return 1700000000;
}

static const struct dew__http_conn_ops fz_ops = { fz_write, fz_close, NULL, NULL, fz_now, NULL };

static void root(struct dew_http_req *req)
{
	dew_http_add_header(req, "X-Route", "root");
	dew_http_respond(req, 200, "text/plain", "ok", 2);
}

static void echo(struct dew_http_req *req)
{
	if (strlen(req->body) > req->body_len)
		__builtin_trap(); /* the buffered body is NUL-terminated at body_len */
	char *q = dew_http_query(req, "q");
	dew_http_add_header(req, "X-Id", dew_http_param(req, "id"));
	dew_http_add_header(req, "X-Q", q ? q : "-");
	free(q);
	dew_http_respond(req, 200, "application/octet-stream", req->body, req->body_len);
}

/* The rule of http.h: after on_abort the handler still answers once, which releases req. */
static void stream_abort(struct dew_http_req *req)
{
	struct fuzz *fz = req->server_data;

	if (fz->aborted || req->conn)
		__builtin_trap();
	fz->aborted = req;
}

static void stream_request(struct dew_http_req *req)
{
	req->data = NULL;
	req->on_abort = stream_abort;
	if (dew_http_header(req, "X-Early"))
		dew_http_respond_error(req, 401, 401, "early answer for %s", dew_http_param(req, "*"));
}

static int stream_body(struct dew_http_req *req, const char *data, size_t len)
{
	req->data = (void *)((uintptr_t)req->data + len);
	return memchr(data, 'X', len) ? 413 : 0;
}

static void stream_end(struct dew_http_req *req)
{
	dew_http_respond_json(req, 201, json_pack("{s:I}", "bytes", (json_int_t)(uintptr_t)req->data));
}

static void async(struct dew_http_req *req)
{
	struct fuzz *fz = req->server_data;

	if (fz->pending)
		__builtin_trap(); /* one request at a time */
	fz->pending = req;
}

static void sse(struct dew_http_req *req)
{
	dew_http_stream_start(req, 200, "text/event-stream");
	dew_http_stream_write(req, "data: 1\n\n", 9);
	dew_http_stream_end(req);
}

static const struct dew_http_route routes[] = {
	{ "GET", "/", root, NULL, NULL, 0 },
	{ "POST", "/buf/:id", echo, NULL, NULL, 64 },
	{ "PUT", "/stream/*", stream_request, stream_body, stream_end, 0 },
	{ "GET", "/async", async, NULL, NULL, 0 },
	{ "GET", "/sse", sse, NULL, NULL, 0 },
	{ NULL, "/any/:a/:b", root, NULL, NULL, 0 },
};

static const struct dew_http_limits limits = {
	.max_header_bytes = 256,
	.max_headers = 8,
	.max_body = 128,
	.header_timeout_ms = 1,
	.idle_timeout_ms = 1,
	.max_connections = 1,
};

/* Answer the held request; answering lets the conn parse on, which may hold the next one. */
static void answer_pending(struct fuzz *fz)
{
	for (int i = 0; fz->pending && i < 1000; i++) {
		struct dew_http_req *req = fz->pending;
		fz->pending = NULL;
		if (fz->flags & 0x20) {
			dew_http_stream_start(req, 200, "text/plain");
			dew_http_stream_write(req, "late", 4);
			dew_http_stream_end(req);
		} else {
			dew_http_respond_json(req, 200, json_pack("{s:s}", "path", req->path));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz fz = { DEW_BUF_INIT, false, NULL, NULL, 0 };
	size_t splits[8];

	if (size < 1)
		return 0;
	fz.flags = data[0];
	size_t n_splits = fz.flags & 7;
	if (size < 1 + n_splits)
		return 0;
	const char *body = (const char *)data + 1 + n_splits;
	size_t len = size - 1 - n_splits;
	for (size_t i = 0; i < n_splits; i++)
		splits[i] = len ? data[1 + i] * len / 256 : 0;

	struct dew__http_conn_config cfg = {
		&fz_ops, &fz, routes, DEW_ARRAY_SIZE(routes), &limits, &fz, "fuzz",
	};
	struct dew_http_conn *conn = dew__http_conn_new(&cfg);
	size_t off = 0;
	for (size_t i = 0; i <= n_splits; i++) {
		size_t end = i < n_splits ? splits[i] : len;
		if (end > off) {
			dew__http_conn_feed(conn, body + off, end - off);
			off = end;
		}
	}
	if (fz.flags & 0x08)
		dew__http_conn_abort(conn);
	answer_pending(&fz);
	if (fz.flags & 0x10)
		dew__http_conn_timeout(conn);
	answer_pending(&fz);
	dew__http_conn_free(conn);
	/* Freed with a request held: the handler still answers, which only releases it. */
	answer_pending(&fz);
	if (fz.aborted)
		dew_http_respond_error(fz.aborted, 500, 500, "aborted");
	dew_buf_close(&fz.out);
	return 0;
}
