// SPDX-License-Identifier: MIT
/*
 * dew-run: global options, the command table, dispatch and help.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "run.h"

static const struct run_cmd run_cmds[] = {
	{ "run", "run [--rm] SPEC.json", "create, start and wait; exits with the app's status", 1, 1,
	  run_cmd_run, false },
	{ "create", "create SPEC.json", "create a container, stopped before its app runs", 1, 1,
	  run_cmd_create, false },
	{ "start", "start ID", "let a created container run its app", 1, 1, run_cmd_start, false },
	{ "list", "list [--json]", "every container: id, pid, state, memory, uptime", 0, 0, run_cmd_list,
	  false },
	{ "inspect", "inspect [--json] ID", "limits next to live usage, namespaces, security", 1, 1,
	  run_cmd_inspect, false },
	{ "state", "state ID", "the raw state as JSON", 1, 1, run_cmd_state, false },
	{ "ps", "ps ID", "processes in the container", 1, 1, run_cmd_ps, false },
	{ "kill", "kill ID [SIGNAL]", "send a signal to the container's init (default TERM)", 1, 2,
	  run_cmd_kill, false },
	{ "delete", "delete [-f] ID", "remove a stopped container (-f: kill it first)", 1, 1, run_cmd_delete,
	  false },
	{ "exec", "exec ID CMD [ARGS...]", "run CMD in a running container, confined as its app", 2, INT_MAX,
	  run_cmd_exec, true },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: dew-run [--root DIR] [--json] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < DEW_ARRAY_SIZE(run_cmds); i++)
		fprintf(f, "  %-24s %s\n", run_cmds[i].usage, run_cmds[i].summary);
	fprintf(f, "\nOptions:\n"
		   "  --root DIR     state directory (default /run/dew/containers)\n"
		   "  --json         machine-readable output (list, inspect)\n"
		   "  -f, --force    delete: kill a running container first\n"
		   "  --rm           run: delete the container after it stopped\n"
		   "  -h, --help     this help\n      --version\n\nSee dew-run(8).\n");
}

int run_fail(struct dew_error *err)
{
	fprintf(stderr, "dew-run: %s\n", dew_error_msg(err));
	dew_error_free(err);
	return RUN_EXIT_FAIL;
}

static void run_log(int level, const char *msg, void *data)
{
	dew_log((enum dew_log_level)level, "%s", msg);
}

/* One option into o (or root); false for an unknown one. */
static bool apply_opt(struct run_opts *o, const char **root, int c)
{
	switch (c) {
	case 'r':
		*root = optarg;
		return true;
	case 'j':
		o->json = true;
		return true;
	case 'f':
		o->force = true;
		return true;
	case 'R':
		o->rm = true;
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "rm", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { 0 };
	const char *root = NULL;
	int c;

	dew_log_setup("dew-run", DEW_LOG_TEXT, DEW_LOG_WARNING);
	/* Options may come before or after the command ("dew-run delete -f ID"). */
	while ((c = getopt_long(argc, argv, "+hf", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'V') {
			printf("dew-run (dew) %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (!apply_opt(&o, &root, c)) {
			usage(stderr);
			return RUN_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return RUN_EXIT_USAGE;
	}
	const char *name = argv[optind++];
	const struct run_cmd *cmd = NULL;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(run_cmds); i++)
		if (strcmp(run_cmds[i].name, name) == 0)
			cmd = &run_cmds[i];
	if (!cmd) {
		fprintf(stderr, "dew-run: unknown command `%s` (see dew-run --help)\n", name);
		return RUN_EXIT_USAGE;
	}
	/* Options after the command, unless what follows it belongs to a program (`exec`). */
	while (!cmd->raw_args && (c = getopt_long(argc, argv, "+hf", opts, NULL)) != -1) {
		if (!apply_opt(&o, &root, c)) {
			fprintf(stderr, "usage: dew-run %s\n", cmd->usage);
			return RUN_EXIT_USAGE;
		}
	}
	int n = argc - optind;
	if (n < cmd->min_args || n > cmd->max_args) {
		fprintf(stderr, "usage: dew-run %s\n", cmd->usage);
		return RUN_EXIT_USAGE;
	}
	struct dew_error *err = NULL;
	if (dewrt_context_init(&o.ctx, root, &err) < 0)
		return run_fail(err);
	o.ctx.log = run_log;
	int r = cmd->fn(&o, n, argv + optind);
	dewrt_context_close(&o.ctx);
	return r;
}
