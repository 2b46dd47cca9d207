// SPDX-License-Identifier: MIT
/*
 * Waiting for an app to run (cli.h, cli_wait_running): the staging log is followed while the
 * package stages, then the instances are polled until every index runs or one of them cannot.
 * The controller does not restart crashed instances (the health manager does), so a crash of
 * the current version, or an index no DEA could take, ends the wait at once with the reason.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "commands.h"

enum { WAIT_POLL_US = 300 * 1000, WAIT_DEFAULT_S = 180 };

static double wait_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wait_limit(void)
{
	const char *v = getenv("DEW_WAIT_TIMEOUT");
	double s = v ? strtod(v, NULL) : 0;
	return s > 0 ? s : WAIT_DEFAULT_S;
}

static bool wait_print_log(const char *data, size_t len, void *arg)
{
	struct cli *cli = arg;
	if (!cli->json) {
		fwrite(data, 1, len, cli->out);
		fflush(cli->out);
	}
	return true;
}

/* Follow the staging, then wait for the package to leave PENDING: its JSON in *app_out. */
static int wait_staged(struct cli *cli, const char *name, double deadline, json_t **app_out)
{
	cleanup_free char *log_path = cli_app_path(name, "staging_log");
	cleanup_free char *app_path = cli_app_path(name, NULL);
	cli_say(cli, "staging %s:", name);
	if (cli_stream(cli, log_path, wait_print_log, cli) < 0)
		return CLI_FAIL;
	for (;;) {
		json_t *app = NULL;
		if (cli_call(cli, "GET", app_path, NULL, &app) < 0)
			return CLI_FAIL;
		const char *st = json_string_value(json_object_get(app, "package_state"));
		if (st && strcmp(st, "PENDING") != 0) {
			*app_out = app;
			return CLI_OK;
		}
		json_decref(app);
		if (wait_now() > deadline)
			return cli_error(cli, "%s is still staging after %.0f s", name, wait_limit());
		usleep(WAIT_POLL_US);
	}
}

/* Why the wait cannot succeed (a crash, or no DEA for an index), or NULL to keep waiting. */
static const char *wait_hopeless(const json_t *inst)
{
	json_t *i;
	size_t k;
	json_array_foreach (json_object_get(inst, "instances"), k, i) {
		const char *reason = json_string_value(json_object_get(i, "reason"));
		if (reason && strcmp(reason, "not running") != 0 &&
		    strcmp(reason, "waiting for staging") != 0)
			return reason;
	}
	return NULL;
}

/* Running indices of the current version, and a one-line summary of the states. */
static json_int_t wait_running(const json_t *inst, char *line, size_t cap)
{
	json_int_t running = 0, starting = 0, down = 0;
	const char *version = json_string_value(json_object_get(inst, "version"));
	json_t *i;
	size_t k;
	json_array_foreach (json_object_get(inst, "instances"), k, i) {
		const char *st = json_string_value(json_object_get(i, "state"));
		const char *v = json_string_value(json_object_get(i, "version"));
		bool current = v && version && !strcmp(v, version);
		if (st && !strcmp(st, "RUNNING") && current)
			running++;
		else if (st && !strcmp(st, "STARTING") && current)
			starting++;
		else if (st && !strcmp(st, "DOWN"))
			down++;
	}
	snprintf(line, cap,
		 "%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " running, %" JSON_INTEGER_FORMAT
		 " starting, %" JSON_INTEGER_FORMAT " down",
		 running, json_integer_value(json_object_get(inst, "desired")), starting, down);
	return running;
}

/* The crash record of the failing index, with its log lines, for the error report. */
static void wait_show_crash(struct cli *cli, const char *name)
{
	cleanup_free char *path = cli_app_path(name, "crashes");
	json_auto_t *c = NULL;
	if (cli_call(cli, "GET", path, NULL, &c) < 0)
		return;
	json_t *last = json_array_get(json_object_get(c, "crashes"), 0), *line;
	size_t k;
	if (!last)
		return;
	fprintf(cli->err, "last lines of instance %" JSON_INTEGER_FORMAT ":\n",
		json_integer_value(json_object_get(last, "index")));
	json_array_foreach (json_object_get(last, "log_tail"), k, line)
		fprintf(cli->err, "    %s\n", json_string_value(line));
}

int cli_wait_running(struct cli *cli, const char *name, const json_t *app_in)
{
	double deadline = wait_now() + wait_limit();
	json_auto_t *app = json_incref((json_t *)app_in);
	if (strcmp(json_string_value(json_object_get(app, "state")) ?: "", "STARTED") != 0)
		return CLI_OK;
	if (!strcmp(json_string_value(json_object_get(app, "package_state")) ?: "", "PENDING")) {
		json_decref(app);
		app = NULL;
		if (wait_staged(cli, name, deadline, &app) != CLI_OK)
			return CLI_FAIL;
	}
	if (!strcmp(json_string_value(json_object_get(app, "package_state")) ?: "", "FAILED"))
		return cli_error(cli, "staging of %s failed: %s", name,
				 json_string_value(json_object_get(app, "staging_error")) ?: "?");
	cleanup_free char *path = cli_app_path(name, "instances");
	char line[160], shown[160] = "";
	for (;;) {
		json_auto_t *inst = NULL;
		if (cli_call(cli, "GET", path, NULL, &inst) < 0)
			return CLI_FAIL;
		json_int_t running = wait_running(inst, line, sizeof line);
		if (strcmp(line, shown) != 0 && !cli->json) {
			cli_say(cli, "  %s", line);
			snprintf(shown, sizeof shown, "%s", line);
		}
		const char *hopeless = wait_hopeless(inst);
		if (running == json_integer_value(json_object_get(inst, "desired")) || hopeless) {
			if (cli->json) {
				json_auto_t *j = json_pack("{s:O, s:O}", "app", app, "instances",
							   json_object_get(inst, "instances"));
				cli_print_json(cli, j);
			} else {
				cli_print_instances(cli, inst);
			}
			if (!hopeless)
				return CLI_OK;
			cli_error(cli, "%s did not start: %s", name, hopeless);
			if (!strncmp(hopeless, "crashed", 7))
				wait_show_crash(cli, name);
			return CLI_FAIL;
		}
		if (wait_now() > deadline)
			return cli_error(cli, "%s: not every instance is running after %.0f s (%s)", name,
					 wait_limit(), line);
		usleep(WAIT_POLL_US);
	}
}
