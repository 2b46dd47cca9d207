// SPDX-License-Identifier: MIT
/*
 * dew-bus: the built-in message bus, a NATS-protocol server (dew-bus(8)). Options, config,
 * the loop and signals; the server itself is in server.c, client.c, proto.c and route.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "daemon.h"
#include "log.h"
#include "server.h"

static const struct dew_conf_key bus_keys[] = {
	DEW_DAEMON_CORE_KEYS(struct bus_config, "127.0.0.1:4222", "127.0.0.1:8222"),
	{ "max_payload", DEW_CONF_SIZE, offsetof(struct bus_config, max_payload), "1M", 1, 64 << 20, NULL,
	  "largest message (headers + payload)" },
	{ "max_control_line", DEW_CONF_INT, offsetof(struct bus_config, max_control_line), "4096", 256,
	  1 << 20, NULL, "longest protocol line in bytes" },
	{ "max_pending", DEW_CONF_SIZE, offsetof(struct bus_config, max_pending), "64M", 1024, INT64_MAX,
	  NULL, "outbound bytes queued per connection before it is cut off as a slow consumer" },
	{ "write_deadline", DEW_CONF_DURATION, offsetof(struct bus_config, write_deadline_ms), "10s", 100,
	  3600000, NULL, "a write stuck this long cuts the consumer off" },
	{ "max_connections", DEW_CONF_INT, offsetof(struct bus_config, max_connections), "65536", 1, 1 << 24,
	  NULL, "connections accepted at once" },
	{ "ping_interval", DEW_CONF_DURATION, offsetof(struct bus_config, ping_interval_ms), "2m", 100,
	  86400000, NULL, "interval of the server's PINGs" },
	{ "max_pings_out", DEW_CONF_INT, offsetof(struct bus_config, max_pings_out), "2", 1, 100, NULL,
	  "unanswered PINGs before 'Stale Connection'" },
	{ "auth_timeout", DEW_CONF_DURATION, offsetof(struct bus_config, auth_timeout_ms), "2s", 10, 600000,
	  NULL, "time to send CONNECT when authentication is on" },
	{ "auth_token", DEW_CONF_STRING, offsetof(struct bus_config, auth_token), NULL, 0, 0, NULL,
	  "require this token (CONNECT auth_token)" },
	{ "user", DEW_CONF_STRING, offsetof(struct bus_config, user), NULL, 0, 0, NULL,
	  "require this user name (with password)" },
	{ "password", DEW_CONF_STRING, offsetof(struct bus_config, password), NULL, 0, 0, NULL,
	  "the password of user" },
	{ "server_name", DEW_CONF_STRING, offsetof(struct bus_config, server_name), NULL, 0, 0, NULL,
	  "name reported in INFO (default: the server id)" },
};

static const struct dew_daemon_info bus_info = {
	.name = "dew-bus",
	.section = "bus",
	.summary = "The dew message bus: a NATS-protocol server.",
	.keys = bus_keys,
	.n_keys = DEW_ARRAY_SIZE(bus_keys),
	.uses_bus = false,
};

struct bus_main {
	struct dew_daemon daemon;
	struct bus_config cfg;
	struct bus_server *srv;
};

static void bus_stop(struct dew_daemon *d, int signum)
{
	struct bus_main *m = d->data;
	bus_server_stop(m->srv, NULL, NULL);
	dew_daemon_close(d);
}

static void bus_metrics(struct dew_buf *out, void *data)
{
	struct bus_main *m = data;
	if (m->srv)
		bus_server_metrics(out, m->srv);
}

int main(int argc, char **argv)
{
	struct bus_main m = { 0 };
	cleanup_error struct dew_error *err = NULL;

	int r = dew_daemon_parse_args(&m.daemon, &bus_info, &m.cfg, &m.cfg.core, argc, argv, &err);
	if (r == DEW_DAEMON_EXIT)
		return 0;
	if (r < 0) {
		fprintf(stderr, "dew-bus: %s\n", dew_error_msg(err));
		return 2;
	}
	if (m.cfg.user && *m.cfg.user && !(m.cfg.password && *m.cfg.password)) {
		fprintf(stderr, "dew-bus: `user` is set but `password` is not\n");
		return 2;
	}
	m.daemon.data = &m;
	m.daemon.on_stop = bus_stop;

	uv_loop_t *loop = uv_default_loop();
	const struct dew_status_source src = { .metrics = bus_metrics, .data = &m };
	if (dew_daemon_start(&m.daemon, loop, &src, &err) < 0 ||
	    bus_server_start(&m.srv, loop, &m.cfg, &err) < 0 ||
	    dew_daemon_ready(&m.daemon, bus_server_port(m.srv), &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		return 1;
	}
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	dew_daemon_free(&m.daemon);
	dew_info("stopped");
	return 0;
}
