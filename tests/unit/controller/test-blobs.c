// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/blobs.h: the store's layout, temporary files, commits named by the
 * hash of the stored bytes (never a caller's claim), an existing blob kept on a second commit,
 * concurrent commits of the same content, leftovers in tmp/ cleared on open, refusals, and
 * batches: hashed as written (in order, out of order, with holes), in the pool only once
 * committed, gone without a trace when dropped.
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

/* Write pieces (data at off) as one batch file closed at size; its hash into sha. */
struct piece {
	const char *data;
	uint64_t off;
};

static int batch_file(struct blobs_batch *bt, const struct piece *p, size_t n, uint64_t size, char sha[65],
		      uint64_t *stored)
{
	struct dew_error *err = NULL;
	int r = blobs_batch_open(bt, &err);

	for (size_t i = 0; r == 0 && i < n; i++)
		r = blobs_batch_write(bt, p[i].data, strlen(p[i].data), p[i].off, &err);
	if (r == 0)
		r = blobs_batch_close(bt, size, sha, stored, &err);
	if (r < 0)
		tap_diag("batch: %s", dew_error_msg(err));
	dew_error_free(err);
	return r;
}

static void test_batch(struct blobs *b)
{
	cleanup_free char *tmpdir = sub("tmp");
	struct blobs_batch *bt = blobs_batch_new(b);
	struct dew_error *err = NULL;
	char sha[65], want[65];
	uint64_t stored = 0;

	/* In order: the hash made on the way. */
	tap_is_int(batch_file(bt, (struct piece[]){ { "hello ", 0 }, { "batch", 6 } }, 2, 0, sha, &stored), 0,
		   "a file written in order");
	dew_sha256_hex("hello batch", 11, want);
	tap_ok(strcmp(sha, want) == 0 && stored == 11, "named by the hash of its bytes");
	/* Backwards: the file is read back to hash it. */
	tap_is_int(batch_file(bt, (struct piece[]){ { "world", 6 }, { "hello ", 0 } }, 2, 0, sha, &stored), 0,
		   "a file written back to front");
	dew_sha256_hex("hello world", 11, want);
	tap_ok(strcmp(sha, want) == 0 && stored == 11, "still named by the hash of its bytes");
	/* A hole in the middle and a hole at the end read as zeros. */
	tap_is_int(batch_file(bt, (struct piece[]){ { "ab", 0 }, { "cd", 4 } }, 2, 8, sha, &stored), 0,
		   "a sparse file");
	dew_sha256_hex("ab\0\0cd\0\0", 8, want);
	tap_ok(strcmp(sha, want) == 0 && stored == 8, "its holes hashed as zeros");
	char sparse[65];
	memcpy(sparse, sha, sizeof(sparse));

	tap_ok(!blobs_has(b, BLOB_POOL, sparse, 8), "nothing in the pool before the commit");
	tap_is_int(test_count_entries(tmpdir), 3, "three temporary files");
	tap_is_int(blobs_batch_commit(bt, &err), 0, "commit the batch");
	tap_ok(blobs_has(b, BLOB_POOL, sparse, 8) && blobs_has(b, BLOB_POOL, want, UINT64_MAX),
	       "then the files are in the pool");
	cleanup_free char *path = blobs_path(b, BLOB_POOL, sparse);
	cleanup_free char *got = NULL;
	size_t len = 0;
	dew_read_file(path, 64, &got, &len, NULL);
	tap_ok(len == 8 && memcmp(got, "ab\0\0cd\0\0", 8) == 0, "with their bytes");
	tap_is_int(test_count_entries(tmpdir), 0, "no temporary file left");
	blobs_batch_free(bt);

	/* Dropped before its commit: no trace, with a file still open. */
	bt = blobs_batch_new(b);
	batch_file(bt, (struct piece[]){ { "dropped", 0 } }, 1, 0, sha, &stored);
	blobs_batch_open(bt, &err);
	tap_is_int(blobs_batch_open(bt, &err), -EINVAL, "one file open at a time");
	dew_error_clear(&err);
	tap_is_int(blobs_batch_commit(bt, &err), -EINVAL, "no commit with a file open");
	dew_error_clear(&err);
	blobs_batch_free(bt);
	tap_ok(!blobs_has(b, BLOB_POOL, sha, UINT64_MAX), "a dropped batch puts nothing in the pool");
	tap_is_int(test_count_entries(tmpdir), 0, "and leaves nothing in tmp/");
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
	test_batch(b);
	blobs_close(b);
	return tap_done();
}
