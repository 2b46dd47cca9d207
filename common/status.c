// SPDX-License-Identifier: MIT
/*
 * /health and /metrics on the common HTTP core. The listener is separate from a daemon's main
 * one so operators can bind it to an internal address.
 */
#include "status.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "http.h"
#include "metrics.h"
#include "parse.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

struct dew_status {
	struct dew_http_server *http;
	struct dew_status_source src;
	char *component;
	double start_time; /* Unix seconds */
	uint64_t start_mono_ms;
	uv_loop_t *loop;
	struct dew_http_route *routes; /* the status routes, then the source's own */
	void (*done)(void *arg);
	void *done_arg;
};

static void status_health(struct dew_http_req *req)
{
	struct dew_status *st = req->server_data;
	const char *reason = NULL;
	bool ok = !st->src.healthy || st->src.healthy(&reason, st->src.data);
	json_t *body =
		json_pack("{s:s, s:s, s:I}", "status", ok ? "ok" : "unhealthy", "component", st->component,
			  "uptime_seconds", (json_int_t)((uv_now(st->loop) - st->start_mono_ms) / 1000));
	if (!ok && reason)
		json_object_set_new(body, "reason", json_string(reason));
	dew_http_respond_json(req, ok ? 200 : 503, body);
}

static void status_metrics(struct dew_http_req *req)
{
	struct dew_status *st = req->server_data;
	cleanup_buf struct dew_buf out = DEW_BUF_INIT;

	dew_metrics_header(&out, "dew_build_info", DEW_METRIC_GAUGE, "Component and version of this daemon.");
	dew_metrics_sample(&out, "dew_build_info",
			   (const char *[]){ "component", st->component, "version", PACKAGE_VERSION, NULL },
			   1);
	dew_metrics_gauge(&out, "dew_uptime_seconds", "Seconds since the daemon started.",
			  (double)(uv_now(st->loop) - st->start_mono_ms) / 1000.0);
	dew_metrics_process(&out, st->start_time);
	if (st->src.metrics)
		st->src.metrics(&out, st->src.data);
	dew_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
}

static const struct dew_http_route status_routes[] = {
	{ .method = "GET", .pattern = "/health", .on_request = status_health },
	{ .method = "GET", .pattern = "/metrics", .on_request = status_metrics },
};

int dew_status_start(struct dew_status **out, uv_loop_t *loop, const char *hostport, const char *component,
		     const struct dew_status_source *src, struct dew_error **err)
{
	cleanup_free char *host = NULL;
	int port, r;

	if (dew_parse_hostport(hostport, &host, &port) < 0)
		return dew_error_set(err, 0, "status listener: expected HOST:PORT, got `%s`", hostport);

	struct dew_status *st = xzalloc(sizeof *st);
	st->src = *src;
	st->component = xstrdup(component);
	st->loop = loop;
	st->start_time = (double)time(NULL);
	st->start_mono_ms = uv_now(loop);

	/* Status requests are tiny: tight limits keep a scraper or a scanner cheap. */
	static const struct dew_http_limits limits = {
		.max_header_bytes = 8192,
		.max_headers = 64,
		.max_body = 4096,
		.max_connections = 64,
	};
	size_t n_routes = DEW_ARRAY_SIZE(status_routes) + src->n_routes;
	st->routes = xcalloc(n_routes, sizeof(*st->routes));
	memcpy(st->routes, status_routes, sizeof(status_routes));
	if (src->n_routes)
		memcpy(st->routes + DEW_ARRAY_SIZE(status_routes), src->routes,
		       src->n_routes * sizeof(*src->routes));
	r = dew_http_server_start(&st->http, loop, host, port, st->routes, n_routes, &limits, st, err);
	if (r < 0) {
		free(st->routes);
		free(st->component);
		free(st);
		return dew_error_prefix(err, "status listener on %s", hostport);
	}
	*out = st;
	return 0;
}

void *dew_status_data(const struct dew_http_req *req)
{
	const struct dew_status *st = req->server_data;
	return st->src.data;
}

int dew_status_port(const struct dew_status *st)
{
	return dew_http_server_port(st->http);
}

static void status_http_stopped(void *arg)
{
	struct dew_status *st = arg;
	void (*done)(void *) = st->done;
	void *done_arg = st->done_arg;
	free(st->routes);
	free(st->component);
	free(st);
	if (done)
		done(done_arg);
}

void dew_status_stop(struct dew_status *st, void (*done)(void *arg), void *arg)
{
	st->done = done;
	st->done_arg = arg;
	dew_http_server_stop(st->http, status_http_stopped, st);
}
