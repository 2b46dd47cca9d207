// SPDX-License-Identifier: MIT
/*
 * `dea.<id>.start` messages: every field checked and bounded before the DEA acts on it (the ids
 * end up in paths and container names, the env in execve, the uris in the router), and the
 * environment a Cloud Foundry app expects, shaped like dea_ng's (VCAP_APPLICATION, VCAP_SERVICES).
 */
#include "start.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "json.h"
#include "sha256.h"

/* A string field copied out of obj; *out stays NULL when an optional field is absent. */
static int get_str(const json_t *obj, const char *key, unsigned flags, size_t max, char **out,
		   struct dew_error **err)
{
	const char *s = NULL;
	int r = dew_json_get_string(obj, key, flags, max, &s, err);

	if (r == 0)
		*out = xstrdup(s);
	return r < 0 ? r : 0;
}

/* Ids name paths and containers, so they get the container id rule: [A-Za-z0-9_.-], no leading dot. */
static int get_id(const json_t *obj, const char *key, char **out, struct dew_error **err)
{
	int r = get_str(obj, key, DEW_JSON_REQUIRED, START_ID_MAX, out, err);

	if (r < 0)
		return r;
	const char *s = *out;
	if (!*s || *s == '.' ||
	    s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")])
		return dew_error_set(err, 0,
				     "field `%s` must be 1 to %d of [A-Za-z0-9_.-], not starting with '.'",
				     key, START_ID_MAX);
	return 0;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Printable ASCII other than space: what may follow the scheme of a URL or start a route's path. */
static bool url_chars_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static int check_droplet_uri(const char *uri, struct dew_error **err)
{
	const char *rest = NULL;

	if (!strncmp(uri, "http://", 7))
		rest = uri + 7;
	else if (!strncmp(uri, "https://", 8))
		rest = uri + 8;
	/* Only HTTP(S): a file:// or ftp:// URL would let the controller's message read the DEA's
	 * own files or reach elsewhere through libcurl's other protocols. */
	if (!rest || !*rest || *rest == '/' || !url_chars_ok(rest))
		return dew_error_set(err, 0, "field `droplet_uri` must be an http:// or https:// URL");
	return 0;
}

/* Lowercase a route in place and check it is hostname[/path] (gorouter matches routes lowercased). */
static int check_route(char *route, size_t i, struct dew_error **err)
{
	size_t label = 0;
	char *p;

	for (p = route; *p && *p != '/'; p++) {
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				goto bad;
			label = 0;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)) {
			if (++label > 63)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (label == 0 || p[-1] == '-')
		goto bad;
	for (char *q = p; *q; q++) {
		*q = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);
		if (*q == '?' || *q == '#')
			goto bad;
	}
	if (!url_chars_ok(p))
		goto bad;
	return 0;
bad:
	return dew_error_set(err, 0, "field `uris[%zu]` must be a hostname with an optional /path", i);
}

/* Check and lowercase a route (see start.h). */
int start_route_check(char *route, size_t i, struct dew_error **err)
{
	return check_route(route, i, err);
}

static bool env_name_ok(const char *name)
{
	if (!((*name >= 'A' && *name <= 'Z') || (*name >= 'a' && *name <= 'z') || *name == '_'))
		return false;
	return !name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")];
}

static int parse_env(const json_t *root, struct start_msg *m, struct dew_error **err)
{
	json_t *env = NULL, *v;
	const char *name;
	size_t i = 0;
	int r = dew_json_get_object(root, "env", DEW_JSON_OPTIONAL, &env, err);

	if (r < 0)
		return r;
	if (r == 1) {
		m->env = xcalloc(1, sizeof *m->env);
		return 0;
	}
	if (json_object_size(env) > START_ENV_MAX)
		return dew_error_set(err, 0, "field `env` has more than %d variables", START_ENV_MAX);
	/* Check everything first, so an error leaves nothing half-built. */
	json_object_foreach (env, name, v) {
		/* The name is quoted back only when it is safe to put in a log line. */
		if (strlen(name) > START_ENV_NAME_MAX || !env_name_ok(name))
			return dew_error_set(err, 0,
					     "field `env`: `%.64s` is not a valid variable name "
					     "([A-Za-z_][A-Za-z0-9_]*, at most %d bytes)",
					     has_control(name) ? "?" : name, START_ENV_NAME_MAX);
		if (!json_is_string(v))
			return dew_error_set(err, 0, "field `env.%s` must be a string", name);
		if (strlen(json_string_value(v)) != json_string_length(v))
			return dew_error_set(err, 0, "field `env.%s` contains a NUL byte", name);
		if (json_string_length(v) > START_ENV_VALUE_MAX)
			return dew_error_set(err, 0, "field `env.%s` is longer than %d bytes", name,
					     START_ENV_VALUE_MAX);
	}
	m->env = xcalloc(json_object_size(env) + 1, sizeof *m->env);
	json_object_foreach (env, name, v)
		m->env[i++] = xasprintf("%s=%s", name, json_string_value(v));
	return 0;
}

/* One of services: {name, label, plan?, tags?[], credentials?{}}. */
static int check_service(const json_t *svc, struct dew_error **err)
{
	const char *s = NULL;
	char **tags = NULL;
	json_t *creds = NULL;
	int r;

	if (!json_is_object(svc))
		return dew_error_set(err, 0, "must be an object");
	r = dew_json_get_string(svc, "name", DEW_JSON_REQUIRED, START_NAME_MAX, &s, err);
	if (r < 0)
		return r;
	if (!*s || has_control(s))
		return dew_error_set(err, 0, "field `name` must be non-empty with no control characters");
	r = dew_json_get_string(svc, "label", DEW_JSON_REQUIRED, START_NAME_MAX, &s, err);
	if (r < 0)
		return r;
	if (!*s || has_control(s))
		return dew_error_set(err, 0, "field `label` must be non-empty with no control characters");
	r = dew_json_get_string(svc, "plan", DEW_JSON_OPTIONAL, START_NAME_MAX, &s, err);
	if (r < 0)
		return r;
	r = dew_json_get_string_array(svc, "tags", DEW_JSON_OPTIONAL, START_TAGS_MAX, START_NAME_MAX, &tags,
				      err);
	if (r < 0)
		return r;
	dew_strv_free(tags);
	r = dew_json_get_object(svc, "credentials", DEW_JSON_OPTIONAL, &creds, err);
	return r < 0 ? r : 0;
}

static int parse_services(const json_t *root, struct start_msg *m, struct dew_error **err)
{
	json_t *arr = NULL, *svc;
	size_t i;
	int r = dew_json_get_array(root, "services", DEW_JSON_OPTIONAL, START_SERVICES_MAX, &arr, err);

	if (r < 0)
		return r;
	if (r == 1) {
		m->services = json_array();
		return 0;
	}
	json_array_foreach (arr, i, svc) {
		r = check_service(svc, err);
		if (r < 0)
			return dew_error_prefix(err, "field `services[%zu]`", i);
	}
	m->services = json_incref(arr);
	return 0;
}

static int parse_uris(const json_t *root, struct start_msg *m, struct dew_error **err)
{
	int r = dew_json_get_string_array(root, "uris", DEW_JSON_OPTIONAL, START_ROUTES_MAX, START_ROUTE_MAX,
					  &m->uris, err);

	if (r < 0)
		return r;
	if (r == 1) {
		m->uris = xcalloc(1, sizeof *m->uris);
		return 0;
	}
	for (size_t i = 0; m->uris[i]; i++) {
		r = check_route(m->uris[i], i, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The scalar fields, in the order of DESIGN.md section 5.1. */
static int parse_scalars(const json_t *root, struct start_msg *m, struct dew_error **err)
{
	json_int_t v = 0;
	int r;

	if ((r = get_id(root, "droplet", &m->droplet, err)) < 0 ||
	    (r = get_str(root, "name", DEW_JSON_REQUIRED, START_NAME_MAX, &m->name, err)) < 0)
		return r;
	if (!*m->name || has_control(m->name))
		return dew_error_set(err, 0, "field `name` must be non-empty with no control characters");
	if ((r = get_id(root, "version", &m->version, err)) < 0 ||
	    (r = get_id(root, "instance_id", &m->instance_id, err)) < 0)
		return r;
	if ((r = dew_json_get_int(root, "index", DEW_JSON_REQUIRED, 0, START_INDEX_MAX, &v, err)) < 0)
		return r;
	m->index = v;
	if ((r = get_str(root, "droplet_uri", DEW_JSON_REQUIRED, START_URI_MAX, &m->droplet_uri, err)) < 0 ||
	    (r = check_droplet_uri(m->droplet_uri, err)) < 0)
		return r;
	if ((r = get_str(root, "droplet_sha256", DEW_JSON_REQUIRED, DEW_SHA256_HEX_LEN, &m->droplet_sha256,
			 err)) < 0)
		return r;
	if (!dew_sha256_is_hex(m->droplet_sha256))
		return dew_error_set(err, 0, "field `droplet_sha256` must be 64 lowercase hex digits");
	if ((r = get_id(root, "stack", &m->stack, err)) < 0 ||
	    (r = get_str(root, "start_command", DEW_JSON_OPTIONAL, START_COMMAND_MAX, &m->start_command,
			 err)) < 0)
		return r;
	if (m->start_command && !*m->start_command) {
		free(m->start_command);
		m->start_command = NULL;
	}
	if ((r = dew_json_get_int(root, "memory", DEW_JSON_REQUIRED, 1, START_MEMORY_MAX, &v, err)) < 0)
		return r;
	m->memory_mb = v;
	v = START_DISK_DEFAULT;
	if ((r = dew_json_get_int(root, "disk", DEW_JSON_OPTIONAL, 1, START_DISK_MAX, &v, err)) < 0)
		return r;
	m->disk_mb = v;
	v = START_FDS_DEFAULT;
	if ((r = dew_json_get_int(root, "fds", DEW_JSON_OPTIONAL, START_FDS_MIN, START_FDS_MAX, &v, err)) < 0)
		return r;
	m->fds = v;
	if ((r = get_str(root, "health_check", DEW_JSON_OPTIONAL, 16, &m->health_check, err)) < 0)
		return r;
	if (!m->health_check)
		m->health_check = xstrdup("port");
	else if (strcmp(m->health_check, "port") && strcmp(m->health_check, "none"))
		return dew_error_set(err, 0, "field `health_check` must be \"port\" or \"none\"");
	return 0;
}

/* Parse and validate a start message (see start.h). */
int start_msg_parse(const char *json, size_t len, struct start_msg **out, struct dew_error **err)
{
	struct start_msg *m;
	json_t *root;
	int r;

	if (len > START_MSG_MAX)
		return dew_error_set_code(err, EFBIG, "start message is larger than 1 MiB (%zu bytes)", len);
	root = dew_json_parse(json, len, err);
	if (!root)
		return -EINVAL;
	if (!json_is_object(root)) {
		json_decref(root);
		return dew_error_set(err, 0, "start message must be a JSON object");
	}
	m = xzalloc(sizeof *m);
	r = parse_scalars(root, m, err);
	if (r >= 0)
		r = parse_env(root, m, err);
	if (r >= 0)
		r = parse_services(root, m, err);
	if (r >= 0)
		r = parse_uris(root, m, err);
	json_decref(root);
	if (r < 0) {
		start_msg_free(m);
		return r;
	}
	*out = m;
	return 0;
}

/* Free a start message (see start.h). */
void start_msg_free(struct start_msg *m)
{
	if (!m)
		return;
	free(m->droplet);
	free(m->name);
	free(m->version);
	free(m->instance_id);
	free(m->droplet_uri);
	free(m->droplet_sha256);
	free(m->stack);
	free(m->start_command);
	dew_strv_free(m->env);
	json_decref(m->services);
	dew_strv_free(m->uris);
	free(m->health_check);
	free(m);
}

static json_t *strv_to_json(char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* Ruby's Time#to_s, as dea_ng's VCAP_APPLICATION carries `start` and `started_at`: always UTC. */
static void format_time(int64_t t, char buf[64])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, 64, "%Y-%m-%d %H:%M:%S +0000", &tm))
		strcpy(buf, "1970-01-01 00:00:00 +0000");
}

/* Build VCAP_APPLICATION (see start.h). */
json_t *start_vcap_application(const struct start_msg *m, const struct start_ctx *c)
{
	char started[64];
	json_t *app;

	format_time(c->started_at, started);
	/* `host` is the DEA's address, as the VCAP DEA set it; the app binds VCAP_APP_HOST. */
	app = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:I,"
			" s:{s:I, s:I, s:I}}",
			"instance_id", m->instance_id, "instance_index", (json_int_t)m->index, "name",
			m->name, "application_name", m->name, "application_id", m->droplet,
			"application_uris", strv_to_json(m->uris), "uris", strv_to_json(m->uris), "version",
			m->version, "application_version", m->version, "host", c->host ? c->host : "0.0.0.0",
			"port", c->port, "start", started, "started_at", started, "started_at_timestamp",
			(json_int_t)c->started_at, "state_timestamp", (json_int_t)c->started_at, "limits",
			"mem", (json_int_t)m->memory_mb, "disk", (json_int_t)m->disk_mb, "fds",
			(json_int_t)m->fds);
	if (!app) /* only on out-of-memory or a NULL string: a broken invariant either way */
		abort();
	return app;
}

/* Build VCAP_SERVICES (see start.h). */
json_t *start_vcap_services(const struct start_msg *m)
{
	json_t *groups = json_object(), *svc;
	size_t i;

	json_array_foreach (m->services, i, svc) {
		const char *label = json_string_value(json_object_get(svc, "label"));
		json_t *plan = json_object_get(svc, "plan"), *tags = json_object_get(svc, "tags");
		json_t *creds = json_object_get(svc, "credentials");
		json_t *group = json_object_get(groups, label);
		json_t *e = json_pack("{s:O, s:O}", "name", json_object_get(svc, "name"), "label",
				      json_object_get(svc, "label"));

		if (!e)
			abort();
		if (json_is_string(plan))
			json_object_set(e, "plan", plan);
		/* Copies, not shared references: the result may outlive m or go to another thread. */
		json_object_set_new(e, "tags", json_is_array(tags) ? json_deep_copy(tags) : json_array());
		json_object_set_new(e, "credentials",
				    json_is_object(creds) ? json_deep_copy(creds) : json_object());
		if (!group) {
			group = json_array();
			json_object_set_new(groups, label, group);
		}
		json_array_append_new(group, e);
	}
	return groups;
}

/* Names the user's env may not set: they are the platform's contract with the app. */
static bool env_reserved(const char *kv)
{
	static const char *const names[] = { "PORT", "MEMORY_LIMIT", "HOME" };
	size_t n = strcspn(kv, "=");

	if (!strncmp(kv, "VCAP_", 5))
		return true;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == n && !strncmp(kv, names[i], n))
			return true;
	return false;
}

static bool env_has(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return true;
	return false;
}

/* Build the instance's environment (see start.h). */
char **start_env(const struct start_msg *m, const struct start_ctx *c)
{
	size_t n_user = 0, n = 0;
	json_t *j;
	char *s;

	while (m->env && m->env[n_user])
		n_user++;
	char **env = xcalloc(n_user + 11, sizeof *env);
	env[n++] = xstrdup("HOME=/home/vcap/app");
	env[n++] = xasprintf("PORT=%d", c->port);
	env[n++] = xasprintf("VCAP_APP_PORT=%d", c->port);
	env[n++] = xstrdup("VCAP_APP_HOST=0.0.0.0");
	env[n++] = xasprintf("MEMORY_LIMIT=%" PRId64 "m", m->memory_mb);
	j = start_vcap_application(m, c);
	s = dew_json_dumps(j);
	env[n++] = xasprintf("VCAP_APPLICATION=%s", s);
	free(s);
	json_decref(j);
	j = start_vcap_services(m);
	s = dew_json_dumps(j);
	env[n++] = xasprintf("VCAP_SERVICES=%s", s);
	free(s);
	json_decref(j);
	if (!env_has(m->env, "TMPDIR"))
		env[n++] = xstrdup("TMPDIR=/tmp");
	if (!env_has(m->env, "LANG"))
		env[n++] = xstrdup("LANG=C.UTF-8");
	if (!env_has(m->env, "PATH"))
		env[n++] = xstrdup("PATH=" START_PATH);
	for (size_t i = 0; i < n_user; i++)
		if (!env_reserved(m->env[i]))
			env[n++] = xstrdup(m->env[i]);
	env[n] = NULL;
	return env;
}
