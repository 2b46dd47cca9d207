// SPDX-License-Identifier: MIT
/*
 * dew-testd: the smallest daemon built on the common skeleton, for the skeleton's own
 * integration test. Its main listener answers GET /hello with the configured greeting.
 */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"

struct testd_config {
	struct dew_daemon_core core;
	char *greeting;
	int64_t workers;
	bool shout;
	uint64_t max_upload;
	uint64_t timeout_ms;
};

static const struct dew_conf_key testd_keys[] = {
	DEW_DAEMON_CORE_KEYS(struct testd_config, "127.0.0.1:0", "127.0.0.1:0"),
	{ "greeting", DEW_CONF_STRING, offsetof(struct testd_config, greeting), "hello", 0, 0, NULL,
	  "text GET /hello answers" },
	{ "workers", DEW_CONF_INT, offsetof(struct testd_config, workers), "1", 1, 64, NULL, "worker count" },
	{ "shout", DEW_CONF_BOOL, offsetof(struct testd_config, shout), "false", 0, 0, NULL,
	  "answer in capitals" },
	{ "max_upload", DEW_CONF_SIZE, offsetof(struct testd_config, max_upload), "1M", 1, 1 << 30, NULL,
	  "largest accepted body" },
	{ "timeout", DEW_CONF_DURATION, offsetof(struct testd_config, timeout_ms), "2s", 1, 3600000, NULL,
	  "a duration" },
};

static const struct dew_daemon_info testd_info = {
	.name = "dew-testd",
	.section = "run",
	.summary = "A test daemon on the dew skeleton (not installed).",
	.keys = testd_keys,
	.n_keys = DEW_ARRAY_SIZE(testd_keys),
	.uses_bus = true,
};

struct testd {
	struct dew_daemon daemon;
	struct testd_config cfg;
	struct dew_http_server *http;
	uint64_t hellos;
	bool draining;
};

static void testd_hello(struct dew_http_req *req)
{
	struct testd *t = req->server_data;
	cleanup_free char *text = xasprintf("%s\n", t->cfg.greeting);
	if (t->cfg.shout)
		for (char *p = text; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
	t->hellos++;
	dew_http_respond(req, 200, "text/plain", text, strlen(text));
}

static const struct dew_http_route testd_routes[] = {
	{ .method = "GET", .pattern = "/hello", .on_request = testd_hello },
};

static void testd_metrics(struct dew_buf *out, void *data)
{
	struct testd *t = data;
	dew_metrics_counter(out, "dew_testd_hellos_total", "GET /hello requests answered.", t->hellos);
}

static bool testd_healthy(const char **reason, void *data)
{
	struct testd *t = data;
	*reason = "draining";
	return !t->draining;
}

static void testd_stop(struct dew_daemon *d, int signum)
{
	struct testd *t = d->data;
	dew_http_server_stop(t->http, NULL, NULL);
	dew_daemon_close(d);
}

static void testd_reload(struct dew_daemon *d)
{
	struct testd *t = d->data;
	t->draining = !t->draining;
	dew_notice("reload: draining is now %s", t->draining ? "on" : "off");
}

int main(int argc, char **argv)
{
	struct testd t = { 0 };
	cleanup_error struct dew_error *err = NULL;
	cleanup_free char *host = NULL;
	int port;

	int r = dew_daemon_parse_args(&t.daemon, &testd_info, &t.cfg, &t.cfg.core, argc, argv, &err);
	if (r == DEW_DAEMON_EXIT)
		return 0;
	if (r < 0) {
		fprintf(stderr, "dew-testd: %s\n", dew_error_msg(err));
		return 2;
	}
	t.daemon.data = &t;
	t.daemon.on_stop = testd_stop;
	t.daemon.on_reload = testd_reload;

	uv_loop_t *loop = uv_default_loop();
	const struct dew_status_source src = { .metrics = testd_metrics,
					       .healthy = testd_healthy,
					       .data = &t };
	if (dew_parse_hostport(t.cfg.core.listen, &host, &port) < 0) {
		fprintf(stderr, "dew-testd: --listen: expected HOST:PORT, got `%s`\n", t.cfg.core.listen);
		return 2;
	}
	if (dew_daemon_start(&t.daemon, loop, &src, &err) < 0 ||
	    dew_http_server_start(&t.http, loop, host, port, testd_routes, DEW_ARRAY_SIZE(testd_routes), NULL,
				  &t, &err) < 0 ||
	    dew_daemon_ready(&t.daemon, dew_http_server_port(t.http), &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		return 1;
	}
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	dew_daemon_free(&t.daemon);
	dew_info("stopped");
	return 0;
}
