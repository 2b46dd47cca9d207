/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the cgroup tests on real groups (test-cgroup.c): groups named dew-test-<pid>-N that
 * are tracked until removed, children forked into a group, readers that do not go through the
 * library, and the sweep that removes whatever a run left behind.
 */
#ifndef DEW_CGROUP_TESTLIB_H
#define DEW_CGROUP_TESTLIB_H

#include <stdbool.h>
#include <sys/types.h>

#include "cgroup-util.h"

#define MiB (1024ULL * 1024)
#define PREFIX "dew-test-"

extern enum dewrt_cgroup_mode cgt_mode;
extern int cgt_seq;			  /* N of the last dew-test-<pid>-N */
extern struct dewrt_cgroup *cgt_live[16]; /* groups a test has not removed yet */

/* The next group name (allocated). */
char *cgt_tname(void);
/* Remember cg until cgt_drop, so main can remove what a failed test left. */
void cgt_track(struct dewrt_cgroup *cg);
/* Record that a library call returned 0, showing its error message when not; clears *err. */
bool cgt_call_ok(int ret, struct dew_error **err, const char *what);
/* Kill what is in cg, remove it and free it; check records the removal as a test. */
void cgt_drop(struct dewrt_cgroup *cg, bool check);
/* Create (and track) the next group below our own, or NULL (a failed test). */
struct dewrt_cgroup *cgt_make(const struct dewrt_limits *lim);

/* The path of file in cg's directory for controller c (allocated). */
char *cgt_group_file(struct dewrt_cgroup *cg, enum dewrt_cg_ctl c, const char *file);
/* A small file read with stdio into a static buffer, or NULL. */
char *cgt_slurp(const char *path);
/* The number at the start of a group file (0xdead when unreadable). */
unsigned long long cgt_file_u64(struct dewrt_cgroup *cg, enum dewrt_cg_ctl c, const char *file);
/* Whether pid is listed in cg's (memory) cgroup.procs. */
bool cgt_procs_has(struct dewrt_cgroup *cg, pid_t pid);

typedef void (*cgt_child_fn)(int report);
/* Fork a child that runs fn(report fd) once attached to cg; *report is our end. -1 on failure. */
pid_t cgt_spawn_in(struct dewrt_cgroup *cg, cgt_child_fn fn, int *report);
/* One byte reported by a child within ms, or -1. */
int cgt_report_of(int fd, int ms);
void cgt_reap(pid_t pid, int *status);
/* Reap orphans re-parented to us (the test process is a subreaper). */
void cgt_reap_orphans(void);

/* Children: report 'r' and wait; touch 200 MB; touch 8 MB, spin 50 ms, report 'r' and wait; fork
 * 100 times and report 'y' when one fork met EAGAIN; setsid, fork a daemon that reports its pid,
 * and exit. */
void cgt_child_wait(int report);
void cgt_child_oom(int report);
void cgt_child_busy(int report);
void cgt_child_forks(int report);
void cgt_child_daemon(int report);

/*
 * Remove dew-test-<pid>-* groups below our own groups in every hierarchy: ours (mine) or those of
 * runs that died. Returns how many there were.
 */
int cgt_sweep(bool mine);

#endif
