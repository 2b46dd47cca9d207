// SPDX-License-Identifier: MIT
/*
 * Small helpers shared by the unit tests (see testutil.h). Removal walks the tree with nftw
 * rather than dew_remove_tree, so that cleaning up never depends on the code under test.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "fs.h"
#include "tap.h"

static char *tmpdir; /* made by test_tmpdir, removed at exit */

int test_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

void test_remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_tmpdir(void)
{
	if (tmpdir)
		test_remove_tree(tmpdir);
}

const char *test_tmpdir(const char *name)
{
	const char *base = getenv("TMPDIR");
	char *dir = xasprintf("%s/dew-test-%s.XXXXXX", base && *base ? base : "/tmp", name);

	if (tmpdir)
		abort(); /* one per test program: the exit handler removes one */
	if (!mkdtemp(dir)) {
		tap_ok(false, "mkdtemp %s: %s", dir, strerror(errno));
		free(dir);
		return NULL;
	}
	tmpdir = dir;
	atexit(remove_tmpdir);
	return tmpdir;
}

char *test_slurp(const char *path, size_t *len)
{
	struct dew_error *err = NULL;
	char *data = NULL;

	if (dew_read_file(path, 64 << 20, &data, len, &err) < 0) {
		tap_diag("%s", dew_error_msg(err));
		dew_error_free(err);
	}
	return data;
}

double test_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
