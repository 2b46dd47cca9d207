// SPDX-License-Identifier: MIT
/*
 * dew start | stop | restart | restage | scale | delete NAME: one PUT (or DELETE) of the app,
 * then, for the commands that start instances, the staging log and the instances until every
 * one is RUNNING or one of them failed (wait.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"

/* PUT body on app name; *out (may be NULL) gets the app. */
static int state_put(struct cli *cli, const char *name, json_t *body, json_t **out)
{
	cleanup_free char *path = cli_app_path(name, NULL);
	int r = cli_call(cli, "PUT", path, body, out);
	json_decref(body);
	return r;
}

/* Report the app (JSON) and return the wait's outcome. */
static int state_start_and_wait(struct cli *cli, const char *name, json_t *body, const char *verb)
{
	json_auto_t *app = NULL;
	if (state_put(cli, name, body, &app) < 0)
		return CLI_FAIL;
	cli_say(cli, "%s %s ...", verb, name);
	return cli_wait_running(cli, name, app);
}

int cmd_start(struct cli *cli, const struct cli_args *a)
{
	return state_start_and_wait(cli, a->pos[0], json_pack("{s:s}", "state", "STARTED"), "starting");
}

int cmd_restart(struct cli *cli, const struct cli_args *a)
{
	return state_start_and_wait(cli, a->pos[0], json_pack("{s:s, s:b}", "state", "STARTED", "restart", 1),
				    "restarting");
}

int cmd_restage(struct cli *cli, const struct cli_args *a)
{
	return state_start_and_wait(cli, a->pos[0], json_pack("{s:s, s:b}", "state", "STARTED", "restage", 1),
				    "restaging");
}

int cmd_stop(struct cli *cli, const struct cli_args *a)
{
	json_auto_t *app = NULL;
	if (state_put(cli, a->pos[0], json_pack("{s:s}", "state", "STOPPED"), &app) < 0)
		return CLI_FAIL;
	if (cli->json)
		return cli_print_json(cli, app);
	cli_say(cli, "%s stopped", a->pos[0]);
	return CLI_OK;
}

int cmd_scale(struct cli *cli, const struct cli_args *a)
{
	int64_t instances = -1, memory = -1, disk = -1;
	if (cli_opt_int(cli, a, "instances", 0, 10000, &instances) < 0 ||
	    cli_opt_mb(cli, a, "memory", &memory) < 0 || cli_opt_mb(cli, a, "disk", &disk) < 0)
		return CLI_USAGE;
	if (instances < 0 && memory < 0 && disk < 0)
		return cli_usage_error(cli, cli_command_find("scale"), "give -i, -m or -k");
	json_t *body = json_object();
	if (instances >= 0)
		json_object_set_new(body, "instances", json_integer(instances));
	if (memory >= 0)
		json_object_set_new(body, "memory", json_integer(memory));
	if (disk >= 0)
		json_object_set_new(body, "disk", json_integer(disk));
	/* New memory or disk limits take effect in new instances: restart them. */
	bool restart = memory >= 0 || disk >= 0;
	if (restart)
		json_object_set_new(body, "restart", json_true());
	json_auto_t *app = NULL;
	if (state_put(cli, a->pos[0], body, &app) < 0)
		return CLI_FAIL;
	if (strcmp(json_string_value(json_object_get(app, "state")) ?: "", "STARTED") != 0) {
		if (cli->json)
			return cli_print_json(cli, app);
		cli_say(cli, "%s scaled (it is stopped: `dew start %s` runs it)", a->pos[0], a->pos[0]);
		return CLI_OK;
	}
	cli_say(cli, "scaling %s ...", a->pos[0]);
	return cli_wait_running(cli, a->pos[0], app);
}

int cmd_delete(struct cli *cli, const struct cli_args *a)
{
	const char *name = a->pos[0];
	if (!cli_flag(a, "force") && isatty(STDIN_FILENO)) {
		fprintf(stderr, "really delete the app %s? [y/N] ", name);
		char answer[16] = "";
		if (!fgets(answer, sizeof answer, stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
			cli_say(cli, "not deleted");
			return CLI_OK;
		}
	}
	cleanup_free char *path = cli_app_path(name, NULL);
	if (cli_call(cli, "DELETE", path, NULL, NULL) < 0)
		return CLI_FAIL;
	if (cli->json) {
		json_auto_t *j = json_pack("{s:s, s:b}", "app", name, "deleted", 1);
		return cli_print_json(cli, j);
	}
	cli_say(cli, "%s deleted", name);
	return CLI_OK;
}
