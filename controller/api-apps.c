// SPDX-License-Identifier: MIT
/*
 * /v1/apps: create, list, get, update, delete. An app belongs to its owner: another user gets
 * 404 for it, exactly as for an app that does not exist; an admin sees every app (list) and
 * reaches another user's app with ?owner=<username>. Every field is checked and a refusal names
 * it (422). Quotas (memory of started instances, number of apps) answer 403 with the numbers.
 * Updates are optimistic: a client sends the revision it read (If-Match: "<revision>" -> 412 on
 * a mismatch, or "revision" in the body -> 409); GET answers an ETag. A new app gets the route
 * <name>.<domain> unless it asks for none ("no_route": true) or names its own ("routes").
 * Starting an app (or "restage": true) stages a PENDING package (staging.c); GET
 * /v1/apps/:name/staging_log shows the last staging's log.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actual.h"
#include "alloc.h"
#include "buf.h"
#include "controller.h"
#include "json.h"
#include "log.h"
#include "random.h"
#include "store.h"
#include "utf8.h"

enum {
	APP_NAME_MAX = 63,
	APP_COMMAND_MAX = 4096,
	APP_ENV_MAX = 256,
	APP_ENV_VALUE_MAX = 32 * 1024,
	APP_ROUTES_MAX = 64,
	APP_DEFAULT_MEMORY = 256,
	APP_DEFAULT_DISK = 1024,
};

static bool apps_token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n > 0 && n <= max &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static bool apps_env_name_ok(const char *s)
{
	if (!*s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

/* The env object: names of shell variables, string values, none starting with VCAP_. */
static int apps_check_env(const json_t *env, struct dew_error **err)
{
	if (!json_is_object(env))
		return dew_error_set(err, 0, "field `env` must be an object of strings");
	if (json_object_size(env) > APP_ENV_MAX)
		return dew_error_set(err, 0, "field `env` has more than %d variables", APP_ENV_MAX);
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)env, k, v) {
		if (!apps_env_name_ok(k) || strlen(k) > 255)
			return dew_error_set(err, 0, "field `env`: `%s` is not a variable name", k);
		if (!strncmp(k, "VCAP_", 5))
			return dew_error_set(
				err, 0, "field `env`: `%s`: names starting with VCAP_ are the platform's", k);
		if (!json_is_string(v) || json_string_length(v) > APP_ENV_VALUE_MAX ||
		    memchr(json_string_value(v), 0, json_string_length(v)))
			return dew_error_set(err, 0, "field `env.%s` must be a string of at most %d bytes", k,
					     APP_ENV_VALUE_MAX);
	}
	return 0;
}

static int apps_parse_enum(const json_t *body, const char *key, const char *const *names, size_t n, int *out,
			   struct dew_error **err)
{
	const char *s = NULL;
	int r = dew_json_get_string(body, key, DEW_JSON_OPTIONAL, 32, &s, err);
	if (r != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, names[i])) {
			*out = (int)i;
			return 0;
		}
	return dew_error_set(err, 0, "field `%s` must be %s or %s", key, names[0], names[1]);
}

/* Apply the fields body gives onto a (create: every field may be given; update: the same). */
static int apps_apply(struct cc *cc, const json_t *body, struct store_app *a, struct dew_error **err)
{
	const char *s = NULL;
	json_int_t v = 0;
	int r;
	if ((r = dew_json_get_string(body, "name", DEW_JSON_OPTIONAL, 1024, &s, err)) < 0)
		return r;
	if (r == 0) {
		if (!api_dns_label_ok(s, strlen(s)))
			return dew_error_set(err, 0,
					     "field `name` must be 1-%d of a-z, 0-9 and '-', not starting or "
					     "ending with '-' (it becomes a host name)",
					     APP_NAME_MAX);
		free(a->name);
		a->name = xstrdup(s);
	}
	static const struct {
		const char *key;
		size_t offset;
		int64_t min;
		size_t max_offset; /* in struct cc_config */
	} ints[] = {
		{ "instances", offsetof(struct store_app, instances), 0,
		  offsetof(struct cc_config, max_instances) },
		{ "memory", offsetof(struct store_app, memory_mb), 1,
		  offsetof(struct cc_config, max_memory_mb) },
		{ "disk", offsetof(struct store_app, disk_mb), 1, offsetof(struct cc_config, max_disk_mb) },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(ints); i++) {
		int64_t max = *(const int64_t *)((const char *)&cc->cfg + ints[i].max_offset);
		if ((r = dew_json_get_int(body, ints[i].key, DEW_JSON_OPTIONAL, ints[i].min, max, &v, err)) <
		    0)
			return r;
		if (r == 0)
			*(int64_t *)((char *)a + ints[i].offset) = v;
	}
	static const struct {
		const char *key;
		size_t offset;
		size_t max;
		bool token;
	} strs[] = {
		{ "stack", offsetof(struct store_app, stack), 64, true },
		{ "buildpack", offsetof(struct store_app, buildpack), 64, true },
		{ "command", offsetof(struct store_app, command), APP_COMMAND_MAX, false },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(strs); i++) {
		json_t *jv = json_object_get(body, strs[i].key);
		char **field = (char **)((char *)a + strs[i].offset);
		if (!jv)
			continue;
		bool stack = !strcmp(strs[i].key, "stack");
		if (json_is_null(jv) && stack) {
			free(*field); /* the stack is never unset: null means the default one */
			*field = xstrdup(cc->cfg.default_stack);
			continue;
		}
		if (json_is_null(jv) || (json_is_string(jv) && !json_string_length(jv) && !stack)) {
			free(*field); /* null or "" clears an optional field */
			*field = NULL;
			continue;
		}
		if ((r = dew_json_get_string(body, strs[i].key, 0, strs[i].max, &s, err)) < 0)
			return r;
		bool ok = strs[i].token ? apps_token_ok(s, strs[i].max) : !strpbrk(s, "\n\r");
		if (!ok)
			return dew_error_set(err, 0, "field `%s` %s", strs[i].key,
					     strs[i].token
						     ? "must be a name of letters, digits, '.', '_', '-'"
						     : "must be one line");
		free(*field);
		*field = xstrdup(s);
	}
	json_t *env = json_object_get(body, "env");
	if (env && !json_is_null(env)) {
		if (apps_check_env(env, err) < 0)
			return -EINVAL;
		free(a->env_json);
		a->env_json = dew_json_dumps(env);
	}
	int st = (int)a->state;
	if ((r = apps_parse_enum(body, "state", store_app_state_names, DEW_ARRAY_SIZE(store_app_state_names),
				 &st, err)) < 0)
		return r;
	a->state = (enum store_app_state)st;
	return 0;
}

/* Does owner's usage leave room for a (its STARTED memory counted, old's not)? 403 text or NULL. */
static char *apps_quota(struct cc *cc, const struct store_app *a, const struct store_app *old, bool creating)
{
	int64_t apps = 0, used = 0;
	if (store_usage(cc->store, a->owner_id, &apps, &used, NULL) < 0)
		return NULL; /* the write below reports a broken store */
	if (creating && apps >= cc->cfg.quota_apps)
		return xasprintf("app quota reached: %" PRId64 " of %" PRId64 " apps", apps,
				 cc->cfg.quota_apps);
	if (a->state != STORE_APP_STARTED)
		return NULL;
	if (old && old->state == STORE_APP_STARTED)
		used -= old->instances * old->memory_mb;
	int64_t want = a->instances * a->memory_mb;
	if (used + want > cc->cfg.quota_memory_mb)
		return xasprintf("memory quota exceeded: %" PRId64 " MB of %" PRId64
				 " MB in use, this app needs %" PRId64 " MB (%" PRId64 " x %" PRId64 " MB)",
				 used, cc->cfg.quota_memory_mb, want, a->instances, a->memory_mb);
	return NULL;
}

/* The hosts of the routes among rs[0..n) that belong to app_id. */
static json_t *apps_routes_of(const struct store_route *rs, size_t n, int64_t app_id)
{
	json_t *routes = json_array();
	for (size_t i = 0; i < n; i++)
		if (rs[i].app_id == app_id)
			json_array_append_new(routes, json_string(rs[i].host));
	return routes;
}

/* The app as the API shows it; routes (new reference taken) are its route hosts, or NULL to
 * read them from the store. */
static json_t *apps_json(struct cc *cc, const struct store_app *a, const char *owner, json_t *routes)
{
	if (!routes) {
		struct store_route *rs = NULL;
		size_t n = 0;
		if (store_route_list(cc->store, a->id, -1, &rs, &n, NULL) == 0) {
			routes = apps_routes_of(rs, n, a->id);
			store_route_list_free(rs, n);
		} else {
			routes = json_array();
		}
	}
	json_t *env = json_loads(a->env_json ? a->env_json : "{}", 0, NULL);
	json_t *j = json_pack(
		"{s:s, s:s, s:s?, s:I, s:I, s:I, s:s, s:s?, s:s?, s:o, s:o, s:s, s:s, s:s, s:I, s:I, s:I}",
		"guid", a->guid, "name", a->name, "owner", owner, "instances", (json_int_t)a->instances,
		"memory", (json_int_t)a->memory_mb, "disk", (json_int_t)a->disk_mb, "stack", a->stack,
		"buildpack", a->buildpack, "command", a->command, "env", env ? env : json_object(), "routes",
		routes, "state", store_app_state_names[a->state], "package_state",
		store_package_state_names[a->package_state], "version", a->version, "revision",
		(json_int_t)a->revision, "created", (json_int_t)a->created, "updated",
		(json_int_t)a->updated);
	if (a->state == STORE_APP_STARTED)
		json_object_set_new(j, "running_instances",
				    json_integer((json_int_t)actual_count(cc->actual, a->guid, a->version,
									  1u << ACTUAL_RUNNING)));
	if (a->staging_error)
		json_object_set_new(j, "staging_error", json_string(a->staging_error));
	if (a->detected_buildpack)
		json_object_set_new(j, "detected_buildpack", json_string(a->detected_buildpack));
	return j;
}

/* Answer status with the app's JSON and its revision as the ETag. */
static void apps_respond(struct dew_http_req *req, int status, const struct store_app *a, const char *owner)
{
	char etag[32];
	snprintf(etag, sizeof etag, "\"%" PRId64 "\"", a->revision);
	dew_http_add_header(req, "ETag", etag);
	dew_http_respond_json(req, status, apps_json(api_cc(req), a, owner, NULL));
}

/* The owner a request acts for: the caller, or (admins only) ?owner=<name>. 0 or answered. */
static int apps_owner(struct dew_http_req *req, const struct cc_user *u, int64_t *owner_id, char **owner_name)
{
	struct cc *cc = api_cc(req);
	cleanup_free char *q = dew_http_query(req, "owner");
	if (!q || !strcmp(q, u->name)) {
		*owner_id = u->id;
		*owner_name = xstrdup(u->name);
		return 0;
	}
	struct store_user o = { 0 };
	cleanup_error struct dew_error *err = NULL;
	/* A non-admin asking for another owner learns nothing: the same 404 as a missing app. */
	int r = u->admin ? store_user_get_by_name(cc->store, q, &o, &err) : -ENOENT;
	if (r < 0) {
		api_store_error(req, r, err, u->admin ? "user" : "app");
		return -1;
	}
	*owner_id = o.id;
	*owner_name = steal_pointer(&o.name);
	store_user_clear(&o);
	return 0;
}

int api_app_load(struct dew_http_req *req, struct cc_user *u, struct store_app *a, char **owner)
{
	struct cc *cc = api_cc(req);
	int64_t owner_id;
	if (!api_auth(req, u))
		return -1;
	if (apps_owner(req, u, &owner_id, owner) < 0) {
		cc_user_clear(u);
		return -1;
	}
	cleanup_error struct dew_error *err = NULL;
	int r = store_app_get_by_name(cc->store, owner_id, dew_http_param(req, "name"), a, &err);
	if (r < 0) {
		cc_user_clear(u);
		free(steal_pointer(owner));
		api_store_error(req, r, err, "app");
		return -1;
	}
	return 0;
}

static void apps_notify(struct cc *cc, const struct store_app *a)
{
	json_auto_t *m = json_pack("{s:s}", "droplet", a->guid);
	if (cc->bus)
		dew_bus_publish_json(cc->bus, "droplet.updated", NULL, m);
}

/* Append s as a JSON string, escaped as jansson's compact dump escapes it (NULL: null). */
static void list_put_string(struct dew_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (!s) {
		dew_buf_puts(b, "null");
		return;
	}
	dew_buf_putc(b, '"');
	for (;;) {
		size_t run = 0;
		while ((unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
			run++;
		/* Stored text passed jansson on its way in, but a bad byte must not break the list. */
		dew_utf8_append(b, s, run);
		s += run;
		unsigned char c = (unsigned char)*s++;
		if (!c)
			break;
		const char *esc = c == '"'    ? "\\\""
				  : c == '\\' ? "\\\\"
				  : c == '\n' ? "\\n"
				  : c == '\t' ? "\\t"
				  : c == '\r' ? "\\r"
				  : c == '\b' ? "\\b"
				  : c == '\f' ? "\\f"
					      : NULL;
		if (esc)
			dew_buf_puts(b, esc);
		else
			dew_buf_append(b, (const char[]){ '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] }, 6);
	}
	dew_buf_putc(b, '"');
}

/* Append ,"key":v (printf's formatting is a fifth of the list's time with 100 apps). */
static void list_put_int(struct dew_buf *b, const char *key, int64_t v)
{
	char digits[24], *p = digits + sizeof digits;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		*--p = '-';
	dew_buf_puts(b, ",\"");
	dew_buf_puts(b, key);
	dew_buf_puts(b, "\":");
	dew_buf_append(b, p, (size_t)(digits + sizeof digits - p));
}

/*
 * Append app a as apps_json would make it, written straight as text: with 100 apps, building
 * and dumping jansson objects was most of a list request's time (docs/PERFORMANCE.md). Keep
 * the two in step: the same keys in the same order, so a list entry equals GET /v1/apps/:name.
 */
static void list_put_app(struct cc *cc, struct dew_buf *b, const struct store_app *a, const char *owner,
			 const struct store_route *rs, size_t n_rs)
{
	bool first = true;

	dew_buf_puts(b, "{\"guid\":");
	list_put_string(b, a->guid);
	dew_buf_puts(b, ",\"name\":");
	list_put_string(b, a->name);
	if (owner) {
		dew_buf_puts(b, ",\"owner\":");
		list_put_string(b, owner);
	}
	list_put_int(b, "instances", a->instances);
	list_put_int(b, "memory", a->memory_mb);
	list_put_int(b, "disk", a->disk_mb);
	dew_buf_puts(b, ",\"stack\":");
	list_put_string(b, a->stack);
	dew_buf_puts(b, ",\"buildpack\":");
	list_put_string(b, a->buildpack);
	dew_buf_puts(b, ",\"command\":");
	list_put_string(b, a->command);
	dew_buf_puts(b, ",\"env\":");
	if (!a->env_json || strcmp(a->env_json, "{}") == 0) {
		dew_buf_puts(b, "{}");
	} else {
		json_auto_t *env = json_loads(a->env_json, 0, NULL);
		cleanup_free char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
		dew_buf_puts(b, text ? text : "{}");
	}
	dew_buf_puts(b, ",\"routes\":[");
	for (size_t i = 0; i < n_rs; i++) {
		if (rs[i].app_id != a->id)
			continue;
		if (!first)
			dew_buf_putc(b, ',');
		first = false;
		list_put_string(b, rs[i].host);
	}
	dew_buf_puts(b, "],\"state\":\"");
	dew_buf_puts(b, store_app_state_names[a->state]);
	dew_buf_puts(b, "\",\"package_state\":\"");
	dew_buf_puts(b, store_package_state_names[a->package_state]);
	dew_buf_puts(b, "\",\"version\":");
	list_put_string(b, a->version);
	list_put_int(b, "revision", a->revision);
	list_put_int(b, "created", a->created);
	list_put_int(b, "updated", a->updated);
	if (a->state == STORE_APP_STARTED)
		list_put_int(b, "running_instances",
			     (int64_t)actual_count(cc->actual, a->guid, a->version, 1u << ACTUAL_RUNNING));
	if (a->staging_error) {
		dew_buf_puts(b, ",\"staging_error\":");
		list_put_string(b, a->staging_error);
	}
	if (a->detected_buildpack) {
		dew_buf_puts(b, ",\"detected_buildpack\":");
		list_put_string(b, a->detected_buildpack);
	}
	dew_buf_putc(b, '}');
}

void api_apps_list(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	if (!api_auth(req, &u))
		return;
	struct store_app *apps = NULL;
	size_t n = 0;
	cleanup_error struct dew_error *err = NULL;
	int r = store_app_list(cc->store, u.admin ? -1 : u.id, &apps, &n, &err);
	if (r < 0) {
		cc_user_clear(&u);
		api_store_error(req, r, err, "apps");
		return;
	}
	/* Every route of the listed apps in one query, not one per app. */
	struct store_route *rs = NULL;
	size_t n_rs = 0;
	if (store_route_list(cc->store, -1, u.admin ? -1 : u.id, &rs, &n_rs, &err) < 0) {
		store_app_list_free(apps, n);
		cc_user_clear(&u);
		api_store_error(req, -EIO, err, "routes");
		return;
	}
	cleanup_buf struct dew_buf b = DEW_BUF_INIT;
	dew_buf_reserve(&b, 512 * (n + 1));
	dew_buf_puts(&b, "{\"apps\":[");
	for (size_t i = 0; i < n; i++) {
		struct store_user o = { 0 };
		const char *owner = u.name;
		if (apps[i].owner_id != u.id && store_user_get(cc->store, apps[i].owner_id, &o, NULL) == 0)
			owner = o.name;
		if (i > 0)
			dew_buf_putc(&b, ',');
		list_put_app(cc, &b, &apps[i], owner, rs, n_rs);
		store_user_clear(&o);
	}
	dew_buf_puts(&b, "]}");
	store_route_list_free(rs, n_rs);
	store_app_list_free(apps, n);
	cc_user_clear(&u);
	dew_http_respond(req, 200, "application/json", b.data, b.len);
}

/* Check hosts (a JSON value from a request) as the routes of app a: 0, or answered (422 naming
 * the entry, 409 for a host another app holds). */
static int apps_check_routes(struct dew_http_req *req, const json_t *hosts, const struct store_app *a)
{
	struct cc *cc = api_cc(req);
	if (!json_is_array(hosts) || json_array_size(hosts) > APP_ROUTES_MAX) {
		api_error(req, 422, "field `routes` must be an array of at most %d host names",
			  APP_ROUTES_MAX);
		return -1;
	}
	size_t i;
	json_t *h;
	json_array_foreach (hosts, i, h) {
		if (!json_is_string(h)) {
			api_error(req, 422, "field `routes[%zu]` must be a lowercase host name", i);
			return -1;
		}
		cleanup_free char *why = api_route_refusal(cc, json_string_value(h));
		if (why) {
			api_error(req, 422, "field `routes[%zu]`: %s", i, why);
			return -1;
		}
		struct store_route r = { 0 };
		bool taken = store_route_get_by_host(cc->store, json_string_value(h), &r, NULL) == 0 &&
			     r.app_id != a->id;
		store_route_clear(&r);
		if (taken) {
			api_error(req, 409, "route `%s` is taken", json_string_value(h));
			return -1;
		}
	}
	return 0;
}

/* Make a's routes exactly hosts (checked): remove the others, add the missing. 0, or answered;
 * *changed tells whether anything changed. */
static int apps_set_routes(struct dew_http_req *req, const json_t *hosts, const struct store_app *a,
			   bool *changed)
{
	struct cc *cc = api_cc(req);
	struct store_route *rs = NULL;
	size_t n = 0, i;
	json_t *h;
	cleanup_error struct dew_error *err = NULL;
	*changed = false;
	if (store_route_list(cc->store, a->id, -1, &rs, &n, &err) < 0) {
		api_store_error(req, -EIO, err, "routes");
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		bool keep = false;
		json_array_foreach (hosts, i, h)
			keep |= !strcmp(json_string_value(h), rs[k].host);
		if (!keep) {
			store_route_delete(cc->store, rs[k].id, NULL);
			*changed = true;
		}
	}
	int r = 0;
	json_array_foreach (hosts, i, h) {
		bool have = false;
		for (size_t k = 0; k < n; k++)
			have |= !strcmp(json_string_value(h), rs[k].host);
		if (have)
			continue;
		int64_t id = 0;
		r = store_route_create(cc->store, json_string_value(h), a->id, a->owner_id, &id, &err);
		if (r == -EEXIST) {
			api_error(req, 409, "route `%s` is taken", json_string_value(h));
			break;
		}
		if (r < 0) {
			api_store_error(req, r, err, "route");
			break;
		}
		*changed = true;
	}
	store_route_list_free(rs, n);
	return r < 0 ? -1 : 0;
}

/* Add the routes of a new app: the ones asked for, or <name>.<domain>. 0, or answered. */
static int apps_add_routes(struct dew_http_req *req, const json_t *body, const struct store_app *a)
{
	struct cc *cc = api_cc(req);
	json_t *routes = json_object_get(body, "routes");
	bool no_route = json_is_true(json_object_get(body, "no_route")), changed;
	cleanup_free char *def = xasprintf("%s.%s", a->name, cc->cfg.domain);
	json_auto_t *hosts = routes && !json_is_null(routes) ? json_incref(routes)
			     : no_route			     ? json_array()
							     : json_pack("[s]", def);
	if (apps_check_routes(req, hosts, a) < 0)
		return -1;
	return apps_set_routes(req, hosts, a, &changed);
}

void api_apps_create(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	if (!api_auth(req, &u))
		return;
	json_auto_t *body = api_body_object(req);
	struct store_app a = {
		.owner_id = u.id,
		.instances = 1,
		.memory_mb = APP_DEFAULT_MEMORY,
		.disk_mb = APP_DEFAULT_DISK,
		.stack = xstrdup(cc->cfg.default_stack),
		.env_json = xstrdup("{}"),
		.state = STORE_APP_STOPPED,
		.package_state = STORE_PACKAGE_PENDING,
	};
	cleanup_error struct dew_error *err = NULL;
	cleanup_free char *quota = NULL;
	if (!body)
		goto out;
	if (!json_is_string(json_object_get(body, "name"))) {
		api_error(req, 422, "field `name` is required (a string)");
		goto out;
	}
	if (apps_apply(cc, body, &a, &err) < 0) {
		api_error(req, 422, "%s", dew_error_msg(err));
		goto out;
	}
	if ((quota = apps_quota(cc, &a, NULL, true))) {
		api_error(req, 403, "%s", quota);
		goto out;
	}
	int r = store_app_create(cc->store, &a, &err);
	if (r == -EEXIST) {
		api_error(req, 409, "you have an app named `%s` already", a.name);
		goto out;
	}
	if (r < 0) {
		api_store_error(req, r, err, "app");
		goto out;
	}
	if (apps_add_routes(req, body, &a) < 0) {
		store_app_delete(cc->store, a.id, NULL);
		goto out;
	}
	dew_info("app %s (%s) created by %s", a.name, a.guid, u.name);
	apps_notify(cc, &a);
	apps_respond(req, 201, &a, u.name);
out:
	store_app_clear(&a);
	cc_user_clear(&u);
}

void api_apps_get(struct dew_http_req *req)
{
	struct cc_user u;
	struct store_app a = { 0 };
	cleanup_free char *owner = NULL;
	if (api_app_load(req, &u, &a, &owner) < 0)
		return;
	apps_respond(req, 200, &a, owner);
	store_app_clear(&a);
	cc_user_clear(&u);
}

/* The revision the client read: If-Match ("<n>" or W/"<n>"), else the body's `revision`; 0 when
 * neither (last write wins, by the client's choice). *status is the status of a mismatch. */
static int64_t apps_expected_revision(struct dew_http_req *req, const json_t *body, int *status)
{
	const char *im = dew_http_header(req, "If-Match");
	if (im) {
		*status = 412;
		if (!strcmp(im, "*"))
			return 0; /* any current revision (RFC 9110 13.1.1): the app exists */
		if (!strncmp(im, "W/", 2))
			im += 2;
		if (*im == '"')
			im++;
		return strtoll(im, NULL, 10) > 0 ? strtoll(im, NULL, 10) : -1;
	}
	*status = 409;
	json_t *rev = json_object_get(body, "revision");
	return json_is_integer(rev) ? json_integer_value(rev) : 0;
}

void api_apps_update(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	struct store_app a = { 0 }, old = { 0 };
	cleanup_free char *owner = NULL, *quota = NULL;
	cleanup_error struct dew_error *err = NULL;
	if (api_app_load(req, &u, &a, &owner) < 0)
		return;
	json_auto_t *body = api_body_object(req);
	if (!body)
		goto out;
	json_t *rev = json_object_get(body, "revision");
	if (rev && !json_is_integer(rev)) {
		api_error(req, 422, "field `revision` must be an integer (the revision you read)");
		goto out;
	}
	int status = 409;
	int64_t want = apps_expected_revision(req, body, &status);
	if (want && want != a.revision) {
		api_error(req, status,
			  "app `%s` is at revision %" PRId64 ", not %" PRId64 ": read it again and retry",
			  a.name, a.revision, want);
		goto out;
	}
	store_app_get(cc->store, a.id, &old, NULL);
	if (apps_apply(cc, body, &a, &err) < 0) {
		api_error(req, 422, "%s", dew_error_msg(err));
		goto out;
	}
	if ((quota = apps_quota(cc, &a, &old, false))) {
		api_error(req, 403, "%s", quota);
		goto out;
	}
	/* "routes": [...] replaces the app's routes. */
	json_t *routes = json_object_get(body, "routes");
	if (routes && apps_check_routes(req, routes, &a) < 0)
		goto out;
	/* "restage": true stages the package again (when the app is or becomes STARTED). */
	bool restage = json_is_true(json_object_get(body, "restage"));
	if (restage) {
		if (!a.package_sha256) {
			api_error(req, 422, "field `restage`: app `%s` has no bits yet: upload them first",
				  a.name);
			goto out;
		}
		a.package_state = STORE_PACKAGE_PENDING;
	}
	/* Starting, restarting ("restart": true) or restaging makes a new version of the instances. */
	if (a.state == STORE_APP_STARTED &&
	    (old.state != STORE_APP_STARTED || restage || json_is_true(json_object_get(body, "restart")))) {
		char v[37];
		dew_uuid4(v);
		free(a.version);
		a.version = xstrdup(v);
	}
	int r = store_app_update(cc->store, &a, &err);
	if (r == -EEXIST) {
		api_error(req, 409, "you have an app named `%s` already", a.name);
		goto out;
	}
	if (r < 0) {
		api_store_error(req, r, err, "app");
		goto out;
	}
	bool routes_changed = false;
	if (routes && apps_set_routes(req, routes, &a, &routes_changed) < 0)
		goto out; /* the rest of the update is stored: a retry of the same PUT completes it */
	apps_notify(cc, &a);
	staging_maybe_start(cc, &a);
	lifecycle_converge(cc, &a, &old);
	if (routes_changed)
		lifecycle_routes_changed(cc, &a);
	apps_respond(req, 200, &a, owner);
out:
	store_app_clear(&a);
	store_app_clear(&old);
	cc_user_clear(&u);
}

void api_apps_delete(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	struct store_app a = { 0 };
	cleanup_free char *owner = NULL;
	if (api_app_load(req, &u, &a, &owner) < 0)
		return;
	cleanup_error struct dew_error *err = NULL;
	int r = store_app_delete(cc->store, a.id, &err);
	if (r < 0) {
		api_store_error(req, r, err, "app");
	} else {
		/* Its instances go wherever they run (their routes with them); its routes went with it. */
		lifecycle_deleted(cc, a.guid);
		apps_notify(cc, &a);
		staging_forget(cc, a.guid);
		dew_info("app %s (%s) deleted by %s", a.name, a.guid, u.name);
		dew_http_respond(req, 204, NULL, NULL, 0);
	}
	store_app_clear(&a);
	cc_user_clear(&u);
}

void api_apps_staging_log(struct dew_http_req *req)
{
	struct cc_user u;
	struct store_app a = { 0 };
	cleanup_free char *owner = NULL;
	if (api_app_load(req, &u, &a, &owner) < 0)
		return;
	if (!staging_log_answer(api_cc(req), a.guid, req))
		api_error(req, 404, "app `%s` has not been staged since the controller started", a.name);
	store_app_clear(&a);
	cc_user_clear(&u);
}
