// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/blobs.h: the store's layout, temporary files, commits named by the
 * hash of the stored bytes (never a caller's claim), an existing blob kept on a second commit,
 * concurrent commits of the same content, leftovers in tmp/ cleared on open, and refusals.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "blobs.h"
#include "error.h"
#include "fs.h"
#include "sha256.h"
#include "tap.h"
#include "testutil.h"

static const char *tmp; /* the private temporary directory */
static char *dir;	/* the store */

static char *sub(const char *rel)
{
	return xasprintf("%s/%s", dir, rel);
}

/* Write data into a new temporary file of b; returns its path (caller frees) or NULL. */
static char *tmp_with(struct blobs *b, const char *data, size_t len)
{
	struct dew_error *err = NULL;
	char *path = NULL;
	int fd = blobs_tmp(b, &path, &err);

	if (fd < 0) {
		tap_diag("blobs_tmp: %s", dew_error_msg(err));
		dew_error_free(err);
		return NULL;
	}
	if (write(fd, data, len) != (ssize_t)len)
		tap_diag("write %s: %s", path, strerror(errno));
	close(fd);
	return path;
}

/* Commit data as a blob of kind; returns the rc, with sha and size filled. */
static int commit(struct blobs *b, enum blob_kind kind, const char *data, char sha[65], uint64_t *size)
{
	struct dew_error *err = NULL;
	cleanup_free char *path = tmp_with(b, data, strlen(data));
	int r = path ? blobs_commit(b, kind, path, sha, size, &err) : -EIO;

	if (r < 0)
		tap_diag("commit: %s", dew_error_msg(err));
	dew_error_free(err);
	return r;
}

static void test_open(void)
{
	struct dew_error *err = NULL;
	struct blobs *b = NULL;
	const char *subs[] = { "pool", "packages", "droplets", "tmp" };
	struct stat st;

	tap_is_int(blobs_open(dir, &b, &err), 0, "open creates the store");
	for (size_t i = 0; i < DEW_ARRAY_SIZE(subs); i++) {
		cleanup_free char *p = sub(subs[i]);
		tap_ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "`%s/` exists", subs[i]);
	}
	/* Leftovers of a crashed upload: a file and a directory in tmp/. */
	cleanup_free char *left = tmp_with(b, "half", 4);
	cleanup_free char *ldir = sub("tmp/dir");
	cleanup_free char *lfile = sub("tmp/dir/x");
	mkdir(ldir, 0700);
	dew_write_file_atomic(lfile, "x", 1, 0600, NULL);
	blobs_close(b);
	b = NULL;
	cleanup_free char *tmpdir = sub("tmp");
	tap_is_int(test_count_entries(tmpdir), 2, "two leftovers before reopening");
	tap_is_int(blobs_open(dir, &b, &err), 0, "reopen an existing store");
	tap_is_int(test_count_entries(tmpdir), 0, "reopening clears tmp/");
	blobs_close(b);

	cleanup_free char *file = xasprintf("%s/not-a-dir", tmp);
	dew_write_file_atomic(file, "x", 1, 0600, NULL);
	b = NULL;
	int r = blobs_open(file, &b, &err);
	tap_ok(r < 0 && b == NULL, "open on a regular file fails (%d)", r);
	tap_has_str(dew_error_msg(err), "not-a-dir", "the message names the directory");
	dew_error_free(err);
}

static void test_paths(struct blobs *b)
{
	const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	cleanup_free char *pool = blobs_path(b, BLOB_POOL, sha);
	cleanup_free char *pkg = blobs_path(b, BLOB_PACKAGE, sha);
	cleanup_free char *drop = blobs_path(b, BLOB_DROPLET, sha);
	cleanup_free char *want_pool = xasprintf("%s/pool/01/23/%s", dir, sha);
	cleanup_free char *want_pkg = xasprintf("%s/packages/%s", dir, sha);
	cleanup_free char *want_drop = xasprintf("%s/droplets/%s", dir, sha);

	tap_is_str(pool, want_pool, "pool path is pool/ab/cd/<sha>");
	tap_is_str(pkg, want_pkg, "package path is packages/<sha>");
	tap_is_str(drop, want_drop, "droplet path is droplets/<sha>");
	tap_ok(blobs_path(b, BLOB_POOL, "../../../etc/passwd") == NULL, "no path for a traversal string");
	tap_ok(blobs_path(b, BLOB_PACKAGE,
			  "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef") == NULL,
	       "no path for uppercase hex");
	tap_ok(blobs_path(b, BLOB_DROPLET, "0123") == NULL, "no path for a short hash");
	tap_ok(!blobs_has(b, BLOB_POOL, sha, UINT64_MAX), "an absent blob is not had");
	tap_ok(!blobs_has(b, BLOB_POOL, "../x", UINT64_MAX), "a bad hash is not had");
}

static void test_tmp(struct blobs *b)
{
	struct dew_error *err = NULL;
	char *path = NULL;
	struct stat st;
	int fd = blobs_tmp(b, &path, &err);
	cleanup_free char *prefix = sub("tmp/");

	tap_ok(fd >= 0, "blobs_tmp gives an fd");
	tap_ok(path && strncmp(path, prefix, strlen(prefix)) == 0, "the file is in tmp/");
	tap_ok(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600, "mode 0600");
	tap_ok((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "close-on-exec");
	tap_ok((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR, "open read-write");
	close(fd);
	unlink(path);
	free(path);
}

static void test_commit(struct blobs *b)
{
	const char *data = "hello, pool\n";
	char want[65], sha[65], sha2[65];
	uint64_t size = 0;
	struct stat st1, st2;
	cleanup_free char *tmpdir = sub("tmp");

	dew_sha256_hex(data, strlen(data), want);
	tap_is_int(commit(b, BLOB_POOL, data, sha, &size), 0, "commit a pool blob");
	tap_is_str(sha, want, "named by the hash of its bytes");
	tap_is_int((int)size, (int)strlen(data), "its size");
	cleanup_free char *path = blobs_path(b, BLOB_POOL, sha);
	cleanup_free char *got = NULL;
	struct dew_error *err = NULL;
	tap_ok(dew_read_file(path, 1024, &got, NULL, &err) == 0 && strcmp(got, data) == 0,
	       "the blob holds the bytes");
	dew_error_free(err);
	tap_ok(blobs_has(b, BLOB_POOL, sha, strlen(data)), "had with its size");
	tap_ok(blobs_has(b, BLOB_POOL, sha, UINT64_MAX), "had with any size");
	tap_ok(!blobs_has(b, BLOB_POOL, sha, strlen(data) + 1), "not had with another size");
	tap_ok(!blobs_has(b, BLOB_PACKAGE, sha, UINT64_MAX), "kinds are separate");
	tap_is_int(test_count_entries(tmpdir), 0, "the temporary file is gone");

	/* The same bytes again: the first blob stays (same inode), the new temporary file goes. */
	lstat(path, &st1);
	tap_is_int(commit(b, BLOB_POOL, data, sha2, NULL), 0, "commit the same bytes again (size NULL)");
	tap_is_str(sha2, want, "same hash");
	tap_ok(lstat(path, &st2) == 0 && st1.st_ino == st2.st_ino, "the existing blob is kept");
	tap_is_int(test_count_entries(tmpdir), 0, "the second temporary file is gone");

	tap_is_int(commit(b, BLOB_PACKAGE, "a package", sha, NULL), 0, "commit a package");
	tap_ok(blobs_has(b, BLOB_PACKAGE, sha, 9), "the package is stored");
	tap_is_int(commit(b, BLOB_DROPLET, "", sha, &size), 0, "commit an empty droplet");
	tap_is_str(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		   "hash of nothing");
	tap_ok(size == 0 && blobs_has(b, BLOB_DROPLET, sha, 0), "the empty droplet is stored");

	cleanup_free char *missing = sub("tmp/never-made");
	int r = blobs_commit(b, BLOB_POOL, missing, sha, &size, &err);
	tap_ok(r < 0, "committing a missing file fails (%d)", r);
	tap_has_str(dew_error_msg(err), "never-made", "the message names it");
	dew_error_free(err);
}

struct racer {
	struct blobs *b;
	char sha[65];
	int rc;
};

static void *race(void *arg)
{
	struct racer *x = arg;

	x->rc = commit(x->b, BLOB_POOL, "raced content", x->sha, NULL);
	return NULL;
}

/* Eight threads commit the same bytes at once: all succeed, one blob results. */
static void test_race(struct blobs *b)
{
	struct racer x[8];
	pthread_t t[8];
	char want[65];
	bool ok = true;
	cleanup_free char *tmpdir = sub("tmp");

	dew_sha256_hex("raced content", 13, want);
	for (int i = 0; i < 8; i++) {
		x[i] = (struct racer){ .b = b };
		pthread_create(&t[i], NULL, race, &x[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ok = ok && x[i].rc == 0 && strcmp(x[i].sha, want) == 0;
	}
	tap_ok(ok, "eight concurrent commits of the same bytes all succeed");
	tap_ok(blobs_has(b, BLOB_POOL, want, 13), "one blob with the content");
	cleanup_free char *path = blobs_path(b, BLOB_POOL, want);
	cleanup_free char *d = xstrndup(path, strlen(path) - 65);
	tap_is_int(test_count_entries(d), 1, "exactly one file in its pool directory");
	tap_is_int(test_count_entries(tmpdir), 0, "no temporary file left");
}

int main(void)
{
	struct dew_error *err = NULL;
	struct blobs *b = NULL;

	tmp = test_tmpdir("blobs");
	if (!tmp)
		return tap_done();
	dir = xasprintf("%s/blobs", tmp);
	test_open();
	if (!tap_ok(blobs_open(dir, &b, &err) == 0, "open for the remaining tests")) {
		tap_diag("%s", dew_error_msg(err));
		return tap_done();
	}
	test_paths(b);
	test_tmp(b);
	test_commit(b);
	test_race(b);
	blobs_close(b);
	return tap_done();
}
