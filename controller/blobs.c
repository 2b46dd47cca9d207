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
	char *tmp;   /* dir/tmp */
	int pool_fd; /* dir/pool, for the lookups of resource_match */
};

static const char *const kind_dirs[] = {
	[BLOB_POOL] = "pool",
	[BLOB_PACKAGE] = "packages",
	[BLOB_DROPLET] = "droplets",
	[BLOB_MANIFEST] = "manifests",
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

	b->pool_fd = -1;
	b->dir = xstrdup(dir);
	b->tmp = xasprintf("%s/tmp", dir);
	r = dew_mkdir_p(b->tmp, 0700, err);
	for (size_t i = 0; r == 0 && i < DEW_ARRAY_SIZE(kind_dirs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, kind_dirs[i]);
		r = dew_mkdir_p(p, 0700, err);
	}
	if (r == 0)
		r = clear_tmp(b->tmp, err);
	if (r == 0) {
		cleanup_free char *pool = xasprintf("%s/pool", dir);
		b->pool_fd = open(pool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (b->pool_fd < 0)
			r = dew_error_set(err, errno, "open directory `%s`", pool);
	}
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
	if (b->pool_fd >= 0)
		close(b->pool_fd);
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
	struct stat st;

	if (kind == BLOB_POOL) {
		/* Relative to pool/ and without an allocation: resource_match asks 10,000 times. */
		char rel[2 + 1 + 2 + 1 + DEW_SHA256_HEX_LEN + 1];
		if (!dew_sha256_is_hex(sha256))
			return false;
		snprintf(rel, sizeof(rel), "%.2s/%.2s/%s", sha256, sha256 + 2, sha256);
		if (fstatat(b->pool_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return false;
		return size == UINT64_MAX || (uint64_t)st.st_size == size;
	}
	cleanup_free char *p = blobs_path(b, kind, sha256);
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

/* Hash the whole file fd from its first byte. */
static int hash_fd(int fd, const char *path, char sha256[65], uint64_t *size, struct dew_error **err)
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
	return 0;
}

/* Hash the whole file fd and make it durable. */
static int hash_and_sync(int fd, const char *path, char sha256[65], uint64_t *size, struct dew_error **err)
{
	int r = hash_fd(fd, path, sha256, size, err);

	if (r == 0 && fsync(fd) < 0)
		return dew_error_set(err, errno, "fsync `%s`", path);
	return r;
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

/* Directories whose new entries must be made durable (a batch's), each listed once at the end. */
struct dir_set {
	char **v;
	size_t n, cap;
};

static void dir_set_add(struct dir_set *d, const char *dir)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->v = xreallocarray(d->v, d->cap, sizeof(*d->v));
	}
	d->v[d->n++] = xstrdup(dir);
}

static void dir_set_close(struct dir_set *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	*d = (struct dir_set){ 0 };
}

/*
 * Create pool/ab and pool/ab/cd for sha256 where missing, each new entry made durable at once
 * (later, when its parent is recorded in later instead).
 */
static int pool_dirs(struct blobs *b, const char *sha256, struct dir_set *later, struct dew_error **err)
{
	cleanup_free char *pool = xasprintf("%s/pool", b->dir);
	cleanup_free char *ab = xasprintf("%s/%.2s", pool, sha256);
	cleanup_free char *abcd = xasprintf("%s/%.2s", ab, sha256 + 2);
	const char *dirs[] = { pool, ab, abcd };

	for (size_t i = 1; i < DEW_ARRAY_SIZE(dirs); i++) {
		if (mkdir(dirs[i], 0700) == 0) {
			int r = later ? 0 : dew_fsync_dir(dirs[i - 1], err);
			if (later)
				dir_set_add(later, dirs[i - 1]);
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
		r = pool_dirs(b, sha256, NULL, err);
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

/* Store a manifest under the hash of its package (see blobs.h). */
int blobs_commit_manifest(struct blobs *b, const char *tmp_path, const char *sha256, struct dew_error **err)
{
	cleanup_free char *dst = blobs_path(b, BLOB_MANIFEST, sha256);
	cleanup_close int fd = open(tmp_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	int r;

	if (!dst)
		r = dew_error_set_code(err, EINVAL, "`%s` is not a hash", sha256);
	else if (fd < 0 || fsync(fd) < 0)
		r = dew_error_set(err, errno, "fsync `%s`", tmp_path);
	else
		r = place(tmp_path, dst, err);
	if (r == 0) {
		*strrchr(dst, '/') = '\0';
		return dew_fsync_dir(dst, err);
	}
	unlink(tmp_path);
	return dew_error_prefix(err, "store manifest");
}

/* ---- batches ---- */

enum {
	BATCH_KEEP_FDS = 64,   /* files kept open for their fsync; later ones are opened again */
	BATCH_SYNC_EACH = 256, /* above this many files one syncfs replaces the fsyncs */
	ZERO_BLOCK = 64 << 10,
};

struct batch_file {
	char *tmp; /* NULL once in the pool */
	int fd;	   /* -1 once closed */
	char sha256[65];
};

struct blobs_batch {
	struct blobs *b;
	struct batch_file *files;
	size_t n, cap;
	bool open; /* files[n - 1] is being written */
	struct dew_sha256 hash;
	uint64_t hashed; /* bytes of the open file hashed, in order */
	uint64_t end;	 /* bytes of the open file written (its length) */
	bool unordered;	 /* a write went back: hash the file itself at close */
};

/* A new, empty batch (see blobs.h). */
struct blobs_batch *blobs_batch_new(struct blobs *b)
{
	struct blobs_batch *bt = xzalloc(sizeof(*bt));

	bt->b = b;
	return bt;
}

/* Free a batch and what it did not commit (see blobs.h). */
void blobs_batch_free(struct blobs_batch *bt)
{
	if (!bt)
		return;
	if (bt->open)
		dew_sha256_close(&bt->hash);
	for (size_t i = 0; i < bt->n; i++) {
		if (bt->files[i].fd >= 0)
			close(bt->files[i].fd);
		if (bt->files[i].tmp)
			unlink(bt->files[i].tmp);
		free(bt->files[i].tmp);
	}
	free(bt->files);
	free(bt);
}

/* Start the next file of the batch (see blobs.h). */
int blobs_batch_open(struct blobs_batch *bt, struct dew_error **err)
{
	char *tmp = NULL;
	int fd;

	if (bt->open)
		return dew_error_set_code(err, EINVAL, "a batch file is open already");
	fd = blobs_tmp(bt->b, &tmp, err);
	if (fd < 0)
		return fd;
	if (bt->n == bt->cap) {
		bt->cap = bt->cap ? 2 * bt->cap : 16;
		bt->files = xreallocarray(bt->files, bt->cap, sizeof(*bt->files));
	}
	bt->files[bt->n++] = (struct batch_file){ .tmp = tmp, .fd = fd };
	bt->open = true;
	bt->hashed = bt->end = 0;
	bt->unordered = false;
	dew_sha256_init(&bt->hash);
	return 0;
}

/* Hash zeros from the hashed end up to off: a hole of a sparse file. */
static void hash_zeros(struct blobs_batch *bt, uint64_t off)
{
	static const char zeros[ZERO_BLOCK];

	while (bt->hashed < off) {
		uint64_t n = off - bt->hashed < ZERO_BLOCK ? off - bt->hashed : ZERO_BLOCK;
		dew_sha256_update(&bt->hash, zeros, (size_t)n);
		bt->hashed += n;
	}
}

/* Write and hash a piece of the open file (see blobs.h). */
int blobs_batch_write(struct blobs_batch *bt, const void *data, size_t len, uint64_t off,
		      struct dew_error **err)
{
	struct batch_file *f;
	int r;

	if (!bt->open || off > (uint64_t)INT64_MAX - len)
		return dew_error_set_code(err, EINVAL, "write to a batch: bad offset or no file open");
	f = &bt->files[bt->n - 1];
	r = dew_pwrite_all(f->fd, data, len, (off_t)off);
	if (r < 0)
		return dew_error_set(err, -r, "write `%s`", f->tmp);
	/* The bytes hashed are the very bytes just written: the name is of the content stored. */
	if (off < bt->hashed) {
		bt->unordered = true;
	} else if (!bt->unordered) {
		hash_zeros(bt, off);
		dew_sha256_update(&bt->hash, data, len);
		bt->hashed += len;
	}
	if (off + len > bt->end)
		bt->end = off + len;
	return 0;
}

/* Finish the open file (see blobs.h). */
int blobs_batch_close(struct blobs_batch *bt, uint64_t size, char sha256[65], uint64_t *stored,
		      struct dew_error **err)
{
	struct batch_file *f;
	struct stat st;
	int r = 0;

	if (!bt->open)
		return dew_error_set_code(err, EINVAL, "close in a batch: no file open");
	f = &bt->files[bt->n - 1];
	bt->open = false;
	if (size > bt->end && ftruncate(f->fd, (off_t)size) < 0)
		r = dew_error_set(err, errno, "truncate `%s`", f->tmp);
	if (r == 0 && fstat(f->fd, &st) < 0)
		r = dew_error_set(err, errno, "stat `%s`", f->tmp);
	if (r < 0) {
		dew_sha256_close(&bt->hash);
		return r;
	}
	if (!bt->unordered)
		hash_zeros(bt, (uint64_t)st.st_size);
	if (bt->unordered || bt->hashed != (uint64_t)st.st_size) {
		dew_sha256_close(&bt->hash);
		r = hash_fd(f->fd, f->tmp, f->sha256, stored, err);
	} else {
		dew_sha256_final(&bt->hash, f->sha256);
		*stored = bt->hashed;
	}
	if (r < 0)
		return r;
	memcpy(sha256, f->sha256, sizeof(f->sha256));
	/* Start the write-back now, so that the fsync at the commit mostly finds it done. */
	sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	if (bt->n > BATCH_KEEP_FDS) {
		close(f->fd);
		f->fd = -1;
	}
	return 0;
}

/* Make the data of every file durable: an fsync each, or one syncfs for many. */
static int batch_sync_files(struct blobs_batch *bt, struct dew_error **err)
{
	if (bt->n > BATCH_SYNC_EACH) {
		cleanup_close int fd = open(bt->b->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd) < 0)
			return dew_error_set(err, errno, "syncfs `%s`", bt->b->tmp);
		return 0;
	}
	for (size_t i = 0; i < bt->n; i++) {
		struct batch_file *f = &bt->files[i];
		cleanup_close int fd = f->fd >= 0 ? -1 : open(f->tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fsync(f->fd >= 0 ? f->fd : fd) < 0)
			return dew_error_set(err, errno, "fsync `%s`", f->tmp);
	}
	return 0;
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Make the new entries of each directory in d durable, once per directory. */
static int batch_sync_dirs(struct blobs_batch *bt, struct dir_set *d, struct dew_error **err)
{
	if (bt->n > BATCH_SYNC_EACH) {
		cleanup_close int fd = open(bt->b->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd) < 0)
			return dew_error_set(err, errno, "syncfs `%s`", bt->b->tmp);
		return 0;
	}
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), str_cmp);
	for (size_t i = 0; i < d->n; i++) {
		int r = i > 0 && strcmp(d->v[i], d->v[i - 1]) == 0 ? 0 : dew_fsync_dir(d->v[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Commit the batch (see blobs.h). The data is durable before any rename, so a crash never
 * leaves a pool name on content that did not reach the disk; the renames are durable before
 * this returns, so a package never refers to a pool file that a crash could take back.
 */
int blobs_batch_commit(struct blobs_batch *bt, struct dew_error **err)
{
	struct dir_set later = { 0 };
	int r = bt->open ? dew_error_set_code(err, EINVAL, "commit a batch with a file open") : 0;

	if (r == 0)
		r = batch_sync_files(bt, err);
	for (size_t i = 0; r == 0 && i < bt->n; i++) {
		struct batch_file *f = &bt->files[i];
		cleanup_free char *dst = blobs_path(bt->b, BLOB_POOL, f->sha256);
		r = pool_dirs(bt->b, f->sha256, &later, err);
		if (r == 0)
			r = place(f->tmp, dst, err);
		if (r < 0)
			break;
		free(steal_pointer(&f->tmp));
		*strrchr(dst, '/') = '\0';
		dir_set_add(&later, dst);
	}
	if (r == 0)
		r = batch_sync_dirs(bt, &later, err);
	dir_set_close(&later);
	return r < 0 ? dew_error_prefix(err, "store pool blobs") : 0;
}
