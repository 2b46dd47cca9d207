// SPDX-License-Identifier: MIT
/*
 * The app directory of `dew push` (walk.h): a depth-first walk with openat/fstatat from one
 * directory descriptor per level, so a name is never re-resolved from the root and a symlink is
 * never followed. Everything the controller would refuse (links out of the app, special files)
 * is refused here, before anything is sent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "archive-path.h"
#include "ignore.h"
#include "walk.h"

enum {
	WALK_MAX_DEPTH = 128,
	WALK_MAX_LINK = 4096,
};

struct walker {
	struct ignore *ig;
	struct walk_list *out;
	struct dew_error **err;
};

static void walk_add(struct walk_list *l, struct walk_entry e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = e;
	if (e.type == WALK_FILE) {
		l->files++;
		l->bytes += e.size;
	} else {
		l->links++;
	}
}

/* Skipped whatever the ignore files say: version control, and at the top the push's own files. */
static bool walk_always_skipped(const char *name, size_t depth)
{
	if (!strcmp(name, ".git"))
		return true;
	return depth == 0 &&
	       (!strcmp(name, ".dewignore") || !strcmp(name, ".cfignore") || !strcmp(name, "manifest.yml"));
}

/* A symlink at rel (depth directories below the root): its target, checked to stay inside. */
static int walk_link(struct walker *w, int dirfd, const char *name, const char *rel, size_t depth)
{
	char target[WALK_MAX_LINK + 1];
	ssize_t n = readlinkat(dirfd, name, target, sizeof target);
	if (n < 0)
		return dew_error_set(w->err, errno, "read the symlink `%s`", rel);
	if ((size_t)n > WALK_MAX_LINK)
		return dew_error_set(w->err, 0, "the symlink `%s` has a target over %d bytes", rel,
				     WALK_MAX_LINK);
	target[n] = '\0';
	enum dew_path_refusal why = dew_archive_symlink_check(target, depth, WALK_MAX_LINK);
	if (why != DEW_PATH_OK)
		return dew_error_set(w->err, 0,
				     "the symlink `%s` points outside the app (`%s`: %s): "
				     "copy what it points to into the app, or list it in .dewignore",
				     rel, target, dew_archive_refusal(why, DEW_ARCHIVE_UPLOAD));
	walk_add(w->out,
		 (struct walk_entry){
			 .path = xstrdup(rel), .target = xstrdup(target), .type = WALK_LINK, .mode = 0777 });
	return 0;
}

static int walk_dir(struct walker *w, int dirfd, const char *prefix, size_t depth);

/* One entry of a directory. */
static int walk_one(struct walker *w, int dirfd, const char *name, const char *prefix, size_t depth)
{
	struct stat st;
	if (walk_always_skipped(name, depth))
		return 0;
	cleanup_free char *rel = *prefix ? xasprintf("%s/%s", prefix, name) : xstrdup(name);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return dew_error_set(w->err, errno, "stat `%s`", rel);
	bool is_dir = S_ISDIR(st.st_mode);
	if (ignore_match(w->ig, rel, is_dir))
		return 0;
	if (is_dir) {
		if (depth + 1 >= WALK_MAX_DEPTH)
			return dew_error_set(w->err, 0, "`%s` is more than %d directories deep", rel,
					     WALK_MAX_DEPTH);
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return dew_error_set(w->err, errno, "open the directory `%s`", rel);
		int r = walk_dir(w, fd, rel, depth + 1); /* closes fd */
		return r;
	}
	if (S_ISLNK(st.st_mode))
		return walk_link(w, dirfd, name, rel, depth);
	if (!S_ISREG(st.st_mode))
		return dew_error_set(w->err, 0,
				     "`%s` is a %s: an app holds files, directories and symlinks only", rel,
				     dew_archive_type_name(st.st_mode & S_IFMT));
	walk_add(w->out, (struct walk_entry){
				 .path = steal_pointer(&rel),
				 .type = WALK_FILE,
				 .mode = (st.st_mode & S_IXUSR) ? 0755 : 0644,
				 .size = (uint64_t)st.st_size,
				 .dev = (uint64_t)st.st_dev,
				 .ino = (uint64_t)st.st_ino,
				 .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
				 .ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec });
	return 0;
}

/* Every entry of the directory open at dirfd (taken: closed here), named prefix. */
static int walk_dir(struct walker *w, int dirfd, const char *prefix, size_t depth)
{
	DIR *d = fdopendir(dirfd);
	if (!d) {
		int e = errno;
		close(dirfd);
		return dew_error_set(w->err, e, "read the directory `%s`", *prefix ? prefix : ".");
	}
	int r = 0;
	struct dirent *de;
	errno = 0;
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = walk_one(w, dirfd, de->d_name, prefix, depth);
		errno = 0;
	}
	if (r == 0 && errno)
		r = dew_error_set(w->err, errno, "read the directory `%s`", *prefix ? prefix : ".");
	closedir(d);
	return r;
}

static int walk_cmp(const void *a, const void *b)
{
	return strcmp(((const struct walk_entry *)a)->path, ((const struct walk_entry *)b)->path);
}

int walk_app(const char *root, struct walk_list *out, struct dew_error **err)
{
	*out = (struct walk_list){ 0 };
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return dew_error_set(err, errno, "open the app directory `%s`", root);
	struct walker w = { .ig = ignore_new(), .out = out, .err = err };
	cleanup_free char *dewignore = xasprintf("%s/.dewignore", root);
	cleanup_free char *cfignore = xasprintf("%s/.cfignore", root);
	int r = ignore_add_file(w.ig, cfignore, err);
	if (r == 0)
		r = ignore_add_file(w.ig, dewignore, err);
	if (r == 0)
		r = walk_dir(&w, fd, "", 0);
	else
		close(fd);
	ignore_free(w.ig);
	if (r < 0) {
		walk_list_free(out);
		return r;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), walk_cmp);
	return 0;
}

void walk_list_free(struct walk_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].target);
	}
	free(l->v);
	*l = (struct walk_list){ 0 };
}
