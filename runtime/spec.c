// SPDX-License-Identifier: MIT
/*
 * The container spec (docs/container-spec.md): JSON in, a validated struct dewrt_spec out.
 * Every field is bounded and checked here, so the code that builds the container can trust it.
 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "dewrt.h"
#include "fs.h"
#include "internal.h"
#include "json.h"

enum {
	SPEC_MAX_BYTES = 1024 * 1024,
	SPEC_MAX_PATH = 4096,
	SPEC_MAX_ARGS = 4096,
	SPEC_MAX_ARG = 128 * 1024,
	SPEC_MAX_MOUNTS = 64,
};

static const struct {
	const char *name;
	enum dewrt_net_mode mode;
} net_modes[] = {
	{ "none", DEWRT_NET_NONE },
	{ "host", DEWRT_NET_HOST },
	{ "bridge", DEWRT_NET_BRIDGE },
};

/* Ids name directories and cgroups: a conservative alphabet keeps them safe in both. */
bool dewrt__id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64 || id[0] == '.')
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

static int get_path(const json_t *obj, const char *key, unsigned flags, char **out, const char *field,
		    struct dew_error **err)
{
	const char *s = NULL;
	int r = dew_json_get_string(obj, key, flags, SPEC_MAX_PATH, &s, err);
	if (r != 0)
		return r;
	if (s[0] != '/')
		return dew_error_set(err, 0, "field `%s` must be an absolute path", field);
	*out = xstrdup(s);
	return 0;
}

static int parse_mounts(const json_t *root, struct dewrt_spec *spec, struct dew_error **err)
{
	json_t *arr = NULL;
	int r = dew_json_get_array(root, "mounts", DEW_JSON_OPTIONAL, SPEC_MAX_MOUNTS, &arr, err);
	if (r != 0)
		return r < 0 ? r : 0;
	spec->mounts = xcalloc(json_array_size(arr) + 1, sizeof *spec->mounts);
	size_t i;
	json_t *m;
	json_array_foreach (arr, i, m) {
		struct dewrt_mount *dst = &spec->mounts[spec->n_mounts++];
		cleanup_free char *src_field = xasprintf("mounts[%zu].source", i);
		cleanup_free char *dst_field = xasprintf("mounts[%zu].target", i);
		if (!json_is_object(m))
			return dew_error_set(err, 0, "field `mounts[%zu]` must be an object", i);
		if ((r = get_path(m, "source", DEW_JSON_REQUIRED, &dst->source, src_field, err)) < 0 ||
		    (r = get_path(m, "target", DEW_JSON_REQUIRED, &dst->target, dst_field, err)) < 0)
			return dew_error_prefix(err, "mounts[%zu]", i);
		dst->readonly = true;
		if ((r = dew_json_get_bool(m, "readonly", DEW_JSON_OPTIONAL, &dst->readonly, err)) < 0)
			return dew_error_prefix(err, "mounts[%zu]", i);
	}
	return 0;
}

static int get_u64(const json_t *obj, const char *key, json_int_t max, uint64_t *out, struct dew_error **err)
{
	json_int_t v;
	int r = dew_json_get_int(obj, key, DEW_JSON_OPTIONAL, 0, max, &v, err);
	if (r == 0)
		*out = (uint64_t)v;
	return r < 0 ? dew_error_prefix(err, "limits") : 0;
}

static int parse_limits(const json_t *root, struct dewrt_limits *lim, struct dew_error **err)
{
	json_t *obj = NULL;
	int r = dew_json_get_object(root, "limits", DEW_JSON_OPTIONAL, &obj, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if ((r = get_u64(obj, "memory_mb", 1 << 24, &lim->memory_mb, err)) < 0 ||
	    (r = get_u64(obj, "disk_mb", 1 << 24, &lim->disk_mb, err)) < 0 ||
	    (r = get_u64(obj, "pids", 1 << 22, &lim->pids, err)) < 0 ||
	    (r = get_u64(obj, "nofile", 1 << 20, &lim->nofile, err)) < 0 ||
	    (r = get_u64(obj, "cpu_weight", 10000, &lim->cpu_weight, err)) < 0)
		return r;
	return 0;
}

static int parse_user(const json_t *root, struct dewrt_spec *spec, struct dew_error **err)
{
	json_t *obj = NULL;
	json_int_t v;
	int r = dew_json_get_object(root, "user", DEW_JSON_OPTIONAL, &obj, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if ((r = dew_json_get_int(obj, "uid", DEW_JSON_OPTIONAL, 0, 65535, &v, err)) < 0)
		return dew_error_prefix(err, "user");
	if (r == 0)
		spec->uid = (uid_t)v;
	if ((r = dew_json_get_int(obj, "gid", DEW_JSON_OPTIONAL, 0, 65535, &v, err)) < 0)
		return dew_error_prefix(err, "user");
	if (r == 0)
		spec->gid = (gid_t)v;
	return 0;
}

static int parse_userns_base(const json_t *root, struct dewrt_spec *spec, struct dew_error **err)
{
	json_int_t v;
	/* At least 65536 so the range never includes host root or the usual system accounts. */
	int r = dew_json_get_int(root, "userns_base", DEW_JSON_OPTIONAL, DEWRT_USERNS_SIZE,
				 (json_int_t)UINT32_MAX - DEWRT_USERNS_SIZE, &v, err);
	if (r == 0)
		spec->userns_base = (uid_t)v;
	return r < 0 ? r : 0;
}

static int parse_net(const json_t *root, struct dewrt_spec *spec, struct dew_error **err)
{
	const char *s = NULL;
	int r = dew_json_get_string(root, "network", DEW_JSON_OPTIONAL, 16, &s, err);
	if (r != 0)
		return r < 0 ? r : 0;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(net_modes); i++) {
		if (strcmp(s, net_modes[i].name) == 0) {
			if (net_modes[i].mode == DEWRT_NET_BRIDGE)
				return dew_error_set(err, 0,
						     "field `network`: mode `bridge` is not available yet");
			spec->net = net_modes[i].mode;
			return 0;
		}
	}
	return dew_error_set(err, 0, "field `network` must be `none` or `host`, got `%s`", s);
}

static int parse_strings(const json_t *root, struct dewrt_spec *spec, struct dew_error **err)
{
	const char *s = NULL;
	int r;

	if ((r = dew_json_get_string(root, "id", DEW_JSON_REQUIRED, 64, &s, err)) < 0)
		return r;
	if (!dewrt__id_valid(s))
		return dew_error_set(err, 0, "field `id` must be 1-64 characters of [A-Za-z0-9_.-], got `%s`",
				     s);
	spec->id = xstrdup(s);
	if ((r = get_path(root, "rootfs", DEW_JSON_REQUIRED, &spec->rootfs, "rootfs", err)) < 0 ||
	    (r = get_path(root, "app_dir", DEW_JSON_OPTIONAL, &spec->app_dir, "app_dir", err)) < 0 ||
	    (r = get_path(root, "cwd", DEW_JSON_OPTIONAL, &spec->cwd, "cwd", err)) < 0 ||
	    (r = get_path(root, "log_dir", DEW_JSON_OPTIONAL, &spec->log_dir, "log_dir", err)) < 0)
		return r;
	if ((r = dew_json_get_string(root, "hostname", DEW_JSON_OPTIONAL, 63, &s, err)) < 0)
		return r;
	spec->hostname = xstrdup(r == 0 ? s : spec->id);
	if ((r = dew_json_get_string_array(root, "args", DEW_JSON_REQUIRED, SPEC_MAX_ARGS, SPEC_MAX_ARG,
					   &spec->args, err)) < 0)
		return r;
	if (!spec->args[0] || !spec->args[0][0])
		return dew_error_set(err, 0, "field `args` must name a program");
	r = dew_json_get_string_array(root, "env", DEW_JSON_OPTIONAL, SPEC_MAX_ARGS, SPEC_MAX_ARG, &spec->env,
				      err);
	if (r < 0)
		return r;
	for (size_t i = 0; spec->env && spec->env[i]; i++)
		if (!strchr(spec->env[i], '=') || spec->env[i][0] == '=')
			return dew_error_set(err, 0, "field `env[%zu]` must look like NAME=VALUE", i);
	if (!spec->env)
		spec->env = xcalloc(1, sizeof(char *));
	return 0;
}

int dewrt_spec_parse(const char *json, size_t len, struct dewrt_spec **out, struct dew_error **err)
{
	if (len > SPEC_MAX_BYTES)
		return dew_error_set(err, EFBIG, "container spec larger than %d bytes", SPEC_MAX_BYTES);
	json_t *root = dew_json_parse(json, len, err);
	if (!root)
		return dew_error_prefix(err, "container spec");
	if (!json_is_object(root)) {
		json_decref(root);
		return dew_error_set(err, 0, "container spec must be a JSON object");
	}
	struct dewrt_spec *spec = xzalloc(sizeof *spec);
	spec->uid = 1000;
	spec->gid = 1000;
	spec->userns = false;
	spec->userns_base = 100000;
	int r = parse_strings(root, spec, err);
	if (r == 0)
		r = parse_mounts(root, spec, err);
	if (r == 0)
		r = parse_limits(root, &spec->limits, err);
	if (r == 0)
		r = parse_user(root, spec, err);
	if (r == 0)
		r = parse_net(root, spec, err);
	if (r == 0)
		r = dew_json_get_bool(root, "userns", DEW_JSON_OPTIONAL, &spec->userns, err) < 0 ? -EINVAL
												 : 0;
	if (r == 0)
		r = parse_userns_base(root, spec, err);
	json_decref(root);
	if (r < 0) {
		dewrt_spec_free(spec);
		return dew_error_prefix(err, "container spec");
	}
	if (!spec->cwd)
		spec->cwd = xstrdup("/home/vcap/app");
	*out = spec;
	return 0;
}

int dewrt_spec_load(const char *path, struct dewrt_spec **out, struct dew_error **err)
{
	cleanup_free char *text = NULL;
	size_t len;
	int r = dew_read_file(path, SPEC_MAX_BYTES, &text, &len, err);
	if (r < 0)
		return r;
	r = dewrt_spec_parse(text, len, out, err);
	return r < 0 ? dew_error_prefix(err, "%s", path) : 0;
}

void dewrt_mounts_free(struct dewrt_mount *mounts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(mounts[i].source);
		free(mounts[i].target);
	}
	free(mounts);
}

void dewrt_spec_free(struct dewrt_spec *spec)
{
	if (!spec)
		return;
	free(spec->id);
	free(spec->rootfs);
	free(spec->app_dir);
	dewrt_mounts_free(spec->mounts, spec->n_mounts);
	dew_strv_free(spec->args);
	dew_strv_free(spec->env);
	free(spec->cwd);
	free(spec->hostname);
	free(spec->log_dir);
	free(spec);
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *dewrt__spec_json(const struct dewrt_spec *spec)
{
	json_t *mounts = json_array();
	for (size_t i = 0; i < spec->n_mounts; i++)
		json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "source", spec->mounts[i].source,
							"target", spec->mounts[i].target, "readonly",
							spec->mounts[i].readonly));
	const char *net = "none";
	for (size_t i = 0; i < DEW_ARRAY_SIZE(net_modes); i++)
		if (net_modes[i].mode == spec->net)
			net = net_modes[i].name;
	json_t *o =
		json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:{s:i, s:i}, s:s, s:s, s:b}", "id", spec->id,
			  "rootfs", spec->rootfs, "mounts", mounts, "args", strv_json(spec->args), "env",
			  strv_json(spec->env), "cwd", spec->cwd, "user", "uid", (int)spec->uid, "gid",
			  (int)spec->gid, "hostname", spec->hostname, "network", net, "userns", spec->userns);
	if (spec->userns)
		json_object_set_new(o, "userns_base", json_integer((json_int_t)spec->userns_base));
	json_object_set_new(o, "limits",
			    json_pack("{s:I, s:I, s:I, s:I, s:I}", "memory_mb",
				      (json_int_t)spec->limits.memory_mb, "disk_mb",
				      (json_int_t)spec->limits.disk_mb, "pids", (json_int_t)spec->limits.pids,
				      "nofile", (json_int_t)spec->limits.nofile, "cpu_weight",
				      (json_int_t)spec->limits.cpu_weight));
	if (spec->app_dir)
		json_object_set_new(o, "app_dir", json_string(spec->app_dir));
	if (spec->log_dir)
		json_object_set_new(o, "log_dir", json_string(spec->log_dir));
	return o;
}
