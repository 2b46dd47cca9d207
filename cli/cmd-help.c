// SPDX-License-Identifier: MIT
/* dew help [COMMAND], dew version. */
#include <stdio.h>

#include "cli.h"
#include "commands.h"

int cmd_help(struct cli *cli, const struct cli_args *a)
{
	if (cli_flag(a, "commands")) {
		for (size_t i = 0; i < cli_n_commands; i++)
			fprintf(cli->out, "%s\n", cli_commands[i].name);
		return CLI_OK;
	}
	if (a->n_pos == 1) {
		const struct cli_command *cmd = cli_command_find(a->pos[0]);
		if (!cmd) {
			fprintf(cli->err, "dew: unknown command `%s`: run `dew help` for the list\n",
				a->pos[0]);
			return CLI_USAGE;
		}
		cli_usage(cli->out, cmd);
		return CLI_OK;
	}
	fputs("usage: dew [--json] COMMAND [ARGS...]\n\ncommands:\n", cli->out);
	for (size_t i = 0; i < cli_n_commands; i++)
		fprintf(cli->out, "  %-12s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fputs("\nrun `dew help COMMAND` for a command's options; see dew(1)\n", cli->out);
	return CLI_OK;
}

int cmd_version(struct cli *cli, const struct cli_args *a)
{
	(void)a;
	if (cli->json) {
		json_auto_t *j = json_pack("{s:s}", "version", PACKAGE_VERSION);
		return cli_print_json(cli, j);
	}
	fprintf(cli->out, "dew %s\n", PACKAGE_VERSION);
	return CLI_OK;
}
