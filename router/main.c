// SPDX-License-Identifier: MIT
/*
 * dew-router: the HTTP router (dew-router(8)). Options and config, start-up (table, bus feed,
 * listener, status listener with /routes), the loop, and the signals: SIGTERM/SIGINT stop at
 * once, SIGUSR1 drains. router.h maps the other files.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "parse.h"
#include "proxy.h"

static const char *const main_lb_modes[] = { "round-robin", "least-connection", NULL };

#define K(name, type, field, def, min, max, doc)                                                             \
	{                                                                                                    \
		name, type, offsetof(struct router_config, field), def, min, max, NULL, doc                  \
	}
static const struct dew_conf_key router_keys[] = {
	DEW_DAEMON_CORE_KEYS(struct router_config, "0.0.0.0:80", "127.0.0.1:8082"),
	K("id", DEW_CONF_STRING, id, NULL, 0, 0, "this router's id in router.start (default: a random UUID)"),
	K("ip", DEW_CONF_STRING, ip, "127.0.0.1", 0, 0, "address of this router announced in router.start"),
	K("register_interval", DEW_CONF_DURATION, register_interval_ms, "20s", 1000, 3600000,
	  "minimumRegisterIntervalInSeconds asked of registrants"),
	K("prune_threshold", DEW_CONF_DURATION, prune_threshold_ms, "120s", 1000, 86400000,
	  "endpoints not refreshed for this long are pruned (unless their message says otherwise)"),
	K("prune_interval", DEW_CONF_DURATION, prune_interval_ms, "30s", 10, 3600000,
	  "interval of the prune sweep"),
	K("backend_idle_timeout", DEW_CONF_DURATION, backend_idle_timeout_ms, "55s", 10, 3600000,
	  "idle backend connections are closed after this long"),
	K("client_idle_timeout", DEW_CONF_DURATION, client_idle_timeout_ms, "90s", 10, 3600000,
	  "idle keep-alive client connections are closed after this long"),
	K("header_timeout", DEW_CONF_DURATION, header_timeout_ms, "10s", 10, 600000,
	  "a request head must arrive within this time of its first byte (408)"),
	K("connect_timeout", DEW_CONF_DURATION, connect_timeout_ms, "5s", 10, 600000,
	  "connecting to a backend; a timeout counts as a failed endpoint"),
	K("endpoint_timeout", DEW_CONF_DURATION, endpoint_timeout_ms, "900s", 10, 86400000,
	  "a backend must start its response within this time of the end of the request (502)"),
	K("max_header_bytes", DEW_CONF_SIZE, max_header_bytes, "32K", 1024, 1 << 20,
	  "request or response head: start line and fields (431)"),
	K("max_request_line", DEW_CONF_INT, max_request_line, "8192", 256, 1 << 20, "request line (414)"),
	K("max_headers", DEW_CONF_INT, max_headers, "100", 8, 1000, "header fields per request (431)"),
	K("max_conns_per_backend", DEW_CONF_INT, max_conns_per_backend, "500", 0, 1000000,
	  "requests in flight per backend (0: no limit); beyond it 503 Connection Limit Reached"),
	K("max_attempts", DEW_CONF_INT, max_attempts, "3", 1, TABLE_MAX_ATTEMPTS, "tries of one request"),
	K("max_connections", DEW_CONF_INT, max_connections, "100000", 1, 10000000,
	  "client connections at once"),
	K("bench_time", DEW_CONF_DURATION, bench_time_ms, "30s", 0, 3600000,
	  "an endpoint that failed to connect is skipped for this long"),
	{ "load_balancing", DEW_CONF_ENUM, offsetof(struct router_config, load_balancing), "round-robin", 0,
	  0, main_lb_modes, "round-robin or least-connection (a route's options.loadbalancing wins)" },
	K("sticky_session_cookie_names", DEW_CONF_STRING, sticky_cookies, "JSESSIONID", 0, 0,
	  "cookies that start a sticky session (comma-separated)"),
	K("forwarded_proto", DEW_CONF_STRING, forwarded_proto, "http", 0, 0,
	  "X-Forwarded-Proto when the client sent none"),
	K("routes_user", DEW_CONF_STRING, routes_user, "router", 0, 0, "basic-auth user of /routes"),
	K("routes_password", DEW_CONF_STRING, routes_password, NULL, 0, 0,
	  "basic-auth password of /routes (unset: /routes is off)"),
	K("drain_wait", DEW_CONF_DURATION, drain_wait_ms, "20s", 0, 3600000,
	  "SIGUSR1: /health fails, connections are still accepted for this long"),
	K("drain_timeout", DEW_CONF_DURATION, drain_timeout_ms, "60s", 0, 3600000,
	  "SIGUSR1: then requests in flight get this long to finish"),
	K("access_log", DEW_CONF_STRING, access_log, NULL, 0, 0, "append one line per request to this file"),
	K("workers", DEW_CONF_INT, workers, "0", 0, 256,
	  "event loops (threads), each with its own listener (SO_REUSEPORT), bus connection and table; 0: "
	  "one per core"),
};
#undef K

static const struct dew_daemon_info router_info = {
	.name = "dew-router",
	.section = "router",
	.summary = "The dew HTTP router: a reverse proxy keyed by Host, fed by the bus.",
	.keys = router_keys,
	.n_keys = DEW_ARRAY_SIZE(router_keys),
	.uses_bus = true,
};

static void main_on_access_flush(uv_timer_t *t)
{
	ops_access_flush(t->data);
}

void router_shutdown(struct router *rt)
{
	if (rt->stopping)
		return;
	rt->stopping = true;
	client_stop_listening(rt);
	client_close_all(rt, false);
	struct hmap_node *n, *tmp;
	hmap_foreach(&rt->table.backends, n, tmp) upstream_pool_drop((struct backend *)n);
	feed_stop(rt);
	uv_close((uv_handle_t *)&rt->drain_timer, NULL);
	if (rt->access_fd >= 0) {
		ops_access_flush(rt);
		uv_close((uv_handle_t *)&rt->flush_timer, NULL);
	}
	if (rt->index == 0) {
		workers_command(rt, WORKER_STOP);
		uv_close((uv_handle_t *)&rt->sig_usr1, NULL);
		dew_daemon_close(&rt->daemon);
	} else {
		workers_close_command(rt);
	}
}

static void main_on_stop(struct dew_daemon *d, int signum)
{
	(void)signum;
	router_shutdown(d->data);
}

static void main_on_usr1(uv_signal_t *s, int signum)
{
	(void)signum;
	ops_drain_start(s->data);
}

static const double main_latency_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					      0.1,    0.25,  0.5,    1,	    2.5,  5,	 10 };

static const struct dew_http_route main_status_routes[] = {
	{ .method = "GET", .pattern = "/routes", .on_request = ops_routes },
};

int router_setup(struct router *rt, const struct sockaddr *addr, struct dew_error **err)
{
	struct router_config *cfg = &rt->cfg;
	rt->rng = dew_random_u64();
	rt->limits = (struct h1_limits){ .max_head = cfg->max_header_bytes,
					 .max_line = (size_t)cfg->max_request_line,
					 .max_fields = (size_t)cfg->max_headers };
	rt->resp_limits =
		(struct h1_limits){ .max_head = 64 * 1024, .max_line = 64 * 1024, .max_fields = 200 };
	rt->resp_fields = xcalloc(rt->resp_limits.max_fields, sizeof(*rt->resp_fields));
	table_init(&rt->table, cfg->prune_threshold_ms,
		   cfg->load_balancing ? TABLE_LB_LEAST_CONN : TABLE_LB_ROUND_ROBIN);
	dew_histogram_init(&rt->latency, main_latency_bounds, DEW_ARRAY_SIZE(main_latency_bounds));
	uv_mutex_init(&rt->stats_lock);
	uv_timer_init(rt->loop, &rt->drain_timer);
	rt->drain_timer.data = rt;
	rt->access_fd = rt->main->access_fd;
	if (rt->access_fd >= 0) {
		uv_timer_init(rt->loop, &rt->flush_timer);
		rt->flush_timer.data = rt;
		uv_timer_start(&rt->flush_timer, main_on_access_flush, 1000, 1000);
	}
	if (client_listen(rt, addr, rt->main->n_workers > 1, err) < 0 || feed_start(rt, err) < 0)
		return -1;
	return 0;
}

void router_free(struct router *rt)
{
	if (rt->index != 0)
		uv_loop_close(rt->loop);
	rt->table.on_unused = NULL;
	table_close(&rt->table);
	dew_histogram_close(&rt->latency);
	uv_mutex_destroy(&rt->stats_lock);
	dew_buf_close(&rt->scratch);
	if (rt->access_fd >= 0)
		ops_access_flush(rt);
	dew_buf_close(&rt->access_buf);
	free(rt->resp_fields);
}

/* Worker 0 (this thread): the id, the access log, SIGUSR1, its own set-up, then the others. */
static int main_setup(struct router *rt, struct dew_error **err)
{
	struct router_config *cfg = &rt->cfg;
	if (cfg->id)
		snprintf(rt->id, sizeof(rt->id), "%s", cfg->id);
	else
		dew_uuid4(rt->id);
	rt->access_fd = -1;
	if (cfg->access_log) {
		rt->access_fd = open(cfg->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (rt->access_fd < 0)
			return dew_error_set(err, errno, "access_log %s: %s", cfg->access_log,
					     strerror(errno));
	}
	uv_signal_init(rt->loop, &rt->sig_usr1);
	rt->sig_usr1.data = rt;
	uv_signal_start(&rt->sig_usr1, main_on_usr1, SIGUSR1);
	rt->n_workers = cfg->workers > 0 ? (size_t)cfg->workers : uv_available_parallelism();
	rt->workers = xcalloc(rt->n_workers, sizeof(*rt->workers));
	rt->workers[0] = rt;
	char *host = NULL;
	int port, r;
	if (dew_parse_hostport(cfg->core.listen, &host, &port) < 0)
		return dew_error_set(err, EINVAL, "listen: expected HOST:PORT, got `%s`", cfg->core.listen);
	struct sockaddr_storage sa;
	r = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa)
			      : uv_ip4_addr(host, port, (struct sockaddr_in *)&sa);
	free(host);
	if (r < 0)
		return dew_error_set(err, EINVAL, "listen: `%s` is not an IP address and port",
				     cfg->core.listen);
	if (router_setup(rt, (const struct sockaddr *)&sa, err) < 0)
		return -1;
	/* The others bind the port worker 0 got (port 0 asks for any). */
	int len = sizeof(sa);
	r = uv_tcp_getsockname(&rt->listener, (struct sockaddr *)&sa, &len);
	if (r < 0)
		return dew_error_set(err, -r, "listen: %s", uv_strerror(r));
	if (workers_start(rt, (const struct sockaddr *)&sa, err) < 0)
		return -1;
	if (rt->n_workers > 1)
		dew_info("%zu workers", rt->n_workers);
	return 0;
}

int main(int argc, char **argv)
{
	struct router *rt = xzalloc(sizeof(*rt));
	cleanup_error struct dew_error *err = NULL;
	signal(SIGPIPE, SIG_IGN);
	int r = dew_daemon_parse_args(&rt->daemon, &router_info, &rt->cfg, &rt->cfg.core, argc, argv, &err);
	if (r == DEW_DAEMON_EXIT) {
		free(rt);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "dew-router: %s\n", dew_error_msg(err));
		free(rt);
		return 2;
	}
	rt->daemon.data = rt;
	rt->daemon.on_stop = main_on_stop;
	rt->loop = uv_default_loop();
	rt->main = rt;
	const struct dew_status_source src = {
		.metrics = ops_metrics,
		.healthy = ops_healthy,
		.data = rt,
		.routes = main_status_routes,
		.n_routes = DEW_ARRAY_SIZE(main_status_routes),
	};
	if (dew_daemon_start(&rt->daemon, rt->loop, &src, &err) < 0 || main_setup(rt, &err) < 0 ||
	    dew_daemon_ready(&rt->daemon, client_port(rt), &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		return 1;
	}
	dew_info("routing on %s (id %s)", rt->cfg.core.listen, rt->id);
	uv_run(rt->loop, UV_RUN_DEFAULT);
	workers_join(rt);
	uv_loop_close(rt->loop);
	router_free(rt);
	if (rt->access_fd >= 0)
		close(rt->access_fd);
	dew_daemon_free(&rt->daemon);
	free(rt);
	dew_info("stopped");
	return 0;
}
