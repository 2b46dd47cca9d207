/* SPDX-License-Identifier: MIT */
/*
 * File helpers for state that must survive crashes: atomic replacement of a file, directory
 * fsync, writes that finish, mkdir -p, and bounded reads of small files (config, state JSON, pid
 * files).
 */
#ifndef DEW_FS_H
#define DEW_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/*
 * Replace path with len bytes of data so that a reader (or a crash) sees either the old content
 * or the new, never a mix: write a temporary file in the same directory, give it exactly mode
 * (fchmod, so the umask does not apply), fsync it, rename it over path and fsync the directory.
 * Returns 0, or a negative errno with *err set; on failure the temporary file is removed and
 * the old file is untouched (except when only the final directory fsync fails: the new content
 * is then in place but may not be durable yet).
 */
int dew_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			  struct dew_error **err);

/*
 * The same replacement without fsync: readers still see the old or the new content, never a
 * mix, but a crash may lose the write. For volatile state (/run), where durability buys nothing.
 */
int dew_write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
			   struct dew_error **err);

/*
 * fsync the directory dir, so that a rename or a new entry in it survives a crash. File systems
 * that cannot fsync a directory (EINVAL) need nothing more and count as success. Returns 0 or a
 * negative errno with *err set.
 */
int dew_fsync_dir(const char *dir, struct dew_error **err);

/* write(2) all len bytes of data to fd, retrying on EINTR and short writes. Returns 0 or -errno. */
int dew_write_all(int fd, const void *data, size_t len);

/*
 * pwrite(2) all len bytes of data to fd at off, retrying on EINTR and short writes. Returns 0 or
 * -errno (-EINVAL for a negative off).
 */
int dew_pwrite_all(int fd, const void *data, size_t len, off_t off);

/*
 * Remove path and everything below it, never following a symlink and never crossing into
 * another mounted file system. A missing path is fine. Returns 0 or -errno with *err set.
 */
int dew_remove_tree(const char *path, struct dew_error **err);

/*
 * Create path and any missing parents with mode (subject to the umask). Directories that
 * already exist are fine; a non-directory in the way is -ENOTDIR with *err naming it.
 */
int dew_mkdir_p(const char *path, mode_t mode, struct dew_error **err);

/*
 * Read all of path into *data (allocated, NUL-terminated; the caller frees it) and its length
 * into *len (which may be NULL). A file of more than max bytes is -EFBIG with *err set to
 * "file `path` is larger than max bytes". Works on pipes and /proc files too.
 */
int dew_read_file(const char *path, size_t max, char **data, size_t *len, struct dew_error **err);

#endif
