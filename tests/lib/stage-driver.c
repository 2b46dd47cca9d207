// SPDX-License-Identifier: MIT
/*
 * stage-driver: a stager (dea/stage.h) on a bus connection and nothing else, so that
 * tests/integration/dea-staging.sh can drive staging over the bus without dew-dea. Writes
 * --ready-file once its subscription has reached the server, the stager's counters to
 * --stats-file on SIGUSR1, and closes the stager on SIGTERM (running stagings still reply).
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bus-client.h"
#include "fs.h"
#include "log.h"
#include "parse.h"
#include "stage.h"

struct driver {
	uv_loop_t loop;
	struct dew_bus *bus;
	struct stager *stager;
	uv_signal_t sigterm, sigint, sigusr1;
	const char *ready_file, *stats_file;
	bool ready;
};

static void driver_write(const char *path, const char *text)
{
	struct dew_error *err = NULL;

	if (path && dew_write_file_replace(path, text, strlen(text), 0644, &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		dew_error_free(err);
	}
}

static void driver_write_stats(struct driver *d)
{
	struct stager_stats st;

	stager_get_stats(d->stager, &st);
	cleanup_free char *text =
		xasprintf("{\"requests\": %" PRIu64 ", \"succeeded\": %" PRIu64 ", \"failed\": %" PRIu64
			  ", \"busy\": %" PRIu64 ", \"running\": %" PRIu64 "}\n",
			  st.requests, st.succeeded, st.failed, st.busy, st.running);
	driver_write(d->stats_file, text);
}

/* The flush after connecting: the SUB of `staging` has reached the server, so say ready. */
static void driver_on_flushed(struct dew_bus *bus, int status, void *data)
{
	struct driver *d = data;

	if (status < 0 || d->ready)
		return;
	d->ready = true;
	driver_write(d->ready_file, "ready\n");
	dew_info("ready");
}

static void driver_on_event(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data)
{
	if (ev == DEW_BUS_CONNECTED)
		dew_bus_flush(bus, 5000, driver_on_flushed, data);
	else if (ev == DEW_BUS_SERVER_ERROR)
		dew_warn("bus: %s", detail ? detail : "");
}

static void driver_on_handle_closed(uv_handle_t *h)
{
}

/* The stager has finished its last task and freed itself: close everything else. */
static void driver_on_stager_closed(void *arg)
{
	struct driver *d = arg;

	dew_info("stager closed");
	dew_bus_close(d->bus);
	uv_close((uv_handle_t *)&d->sigterm, driver_on_handle_closed);
	uv_close((uv_handle_t *)&d->sigint, driver_on_handle_closed);
	uv_close((uv_handle_t *)&d->sigusr1, driver_on_handle_closed);
}

static void driver_on_signal(uv_signal_t *h, int signum)
{
	struct driver *d = h->data;

	if (signum == SIGUSR1) {
		driver_write_stats(d);
		return;
	}
	if (!d->stager)
		return;
	dew_info("signal %d: closing the stager", signum);
	driver_write_stats(d);
	struct stager *s = d->stager;
	d->stager = NULL;
	uv_signal_stop(&d->sigusr1); /* the stats are gone with the stager */
	stager_close(s, driver_on_stager_closed, d);
}

static int usage(void)
{
	fprintf(stderr, "usage: stage-driver --bus URL --stacks-dir DIR --stacks A,B --work-dir DIR\n"
			"         [--runtime-root DIR] [--timeout DURATION] [--download-timeout DURATION]\n"
			"         [--max-concurrent N] [--ready-file FILE] [--stats-file FILE]\n");
	return 2;
}

/* "a,b" as a NULL-terminated vector (empty items skipped); the caller frees it with free_strv. */
static char **split_commas(const char *list)
{
	size_t n = 0;
	char **v = xcalloc(strlen(list) + 2, sizeof *v);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		if (len > 0)
			v[n++] = xstrndup(p, len);
		p += len + (p[len] == ',');
	}
	return v;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

struct driver_opts {
	const char *bus;
	char **stacks; /* owned */
	struct stager_config cfg;
};

/* Options into o and d; 0, or -1 on a usage error. */
static int driver_parse(int argc, char **argv, struct driver *d, struct driver_opts *o)
{
	static const struct option opts[] = {
		{ "bus", required_argument, NULL, 'b' },
		{ "stacks-dir", required_argument, NULL, 'd' },
		{ "stacks", required_argument, NULL, 's' },
		{ "runtime-root", required_argument, NULL, 'r' },
		{ "work-dir", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "download-timeout", required_argument, NULL, 'D' },
		{ "max-concurrent", required_argument, NULL, 'm' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "stats-file", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t n;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'b')
			o->bus = optarg;
		else if (c == 'd')
			o->cfg.stacks_dir = optarg;
		else if (c == 's' && !o->stacks)
			o->stacks = split_commas(optarg);
		else if (c == 'r')
			o->cfg.runtime_root = optarg;
		else if (c == 'w')
			o->cfg.work_dir = optarg;
		else if (c == 't' && dew_parse_duration_ms(optarg, &o->cfg.timeout_ms) == 0)
			continue;
		else if (c == 'D' && dew_parse_duration_ms(optarg, &o->cfg.download_timeout_ms) == 0)
			continue;
		else if (c == 'm' && dew_parse_uint64(optarg, &n) == 0 && n <= 1000)
			o->cfg.max_concurrent = (unsigned)n;
		else if (c == 'R')
			d->ready_file = optarg;
		else if (c == 'S')
			d->stats_file = optarg;
		else
			return -1;
	}
	if (optind != argc || !o->bus || !o->cfg.stacks_dir || !o->stacks || !o->cfg.work_dir)
		return -1;
	o->cfg.stacks = o->stacks;
	return 0;
}

static void driver_signal_start(struct driver *d, uv_signal_t *h, int signum)
{
	uv_signal_init(&d->loop, h);
	h->data = d;
	uv_signal_start(h, driver_on_signal, signum);
}

/* Connect, create the stager and run until it has closed. */
static int driver_run(struct driver *d, struct driver_opts *o)
{
	struct dew_error *err = NULL;
	struct dew_bus_options bo = {
		.servers = o->bus, .name = "stage-driver", .on_event = driver_on_event, .data = d
	};

	if (dew_bus_new(&d->bus, &d->loop, &bo, &err) < 0 ||
	    stager_new(&d->loop, d->bus, &o->cfg, &d->stager, &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		dew_error_free(err);
		if (d->bus)
			dew_bus_close(d->bus);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		return 1;
	}
	driver_signal_start(d, &d->sigterm, SIGTERM);
	driver_signal_start(d, &d->sigint, SIGINT);
	driver_signal_start(d, &d->sigusr1, SIGUSR1);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	return 0;
}

int main(int argc, char **argv)
{
	struct driver d = { 0 };
	struct driver_opts o = { 0 };
	int code;

	dew_log_setup("stage-driver", DEW_LOG_TEXT, DEW_LOG_INFO);
	/* A peer that goes away must not kill us; SIGCHLD stays default (staging waits for its children). */
	signal(SIGPIPE, SIG_IGN);
	if (driver_parse(argc, argv, &d, &o) < 0) {
		free_strv(o.stacks);
		return usage();
	}
	uv_loop_init(&d.loop);
	code = driver_run(&d, &o);
	if (uv_loop_close(&d.loop) != 0) {
		dew_err("the loop still has handles at exit");
		code = 1;
	}
	free_strv(o.stacks);
	dew_info("exit %d", code);
	return code;
}
