/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces between the files of libdewrt (prefix dewrt__). Not installed, not for
 * other components: they include dewrt.h only.
 */
#ifndef DEWRT_INTERNAL_H
#define DEWRT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "dewrt.h"

/* ---- spec.c, state.c ----------------------------------------------------------------- */

/* Is id a valid container id (1-64 of [A-Za-z0-9_.-], not starting with '.')? */
bool dewrt__id_valid(const char *id);
/* The spec as JSON (what spec.json holds); a new reference. */
json_t *dewrt__spec_json(const struct dewrt_spec *spec);
int64_t dewrt__now_ms(void);
/* "<state_root>/<id>" (caller frees). */
char *dewrt__state_dir(const struct dewrt_context *ctx, const char *id);
/* Write st->dir/state.json atomically. */
int dewrt__state_write(const struct dewrt_state *st, struct dew_error **err);
/* Compile the context's seccomp filter if that has not happened yet. */
int dewrt__seccomp_ready(struct dewrt_context *ctx, struct dew_error **err);
/* Log through the context's callback. */
void dewrt__log(const struct dewrt_context *ctx, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- container-ops.c ------------------------------------------------------------------- */

/*
 * Is pid a member of the cgroup at path (as /proc/<pid>/cgroup says)? With a pidfd held on pid,
 * true proves the pid was not recycled: it is still the container's process.
 */
bool dewrt__pid_in_cgroup(pid_t pid, const char *path);

/* ---- seccomp.c: the syscall allow-list ------------------------------------------------ */

struct dewrt_seccomp;

/*
 * Build the filter from the profile table (seccomp-profile.c) and compile it to BPF for every
 * syscall entry point of this machine (on x86_64: x86_64, x86 and x32): two programs, the
 * allow-list and the argument denials (TIOCSTI). Done once per process, before any fork;
 * the result is read-only and reused by every container start. The caller frees *out with
 * dewrt__seccomp_free. -ENOTSUP on a machine the profile does not cover.
 */
int dewrt__seccomp_compile(struct dewrt_seccomp **out, const char *cache_dir, struct dew_error **err);
/*
 * Install the compiled filter on the calling thread: sets no_new_privs itself (so the filter
 * can never be installed without it), then loads both programs (Seccomp_filters: 2). No
 * allocation and no libseccomp call: safe in a child cloned from a threaded process. Call it
 * last, just before execve (see dewrt__caps_apply for the order). Returns 0 or -errno.
 */
int dewrt__seccomp_install(const struct dewrt_seccomp *sc);
/* Release a compiled filter; NULL is fine. */
void dewrt__seccomp_free(struct dewrt_seccomp *sc);
/* The profile's name as shown by `dew-run inspect` ("dew-default-1"). */
const char *dewrt__seccomp_profile_name(void);

/* ---- caps.c: the capability set -------------------------------------------------------- */

/*
 * Reduce the calling process to the documented set (docs/container-spec.md): bounding set
 * dropped to it, ambient cleared, permitted = effective = the set (less any the caller
 * lacks), inheritable empty (CVE-2022-24769). Needs CAP_SETPCAP; allocation-free. 0 or -errno.
 *
 * Order in the container's init, each step needing what the previous one left:
 *   1. dewrt__caps_apply()                 while still root (the bounding drop needs SETPCAP)
 *   2. setgroups, setresgid, setresuid     to the spec's ids (needs SETGID/SETUID, kept)
 *   3. dewrt__seccomp_install()            sets no_new_privs, then the filter
 *   4. execve
 * Without PR_SET_KEEPCAPS the switch of step 2 to a non-zero uid empties permitted and
 * effective, and execve as that user gains nothing (empty ambient and inheritable sets,
 * no_new_privs): an app running as vcap (1000) has no capabilities at all, which is intended.
 * A process running as uid 0 in the container gets the set back at every execve, never more
 * (the bounding set).
 */
int dewrt__caps_apply(void);
/* The set as capability numbers (static array) and its size. */
const int *dewrt__caps_list(size_t *n);

/* ---- cgroup.c: cgroups through libcgroup, v1 (legacy/hybrid) and v2 ------------------- */

enum dewrt_cgroup_mode {
	DEWRT_CGROUP_V1, /* legacy or hybrid: treated as v1 */
	DEWRT_CGROUP_V2, /* unified */
};

struct dewrt_cgroup;

struct dewrt_cgroup_stats {
	uint64_t memory_usage, memory_limit, memory_max_usage, memory_failcnt, oom_kills;
	uint64_t pids_current, pids_max;
	uint64_t cpu_weight, cpu_usage_ns;
};

/* Which hierarchy this machine mounts (statfs of /sys/fs/cgroup). */
int dewrt__cgroup_mode(enum dewrt_cgroup_mode *out, struct dew_error **err);
/*
 * Create group `name` below parent (NULL: the calling process's own cgroup, per controller)
 * with the limits applied: memory (hard, swap off), pids, cpu weight (shares on v1). Existing
 * groups of that name are an error (-EEXIST), a missing parent too (-ENOENT). On v2 with parent
 * NULL, the caller's group may first have its processes (the caller's included) moved into a
 * "dew-supervisor" leaf, as v2 only delegates controllers from a group without processes.
 */
int dewrt__cgroup_create(const char *parent, const char *name, const struct dewrt_limits *lim,
			 struct dewrt_cgroup **out, struct dew_error **err);
/*
 * Re-open a group created earlier (by a process that has since exited) from its path. On v1 the
 * path is the memory controller's; the other controllers are found at the same path or, by its
 * last component, below the caller's own group in that hierarchy.
 */
int dewrt__cgroup_open(const char *path, struct dewrt_cgroup **out, struct dew_error **err);
/* The path to store in the state (relative to the hierarchy root, e.g. "/process_api/x/dew-ID"). */
const char *dewrt__cgroup_path(const struct dewrt_cgroup *cg);
/*
 * Move pid into the group (every controller). On v1 libcgroup writes the `tasks` file, which
 * moves one thread: attach a process while it is single-threaded (right after clone).
 */
int dewrt__cgroup_attach(struct dewrt_cgroup *cg, pid_t pid, struct dew_error **err);
/*
 * A file descriptor that becomes readable when the OOM killer acts in the group: an eventfd
 * registered on memory.oom_control (v1) or an inotify watch on memory.events (v2). Register it
 * before the app runs. The caller reads/drains it and then asks dewrt__cgroup_stats. The fd is
 * non-blocking and close-on-exec, owned by the caller; it can also wake for other reasons (v1:
 * the group's removal; v2: memory.high/max events), hence the check of oom_kills.
 */
int dewrt__cgroup_oom_fd(struct dewrt_cgroup *cg, int *fd, struct dew_error **err);
/*
 * The path of the file whose `oom_kill` line counts the group's OOM kills (memory.events on v2,
 * memory.oom_control on v1); the caller frees it. With dewrt__cgroup_oom_kills it lets a process
 * that never initialises libcgroup (the monitor) read the count.
 */
char *dewrt__cgroup_oom_file(const struct dewrt_cgroup *cg);
/*
 * Read the `oom_kill` count from file (a dewrt__cgroup_oom_file path) with plain file reads: no
 * libcgroup, no struct dewrt_cgroup. A file without the line (v1 before Linux 4.13) counts 0.
 */
int dewrt__cgroup_oom_kills(const char *file, uint64_t *out, struct dew_error **err);
/* Usage and limits; unlimited is UINT64_MAX, cpu_weight is on the v2 scale (1..10000) on v1 too. */
int dewrt__cgroup_stats(struct dewrt_cgroup *cg, struct dewrt_cgroup_stats *out, struct dew_error **err);
/* Pids in the group (caller frees), for `dew-run ps`. */
int dewrt__cgroup_pids(struct dewrt_cgroup *cg, pid_t **pids, size_t *n, struct dew_error **err);
/* Kill every process in the group (cgroup.kill where present, else freeze + SIGKILL + thaw). */
int dewrt__cgroup_kill_all(struct dewrt_cgroup *cg, struct dew_error **err);
/*
 * Remove the (empty) group from every controller; waits briefly (2 s) for exiting tasks, then
 * -EBUSY. Tasks are never migrated to the parent. -ENOENT when the group does not exist.
 */
int dewrt__cgroup_remove(struct dewrt_cgroup *cg, struct dew_error **err);
void dewrt__cgroup_free(struct dewrt_cgroup *cg);

/* ---- rootfs.c, mounts.c, devfs.c, procfs.c, resolve.c: the container's root ----------- */

/* In the container's init, after the new mount (and user, pid) namespaces exist and before
 * privileges are dropped: build the container's root from spec and pivot_root into it.
 * Returns 0 or -errno with *err set; the caller reports the error to its parent. */
int dewrt__rootfs_setup(const struct dewrt_spec *spec, struct dew_error **err);
/* Resolve `path` (relative to the directory fd `root`) without ever leaving root: openat2 with
 * RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS where the kernel has it, else a checked component walk
 * that refuses symlinks. Returns an O_PATH fd or -errno. */
int dewrt__resolve_in_root(int root, const char *path, int flags);

/*
 * The two halves of dewrt__rootfs_setup, apart so the tests can look at the mount table between
 * them. prepare: make every mount private, bind the stack read-only and mount everything onto
 * it, without entering it; *root_fd (owned by the caller) is then the new root. On error the
 * half-built root is left in the mount namespace, which the failing init takes with it.
 * Targets are never created in the read-only stack: a missing mount point is -ENOENT naming it.
 * pivot: make root_fd the root of the mount namespace and detach the old root entirely.
 */
int dewrt__rootfs_prepare(const struct dewrt_spec *spec, int *root_fd, struct dew_error **err);
int dewrt__rootfs_pivot(int root_fd, const char *id, struct dew_error **err);

/*
 * The component walk behind dewrt__resolve_in_root, apart so the tests run it where openat2 exists.
 * flags: 0 or O_DIRECTORY (for both). ".." is applied lexically and clamped at root; any symlink,
 * magic links included, is -ELOOP.
 */
int dewrt__resolve_walk(int root, const char *path, int flags);

#define DEWRT_APP_DIR "/home/vcap/app"
#define DEWRT_TMP_SIZE "64m" /* the private /tmp */
#define DEWRT_SHM_SIZE "64m" /* /dev/shm */
#define DEWRT_DEV_SIZE "64k" /* /dev holds only empty files, directories and symlinks */

enum { DEWRT_FD_PATH_SIZE = 32 };
/* Write "/proc/self/fd/<fd>" into buf and return buf: the path mount(2) is given for fd. */
const char *dewrt__fd_path(char buf[static DEWRT_FD_PATH_SIZE], int fd);

/* The new root while it is being built. */
struct dewrt_root {
	int fd;		/* O_PATH fd of the read-only bind of the stack */
	const char *id; /* the container's id, for messages */
};

/*
 * Resolve target inside root (dewrt__resolve_in_root) for mounting onto it; a target that
 * resolves to the root itself is refused. Returns an O_PATH fd (the caller closes it) or -errno
 * with *err naming the target.
 */
int dewrt__root_open(const struct dewrt_root *root, const char *target, int flags, struct dew_error **err);
/* mount(source, target, fstype, flags, data) with target resolved by dewrt__root_open. */
int dewrt__mount_in_root(const struct dewrt_root *root, const char *source, const char *target,
			 const char *fstype, unsigned long flags, const char *data, struct dew_error **err);
/*
 * Remount the bind mount whose root fd is (MS_REMOUNT|MS_BIND) with flags (MS_RDONLY, MS_NOSUID,
 * MS_NODEV, MS_NOEXEC) added to those it has, which a user namespace forbids dropping. 0 or -errno.
 */
int dewrt__remount_fd(int fd, unsigned long flags);
/* dewrt__remount_fd on the mount at target inside root, resolved afresh. */
int dewrt__remount_in_root(const struct dewrt_root *root, const char *target, unsigned long flags,
			   struct dew_error **err);
/* Bind source (a host path; not recursive) onto target in root, then remount with flags (0: none). */
int dewrt__bind_in_root(const struct dewrt_root *root, const char *source, const char *target,
			unsigned long flags, struct dew_error **err);
/*
 * spec->mounts: nosuid, nodev, read-only when asked; targets at or below /proc, /sys, /dev, /tmp
 * or the app dir, or with "." or ".." in them, are refused.
 */
int dewrt__mount_spec_binds(const struct dewrt_root *root, const struct dewrt_spec *spec,
			    struct dew_error **err);
/* spec->app_dir read-write at /home/vcap/app (nosuid, nodev) and a tmpfs at /tmp (1777, 64M). */
int dewrt__mount_app_tmp(const struct dewrt_root *root, const struct dewrt_spec *spec,
			 struct dew_error **err);
/*
 * /dev: a tmpfs (nosuid, nodev, noexec) with null, zero, full, random, urandom and tty bound from
 * the host, a new devpts instance at /dev/pts, a tmpfs at /dev/shm, and the ptmx, fd, stdin,
 * stdout and stderr symlinks.
 */
int dewrt__mount_dev(const struct dewrt_root *root, struct dew_error **err);
/* A fresh /proc with kcore, keys, timer_list, … masked and sys, sysrq-trigger, … read-only. */
int dewrt__mount_proc(const struct dewrt_root *root, struct dew_error **err);
/*
 * A read-only sysfs at /sys (the host's /sys bound read-only, recursively where the kernel has
 * mount_setattr, where sysfs cannot be mounted), with /sys/firmware and powercap masked.
 */
int dewrt__mount_sys(const struct dewrt_root *root, struct dew_error **err);

#endif
