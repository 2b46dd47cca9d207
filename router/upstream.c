// SPDX-License-Identifier: MIT
/*
 * Backend connections (proxy.h): connect with a timeout, relay reads to the exchange, and keep
 * reusable connections in their backend's idle pool (closed after backend_idle_timeout, or at
 * once when the backend says EOF or sends bytes nobody asked for, or leaves the table).
 */
#include "proxy.h"

#include <string.h>

#include "alloc.h"
#include "log.h"

static void upstream_on_closed(uv_handle_t *h)
{
	struct upstream *up = h->data;
	if (--up->handles > 0)
		return;
	table_backend_release(up->be);
	dew_buf_close(&up->in);
	free(up);
}

static void upstream_pool_remove(struct upstream *up)
{
	if (!up->pooled)
		return;
	if (up->pool_prev)
		up->pool_prev->pool_next = up->pool_next;
	else
		up->be->pool = up->pool_next;
	if (up->pool_next)
		up->pool_next->pool_prev = up->pool_prev;
	up->pool_next = up->pool_prev = NULL;
	up->pooled = false;
	up->be->n_idle--;
}

static void upstream_close(struct upstream *up)
{
	if (up->closing)
		return;
	up->closing = true;
	upstream_pool_remove(up);
	up->client = NULL;
	uv_close((uv_handle_t *)&up->timer, upstream_on_closed);
	uv_close((uv_handle_t *)&up->tcp, upstream_on_closed);
}

/* The exchange's side ended with an error: tell it, then close. */
static void upstream_fail(struct upstream *up, int status)
{
	struct client *c = up->client;
	bool connecting = !up->connected, stale = up->reused && !up->got_bytes;
	upstream_close(up);
	if (c)
		proxy_upstream_failed(c, status, connecting, stale);
}

static void upstream_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct upstream *up = s->data;
	(void)buf;
	if (n == 0)
		return;
	if (n < 0) {
		upstream_fail(up, (int)n);
		return;
	}
	if (!up->client) {
		/* An idle connection spoke: either it is closing or it is broken; never reuse it. */
		upstream_close(up);
		return;
	}
	up->got_bytes = true;
	proxy_upstream_data(up->client, up->rt->rbuf, (size_t)n);
}

void upstream_set_reading(struct upstream *up, bool on)
{
	if (up->closing || !up->connected || up->reading == on)
		return;
	up->reading = on;
	if (on)
		uv_read_start((uv_stream_t *)&up->tcp, conn_alloc, upstream_on_read);
	else
		uv_read_stop((uv_stream_t *)&up->tcp);
}

static void upstream_on_timer(uv_timer_t *t)
{
	struct upstream *up = t->data;
	if (up->pooled) {
		upstream_close(up);
		return;
	}
	ROUTER_INC(up->rt->n.connect_failures);
	upstream_fail(up, UV_ETIMEDOUT);
}

static void upstream_on_connect(uv_connect_t *req, int status)
{
	struct upstream *up = req->handle->data;
	if (up->closing)
		return;
	if (status < 0) {
		ROUTER_INC(up->rt->n.connect_failures);
		upstream_fail(up, status);
		return;
	}
	uv_timer_stop(&up->timer);
	up->connected = true;
	uv_tcp_nodelay(&up->tcp, 1);
	upstream_set_reading(up, true);
	if (up->client)
		proxy_upstream_ready(up->client);
}

static struct upstream *upstream_new(struct router *rt, struct backend *be)
{
	struct upstream *up = xzalloc(sizeof(*up));
	up->rt = rt;
	up->be = be;
	table_backend_hold(be);
	uv_tcp_init(rt->loop, &up->tcp);
	uv_timer_init(rt->loop, &up->timer);
	up->tcp.data = up;
	up->timer.data = up;
	up->handles = 2;
	return up;
}

static int upstream_connect(struct upstream *up)
{
	struct sockaddr_storage sa;
	struct backend *be = up->be;
	int r = strchr(be->ip, ':') ? uv_ip6_addr(be->ip, be->port, (struct sockaddr_in6 *)&sa)
				    : uv_ip4_addr(be->ip, be->port, (struct sockaddr_in *)&sa);
	if (r == 0)
		r = uv_tcp_connect(&up->connect_req, &up->tcp, (const struct sockaddr *)&sa,
				   upstream_on_connect);
	if (r < 0)
		return r;
	uv_timer_start(&up->timer, upstream_on_timer, up->rt->cfg.connect_timeout_ms, 0);
	ROUTER_INC(up->rt->n.backend_connects);
	return 0;
}

/* A failure to even start connecting is reported from the loop, like any connect error. */
static void upstream_on_idle_fail(uv_timer_t *t)
{
	struct upstream *up = t->data;
	upstream_fail(up, UV_ECONNREFUSED);
}

struct upstream *upstream_get(struct router *rt, struct backend *be, struct client *c, bool fresh)
{
	struct upstream *up = fresh ? NULL : be->pool;
	if (up) {
		upstream_pool_remove(up);
		uv_timer_stop(&up->timer);
		up->reused = true;
		up->client = c;
		up->got_bytes = false;
		ROUTER_INC(rt->n.backend_reuses);
		return up;
	}
	up = upstream_new(rt, be);
	up->client = c;
	if (upstream_connect(up) < 0) {
		ROUTER_INC(rt->n.connect_failures);
		uv_timer_start(&up->timer, upstream_on_idle_fail, 0, 0);
	}
	return up;
}

void upstream_release(struct upstream *up, bool reusable)
{
	up->client = NULL;
	dew_buf_reset(&up->in);
	if (!reusable || !up->be->indexed || up->closing || up->rt->stopping) {
		upstream_close(up);
		return;
	}
	/* Reading stays on while idle, so a backend that closes is noticed and dropped at once. */
	upstream_set_reading(up, true);
	up->pooled = true;
	up->pool_prev = NULL;
	up->pool_next = up->be->pool;
	if (up->pool_next)
		up->pool_next->pool_prev = up;
	up->be->pool = up;
	up->be->n_idle++;
	uv_timer_start(&up->timer, upstream_on_timer, up->rt->cfg.backend_idle_timeout_ms, 0);
}

static void upstream_on_write(uv_write_t *req, int status)
{
	struct upstream *up = req->handle->data;
	free(req);
	if (up->closing)
		return;
	if (status < 0) {
		upstream_fail(up, status);
		return;
	}
	if (up->client && conn_queued((uv_stream_t *)&up->tcp) < CONN_LOW_WATER)
		proxy_upstream_drained(up->client);
}

int upstream_write(struct upstream *up, const char *p, size_t len)
{
	if (up->closing)
		return UV_ECANCELED;
	return conn_write((uv_stream_t *)&up->tcp, p, len, upstream_on_write);
}

void upstream_pool_drop(struct backend *be)
{
	while (be->pool)
		upstream_close(be->pool);
}
