/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the unit tests (linked with the TAP helper): a private temporary
 * directory, tree removal, whole-file reads and a clock. Archive builders are in testarchive.h.
 */
#ifndef DEW_TESTUTIL_H
#define DEW_TESTUTIL_H

#include <stddef.h>

/* Entries of dir other than . and .., or -1 when it cannot be opened. */
int test_count_entries(const char *dir);

/*
 * Create the test's private directory $TMPDIR/dew-test-<name>.XXXXXX (under /tmp when TMPDIR is
 * unset or empty), removed with everything in it when the process exits (not by _exit(), so a
 * forked child leaves it alone). Returns its path, which stays valid until exit (do not free
 * it), or NULL after a failed TAP line saying why. Call it once per test program.
 */
const char *test_tmpdir(const char *name);

/* Remove path and everything below it, never following a symlink; a missing path is fine. */
void test_remove_tree(const char *path);

/*
 * The whole file at path (at most 64 MiB), NUL-terminated, and its length in *len (which may be
 * NULL); the caller frees it. NULL, after a TAP diagnostic, when it cannot be read.
 */
char *test_slurp(const char *path, size_t *len);

/* Seconds on the monotonic clock, for timings a test prints. */
double test_now(void);

#endif
