/* SPDX-License-Identifier: MIT */
/*
 * Private to the cgroup files of libdewrt (cgroup*.c) and their unit tests: the layout of struct
 * dewrt_cgroup, the helpers that cover what libcgroup 2.0.2 lacks (mode query, own-path lookup,
 * v1/v2 name translation) and the parsers of cgroupfs files.
 */
#ifndef DEWRT_CGROUP_UTIL_H
#define DEWRT_CGROUP_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

/* Where the hierarchies live; statfs of this path tells the mode. */
#define DEWRT_CGROUP_ROOT "/sys/fs/cgroup"
/*
 * cgroup v2 only: the leaf the runtime moves its own process into when the group it runs in must
 * get controllers for its children ("no internal processes" rule); see dewrt__cgroup_create.
 */
#define DEWRT_CGROUP_SUPERVISOR "dew-supervisor"
/* The largest value v1 reports for "no limit" is LONG_MAX rounded down to a page. */
#define DEWRT_CGROUP_V1_UNLIMITED 0x7ffffffffffff000ULL
/* cpu.weight bounds (v2) and cpu.shares bounds (v1). */
enum {
	DEWRT_CGROUP_WEIGHT_MIN = 1,
	DEWRT_CGROUP_WEIGHT_MAX = 10000,
	DEWRT_CGROUP_WEIGHT_DEFAULT = 100,
	DEWRT_CGROUP_SHARES_MIN = 2,
	DEWRT_CGROUP_SHARES_MAX = 262144,
};

/*
 * The controllers the runtime uses. On v1 each may live in its own hierarchy (or share one, as
 * "cpu,cpuacct" often do); on v2 they all name the one unified directory, and cpuacct and freezer
 * are not controllers there but core files (cpu.stat, cgroup.freeze).
 */
enum dewrt_cg_ctl {
	DEWRT_CG_MEMORY,
	DEWRT_CG_PIDS,
	DEWRT_CG_CPU,
	DEWRT_CG_CPUACCT,
	DEWRT_CG_FREEZER,
	DEWRT_CG_NCTL,
};

struct dewrt_cgroup_ctl {
	char *rel;    /* below the hierarchy root ("/process_api/x/dew-1"); NULL: not used */
	char *dir;    /* mount point + rel */
	bool managed; /* a libcgroup controller of the group: created, attached and removed */
};

struct dewrt_cgroup {
	enum dewrt_cgroup_mode mode;
	char *path; /* the memory controller's rel (v1) or the unified rel (v2) */
	struct dewrt_cgroup_ctl ctl[DEWRT_CG_NCTL];
};

/* "memory", "pids", "cpu", "cpuacct", "freezer". */
const char *dewrt__cgroup_ctl_name(enum dewrt_cg_ctl c);
/* The directory of controller c, or NULL when the group does not use it. */
const char *dewrt__cgroup_dir(const struct dewrt_cgroup *cg, enum dewrt_cg_ctl c);

/*
 * The mode from the filesystem type statfs reports for /sys/fs/cgroup: cgroup2 is v2 (unified);
 * tmpfs (legacy or hybrid: the hybrid's cgroup2 at unified/ is ignored) and a bare cgroup v1
 * mount are v1. Anything else is -ENOTSUP.
 */
int dewrt__cgroup_mode_from_fstype(uint64_t f_type, enum dewrt_cgroup_mode *out);

/*
 * From the text of /proc/<pid>/cgroup, the group under which this process's containers go: on v1
 * the path of the hierarchy line listing controller (a comma-separated token, "name=systemd"
 * included); on v2 the path of the "0::" line, without a trailing DEWRT_CGROUP_SUPERVISOR leaf.
 * *path is allocated (the caller frees it). -ENOENT when no line matches, -EINVAL on a malformed
 * line.
 */
int dewrt__cgroup_parse_own(const char *text, enum dewrt_cgroup_mode mode, const char *controller,
			    char **path);
/* dewrt__cgroup_parse_own on /proc/self/cgroup. */
int dewrt__cgroup_own_path(enum dewrt_cgroup_mode mode, const char *controller, char **path,
			   struct dew_error **err);

/*
 * Name translation: the file (and, on v1, the controller directory) that holds the setting or
 * counter known by its v2 name ("memory.max" -> memory, "memory.limit_in_bytes" on v1). -ENOENT
 * for a name the table lacks. Values of cpu.weight and cgroup.freeze need converting too
 * (dewrt__cgroup_weight_to_shares; "1"/"0" -> "FROZEN"/"THAWED").
 */
int dewrt__cgroup_file(enum dewrt_cgroup_mode mode, const char *v2_name, enum dewrt_cg_ctl *ctl,
		       const char **file);

/* cpu.weight (1..10000) to cpu.shares (2..262144), crun's linear map, and back. */
uint64_t dewrt__cgroup_weight_to_shares(uint64_t weight);
uint64_t dewrt__cgroup_shares_to_weight(uint64_t shares);
/*
 * The weight for lim: cpu_weight when set (-ERANGE above 10000), else memory_mb / 16 clamped to
 * 1..10000 (so CPU share follows memory share: 1 GiB gets 64, 1600 MiB the default 100), else 100
 * when there is no memory limit either.
 */
int dewrt__cgroup_weight(const struct dewrt_limits *lim, uint64_t *weight);

/*
 * The value of key in a flat-keyed file ("oom_kill 3\n" in memory.events, memory.oom_control,
 * cpu.stat). -ENOENT when key is absent, -EINVAL when its value is not a number.
 */
int dewrt__cgroup_parse_keyed(const char *text, const char *key, uint64_t *out);
/* A single-value file: a number or "max" (UINT64_MAX), with an optional trailing newline. */
int dewrt__cgroup_parse_value(const char *text, uint64_t *out);
/* The pids of a cgroup.procs text, one per line (allocated; the caller frees *pids). */
int dewrt__cgroup_parse_pids(const char *text, pid_t **pids, size_t *n);

/* Read dir/file whole (allocated, NUL-terminated; the caller frees it). */
int dewrt__cgroup_read(const char *dir, const char *file, char **text, struct dew_error **err);
int dewrt__cgroup_read_value(const char *dir, const char *file, uint64_t *out, struct dew_error **err);
int dewrt__cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out,
			     struct dew_error **err);
/* Write value to dir/file in one write(2) (cgroupfs files cannot be replaced atomically). */
int dewrt__cgroup_write(const char *dir, const char *file, const char *value, struct dew_error **err);
/* Whether dir/file exists. */
bool dewrt__cgroup_has(const char *dir, const char *file);

/* Whether the space-separated list text (cgroup.controllers, cgroup.subtree_control) holds word. */
bool dewrt__cgroup_has_word(const char *text, const char *word);
/*
 * v2: make the group at pdir (a directory) list memory, pids and, when cpu, cpu in its
 * cgroup.subtree_control. When the kernel refuses because the group has processes (EBUSY) and own
 * says it is the caller's own group, its processes are first moved into the DEWRT_CGROUP_SUPERVISOR
 * leaf below it (the caller included). 0, or a negative errno with *err set.
 */
int dewrt__cgroup_v2_delegate(const char *pdir, bool own, bool cpu, struct dew_error **err);

/* libcgroup, initialised once per process. 0, or a negative errno with *err set. */
int dewrt__cgroup_lib_init(struct dew_error **err);
/*
 * The negative errno for a libcgroup return code, and *err filled with the context fmt and
 * libcgroup's explanation.
 */
int dewrt__cgroup_lib_error(struct dew_error **err, int cgret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
