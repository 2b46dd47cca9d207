// SPDX-License-Identifier: MIT
/*
 * dew: the developer CLI (dew(1)). Global options come before the command:
 *   dew [--json] [-v] COMMAND [ARGS...]
 * `--json` is also accepted anywhere after the command, as every command that reads state
 * offers it. Exit codes: 0 success, 1 failure, 2 usage error.
 */
#include <curl/curl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"

static void cli_free(struct cli *cli)
{
	cli_config_free(&cli->cfg);
	free(cli->home);
}

/* Take --json / -v out of argv (anywhere): argc after. */
static int cli_global_flags(struct cli *cli, int argc, char **argv)
{
	int n = 0;
	bool only_pos = false;
	for (int i = 0; i < argc; i++) {
		if (!only_pos && !strcmp(argv[i], "--json")) {
			cli->json = true;
			continue;
		}
		if (!only_pos && n == 0 && (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))) {
			cli->verbose = true;
			continue;
		}
		only_pos |= !strcmp(argv[i], "--");
		argv[n++] = argv[i];
	}
	return n;
}

int main(int argc, char **argv)
{
	struct cli cli = { .out = stdout, .err = stderr };
	setlocale(LC_CTYPE, "");
	cli.tty = isatty(STDOUT_FILENO);
	const char *nc = getenv("NO_COLOR");
	cli.color = cli.tty && !(nc && *nc);
	argc = 1 + cli_global_flags(&cli, argc - 1, argv + 1);
	if (argc < 2) {
		const struct cli_command *help = cli_command_find("help");
		struct cli_args none = { 0 };
		return help->run(&cli, &none);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		argv[1] = "help";
	if (!strcmp(argv[1], "--version"))
		argv[1] = "version";
	const struct cli_command *cmd = cli_command_find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "dew: unknown command `%s`: run `dew help` for the list\n", argv[1]);
		return CLI_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "dew: libcurl failed to initialise\n");
		return CLI_FAIL;
	}
	struct cli_args args;
	int r = cli_args_parse(&cli, cmd, argc - 2, argv + 2, &args);
	if (r == 0 && cli_flag(&args, "help")) {
		cli_usage(stdout, cmd);
		r = -1;
	}
	if (r == 0 && cli_config_load(&cli) < 0)
		r = CLI_FAIL;
	else if (r == 0 && cmd->needs_target && !cli.cfg.target)
		r = cli_error(&cli, "no controller targeted: run `dew target URL` first");
	else if (r == 0 && cmd->needs_login && !cli.cfg.token)
		r = cli_error(&cli, "not logged in: run `dew login`");
	else if (r == 0)
		r = cmd->run(&cli, &args);
	else if (r < 0)
		r = CLI_OK; /* --help */
	cli_args_free(&args);
	cli_free(&cli);
	curl_global_cleanup();
	return r;
}
