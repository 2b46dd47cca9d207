// SPDX-License-Identifier: MIT
/*
 * dew env NAME: the app's user environment (what it sets besides VCAP_* and PORT).
 * dew set-env NAME VAR VALUE, dew unset-env NAME VAR: change one variable. The controller takes
 * the whole environment at once, so the CLI reads the app, changes the copy and writes it back
 * with the app's revision: a change made meanwhile by someone else is not overwritten (409), it
 * is read again and retried. Running instances keep their environment until `dew restart`.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"

enum { ENV_TRIES = 3 };

/* GET the app: 0 with *app, or -1 after printing why. */
static int env_get_app(struct cli *cli, const char *name, json_t **app)
{
	cleanup_free char *path = cli_app_path(name, NULL);
	return cli_call(cli, "GET", path, NULL, app);
}

static int env_print(struct cli *cli, const char *name, const json_t *env)
{
	if (cli->json) {
		json_auto_t *j = json_pack("{s:s, s:o}", "app", name, "env",
					   json_is_object(env) ? json_incref((json_t *)env) : json_object());
		return cli_print_json(cli, j);
	}
	if (!json_object_size(env)) {
		cli_say(cli, "%s has no environment variables of its own", name);
		return CLI_OK;
	}
	/* Sorted by name, whatever order the controller keeps. */
	cleanup_free char *text = json_dumps(env, JSON_SORT_KEYS | JSON_COMPACT);
	json_auto_t *sorted = json_loads(text, JSON_DECODE_ANY, NULL);
	const char *key;
	json_t *v;
	json_object_foreach (sorted, key, v)
		cli_say(cli, "%s=%s", key, json_string_value(v) ?: "");
	return CLI_OK;
}

int cmd_env(struct cli *cli, const struct cli_args *a)
{
	json_auto_t *app = NULL;
	if (env_get_app(cli, a->pos[0], &app) < 0)
		return CLI_FAIL;
	return env_print(cli, a->pos[0], json_object_get(app, "env"));
}

/*
 * Set var to value (value NULL: remove it) in app name's environment, retrying when the app
 * changed between the read and the write. *was_set tells whether var was set before; *env_out
 * gets the environment now (a new reference).
 */
static int env_change(struct cli *cli, const char *name, const char *var, const char *value, bool *was_set,
		      json_t **env_out)
{
	cleanup_free char *path = cli_app_path(name, NULL);
	for (int attempt = 1;; attempt++) {
		json_auto_t *app = NULL;
		if (env_get_app(cli, name, &app) < 0)
			return -1;
		json_auto_t *env = json_deep_copy(json_object_get(app, "env"));
		if (!json_is_object(env)) {
			json_decref(env);
			env = json_object();
		}
		*was_set = json_object_get(env, var) != NULL;
		if (value)
			json_object_set_new(env, var, json_string(value));
		else if (!*was_set) {
			*env_out = json_incref(env); /* nothing to write */
			return 0;
		} else
			json_object_del(env, var);
		json_auto_t *body =
			json_pack("{s:O, s:O}", "env", env, "revision", json_object_get(app, "revision"));
		struct cli_response r;
		if (cli_request(cli, "PUT", path, body, &r) < 0)
			return -1;
		bool conflict = r.status == 409 && attempt < ENV_TRIES;
		if (!conflict && (r.status < 200 || r.status > 299)) {
			cli_print_http_error(cli, &r);
			cli_response_free(&r);
			return -1;
		}
		cli_response_free(&r);
		if (!conflict) {
			*env_out = json_incref(env);
			return 0;
		}
	}
}

/* Tell what changed and that a restart applies it. */
static int env_done(struct cli *cli, const char *name, json_t *env, const char *what)
{
	if (cli->json) {
		int r = env_print(cli, name, env);
		json_decref(env);
		return r;
	}
	json_decref(env);
	cli_say(cli, "%s; restart %s for it to take effect (`dew restart %s`)", what, name, name);
	return CLI_OK;
}

int cmd_set_env(struct cli *cli, const struct cli_args *a)
{
	bool was_set = false;
	json_t *env = NULL;
	if (env_change(cli, a->pos[0], a->pos[1], a->pos[2], &was_set, &env) < 0)
		return CLI_FAIL;
	cleanup_free char *what =
		xasprintf("%s %s for %s", was_set ? "changed" : "set", a->pos[1], a->pos[0]);
	return env_done(cli, a->pos[0], env, what);
}

int cmd_unset_env(struct cli *cli, const struct cli_args *a)
{
	bool was_set = false;
	json_t *env = NULL;
	if (env_change(cli, a->pos[0], a->pos[1], NULL, &was_set, &env) < 0)
		return CLI_FAIL;
	if (!was_set && !cli->json) {
		json_decref(env);
		cli_say(cli, "%s was not set for %s: nothing to do", a->pos[1], a->pos[0]);
		return CLI_OK;
	}
	cleanup_free char *what = xasprintf("removed %s from %s", a->pos[1], a->pos[0]);
	return env_done(cli, a->pos[0], env, what);
}
