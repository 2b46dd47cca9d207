// SPDX-License-Identifier: MIT
/*
 * Option parsing against a command's option table: `--name VALUE`, `--name=VALUE`, `-x VALUE`,
 * `-xVALUE`, flags, and `--` ending the options. Options and positional arguments may be mixed
 * (`dew scale web -i 3`); every error is a usage error naming the option.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "cli.h"

static const struct cli_option *find_long(const struct cli_option *opts, const char *name, size_t len)
{
	for (const struct cli_option *o = opts; o && o->name; o++)
		if (strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
	return NULL;
}

static const struct cli_option *find_short(const struct cli_option *opts, char c)
{
	for (const struct cli_option *o = opts; o && o->name; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

int cli_args_parse(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
		   struct cli_args *out)
{
	*out = (struct cli_args){ .pos = xcalloc((size_t)argc + 1, sizeof(char *)), .opts = json_object() };
	bool only_pos = false;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const struct cli_option *o = NULL;
		const char *value = NULL;
		if (only_pos || arg[0] != '-' || !arg[1]) {
			out->pos[out->n_pos++] = argv[i];
			continue;
		}
		if (!strcmp(arg, "--")) {
			only_pos = true;
			continue;
		}
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			json_object_set_new(out->opts, "help", json_true());
			continue;
		}
		if (arg[1] == '-') {
			const char *eq = strchr(arg + 2, '=');
			size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
			o = find_long(cmd->options, arg + 2, len);
			if (!o)
				return cli_usage_error(cli, cmd, "unknown option `%.*s`", (int)len + 2, arg);
			if (eq && !o->arg)
				return cli_usage_error(cli, cmd, "option `--%s` takes no value", o->name);
			value = eq ? eq + 1 : NULL;
		} else {
			o = find_short(cmd->options, arg[1]);
			if (!o)
				return cli_usage_error(cli, cmd, "unknown option `-%c`", arg[1]);
			if (arg[2] && !o->arg)
				return cli_usage_error(cli, cmd, "option `-%c` takes no value", arg[1]);
			value = arg[2] ? arg + 2 : NULL;
		}
		if (!o->arg) {
			json_object_set_new(out->opts, o->name, json_true());
			continue;
		}
		if (!value) {
			if (i + 1 >= argc)
				return cli_usage_error(cli, cmd, "option `--%s` needs a value (%s)", o->name,
						       o->arg);
			value = argv[++i];
		}
		json_object_set_new(out->opts, o->name, json_string(value));
	}
	if (cli_flag(out, "help"))
		return 0; /* the positional arguments do not matter: the usage is printed */
	if (out->n_pos < cmd->min_pos)
		return cli_usage_error(cli, cmd, "missing argument");
	if (out->n_pos > cmd->max_pos)
		return cli_usage_error(cli, cmd, "unexpected argument `%s`", out->pos[cmd->max_pos]);
	return 0;
}

void cli_args_free(struct cli_args *a)
{
	free(a->pos);
	json_decref(a->opts);
	a->pos = NULL;
	a->opts = NULL;
}

const char *cli_opt(const struct cli_args *a, const char *name)
{
	return json_string_value(json_object_get(a->opts, name));
}

bool cli_flag(const struct cli_args *a, const char *name)
{
	return json_is_true(json_object_get(a->opts, name));
}

int cli_opt_int(struct cli *cli, const struct cli_args *a, const char *name, int64_t min, int64_t max,
		int64_t *out)
{
	const char *v = cli_opt(a, name);
	char *end = NULL;
	if (!v)
		return 0;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < min || n > max) {
		cli_error(cli, "option `--%s`: expected a number from %lld to %lld, got `%s`", name,
			  (long long)min, (long long)max, v);
		return -1;
	}
	*out = n;
	return 0;
}

int cli_opt_mb(struct cli *cli, const struct cli_args *a, const char *name, int64_t *out)
{
	const char *v = cli_opt(a, name);
	if (!v)
		return 0;
	char *end = NULL;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	int64_t mult = 1;
	if (end && (!strcasecmp(end, "G") || !strcasecmp(end, "GB")))
		mult = 1024;
	else if (end && *end && strcasecmp(end, "M") != 0 && strcasecmp(end, "MB") != 0)
		mult = 0;
	if (!*v || end == v || errno || !mult || n == 0 || n > (1ULL << 30) / (unsigned long long)mult) {
		cli_error(cli, "option `--%s`: expected a size such as 256M or 1G, got `%s`", name, v);
		return -1;
	}
	*out = (int64_t)n * mult;
	return 0;
}
