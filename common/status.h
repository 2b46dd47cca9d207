/* SPDX-License-Identifier: MIT */
/*
 * The status listener every daemon runs (DESIGN.md section 11): GET /health answers 200 (or
 * 503 when the daemon says it is unhealthy, e.g. while draining) with a small JSON body, and
 * GET /metrics answers the Prometheus text page: build info, uptime, process metrics, then
 * whatever the daemon adds. Runs on the daemon's loop.
 */
#ifndef DEW_STATUS_H
#define DEW_STATUS_H

#include <stdbool.h>
#include <uv.h>

#include "buf.h"
#include "error.h"

struct dew_status;

struct dew_status_source {
	/* Append the daemon's own metrics (may be NULL). */
	void (*metrics)(struct dew_buf *out, void *data);
	/* Return false when unhealthy; may set *reason to a static string (may be NULL). */
	bool (*healthy)(const char **reason, void *data);
	void *data;
	/* More routes served after /health and /metrics (may be NULL; not copied). Their handlers
	 * find data with dew_status_data(). */
	const struct dew_http_route *routes;
	size_t n_routes;
};

struct dew_http_req;
/* The data of the status source, from a request of one of its extra routes. */
void *dew_status_data(const struct dew_http_req *req);

/*
 * Listen on "HOST:PORT" (port 0 picks one). component names the daemon ("dew-bus") in /health
 * and in dew_build_info. src is copied. On success *out owns the listener.
 */
int dew_status_start(struct dew_status **out, uv_loop_t *loop, const char *hostport, const char *component,
		     const struct dew_status_source *src, struct dew_error **err);
int dew_status_port(const struct dew_status *st);
/* Close the listener; done (may be NULL) runs once everything is freed. */
void dew_status_stop(struct dew_status *st, void (*done)(void *arg), void *arg);

#endif
