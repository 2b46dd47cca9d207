/* SPDX-License-Identifier: MIT */
/*
 * The stack the container root tests build (tests/unit/runtime/test-rootfs.c): a private temp
 * dir, made a shared mount so that anything propagating out of a container shows up below it,
 * holding a small root (the host's /usr and /lib* bound in read-only by the spec), an app dir and
 * a sentinel dir that hostile stacks point at. Plus readers of our own mount table.
 */
#ifndef DEW_TEST_ROOTFS_FIXTURE_H
#define DEW_TEST_ROOTFS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "dewrt.h"

/* The prefix of every fixture's temp dir, for the final check that nothing is left mounted. */
#define ROOTFS_FIXTURE_PREFIX "/tmp/dewrt-rootfs-"

struct rootfs_fixture {
	char *base;	   /* the temp dir (a shared mount) */
	char *root;	   /* base/root: the stack */
	char *app;	   /* base/app: the app dir */
	char *sentinel;	   /* base/sentinel: an empty host dir that must stay empty and unmounted */
	char *host_marker; /* base/host-marker: a host file the container must not see */
	struct dewrt_spec spec;
	struct dewrt_mount mounts[8];
};

/* Build the fixture; bails out of the test (exit 1) when the machine cannot. Free with _free. */
struct rootfs_fixture *rootfs_fixture_new(void);
/* Replace the directory `path` of the stack (if any) by a symlink to target. */
void rootfs_fixture_symlink(struct rootfs_fixture *fx, const char *path, const char *target);
/* Remove the directory `path` of the stack. */
void rootfs_fixture_rmdir(struct rootfs_fixture *fx, const char *path);
/* Bind the probe binary (tests/lib/dewrt-probe) read-only at /dewrt-probe in the container. */
void rootfs_fixture_add_probe(struct rootfs_fixture *fx, const char *probe);
/* Add a spec mount of the sentinel dir onto target. */
void rootfs_fixture_add_mount(struct rootfs_fixture *fx, const char *target);
/*
 * Unmount everything left at or below base (deepest first) and remove the tree, never crossing
 * into a mount: if an unmount fails the tree stays and the failure is reported as a TAP diag.
 */
void rootfs_fixture_free(struct rootfs_fixture *fx);

/*
 * Mount points starting with prefix in the mount table of pid (0: our own), in table order, in
 * *points (the caller frees each and the array). Returns how many.
 */
size_t rootfs_mounts_below(pid_t pid, const char *prefix, char ***points);
/* The same, space-separated, excluding `except` (may be NULL); "" when none. The caller frees. */
char *rootfs_mounts_text(pid_t pid, const char *prefix, const char *except);
/* Entries of dir other than "." and "..", or -1 when it cannot be read. */
int rootfs_count_entries(const char *dir);

#endif
