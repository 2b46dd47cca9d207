// SPDX-License-Identifier: MIT
/*
 * Loading a stack: stacks/<name>/stack.json parsed with every size bounded, its rootfs resolved
 * and checked for the mount points the runtime needs, and (on request) its runtimes probed.
 * dew_stack_apply() turns a loaded stack into the rootfs and base mounts of a container spec.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "fs.h"
#include "json.h"
#include "stack-internal.h"
#include "stack.h"

enum {
	STACK_MAX_FILE = 64 * 1024,
	STACK_MAX_MOUNTS = 64,
	STACK_MAX_RUNTIMES = 32,
	STACK_MAX_NAME = 64,
	STACK_MAX_DESCRIPTION = 1024,
	STACK_MAX_RUNTIME_NAME = 32,
};

/* What the runtime mounts itself: the stack root must provide these (docs/container-spec.md). */
static const char *const required_mount_points[] = { "/proc", "/dev", "/sys", "/tmp", "/home/vcap/app" };

/* [A-Za-z0-9_.-]{1,64}, not starting with '.': a stack's name is also a directory's name. */
static bool name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > STACK_MAX_NAME || name[0] == '.')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

/* A runtime name is run as a program by the probe, so it must be a plain file name. */
static bool runtime_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > STACK_MAX_RUNTIME_NAME || name[0] == '.' || name[0] == '-')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-") == len;
}

/* Absolute, at most PATH_MAX bytes, and without empty, "." or ".." components. */
static bool path_clean(const char *p)
{
	if (p[0] != '/' || strlen(p) >= PATH_MAX)
		return false;
	if (strcmp(p, "/") == 0)
		return true;
	for (const char *c = p + 1;; c++) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (*end == '\0')
			return true;
		c = end;
	}
}

/*
 * Open path (absolute, as seen in the container) below root, symlinks resolved inside root the
 * way the container will see them; O_PATH. Where openat2 is missing (or filtered), plain openat
 * is the fallback: the answers here are advice to the admin, the runtime resolves again safely.
 */
int dew_stack__open_in_root(int root, const char *path, bool follow)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = path[1] ? path + 1 : ".";
	int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof how);

	if (fd >= 0)
		return fd;
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
	fd = openat(root, rel, (int)how.flags);
	return fd >= 0 ? fd : -errno;
}

/* The stack root must have path as a directory or file of its own (a symlink would be followed). */
static int check_mount_point(int root, const char *rootfs, const char *path, const char *field,
			     struct dew_error **err)
{
	struct stat st;
	cleanup_close int fd = dew_stack__open_in_root(root, path, false);

	if (fd < 0)
		return dew_error_set(err, -fd, "%s: the stack root `%s` lacks the mount point `%s`", field,
				     rootfs, path);
	if (fstat(fd, &st) < 0)
		return dew_error_set(err, errno, "%s: stat `%s` in `%s`", field, path, rootfs);
	if (S_ISLNK(st.st_mode))
		return dew_error_set(err, 0,
				     "%s: the mount point `%s` in the stack root `%s` is a symbolic link",
				     field, path, rootfs);
	return 0;
}

static int parse_rootfs(const json_t *root, const char *dir, struct dew_stack *stack, struct dew_error **err)
{
	const char *s;
	int r = dew_json_get_string(root, "rootfs", DEW_JSON_REQUIRED, PATH_MAX - 1, &s, err);

	if (r < 0)
		return r;
	if (s[0] == '\0')
		return dew_error_set(err, 0, "field `rootfs` must not be empty");
	cleanup_free char *path = s[0] == '/' ? xstrdup(s) : xasprintf("%s/%s", dir, s);
	stack->rootfs = realpath(path, NULL);
	if (!stack->rootfs)
		return dew_error_set(err, errno, "field `rootfs`: `%s`", path);
	struct stat st;
	if (stat(stack->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return dew_error_set(err, 0, "field `rootfs`: `%s` is not a directory", path);
	return 0;
}

/* A string field of a mount, named in errors as it is in the file: `mounts[1].source`. */
static int get_mount_path(const json_t *m, size_t i, const char *key, char **out, struct dew_error **err)
{
	const json_t *v = json_object_get(m, key);

	if (!v)
		return dew_error_set(err, 0, "field `mounts[%zu].%s` is required", i, key);
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return dew_error_set(err, 0, "field `mounts[%zu].%s` must be a string", i, key);
	if (!path_clean(json_string_value(v)))
		return dew_error_set(
			err, 0, "field `mounts[%zu].%s` must be an absolute path (without `.`, `..` or `//`)",
			i, key);
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int parse_mounts(const json_t *root, struct dew_stack *stack, struct dew_error **err)
{
	json_t *arr = NULL, *m;
	size_t i;
	int r = dew_json_get_array(root, "mounts", DEW_JSON_OPTIONAL, STACK_MAX_MOUNTS, &arr, err);

	if (r != 0)
		return r < 0 ? r : 0;
	stack->mounts = xcalloc(json_array_size(arr) + 1, sizeof *stack->mounts);
	json_array_foreach (arr, i, m) {
		struct dewrt_mount *dst = &stack->mounts[stack->n_mounts++];
		if (!json_is_object(m))
			return dew_error_set(err, 0, "field `mounts[%zu]` must be an object", i);
		if ((r = get_mount_path(m, i, "source", &dst->source, err)) < 0 ||
		    (r = get_mount_path(m, i, "target", &dst->target, err)) < 0)
			return r;
		const json_t *ro = json_object_get(m, "readonly");
		if (ro && !json_is_boolean(ro))
			return dew_error_set(err, 0, "field `mounts[%zu].readonly` must be a boolean", i);
		dst->readonly = ro ? json_is_true(ro) : true;
		for (size_t j = 0; j < i; j++)
			if (strcmp(stack->mounts[j].target, dst->target) == 0)
				return dew_error_set(err, 0,
						     "field `mounts[%zu].target`: `%s` is mounted twice", i,
						     dst->target);
	}
	return 0;
}

static int parse_runtimes(const json_t *root, struct dew_stack *stack, struct dew_error **err)
{
	int r = dew_json_get_string_array(root, "runtimes", DEW_JSON_OPTIONAL, STACK_MAX_RUNTIMES,
					  STACK_MAX_RUNTIME_NAME, &stack->runtimes, err);

	if (r < 0)
		return r;
	if (r == 1) {
		stack->runtimes = xcalloc(1, sizeof *stack->runtimes);
		return 0;
	}
	for (size_t i = 0; stack->runtimes[i]; i++) {
		if (!runtime_name_valid(stack->runtimes[i]))
			return dew_error_set(err, 0,
					     "field `runtimes[%zu]` must be a program name "
					     "(letters, digits, `_.+-`, not starting with `.` or `-`)",
					     i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(stack->runtimes[j], stack->runtimes[i]) == 0)
				return dew_error_set(err, 0, "field `runtimes[%zu]`: `%s` is listed twice", i,
						     stack->runtimes[i]);
	}
	return 0;
}

/* Every mount point the runtime and the stack's own mounts need, present in the root. */
static int check_root(const struct dew_stack *stack, struct dew_error **err)
{
	cleanup_close int root = open(stack->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (root < 0)
		return dew_error_set(err, errno, "field `rootfs`: open `%s`", stack->rootfs);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(required_mount_points); i++)
		if ((r = check_mount_point(root, stack->rootfs, required_mount_points[i], "field `rootfs`",
					   err)) < 0)
			return r;
	for (size_t i = 0; i < stack->n_mounts; i++) {
		cleanup_free char *field = xasprintf("field `mounts[%zu].target`", i);
		if ((r = check_mount_point(root, stack->rootfs, stack->mounts[i].target, field, err)) < 0)
			return r;
	}
	return 0;
}

static int stack_parse(const json_t *root, const char *dir, const char *name, struct dew_stack *stack,
		       struct dew_error **err)
{
	const char *s;
	int r;

	if (!json_is_object(root))
		return dew_error_set(err, 0, "must be a JSON object");
	if ((r = dew_json_get_string(root, "name", DEW_JSON_REQUIRED, STACK_MAX_NAME, &s, err)) < 0)
		return r;
	if (strcmp(s, name) != 0)
		return dew_error_set(err, 0, "field `name` must be `%s`, the name of its directory", name);
	stack->name = xstrdup(s);
	s = "";
	if ((r = dew_json_get_string(root, "description", DEW_JSON_OPTIONAL, STACK_MAX_DESCRIPTION, &s,
				     err)) < 0)
		return r;
	stack->description = xstrdup(s);
	if ((r = parse_rootfs(root, dir, stack, err)) < 0 || (r = parse_mounts(root, stack, err)) < 0 ||
	    (r = parse_runtimes(root, stack, err)) < 0 || (r = check_root(stack, err)) < 0)
		return r;
	return 0;
}

/* Load and check stacks_dir/name/stack.json; probe its runtimes when asked. */
int dew_stack_load(const char *stacks_dir, const char *name, bool probe, struct dew_stack **out,
		   struct dew_error **err)
{
	cleanup_free char *data = NULL;
	size_t len;
	int r;

	*out = NULL;
	if (!name_valid(name))
		return dew_error_set(
			err, 0, "stack name `%s` is invalid (1-64 of [A-Za-z0-9_.-], not starting with `.`)",
			name);
	cleanup_free char *dir = xasprintf("%s/%s", stacks_dir, name);
	cleanup_free char *path = xasprintf("%s/stack.json", dir);
	if ((r = dew_read_file(path, STACK_MAX_FILE, &data, &len, err)) < 0)
		return dew_error_prefix(err, "stack `%s`", name);
	json_t *root = dew_json_parse(data, len, err);
	if (!root)
		return dew_error_prefix(err, "%s", path);
	struct dew_stack *stack = xzalloc(sizeof *stack);
	r = stack_parse(root, dir, name, stack, err);
	json_decref(root);
	if (r < 0) {
		dew_stack_free(stack);
		return dew_error_prefix(err, "%s", path);
	}
	if (probe)
		dew_stack__probe(stack);
	*out = stack;
	return 0;
}

/* Free a stack from dew_stack_load(); NULL is fine. */
void dew_stack_free(struct dew_stack *stack)
{
	if (!stack)
		return;
	free(stack->name);
	free(stack->description);
	free(stack->rootfs);
	dewrt_mounts_free(stack->mounts, stack->n_mounts);
	dew_strv_free(stack->runtimes);
	free(stack);
}

/*
 * Set spec's rootfs and put the stack's mounts before the spec's own: they complete the root,
 * so a spec mount below one of them (say /usr/local/x) must land on top of it, not under it.
 */
void dew_stack_apply(const struct dew_stack *stack, struct dewrt_spec *spec)
{
	size_t n = stack->n_mounts + spec->n_mounts;
	struct dewrt_mount *mounts = xcalloc(n + 1, sizeof *mounts);

	for (size_t i = 0; i < stack->n_mounts; i++) {
		mounts[i].source = xstrdup(stack->mounts[i].source);
		mounts[i].target = xstrdup(stack->mounts[i].target);
		mounts[i].readonly = stack->mounts[i].readonly;
	}
	if (spec->n_mounts)
		memcpy(mounts + stack->n_mounts, spec->mounts, spec->n_mounts * sizeof *mounts);
	free(spec->mounts);
	spec->mounts = mounts;
	spec->n_mounts = n;
	free(spec->rootfs);
	spec->rootfs = xstrdup(stack->rootfs);
}
