// SPDX-License-Identifier: MIT
/*
 * Tests of the HTTP server over real sockets on 127.0.0.1, port 0. The main thread runs the uv
 * loop; each scenario's client runs in a thread with blocking sockets (5 s receive timeouts) and
 * wakes the loop when it is done, so nothing depends on how fast either side is.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "http.h"
#include "tap.h"

struct ctx {
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t watchdog;
	struct dew_http_server *server;
	int port;
	void (*client)(struct ctx *ctx);
	bool timed_out;
	/* the /hold route */
	struct dew_http_req *held;
	atomic_int got_request, aborted;
	bool done_called;
	/* what the client saw */
	struct dew_buf a, b, c;
	int fds[4];
	int result;
	/* on_response */
	int responses, last_status;
	char last_route[64];
};

static void hello(struct dew_http_req *req)
{
	dew_http_respond(req, 200, "text/plain", "hello", 5);
}

static void conns(struct dew_http_req *req)
{
	struct ctx *ctx = req->server_data;
	char n[32];
	snprintf(n, sizeof n, "conns=%zu", dew_http_server_connections(ctx->server));
	dew_http_respond(req, 200, "text/plain", n, strlen(n));
}

static void on_abort(struct dew_http_req *req)
{
	struct ctx *ctx = req->server_data;
	atomic_fetch_add(&ctx->aborted, 1);
}

static void hold(struct dew_http_req *req)
{
	struct ctx *ctx = req->server_data;
	req->on_abort = on_abort;
	ctx->held = req;
	atomic_store(&ctx->got_request, 1);
}

static void later_fire(uv_timer_t *t)
{
	dew_http_respond(t->data, 200, "text/plain", "later", 5);
	uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* Answers 50 ms later from a timer: an asynchronous handler. */
static void later(struct dew_http_req *req)
{
	struct ctx *ctx = req->server_data;
	uv_timer_t *t = xmalloc(sizeof *t);
	uv_timer_init(&ctx->loop, t);
	t->data = req;
	uv_timer_start(t, later_fire, 50, 0);
}

static const struct dew_http_route routes[] = {
	{ "GET", "/hello", hello, NULL, NULL, 0 },
	{ "GET", "/conns", conns, NULL, NULL, 0 },
	{ "GET", "/hold", hold, NULL, NULL, 0 },
	{ "GET", "/later", later, NULL, NULL, 0 },
};

/* ---- client side (client thread) ---- */

static int dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void say(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
		perror("send");
}

/*
 * Read until needle arrived (needle NULL: until the server closes). 1: found, or closed (EOF or
 * reset) when needle is NULL; 0: closed before the needle; -1: nothing for 5 s, or an error.
 */
static int hear(int fd, struct dew_buf *b, const char *needle)
{
	char buf[4096];

	for (;;) {
		if (needle && b->data && strstr(b->data, needle))
			return 1;
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return needle ? 0 : 1;
		if (n < 0)
			return -1;
		dew_buf_append(b, buf, (size_t)n);
	}
}

/* Wait (up to 5 s) for a flag the loop thread sets. */
static bool wait_flag(atomic_int *flag)
{
	for (int i = 0; i < 500 && !atomic_load(flag); i++)
		usleep(10000);
	return atomic_load(flag);
}

static void *client_main(void *arg)
{
	struct ctx *ctx = arg;
	ctx->client(ctx);
	uv_async_send(&ctx->wake);
	return NULL;
}

/* ---- loop side ---- */

static void on_wake(uv_async_t *a)
{
	uv_stop(a->loop);
}

static void on_watchdog(uv_timer_t *t)
{
	struct ctx *ctx = t->data;
	ctx->timed_out = true;
	uv_stop(t->loop);
}

/* Run the loop while fn runs in a client thread. */
static void run_client(struct ctx *ctx, void (*fn)(struct ctx *ctx))
{
	pthread_t th;

	ctx->client = fn;
	uv_timer_start(&ctx->watchdog, on_watchdog, 30000, 0);
	pthread_create(&th, NULL, client_main, ctx);
	uv_run(&ctx->loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	uv_timer_stop(&ctx->watchdog);
	/* The wake-up may have stopped the loop before the last callbacks of this round ran. */
	uv_run(&ctx->loop, UV_RUN_NOWAIT);
}

static void ctx_init(struct ctx *ctx, const struct dew_http_limits *limits)
{
	cleanup_error struct dew_error *err = NULL;

	memset(ctx, 0, sizeof *ctx);
	uv_loop_init(&ctx->loop);
	uv_async_init(&ctx->loop, &ctx->wake, on_wake);
	uv_timer_init(&ctx->loop, &ctx->watchdog);
	ctx->watchdog.data = ctx;
	int r = dew_http_server_start(&ctx->server, &ctx->loop, "127.0.0.1", 0, routes,
				      DEW_ARRAY_SIZE(routes), limits, ctx, &err);
	if (!tap_ok(r == 0, "server started")) {
		tap_diag("%s", dew_error_msg(err));
		exit(tap_done());
	}
	ctx->port = dew_http_server_port(ctx->server);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(ctx->fds); i++)
		ctx->fds[i] = -1;
}

static void on_stopped(void *arg)
{
	struct ctx *ctx = arg;
	ctx->done_called = true;
}

/* Stop the server, run until done is called, and close the loop. */
static void ctx_finish(struct ctx *ctx, const char *name)
{
	if (ctx->server)
		dew_http_server_stop(ctx->server, on_stopped, ctx);
	uv_timer_start(&ctx->watchdog, on_watchdog, 30000, 0);
	while (!ctx->done_called && !ctx->timed_out)
		uv_run(&ctx->loop, UV_RUN_ONCE);
	tap_ok(ctx->done_called, "%s: server stopped, done called", name);
	uv_close((uv_handle_t *)&ctx->wake, NULL);
	uv_close((uv_handle_t *)&ctx->watchdog, NULL);
	uv_run(&ctx->loop, UV_RUN_DEFAULT);
	tap_is_int(uv_loop_close(&ctx->loop), 0, "%s: every handle closed", name);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(ctx->fds); i++)
		if (ctx->fds[i] >= 0)
			close(ctx->fds[i]);
	dew_buf_close(&ctx->a);
	dew_buf_close(&ctx->b);
	dew_buf_close(&ctx->c);
}

/* ---- scenarios ---- */

static void client_basic(struct ctx *ctx)
{
	int fd = ctx->fds[0] = dial(ctx->port);

	say(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	hear(fd, &ctx->a, "hello");
	say(fd, "GET /conns HTTP/1.1\r\nHost: x\r\n\r\n");
	hear(fd, &ctx->b, "conns=");
	hear(fd, &ctx->b, "\r\n\r\nconns=1");
	say(fd, "GET /hello HTTP/1.1\r\n\r\nGET /later HTTP/1.1\r\n\r\nGET /conns HTTP/1.1\r\n\r\n");
	hear(fd, &ctx->c, "conns=1");
}

static void test_basic(void)
{
	struct ctx ctx;

	ctx_init(&ctx, NULL);
	tap_ok(ctx.port > 0, "port 0 got a real port (%d)", ctx.port);
	run_client(&ctx, client_basic);
	tap_ok(!ctx.timed_out, "basic: client finished");
	tap_has_str(ctx.a.data, "HTTP/1.1 200 OK\r\n", "GET over TCP: status");
	tap_has_str(ctx.a.data, "Content-Length: 5\r\n\r\nhello", "GET over TCP: body");
	tap_has_str(ctx.b.data, "\r\n\r\nconns=1", "keep-alive: second request on the same connection");
	const char *h = ctx.c.data ? strstr(ctx.c.data, "hello") : NULL;
	const char *l = ctx.c.data ? strstr(ctx.c.data, "later") : NULL;
	const char *c = ctx.c.data ? strstr(ctx.c.data, "conns=1") : NULL;
	tap_ok(h && l && c && h < l && l < c, "pipelining over TCP, async answer in order");
	ctx_finish(&ctx, "basic");
}

static void count_response(const struct dew_http_req *req, int status)
{
	struct ctx *ctx = req->server_data;
	ctx->responses++;
	ctx->last_status = status;
	snprintf(ctx->last_route, sizeof ctx->last_route, "%s", req->route ? req->route->pattern : "-");
}

static void client_hook(struct ctx *ctx)
{
	int fd = ctx->fds[0] = dial(ctx->port);

	say(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	hear(fd, &ctx->a, "hello");
	say(fd, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
	hear(fd, &ctx->b, "\r\n\r\n");
}

/* The on_response hook sees every answered request once, with its route and status. */
static void test_on_response(void)
{
	struct ctx ctx;
	const struct dew_http_limits limits = { .on_response = count_response };

	ctx_init(&ctx, &limits);
	run_client(&ctx, client_hook);
	tap_has_str(ctx.b.data, "404", "hook: the unknown path is a 404");
	tap_is_int(ctx.responses, 2, "hook: called once per answer");
	tap_is_int(ctx.last_status, 404, "hook: with the status");
	tap_is_str(ctx.last_route, "-", "hook: no route for the unknown path");
	ctx_finish(&ctx, "on_response");
}

static void client_slowloris(struct ctx *ctx)
{
	int fd = ctx->fds[0] = dial(ctx->port);

	say(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n");
	ctx->result = hear(fd, &ctx->a, NULL);
}

static void client_half_close(struct ctx *ctx)
{
	int fd = ctx->fds[0] = dial(ctx->port);

	say(fd, "GET /hello HTTP/1.1\r\n\r\nGET /hold HTTP/1.1\r\n\r\n");
	shutdown(fd, SHUT_WR);
	ctx->result = hear(fd, &ctx->a, NULL);
}

static void test_half_close(void)
{
	struct ctx ctx;

	ctx_init(&ctx, NULL);
	run_client(&ctx, client_half_close);
	tap_has_str(ctx.a.data, "hello", "half-close: the answer already given is flushed");
	tap_is_int(atomic_load(&ctx.aborted), 1, "half-close: the request still pending is aborted");
	tap_is_int(ctx.result, 1, "half-close: then EOF");
	if (ctx.held)
		dew_http_respond(ctx.held, 200, NULL, NULL, 0);
	ctx_finish(&ctx, "half-close");
}

static void test_slowloris(void)
{
	struct ctx ctx;

	ctx_init(&ctx, &(struct dew_http_limits){ .header_timeout_ms = 200 });
	run_client(&ctx, client_slowloris);
	tap_has_str(ctx.a.data, "HTTP/1.1 408 Request Timeout\r\n", "slowloris: 408");
	tap_has_str(ctx.a.data, "request header timeout (200 ms)", "slowloris: description");
	tap_is_int(ctx.result, 1, "slowloris: then EOF");
	ctx_finish(&ctx, "slowloris");
}

static void client_abort(struct ctx *ctx)
{
	int fd = dial(ctx->port);

	say(fd, "GET /hold HTTP/1.1\r\n\r\n");
	wait_flag(&ctx->got_request);
	close(fd);
	wait_flag(&ctx->aborted);
}

static void test_abort(void)
{
	struct ctx ctx;

	ctx_init(&ctx, NULL);
	run_client(&ctx, client_abort);
	tap_is_int(atomic_load(&ctx.aborted), 1, "client gone before the answer: on_abort called");
	tap_ok(ctx.held && ctx.held->conn == NULL, "the held request is detached");
	if (ctx.held)
		dew_http_respond(ctx.held, 200, "text/plain", "too late", 8);
	ctx_finish(&ctx, "abort");
}

static void client_max_conns(struct ctx *ctx)
{
	ctx->fds[0] = dial(ctx->port);
	ctx->fds[1] = dial(ctx->port);
	say(ctx->fds[0], "GET /hello HTTP/1.1\r\n\r\n");
	say(ctx->fds[1], "GET /hello HTTP/1.1\r\n\r\n");
	ctx->result = hear(ctx->fds[0], &ctx->a, "hello") + hear(ctx->fds[1], &ctx->b, "hello");
	/* The kernel completes the handshake; the server then closes without reading. */
	ctx->fds[2] = dial(ctx->port);
	ctx->result += 10 * hear(ctx->fds[2], &ctx->c, NULL);
	dew_buf_reset(&ctx->a);
	say(ctx->fds[0], "GET /conns HTTP/1.1\r\n\r\n");
	hear(ctx->fds[0], &ctx->a, "conns=");
	hear(ctx->fds[0], &ctx->a, "conns=2");
}

static void test_max_connections(void)
{
	struct ctx ctx;

	ctx_init(&ctx, &(struct dew_http_limits){ .max_connections = 2 });
	run_client(&ctx, client_max_conns);
	tap_is_int(ctx.result % 10, 2, "max_connections: two served");
	tap_ok(ctx.result / 10 == 1 && ctx.c.len == 0, "max_connections: the third is closed unanswered");
	tap_has_str(ctx.a.data, "conns=2", "max_connections: two counted");
	ctx_finish(&ctx, "max_connections");
}

static void client_stop_setup(struct ctx *ctx)
{
	ctx->fds[0] = dial(ctx->port);
	say(ctx->fds[0], "GET /hold HTTP/1.1\r\n\r\n");
	wait_flag(&ctx->got_request);
	ctx->fds[1] = dial(ctx->port);
	say(ctx->fds[1], "GET /hello HTTP/1.1\r\n\r\n");
	hear(ctx->fds[1], &ctx->a, "hello");
}

static void client_stop_check(struct ctx *ctx)
{
	int r0 = hear(ctx->fds[0], &ctx->b, NULL);
	int r1 = hear(ctx->fds[1], &ctx->c, NULL);
	ctx->result = r0 == 1 && r1 == 1 && ctx->b.len == 0;
	ctx->fds[2] = dial(ctx->port);
}

static void test_stop(void)
{
	struct ctx ctx;

	ctx_init(&ctx, NULL);
	run_client(&ctx, client_stop_setup);
	tap_is_int((intmax_t)dew_http_server_connections(ctx.server), 2, "stop: two connections open");
	dew_http_server_stop(ctx.server, on_stopped, &ctx);
	ctx.server = NULL;
	tap_is_int(atomic_load(&ctx.aborted), 1, "stop: the request in flight sees on_abort");
	run_client(&ctx, client_stop_check);
	tap_ok(ctx.result, "stop: both connections closed (EOF)");
	tap_ok(ctx.fds[2] < 0, "stop: nothing listens any more");
	tap_ok(ctx.done_called, "stop: done called");
	dew_http_respond(ctx.held, 200, NULL, NULL, 0);
	ctx_finish(&ctx, "stop");
}

static void test_bad_address(void)
{
	cleanup_error struct dew_error *err = NULL;
	struct dew_http_server *s = NULL;
	uv_loop_t loop;

	uv_loop_init(&loop);
	int r = dew_http_server_start(&s, &loop, "203.0.113.1", 0, routes, 1, NULL, NULL, &err);
	tap_ok(r < 0 && s == NULL, "binding an address we do not have fails");
	tap_has_str(dew_error_msg(err), "listen on 203.0.113.1:0", "error names the address");
	uv_run(&loop, UV_RUN_DEFAULT);
	tap_is_int(uv_loop_close(&loop), 0, "failed start leaves no handle behind");
}

int main(void)
{
	/* A write to a socket the peer closed must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	test_basic();
	test_on_response();
	test_half_close();
	test_slowloris();
	test_abort();
	test_max_connections();
	test_stop();
	test_bad_address();
	return tap_done();
}
