// SPDX-License-Identifier: MIT
/*
 * dew target [URL]: show the target, or set it after checking that a dew controller answers
 * GET /v1/info there. A URL without a scheme gets http:// (https:// is verified by TLS).
 * Changing the target forgets the token of the old one.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"

static char *target_normalise(const char *url)
{
	char *t = strstr(url, "://") ? xstrdup(url) : xasprintf("http://%s", url);
	size_t n = strlen(t);
	while (n > 0 && t[n - 1] == '/')
		t[--n] = '\0';
	return t;
}

int cmd_target(struct cli *cli, const struct cli_args *a)
{
	if (a->n_pos == 0) {
		if (cli->json) {
			json_auto_t *j =
				json_pack("{s:s?, s:s?}", "target", cli->cfg.target, "user", cli->cfg.user);
			return cli_print_json(cli, j);
		}
		if (!cli->cfg.target)
			return cli_error(cli, "no target set: run `dew target URL`");
		cli_say(cli, "target: %s", cli->cfg.target);
		cli_say(cli, "user:   %s", cli->cfg.user ? cli->cfg.user : "(not logged in)");
		return CLI_OK;
	}
	cleanup_free char *url = target_normalise(a->pos[0]);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return cli_error(cli, "`%s`: the target must be an http:// or https:// URL", a->pos[0]);
	char *old = cli->cfg.target;
	char *token = steal_pointer(&cli->cfg.token); /* not sent to another controller */
	cli->cfg.target = url;
	struct cli_response r;
	int rc = cli_request(cli, "GET", "/v1/info", NULL, &r);
	cli->cfg.token = token;
	if (rc < 0) {
		cli->cfg.target = old;
		return CLI_FAIL;
	}
	const char *name = json_string_value(json_object_get(r.json, "name"));
	if (r.status != 200 || !name || strcmp(name, "dew") != 0) {
		cli_error(cli, "%s is not a dew controller (GET /v1/info answered HTTP %ld%s)", url, r.status,
			  r.json ? "" : ", not JSON");
		cli_response_free(&r);
		cli->cfg.target = old;
		return CLI_FAIL;
	}
	bool same = old && !strcmp(old, url);
	free(old);
	cli->cfg.target = steal_pointer(&url);
	if (!same) {
		free(cli->cfg.token);
		free(cli->cfg.user);
		cli->cfg.token = cli->cfg.user = NULL;
	}
	int ret = cli_config_save(cli) < 0 ? CLI_FAIL : CLI_OK;
	if (ret == CLI_OK && cli->json) {
		json_auto_t *j = json_pack("{s:s, s:O?}", "target", cli->cfg.target, "version",
					   json_object_get(r.json, "version"));
		cli_print_json(cli, j);
	} else if (ret == CLI_OK) {
		cli_say(cli, "target: %s (dew %s)", cli->cfg.target,
			json_string_value(json_object_get(r.json, "version")) ?: "?");
		if (!same)
			cli_say(cli, "run `dew login` to log in");
	}
	cli_response_free(&r);
	return ret;
}
