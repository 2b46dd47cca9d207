// SPDX-License-Identifier: MIT
/*
 * What libcgroup 2.0.2 does not do for us: tell the mode (statfs of /sys/fs/cgroup), find this
 * process's own groups (/proc/self/cgroup; its cgroup_get_current_controller_path is broken on
 * v2), translate v2 file names to v1 ones, and parse and write cgroupfs files. Most of it is pure
 * so the unit test can drive it with made-up input.
 */
#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup-util.h"
#include "error.h"
#include "fs.h"
#include "parse.h"

/* cgroup.procs of a big group stays far below this; it bounds what a read allocates. */
#define CGROUP_FILE_MAX (4u << 20)

static const char *const ctl_names[DEWRT_CG_NCTL] = {
	[DEWRT_CG_MEMORY] = "memory",	[DEWRT_CG_PIDS] = "pids",	[DEWRT_CG_CPU] = "cpu",
	[DEWRT_CG_CPUACCT] = "cpuacct", [DEWRT_CG_FREEZER] = "freezer",
};

/* Return the name of controller c. */
const char *dewrt__cgroup_ctl_name(enum dewrt_cg_ctl c)
{
	return c < DEWRT_CG_NCTL ? ctl_names[c] : "?";
}

/* Return the directory of controller c in cg, or NULL. */
const char *dewrt__cgroup_dir(const struct dewrt_cgroup *cg, enum dewrt_cg_ctl c)
{
	return c < DEWRT_CG_NCTL ? cg->ctl[c].dir : NULL;
}

/* Map the statfs filesystem type of /sys/fs/cgroup to a mode. */
int dewrt__cgroup_mode_from_fstype(uint64_t f_type, enum dewrt_cgroup_mode *out)
{
	switch (f_type) {
	case CGROUP2_SUPER_MAGIC:
		*out = DEWRT_CGROUP_V2;
		return 0;
	case TMPFS_MAGIC:	 /* legacy, or hybrid with cgroup2 at unified/: both v1 for us */
	case CGROUP_SUPER_MAGIC: /* one v1 hierarchy mounted right there */
		*out = DEWRT_CGROUP_V1;
		return 0;
	default:
		return -ENOTSUP;
	}
}

/* Tell which hierarchy this machine mounts. */
int dewrt__cgroup_mode(enum dewrt_cgroup_mode *out, struct dew_error **err)
{
	struct statfs sf;

	if (statfs(DEWRT_CGROUP_ROOT, &sf) < 0)
		return dew_error_set(err, errno, "statfs `%s`", DEWRT_CGROUP_ROOT);
	if (dewrt__cgroup_mode_from_fstype((uint64_t)sf.f_type, out) < 0)
		return dew_error_set(err, ENOTSUP, "`%s` is not a cgroup mount (filesystem type 0x%llx)",
				     DEWRT_CGROUP_ROOT, (unsigned long long)sf.f_type);
	return 0;
}

/* Whether the comma-separated list (len bytes) holds token exactly. */
static bool list_has(const char *list, size_t len, const char *token)
{
	size_t tlen = strlen(token);
	const char *end = list + len;

	while (list < end) {
		const char *comma = memchr(list, ',', (size_t)(end - list));
		size_t n = comma ? (size_t)(comma - list) : (size_t)(end - list);

		if (n == tlen && memcmp(list, token, n) == 0)
			return true;
		list += n + 1;
	}
	return false;
}

/* Drop a trailing "/dew-supervisor" component: the containers are its siblings. */
static char *strip_supervisor(char *path)
{
	size_t len = strlen(path), slen = strlen("/" DEWRT_CGROUP_SUPERVISOR);

	if (len >= slen && strcmp(path + len - slen, "/" DEWRT_CGROUP_SUPERVISOR) == 0) {
		path[len - slen] = '\0';
		if (path[0] == '\0')
			strcpy(path, "/");
	}
	return path;
}

/* Find the group of controller (v1) or the unified group (v2) in a /proc/<pid>/cgroup text. */
int dewrt__cgroup_parse_own(const char *text, enum dewrt_cgroup_mode mode, const char *controller,
			    char **path)
{
	const char *line = text;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *c1 = memchr(line, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;

		if (len > 0) {
			if (!c2 || c2 + 1 >= line + len || c2[1] != '/')
				return -EINVAL;
			size_t clen = (size_t)(c2 - c1 - 1);
			bool unified = c1 - line == 1 && line[0] == '0' && clen == 0;
			bool match = mode == DEWRT_CGROUP_V2 ? unified
							     : !unified && list_has(c1 + 1, clen, controller);
			if (match) {
				char *p = xstrndup(c2 + 1, len - (size_t)(c2 + 1 - line));

				*path = mode == DEWRT_CGROUP_V2 ? strip_supervisor(p) : p;
				return 0;
			}
		}
		line += len + (nl ? 1 : 0);
	}
	return -ENOENT;
}

/* Find this process's own group for controller (v1) or its unified group (v2). */
int dewrt__cgroup_own_path(enum dewrt_cgroup_mode mode, const char *controller, char **path,
			   struct dew_error **err)
{
	cleanup_free char *text = NULL;
	int ret = dew_read_file("/proc/self/cgroup", 1 << 16, &text, NULL, err);

	if (ret < 0)
		return ret;
	ret = dewrt__cgroup_parse_own(text, mode, controller, path);
	if (ret == -ENOENT)
		return dew_error_set(err, ENOENT, "find the %s cgroup of this process in /proc/self/cgroup",
				     mode == DEWRT_CGROUP_V2 ? "unified" : controller);
	if (ret < 0)
		return dew_error_set(err, -ret, "parse /proc/self/cgroup");
	return 0;
}

/*
 * v2 name -> v1 controller and file. The values of memory.swap.max (v2: swap alone) and
 * memory.memsw.limit_in_bytes (v1: memory + swap) mean different things: "no swap" is 0 on v2 and
 * the memory limit itself on v1. memory.events and memory.oom_control share the oom_kill key.
 */
static const struct {
	const char *v2;
	enum dewrt_cg_ctl ctl;
	const char *v1;
} file_table[] = {
	{ "memory.max", DEWRT_CG_MEMORY, "memory.limit_in_bytes" },
	{ "memory.swap.max", DEWRT_CG_MEMORY, "memory.memsw.limit_in_bytes" },
	{ "memory.current", DEWRT_CG_MEMORY, "memory.usage_in_bytes" },
	{ "memory.peak", DEWRT_CG_MEMORY, "memory.max_usage_in_bytes" },
	{ "memory.events", DEWRT_CG_MEMORY, "memory.oom_control" },
	{ "pids.max", DEWRT_CG_PIDS, "pids.max" },
	{ "pids.current", DEWRT_CG_PIDS, "pids.current" },
	{ "cpu.weight", DEWRT_CG_CPU, "cpu.shares" },
	{ "cgroup.procs", DEWRT_CG_MEMORY, "cgroup.procs" },
	{ "cgroup.freeze", DEWRT_CG_FREEZER, "freezer.state" },
};

/* Translate a v2 file name to the file (and controller) of mode. */
int dewrt__cgroup_file(enum dewrt_cgroup_mode mode, const char *v2_name, enum dewrt_cg_ctl *ctl,
		       const char **file)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(file_table); i++) {
		if (strcmp(file_table[i].v2, v2_name) == 0) {
			*ctl = file_table[i].ctl;
			*file = mode == DEWRT_CGROUP_V2 ? file_table[i].v2 : file_table[i].v1;
			return 0;
		}
	}
	return -ENOENT;
}

/* Convert a v2 weight to v1 shares (crun: 2 + (weight - 1) * 262142 / 9999). */
uint64_t dewrt__cgroup_weight_to_shares(uint64_t weight)
{
	if (weight < DEWRT_CGROUP_WEIGHT_MIN)
		weight = DEWRT_CGROUP_WEIGHT_MIN;
	if (weight > DEWRT_CGROUP_WEIGHT_MAX)
		weight = DEWRT_CGROUP_WEIGHT_MAX;
	return 2 + ((weight - 1) * 262142) / 9999;
}

/* Convert v1 shares back to a weight (rounded to nearest, so a round trip is exact). */
uint64_t dewrt__cgroup_shares_to_weight(uint64_t shares)
{
	if (shares < DEWRT_CGROUP_SHARES_MIN)
		shares = DEWRT_CGROUP_SHARES_MIN;
	if (shares > DEWRT_CGROUP_SHARES_MAX)
		shares = DEWRT_CGROUP_SHARES_MAX;
	return 1 + ((shares - 2) * 9999 + 262142 / 2) / 262142;
}

/* The CPU weight for lim (explicit, else derived from the memory limit). */
int dewrt__cgroup_weight(const struct dewrt_limits *lim, uint64_t *weight)
{
	uint64_t w;

	if (lim && lim->cpu_weight) {
		if (lim->cpu_weight > DEWRT_CGROUP_WEIGHT_MAX)
			return -ERANGE;
		*weight = lim->cpu_weight;
		return 0;
	}
	if (!lim || lim->memory_mb == 0) {
		*weight = DEWRT_CGROUP_WEIGHT_DEFAULT;
		return 0;
	}
	w = lim->memory_mb / 16;
	*weight = w < DEWRT_CGROUP_WEIGHT_MIN	? DEWRT_CGROUP_WEIGHT_MIN
		  : w > DEWRT_CGROUP_WEIGHT_MAX ? DEWRT_CGROUP_WEIGHT_MAX
						: w;
	return 0;
}

/* Parse a number or "max" from the first n bytes of s. */
static int parse_number(const char *s, size_t n, uint64_t *out)
{
	char buf[32];

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof buf)
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strcmp(buf, "max") == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	return dew_parse_uint64(buf, out) < 0 ? -EINVAL : 0;
}

/* Find key in a flat-keyed text and parse its value. */
int dewrt__cgroup_parse_keyed(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);

	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len > klen && memcmp(line, key, klen) == 0 && line[klen] == ' ')
			return parse_number(line + klen + 1, len - klen - 1, out);
		line += len + (nl ? 1 : 0);
	}
	return -ENOENT;
}

/* Parse a single-value file. */
int dewrt__cgroup_parse_value(const char *text, uint64_t *out)
{
	size_t n = strlen(text);

	if (n > 0 && text[n - 1] == '\n')
		n--;
	if (memchr(text, '\n', n))
		return -EINVAL;
	return parse_number(text, n, out);
}

/* Parse a cgroup.procs text. */
int dewrt__cgroup_parse_pids(const char *text, pid_t **pids, size_t *n)
{
	cleanup_free pid_t *v = NULL;
	size_t count = 0, cap = 0;

	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		uint64_t pid;

		if (parse_number(line, len, &pid) < 0 || pid == 0 || pid > INT32_MAX)
			return -EINVAL;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[count++] = (pid_t)pid;
		line += len + (nl ? 1 : 0);
	}
	*pids = steal_pointer(&v);
	*n = count;
	return 0;
}

/* Read a cgroupfs file whole. */
int dewrt__cgroup_read(const char *dir, const char *file, char **text, struct dew_error **err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);

	return dew_read_file(path, CGROUP_FILE_MAX, text, NULL, err);
}

/* Read a single-value cgroupfs file. */
int dewrt__cgroup_read_value(const char *dir, const char *file, uint64_t *out, struct dew_error **err)
{
	cleanup_free char *text = NULL;
	int ret = dewrt__cgroup_read(dir, file, &text, err);

	if (ret < 0)
		return ret;
	if (dewrt__cgroup_parse_value(text, out) < 0)
		return dew_error_set(err, EINVAL, "parse `%s/%s`: unexpected content", dir, file);
	return 0;
}

/* Read one key of a flat-keyed cgroupfs file. */
int dewrt__cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out,
			     struct dew_error **err)
{
	cleanup_free char *text = NULL;
	int ret = dewrt__cgroup_read(dir, file, &text, err);

	if (ret < 0)
		return ret;
	ret = dewrt__cgroup_parse_keyed(text, key, out);
	if (ret == -ENOENT)
		return dew_error_set(err, ENOENT, "`%s/%s` has no `%s` line", dir, file, key);
	if (ret < 0)
		return dew_error_set(err, EINVAL, "parse `%s` in `%s/%s`: not a number", key, dir, file);
	return 0;
}

/* Write value to a cgroupfs file. */
int dewrt__cgroup_write(const char *dir, const char *file, const char *value, struct dew_error **err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = strlen(value);
	ssize_t n;

	if (fd < 0)
		return dew_error_set(err, errno, "open `%s`", path);
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return dew_error_set(err, errno, "write `%s` to `%s`", value, path);
	if ((size_t)n != len)
		return dew_error_set(err, EIO, "write `%s` to `%s`: short write", value, path);
	return 0;
}

/* Tell whether dir/file exists. */
bool dewrt__cgroup_has(const char *dir, const char *file)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);

	return access(path, F_OK) == 0;
}

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_ret;

static void lib_init_once(void)
{
	lib_ret = cgroup_init();
}

/* Initialise libcgroup once per process (it reads the mount table). */
int dewrt__cgroup_lib_init(struct dew_error **err)
{
	pthread_once(&lib_once, lib_init_once);
	if (lib_ret != 0)
		return dewrt__cgroup_lib_error(err, lib_ret, "initialise libcgroup");
	return 0;
}

/* libcgroup's own codes, for the few that have a natural errno. */
static int lib_errno(int cgret)
{
	switch (cgret) {
	case ECGOTHER:
		return cgroup_get_last_errno() > 0 ? cgroup_get_last_errno() : EIO;
	case ECGROUPNOTEXIST:
	case ECGROUPVALUENOTEXIST:
		return ENOENT;
	case ECGROUPNOTMOUNTED:
	case ECGROUPSUBSYSNOTMOUNTED:
		return ENODEV;
	case ECGROUPNOTOWNER:
	case ECGROUPNOTALLOWED:
		return EPERM;
	case ECGINVAL:
		return EINVAL;
	case ECGNONEMPTY:
		return EBUSY;
	default:
		return EIO;
	}
}

/* Turn a libcgroup return code into a negative errno and an error with context. */
int dewrt__cgroup_lib_error(struct dew_error **err, int cgret, const char *fmt, ...)
{
	cleanup_free char *ctx = NULL;
	va_list ap;
	int e = lib_errno(cgret);

	va_start(ap, fmt);
	ctx = xvasprintf(fmt, ap);
	va_end(ap);
	if (cgret == ECGOTHER)
		return dew_error_set(err, e, "%s", ctx);
	/* cgroup_strerror() of ECGOTHER uses a static buffer; the other codes map to constants. */
	return dew_error_set(err, e, "%s (libcgroup: %s)", ctx, cgroup_strerror(cgret));
}
