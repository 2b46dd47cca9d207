// SPDX-License-Identifier: MIT
/*
 * dew instances NAME: each index's state and address (DOWN ones with the reason).
 * dew stats NAME: each running instance's CPU, memory and disk against its quotas, and uptime.
 * dew crashes NAME [-v]: the crashes the platform remembers, newest first; -v adds the last log
 * lines each instance wrote before it died.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"

const struct cli_option cli_crashes_options[] = {
	{ "verbose", 'v', NULL, "also show each crashed instance's last log lines" },
	{ 0 },
};

enum { INSTANCES_TABLE = -1 };

/*
 * GET /v1/apps/<name>/<what> into *out, whose array `list` the command shows. INSTANCES_TABLE
 * when there is something to show as a table; otherwise the command's exit status, having
 * printed the answer (--json), said `none` (an empty list), or the error.
 */
static int instances_get(struct cli *cli, const char *name, const char *what, const char *list,
			 const char *none, json_t **out)
{
	cleanup_free char *path = cli_app_path(name, what);
	if (cli_call(cli, "GET", path, NULL, out) < 0)
		return CLI_FAIL;
	if (cli->json)
		return cli_print_json(cli, *out);
	if (!json_array_size(json_object_get(*out, list))) {
		cli_say(cli, "%s %s", name, none);
		return CLI_OK;
	}
	return INSTANCES_TABLE;
}

int cmd_instances(struct cli *cli, const struct cli_args *a)
{
	json_auto_t *inst = NULL;
	int r = instances_get(cli, a->pos[0], "instances", "instances",
			      "has no instances (it is stopped or scaled to 0)", &inst);
	if (r != INSTANCES_TABLE)
		return r;
	cli_print_instances(cli, inst);
	return CLI_OK;
}

/* "3d 4h", "2h 05m", "7m 03s", "12s". */
static void stats_uptime(json_int_t s, char out[32])
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, 32, "%" JSON_INTEGER_FORMAT "d %" JSON_INTEGER_FORMAT "h", s / 86400,
			 s / 3600 % 24);
	else if (s >= 3600)
		snprintf(out, 32, "%" JSON_INTEGER_FORMAT "h %02" JSON_INTEGER_FORMAT "m", s / 3600,
			 s / 60 % 60);
	else if (s >= 60)
		snprintf(out, 32, "%" JSON_INTEGER_FORMAT "m %02" JSON_INTEGER_FORMAT "s", s / 60, s % 60);
	else
		snprintf(out, 32, "%" JSON_INTEGER_FORMAT "s", s);
}

/* "12.3 MB / 256.0 MB" of the usage key against the quota key of stats. */
static char *stats_of(const json_t *stats, const char *usage_key, const char *quota_key)
{
	char used[32], quota[32];
	json_int_t u = json_integer_value(json_object_get(json_object_get(stats, "usage"), usage_key));
	json_int_t q = json_integer_value(json_object_get(stats, quota_key));
	cli_human_size(u > 0 ? (uint64_t)u : 0, used);
	cli_human_size(q > 0 ? (uint64_t)q : 0, quota);
	return xasprintf("%s / %s", used, quota);
}

int cmd_stats(struct cli *cli, const struct cli_args *a)
{
	json_auto_t *st = NULL;
	int r = instances_get(cli, a->pos[0], "stats", "instances", "has no running instance", &st);
	if (r != INSTANCES_TABLE)
		return r;
	json_t *list = json_object_get(st, "instances"), *i;
	size_t k;
	static const char *const head[] = { "#", "state", "cpu", "memory", "disk", "uptime" };
	struct cli_table *t = cli_table_new(6, head);
	json_array_foreach (list, k, i) {
		const json_t *stats = json_object_get(i, "stats");
		cleanup_free char *index =
			xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(i, "index")));
		cleanup_free char *cpu = NULL, *mem = NULL, *disk = NULL;
		char up[32] = "";
		if (stats) {
			double c = json_number_value(json_object_get(json_object_get(stats, "usage"), "cpu"));
			cpu = xasprintf("%.1f%%", c * 100);
			mem = stats_of(stats, "mem", "mem_quota");
			disk = stats_of(stats, "disk", "disk_quota");
			stats_uptime(json_integer_value(json_object_get(stats, "uptime")), up);
		}
		const char *row[] = { index, json_string_value(json_object_get(i, "state")),
				      cpu,   mem,
				      disk,  stats ? up : NULL };
		cli_table_add(t, row);
	}
	cli_table_print(cli, t);
	cli_table_free(t);
	return CLI_OK;
}

static int crash_cmp(const void *x, const void *y)
{
	double a = json_number_value(json_object_get(*(json_t *const *)x, "since"));
	double b = json_number_value(json_object_get(*(json_t *const *)y, "since"));
	return a < b ? 1 : a > b ? -1 : 0;
}

/* The crashes newest first (the DEAs' own records come after the controller's in the answer). */
static json_t **crashes_sorted(const json_t *list, size_t *n)
{
	*n = json_array_size(list);
	json_t **v = xcalloc(*n + 1, sizeof(*v));
	for (size_t i = 0; i < *n; i++)
		v[i] = json_array_get(list, i);
	qsort(v, *n, sizeof(*v), crash_cmp);
	return v;
}

/* "exited with status 3", or the DEA's description when it has one. */
static char *crash_why(const json_t *c)
{
	const char *desc = json_string_value(json_object_get(c, "exit_description"));
	json_t *status = json_object_get(c, "exit_status");
	if (desc && *desc)
		return xstrdup(desc);
	if (json_is_integer(status) && json_integer_value(status) >= 0)
		return xasprintf("exit status %" JSON_INTEGER_FORMAT, json_integer_value(status));
	return xstrdup("?");
}

int cmd_crashes(struct cli *cli, const struct cli_args *a)
{
	json_auto_t *cr = NULL;
	int r = instances_get(cli, a->pos[0], "crashes", "crashes",
			      "has not crashed lately (no crashes kept)", &cr);
	if (r != INSTANCES_TABLE)
		return r;
	size_t n;
	cleanup_free json_t **v = crashes_sorted(json_object_get(cr, "crashes"), &n);
	static const char *const head[] = { "time", "#", "instance", "why" };
	struct cli_table *t = cli_table_new(4, head);
	for (size_t k = 0; k < n; k++) {
		char when[40];
		cli_time_iso(json_number_value(json_object_get(v[k], "since")), when);
		cleanup_free char *index = xasprintf("%" JSON_INTEGER_FORMAT,
						     json_integer_value(json_object_get(v[k], "index")));
		cleanup_free char *why = crash_why(v[k]);
		const char *row[] = { when, index, json_string_value(json_object_get(v[k], "instance")),
				      why };
		cli_table_add(t, row);
	}
	cli_table_print(cli, t);
	cli_table_free(t);
	if (!cli->verbose && !cli_flag(a, "verbose"))
		return CLI_OK;
	for (size_t k = 0; k < n; k++) {
		json_t *tail = json_object_get(v[k], "log_tail"), *line;
		size_t i;
		cli_say(cli, "\ninstance %s (#%" JSON_INTEGER_FORMAT "), its last lines:",
			json_string_value(json_object_get(v[k], "instance")) ?: "?",
			json_integer_value(json_object_get(v[k], "index")));
		if (!json_array_size(tail))
			cli_say(cli, "    (none kept)");
		json_array_foreach (tail, i, line)
			cli_say(cli, "    %s", json_string_value(line));
	}
	return CLI_OK;
}
