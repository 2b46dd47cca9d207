// SPDX-License-Identifier: MIT
/*
 * Unit tests of dea/start.h: a full start message parses with every field and the defaults, each
 * bad field is refused with a message naming it, broken or oversized JSON is refused cleanly, and
 * the instance environment carries what Cloud Foundry apps read (PORT, VCAP_APPLICATION,
 * VCAP_SERVICES) with the user's variables last and unable to override the platform's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "start.h"
#include "tap.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char full_msg[] =
	"{\"droplet\": \"6f1c1c7e-3c1b-4a4e-9a57-0d0c2f7b1e11\", \"name\": \"my app\", \"version\": \"v-42\","
	" \"instance_id\": \"inst-0001\", \"index\": 3,"
	" \"droplet_uri\": \"https://cc.example.com/v1/droplets/x?token=abc\","
	" \"droplet_sha256\": \"" SHA "\","
	" \"stack\": \"bookworm\", \"start_command\": \"python app.py\", \"memory\": 256, \"disk\": 2048,"
	" \"fds\": 4096, \"env\": {\"FOO\": \"bar\", \"PORT\": \"1\", \"VCAP_SERVICES\": \"{}\","
	" \"LANG\": \"en_US.UTF-8\", \"EMPTY\": \"\", \"HOME\": \"/root\", \"ZED\": \"a=b\"},"
	" \"services\": [{\"name\": \"cache\", \"label\": \"redis\", \"plan\": \"small\", \"tags\": [\"kv\"],"
	"   \"credentials\": {\"host\": \"10.0.0.5\", \"port\": 6379}},"
	"  {\"name\": \"db\", \"label\": \"postgresql\", \"credentials\": {\"uri\": \"postgres://u:p@h/d\"}},"
	"  {\"name\": \"cache2\", \"label\": \"redis\"}],"
	" \"uris\": [\"My-App.Example.COM\", \"api.example.com/v2\"], \"health_check\": \"none\"}";

static const char min_msg[] =
	"{\"droplet\": \"app1\", \"name\": \"a\", \"version\": \"1\", \"instance_id\": \"i1\", \"index\": 0,"
	" \"droplet_uri\": \"http://10.0.0.1:9022/d\", \"droplet_sha256\": \"" SHA "\", \"stack\": \"host\","
	" \"memory\": 64}";

static struct start_msg *parse(const char *text, int *rc, char **msg)
{
	struct dew_error *err = NULL;
	struct start_msg *m = NULL;

	*rc = start_msg_parse(text, strlen(text), &m, &err);
	*msg = err ? xstrdup(err->msg) : NULL;
	dew_error_free(err);
	return m;
}

static void test_full(void)
{
	char *msg;
	int rc;
	struct start_msg *m = parse(full_msg, &rc, &msg);

	if (!tap_is_int(rc, 0, "full message parses") || !m) {
		tap_diag("%s", msg ? msg : "(no message)");
		free(msg);
		return;
	}
	tap_is_str(m->droplet, "6f1c1c7e-3c1b-4a4e-9a57-0d0c2f7b1e11", "droplet");
	tap_is_str(m->name, "my app", "name");
	tap_is_str(m->version, "v-42", "version");
	tap_is_str(m->instance_id, "inst-0001", "instance_id");
	tap_is_int(m->index, 3, "index");
	tap_is_str(m->droplet_uri, "https://cc.example.com/v1/droplets/x?token=abc", "droplet_uri");
	tap_is_str(m->droplet_sha256, SHA, "droplet_sha256");
	tap_is_str(m->stack, "bookworm", "stack");
	tap_is_str(m->start_command, "python app.py", "start_command");
	tap_is_int(m->memory_mb, 256, "memory");
	tap_is_int(m->disk_mb, 2048, "disk");
	tap_is_int(m->fds, 4096, "fds");
	tap_is_str(m->env[0], "FOO=bar", "env keeps the message's order");
	tap_is_str(m->env[6], "ZED=a=b", "env value with '='");
	tap_ok(m->env[7] == NULL, "env has 7 entries");
	tap_is_int(json_array_size(m->services), 3, "services kept as sent");
	tap_is_str(m->uris[0], "my-app.example.com", "uris are lowercased");
	tap_is_str(m->uris[1], "api.example.com/v2", "a uri with a path");
	tap_ok(m->uris[2] == NULL, "two uris");
	tap_is_str(m->health_check, "none", "health_check");
	start_msg_free(m);

	m = parse(min_msg, &rc, &msg);
	if (!tap_is_int(rc, 0, "minimal message parses") || !m) {
		tap_diag("%s", msg ? msg : "(no message)");
		free(msg);
		return;
	}
	tap_ok(m->start_command == NULL, "start_command defaults to NULL");
	tap_is_int(m->disk_mb, 1024, "disk defaults to 1024");
	tap_is_int(m->fds, 16384, "fds defaults to 16384");
	tap_is_str(m->health_check, "port", "health_check defaults to port");
	tap_ok(m->env && !m->env[0], "env defaults to empty");
	tap_ok(m->uris && !m->uris[0], "uris default to empty");
	tap_ok(json_is_array(m->services) && json_array_size(m->services) == 0, "services default to empty");
	start_msg_free(m);
}

/* Each case sets (or with value NULL, removes) one field of the minimal message. */
static const struct bad_case {
	const char *key, *value, *want;
} bad_cases[] = {
	{ "droplet", NULL, "field `droplet` is required" },
	{ "droplet", "42", "field `droplet` must be a string" },
	{ "droplet", "\"../etc\"", "field `droplet`" },
	{ "droplet", "\"a/b\"", "field `droplet`" },
	{ "name", NULL, "field `name` is required" },
	{ "name", "\"\"", "field `name`" },
	{ "name", "\"a\\nb\"", "field `name`" },
	{ "version", "\"x\\u0000y\"", "JSON" },
	{ "instance_id", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
	  "field `instance_id` is longer than 64 bytes" },
	{ "index", "-1", "field `index` must be between 0 and 10000" },
	{ "index", "10001", "field `index`" },
	{ "index", "1.5", "field `index` must be an integer" },
	{ "droplet_uri", "\"file:///etc/shadow\"", "field `droplet_uri` must be an http:// or https:// URL" },
	{ "droplet_uri", "\"http://\"", "field `droplet_uri`" },
	{ "droplet_uri", "\"http://a b/\"", "field `droplet_uri`" },
	{ "droplet_sha256", "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"",
	  "field `droplet_sha256` must be 64 lowercase hex digits" },
	{ "droplet_sha256", "\"abc\"", "field `droplet_sha256` must be 64 lowercase hex digits" },
	{ "stack", NULL, "field `stack` is required" },
	{ "start_command", "[\"ls\"]", "field `start_command` must be a string" },
	{ "memory", NULL, "field `memory` is required" },
	{ "memory", "0", "field `memory` must be between 1 and 65536" },
	{ "memory", "65537", "field `memory`" },
	{ "memory", "\"64\"", "field `memory` must be an integer" },
	{ "disk", "0", "field `disk` must be between 1 and 1048576" },
	{ "fds", "15", "field `fds` must be between 16 and 1048576" },
	{ "env", "[]", "field `env` must be an object" },
	{ "env", "{\"1A\": \"x\"}", "field `env`: `1A` is not a valid variable name" },
	{ "env", "{\"A-B\": \"x\"}", "field `env`: `A-B`" },
	{ "env", "{\"A\": 1}", "field `env.A` must be a string" },
	{ "services", "{}", "field `services` must be an array" },
	{ "services", "[1]", "field `services[0]`: must be an object" },
	{ "services", "[{\"name\": \"x\"}]", "field `services[0]`: field `label` is required" },
	{ "services", "[{\"label\": \"x\"}]", "field `services[0]`: field `name` is required" },
	{ "services", "[{\"name\": \"x\", \"label\": \"l\", \"tags\": [1]}]",
	  "field `services[0]`: field `tags`" },
	{ "services", "[{\"name\": \"x\", \"label\": \"l\", \"credentials\": \"pw\"}]",
	  "field `services[0]`: field `credentials` must be an object" },
	{ "services", "[{\"name\": \"x\", \"label\": \"l\", \"plan\": 3}]",
	  "field `services[0]`: field `plan`" },
	{ "uris", "\"a.com\"", "field `uris` must be an array" },
	{ "uris", "[\"a.com\", \"bad host.com\"]", "field `uris[1]` must be a hostname" },
	{ "uris", "[\"-a.com\"]", "field `uris[0]`" },
	{ "uris", "[\"a..com\"]", "field `uris[0]`" },
	{ "uris", "[\"a.com/x?y\"]", "field `uris[0]`" },
	{ "uris", "[\"\"]", "field `uris[0]`" },
	{ "health_check", "\"http\"", "field `health_check` must be \"port\" or \"none\"" },
};

static void test_bad_fields(void)
{
	struct dew_error *err = NULL;
	json_t *base = dew_json_parse(min_msg, strlen(min_msg), &err);

	if (!tap_ok(base != NULL, "the minimal message is valid JSON"))
		return;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		json_t *j = json_deep_copy(base);
		char *text, *msg = NULL;
		int rc;

		if (c->value) {
			/* Splice the value in as text, so cases can hold what jansson refuses to build. */
			json_object_del(j, c->key);
			char *rest = dew_json_dumps(j);
			text = xasprintf("{\"%s\": %s, %s", c->key, c->value, rest + 1);
			free(rest);
		} else {
			json_object_del(j, c->key);
			text = dew_json_dumps(j);
		}
		struct start_msg *m = parse(text, &rc, &msg);
		tap_ok(rc == -EINVAL && m == NULL, "%s=%s is refused", c->key,
		       c->value ? c->value : "(absent)");
		tap_has_str(msg ? msg : "", c->want, "%s=%s: the message names the field", c->key,
			    c->value ? c->value : "(absent)");
		start_msg_free(m);
		free(msg);
		free(text);
		json_decref(j);
	}

	/* Bounds that need big values. */
	json_t *j = json_deep_copy(base), *env = json_object();
	for (int i = 0; i < START_ENV_MAX + 1; i++) {
		char name[16];
		snprintf(name, sizeof name, "V%d", i);
		json_object_set_new(env, name, json_string("x"));
	}
	json_object_set_new(j, "env", env);
	char *text = dew_json_dumps(j), *msg = NULL;
	int rc;
	struct start_msg *m = parse(text, &rc, &msg);
	tap_ok(rc == -EINVAL && !m, "257 env variables are refused");
	tap_has_str(msg ? msg : "", "field `env` has more than 256", "the message names env");
	free(msg);
	free(text);

	char *big = xmalloc(START_ENV_VALUE_MAX + 2);
	memset(big, 'x', START_ENV_VALUE_MAX + 1);
	big[START_ENV_VALUE_MAX + 1] = '\0';
	json_object_set_new(j, "env", json_pack("{s:s}", "BIG", big));
	text = dew_json_dumps(j);
	m = parse(text, &rc, &msg);
	tap_ok(rc == -EINVAL && !m, "an env value over 32 KiB is refused");
	tap_has_str(msg ? msg : "", "field `env.BIG` is longer than 32768 bytes",
		    "the message names env.BIG");
	free(msg);
	free(text);
	big[START_ENV_VALUE_MAX] = '\0';
	json_object_set_new(j, "env", json_pack("{s:s}", "BIG", big));
	text = dew_json_dumps(j);
	m = parse(text, &rc, &msg);
	tap_ok(rc == 0 && m, "an env value of exactly 32 KiB is accepted");
	start_msg_free(m);
	free(msg);
	free(text);

	memset(big, 'a', 256);
	big[256] = '\0';
	json_object_del(j, "env");
	json_object_set_new(j, "uris", json_pack("[s]", big));
	text = dew_json_dumps(j);
	m = parse(text, &rc, &msg);
	tap_ok(rc == -EINVAL && !m, "a uri over 255 bytes is refused");
	tap_has_str(msg ? msg : "", "uris[0]", "the message names the uri");
	free(msg);
	free(text);

	json_t *uris = json_array();
	for (int i = 0; i < START_ROUTES_MAX + 1; i++)
		json_array_append_new(uris, json_string("a.com"));
	json_object_set_new(j, "uris", uris);
	text = dew_json_dumps(j);
	m = parse(text, &rc, &msg);
	tap_ok(rc == -EINVAL && !m, "65 uris are refused");
	tap_has_str(msg ? msg : "", "field `uris` has more than 64 items", "the message names uris");
	free(msg);
	free(text);
	free(big);
	json_decref(j);
	json_decref(base);
}

static void test_bad_json(void)
{
	static const char *const bad[] = { "",
					   "garbage",
					   "{\"droplet\": \"a\"",
					   "[1, 2]",
					   "\"str\"",
					   "null",
					   "{\"droplet\": \"a\", \"droplet\": \"b\"}" };
	char *msg;
	int rc;

	for (size_t i = 0; i < DEW_ARRAY_SIZE(bad); i++) {
		struct start_msg *m = parse(bad[i], &rc, &msg);
		tap_ok(rc == -EINVAL && !m && msg, "`%s` is refused: %s", bad[i], msg ? msg : "(no message)");
		free(msg);
	}
	struct start_msg *m = parse("[]", &rc, &msg);
	tap_has_str(msg ? msg : "", "must be a JSON object", "a non-object is refused as such");
	free(msg);

	/* A truncated valid message, at every length. */
	size_t len = strlen(full_msg), refused = 0;
	for (size_t i = 0; i < len; i++) {
		struct dew_error *err = NULL;
		m = NULL;
		if (start_msg_parse(full_msg, i, &m, &err) == -EINVAL && !m && err)
			refused++;
		start_msg_free(m);
		dew_error_free(err);
	}
	tap_is_int(refused, len, "every truncation of the full message is refused");

	/* Over 1 MiB, refused before parsing: the text need not even be JSON. */
	char *huge = xmalloc(START_MSG_MAX + 2);
	memset(huge, ' ', START_MSG_MAX + 1);
	huge[START_MSG_MAX + 1] = '\0';
	m = parse(huge, &rc, &msg);
	tap_ok(rc == -EFBIG && !m, "a message over 1 MiB is refused with EFBIG");
	tap_has_str(msg ? msg : "", "larger than 1 MiB", "the message says why");
	free(msg);
	free(huge);
}

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);

	for (; *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static size_t env_index(char **env, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; env[i]; i++)
		if (!strncmp(env[i], name, n) && env[i][n] == '=')
			return i;
	return (size_t)-1;
}

static size_t env_count(char **env, const char *name)
{
	size_t n = strlen(name), count = 0;

	for (; *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			count++;
	return count;
}

static void test_vcap_application(const char *text, const struct start_msg *m)
{
	struct dew_error *err = NULL;
	json_t *app = dew_json_parse(text, strlen(text), &err);

	if (!tap_ok(json_is_object(app), "VCAP_APPLICATION is a JSON object")) {
		dew_error_free(err);
		return;
	}
	static const char *const strings[] = { "instance_id",	 "name",    "application_name",
					       "application_id", "version", "application_version",
					       "host",		 "start",   "started_at" };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(strings); i++)
		tap_ok(json_is_string(json_object_get(app, strings[i])), "VCAP_APPLICATION.%s is a string",
		       strings[i]);
	tap_is_str(json_string_value(json_object_get(app, "instance_id")), "inst-0001", "instance_id");
	tap_is_int(json_integer_value(json_object_get(app, "instance_index")), 3, "instance_index == index");
	tap_is_str(json_string_value(json_object_get(app, "name")), "my app", "name");
	tap_is_str(json_string_value(json_object_get(app, "application_name")), "my app", "application_name");
	tap_is_str(json_string_value(json_object_get(app, "application_id")), m->droplet, "application_id");
	tap_is_str(json_string_value(json_object_get(app, "version")), "v-42", "version");
	tap_is_str(json_string_value(json_object_get(app, "application_version")), "v-42",
		   "application_version");
	tap_is_str(json_string_value(json_object_get(app, "host")), "10.1.2.3", "host is the DEA's address");
	tap_ok(json_is_integer(json_object_get(app, "port")), "port is an integer");
	tap_is_int(json_integer_value(json_object_get(app, "port")), 61001, "port");
	tap_is_str(json_string_value(json_object_get(app, "start")), "2026-11-25 02:30:00 +0000",
		   "start is Ruby's Time#to_s in UTC");
	tap_is_str(json_string_value(json_object_get(app, "started_at")), "2026-11-25 02:30:00 +0000",
		   "started_at");
	tap_is_int(json_integer_value(json_object_get(app, "started_at_timestamp")), 1795573800,
		   "started_at_timestamp is Unix seconds");
	tap_is_int(json_integer_value(json_object_get(app, "state_timestamp")), 1795573800,
		   "state_timestamp is Unix seconds");
	json_t *limits = json_object_get(app, "limits");
	tap_ok(json_is_object(limits), "limits is an object");
	tap_is_int(json_integer_value(json_object_get(limits, "mem")), 256, "limits.mem == memory");
	tap_is_int(json_integer_value(json_object_get(limits, "disk")), 2048, "limits.disk == disk");
	tap_is_int(json_integer_value(json_object_get(limits, "fds")), 4096, "limits.fds == fds");
	static const char *const lists[] = { "uris", "application_uris" };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(lists); i++) {
		json_t *a = json_object_get(app, lists[i]);
		tap_ok(json_is_array(a) && json_array_size(a) == 2, "%s has the message's two uris",
		       lists[i]);
		tap_is_str(json_string_value(json_array_get(a, 0)), "my-app.example.com", "%s[0]", lists[i]);
		tap_is_str(json_string_value(json_array_get(a, 1)), "api.example.com/v2", "%s[1]", lists[i]);
	}
	json_decref(app);
}

static void test_vcap_services(const char *text)
{
	struct dew_error *err = NULL;
	json_t *s = dew_json_parse(text, strlen(text), &err);

	if (!tap_ok(json_is_object(s), "VCAP_SERVICES is a JSON object")) {
		dew_error_free(err);
		return;
	}
	tap_is_int(json_object_size(s), 2, "two labels");
	json_t *redis = json_object_get(s, "redis"), *pg = json_object_get(s, "postgresql");
	tap_ok(json_is_array(redis) && json_array_size(redis) == 2, "redis groups two services");
	tap_ok(json_is_array(pg) && json_array_size(pg) == 1, "postgresql groups one");
	json_t *cache = json_array_get(redis, 0), *cache2 = json_array_get(redis, 1),
	       *db = json_array_get(pg, 0);
	tap_is_str(json_string_value(json_object_get(cache, "name")), "cache", "redis[0].name");
	tap_is_str(json_string_value(json_object_get(cache2, "name")), "cache2", "redis[1].name keeps order");
	tap_is_str(json_string_value(json_object_get(cache, "label")), "redis", "redis[0].label");
	tap_is_str(json_string_value(json_object_get(cache, "plan")), "small", "redis[0].plan");
	tap_is_str(json_string_value(json_array_get(json_object_get(cache, "tags"), 0)), "kv",
		   "redis[0].tags");
	tap_is_int(json_integer_value(json_object_get(json_object_get(cache, "credentials"), "port")), 6379,
		   "redis[0].credentials.port");
	tap_is_str(json_string_value(json_object_get(json_object_get(db, "credentials"), "uri")),
		   "postgres://u:p@h/d", "postgresql[0].credentials.uri");
	tap_ok(json_is_array(json_object_get(db, "tags")) &&
		       json_array_size(json_object_get(db, "tags")) == 0,
	       "tags default to []");
	tap_ok(json_is_object(json_object_get(cache2, "credentials")), "credentials default to {}");
	json_decref(s);
}

static void test_env(void)
{
	char *msg;
	int rc;
	struct start_msg *m = parse(full_msg, &rc, &msg);
	struct start_ctx c = { .port = 61001, .host = "10.1.2.3", .started_at = 1795573800 };

	if (!tap_ok(m != NULL, "full message parses for start_env")) {
		free(msg);
		return;
	}
	char **env = start_env(m, &c);
	tap_is_str(env_get(env, "HOME"), "/home/vcap/app", "HOME");
	tap_is_str(env_get(env, "PORT"), "61001", "PORT");
	tap_is_str(env_get(env, "VCAP_APP_PORT"), env_get(env, "PORT"), "VCAP_APP_PORT == PORT");
	tap_is_str(env_get(env, "VCAP_APP_HOST"), "0.0.0.0", "VCAP_APP_HOST");
	tap_is_str(env_get(env, "MEMORY_LIMIT"), "256m", "MEMORY_LIMIT");
	tap_is_str(env_get(env, "TMPDIR"), "/tmp", "TMPDIR defaults to /tmp");
	tap_is_str(env_get(env, "LANG"), "en_US.UTF-8", "the user's LANG wins over the default");
	tap_is_int(env_count(env, "LANG"), 1, "LANG once");
	tap_is_str(env_get(env, "FOO"), "bar", "the user's FOO");
	tap_is_str(env_get(env, "EMPTY"), "", "an empty user value");
	tap_is_str(env_get(env, "ZED"), "a=b", "a user value with '='");
	tap_is_int(env_count(env, "PORT"), 1, "the user's PORT is dropped");
	tap_is_int(env_count(env, "VCAP_SERVICES"), 1, "the user's VCAP_SERVICES is dropped");
	tap_is_int(env_count(env, "HOME"), 1, "the user's HOME is dropped");
	tap_ok(env_get(env, "VCAP_SERVICES") && strcmp(env_get(env, "VCAP_SERVICES"), "{}") != 0,
	       "VCAP_SERVICES is the platform's");
	size_t n = 0;
	while (env[n])
		n++;
	tap_is_int(n, 13, "13 variables: 9 of the platform's, 4 of the user's");
	size_t first_user = env_index(env, "FOO");
	bool last = first_user != (size_t)-1;
	static const char *const platform[] = { "HOME",		 "PORT",	 "VCAP_APP_PORT",
						"VCAP_APP_HOST", "MEMORY_LIMIT", "VCAP_APPLICATION",
						"VCAP_SERVICES", "TMPDIR" };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(platform); i++)
		last = last && env_index(env, platform[i]) < first_user;
	tap_ok(last, "the user's variables come after the platform's");
	tap_is_str(env[n - 1], "ZED=a=b", "the user's variables keep their order, last");

	test_vcap_application(env_get(env, "VCAP_APPLICATION"), m);
	test_vcap_services(env_get(env, "VCAP_SERVICES"));
	dew_strv_free(env);
	start_msg_free(m);

	m = parse(min_msg, &rc, &msg);
	c.host = NULL;
	env = start_env(m, &c);
	tap_is_str(env_get(env, "VCAP_SERVICES"), "{}", "VCAP_SERVICES is {} without services");
	tap_is_str(env_get(env, "MEMORY_LIMIT"), "64m", "MEMORY_LIMIT of the minimal message");
	tap_is_str(env_get(env, "LANG"), "C.UTF-8", "LANG defaults to C.UTF-8");
	tap_is_str(env_get(env, "PATH"), START_PATH, "PATH defaults to START_PATH");
	json_t *app = start_vcap_application(m, &c);
	tap_ok(json_is_array(json_object_get(app, "uris")) &&
		       json_array_size(json_object_get(app, "uris")) == 0,
	       "uris is [] without uris");
	tap_is_str(json_string_value(json_object_get(app, "host")), "0.0.0.0", "host without a DEA address");
	json_decref(app);
	dew_strv_free(env);
	start_msg_free(m);
}

int main(void)
{
	test_full();
	test_bad_fields();
	test_bad_json();
	test_env();
	return tap_done();
}
