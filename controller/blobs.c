// SPDX-License-Identifier: MIT
/*
 * The controller's content-addressed blob store (see blobs.h): the resource pool, packages and
 * droplets, each named by the SHA-256 computed here over the stored bytes. Every blob goes
 * through tmp/, fsync and rename, so a crash leaves the whole blob or nothing.
 */
#include "blobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fs.h"
#include "sha256.h"

enum {
	HASH_BLOCK = 1 << 20,
};

struct blobs {
	char *dir;
	char *tmp; /* dir/tmp */
};

static const char *const kind_dirs[] = {
	[BLOB_POOL] = "pool",
	[BLOB_PACKAGE] = "packages",
	[BLOB_DROPLET] = "droplets",
};

/*
 * Remove every entry of tmp/: uploads that were in progress when a controller stopped. Note for
 * several controllers on one store: each would then need its own tmp/ (or this must go).
 */
static int clear_tmp(const char *tmp, struct dew_error **err)
{
	DIR *d = opendir(tmp);
	struct dirent *e;
	int r = 0;

	if (!d)
		return dew_error_set(err, errno, "open directory `%s`", tmp);
	while ((e = readdir(d)) && r == 0) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		cleanup_free char *p = xasprintf("%s/%s", tmp, e->d_name);
		r = dew_remove_tree(p, err);
	}
	closedir(d);
	return r;
}

/* Open the store in dir (see blobs.h). */
int blobs_open(const char *dir, struct blobs **out, struct dew_error **err)
{
	struct blobs *b = xzalloc(sizeof(*b));
	int r;

	b->dir = xstrdup(dir);
	b->tmp = xasprintf("%s/tmp", dir);
	r = dew_mkdir_p(b->tmp, 0700, err);
	for (size_t i = 0; r == 0 && i < DEW_ARRAY_SIZE(kind_dirs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, kind_dirs[i]);
		r = dew_mkdir_p(p, 0700, err);
	}
	if (r == 0)
		r = clear_tmp(b->tmp, err);
	if (r < 0) {
		blobs_close(b);
		return dew_error_prefix(err, "open blob store `%s`", dir);
	}
	*out = b;
	return 0;
}

/* Release the handle (blobs stay on disk). */
void blobs_close(struct blobs *b)
{
	if (!b)
		return;
	free(b->dir);
	free(b->tmp);
	free(b);
}

/* The path of a blob; NULL when sha256 is not a canonical hash (a client's string never becomes a path). */
char *blobs_path(struct blobs *b, enum blob_kind kind, const char *sha256)
{
	if (!dew_sha256_is_hex(sha256) || (unsigned)kind >= DEW_ARRAY_SIZE(kind_dirs))
		return NULL;
	if (kind == BLOB_POOL)
		return xasprintf("%s/pool/%.2s/%.2s/%s", b->dir, sha256, sha256 + 2, sha256);
	return xasprintf("%s/%s/%s", b->dir, kind_dirs[kind], sha256);
}

/* Whether the blob exists with that size (see blobs.h). */
bool blobs_has(struct blobs *b, enum blob_kind kind, const char *sha256, uint64_t size)
{
	cleanup_free char *p = blobs_path(b, kind, sha256);
	struct stat st;

	if (!p || lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return size == UINT64_MAX || (uint64_t)st.st_size == size;
}

/* Create a private temporary file in tmp/ (see blobs.h). */
int blobs_tmp(struct blobs *b, char **path, struct dew_error **err)
{
	char *p = xasprintf("%s/up-XXXXXX", b->tmp);
	/* mkostemp creates the file 0600 and exclusively: no one can plant it first. */
	int fd = mkostemp(p, O_CLOEXEC);

	if (fd < 0) {
		int r = dew_error_set(err, errno, "create a temporary file in `%s`", b->tmp);
		free(p);
		return r;
	}
	*path = p;
	return fd;
}

/* Hash the whole file fd and make it durable. */
static int hash_and_sync(int fd, const char *path, char sha256[65], uint64_t *size, struct dew_error **err)
{
	cleanup_free char *buf = xmalloc(HASH_BLOCK);
	struct dew_sha256 h;
	uint64_t total = 0;
	off_t off = 0;

	dew_sha256_init(&h);
	for (;;) {
		ssize_t k = pread(fd, buf, HASH_BLOCK, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			dew_sha256_close(&h);
			return dew_error_set(err, errno, "read `%s`", path);
		}
		if (k == 0)
			break;
		dew_sha256_update(&h, buf, (size_t)k);
		total += (uint64_t)k;
		off += k;
	}
	dew_sha256_final(&h, sha256);
	*size = total;
	if (fsync(fd) < 0)
		return dew_error_set(err, errno, "fsync `%s`", path);
	return 0;
}

/*
 * Move tmp_path to dst unless dst already exists. RENAME_NOREPLACE keeps a blob that another
 * thread or controller stored meanwhile (same hash, so same bytes); file systems without it
 * get a plain rename, which replaces a blob with identical content and is just as correct.
 */
static int place(const char *tmp_path, const char *dst, struct dew_error **err)
{
	struct stat st;
	bool exists = lstat(dst, &st) == 0 && S_ISREG(st.st_mode);

	if (!exists && renameat2(AT_FDCWD, tmp_path, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
		return 0;
	if (!exists && errno == EEXIST)
		exists = lstat(dst, &st) == 0 && S_ISREG(st.st_mode);
	else if (!exists && (errno == EINVAL || errno == ENOSYS) && rename(tmp_path, dst) == 0)
		return 0;
	if (!exists)
		return dew_error_set(err, errno, "rename `%s` to `%s`", tmp_path, dst);
	unlink(tmp_path);
	return 0;
}

/* Create pool/ab and pool/ab/cd for sha256 where missing, each new entry made durable. */
static int pool_dirs(struct blobs *b, const char *sha256, struct dew_error **err)
{
	cleanup_free char *pool = xasprintf("%s/pool", b->dir);
	cleanup_free char *ab = xasprintf("%s/%.2s", pool, sha256);
	cleanup_free char *abcd = xasprintf("%s/%.2s", ab, sha256 + 2);
	const char *dirs[] = { pool, ab, abcd };

	for (size_t i = 1; i < DEW_ARRAY_SIZE(dirs); i++) {
		if (mkdir(dirs[i], 0700) == 0) {
			int r = dew_fsync_dir(dirs[i - 1], err);
			if (r < 0)
				return r;
		} else if (errno != EEXIST) {
			return dew_error_set(err, errno, "create directory `%s`", dirs[i]);
		}
	}
	return 0;
}

/* Hash, fsync and place tmp_path; the caller removes it on failure. */
static int commit(struct blobs *b, enum blob_kind kind, const char *tmp_path, char sha256[65], uint64_t *size,
		  struct dew_error **err)
{
	cleanup_close int fd = open(tmp_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	cleanup_free char *dst = NULL;
	struct stat st;
	int r;

	if ((unsigned)kind >= DEW_ARRAY_SIZE(kind_dirs))
		return dew_error_set_code(err, EINVAL, "unknown blob kind %d", (int)kind);
	if (fd < 0)
		return dew_error_set(err, errno, "open `%s`", tmp_path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return dew_error_set_code(err, EINVAL, "`%s` is not a regular file", tmp_path);
	r = hash_and_sync(fd, tmp_path, sha256, size, err);
	if (r == 0 && kind == BLOB_POOL)
		r = pool_dirs(b, sha256, err);
	if (r < 0)
		return r;
	dst = blobs_path(b, kind, sha256);
	r = place(tmp_path, dst, err);
	if (r < 0)
		return r;
	*strrchr(dst, '/') = '\0';
	return dew_fsync_dir(dst, err);
}

/* Store a temporary file as a blob named by its own hash (see blobs.h). */
int blobs_commit(struct blobs *b, enum blob_kind kind, const char *tmp_path, char sha256[65], uint64_t *size,
		 struct dew_error **err)
{
	uint64_t n = 0;
	int r = commit(b, kind, tmp_path, sha256, &n, err);

	if (r < 0) {
		/* Gone already when only the final directory fsync failed. */
		unlink(tmp_path);
		return dew_error_prefix(err, "store blob");
	}
	if (size)
		*size = n;
	return 0;
}
