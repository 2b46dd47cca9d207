// SPDX-License-Identifier: MIT
/*
 * The router on the bus (DESIGN.md section 5.1): router.register and router.unregister feed
 * the table (malformed messages are counted and dropped), router.start goes out at boot and on
 * every reconnect so that registrants send their routes at once, router.greet is answered the
 * same way, and a sweep prunes endpoints not refreshed within their threshold, except while the
 * bus is away (routes are then kept: nobody could have refreshed them). Each worker runs its own
 * feed on its own bus connection, into its own table.
 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "log.h"
#include "regmsg.h"
#include "proxy.h"

static void feed_bad(struct router *rt, const char *subject, const char *why)
{
	ROUTER_INC(rt->n.bad_messages);
	/* A flood of garbage must not become a flood of log lines: 1, 2, 4, 8 … */
	if ((rt->n.bad_messages & (rt->n.bad_messages - 1)) == 0)
		dew_warn("%s: message dropped (%llu so far): %s", subject,
			 (unsigned long long)rt->n.bad_messages, why);
}

static void feed_on_route(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data, bool add)
{
	struct router *rt = data;
	const char *subject = add ? "router.register" : "router.unregister";
	struct regmsg m;
	cleanup_error struct dew_error *err = NULL;
	(void)bus;
	if (regmsg_parse(msg->data, msg->len, &m, &err) < 0) {
		feed_bad(rt, subject, dew_error_msg(err));
		regmsg_close(&m);
		return;
	}
	uint64_t now = uv_now(rt->loop);
	for (size_t i = 0; m.uris[i]; i++) {
		int r = add ? table_register(&rt->table, m.uris[i], &m.ep, now)
			    : table_unregister(&rt->table, m.uris[i], m.ep.ip, m.ep.port);
		if (r < 0) {
			feed_bad(rt, subject, "host is not an IP address");
			break;
		}
		if (r > 0)
			dew_debug("%s %s -> %s:%d", subject, m.uris[i], m.ep.ip, m.ep.port);
	}
	if (add)
		ROUTER_INC(rt->n.registrations);
	else
		ROUTER_INC(rt->n.unregistrations);
	regmsg_close(&m);
}

static void feed_on_register(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	feed_on_route(bus, msg, data, true);
}

static void feed_on_unregister(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	feed_on_route(bus, msg, data, false);
}

/* The router.start payload (also the router.greet reply). */
static json_t *feed_start_message(struct router *rt)
{
	return json_pack("{s:s, s:[s], s:I, s:I}", "id", rt->id, "hosts", rt->cfg.ip,
			 "minimumRegisterIntervalInSeconds",
			 (json_int_t)(rt->cfg.register_interval_ms / 1000), "pruneThresholdInSeconds",
			 (json_int_t)(rt->cfg.prune_threshold_ms / 1000));
}

static void feed_on_greet(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct router *rt = data;
	if (!msg->reply)
		return;
	char reply[256];
	if (msg->reply_len >= sizeof(reply))
		return;
	memcpy(reply, msg->reply, msg->reply_len);
	reply[msg->reply_len] = '\0';
	json_auto_t *j = feed_start_message(rt);
	int r = dew_bus_publish_json(bus, reply, NULL, j);
	if (r < 0)
		dew_warn("router.greet reply: %s", strerror(-r));
}

static void feed_announce(struct router *rt)
{
	json_auto_t *j = feed_start_message(rt);
	int r = dew_bus_publish_json(rt->bus, "router.start", NULL, j);
	if (r < 0)
		dew_warn("router.start: %s", strerror(-r));
}

static void feed_on_event(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data)
{
	struct router *rt = data;
	(void)bus;
	switch (ev) {
	case DEW_BUS_CONNECTED:
	case DEW_BUS_RECONNECTED:
		if (ev == DEW_BUS_RECONNECTED) {
			/* Nobody could refresh while we were away: give every endpoint a new threshold. */
			table_touch_all(&rt->table, uv_now(rt->loop));
			dew_notice("bus reconnected; pruning resumes");
		}
		rt->bus_connected = true;
		/* Every worker has its own connection and table. One router.start at boot is
		 * enough (every worker hears the registrations it causes); after a reconnection
		 * each worker asks, since only it may have missed messages. */
		if (rt->index == 0 || ev == DEW_BUS_RECONNECTED)
			feed_announce(rt);
		break;
	case DEW_BUS_DISCONNECTED:
		rt->bus_connected = false;
		dew_warn("bus lost; pruning suspended, routes kept");
		break;
	case DEW_BUS_SERVER_ERROR:
		dew_warn("bus: %s", detail ? detail : "server error");
		break;
	case DEW_BUS_CLOSED:
		break;
	}
}

static void feed_on_prune(uv_timer_t *t)
{
	struct router *rt = t->data;
	if (!rt->bus_connected)
		return;
	size_t n = table_prune(&rt->table, uv_now(rt->loop));
	ROUTER_ADD(rt->n.pruned, n);
	if (n)
		dew_info("pruned %zu stale endpoint(s)", n);
}

static uint64_t feed_random(void *data)
{
	(void)data;
	return dew_random_u64();
}

static void feed_backend_unused(struct backend *be, void *data)
{
	(void)data;
	upstream_pool_drop(be);
}

int feed_start(struct router *rt, struct dew_error **err)
{
	rt->table.random = feed_random;
	rt->table.on_unused = feed_backend_unused;
	rt->table.data = rt;
	const struct dew_bus_options opts = {
		.servers = rt->cfg.core.bus,
		.ping_interval_ms = rt->cfg.core.bus_ping_interval_ms,
		.name = "dew-router",
		.on_event = feed_on_event,
		.data = rt,
	};
	if (dew_bus_new(&rt->bus, rt->loop, &opts, err) < 0)
		return -EINVAL;
	static const struct {
		const char *subject;
		dew_bus_msg_fn fn;
	} subs[] = {
		{ "router.register", feed_on_register },
		{ "router.unregister", feed_on_unregister },
		{ "router.greet", feed_on_greet },
	};
	/* router.greet is answered once per router, by worker 0. */
	size_t n_subs = rt->index == 0 ? DEW_ARRAY_SIZE(subs) : DEW_ARRAY_SIZE(subs) - 1;
	for (size_t i = 0; i < n_subs; i++)
		dew_bus_subscribe(rt->bus, subs[i].subject, NULL, subs[i].fn, rt);
	uv_timer_init(rt->loop, &rt->prune_timer);
	rt->prune_timer.data = rt;
	uv_timer_start(&rt->prune_timer, feed_on_prune, rt->cfg.prune_interval_ms, rt->cfg.prune_interval_ms);
	return 0;
}

void feed_stop(struct router *rt)
{
	if (!uv_is_closing((uv_handle_t *)&rt->prune_timer))
		uv_close((uv_handle_t *)&rt->prune_timer, NULL);
	if (rt->bus) {
		dew_bus_close(rt->bus);
		rt->bus = NULL;
	}
}
