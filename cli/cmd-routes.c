// SPDX-License-Identifier: MIT
/*
 * dew routes: the routes the user owns (an admin: everyone's, with the owner) and their apps.
 * dew map-route NAME HOST, dew unmap-route NAME HOST: add or remove one. A HOST without a dot is
 * a name under the controller's domain (`web` is `web.<domains[0]>` of GET /v1/info); one with a
 * dot is used as it is. unmap-route only removes a route mapped to NAME, so a mistyped app name
 * cannot take another app's route away.
 */
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"

int cmd_routes(struct cli *cli, const struct cli_args *a)
{
	(void)a;
	json_auto_t *j = NULL;
	if (cli_call(cli, "GET", "/v1/routes", NULL, &j) < 0)
		return CLI_FAIL;
	if (cli->json)
		return cli_print_json(cli, j);
	json_t *routes = json_object_get(j, "routes"), *r;
	size_t i;
	if (!json_array_size(routes)) {
		cli_say(cli, "no routes: `dew map-route APP HOST` adds one");
		return CLI_OK;
	}
	bool owners = false;
	json_array_foreach (routes, i, r)
		owners |= json_object_get(r, "owner") != NULL;
	static const char *const head[] = { "host", "app", "owner" };
	struct cli_table *t = cli_table_new(owners ? 3 : 2, head);
	json_array_foreach (routes, i, r) {
		const char *row[] = { json_string_value(json_object_get(r, "host")),
				      json_string_value(json_object_get(r, "app")),
				      json_string_value(json_object_get(r, "owner")) };
		cli_table_add(t, row);
	}
	cli_table_print(cli, t);
	cli_table_free(t);
	return CLI_OK;
}

/* The full host name of host: as it is with a dot, else under the controller's first domain. */
static char *routes_host(struct cli *cli, const char *host)
{
	if (strchr(host, '.'))
		return xstrdup(host);
	json_auto_t *info = NULL;
	if (cli_call(cli, "GET", "/v1/info", NULL, &info) < 0)
		return NULL;
	const char *domain = json_string_value(json_array_get(json_object_get(info, "domains"), 0));
	if (!domain) {
		cli_error(cli, "the controller names no domain: give the full host name (`%s.example.com`)",
			  host);
		return NULL;
	}
	return xasprintf("%s.%s", host, domain);
}

static int routes_done(struct cli *cli, const char *host, const char *app, bool mapped)
{
	if (cli->json) {
		json_auto_t *j = json_pack("{s:s, s:s, s:b}", "host", host, "app", app, "mapped", mapped);
		return cli_print_json(cli, j);
	}
	cli_say(cli, "%s %s %s", host, mapped ? "now routes to" : "no longer routes to", app);
	return CLI_OK;
}

int cmd_map_route(struct cli *cli, const struct cli_args *a)
{
	cleanup_free char *host = routes_host(cli, a->pos[1]);
	if (!host)
		return CLI_FAIL;
	json_auto_t *body = json_pack("{s:s, s:s}", "host", host, "app", a->pos[0]);
	if (cli_call(cli, "POST", "/v1/routes", body, NULL) < 0)
		return CLI_FAIL;
	return routes_done(cli, host, a->pos[0], true);
}

int cmd_unmap_route(struct cli *cli, const struct cli_args *a)
{
	const char *app = a->pos[0];
	cleanup_free char *host = routes_host(cli, a->pos[1]);
	if (!host)
		return CLI_FAIL;
	json_auto_t *j = NULL;
	if (cli_call(cli, "GET", "/v1/routes", NULL, &j) < 0)
		return CLI_FAIL;
	json_t *r, *found = NULL;
	size_t i;
	json_array_foreach (json_object_get(j, "routes"), i, r)
		if (!strcmp(json_string_value(json_object_get(r, "host")) ?: "", host))
			found = r;
	if (!found)
		return cli_error(cli, "you have no route %s", host);
	const char *mapped_to = json_string_value(json_object_get(found, "app"));
	if (!mapped_to || strcmp(mapped_to, app) != 0)
		return cli_error(cli, "route %s is mapped to app %s, not %s", host, mapped_to ?: "(none)",
				 app);
	/* Host names are [a-z0-9.-] (the controller refuses others): nothing to encode. */
	cleanup_free char *path = xasprintf("/v1/routes/%s", host);
	if (cli_call(cli, "DELETE", path, NULL, NULL) < 0)
		return CLI_FAIL;
	return routes_done(cli, host, app, false);
}
