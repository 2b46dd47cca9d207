// SPDX-License-Identifier: MIT
/*
 * dew_http_send_file: a file answered from the loop. The HTTP core queues whatever a handler
 * writes, so the sender itself provides the backpressure: one chunk per loop iteration (idle
 * handle) while the connection's write queue is short, a short timer while it is long.
 */
#include "http-file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"

/* One file being sent: lives from the first chunk until both its handles are closed. */
struct http_file {
	struct dew_http_req *req; /* NULL once answered (end of file, read error, client gone) */
	uv_idle_t idle;		  /* a chunk per loop iteration */
	uv_timer_t wait;	  /* paused while the client is behind */
	int open_handles;
	int fd;
	uint64_t off, end;
	char buf[DEW_HTTP_FILE_CHUNK];
};

static void http_file_closed(uv_handle_t *h)
{
	struct http_file *f = h->data;

	if (--f->open_handles == 0)
		free(f);
}

/* End the response (which releases req), then let go of the file and the handles. */
static void http_file_finish(struct http_file *f)
{
	struct dew_http_req *req = f->req;

	if (!req)
		return;
	f->req = NULL;
	dew_http_stream_end(req);
	close(f->fd);
	f->fd = -1;
	/* f stays valid until the close callbacks: a caller up the stack may still look at it. */
	uv_close((uv_handle_t *)&f->idle, http_file_closed);
	uv_close((uv_handle_t *)&f->wait, http_file_closed);
}

/* The client went away: answer (which only releases the request) and stop. */
static void http_file_abort(struct dew_http_req *req)
{
	http_file_finish(req->data);
}

static void http_file_chunk(uv_idle_t *idle);

/* The pause is over: back to a chunk per iteration (which looks at the queue again). */
static void http_file_resume(uv_timer_t *t)
{
	struct http_file *f = t->data;

	uv_idle_start(&f->idle, http_file_chunk);
}

/* One chunk per loop iteration, so a big file never holds the loop for long. */
static void http_file_chunk(uv_idle_t *idle)
{
	struct http_file *f = idle->data;

	if (dew_http_write_queue_size(f->req) > DEW_HTTP_FILE_MAX_QUEUED) {
		/* An idle handle would spin the loop at full speed while the client catches up. */
		uv_idle_stop(&f->idle);
		uv_timer_start(&f->wait, http_file_resume, DEW_HTTP_FILE_WAIT_MS, 0);
		return;
	}
	uint64_t left = f->end - f->off;
	size_t want = left < DEW_HTTP_FILE_CHUNK ? (size_t)left : DEW_HTTP_FILE_CHUNK;
	ssize_t n = want ? pread(f->fd, f->buf, want, (off_t)f->off) : 0;

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		/* Short of end: the file shrank (or failed) while being sent; the body ends early. */
		if (n < 0)
			dew_warn("http: send file: read: %s", strerror(errno));
		http_file_finish(f);
		return;
	}
	f->off += (uint64_t)n;
	dew_http_stream_write(f->req, f->buf, (size_t)n);
	/* The write may have found the client gone: on_abort has then finished f already. */
	if (f->req && f->off >= f->end)
		http_file_finish(f);
}

/* The whole of a small range in one answer. */
static void http_file_send_small(struct dew_http_req *req, int fd, uint64_t start, uint64_t end,
				 const char *type)
{
	cleanup_free char *buf = xmalloc(DEW_HTTP_FILE_CHUNK);
	ssize_t n;

	do
		n = pread(fd, buf, (size_t)(end - start), (off_t)start);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0) {
		dew_warn("http: send file: read: %s", strerror(e));
		dew_http_respond_error(req, 500, 500, "reading the file failed: %s", strerror(e));
		return;
	}
	dew_http_respond(req, 200, type, buf, (size_t)n);
}

/* Answer req with bytes [start, end) of fd. */
void dew_http_send_file(struct dew_http_req *req, uv_loop_t *loop, int fd, uint64_t start, uint64_t end,
			const char *content_type)
{
	const char *type = content_type ? content_type : "application/octet-stream";

	if (end < start)
		end = start;
	if (end - start <= DEW_HTTP_FILE_CHUNK) {
		http_file_send_small(req, fd, start, end, type);
		return;
	}
	if (strcmp(req->method, "HEAD") == 0) {
		close(fd);
		dew_http_stream_start(req, 200, type);
		dew_http_stream_end(req);
		return;
	}
	if (!loop) {
		close(fd);
		dew_err("http: send file: no loop to stream from");
		dew_http_respond_error(req, 500, 500, "the server cannot stream files");
		return;
	}
	struct http_file *f = xzalloc(sizeof *f);
	f->req = req;
	f->fd = fd;
	f->off = start;
	f->end = end;
	uv_idle_init(loop, &f->idle);
	uv_timer_init(loop, &f->wait);
	f->idle.data = f->wait.data = f;
	f->open_handles = 2;
	req->data = f;
	/* Set before the head goes out: writing it may already find the client gone. */
	req->on_abort = http_file_abort;
	uv_idle_start(&f->idle, http_file_chunk);
	dew_http_stream_start(req, 200, type);
}
