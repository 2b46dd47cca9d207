// SPDX-License-Identifier: MIT
/* dew info, dew stacks, dew buildpacks: GET /v1/info. */
#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"

static json_int_t info_int(const json_t *o, const char *a, const char *b)
{
	return json_integer_value(json_object_get(json_object_get(o, a), b));
}

int cmd_info(struct cli *cli, const struct cli_args *a)
{
	(void)a;
	json_auto_t *info = NULL;
	if (cli_call(cli, "GET", "/v1/info", NULL, &info) < 0)
		return CLI_FAIL;
	if (cli->json)
		return cli_print_json(cli, info);
	cli_say(cli, "target:   %s (dew %s)", cli->cfg.target,
		json_string_value(json_object_get(info, "version")));
	cli_say(cli, "domain:   %s", json_string_value(json_array_get(json_object_get(info, "domains"), 0)));
	cli_say(cli, "user:     %s", json_string_value(json_object_get(info, "user")) ?: "(not logged in)");
	cli_say(cli, "DEAs:     %" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(info, "deas")));
	if (json_object_get(info, "usage")) {
		cli_say(cli, "memory:   %" JSON_INTEGER_FORMAT " MB of %" JSON_INTEGER_FORMAT " MB",
			info_int(info, "usage", "memory"), info_int(info, "limits", "memory"));
		cli_say(cli, "apps:     %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT,
			info_int(info, "usage", "apps"), info_int(info, "limits", "apps"));
	}
	cli_say(cli,
		"per app:  %" JSON_INTEGER_FORMAT " instances, %" JSON_INTEGER_FORMAT
		" MB memory, %" JSON_INTEGER_FORMAT " MB disk at most",
		info_int(info, "limits", "instances"), info_int(info, "limits", "app_memory"),
		info_int(info, "limits", "app_disk"));
	return CLI_OK;
}

/* Print the list of names under key of GET /v1/info ({key: [...]} with --json), or none. */
static int info_names(struct cli *cli, const char *key, const char *none)
{
	json_auto_t *info = NULL;
	if (cli_call(cli, "GET", "/v1/info", NULL, &info) < 0)
		return CLI_FAIL;
	json_t *names = json_object_get(info, key), *s;
	size_t i;
	if (cli->json) {
		json_auto_t *j =
			json_pack("{s:o}", key, json_is_array(names) ? json_incref(names) : json_array());
		return cli_print_json(cli, j);
	}
	if (!json_array_size(names))
		cli_say(cli, "%s", none);
	json_array_foreach (names, i, s)
		cli_say(cli, "%s", json_string_value(s));
	return CLI_OK;
}

int cmd_stacks(struct cli *cli, const struct cli_args *a)
{
	(void)a;
	return info_names(cli, "stacks", "no DEA offers a stack right now");
}

/* The union of the staging DEAs' dea.advertise: the names `dew push -b` takes. */
int cmd_buildpacks(struct cli *cli, const struct cli_args *a)
{
	(void)a;
	return info_names(cli, "buildpacks",
			  "no DEA offers a buildpack right now (no DEA that stages is running)");
}
