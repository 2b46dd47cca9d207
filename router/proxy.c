// SPDX-License-Identifier: MIT
/*
 * One request through the proxy (proxy.h): route lookup, endpoint choice, a backend connection
 * (pooled or new), the rewritten head, the body streamed as it arrives, the response head
 * rewritten and its body streamed back, interim 1xx responses passed on (Expect: 100-continue),
 * upgrades turned into a tunnel after a 101. Retries happen only when no byte of the request can
 * have reached an app: a failed connect, or an idempotent body-less request on a reused idle
 * connection that ended before answering. Bodies are never buffered whole: each side stops
 * reading while the other side's socket has CONN_HIGH_WATER bytes queued.
 */
#include "proxy.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* splitmix64: request ids must be unique, not secret, and cost no syscall (nor printf). */
static void proxy_request_id(struct router *rt, char out[DEW_UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v[2];
	for (int i = 0; i < 2; i++) {
		uint64_t z = (rt->rng += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		v[i] = z ^ (z >> 31);
	}
	/* Version 4, variant 10: xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx. */
	v[0] = (v[0] & ~0xf000ULL) | 0x4000ULL;
	v[1] = (v[1] & ~(0xc000ULL << 48)) | (0x8000ULL << 48);
	char *o = out;
	for (int i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			*o++ = '-';
		uint64_t w = v[i / 16];
		*o++ = hex[(w >> (60 - 4 * (i % 16))) & 15];
	}
	*o = '\0';
}

static uint64_t proxy_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void proxy_settle(struct client *c)
{
	struct exchange *ex = &c->ex;
	struct router *rt = c->rt;
	if (ex->up) {
		upstream_release(ex->up, false);
		ex->up = NULL;
	}
	if (ex->active) {
		ex->active = false;
		ROUTER_DEC(rt->n_active);
		ROUTER_INC(rt->n.responses[ex->status >= 100 && ex->status < 600 ? ex->status / 100 : 0]);
		double secs = (double)(uv_hrtime() - ex->start_ns) / 1e9;
		uv_mutex_lock(&rt->stats_lock);
		dew_histogram_observe(&rt->latency, secs);
		uv_mutex_unlock(&rt->stats_lock);
		if (rt->access_fd >= 0)
			ops_access_log(rt, c, ex->status, ex->bytes_out, secs);
	}
	if (ex->be)
		ex->be->in_flight--;
	ex->be = NULL;
	for (size_t i = 0; i < ex->n_tried; i++)
		table_backend_release(ex->tried[i]);
	ex->n_tried = 0;
}

/* The response is complete: the backend connection goes back to its pool when it can. */
static void proxy_finish(struct client *c)
{
	struct exchange *ex = &c->ex;
	if (!ex->req_body.done)
		c->close_after = true; /* the rest of the request body will not be read */
	if (ex->up) {
		upstream_release(ex->up, ex->upstream_reusable && ex->req_body.done && !c->rt->stopping);
		ex->up = NULL;
	}
	proxy_settle(c);
	client_exchange_done(c);
}

static enum router_error proxy_check_error(const struct head_request *r, int status)
{
	if (status == 405)
		return RERR_NOT_ALLOWED;
	return r->host_len == 0 && r->why && strstr(r->why, "empty Host") ? RERR_EMPTY_HOST
									  : RERR_BAD_REQUEST;
}

/* Choose an endpoint and get a connection to it; answer an error when none is left. */
static void proxy_attempt(struct client *c, bool fresh)
{
	struct exchange *ex = &c->ex;
	struct router *rt = c->rt;
	bool has_body = ex->req.body != BODY_NONE;
	struct route *r =
		table_lookup(&rt->table, ex->req.host, ex->req.host_len, ex->req.target, ex->req.path_len);
	if (!r) {
		errors_respond(c, ex->attempts ? RERR_ENDPOINT_FAILURE : RERR_UNKNOWN_ROUTE, has_body);
		return;
	}
	char sticky[TABLE_MAX_ID + 1] = "";
	if (ex->req.sticky && ex->req.sticky_len <= TABLE_MAX_ID) {
		memcpy(sticky, ex->req.sticky, ex->req.sticky_len);
		sticky[ex->req.sticky_len] = '\0';
	}
	struct table_pick p = {
		.sticky = sticky,
		.exclude = ex->tried,
		.n_exclude = ex->n_tried,
		.max_in_flight = (unsigned)rt->cfg.max_conns_per_backend,
		.now = uv_now(rt->loop),
	};
	struct backend *be = NULL;
	enum table_pick_status st = table_pick(&rt->table, r, &p, &be);
	if (st != TABLE_PICK_OK) {
		enum router_error e = st == TABLE_PICK_LIMIT ? RERR_CONN_LIMIT
				      : ex->attempts	     ? RERR_ENDPOINT_FAILURE
							     : RERR_NO_ENDPOINTS;
		errors_respond(c, e, has_body);
		return;
	}
	ex->attempts++;
	table_backend_hold(be);
	ex->tried[ex->n_tried++] = be;
	ex->be = be;
	be->in_flight++;
	c->state = CLIENT_CONNECTING;
	ex->up = upstream_get(rt, be, c, fresh);
	if (ex->up->connected)
		proxy_upstream_ready(c);
}

void proxy_begin(struct client *c, const struct h1_head *h, int len)
{
	struct exchange *ex = &c->ex;
	struct router *rt = c->rt;
	/* The head is kept aside (a retry writes it again) and the input moves on to the body. */
	dew_buf_reset(&ex->head_bytes);
	dew_buf_append(&ex->head_bytes, c->in.data, (size_t)len);
	const char *base = c->in.data;
	char *copy = ex->head_bytes.data;
	ex->h = *h;
	ex->h.method = copy + (h->method - base);
	ex->h.target = copy + (h->target - base);
	for (size_t i = 0; i < h->n_fields; i++) {
		ex->h.fields[i].name = copy + (h->fields[i].name - base);
		ex->h.fields[i].value = copy + (h->fields[i].value - base);
	}
	dew_buf_consume(&c->in, (size_t)len);
	ex->active = true;
	ex->attempts = 0;
	ex->status = 0;
	ex->bytes_in = ex->bytes_out = 0;
	ex->router_error = NULL;
	ex->req_head_sent = ex->resp_head_done = ex->resp_started = ex->upstream_reusable = false;
	ex->start_ns = uv_hrtime();
	ROUTER_INC(rt->n_active);
	ROUTER_INC(rt->n.requests);
	proxy_request_id(rt, ex->request_id);
	int st = head_request_check(&ex->h, &ex->req);
	if (st) {
		ROUTER_INC(rt->n.bad_requests);
		dew_debug("client %s: %s", c->ip, ex->req.why);
		body_init(&ex->req_body, BODY_NONE, 0);
		errors_respond(c, proxy_check_error(&ex->req, st), true);
		return;
	}
	body_init(&ex->req_body, ex->req.body, ex->req.length);
	if (!ex->req.keep_alive || rt->draining)
		c->close_after = true;
	proxy_attempt(c, false);
}

void proxy_upstream_ready(struct client *c)
{
	struct exchange *ex = &c->ex;
	struct router *rt = c->rt;
	c->state = CLIENT_FORWARD;
	struct head_forward f = {
		.client_ip = c->ip,
		.proto = rt->cfg.forwarded_proto,
		.request_id = ex->request_id,
		.start_ms = proxy_wall_ms(),
		.be = ex->be,
	};
	dew_buf_reset(&rt->scratch);
	head_request_write(&rt->scratch, &ex->h, &ex->req, &f);
	int r = upstream_write(ex->up, rt->scratch.data, rt->scratch.len);
	if (r < 0) {
		struct upstream *up = ex->up;
		bool stale = up->reused;
		ex->up = NULL;
		upstream_release(up, false);
		proxy_upstream_failed(c, r, false, stale);
		return;
	}
	ex->req_head_sent = true;
	if (c->in.len && !ex->req_body.done) {
		size_t used = proxy_client_data(c, c->in.data, c->in.len);
		if (c->state != CLIENT_FORWARD)
			return;
		dew_buf_consume(&c->in, used);
	}
	if (ex->req_body.done)
		client_response_timer(c, true);
	client_set_reading(c, !(ex->req_body.done && c->in.len));
}

size_t proxy_client_data(struct client *c, const char *p, size_t len)
{
	struct exchange *ex = &c->ex;
	if (!ex->up)
		return 0;
	if (c->state == CLIENT_TUNNEL) {
		if (upstream_write(ex->up, p, len) < 0)
			client_close(c);
		else if (conn_queued((uv_stream_t *)&ex->up->tcp) > CONN_HIGH_WATER)
			client_set_reading(c, false);
		return len;
	}
	if (ex->req_body.done || !ex->req_head_sent)
		return 0;
	ssize_t n = body_feed(&ex->req_body, p, len);
	if (n < 0) {
		ROUTER_INC(c->rt->n.bad_requests);
		if (ex->resp_started)
			client_close(c);
		else
			errors_respond(c, RERR_BAD_REQUEST, true);
		return len;
	}
	if (n > 0 && upstream_write(ex->up, p, (size_t)n) < 0) {
		client_close(c);
		return len;
	}
	ex->bytes_in += (uint64_t)n;
	if (ex->req_body.done) {
		if (!ex->resp_head_done)
			client_response_timer(c, true);
	} else if (conn_queued((uv_stream_t *)&ex->up->tcp) > CONN_HIGH_WATER) {
		client_set_reading(c, false);
	}
	return (size_t)n;
}

void proxy_upstream_drained(struct client *c)
{
	if (c->state == CLIENT_TUNNEL || (c->state == CLIENT_FORWARD && !c->ex.req_body.done))
		client_set_reading(c, true);
}

void proxy_client_drained(struct client *c)
{
	if (c->ex.up && (c->state == CLIENT_FORWARD || c->state == CLIENT_TUNNEL))
		upstream_set_reading(c->ex.up, true);
}

/* Body bytes of the response: relay, and finish when the body is complete. */
static void proxy_relay(struct client *c, const char *p, size_t len)
{
	struct exchange *ex = &c->ex;
	ssize_t n = body_feed(&ex->resp_body, p, len);
	if (n < 0) {
		dew_notice("backend %s: malformed chunked response body", ex->be ? ex->be->addr : "?");
		client_close(c);
		return;
	}
	client_write(c, p, (size_t)n);
	ex->bytes_out += (uint64_t)n;
	if (c->state == CLIENT_CLOSING)
		return;
	if (ex->resp_body.done) {
		if ((size_t)n < len)
			ex->upstream_reusable = false; /* bytes after the response: not trusted again */
		proxy_finish(c);
		return;
	}
	if (conn_queued((uv_stream_t *)&c->tcp) > CONN_HIGH_WATER)
		upstream_set_reading(ex->up, false);
}

/* 101: from now on the connection is a byte pipe both ways. */
static void proxy_tunnel(struct client *c)
{
	struct exchange *ex = &c->ex;
	ROUTER_INC(c->rt->n.upgrades);
	c->state = CLIENT_TUNNEL;
	c->close_after = true;
	client_response_timer(c, false);
	if (ex->up->in.len) {
		client_write(c, ex->up->in.data, ex->up->in.len);
		dew_buf_reset(&ex->up->in);
	}
	if (c->in.len && c->state == CLIENT_TUNNEL) {
		proxy_client_data(c, c->in.data, c->in.len);
		dew_buf_reset(&c->in);
	}
	client_set_reading(c, true);
}

/* Parse the response head(s) in up->in; 0 when the final head was handled, 1 for more bytes. */
static int proxy_response_head(struct client *c)
{
	struct exchange *ex = &c->ex;
	struct router *rt = c->rt;
	struct upstream *up = ex->up;
	for (;;) {
		struct h1_head h = { .fields = rt->resp_fields };
		int r = h1_parse_response(up->in.data, up->in.len, &rt->resp_limits, &h);
		if (r == H1_INCOMPLETE)
			return 1;
		struct head_response resp;
		if (r < 0 || head_response_check(&h, &ex->req, &resp) < 0) {
			dew_notice("backend %s: %s", ex->be->addr, r < 0 ? h.why : resp.why);
			errors_respond(c, RERR_ENDPOINT_FAILURE, true);
			return -1;
		}
		/* A refused upgrade is answered, then the connection ends: the client may already
		 * be speaking the new protocol. */
		bool close = c->close_after || !ex->req_body.done || resp.body == BODY_CLOSE ||
			     rt->draining || (ex->req.upgrade && !resp.upgraded && !resp.interim);
		struct head_reply rp = {
			.request_id = ex->request_id,
			.close = close && !resp.interim,
			.keep_alive_10 = ex->h.minor == 0 && !close,
			.sticky_names = rt->cfg.sticky_cookies,
			.instance_id = ex->be->instance_id,
		};
		dew_buf_reset(&rt->scratch);
		head_response_write(&rt->scratch, &h, &resp, &rp);
		dew_buf_consume(&up->in, (size_t)r);
		if (resp.interim) {
			if (ex->h.minor == 1) /* HTTP/1.0 clients get no interim responses */
				client_write(c, rt->scratch.data, rt->scratch.len);
			continue;
		}
		ex->status = h.status;
		ex->resp_head_done = ex->resp_started = true;
		ex->upstream_reusable = resp.keep_alive && !ex->req.upgrade;
		c->close_after = close;
		client_response_timer(c, false);
		client_write(c, rt->scratch.data, rt->scratch.len);
		if (resp.upgraded) {
			proxy_tunnel(c);
			return -1;
		}
		body_init(&ex->resp_body, resp.body, resp.length);
		return 0;
	}
}

static void proxy_upstream_data_corked(struct client *c, const char *p, size_t len);

/* What the backend sent: its head and the body bytes that came with it leave in one write. */
void proxy_upstream_data(struct client *c, const char *p, size_t len)
{
	client_cork(c);
	proxy_upstream_data_corked(c, p, len);
	client_uncork(c);
}

static void proxy_upstream_data_corked(struct client *c, const char *p, size_t len)
{
	struct exchange *ex = &c->ex;
	if (c->state == CLIENT_TUNNEL) {
		client_write(c, p, len);
		if (ex->up && conn_queued((uv_stream_t *)&c->tcp) > CONN_HIGH_WATER)
			upstream_set_reading(ex->up, false);
		return;
	}
	if (ex->resp_head_done) {
		proxy_relay(c, p, len);
		return;
	}
	dew_buf_append(&ex->up->in, p, len);
	if (proxy_response_head(c) != 0 || c->state == CLIENT_CLOSING)
		return;
	struct upstream *up = ex->up;
	if (ex->resp_body.done) {
		if (up->in.len)
			ex->upstream_reusable = false; /* bytes after a body-less response */
		proxy_finish(c);
	} else if (up->in.len) {
		/* up outlives this call whatever happens (it is freed from its close callback). */
		proxy_relay(c, up->in.data, up->in.len);
	}
	dew_buf_reset(&up->in);
}

void proxy_upstream_failed(struct client *c, int status, bool connecting, bool stale)
{
	struct exchange *ex = &c->ex;
	struct router *rt = c->rt;
	ex->up = NULL;
	if (!ex->active)
		return;
	if (ex->resp_started) {
		client_close(c); /* a truncated response: the client must see the connection end */
		return;
	}
	struct backend *be = ex->be;
	bool retry = false;
	if (connecting) {
		be->benched_until = uv_now(rt->loop) + rt->cfg.bench_time_ms;
		dew_notice("backend %s: connect: %s; benched", be->addr, uv_strerror(status));
		retry = true;
	} else if (stale && ex->req.idempotent && ex->req.body == BODY_NONE && !ex->req.upgrade) {
		/* The backend closed an idle connection as we reused it: try again on a new one,
		 * on this backend too (it did nothing wrong). */
		table_backend_release(be);
		ex->n_tried--;
		retry = true;
	} else {
		dew_notice("backend %s: %s before answering", be->addr, uv_strerror(status));
	}
	be->in_flight--;
	ex->be = NULL;
	if (retry && ex->attempts < (unsigned)rt->cfg.max_attempts && ex->n_tried < TABLE_MAX_ATTEMPTS) {
		ROUTER_INC(rt->n.retries);
		c->state = CLIENT_CONNECTING;
		proxy_attempt(c, true);
		return;
	}
	errors_respond(c, RERR_ENDPOINT_FAILURE, ex->req_head_sent || ex->req.body != BODY_NONE);
}

void proxy_abort(struct client *c)
{
	struct exchange *ex = &c->ex;
	proxy_settle(c);
	ex->resp_started = ex->resp_head_done = false;
}
