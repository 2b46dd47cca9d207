// SPDX-License-Identifier: MIT
/*
 * dew apps: a table of the user's apps. dew app NAME: one app, its instances (DOWN ones with the
 * reason) and its last crash.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "commands.h"

/* "2/3" running of desired for a STARTED app, "0/3" (stopped) otherwise. */
static char *apps_count(const json_t *app)
{
	json_int_t want = json_integer_value(json_object_get(app, "instances"));
	json_int_t up = json_integer_value(json_object_get(app, "running_instances"));
	return xasprintf("%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT, up, want);
}

static char *apps_routes(const json_t *app)
{
	struct dew_buf b = DEW_BUF_INIT;
	json_t *r;
	size_t i;
	json_array_foreach (json_object_get(app, "routes"), i, r) {
		if (i)
			dew_buf_puts(&b, ", ");
		dew_buf_puts(&b, json_string_value(r));
	}
	dew_buf_putc(&b, '\0');
	return dew_buf_steal(&b);
}

int cmd_apps(struct cli *cli, const struct cli_args *a)
{
	(void)a;
	json_auto_t *list = NULL;
	if (cli_call(cli, "GET", "/v1/apps", NULL, &list) < 0)
		return CLI_FAIL;
	if (cli->json)
		return cli_print_json(cli, list);
	json_t *apps = json_object_get(list, "apps"), *app;
	size_t i;
	if (!json_array_size(apps)) {
		cli_say(cli, "no apps: `dew push` one");
		return CLI_OK;
	}
	static const char *const head[] = { "name", "state",   "instances", "memory",
					    "disk", "package", "routes" };
	struct cli_table *t = cli_table_new(7, head);
	json_array_foreach (apps, i, app) {
		cleanup_free char *count = apps_count(app);
		cleanup_free char *routes = apps_routes(app);
		cleanup_free char *mem = xasprintf("%" JSON_INTEGER_FORMAT "M",
						   json_integer_value(json_object_get(app, "memory")));
		cleanup_free char *disk = xasprintf("%" JSON_INTEGER_FORMAT "M",
						    json_integer_value(json_object_get(app, "disk")));
		const char *row[] = { json_string_value(json_object_get(app, "name")),
				      json_string_value(json_object_get(app, "state")),
				      count,
				      mem,
				      disk,
				      json_string_value(json_object_get(app, "package_state")),
				      routes };
		cli_table_add(t, row);
	}
	cli_table_print(cli, t);
	cli_table_free(t);
	return CLI_OK;
}

/* Print the instances answer as a table (index, state, since/host:port or reason). */
void cli_print_instances(struct cli *cli, const json_t *inst)
{
	static const char *const head[] = { "#", "state", "address", "details" };
	struct cli_table *t = cli_table_new(4, head);
	json_t *i;
	size_t k;
	json_array_foreach (json_object_get(inst, "instances"), k, i) {
		cleanup_free char *index =
			xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(i, "index")));
		const char *state = json_string_value(json_object_get(i, "state"));
		const char *host = json_string_value(json_object_get(i, "host"));
		cleanup_free char *addr = host ? xasprintf("%s:%" JSON_INTEGER_FORMAT, host,
							   json_integer_value(json_object_get(i, "port")))
					       : NULL;
		const char *reason = json_string_value(json_object_get(i, "reason"));
		const char *version = json_string_value(json_object_get(i, "version"));
		const char *app_version = json_string_value(json_object_get(inst, "version"));
		bool old = version && app_version && strcmp(version, app_version) != 0;
		cleanup_free char *painted = cli_paint(cli,
						       !strcmp(state, "RUNNING") ? "green"
						       : !strcmp(state, "DOWN")	 ? "red"
										 : "yellow",
						       state);
		const char *row[] = { index, painted, addr, reason ? reason : old ? "old version" : NULL };
		cli_table_add(t, row);
	}
	cli_table_print(cli, t);
	cli_table_free(t);
}

int cmd_app(struct cli *cli, const struct cli_args *a)
{
	cleanup_free char *path = cli_app_path(a->pos[0], NULL);
	cleanup_free char *ipath = cli_app_path(a->pos[0], "instances");
	cleanup_free char *cpath = cli_app_path(a->pos[0], "crashes");
	json_auto_t *app = NULL, *inst = NULL, *crashes = NULL;
	if (cli_call(cli, "GET", path, NULL, &app) < 0)
		return CLI_FAIL;
	if (cli_call(cli, "GET", ipath, NULL, &inst) < 0 || cli_call(cli, "GET", cpath, NULL, &crashes) < 0)
		return CLI_FAIL;
	json_t *last = json_array_get(json_object_get(crashes, "crashes"), 0);
	if (cli->json) {
		json_auto_t *j = json_pack("{s:O, s:O, s:O?}", "app", app, "instances",
					   json_object_get(inst, "instances"), "last_crash", last);
		return cli_print_json(cli, j);
	}
	cleanup_free char *count = apps_count(app);
	cleanup_free char *routes = apps_routes(app);
	cli_say(cli, "name:       %s", json_string_value(json_object_get(app, "name")));
	cli_say(cli, "state:      %s, %s running", json_string_value(json_object_get(app, "state")), count);
	cli_say(cli, "memory:     %" JSON_INTEGER_FORMAT "M, disk %" JSON_INTEGER_FORMAT "M",
		json_integer_value(json_object_get(app, "memory")),
		json_integer_value(json_object_get(app, "disk")));
	cli_say(cli, "routes:     %s", *routes ? routes : "(none)");
	cli_say(cli, "package:    %s%s%s", json_string_value(json_object_get(app, "package_state")),
		json_object_get(app, "detected_buildpack") ? ", buildpack " : "",
		json_string_value(json_object_get(app, "detected_buildpack")) ?: "");
	if (json_object_get(app, "staging_error"))
		cli_say(cli, "staging:    %s", json_string_value(json_object_get(app, "staging_error")));
	if (last) {
		cli_say(cli, "last crash: index %" JSON_INTEGER_FORMAT ": %s",
			json_integer_value(json_object_get(last, "index")),
			json_string_value(json_object_get(last, "exit_description")));
		json_t *line;
		size_t k;
		json_array_foreach (json_object_get(last, "log_tail"), k, line)
			cli_say(cli, "    %s", json_string_value(line));
	}
	cli_say(cli, "%s", "");
	cli_print_instances(cli, inst);
	return CLI_OK;
}
