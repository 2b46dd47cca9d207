// SPDX-License-Identifier: MIT
/*
 * The controller's own route: api.<domain> is registered with the routers (router.register,
 * DESIGN.md section 5.1) when the bus connects, when a router (re)starts (router.start) and
 * every register interval after that (the routers' minimumRegisterIntervalInSeconds), so
 * clients reach the API through any router.
 */
#include <string.h>

#include "alloc.h"
#include "controller.h"
#include "json.h"
#include "log.h"

enum { REGISTER_INTERVAL_MIN_S = 1, REGISTER_INTERVAL_MAX_S = 3600 };

void register_publish(struct cc *cc)
{
	if (!cc->bus_connected || !cc->http)
		return;
	cleanup_free char *uri = xasprintf("api.%s", cc->cfg.domain);
	/* Stale after six missed registrations: a router keeps the route through short bus trouble. */
	json_auto_t *m = json_pack(
		"{s:s, s:i, s:[s], s:s, s:s, s:i, s:{s:s}, s:I}", "host", cc->cfg.api_host, "port",
		dew_http_server_port(cc->http), "uris", uri, "app", "dew-controller", "private_instance_id",
		cc->instance_id, "private_instance_index", 0, "tags", "component", "dew-controller",
		"stale_threshold_in_seconds", (json_int_t)(cc->register_interval_ms / 1000 * 6));
	int r = dew_bus_publish_json(cc->bus, "router.register", NULL, m);
	if (r < 0)
		dew_warn("publish router.register: %s", strerror(-r));
}

static void register_on_timer(uv_timer_t *t)
{
	register_publish(t->data);
}

static void register_on_router_start(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct cc *cc = data;
	cleanup_error struct dew_error *err = NULL;
	json_auto_t *body =
		msg->len && msg->len <= 64 * 1024 ? dew_json_parse(msg->data, msg->len, &err) : NULL;
	json_int_t s = 0;
	if (body &&
	    dew_json_get_int(body, "minimumRegisterIntervalInSeconds", DEW_JSON_OPTIONAL,
			     REGISTER_INTERVAL_MIN_S, REGISTER_INTERVAL_MAX_S, &s, NULL) == 0 &&
	    (uint64_t)s * 1000 != cc->register_interval_ms) {
		cc->register_interval_ms = (uint64_t)s * 1000;
		uv_timer_start(&cc->register_timer, register_on_timer, cc->register_interval_ms,
			       cc->register_interval_ms);
	}
	register_publish(cc);
}

void register_start(struct cc *cc)
{
	if (dew_bus_subscribe(cc->bus, "router.start", NULL, register_on_router_start, cc) == 0)
		abort();
	uv_timer_init(cc->loop, &cc->register_timer);
	cc->register_timer.data = cc;
	cc->register_interval_ms = 20000;
	uv_timer_start(&cc->register_timer, register_on_timer, cc->register_interval_ms,
		       cc->register_interval_ms);
}

void register_stop(struct cc *cc)
{
	if (!uv_is_closing((uv_handle_t *)&cc->register_timer))
		uv_close((uv_handle_t *)&cc->register_timer, NULL);
}
