/* SPDX-License-Identifier: MIT */
/*
 * What the container root tests look at from inside a container (rootfs-check.c): each check
 * writes a "key=value" line, and rootfs_expect says what each key must read.
 */
#ifndef DEW_TEST_ROOTFS_CHECK_H
#define DEW_TEST_ROOTFS_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include "rootfs-fixture.h"

struct rootfs_expect {
	const char *key, *want, *what;
	const char *userns_want; /* in a user namespace, when it differs */
};

extern const struct rootfs_expect rootfs_expect[];
extern const size_t rootfs_n_expect;

/* Note, on the host, which of the masked and read-only /proc and /sys entries this kernel has. */
void rootfs_check_init(void);
/* In the container after dewrt__rootfs_setup: run every check and write its line to out. */
void rootfs_check_inside(FILE *out, const struct rootfs_fixture *fx);
/*
 * After dewrt__rootfs_prepare: write "escaped=<points>" for every mount point in our mount table
 * now that was not there before (before[0..n_before), freed here) and is not at or below root.
 */
void rootfs_report_escapes(FILE *out, const char *root, char **before, size_t n_before);

#endif
