// SPDX-License-Identifier: MIT
/*
 * The target directory of dewrt_extract(): creation of directories, files, symlinks and hard
 * links relative to a directory fd, never following a symlink, and the rollback that empties
 * the directory again when an extraction fails. Path strings are used only for the target
 * itself, which the caller chose; nothing named by the archive is ever resolved by path.
 */
#include "extract-tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

struct dewrt__tree {
	char *dir;
	int root;      /* the target directory */
	bool created;  /* by tree_open, so the rollback removes it */
	char *parent;  /* normalized path of the last parent directory ... */
	int parent_fd; /* ... and that directory, reused while entries share it */
};

static const int DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

/* Printable copy of an archive-supplied name (see extract-tree.h). */
char *dewrt__printable(const char *s)
{
	size_t n = 0, max = 256;

	if (!s)
		return xstrdup("(none)");
	char *out = xmalloc(max * 4 + 4); /* "\xNN" per byte, then "..." and NUL */
	char *p = out;
	for (; *s && n < max; s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '`')
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = (char)c;
	}
	strcpy(p, *s ? "..." : "");
	return out;
}

/* Explain why the existing name comp (shown as path) in dirfd is not a directory we can enter. */
static int not_a_dir(int dirfd, const char *comp, const char *path, int errnum, struct dew_error **err)
{
	struct stat st;

	if ((errnum == ELOOP || errnum == ENOTDIR) && fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return dew_error_set(err, 0, "`%s` is a symlink; refusing to write through it", path);
		return dew_error_set(err, 0, "`%s` is not a directory", path);
	}
	if (errnum == ENOENT)
		return dew_error_set(err, 0, "`%s` does not exist (not extracted yet)", path);
	return dew_error_set(err, errnum, "open directory `%s`", path);
}

/* Open (creating it when missing and create is set) directory comp of fd; -1 with errno. */
static int open_component(int fd, const char *comp, bool create)
{
	int next = openat(fd, comp, DIR_FLAGS);

	if (next >= 0 || errno != ENOENT || !create)
		return next;
	if (mkdirat(fd, comp, 0700) < 0 && errno != EEXIST)
		return -1;
	next = openat(fd, comp, DIR_FLAGS);
	/* fchmod, not the mkdir mode: the umask must not decide what the app sees. */
	if (next >= 0 && fchmod(next, 0755) < 0) {
		int e = errno;
		close(next);
		errno = e;
		return -1;
	}
	return next;
}

/*
 * Open the directory at the first len bytes of path ("" is the root) one component at a time
 * with O_NOFOLLOW, so a symlink anywhere on the way is an error rather than a detour; missing
 * components are created when create is set. Returns a new fd or -errno. A walk by hand rather
 * than openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): missing parents have to be created on
 * the way anyway, and one code path then serves every kernel with the same guarantee.
 */
static int open_dir(struct dewrt__tree *t, const char *path, size_t len, bool create, struct dew_error **err)
{
	cleanup_close int fd = fcntl(t->root, F_DUPFD_CLOEXEC, 3);
	cleanup_free char *p = xstrndup(path, len);

	if (fd < 0)
		return dew_error_set(err, errno, "duplicate directory fd");
	for (char *comp = p; *comp;) {
		char *slash = strchr(comp, '/');
		if (slash)
			*slash = '\0';
		/* Callers pass normalized names; this keeps a slip there from climbing out. */
		if (!*comp || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0)
			return dew_error_set(err, EINVAL, "bad path component");
		int next = open_component(fd, comp, create);
		if (next < 0) {
			int e = errno;
			cleanup_free char *shown = dewrt__printable(p);
			return not_a_dir(fd, comp, shown, e, err);
		}
		close(fd);
		fd = next;
		if (!slash)
			break;
		*slash = '/';
		comp = slash + 1;
	}
	return steal_fd(&fd);
}

/* The directory fd for the parent of path (not to be closed), reusing the previous entry's. */
static int parent_fd(struct dewrt__tree *t, const char *path, const char **leaf, struct dew_error **err)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;

	*leaf = slash ? slash + 1 : path;
	if (!**leaf || strcmp(*leaf, ".") == 0 || strcmp(*leaf, "..") == 0)
		return dew_error_set(err, EINVAL, "bad path component");
	/*
	 * Reuse is safe: directories are never removed or replaced while extracting (entries
	 * that would replace one are refused), so the cached fd still is that path.
	 */
	if (t->parent && strlen(t->parent) == len && memcmp(t->parent, path, len) == 0)
		return t->parent_fd;
	int fd = open_dir(t, path, len, true, err);
	if (fd < 0)
		return fd;
	free(t->parent);
	if (t->parent_fd >= 0)
		close(t->parent_fd);
	t->parent = xstrndup(path, len);
	t->parent_fd = fd;
	return fd;
}

/*
 * Clear the way for a new non-directory at leaf: an earlier regular file or hard link of that
 * name is replaced (tar semantics); an existing symlink or directory is an error, so nothing is
 * ever written through a symlink and directories (which parent_fd caches) never go away.
 */
static int make_room(int pfd, const char *leaf, struct dew_error **err)
{
	struct stat st;

	if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : dew_error_set(err, errno, "stat");
	if (S_ISLNK(st.st_mode))
		return dew_error_set(err, 0, "name is an existing symlink; refusing to write through it");
	if (S_ISDIR(st.st_mode))
		return dew_error_set(err, 0, "name is an existing directory");
	if (unlinkat(pfd, leaf, 0) < 0)
		return dew_error_set(err, errno, "replace the earlier entry");
	return 0;
}

/* Create a directory (see extract-tree.h). */
int dewrt__tree_mkdir(struct dewrt__tree *t, const char *path, mode_t perm, struct dew_error **err)
{
	const char *leaf;
	int pfd = parent_fd(t, path, &leaf, err);

	if (pfd < 0)
		return pfd;
	if (mkdirat(pfd, leaf, 0700) < 0 && errno != EEXIST)
		return dew_error_set(err, errno, "create directory");
	cleanup_close int fd = openat(pfd, leaf, DIR_FLAGS);
	if (fd < 0) {
		int e = errno;
		cleanup_free char *shown = dewrt__printable(path);
		return not_a_dir(pfd, leaf, shown, e, err);
	}
	/*
	 * The owner always keeps rwx: our rollback and the DEA's later removal must be able to
	 * empty the directory whatever mode a hostile archive asked for.
	 */
	if (fchmod(fd, (perm & 0777) | 0700) < 0)
		return dew_error_set(err, errno, "chmod directory");
	return 0;
}

/* Create a regular file and return its fd (see extract-tree.h). */
int dewrt__tree_create(struct dewrt__tree *t, const char *path, struct dew_error **err)
{
	/* O_EXCL|O_NOFOLLOW: whatever is at leaf, a dangling symlink included, is never opened. */
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	const char *leaf;
	int pfd = parent_fd(t, path, &leaf, err);

	if (pfd < 0)
		return pfd;
	int fd = openat(pfd, leaf, flags, 0600);
	if (fd < 0 && errno == EEXIST) {
		int r = make_room(pfd, leaf, err);
		if (r < 0)
			return r;
		fd = openat(pfd, leaf, flags, 0600);
	}
	if (fd < 0)
		return dew_error_set(err, errno, "create");
	return fd;
}

/* Create a symlink (see extract-tree.h). */
int dewrt__tree_symlink(struct dewrt__tree *t, const char *path, const char *target, struct dew_error **err)
{
	const char *leaf;
	int pfd = parent_fd(t, path, &leaf, err);
	int r = pfd < 0 ? pfd : make_room(pfd, leaf, err);

	if (r < 0)
		return r;
	if (symlinkat(target, pfd, leaf) < 0)
		return dew_error_set(err, errno, "create symlink");
	return 0;
}

/*
 * Create a hard link (see extract-tree.h). The target is walked like an entry name, so it is
 * in the tree, and must be a regular file: since the tree started empty, one we extracted.
 */
int dewrt__tree_link(struct dewrt__tree *t, const char *path, const char *target, struct dew_error **err)
{
	cleanup_free char *shown = dewrt__printable(target);
	const char *slash = strrchr(target, '/');
	const char *tleaf = slash ? slash + 1 : target;
	struct stat st;

	cleanup_close int tfd = open_dir(t, target, slash ? (size_t)(slash - target) : 0, false, err);
	if (tfd < 0)
		return dew_error_prefix(err, "hard link target `%s`", shown);
	if (fstatat(tfd, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return dew_error_set(err, 0, "hard link target `%s`: not extracted yet", shown);
		return dew_error_set(err, errno, "hard link target `%s`: stat", shown);
	}
	if (!S_ISREG(st.st_mode))
		return dew_error_set(err, 0, "hard link target `%s`: not a regular file", shown);
	const char *leaf;
	int pfd = parent_fd(t, path, &leaf, err);
	int r = pfd < 0 ? pfd : make_room(pfd, leaf, err);
	if (r < 0)
		return r;
	/* flags 0: linkat does not follow a symlink at the target (there is none: checked above). */
	if (linkat(tfd, tleaf, pfd, leaf, 0) < 0)
		return dew_error_set(err, errno, "hard link to `%s`", shown);
	return 0;
}

/*
 * Remove everything inside directory dfd without following symlinks: each subdirectory is
 * opened O_NOFOLLOW relative to its parent, so the walk cannot leave the tree. One fd per
 * level; extraction bounds the depth.
 */
static int empty_dir(int dfd, int depth)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	while (r == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			continue;
		if (errno != EISDIR || depth > DEWRT__DEPTH_MAX) {
			r = -errno;
			break;
		}
		int sub = openat(fd, de->d_name, DIR_FLAGS);
		if (sub < 0) {
			r = -errno;
			break;
		}
		r = empty_dir(sub, depth + 1);
		close(sub);
		if (r == 0 && unlinkat(fd, de->d_name, AT_REMOVEDIR) < 0)
			r = -errno;
	}
	closedir(d);
	return r;
}

/* Whether directory fd has no entries; 0/1 or -errno. */
static int is_empty(int fd)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
	struct dirent *de;
	int empty = 1;

	if (!d) {
		int e = errno;
		if (dup_fd >= 0)
			close(dup_fd);
		return -e;
	}
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* Open the target directory (see extract-tree.h). */
int dewrt__tree_open(const char *dir, struct dewrt__tree **out, struct dew_error **err)
{
	bool created = mkdir(dir, 0755) == 0;

	if (!created && errno != EEXIST)
		return dew_error_set(err, errno, "create directory `%s`", dir);
	/* O_NOFOLLOW: a symlink planted at dir would send every entry elsewhere. */
	cleanup_close int fd = open(dir, DIR_FLAGS);
	int r = fd < 0 ? -errno : 0;
	if (r == -ELOOP || r == -ENOTDIR)
		r = dew_error_set(err, ENOTDIR, "open directory `%s` (a symlink is refused)", dir);
	else if (r < 0)
		r = dew_error_set(err, -r, "open directory `%s`", dir);
	else if (created && fchmod(fd, 0755) < 0) /* the umask must not decide */
		r = dew_error_set(err, errno, "chmod directory `%s`", dir);
	else if (!created && (r = is_empty(fd)) <= 0)
		r = r < 0 ? dew_error_set(err, -r, "read directory `%s`", dir)
			  : dew_error_set(err, ENOTEMPTY, "target directory `%s`", dir);
	if (r < 0) {
		if (created)
			rmdir(dir);
		return r;
	}
	struct dewrt__tree *t = xzalloc(sizeof *t);
	t->dir = xstrdup(dir);
	t->root = steal_fd(&fd);
	t->created = created;
	t->parent_fd = -1;
	*out = t;
	return 0;
}

/* Release the tree, emptying it first on rollback (see extract-tree.h). */
int dewrt__tree_close(struct dewrt__tree *t, bool rollback)
{
	int r = 0;

	if (!t)
		return 0;
	if (t->parent_fd >= 0)
		close(t->parent_fd);
	if (rollback) {
		r = empty_dir(t->root, 0);
		/* rmdir by path is safe: we made dir, and rmdir neither follows nor removes content. */
		if (r == 0 && t->created && rmdir(t->dir) < 0)
			r = -errno;
	}
	close(t->root);
	free(t->parent);
	free(t->dir);
	free(t);
	return r;
}
