/* SPDX-License-Identifier: MIT */
/*
 * The target directory of dewrt_extract() (private to extract.c and extract-tree.c). Every
 * entry is created relative to the directory's fd, walking one component at a time with
 * O_NOFOLLOW, so no symlink in the tree, planted by the archive or not, is ever followed.
 */
#ifndef DEWRT_EXTRACT_TREE_H
#define DEWRT_EXTRACT_TREE_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct dewrt__tree;

/*
 * Open dir as the target, creating it (mode 0755) when missing; an existing dir must be an
 * empty directory and not a symlink (-ENOTEMPTY, -ENOTDIR). *out is released by tree_close.
 */
int dewrt__tree_open(const char *dir, struct dewrt__tree **out, struct dew_error **err);

/*
 * Release the tree. With rollback, first remove everything written into it and dir itself when
 * tree_open created it (an existing dir is left empty). 0, or the -errno of the rollback.
 */
int dewrt__tree_close(struct dewrt__tree *t, bool rollback);

/*
 * The operations take normalized names relative to the target ("a/b/c": no empty, "." or ".."
 * components, no leading "/", at most DEWRT__DEPTH_MAX components); missing parents are
 * created with mode 0755; a symlink or non-directory on the way is an error naming it.
 */
enum { DEWRT__DEPTH_MAX = 256 };

/* Create (or re-mode) a directory: perm & 0777, plus u+rwx so the tree stays removable. */
int dewrt__tree_mkdir(struct dewrt__tree *t, const char *path, mode_t perm, struct dew_error **err);

/*
 * Create a regular file (mode 0600) and return an fd open for writing; the caller closes it.
 * An earlier regular file of that name is replaced; a symlink or directory there is an error.
 */
int dewrt__tree_create(struct dewrt__tree *t, const char *path, struct dew_error **err);

/* Create a symlink (the caller has checked where target points; it is never followed here). */
int dewrt__tree_symlink(struct dewrt__tree *t, const char *path, const char *target, struct dew_error **err);

/* Hard-link path to target, which must be a regular file already in the tree. */
int dewrt__tree_link(struct dewrt__tree *t, const char *path, const char *target, struct dew_error **err);

/*
 * A copy of an archive-supplied name that is safe in a message or a log line: bytes outside
 * printable ASCII and the backquote become \xNN; long names are cut. The caller frees it.
 */
char *dewrt__printable(const char *s);

#endif
