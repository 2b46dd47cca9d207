// SPDX-License-Identifier: MIT
/*
 * Operating the router: /metrics and /health (503 while draining) on the status listener,
 * /routes (the table as JSON, for loopback clients with basic auth), SIGUSR1 drain (fail
 * /health, wait drain_wait, stop accepting, let requests in flight finish up to drain_timeout)
 * and the access log in gorouter's field order.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "alloc.h"
#include "http.h"
#include "log.h"
#include "proxy.h"

/* A counter summed over the workers (worker 0 reads the others' single-writer counters). */
static uint64_t ops_sum(const struct router *rt, size_t offset)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < rt->n_workers; i++)
		sum += __atomic_load_n((const uint64_t *)((const char *)&rt->workers[i]->n + offset),
				       __ATOMIC_RELAXED);
	return sum;
}

/* The workers' latency histograms merged into one. */
static void ops_latency(struct dew_buf *out, const struct router *rt)
{
	struct dew_histogram all;
	dew_histogram_init(&all, rt->latency.bounds, rt->latency.n_bounds);
	for (size_t i = 0; i < rt->n_workers; i++) {
		struct router *w = rt->workers[i];
		uv_mutex_lock(&w->stats_lock);
		for (size_t b = 0; b <= all.n_bounds; b++)
			all.counts[b] += w->latency.counts[b];
		all.count += w->latency.count;
		all.sum += w->latency.sum;
		uv_mutex_unlock(&w->stats_lock);
	}
	dew_histogram_write(out, "dew_router_request_duration_seconds",
			    "Time from request head to the end of the response.", &all);
	dew_histogram_close(&all);
}

void ops_metrics(struct dew_buf *out, void *data)
{
	struct router *rt = data;
	static const char *const classes[] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };
	dew_metrics_header(out, "dew_router_responses_total", DEW_METRIC_COUNTER,
			   "Responses by status class (none: the client or backend went away first).");
	for (size_t i = 0; i < DEW_ARRAY_SIZE(classes); i++)
		dew_metrics_sample(out, "dew_router_responses_total",
				   (const char *[]){ "class", classes[i], NULL },
				   (double)ops_sum(rt, offsetof(struct router_counters, responses) +
							       i * sizeof(uint64_t)));
	static const struct {
		const char *name, *help;
		size_t offset;
	} counters[] = {
#define C(n, h, f) { n, h, offsetof(struct router_counters, f) }
		C("dew_router_requests_total", "Request heads received.", requests),
		C("dew_router_bad_requests_total", "Requests refused as malformed.", bad_requests),
		C("dew_router_errors_total", "Responses made by the router itself (X-Cf-Routererror).",
		  router_errors),
		C("dew_router_retries_total", "Requests tried again on another connection or endpoint.",
		  retries),
		C("dew_router_registrations_total", "router.register messages applied (by worker 0).",
		  registrations),
		C("dew_router_unregistrations_total", "router.unregister messages applied (by worker 0).",
		  unregistrations),
		C("dew_router_pruned_total", "Endpoints pruned as stale (by worker 0).", pruned),
		C("dew_router_bad_messages_total", "Malformed bus messages dropped (by worker 0).",
		  bad_messages),
		C("dew_router_websocket_upgrades_total",
		  "Connections upgraded after a 101 (WebSocket and others).", upgrades),
		C("dew_router_backend_connects_total", "Connections opened to backends.", backend_connects),
		C("dew_router_backend_reuses_total", "Requests sent on a pooled idle backend connection.",
		  backend_reuses),
		C("dew_router_connect_failures_total", "Backend connections that failed or timed out.",
		  connect_failures),
		C("dew_router_connections_total", "Client connections accepted.", accepted),
#undef C
	};
	/* Every worker applies every bus message to its own table: worker 0's count is the bus's. */
	static const size_t per_bus[] = { offsetof(struct router_counters, registrations),
					  offsetof(struct router_counters, unregistrations),
					  offsetof(struct router_counters, pruned),
					  offsetof(struct router_counters, bad_messages) };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(counters); i++) {
		uint64_t v = ops_sum(rt, counters[i].offset);
		for (size_t k = 0; k < DEW_ARRAY_SIZE(per_bus); k++)
			if (per_bus[k] == counters[i].offset)
				v = *(const uint64_t *)((const char *)&rt->n + counters[i].offset);
		dew_metrics_counter(out, counters[i].name, counters[i].help, v);
	}
	dew_metrics_header(out, "dew_router_worker_connections_total", DEW_METRIC_COUNTER,
			   "Client connections accepted, by worker (SO_REUSEPORT spreads them).");
	for (size_t i = 0; i < rt->n_workers; i++) {
		char idx[24];
		snprintf(idx, sizeof(idx), "%zu", i);
		dew_metrics_sample(out, "dew_router_worker_connections_total",
				   (const char *[]){ "worker", idx, NULL },
				   (double)ROUTER_LOAD(rt->workers[i]->n.accepted));
	}
	size_t clients = 0, active = 0;
	for (size_t i = 0; i < rt->n_workers; i++) {
		clients += ROUTER_LOAD(rt->workers[i]->n_clients);
		active += ROUTER_LOAD(rt->workers[i]->n_active);
	}
	struct table_stats ts;
	table_get_stats(&rt->table, &ts);
	dew_metrics_gauge(out, "dew_router_workers", "Event loops (threads) serving requests.",
			  (double)rt->n_workers);
	dew_metrics_gauge(out, "dew_router_routes", "Routes (host and path) in the table.",
			  (double)ts.routes);
	dew_metrics_gauge(out, "dew_router_endpoints", "Endpoints over all routes.", (double)ts.endpoints);
	dew_metrics_gauge(out, "dew_router_backends", "Distinct backend addresses.", (double)ts.backends);
	dew_metrics_gauge(out, "dew_router_client_connections", "Open client connections.", (double)clients);
	dew_metrics_gauge(out, "dew_router_requests_in_flight", "Requests being served.", (double)active);
	dew_metrics_gauge(out, "dew_router_bus_connected", "1 while connected to the bus.",
			  rt->bus_connected);
	dew_metrics_gauge(out, "dew_router_draining", "1 while draining (SIGUSR1).", rt->draining);
	ops_latency(out, rt);
}

bool ops_healthy(const char **reason, void *data)
{
	struct router *rt = data;
	if (rt->draining)
		*reason = "draining";
	return !rt->draining;
}

static void ops_base64(const char *in, size_t len, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)(unsigned char)in[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)in[i + 2];
		out[o++] = abc[(v >> 18) & 63];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = i + 1 < len ? abc[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? abc[v & 63] : '=';
	}
	out[o] = '\0';
}

/* Basic credentials equal user:password, compared in constant time. */
static bool ops_authorized(const struct router *rt, const char *header)
{
	if (!rt->cfg.routes_password || !header || strncmp(header, "Basic ", 6) != 0)
		return false;
	cleanup_free char *pair =
		xasprintf("%s:%s", rt->cfg.routes_user ? rt->cfg.routes_user : "", rt->cfg.routes_password);
	size_t len = strlen(pair);
	cleanup_free char *want = xmalloc(len / 3 * 4 + 8);
	ops_base64(pair, len, want);
	const char *got = header + 6;
	size_t wl = strlen(want), gl = strlen(got);
	unsigned char diff = wl != gl;
	for (size_t i = 0; i < wl; i++)
		diff |= (unsigned char)(want[i] ^ (i < gl ? got[i] : 0));
	return diff == 0;
}

static bool ops_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "[::1]", 5) == 0 ||
	       strncmp(addr, "::1", 3) == 0;
}

static json_t *ops_endpoint(const struct route_ep *ep, uint64_t now)
{
	const struct backend *be = ep->be;
	uint64_t expires = ep->last_seen + ep->threshold_ms;
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "address", be->addr, "app", be->app_id,
			 "private_instance_id", be->instance_id, "private_instance_index",
			 (json_int_t)be->instance_index, "ttl",
			 (json_int_t)(expires > now ? (expires - now) / 1000 : 0), "in_flight",
			 (json_int_t)be->in_flight, "idle_connections", (json_int_t)be->n_idle, "benched",
			 be->benched_until > now);
}

void ops_routes(struct dew_http_req *req)
{
	struct router *rt = dew_status_data(req);
	if (!ops_loopback(req->remote_addr)) {
		dew_http_respond_error(req, 403, 403, "/routes answers loopback clients only");
		return;
	}
	if (!rt->cfg.routes_password) {
		dew_http_respond_error(req, 404, 404, "/routes is off: set routes_password");
		return;
	}
	if (!ops_authorized(rt, dew_http_header(req, "Authorization"))) {
		dew_http_add_header(req, "WWW-Authenticate", "Basic realm=\"dew-router\"");
		dew_http_respond_error(req, 401, 401, "credentials required");
		return;
	}
	json_t *out = json_object();
	uint64_t now = uv_now(rt->loop);
	struct hmap_node *n, *tmp;
	hmap_foreach(&rt->table.hosts, n, tmp)
	{
		const struct host_entry *h = (const struct host_entry *)n;
		for (size_t i = 0; i < h->n_routes; i++) {
			const struct route *r = h->routes[i];
			json_t *eps = json_array();
			for (size_t k = 0; k < r->n_eps; k++)
				json_array_append_new(eps, ops_endpoint(&r->eps[k], now));
			cleanup_free char *key = xasprintf("%s%s", h->host, r->path);
			json_object_set_new(out, key, eps);
		}
	}
	dew_http_respond_json(req, 200, out);
}

static void ops_on_drain_tick(uv_timer_t *t)
{
	struct router *rt = t->data;
	uint64_t elapsed = uv_now(rt->loop) - rt->drain_started_ms;
	if (rt->listening && elapsed >= rt->cfg.drain_wait_ms) {
		dew_notice("drain: worker %u no longer accepts connections; %zu request(s) in flight",
			   rt->index, rt->n_active);
		client_stop_listening(rt);
	}
	if (!rt->listening) {
		client_close_all(rt, true);
		bool done = rt->n_active == 0 || elapsed >= rt->cfg.drain_wait_ms + rt->cfg.drain_timeout_ms;
		/* Worker 0 holds /health and the process: it ends last. */
		if (done && (rt->index != 0 || workers_finished(rt))) {
			dew_notice("drain: worker %u done (%zu request(s) cut off)", rt->index, rt->n_active);
			uv_timer_stop(t);
			router_shutdown(rt);
		}
	}
}

void ops_drain_start(struct router *rt)
{
	if (rt->draining || rt->stopping)
		return;
	rt->draining = true;
	rt->drain_started_ms = uv_now(rt->loop);
	if (rt->index == 0) {
		dew_notice("drain: /health fails now; accepting for %llu ms more",
			   (unsigned long long)rt->cfg.drain_wait_ms);
		workers_command(rt, WORKER_DRAIN);
	}
	uv_timer_start(&rt->drain_timer, ops_on_drain_tick, 0, 50);
}

void ops_access_log(struct router *rt, const struct client *c, int status, uint64_t bytes_sent, double secs)
{
	const struct exchange *ex = &c->ex;
	const struct backend *be = ex->n_tried ? ex->tried[ex->n_tried - 1] : NULL;
	struct accesslog_entry e = {
		.host = ex->req.host,
		.host_len = ex->req.host_len,
		.when = time(NULL),
		.h = &ex->h,
		.target = ex->req.target,
		.target_len = ex->req.target_len,
		.status = status,
		.bytes_received = ex->bytes_in,
		.bytes_sent = bytes_sent,
		.remote_addr = c->ip,
		.backend_addr = be ? be->addr : NULL,
		.proto = rt->cfg.forwarded_proto,
		.request_id = ex->request_id,
		.response_time = secs,
		.app_id = be ? be->app_id : NULL,
		.instance_id = be ? be->instance_id : NULL,
		.app_index = be ? be->instance_index : -1,
		.router_error = ex->router_error,
	};
	accesslog_format(&rt->access_buf, &e);
	if (rt->access_buf.len >= 64 * 1024)
		ops_access_flush(rt);
}

void ops_access_flush(struct router *rt)
{
	const char *p = rt->access_buf.data;
	size_t left = rt->access_buf.len;
	while (left) {
		ssize_t n = write(rt->access_fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			dew_warn("access_log: %s; %zu bytes dropped", n < 0 ? strerror(errno) : "short write",
				 left);
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	dew_buf_reset(&rt->access_buf);
}
