// SPDX-License-Identifier: MIT
/*
 * The table of commands: dispatch, `dew help` and the bash completion (`dew help --commands`)
 * all read it. Grouped by file; each group is one cmd-*.c.
 */
#include <string.h>

#include "cli.h"
#include "commands.h"

#define NO_OPTIONS NULL

static const struct cli_option json_only[] = { { 0 } };

static const struct cli_option login_options[] = {
	{ "username", 'u', "USER", "the user to log in as (asked for when not given)" },
	{ "password-stdin", 0, NULL, "read the password from standard input instead of the terminal" },
	{ 0 },
};

static const struct cli_option scale_options[] = {
	{ "instances", 'i', "N", "number of instances" },
	{ "memory", 'm', "MEM", "memory of each instance: 256M, 1G" },
	{ "disk", 'k', "DISK", "disk of each instance: 1G" },
	{ 0 },
};

static const struct cli_option delete_options[] = {
	{ "force", 'f', NULL, "do not ask for confirmation" },
	{ "delete-routes", 'r', NULL, "also delete the app's routes (they go with the app in dew)" },
	{ 0 },
};

static const struct cli_option push_options[] = {
	{ "path", 'p', "PATH", "the app's directory (default: the manifest's, or the current one)" },
	{ "instances", 'i', "N", "number of instances" },
	{ "memory", 'm', "MEM", "memory of each instance: 256M, 1G" },
	{ "disk", 'k', "DISK", "disk of each instance: 1G" },
	{ "buildpack", 'b', "NAME", "the buildpack (default: detected)" },
	{ "command", 'c', "CMD", "the start command (default: the buildpack's)" },
	{ "stack", 's', "NAME", "the stack to run on" },
	{ "no-start", 0, NULL, "upload only; do not start (a started app is stopped)" },
	{ "no-route", 0, NULL, "no route to the app" },
	{ "hostname", 0, "HOST", "the route HOST.<domain> instead of NAME.<domain>" },
	{ "manifest", 'f', "FILE", "the manifest (default: manifest.yml of the app's directory)" },
	{ "no-cache", 0, NULL, "hash every file and send the file list, ignoring what the last push learnt" },
	{ 0 },
};

static const struct cli_option help_options[] = {
	{ "commands", 0, NULL, "list the command names only (for shell completion)" },
	{ 0 },
};

const struct cli_command cli_commands[] = {
	/* cmd-help.c */
	{ "help", "[COMMAND]", "show the commands, or one command's usage and options", cmd_help,
	  help_options, 0, 1, false, false },
	{ "version", "", "show dew's version", cmd_version, NO_OPTIONS, 0, 0, false, false },
	/* cmd-target.c */
	{ "target", "[URL]", "show or set the controller this CLI talks to", cmd_target, json_only, 0, 1,
	  false, false },
	/* cmd-login.c */
	{ "login", "[-u USER] [--password-stdin]", "log in to the targeted controller", cmd_login,
	  login_options, 0, 0, true, false },
	{ "logout", "", "forget the token (and revoke it)", cmd_logout, NO_OPTIONS, 0, 0, false, false },
	/* cmd-info.c */
	{ "info", "", "the controller's version, domain, limits and your usage", cmd_info, json_only, 0, 0,
	  true, false },
	{ "stacks", "", "the stacks the DEAs offer", cmd_stacks, json_only, 0, 0, true, false },
	/* cmd-apps.c */
	{ "apps", "", "list your apps", cmd_apps, json_only, 0, 0, true, true },
	{ "app", "NAME", "show one app: state, instances, routes, last staging or crash", cmd_app, json_only,
	  1, 1, true, true },
	/* cmd-state.c */
	{ "start", "NAME", "start an app (staging it first when needed)", cmd_start, json_only, 1, 1, true,
	  true },
	{ "stop", "NAME", "stop an app's instances", cmd_stop, json_only, 1, 1, true, true },
	{ "restart", "NAME", "restart an app (a new version of every instance)", cmd_restart, json_only, 1, 1,
	  true, true },
	{ "restage", "NAME", "stage an app's bits again, then restart it", cmd_restage, json_only, 1, 1, true,
	  true },
	{ "scale", "NAME [-i N] [-m MEM] [-k DISK]", "change an app's instances, memory or disk", cmd_scale,
	  scale_options, 1, 1, true, true },
	{ "delete", "NAME [-f] [-r]", "delete an app, its instances and routes", cmd_delete, delete_options,
	  1, 1, true, true },
	/* -- push: cmd-push.c (its entries below this line) -- */
	{ "push",
	  "[NAME] [-p PATH] [-f MANIFEST] [-i N] [-m MEM] [-k DISK] [-b BUILDPACK] [-c CMD] [-s STACK] "
	  "[--no-start] [--no-route] [--hostname HOST] [--no-cache]",
	  "upload an app (only what the controller lacks), then start it and wait until it runs", cmd_push,
	  push_options, 0, 1, true, true },

	/* -- observing and settings: cmd-instances.c, cmd-logs.c, cmd-files.c, cmd-env.c, cmd-routes.c,
	 * cmd-buildpacks.c (their entries below this line) -- */
	/* cmd-instances.c */
	{ "instances", "NAME", "each instance of an app: state, address, why it is down", cmd_instances,
	  json_only, 1, 1, true, true },
	{ "stats", "NAME", "each running instance's cpu, memory and disk use and uptime", cmd_stats,
	  json_only, 1, 1, true, true },
	{ "crashes", "NAME [-v]", "an app's recent crashes, with -v their last log lines", cmd_crashes,
	  cli_crashes_options, 1, 1, true, true },
	/* cmd-logs.c */
	{ "logs", "NAME [--recent]", "follow an app's log lines live, or show the recent ones", cmd_logs,
	  cli_logs_options, 1, 1, true, true },
	/* cmd-files.c */
	{ "files", "NAME [PATH] [-i N] [--tail BYTES]", "list a directory of an instance or print a file",
	  cmd_files, cli_files_options, 1, 2, true, true },
	/* cmd-env.c */
	{ "env", "NAME", "show an app's environment variables", cmd_env, json_only, 1, 1, true, true },
	{ "set-env", "NAME VAR VALUE", "set an environment variable (applied at the next restart)",
	  cmd_set_env, NO_OPTIONS, 3, 3, true, true },
	{ "unset-env", "NAME VAR", "remove an environment variable (applied at the next restart)",
	  cmd_unset_env, NO_OPTIONS, 2, 2, true, true },
	/* cmd-routes.c */
	{ "routes", "", "list your routes and the apps they map to", cmd_routes, json_only, 0, 0, true,
	  true },
	{ "map-route", "NAME HOST", "route HOST (or HOST.<domain>) to an app", cmd_map_route, NO_OPTIONS, 2,
	  2, true, true },
	{ "unmap-route", "NAME HOST", "remove an app's route", cmd_unmap_route, NO_OPTIONS, 2, 2, true,
	  true },
	/* cmd-info.c, next to stacks: both read GET /v1/info */
	{ "buildpacks", "", "the buildpacks the DEAs offer for staging", cmd_buildpacks, json_only, 0, 0,
	  true, false },

};

const size_t cli_n_commands = sizeof cli_commands / sizeof *cli_commands;

const struct cli_command *cli_command_find(const char *name)
{
	for (size_t i = 0; i < cli_n_commands; i++)
		if (!strcmp(cli_commands[i].name, name))
			return &cli_commands[i];
	return NULL;
}

void cli_usage(FILE *f, const struct cli_command *cmd)
{
	fprintf(f, "usage: dew %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
	bool any = cmd->options && cmd->options->name;
	if (any)
		fputs("\noptions:\n", f);
	for (const struct cli_option *o = cmd->options; o && o->name; o++) {
		char head[64], shortopt[5] = "    ";
		if (o->short_name)
			snprintf(shortopt, sizeof shortopt, "-%c, ", o->short_name);
		snprintf(head, sizeof head, "%s--%s%s%s", shortopt, o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", head, o->help);
	}
	if (cmd->options == json_only)
		fputs("\noptions:\n      --json                   machine-readable output\n", f);
}
