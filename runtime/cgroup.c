// SPDX-License-Identifier: MIT
/*
 * Container cgroups through libcgroup: create (with the limits), re-open, attach and remove, on
 * cgroup v1 (legacy and hybrid) and v2. Groups go below the caller's own group, never at the root.
 * Where libcgroup 2.0.2 is silent or too eager we check for ourselves: it creates missing parents
 * and ignores an existing group, and its delete either migrates tasks to the parent or reports
 * success for a busy or missing group.
 */
#include <errno.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup-util.h"
#include "error.h"
#include "log.h"

/* How long remove waits for the last tasks of a group to go away. */
#define REMOVE_WAIT_MS 2000

struct setting {
	enum dewrt_cg_ctl ctl;
	const char *file;
	char value[32];
};

static void cgroup_freep(struct dewrt_cgroup **cg)
{
	dewrt__cgroup_free(*cg);
}
#define cleanup_cgroup __attribute__((cleanup(cgroup_freep)))

/* A group name: one path component, not the supervisor leaf. */
static bool valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n > 0 && n <= 255 && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
	       strcmp(name, DEWRT_CGROUP_SUPERVISOR) != 0;
}

/* An absolute path of clean components ("/", "/a/b"), no "." or "..", no "//". */
static bool valid_path(const char *path)
{
	if (!path || path[0] != '/' || strlen(path) >= 4096)
		return false;
	for (const char *p = path + 1; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/' && *++p == '\0')
			return false;
	}
	return true;
}

static char *join(const char *base, const char *name)
{
	return xasprintf("%s/%s", strcmp(base, "/") == 0 ? "" : base, name);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Free the group handle (the kernel groups stay). */
void dewrt__cgroup_free(struct dewrt_cgroup *cg)
{
	if (!cg)
		return;
	for (int c = 0; c < DEWRT_CG_NCTL; c++) {
		free(cg->ctl[c].rel);
		free(cg->ctl[c].dir);
	}
	free(cg->path);
	free(cg);
}

/* Return the group's path below the hierarchy root (memory's on v1). */
const char *dewrt__cgroup_path(const struct dewrt_cgroup *cg)
{
	return cg->path;
}

/*
 * The mount point of a v1 controller (allocated), or NULL when it is not mounted on a v1
 * hierarchy: on a hybrid machine a controller bound to the cgroup2 side is of no use to v1 code.
 */
static char *v1_mount(enum dewrt_cg_ctl c)
{
	char *mp = NULL;
	struct statfs sf;

	if (cgroup_get_subsys_mount_point(dewrt__cgroup_ctl_name(c), &mp) != 0 || !mp ||
	    statfs(mp, &sf) < 0 || sf.f_type == CGROUP2_SUPER_MAGIC) {
		free(mp);
		return NULL;
	}
	return mp;
}

static void set_ctl(struct dewrt_cgroup *cg, enum dewrt_cg_ctl c, const char *mp, const char *rel,
		    bool managed)
{
	cg->ctl[c].rel = xstrdup(rel);
	cg->ctl[c].dir = xasprintf("%s%s", mp, rel);
	cg->ctl[c].managed = managed;
}

/* Whether an earlier managed controller already names the same directory (co-mounted, or v2). */
static bool dup_dir(const struct dewrt_cgroup *cg, int c)
{
	for (int j = 0; j < c; j++)
		if (cg->ctl[j].managed && strcmp(cg->ctl[j].dir, cg->ctl[c].dir) == 0)
			return true;
	return false;
}

/* Check that base exists in the hierarchy at mp and that name does not, and record the place. */
static int place(struct dewrt_cgroup *cg, enum dewrt_cg_ctl c, const char *mp, const char *base,
		 const char *name, bool managed, struct dew_error **err)
{
	cleanup_free char *pdir = xasprintf("%s%s", mp, strcmp(base, "/") == 0 ? "" : base);
	cleanup_free char *rel = join(base, name);
	const char *cn = dewrt__cgroup_ctl_name(c);

	if (!is_dir(pdir))
		return dew_error_set(err, ENOENT, "create cgroup `%s` under `%s` (%s)", name, base, cn);
	set_ctl(cg, c, mp, rel, managed);
	if (access(cg->ctl[c].dir, F_OK) == 0)
		return dew_error_set(err, EEXIST, "create cgroup `%s` under `%s` (%s)", name, base, cn);
	return 0;
}

/* v1: each controller below its own parent (the caller's group in that hierarchy by default). */
static int plan_v1(struct dewrt_cgroup *cg, const char *parent, const char *name,
		   const struct dewrt_limits *lim, struct dew_error **err)
{
	for (int c = 0; c < DEWRT_CG_NCTL; c++) {
		const char *cn = dewrt__cgroup_ctl_name(c);
		cleanup_free char *mp = v1_mount(c);
		cleanup_free char *own = NULL;
		int ret;

		if (!mp) {
			/* memory carries the limit and the OOM events; cpu, cpuacct and freezer are
			 * optional (weight, usage, a fork-safe kill) and pids too without a limit. */
			if (c == DEWRT_CG_MEMORY || (c == DEWRT_CG_PIDS && lim->pids))
				return dew_error_set(err, ENODEV,
						     "create cgroup `%s`: the %s controller is not mounted",
						     name, cn);
			dew_debug("cgroup `%s`: the %s controller is not mounted, not using it", name, cn);
			continue;
		}
		if (!parent && (ret = dewrt__cgroup_own_path(DEWRT_CGROUP_V1, cn, &own, err)) < 0)
			return dew_error_prefix(err, "create cgroup `%s`", name);
		ret = place(cg, c, mp, parent ? parent : own, name, true, err);
		if (ret < 0)
			return ret;
	}
	cg->path = xstrdup(cg->ctl[DEWRT_CG_MEMORY].rel);
	return 0;
}

/* v2: one directory for every controller, below the caller's unified group by default. */
static int plan_v2(struct dewrt_cgroup *cg, const char *parent, const char *name, struct dew_error **err)
{
	cleanup_free char *own = NULL, *pdir = NULL, *avail = NULL;
	const char *base = parent;
	int ret;

	if (!parent) {
		if ((ret = dewrt__cgroup_own_path(DEWRT_CGROUP_V2, NULL, &own, err)) < 0)
			return dew_error_prefix(err, "create cgroup `%s`", name);
		base = own;
	}
	pdir = xasprintf("%s%s", DEWRT_CGROUP_ROOT, strcmp(base, "/") == 0 ? "" : base);
	if ((ret = place(cg, DEWRT_CG_MEMORY, DEWRT_CGROUP_ROOT, base, name, true, err)) < 0)
		return ret;
	if ((ret = dewrt__cgroup_read(pdir, "cgroup.controllers", &avail, err)) < 0)
		return dew_error_prefix(err, "create cgroup `%s` under `%s`", name, base);
	for (int c = DEWRT_CG_MEMORY; c <= DEWRT_CG_PIDS; c++)
		if (!dewrt__cgroup_has_word(avail, dewrt__cgroup_ctl_name(c)))
			return dew_error_set(
				err, ENODEV,
				"create cgroup `%s` under `%s`: the cgroup v2 %s controller is not available",
				name, base, dewrt__cgroup_ctl_name(c));
	bool cpu = dewrt__cgroup_has_word(avail, "cpu");
	if ((ret = dewrt__cgroup_v2_delegate(pdir, !parent, cpu, err)) < 0)
		return dew_error_prefix(err, "create cgroup `%s` under `%s`", name, base);
	for (int c = DEWRT_CG_PIDS; c < DEWRT_CG_NCTL; c++)
		set_ctl(cg, c, DEWRT_CGROUP_ROOT, cg->ctl[DEWRT_CG_MEMORY].rel,
			c == DEWRT_CG_PIDS || (c == DEWRT_CG_CPU && cpu));
	cg->path = xstrdup(cg->ctl[DEWRT_CG_MEMORY].rel);
	return 0;
}

/* Add a setting by its v2 name; on v1 the name (and for cpu.weight the value) is translated. */
static void add_setting(struct setting *s, size_t *n, enum dewrt_cgroup_mode mode, const char *v2,
			uint64_t value)
{
	enum dewrt_cg_ctl ctl;
	const char *file;

	if (dewrt__cgroup_file(mode, v2, &ctl, &file) < 0)
		abort(); /* a name missing from the table is a bug */
	if (mode == DEWRT_CGROUP_V1 && strcmp(v2, "cpu.weight") == 0)
		value = dewrt__cgroup_weight_to_shares(value);
	s[*n].ctl = ctl;
	s[*n].file = file;
	snprintf(s[*n].value, sizeof s[*n].value, "%llu", (unsigned long long)value);
	(*n)++;
}

/* Write the settings of controller c through libcgroup: create the group, or modify it. */
static int lib_apply(struct dewrt_cgroup *cg, enum dewrt_cg_ctl c, const struct setting *s, size_t n,
		     bool create, struct dew_error **err)
{
	const char *cn = dewrt__cgroup_ctl_name(c);
	struct cgroup *lcg = cgroup_new_cgroup(cg->ctl[c].rel);
	struct cgroup_controller *ctrl = lcg ? cgroup_add_controller(lcg, cn) : NULL;
	int ret = ctrl ? 0 : ECGFAIL;

	for (size_t i = 0; i < n && ret == 0; i++)
		if (s[i].ctl == c)
			ret = cgroup_add_value_string(ctrl, s[i].file, s[i].value);
	if (ret == 0)
		ret = create ? cgroup_create_cgroup(lcg, 1) : cgroup_modify_cgroup(lcg);
	cgroup_free(&lcg);
	if (ret == 0)
		return 0;
	if (!create)
		return dewrt__cgroup_lib_error(err, ret, "configure cgroup `%s` (%s)", cg->ctl[c].rel, cn);
	/* "create cgroup `dew-x` under `/a/b` (memory): ..." */
	const char *slash = strrchr(cg->ctl[c].rel, '/');
	cleanup_free char *base = slash == cg->ctl[c].rel
					  ? xstrdup("/")
					  : xstrndup(cg->ctl[c].rel, (size_t)(slash - cg->ctl[c].rel));
	cleanup_free char *pdir = xstrndup(cg->ctl[c].dir, strlen(cg->ctl[c].dir) - strlen(slash));
	/* libcgroup 2.0.2 folds a failed mkdir into "operation not allowed" and drops errno: ask the
	 * parent directory whether it is a matter of permission. */
	if ((ret == ECGROUPNOTALLOWED || ret == ECGROUPNOTOWNER) && access(pdir, W_OK) < 0)
		return dew_error_set(err, errno, "create cgroup `%s` under `%s` (%s)", slash + 1, base, cn);
	return dewrt__cgroup_lib_error(err, ret, "create cgroup `%s` under `%s` (%s)", slash + 1, base, cn);
}

/* Swap off, once the memory group exists and shows which files the kernel offers. */
static int swap_off(struct dewrt_cgroup *cg, const struct dewrt_limits *lim, struct dew_error **err)
{
	const char *dir = cg->ctl[DEWRT_CG_MEMORY].dir;
	struct setting s[1];
	size_t n = 0;

	if (cg->mode == DEWRT_CGROUP_V2) {
		if (dewrt__cgroup_has(dir, "memory.swap.max")) /* absent without swap accounting */
			add_setting(s, &n, cg->mode, "memory.swap.max", 0);
	} else if (lim->memory_mb && dewrt__cgroup_has(dir, "memory.memsw.limit_in_bytes")) {
		/* memory + swap = memory: no room for swap. */
		add_setting(s, &n, cg->mode, "memory.swap.max", lim->memory_mb << 20);
	} else if (dewrt__cgroup_has(dir, "memory.swappiness")) {
		/* No swap accounting (or no limit to pin it to): ask reclaim not to swap this group.
		 * Weaker than memsw: global reclaim may still swap under heavy pressure. */
		s[0] = (struct setting){ DEWRT_CG_MEMORY, "memory.swappiness", "0" };
		n = 1;
	}
	return n ? lib_apply(cg, DEWRT_CG_MEMORY, s, n, false, err) : 0;
}

/* Create every managed controller's group with its limits. */
static int make_groups(struct dewrt_cgroup *cg, const struct dewrt_limits *lim, uint64_t weight,
		       struct dew_error **err)
{
	struct setting s[8];
	size_t n = 0;
	int ret;

	if (lim->memory_mb)
		add_setting(s, &n, cg->mode, "memory.max", lim->memory_mb << 20);
	if (cg->mode == DEWRT_CGROUP_V1)
		s[n++] = (struct setting){ DEWRT_CG_MEMORY, "memory.oom_control", "0" }; /* OOM killer on */
	if (lim->pids)
		add_setting(s, &n, cg->mode, "pids.max", lim->pids);
	if (cg->ctl[DEWRT_CG_CPU].managed)
		add_setting(s, &n, cg->mode, "cpu.weight", weight);
	for (int c = 0; c < DEWRT_CG_NCTL; c++) {
		if (!cg->ctl[c].managed)
			continue;
		if ((ret = lib_apply(cg, c, s, n, true, err)) < 0)
			return ret;
	}
	return swap_off(cg, lim, err);
}

/* Remove one controller's directory, waiting up to the deadline for tasks that are exiting. */
static int remove_one(struct dewrt_cgroup *cg, int c, uint64_t deadline, struct dew_error **err)
{
	const char *cn = dewrt__cgroup_ctl_name(c), *dir = cg->ctl[c].dir;

	while (is_dir(dir)) {
		struct cgroup *lcg = cgroup_new_cgroup(cg->ctl[c].rel);
		int ret = lcg && cgroup_add_controller(lcg, cn) ? 0 : ECGFAIL;

		/* EMPTY_ONLY: never migrate tasks to the parent (that would let a container's
		 * processes escape into the runtime's own group). It reports success even when the
		 * group is busy, hence the is_dir() check around it. */
		if (ret == 0)
			ret = cgroup_delete_cgroup_ext(lcg, CGFLAG_DELETE_EMPTY_ONLY);
		cgroup_free(&lcg);
		bool busy = ret == 0 || ret == ECGNONEMPTY ||
			    (ret == ECGOTHER && cgroup_get_last_errno() == EBUSY);
		if (!busy)
			return dewrt__cgroup_lib_error(err, ret, "remove cgroup `%s` (%s)", cg->ctl[c].rel,
						       cn);
		if (!is_dir(dir))
			break;
		if (now_ms() >= deadline)
			return dew_error_set(err, EBUSY,
					     "remove cgroup `%s` (%s): processes or child groups remain",
					     cg->ctl[c].rel, cn);
		usleep(10 * 1000);
	}
	return 0;
}

/* Remove every controller's directory that exists; none existing is -ENOENT. */
static int remove_groups(struct dewrt_cgroup *cg, bool missing_ok, struct dew_error **err)
{
	uint64_t deadline = now_ms() + REMOVE_WAIT_MS;
	size_t present = 0;
	int ret = 0;

	for (int c = 0; c < DEWRT_CG_NCTL; c++)
		present += cg->ctl[c].managed && is_dir(cg->ctl[c].dir);
	if (!present && !missing_ok)
		return dew_error_set(err, ENOENT, "remove cgroup `%s`", cg->path);
	for (int c = DEWRT_CG_NCTL - 1; c >= 0; c--) {
		if (!cg->ctl[c].managed || dup_dir(cg, c))
			continue;
		int r = remove_one(cg, c, deadline, err);
		if (r < 0 && ret == 0)
			ret = r; /* keep going: remove what can be removed */
	}
	return ret;
}

/* Create group `name` below parent (or the caller's own groups) with the limits applied. */
int dewrt__cgroup_create(const char *parent, const char *name, const struct dewrt_limits *lim,
			 struct dewrt_cgroup **out, struct dew_error **err)
{
	static const struct dewrt_limits no_limits;
	cleanup_cgroup struct dewrt_cgroup *cg = NULL;
	enum dewrt_cgroup_mode mode;
	uint64_t weight;
	int ret;

	if (!lim)
		lim = &no_limits;
	if (!valid_name(name))
		return dew_error_set(err, EINVAL, "create cgroup `%s`: invalid name", name ? name : "(null)");
	if (parent && !valid_path(parent))
		return dew_error_set(err, EINVAL, "create cgroup `%s` under `%s`: invalid parent path", name,
				     parent);
	if (lim->memory_mb > (UINT64_MAX >> 21))
		return dew_error_set(err, ERANGE, "create cgroup `%s`: memory limit %llu MB", name,
				     (unsigned long long)lim->memory_mb);
	if (dewrt__cgroup_weight(lim, &weight) < 0)
		return dew_error_set(err, ERANGE, "create cgroup `%s`: cpu weight %llu is not in 1..10000",
				     name, (unsigned long long)lim->cpu_weight);
	if ((ret = dewrt__cgroup_lib_init(err)) < 0 || (ret = dewrt__cgroup_mode(&mode, err)) < 0)
		return dew_error_prefix(err, "create cgroup `%s`", name);
	cg = xzalloc(sizeof *cg);
	cg->mode = mode;
	ret = mode == DEWRT_CGROUP_V2 ? plan_v2(cg, parent, name, err) : plan_v1(cg, parent, name, lim, err);
	if (ret < 0)
		return ret;
	if ((ret = make_groups(cg, lim, weight, err)) < 0) {
		struct dew_error *e = NULL;
		if (remove_groups(cg, true, &e) < 0)
			dew_warn("%s (after a failed create)", dew_error_msg(e));
		dew_error_free(e);
		return ret;
	}
	*out = steal_pointer(&cg);
	return 0;
}

/* v1: a controller other than memory is at the same path, or below the caller's own group. */
static void open_v1_ctl(struct dewrt_cgroup *cg, enum dewrt_cg_ctl c, const char *mp, const char *path)
{
	cleanup_free char *own = NULL, *alt = NULL, *dir = xasprintf("%s%s", mp, path);
	struct dew_error *e = NULL;

	if (is_dir(dir)) {
		set_ctl(cg, c, mp, path, true);
		return;
	}
	if (dewrt__cgroup_own_path(DEWRT_CGROUP_V1, dewrt__cgroup_ctl_name(c), &own, &e) == 0) {
		alt = join(own, strrchr(path, '/') + 1);
		free(dir);
		dir = xasprintf("%s%s", mp, alt);
		if (is_dir(dir))
			set_ctl(cg, c, mp, alt, true);
	}
	dew_error_free(e);
}

/* Re-open a group created earlier from its path. */
int dewrt__cgroup_open(const char *path, struct dewrt_cgroup **out, struct dew_error **err)
{
	cleanup_cgroup struct dewrt_cgroup *cg = NULL;
	enum dewrt_cgroup_mode mode;
	int ret;

	if (!valid_path(path) || strcmp(path, "/") == 0)
		return dew_error_set(err, EINVAL, "open cgroup `%s`: not a group path below the root",
				     path ? path : "(null)");
	if ((ret = dewrt__cgroup_lib_init(err)) < 0 || (ret = dewrt__cgroup_mode(&mode, err)) < 0)
		return dew_error_prefix(err, "open cgroup `%s`", path);
	cg = xzalloc(sizeof *cg);
	cg->mode = mode;
	cg->path = xstrdup(path);
	if (mode == DEWRT_CGROUP_V2) {
		for (int c = 0; c < DEWRT_CG_NCTL; c++)
			set_ctl(cg, c, DEWRT_CGROUP_ROOT, path, c <= DEWRT_CG_PIDS);
		cg->ctl[DEWRT_CG_CPU].managed = dewrt__cgroup_has(cg->ctl[DEWRT_CG_CPU].dir, "cpu.weight");
	} else {
		for (int c = 0; c < DEWRT_CG_NCTL; c++) {
			cleanup_free char *mp = v1_mount(c);

			if (mp && c == DEWRT_CG_MEMORY)
				set_ctl(cg, c, mp, path, true);
			else if (mp)
				open_v1_ctl(cg, c, mp, path);
		}
	}
	if (!cg->ctl[DEWRT_CG_MEMORY].dir || !is_dir(cg->ctl[DEWRT_CG_MEMORY].dir))
		return dew_error_set(err, ENOENT, "open cgroup `%s`", path);
	*out = steal_pointer(&cg);
	return 0;
}

/* Move pid into the group of every controller. */
int dewrt__cgroup_attach(struct dewrt_cgroup *cg, pid_t pid, struct dew_error **err)
{
	int ret;

	if ((ret = dewrt__cgroup_lib_init(err)) < 0)
		return ret;
	for (int c = 0; c < DEWRT_CG_NCTL; c++) {
		const char *cn = dewrt__cgroup_ctl_name(c);

		if (!cg->ctl[c].managed || dup_dir(cg, c))
			continue;
		struct cgroup *lcg = cgroup_new_cgroup(cg->ctl[c].rel);
		/* On v1 libcgroup writes the `tasks` file, which moves one thread: attach a process
		 * while it is single-threaded (the container's init right after clone). */
		ret = lcg && cgroup_add_controller(lcg, cn) ? cgroup_attach_task_pid(lcg, pid) : ECGFAIL;
		cgroup_free(&lcg);
		if (ret != 0)
			return dewrt__cgroup_lib_error(err, ret, "attach pid %d to cgroup `%s` (%s)",
						       (int)pid, cg->ctl[c].rel, cn);
	}
	return 0;
}

/* Remove the group from every controller, waiting briefly for exiting tasks. */
int dewrt__cgroup_remove(struct dewrt_cgroup *cg, struct dew_error **err)
{
	int ret;

	if ((ret = dewrt__cgroup_lib_init(err)) < 0)
		return ret;
	return remove_groups(cg, false, err);
}
