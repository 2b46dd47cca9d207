// SPDX-License-Identifier: MIT
/*
 * Unit tests of runtime/resolve.c: a table of paths (symlink loops, absolute symlinks, ".."
 * escapes, magic links, files where directories belong) resolved below a private temp dir, both
 * through dewrt__resolve_in_root (openat2 where the kernel has it) and the symlink-refusing walk.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"
#include "tap.h"

/*
 * One path and what each resolver must make of it: a path relative to the temp root whose
 * inode the result must be ("" for the root itself), or NULL and a positive errno.
 */
static const struct {
	const char *path;
	int flags;
	const char *in_root; /* openat2(RESOLVE_IN_ROOT) */
	int in_root_errno;
	const char *walk; /* the fallback: no symlink at all */
	int walk_errno;
} cases[] = {
	{ "a/b/c", 0, "a/b/c", 0, "a/b/c", 0 },
	{ "/a/./b//c/", O_DIRECTORY, "a/b/c", 0, "a/b/c", 0 },
	{ "", 0, "", 0, "", 0 },
	{ "/", O_DIRECTORY, "", 0, "", 0 },
	{ "../../etc/passwd", 0, "etc/passwd", 0, "etc/passwd", 0 },
	{ "a/../../../etc", 0, "etc", 0, "etc", 0 },
	{ "abs", 0, "etc", 0, NULL, ELOOP },		    /* abs -> /etc */
	{ "abs/passwd", 0, "etc/passwd", 0, NULL, ELOOP },  /* through an absolute symlink */
	{ "absmissing", 0, NULL, ENOENT, NULL, ELOOP },	    /* -> /no-such-dir (exists on no host) */
	{ "rel", 0, "a/b", 0, NULL, ELOOP },		    /* rel -> a/b */
	{ "esc", 0, "", 0, NULL, ELOOP },		    /* esc -> ../../../.. */
	{ "a/up/passwd", 0, "etc/passwd", 0, NULL, ELOOP }, /* a/up -> ../../../etc */
	{ "host", 0, NULL, ENOENT, NULL, ELOOP },	    /* host -> the temp dir's host path */
	{ "loop1", 0, NULL, ELOOP, NULL, ELOOP },	    /* loop1 -> loop2 -> loop1 */
	{ "loop1/x", 0, NULL, ELOOP, NULL, ELOOP },
	{ "f", O_DIRECTORY, NULL, ENOTDIR, NULL, ENOTDIR },
	{ "f/x", 0, NULL, ENOTDIR, NULL, ENOTDIR },
	{ "missing", 0, NULL, ENOENT, NULL, ENOENT },
	{ "a/missing/x", 0, NULL, ENOENT, NULL, ENOENT },
	{ "f", O_CREAT, NULL, EINVAL, NULL, EINVAL },
};

static void must(bool ok, const char *what)
{
	if (!ok) {
		printf("Bail out! %s: %s\n", what, strerror(errno));
		exit(1);
	}
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* The tree every case resolves in; root is a host temp dir, so "host" points back at it. */
static void build_tree(const char *root)
{
	cleanup_free char *host = xasprintf("%s/a", root);
	static const char *const dirs[] = { "a", "a/b", "a/b/c", "etc" };
	static const struct {
		const char *name, *target;
	} links[] = {
		{ "abs", "/etc" },	    { "absmissing", "/no-such-dir-dewrt" },
		{ "rel", "a/b" },	    { "esc", "../../../.." },
		{ "a/up", "../../../etc" }, { "loop1", "loop2" },
		{ "loop2", "loop1" },
	};
	char path[4096];

	for (size_t i = 0; i < DEW_ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
		must(mkdir(path, 0755) == 0, "mkdir");
	}
	for (size_t i = 0; i < DEW_ARRAY_SIZE(links); i++) {
		snprintf(path, sizeof path, "%s/%s", root, links[i].name);
		must(symlink(links[i].target, path) == 0, "symlink");
	}
	snprintf(path, sizeof path, "%s/host", root);
	must(symlink(host, path) == 0, "symlink");
	snprintf(path, sizeof path, "%s/f", root);
	must(close(open(path, O_CREAT | O_WRONLY, 0644)) == 0, "create f");
	snprintf(path, sizeof path, "%s/etc/passwd", root);
	must(close(open(path, O_CREAT | O_WRONLY, 0644)) == 0, "create etc/passwd");
}

/* Whether fd is the object at root/want. */
static bool same_file(int fd, const char *root, const char *want)
{
	cleanup_free char *path = xasprintf("%s/%s", root, want);
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void check(const char *name, int fd, const char *root, const char *path, const char *want,
		  int want_errno)
{
	if (want)
		tap_ok(fd >= 0 && same_file(fd, root, want), "%s: `%s` resolves to `/%s` (got %d)", name,
		       path, want, fd);
	else
		tap_is_int(fd, -want_errno, "%s: `%s` is %s", name, path, strerror(want_errno));
	if (fd >= 0)
		close(fd);
}

static bool have_openat2(void)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);

	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

/* Magic links jump out of any root: both resolvers must refuse them, even below "/". */
static void test_magic_links(bool openat2)
{
	cleanup_close int slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int dir = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char fdlink[64];
	static const char *const paths[] = { "proc/self/root/etc", "proc/thread-self/cwd", "proc/self/exe" };

	must(slash >= 0 && dir >= 0, "open / and /tmp");
	for (size_t i = 0; i < DEW_ARRAY_SIZE(paths); i++) {
		check("in root", dewrt__resolve_in_root(slash, paths[i], 0), "/", paths[i], NULL, ELOOP);
		check("walk", dewrt__resolve_walk(slash, paths[i], 0), "/", paths[i], NULL, ELOOP);
	}
	snprintf(fdlink, sizeof fdlink, "proc/%d/fd/%d", (int)getpid(), dir);
	check("in root", dewrt__resolve_in_root(slash, fdlink, 0), "/", fdlink, NULL, ELOOP);
	check("walk", dewrt__resolve_walk(slash, fdlink, 0), "/", fdlink, NULL, ELOOP);
	if (!openat2)
		tap_diag("no openat2 here: dewrt__resolve_in_root fell back to the walk");
}

int main(void)
{
	char tmpl[] = "/tmp/dewrt-resolve-XXXXXX";
	char *root = mkdtemp(tmpl);
	bool openat2 = have_openat2();

	must(root != NULL, "mkdtemp");
	build_tree(root);
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(fd >= 0, "open root");

	for (size_t i = 0; i < DEW_ARRAY_SIZE(cases); i++) {
		const char *want = openat2 ? cases[i].in_root : cases[i].walk;
		int want_errno = openat2 ? cases[i].in_root_errno : cases[i].walk_errno;
		check("in root", dewrt__resolve_in_root(fd, cases[i].path, cases[i].flags), root,
		      cases[i].path, want, want_errno);
		check("walk", dewrt__resolve_walk(fd, cases[i].path, cases[i].flags), root, cases[i].path,
		      cases[i].walk, cases[i].walk_errno);
	}
	test_magic_links(openat2);

	close(fd);
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	tap_ok(access(root, F_OK) < 0 && errno == ENOENT, "temp dir removed");
	return tap_done();
}
