// SPDX-License-Identifier: MIT
/*
 * manifest.yml (manifest.h) with libyaml's document loader: the file is bounded (1 MiB), so is
 * what each app may hold (apps, env variables, routes), and every value is checked against the
 * type its key wants, the error naming the file and line. Aliases are followed as libyaml
 * resolves them; the bounds keep a document of repeated aliases from growing without end.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "alloc.h"
#include "fs.h"
#include "manifest.h"

enum {
	MANIFEST_MAX_FILE = 1 << 20,
	MANIFEST_MAX_APPS = 1000,
	MANIFEST_MAX_ENV = 256,
	MANIFEST_MAX_ROUTES = 64,
};

struct mparse {
	yaml_document_t *doc;
	const char *file, *dir;
	FILE *warn;
	struct dew_error **err;
};

int manifest_parse_mb(const char *s, int64_t *out)
{
	char *end = NULL;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	int64_t mult = 0;
	if (!*end || !strcasecmp(end, "M") || !strcasecmp(end, "MB"))
		mult = 1;
	else if (!strcasecmp(end, "G") || !strcasecmp(end, "GB"))
		mult = 1024;
	if (errno || !mult || n == 0 || n > (1ULL << 30) / (unsigned long long)mult)
		return -1;
	*out = (int64_t)n * mult;
	return 0;
}

static int mp_error(struct mparse *p, const yaml_node_t *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int mp_error(struct mparse *p, const yaml_node_t *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return dew_error_set(p->err, 0, "%s:%zu: %s", p->file, at ? at->start_mark.line + 1 : 1, msg);
}

static const char *node_type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* A scalar's text, or NULL (after the error) when n is not a scalar. */
static const char *mp_scalar(struct mparse *p, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE) {
		mp_error(p, n, "`%s` must be a string, not %s", key, node_type_name(n));
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

/* An unquoted ~, null or nothing: the key is there but says nothing. */
static bool mp_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = (const char *)n->data.scalar.value;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int mp_string(struct mparse *p, const yaml_node_t *n, const char *key, void *out)
{
	const char *s = mp_scalar(p, n, key);
	char **field = out;
	if (!s)
		return -EINVAL;
	free(*field);
	*field = xstrdup(s);
	return 0;
}

static int mp_size(struct mparse *p, const yaml_node_t *n, const char *key, void *out)
{
	const char *s = mp_scalar(p, n, key);
	if (!s)
		return -EINVAL;
	if (manifest_parse_mb(s, out) < 0)
		return mp_error(p, n, "`%s` must be a size such as 256M or 1G, not `%s`", key, s);
	return 0;
}

static int mp_count(struct mparse *p, const yaml_node_t *n, const char *key, void *out)
{
	const char *s = mp_scalar(p, n, key);
	char *end = NULL;
	if (!s)
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > 100000)
		return mp_error(p, n, "`%s` must be a number from 0, not `%s`", key, s);
	*(int64_t *)out = v;
	return 0;
}

static int mp_bool(struct mparse *p, const yaml_node_t *n, const char *key, void *out)
{
	const char *s = mp_scalar(p, n, key);
	if (!s)
		return -EINVAL;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes"))
		*(int *)out = 1;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no"))
		*(int *)out = 0;
	else
		return mp_error(p, n, "`%s` must be true or false, not `%s`", key, s);
	return 0;
}

static int mp_env(struct mparse *p, const yaml_node_t *n, const char *key, void *out)
{
	if (n->type != YAML_MAPPING_NODE)
		return mp_error(p, n, "`env` must be a mapping of names to values, not %s",
				node_type_name(n));
	size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (count > MANIFEST_MAX_ENV)
		return mp_error(p, n, "`%s` has more than %d variables", key, MANIFEST_MAX_ENV);
	json_t *env = json_object();
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const char *name = mp_scalar(p, k, key);
		const char *value = name ? mp_scalar(p, v, name) : NULL;
		if (!value) {
			json_decref(env);
			return -EINVAL;
		}
		json_object_set_new(env, name, json_string(value));
	}
	json_decref(*(json_t **)out);
	*(json_t **)out = env;
	return 0;
}

/* routes: [{route: host}, ...] */
static int mp_routes(struct mparse *p, const yaml_node_t *n, const char *key, void *out)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return mp_error(p, n, "`%s` must be a list of {route: HOST}, not %s", key, node_type_name(n));
	if (n->data.sequence.items.top - n->data.sequence.items.start > MANIFEST_MAX_ROUTES)
		return mp_error(p, n, "`%s` has more than %d routes", key, MANIFEST_MAX_ROUTES);
	json_t *routes = json_array();
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *r = yaml_document_get_node(p->doc, *it);
		const char *host = NULL;
		if (r->type == YAML_MAPPING_NODE)
			for (yaml_node_pair_t *pair = r->data.mapping.pairs.start;
			     pair < r->data.mapping.pairs.top; pair++) {
				yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
				yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
				if (k->type == YAML_SCALAR_NODE &&
				    !strcmp((char *)k->data.scalar.value, "route"))
					host = mp_scalar(p, v, "route");
			}
		if (!host) {
			json_decref(routes);
			return mp_error(p, r, "each of `routes` must be {route: HOST}");
		}
		json_array_append_new(routes, json_string(host));
	}
	json_decref(*(json_t **)out);
	*(json_t **)out = routes;
	return 0;
}

/* The keys of an app, each with its parser and its field. */
static const struct {
	const char *key;
	int (*parse)(struct mparse *p, const yaml_node_t *n, const char *key, void *out);
	size_t offset;
} mp_keys[] = {
	{ "name", mp_string, offsetof(struct manifest_app, name) },
	{ "path", mp_string, offsetof(struct manifest_app, path) },
	{ "command", mp_string, offsetof(struct manifest_app, command) },
	{ "buildpack", mp_string, offsetof(struct manifest_app, buildpack) },
	{ "stack", mp_string, offsetof(struct manifest_app, stack) },
	{ "memory", mp_size, offsetof(struct manifest_app, memory) },
	{ "disk_quota", mp_size, offsetof(struct manifest_app, disk) },
	{ "instances", mp_count, offsetof(struct manifest_app, instances) },
	{ "no-route", mp_bool, offsetof(struct manifest_app, no_route) },
	{ "env", mp_env, offsetof(struct manifest_app, env) },
	{ "routes", mp_routes, offsetof(struct manifest_app, routes) },
};

/* One key of an app. */
static int mp_app_key(struct mparse *p, struct manifest_app *a, const char *key, const yaml_node_t *v)
{
	if (mp_is_null(v))
		return 0;
	for (size_t i = 0; i < sizeof mp_keys / sizeof *mp_keys; i++)
		if (!strcmp(key, mp_keys[i].key))
			return mp_keys[i].parse(p, v, key, (char *)a + mp_keys[i].offset);
	if (p->warn)
		fprintf(p->warn, "dew: %s:%zu: `%s` is not supported by dew and was ignored\n", p->file,
			v->start_mark.line + 1, key);
	return 0;
}

static int mp_app(struct mparse *p, const yaml_node_t *n, struct manifest_app *a)
{
	*a = (struct manifest_app){
		.memory = -1, .disk = -1, .instances = -1, .no_route = -1, .line = n->start_mark.line + 1
	};
	if (n->type != YAML_MAPPING_NODE)
		return mp_error(p, n, "each application must be a mapping (name: ..., path: ...), not %s",
				node_type_name(n));
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		const char *key = mp_scalar(p, k, "key");
		if (!key || mp_app_key(p, a, key, yaml_document_get_node(p->doc, pair->value)) < 0)
			return -EINVAL;
	}
	if (!a->name)
		return mp_error(p, n, "an application has no `name`");
	char *rel = a->path;
	a->path = !rel ? xstrdup(p->dir) : rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", p->dir, rel);
	free(rel);
	return 0;
}

static void manifest_app_clear(struct manifest_app *a)
{
	free(a->name);
	free(a->path);
	free(a->command);
	free(a->buildpack);
	free(a->stack);
	json_decref(a->env);
	json_decref(a->routes);
}

/* The `applications` list of the root mapping. */
static int mp_root(struct mparse *p, const yaml_node_t *root, struct manifest *m)
{
	const yaml_node_t *apps = NULL;
	if (!root || root->type != YAML_MAPPING_NODE)
		return mp_error(p, root, "a manifest is a mapping with an `applications` list");
	for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, "applications"))
			apps = yaml_document_get_node(p->doc, pair->value);
	}
	if (!apps)
		return mp_error(p, root, "the manifest has no `applications` list");
	if (apps->type != YAML_SEQUENCE_NODE)
		return mp_error(p, apps, "`applications` must be a list, not %s", node_type_name(apps));
	size_t n = (size_t)(apps->data.sequence.items.top - apps->data.sequence.items.start);
	if (n == 0)
		return mp_error(p, apps, "`applications` is empty");
	if (n > MANIFEST_MAX_APPS)
		return mp_error(p, apps, "more than %d applications", MANIFEST_MAX_APPS);
	m->apps = xcalloc(n, sizeof(*m->apps));
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *a = yaml_document_get_node(p->doc, apps->data.sequence.items.start[i]);
		m->n++;
		if (mp_app(p, a, &m->apps[i]) < 0)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->apps[j].name, m->apps[i].name))
				return mp_error(p, a, "two applications are named `%s`", m->apps[i].name);
	}
	return 0;
}

int manifest_parse(const char *text, size_t len, const char *file, const char *dir, struct manifest *m,
		   FILE *warn, struct dew_error **err)
{
	*m = (struct manifest){ .file = xstrdup(file) };
	if (len > MANIFEST_MAX_FILE)
		return dew_error_set(err, 0, "%s: larger than %d bytes", file, MANIFEST_MAX_FILE);
	yaml_parser_t parser;
	yaml_document_t doc;
	struct mparse p = { .doc = &doc, .file = file, .dir = dir, .warn = warn, .err = err };
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		dew_error_set(err, 0, "%s:%zu: malformed YAML: %s%s%s", file, parser.problem_mark.line + 1,
			      parser.problem ? parser.problem : "unknown error", parser.context ? " " : "",
			      parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		manifest_free(m);
		return -EINVAL;
	}
	int r = mp_root(&p, yaml_document_get_root_node(&doc), m);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r < 0)
		manifest_free(m);
	return r;
}

int manifest_load(const char *path, struct manifest *m, FILE *warn, struct dew_error **err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	*m = (struct manifest){ 0 };
	int r = dew_read_file(path, MANIFEST_MAX_FILE, &text, &len, err);
	if (r < 0)
		return dew_error_prefix(err, "read the manifest");
	cleanup_free char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return manifest_parse(text, len, path, dir, m, warn, err);
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		manifest_app_clear(&m->apps[i]);
	free(m->apps);
	free(m->file);
	*m = (struct manifest){ 0 };
}

void manifest_select(struct manifest *m, size_t i)
{
	for (size_t k = 0; k < m->n; k++)
		if (k != i)
			manifest_app_clear(&m->apps[k]);
	m->apps[0] = m->apps[i];
	m->n = 1;
}
