// SPDX-License-Identifier: MIT
/*
 * dew login [-u USER] [--password-stdin]: POST /v1/tokens and keep the token in the config.
 * The user name is asked for when not given; the password is read from the terminal without
 * echo, or from the first line of standard input with --password-stdin.
 * dew logout: revoke the token (DELETE /v1/tokens/current) and forget it.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"

enum { LOGIN_LINE_MAX = 4096 };

/* One line from f without its newline, or NULL at EOF. */
static char *login_read_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	if (n < 0 || n > LOGIN_LINE_MAX) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* Ask on the terminal; echo off for secrets. NULL when there is no terminal. */
static char *login_ask(const char *prompt, bool secret)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return NULL;
	struct termios old, quiet;
	bool restore = false;
	fputs(prompt, tty);
	fflush(tty);
	if (secret && tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
	}
	char *line = login_read_line(tty);
	if (restore) {
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fputc('\n', tty);
	}
	fclose(tty);
	return line;
}

int cmd_login(struct cli *cli, const struct cli_args *a)
{
	cleanup_free char *user = cli_opt(a, "username") ? xstrdup(cli_opt(a, "username")) : NULL;
	cleanup_free char *password = NULL;
	if (!user && !(user = login_ask("Username: ", false)))
		return cli_error(cli, "no terminal to ask the user name: use `dew login -u USER`");
	if (cli_flag(a, "password-stdin")) {
		password = login_read_line(stdin);
		if (!password)
			return cli_error(cli, "--password-stdin: no password on standard input");
	} else if (!(password = login_ask("Password: ", true))) {
		return cli_error(cli, "no terminal to ask the password: use --password-stdin");
	}
	json_auto_t *body = json_pack("{s:s, s:s}", "username", user, "password", password);
	explicit_bzero(password, strlen(password));
	free(cli->cfg.token);
	cli->cfg.token = NULL; /* an old token must not be sent along */
	struct cli_response r;
	if (cli_request(cli, "POST", "/v1/tokens", body, &r) < 0)
		return CLI_FAIL;
	const char *token = json_string_value(json_object_get(r.json, "token"));
	if (r.status != 201 || !token) {
		if (r.status == 401)
			cli_error(cli, "wrong user name or password");
		else
			cli_print_http_error(cli, &r);
		cli_response_free(&r);
		return CLI_FAIL;
	}
	cli->cfg.token = xstrdup(token);
	free(cli->cfg.user);
	cli->cfg.user = xstrdup(user);
	int ret = cli_config_save(cli) < 0 ? CLI_FAIL : CLI_OK;
	if (ret == CLI_OK)
		cli_say(cli, "logged in to %s as %s", cli->cfg.target, user);
	cli_response_free(&r);
	return ret;
}

int cmd_logout(struct cli *cli, const struct cli_args *a)
{
	(void)a;
	if (cli->cfg.token && cli->cfg.target) {
		struct cli_response r;
		if (cli_request(cli, "DELETE", "/v1/tokens/current", NULL, &r) == 0)
			cli_response_free(&r); /* an expired token is gone already: nothing to report */
	}
	free(cli->cfg.token);
	free(cli->cfg.user);
	cli->cfg.token = cli->cfg.user = NULL;
	if (cli_config_save(cli) < 0)
		return CLI_FAIL;
	cli_say(cli, "logged out");
	return CLI_OK;
}
