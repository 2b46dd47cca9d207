// SPDX-License-Identifier: MIT
/*
 * Container state on disk: /run/dew/containers/<id>/ holds spec.json (what was asked) and
 * state.json (what happened), each written atomically, so `dew-run`, the DEA and a restarted
 * DEA all read the same truth. Only the monitor writes state.json after creation.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc.h"
#include "fs.h"
#include "internal.h"
#include "json.h"

enum { STATE_MAX_BYTES = 2 * 1024 * 1024 };

static const char *const status_names[] = {
	[DEWRT_CREATING] = "creating",
	[DEWRT_CREATED] = "created",
	[DEWRT_RUNNING] = "running",
	[DEWRT_STOPPED] = "stopped",
};

const char *dewrt_status_name(enum dewrt_status st)
{
	return (size_t)st < DEW_ARRAY_SIZE(status_names) ? status_names[st] : "unknown";
}

int64_t dewrt__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *dewrt__state_dir(const struct dewrt_context *ctx, const char *id)
{
	return xasprintf("%s/%s", ctx->state_root, id);
}

int dewrt__state_write(const struct dewrt_state *st, struct dew_error **err)
{
	json_t *o =
		json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:b, s:I}", "id", st->id, "status",
			  dewrt_status_name(st->status), "init_pid", (json_int_t)st->init_pid, "monitor_pid",
			  (json_int_t)st->monitor_pid, "created_ms", (json_int_t)st->created_ms, "started_ms",
			  (json_int_t)st->started_ms, "finished_ms", (json_int_t)st->finished_ms, "exit_code",
			  st->exit_code, "exit_signal", st->exit_signal, "oom_killed", st->oom_killed,
			  "oom_kills", (json_int_t)st->oom_kills);
	json_object_set_new(o, "cgroup", st->cgroup ? json_string(st->cgroup) : json_null());
	json_object_set_new(o, "error", st->error ? json_string(st->error) : json_null());
	cleanup_free char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	cleanup_free char *path = xasprintf("%s/state.json", st->dir);
	/* /run is volatile: an atomic rename is all readers need, fsync would only cost time. */
	return dew_write_file_replace(path, text, strlen(text), 0644, err);
}

static int status_parse(const char *s, enum dewrt_status *out)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(status_names); i++) {
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum dewrt_status)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int state_from_json(json_t *o, struct dewrt_state *st, struct dew_error **err)
{
	const char *s;
	json_int_t v;
	int r;

	if ((r = dew_json_get_string(o, "status", DEW_JSON_REQUIRED, 32, &s, err)) < 0)
		return r;
	if (status_parse(s, &st->status) < 0)
		return dew_error_set(err, 0, "field `status` has an unknown value `%s`", s);
	static const struct {
		const char *key;
		size_t off;
	} ints[] = {
		{ "init_pid", offsetof(struct dewrt_state, init_pid) },
		{ "monitor_pid", offsetof(struct dewrt_state, monitor_pid) },
		{ "exit_code", offsetof(struct dewrt_state, exit_code) },
		{ "exit_signal", offsetof(struct dewrt_state, exit_signal) },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(ints); i++) {
		if ((r = dew_json_get_int(o, ints[i].key, DEW_JSON_REQUIRED, -1, INT32_MAX, &v, err)) < 0)
			return r;
		*(int *)((char *)st + ints[i].off) = (int)v;
	}
	static const char *const times[] = { "created_ms", "started_ms", "finished_ms", "oom_kills" };
	int64_t *dst[] = { &st->created_ms, &st->started_ms, &st->finished_ms, (int64_t *)&st->oom_kills };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(times); i++) {
		if ((r = dew_json_get_int(o, times[i], DEW_JSON_REQUIRED, 0, INT64_MAX, &v, err)) < 0)
			return r;
		*dst[i] = v;
	}
	if ((r = dew_json_get_bool(o, "oom_killed", DEW_JSON_REQUIRED, &st->oom_killed, err)) < 0)
		return r;
	if (dew_json_get_string(o, "cgroup", DEW_JSON_OPTIONAL, 4096, &s, err) == 0)
		st->cgroup = xstrdup(s);
	if (dew_json_get_string(o, "error", DEW_JSON_OPTIONAL, 65536, &s, err) == 0)
		st->error = xstrdup(s);
	return 0;
}

int dewrt_state_read(struct dewrt_context *ctx, const char *id, struct dewrt_state **out,
		     struct dew_error **err)
{
	cleanup_free char *dir = dewrt__state_dir(ctx, id);
	cleanup_free char *path = xasprintf("%s/state.json", dir);
	cleanup_free char *spec_path = xasprintf("%s/spec.json", dir);
	cleanup_free char *text = NULL;
	size_t len;
	struct stat sb;

	/* Ids come from command lines and bus messages: never let one walk out of the state root. */
	if (!dewrt__id_valid(id))
		return dew_error_set(err, 0, "container id `%s` is not valid (1-64 of [A-Za-z0-9_.-])", id);
	if (stat(dir, &sb) < 0)
		return dew_error_set(err, errno == ENOENT ? ENOENT : errno, "container `%s`", id);
	int r = dew_read_file(path, STATE_MAX_BYTES, &text, &len, err);
	if (r < 0)
		return dew_error_prefix(err, "container `%s`", id);
	json_t *o = dew_json_parse(text, len, err);
	if (!o)
		return dew_error_prefix(err, "container `%s`: %s", id, path);
	struct dewrt_state *st = xzalloc(sizeof *st);
	st->id = xstrdup(id);
	st->dir = steal_pointer(&dir);
	r = state_from_json(o, st, err);
	json_decref(o);
	if (r == 0)
		r = dewrt_spec_load(spec_path, &st->spec, err);
	if (r < 0) {
		dewrt_state_free(st);
		return dew_error_prefix(err, "container `%s`: state", id);
	}
	*out = st;
	return 0;
}

void dewrt_state_free(struct dewrt_state *st)
{
	if (!st)
		return;
	free(st->id);
	free(st->error);
	free(st->cgroup);
	free(st->dir);
	dewrt_spec_free(st->spec);
	free(st);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dewrt_list(struct dewrt_context *ctx, char ***ids, struct dew_error **err)
{
	DIR *d = opendir(ctx->state_root);
	size_t n = 0;
	char **v = xcalloc(1, sizeof *v);

	if (!d) {
		if (errno == ENOENT) {
			*ids = v;
			return 0;
		}
		free(v);
		return dew_error_set(err, errno, "list `%s`", ctx->state_root);
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		v = xreallocarray(v, n + 2, sizeof *v);
		v[n++] = xstrdup(e->d_name);
		v[n] = NULL;
	}
	closedir(d);
	qsort(v, n, sizeof *v, cmp_str);
	*ids = v;
	return 0;
}
