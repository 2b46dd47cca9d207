// SPDX-License-Identifier: MIT
/*
 * A staging request (docs/PROTOCOL.md, `staging`): every field bounded and checked, errors
 * naming the field; and the task that holds it until its reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "nats-proto.h"
#include "sha256.h"
#include "stage-internal.h"
#include "start.h"

void stage_task_free(struct stage_task *t)
{
	free(t->reply);
	free(t->app_id);
	free(t->package_uri);
	free(t->package_sha256);
	free(t->upload_uri);
	free(t->stack);
	free(t->buildpack);
	free(t->start_command);
	free(t->log_subject);
	free(t->services_json);
	dew_strv_free(t->env);
	free(t->error);
	dew_stage_result_close(&t->res);
	free(t);
}

/* ---- the request ---------------------------------------------------------------------------- */

/* 1 to STAGE_NAME_MAX bytes of [A-Za-z0-9_-] plus any of extra. */
static bool stage_name_ok(const char *s, const char *extra)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-' || strchr(extra, s[n])))
			return false;
	return n >= 1 && n <= STAGE_NAME_MAX;
}

/* A name field: app_id (dots allowed: extra "."), stack or buildpack; *out gets a copy. */
static int stage_get_name(const json_t *o, const char *key, unsigned flags, const char *extra, char **out,
			  struct dew_error **err)
{
	const char *v = NULL;
	int r = dew_json_get_string(o, key, flags, STAGE_NAME_MAX, &v, err);

	if (r != 0)
		return r;
	if (!stage_name_ok(v, extra))
		return dew_error_set(err, 0, "field `%s` must be 1 to %d characters of A-Z a-z 0-9 _ -%s",
				     key, STAGE_NAME_MAX, *extra ? " ." : "");
	*out = xstrdup(v);
	return 0;
}

/* An http or https URI; curl refuses every other protocol too, this says so in the reply. */
static int stage_get_uri(const json_t *o, const char *key, char **out, struct dew_error **err)
{
	const char *v = NULL;
	int r = dew_json_get_string(o, key, DEW_JSON_REQUIRED, STAGE_URI_MAX, &v, err);

	if (r < 0)
		return r;
	if (strncasecmp(v, "http://", 7) != 0 && strncasecmp(v, "https://", 8) != 0)
		return dew_error_set(err, 0, "field `%s` must be an http or https URI", key);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return dew_error_set(err, 0,
					     "field `%s` must not contain spaces or control characters", key);
	*out = xstrdup(v);
	return 0;
}

static bool stage_env_name_ok(const char *name)
{
	if (!((*name >= 'A' && *name <= 'Z') || (*name >= 'a' && *name <= 'z') || *name == '_'))
		return false;
	return strlen(name) <= START_ENV_NAME_MAX &&
	       !name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")];
}

/* env{}: string values; VCAP_* names belong to the platform and are refused, not dropped. */
static int stage_get_env(const json_t *o, struct stage_task *t, struct dew_error **err)
{
	json_t *env = NULL, *v;
	const char *name;
	size_t i = 0;
	int r = dew_json_get_object(o, "env", DEW_JSON_OPTIONAL, &env, err);

	if (r != 0)
		return r < 0 ? r : 0;
	if (json_object_size(env) > START_ENV_MAX)
		return dew_error_set(err, 0, "field `env` has more than %d variables", START_ENV_MAX);
	json_object_foreach (env, name, v) {
		/* An invalid name is not quoted back: it may hold anything. */
		if (!stage_env_name_ok(name))
			return dew_error_set(
				err, 0,
				"field `env`: a name is not [A-Za-z_][A-Za-z0-9_]* (%d bytes at most)",
				START_ENV_NAME_MAX);
		if (strncmp(name, "VCAP_", 5) == 0)
			return dew_error_set(err, 0,
					     "field `env`: `%s` is reserved (VCAP_ names are the platform's)",
					     name);
		if (!json_is_string(v))
			return dew_error_set(err, 0, "field `env.%s` must be a string", name);
		if (json_string_length(v) > START_ENV_VALUE_MAX)
			return dew_error_set(err, 0, "field `env.%s` is longer than %d bytes", name,
					     START_ENV_VALUE_MAX);
	}
	t->env = xcalloc(json_object_size(env) + 1, sizeof *t->env);
	json_object_foreach (env, name, v)
		t->env[i++] = xasprintf("%s=%s", name, json_string_value(v));
	return 0;
}

/* services[]: checked, then turned into VCAP_SERVICES (grouped by label) as the DEA starts apps. */
static int stage_get_services(const json_t *o, struct stage_task *t, struct dew_error **err)
{
	json_t *arr = NULL, *svc;
	const char *v;
	size_t i;
	int r = dew_json_get_array(o, "services", DEW_JSON_OPTIONAL, START_SERVICES_MAX, &arr, err);

	if (r < 0)
		return r;
	if (r == 1) {
		t->services_json = xstrdup("{}");
		return 0;
	}
	json_array_foreach (arr, i, svc) {
		if (!json_is_object(svc))
			return dew_error_set(err, 0, "field `services[%zu]` must be an object", i);
		if (dew_json_get_string(svc, "name", DEW_JSON_REQUIRED, START_NAME_MAX, &v, err) < 0 ||
		    dew_json_get_string(svc, "label", DEW_JSON_REQUIRED, START_NAME_MAX, &v, err) < 0)
			return dew_error_prefix(err, "field `services[%zu]`", i);
	}
	struct start_msg m = { .services = arr };
	json_t *vcap = start_vcap_services(&m);
	t->services_json = dew_json_dumps(vcap);
	json_decref(vcap);
	return 0;
}

static bool stager_has_stack(const struct stager *s, const char *name)
{
	for (char **p = s->stacks; *p; p++)
		if (strcmp(*p, name) == 0)
			return true;
	return false;
}

/* The fields every request has: what to stage, from where, to where, on which stack. */
static int stage_parse_required(const struct stager *s, const json_t *o, struct stage_task *t,
				struct dew_error **err)
{
	const char *v = NULL;
	int r;

	if ((r = stage_get_name(o, "app_id", DEW_JSON_REQUIRED, ".", &t->app_id, err)) < 0 ||
	    (r = stage_get_uri(o, "package_uri", &t->package_uri, err)) < 0 ||
	    (r = dew_json_get_string(o, "package_sha256", DEW_JSON_REQUIRED, 64, &v, err)) < 0)
		return r;
	if (!dew_sha256_is_hex(v))
		return dew_error_set(err, 0, "field `package_sha256` must be a SHA-256 in lowercase hex");
	t->package_sha256 = xstrdup(v);
	if ((r = stage_get_uri(o, "droplet_upload_uri", &t->upload_uri, err)) < 0 ||
	    (r = stage_get_name(o, "stack", DEW_JSON_REQUIRED, "", &t->stack, err)) < 0)
		return r;
	if (!stager_has_stack(s, t->stack))
		return dew_error_set(err, 0, "field `stack`: this DEA does not stage for stack `%s`",
				     t->stack);
	return 0;
}

/* The optional fields, with their defaults. */
static int stage_parse_optional(const json_t *o, struct stage_task *t, struct dew_error **err)
{
	const char *v = NULL;
	json_int_t memory = STAGE_MEMORY_DEFAULT, disk = STAGE_DISK_DEFAULT;
	int r;

	if ((r = stage_get_name(o, "buildpack", DEW_JSON_OPTIONAL, "", &t->buildpack, err)) < 0 ||
	    (r = dew_json_get_string(o, "start_command", DEW_JSON_OPTIONAL, STAGE_COMMAND_MAX, &v, err)) < 0)
		return r;
	if (v && *v) /* an empty start_command counts as absent, as in start messages */
		t->start_command = xstrdup(v);
	v = NULL;
	if ((r = dew_json_get_string(o, "log_subject", DEW_JSON_OPTIONAL, STAGE_SUBJECT_MAX, &v, err)) < 0)
		return r;
	if (v && !dew_nats_subject_literal(v, strlen(v)))
		return dew_error_set(err, 0, "field `log_subject` must be a subject without wildcards");
	if (v)
		t->log_subject = xstrdup(v);
	if ((r = dew_json_get_int(o, "memory", DEW_JSON_OPTIONAL, 1, STAGE_MEMORY_MAX, &memory, err)) < 0 ||
	    (r = dew_json_get_int(o, "disk", DEW_JSON_OPTIONAL, 1, STAGE_DISK_MAX, &disk, err)) < 0 ||
	    (r = stage_get_env(o, t, err)) < 0 || (r = stage_get_services(o, t, err)) < 0)
		return r;
	t->memory_mb = (uint64_t)memory;
	t->disk_mb = (uint64_t)disk;
	return 0;
}

/* Parse and check len bytes of a request into t; errors name the field. */
int stage_parse(const struct stager *s, const char *data, size_t len, struct stage_task *t,
		struct dew_error **err)
{
	json_auto_t *o = dew_json_parse(data, len, err);
	int r;

	if (!o)
		return -EINVAL;
	if (!json_is_object(o))
		return dew_error_set(err, 0, "a staging request must be a JSON object");
	r = stage_parse_required(s, o, t, err);
	return r < 0 ? r : stage_parse_optional(o, t, err);
}
