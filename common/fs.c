// SPDX-License-Identifier: MIT
/*
 * Atomic file replacement, whole writes, directory fsync, mkdir -p and bounded whole-file reads.
 * State files are rewritten through a temporary file and rename(2) so a crash never leaves a
 * half-written file behind.
 */
#include "fs.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

/* write(2) all of data, or pwrite(2) it at off when off >= 0, retrying on EINTR and short writes. */
static int write_fully(int fd, const void *data, size_t len, off_t off)
{
	const char *p = data;

	while (len > 0) {
		ssize_t k = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		len -= (size_t)k;
		if (off >= 0)
			off += k;
	}
	return 0;
}

/* Write all of data (see fs.h). */
int dew_write_all(int fd, const void *data, size_t len)
{
	return write_fully(fd, data, len, -1);
}

/* Write all of data at off (see fs.h). */
int dew_pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	return off < 0 ? -EINVAL : write_fully(fd, data, len, off);
}

/* Fill the temporary file fd (named tmp) and, with sync, make its content durable. */
static int fill_temp(int fd, const char *tmp, const void *data, size_t len, mode_t mode, bool sync,
		     struct dew_error **err)
{
	int r;

	if (fchmod(fd, mode) < 0)
		return dew_error_set(err, errno, "chmod `%s`", tmp);
	r = dew_write_all(fd, data, len);
	if (r < 0)
		return dew_error_set(err, -r, "write `%s`", tmp);
	if (sync && fsync(fd) < 0)
		return dew_error_set(err, errno, "fsync `%s`", tmp);
	return 0;
}

/* fsync a directory so a rename in it is durable (see fs.h). */
int dew_fsync_dir(const char *dir, struct dew_error **err)
{
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return dew_error_set(err, errno, "open directory `%s`", dir);
	/* Some file systems cannot fsync a directory (EINVAL); their renames need nothing more. */
	if (fsync(fd) < 0 && errno != EINVAL)
		return dew_error_set(err, errno, "fsync directory `%s`", dir);
	return 0;
}

/* Write data to path via a temporary file, fsync (with sync) and rename (see fs.h). */
static int write_replace(const char *path, const void *data, size_t len, mode_t mode, bool sync,
			 struct dew_error **err)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	cleanup_free char *dir = NULL;
	cleanup_free char *tmp = NULL;
	int r;

	if (*base == '\0')
		return dew_error_set(err, 0, "write `%s`: not a file name", path);
	if (!slash)
		dir = xstrdup(".");
	else
		dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
	/* A dot file in the same directory: same file system, so rename(2) is atomic. */
	tmp = xasprintf("%.*s.%s.XXXXXX", (int)(base - path), path, base);

	cleanup_close int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return dew_error_set(err, errno, "write `%s`: create temporary file in `%s`", path, dir);
	r = fill_temp(fd, tmp, data, len, mode, sync, err);
	if (r == 0 && close(steal_fd(&fd)) < 0)
		r = dew_error_set(err, errno, "close `%s`", tmp);
	if (r == 0 && rename(tmp, path) < 0)
		r = dew_error_set(err, errno, "rename `%s` over `%s`", tmp, path);
	if (r < 0) {
		unlink(tmp);
		dew_error_prefix(err, "write `%s`", path);
		return r;
	}
	r = sync ? dew_fsync_dir(dir, err) : 0;
	if (r < 0)
		dew_error_prefix(err, "write `%s`", path);
	return r;
}

int dew_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, struct dew_error **err)
{
	return write_replace(path, data, len, mode, true, err);
}

int dew_write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
			   struct dew_error **err)
{
	return write_replace(path, data, len, mode, false, err);
}

/* Create one directory of dew_mkdir_p(); an existing directory is fine. */
static int mkdir_one(const char *dir, const char *path, mode_t mode, struct dew_error **err)
{
	struct stat st;

	if (mkdir(dir, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return dew_error_set(err, errno, "create directory `%s`", dir);
	/* stat, not lstat: a symlink to a directory is a directory for our purposes. */
	if (stat(dir, &st) < 0)
		return dew_error_set(err, errno, "create directory `%s`: stat `%s`", path, dir);
	if (!S_ISDIR(st.st_mode))
		return dew_error_set_code(err, ENOTDIR, "create directory `%s`: `%s` is not a directory",
					  path, dir);
	return 0;
}

/* Create path and its missing parents (see fs.h). */
int dew_mkdir_p(const char *path, mode_t mode, struct dew_error **err)
{
	if (*path == '\0')
		return dew_error_set(err, 0, "create directory: empty path");

	cleanup_free char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		/* Skip the empty components of "a//b" and "a/". */
		if (s[-1] != '/') {
			int r = mkdir_one(p, path, mode, err);
			if (r < 0)
				return r;
		}
		*s = c;
		if (c == '\0')
			return 0;
	}
}

/* Read fd into a new buffer until EOF or until more than max bytes arrived. */
static int read_bounded(int fd, const char *path, size_t max, size_t hint, char **data, size_t *len,
			struct dew_error **err)
{
	/* Try to read one byte past max: that is how a too-large pipe or /proc file shows. */
	size_t limit = max < SIZE_MAX - 1 ? max + 1 : SIZE_MAX - 1;
	size_t cap = hint && hint <= limit ? hint : (limit < 4096 ? limit : 4096);
	size_t n = 0;
	cleanup_free char *buf = xmalloc(cap + 1);

	for (;;) {
		if (n == cap) {
			if (cap == limit)
				break;
			cap = cap < limit / 2 ? cap * 2 : limit;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t k = read(fd, buf + n, cap - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return dew_error_set(err, errno, "read `%s`", path);
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > max)
		return dew_error_set_code(err, EFBIG, "file `%s` is larger than %zu bytes", path, max);
	buf[n] = '\0';
	*data = steal_pointer(&buf);
	if (len)
		*len = n;
	return 0;
}

/* Read a whole file of at most max bytes (see fs.h). */
int dew_read_file(const char *path, size_t max, char **data, size_t *len, struct dew_error **err)
{
	struct stat st;
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return dew_error_set(err, errno, "open `%s`", path);
	if (fstat(fd, &st) < 0)
		return dew_error_set(err, errno, "stat `%s`", path);
	/* Refuse early when the size is known; read_bounded() still enforces max for files that
	 * grow meanwhile and for those whose size is not known in advance. */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
		return dew_error_set_code(err, EFBIG, "file `%s` is larger than %zu bytes", path, max);
	size_t hint = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 0;
	return read_bounded(fd, path, max, hint, data, len, err);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int dew_remove_tree(const char *path, struct dew_error **err)
{
	struct stat sb;
	if (lstat(path, &sb) < 0 && errno == ENOENT)
		return 0;
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return dew_error_set(err, errno, "remove `%s`", path);
	return 0;
}
