// SPDX-License-Identifier: MIT
/*
 * Tests of dew_http_send_file over a real socket: the server listens on 127.0.0.1, port 0, in
 * the test's own loop; the client is a plain non-blocking socket read from a timer in that same
 * loop, a little at a time, so it lags behind the server. What the server has queued for the
 * client is read from its connections' libuv handles on every tick and must stay bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "http-file.h"
#include "http.h"
#include "tap.h"
#include "testutil.h"

enum {
	FILE_SIZE = 16 << 20,
	READ_PER_TICK = 32 * 1024, /* the client takes at most this much per millisecond */
	CLIENT_RCVBUF = 64 * 1024,
	DEADLINE_MS = 60000,
};

struct test {
	uv_loop_t loop;
	uv_timer_t tick;
	struct dew_http_server *server;
	int port;
	int file; /* the test file, FILE_SIZE bytes of pattern() */
	/* the client */
	int fd;
	struct dew_buf got;
	size_t stop_after; /* abort (RST) once this much arrived; 0: read to EOF */
	bool eof;
	size_t max_queued; /* the most the server had queued on any tick */
	uint64_t ticks;
};

static unsigned char pattern(uint64_t i)
{
	return (unsigned char)(i * 7 + (i >> 12));
}

/* GET /file: the whole file; GET /range: bytes [1000, 2000); GET /tail: the last 100000. */
static void serve(struct dew_http_req *req)
{
	struct test *t = req->server_data;
	int fd = dup(t->file);

	if (strcmp(req->path, "/range") == 0)
		dew_http_send_file(req, &t->loop, fd, 1000, 2000, "text/plain");
	else if (strcmp(req->path, "/tail") == 0)
		dew_http_send_file(req, &t->loop, fd, FILE_SIZE - 100000, FILE_SIZE, NULL);
	else
		dew_http_send_file(req, &t->loop, fd, 0, FILE_SIZE, NULL);
}

static const struct dew_http_route routes[] = {
	{ "GET", "/file", serve, NULL, NULL, 0 },
	{ "GET", "/range", serve, NULL, NULL, 0 },
	{ "GET", "/tail", serve, NULL, NULL, 0 },
};

/* The server's connections are the loop's TCP handles other than its listener. */
static void sum_queued(uv_handle_t *h, void *arg)
{
	size_t *sum = arg;

	if (h->type == UV_TCP && !uv_is_closing(h))
		*sum += ((uv_stream_t *)h)->write_queue_size;
}

static void on_tick(uv_timer_t *timer)
{
	struct test *t = timer->data;
	char buf[READ_PER_TICK];
	size_t queued = 0;

	uv_walk(&t->loop, sum_queued, &queued);
	if (queued > t->max_queued)
		t->max_queued = queued;
	if (++t->ticks > DEADLINE_MS) {
		tap_diag("the client gave up after %d ms", DEADLINE_MS);
		uv_stop(&t->loop);
		return;
	}
	ssize_t n = recv(t->fd, buf, sizeof buf, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		dew_buf_append(&t->got, buf, (size_t)n);
	if (n > 0 && !(t->stop_after && t->got.len >= t->stop_after))
		return;
	t->eof = n == 0;
	uv_timer_stop(timer);
	uv_stop(&t->loop);
}

/* Send one request (Connection: close) and read the answer slowly until EOF or stop_after. */
static bool fetch(struct test *t, const char *method, const char *path, size_t stop_after)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)t->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int rcvbuf = CLIENT_RCVBUF;
	cleanup_free char *req =
		xasprintf("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method, path);

	dew_buf_close(&t->got);
	t->eof = false;
	t->max_queued = 0;
	t->ticks = 0;
	t->stop_after = stop_after;
	t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Before connect, so that the window the server sees is small from the start. */
	setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	/* The listener is bound: the kernel completes the handshake before the loop accepts. */
	if (t->fd < 0 || connect(t->fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    send(t->fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		tap_diag("client: %s", strerror(errno));
		return false;
	}
	uv_timer_start(&t->tick, on_tick, 1, 1);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	return true;
}

static void client_close(struct test *t, bool reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (reset)
		setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(t->fd);
	t->fd = -1;
}

/* The body of a response in got (chunked or with a Content-Length) into body; false if malformed. */
static bool decode(const struct dew_buf *got, struct dew_buf *body, bool *chunked)
{
	const char *end = got->len ? memmem(got->data, got->len, "\r\n\r\n", 4) : NULL;

	if (!end)
		return false;
	cleanup_free char *head = xstrndup(got->data, (size_t)(end - got->data));
	const char *p = end + 4, *lim = got->data + got->len;
	*chunked = strstr(head, "Transfer-Encoding: chunked") != NULL;
	if (!*chunked) {
		dew_buf_append(body, p, (size_t)(lim - p));
		return true;
	}
	for (;;) {
		char *next;
		unsigned long len = strtoul(p, &next, 16);
		if (next == p || lim - next < 2 || memcmp(next, "\r\n", 2) != 0)
			return false;
		p = next + 2;
		if (len == 0)
			return lim - p == 2 && memcmp(p, "\r\n", 2) == 0;
		if ((unsigned long)(lim - p) < len + 2 || memcmp(p + len, "\r\n", 2) != 0)
			return false;
		dew_buf_append(body, p, len);
		p += len + 2;
	}
}

/* body equals bytes [start, start + len) of the file. */
static bool intact(const struct dew_buf *body, uint64_t start, uint64_t len)
{
	if (body->len != len)
		return false;
	for (uint64_t i = 0; i < len; i++)
		if ((unsigned char)body->data[i] != pattern(start + i))
			return false;
	return true;
}

static void test_small(struct test *t)
{
	struct dew_buf body = DEW_BUF_INIT;
	bool chunked = true;

	fetch(t, "GET", "/range", 0);
	client_close(t, false);
	tap_has_str(t->got.data ? t->got.data : "", "HTTP/1.1 200", "a small range: 200");
	tap_has_str(t->got.data ? t->got.data : "", "Content-Length: 1000\r\n",
		    "a small range: Content-Length");
	tap_ok(decode(&t->got, &body, &chunked) && !chunked && intact(&body, 1000, 1000),
	       "a small range: exactly its bytes");
	dew_buf_close(&body);
	fetch(t, "GET", "/tail", 0);
	client_close(t, false);
	tap_ok(decode(&t->got, &body, &chunked) && chunked && intact(&body, FILE_SIZE - 100000, 100000),
	       "a range over one chunk: streamed, exactly its bytes");
	dew_buf_close(&body);
	fetch(t, "HEAD", "/file", 0);
	client_close(t, false);
	const char *head_end = t->got.len ? memmem(t->got.data, t->got.len, "\r\n\r\n", 4) : NULL;
	tap_ok(t->eof && head_end && head_end + 4 == t->got.data + t->got.len &&
		       strncmp(t->got.data, "HTTP/1.1 200", 12) == 0,
	       "HEAD: 200, no body");
	dew_buf_close(&body);
}

static void test_slow_client(struct test *t)
{
	struct dew_buf body = DEW_BUF_INIT;
	bool chunked = false;

	fetch(t, "GET", "/file", 0);
	client_close(t, false);
	tap_ok(t->eof, "a slow client reads to the end (%zu bytes in %" PRIu64 " ms)", t->got.len, t->ticks);
	tap_ok(decode(&t->got, &body, &chunked) && chunked && intact(&body, 0, FILE_SIZE),
	       "16 MiB arrive intact, chunked");
	/* Without backpressure nearly the whole file would sit in the queue at once. */
	tap_ok(t->max_queued <= DEW_HTTP_FILE_MAX_QUEUED + 2 * DEW_HTTP_FILE_CHUNK,
	       "the server's queue stays bounded: at most %zu bytes (limit %d)", t->max_queued,
	       DEW_HTTP_FILE_MAX_QUEUED);
	tap_ok(t->max_queued >= 1 << 20, "the client was slow enough to fill the queue (%zu bytes)",
	       t->max_queued);
	dew_buf_close(&body);
}

static void on_pause(uv_timer_t *timer)
{
	uv_stop(timer->loop);
}

static void test_abort(struct test *t)
{
	struct dew_buf body = DEW_BUF_INIT;
	bool chunked = false;

	fetch(t, "GET", "/file", 1 << 20);
	tap_ok(!t->eof && t->got.len >= 1 << 20, "a client starts a big download");
	client_close(t, true);
	/* Give the server a few turns to meet the reset while it sends or waits. */
	uv_timer_start(&t->tick, on_pause, 50, 0);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	tap_is_int((intmax_t)dew_http_server_connections(t->server), 0, "the aborted connection is closed");
	fetch(t, "GET", "/range", 0);
	client_close(t, false);
	tap_ok(decode(&t->got, &body, &chunked) && intact(&body, 1000, 1000),
	       "after the client went away, the server still answers");
	dew_buf_close(&body);
}

static void fill_file(struct test *t, const char *dir)
{
	cleanup_free char *path = xasprintf("%s/file", dir);
	cleanup_free unsigned char *data = xmalloc(FILE_SIZE);

	for (uint64_t i = 0; i < FILE_SIZE; i++)
		data[i] = pattern(i);
	t->file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t->file < 0 || write(t->file, data, FILE_SIZE) != FILE_SIZE)
		abort();
}

int main(void)
{
	static struct test t;
	cleanup_error struct dew_error *err = NULL;
	const char *dir = test_tmpdir("http-file");

	signal(SIGPIPE, SIG_IGN);
	if (!dir)
		return tap_done();
	fill_file(&t, dir);
	uv_loop_init(&t.loop);
	uv_timer_init(&t.loop, &t.tick);
	t.tick.data = &t;
	if (!tap_ok(dew_http_server_start(&t.server, &t.loop, "127.0.0.1", 0, routes, DEW_ARRAY_SIZE(routes),
					  NULL, &t, &err) == 0,
		    "server started"))
		return tap_done();
	t.port = dew_http_server_port(t.server);

	test_small(&t);
	test_slow_client(&t);
	test_abort(&t);

	dew_http_server_stop(t.server, NULL, NULL);
	uv_close((uv_handle_t *)&t.tick, NULL);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	tap_is_int(uv_loop_close(&t.loop), 0, "the loop ends with every handle closed");
	close(t.file);
	dew_buf_close(&t.got);
	return tap_done();
}
