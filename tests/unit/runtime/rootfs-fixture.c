// SPDX-License-Identifier: MIT
/*
 * The stack and temp dir of the container root tests (see rootfs-fixture.h), and the cleanup
 * that unmounts before it deletes: a bind of the host's /usr left below the temp dir must never
 * be deleted through.
 */
#include "rootfs-fixture.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "tap.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "vcap:x:1000:1000:vcap:/home/vcap:/bin/sh\n"
			     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

static void must(bool ok, const char *what, const char *path)
{
	if (!ok) {
		printf("Bail out! %s `%s`: %s\n", what, path, strerror(errno));
		exit(1);
	}
}

static void write_file(const char *path, const char *content)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	must(fd >= 0, "create", path);
	must(write(fd, content, strlen(content)) == (ssize_t)strlen(content), "write", path);
	close(fd);
}

/*
 * The host's /usr, /bin, /sbin, /lib, /lib64 in the stack: a directory becomes a read-only spec
 * mount onto an empty directory; a symlink (merged /usr: bin -> usr/bin) is copied as it is,
 * since it resolves inside the container's root too.
 */
static void add_host_dirs(struct rootfs_fixture *fx)
{
	static const char *const names[] = { "usr", "bin", "sbin", "lib", "lib64" };

	for (size_t i = 0; i < DEW_ARRAY_SIZE(names); i++) {
		cleanup_free char *host = xasprintf("/%s", names[i]);
		cleanup_free char *in_root = xasprintf("%s/%s", fx->root, names[i]);
		char target[4096];
		struct stat st;
		ssize_t n;

		if (lstat(host, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			must((n = readlink(host, target, sizeof target - 1)) > 0, "readlink", host);
			target[n] = '\0';
			must(symlink(target, in_root) == 0, "symlink", in_root);
		} else if (S_ISDIR(st.st_mode)) {
			must(mkdir(in_root, 0755) == 0, "mkdir", in_root);
			struct dewrt_mount *m = &fx->mounts[fx->spec.n_mounts++];
			m->source = xstrdup(host);
			m->target = xasprintf("/%s", names[i]);
			m->readonly = true;
		}
	}
}

/* Build the fixture (see rootfs-fixture.h). */
struct rootfs_fixture *rootfs_fixture_new(void)
{
	static const char *const dirs[] = { "etc", "proc", "dev",	"sys",
					    "tmp", "home", "home/vcap", "home/vcap/app" };
	struct rootfs_fixture *fx = xzalloc(sizeof *fx);
	char tmpl[] = ROOTFS_FIXTURE_PREFIX "XXXXXX";

	must(mkdtemp(tmpl) != NULL, "mkdtemp", tmpl);
	/* Searchable by the unprivileged host ids a user namespace maps the container's root to. */
	must(chmod(tmpl, 0755) == 0, "chmod", tmpl);
	fx->base = xstrdup(tmpl);
	/* A shared mount of its own: a mount propagating out of a container would appear below it. */
	must(mount(fx->base, fx->base, NULL, MS_BIND, NULL) == 0, "bind", fx->base);
	must(mount(NULL, fx->base, NULL, MS_SHARED, NULL) == 0, "make shared", fx->base);
	fx->root = xasprintf("%s/root", fx->base);
	fx->app = xasprintf("%s/app", fx->base);
	fx->sentinel = xasprintf("%s/sentinel", fx->base);
	fx->host_marker = xasprintf("%s/host-marker", fx->base);
	must(mkdir(fx->root, 0755) == 0 && mkdir(fx->app, 0755) == 0 && mkdir(fx->sentinel, 0755) == 0,
	     "mkdir", fx->base);
	write_file(fx->host_marker, "host\n");
	for (size_t i = 0; i < DEW_ARRAY_SIZE(dirs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", fx->root, dirs[i]);
		must(mkdir(p, 0755) == 0, "mkdir", p);
	}
	cleanup_free char *marker = xasprintf("%s/dewrt-root-marker", fx->root);
	cleanup_free char *pw = xasprintf("%s/etc/passwd", fx->root);
	write_file(marker, "stack\n");
	write_file(pw, passwd);

	fx->spec.id = xstrdup("rootfs-test");
	fx->spec.rootfs = xstrdup(fx->root);
	fx->spec.app_dir = xstrdup(fx->app);
	fx->spec.hostname = xstrdup("dewrt-test");
	fx->spec.mounts = fx->mounts;
	add_host_dirs(fx);
	return fx;
}

/* Replace a directory of the stack by a symlink (see rootfs-fixture.h). */
void rootfs_fixture_symlink(struct rootfs_fixture *fx, const char *path, const char *target)
{
	cleanup_free char *p = xasprintf("%s/%s", fx->root, path);
	must(rmdir(p) == 0 || errno == ENOENT, "rmdir", p);
	must(symlink(target, p) == 0, "symlink", p);
}

/* Remove a directory of the stack (see rootfs-fixture.h). */
void rootfs_fixture_rmdir(struct rootfs_fixture *fx, const char *path)
{
	cleanup_free char *p = xasprintf("%s/%s", fx->root, path);
	must(rmdir(p) == 0, "rmdir", p);
}

/* Bind the probe in (see rootfs-fixture.h): the stack is read-only, so it brings the mount point. */
void rootfs_fixture_add_probe(struct rootfs_fixture *fx, const char *probe)
{
	cleanup_free char *p = xasprintf("%s/dewrt-probe", fx->root);
	struct dewrt_mount *m = &fx->mounts[fx->spec.n_mounts++];

	write_file(p, "");
	m->source = xstrdup(probe);
	m->target = xstrdup("/dewrt-probe");
	m->readonly = true;
}

/* Add a spec mount of the sentinel onto target (see rootfs-fixture.h). */
void rootfs_fixture_add_mount(struct rootfs_fixture *fx, const char *target)
{
	struct dewrt_mount *m = &fx->mounts[fx->spec.n_mounts++];
	m->source = xstrdup(fx->sentinel);
	m->target = xstrdup(target);
	m->readonly = true;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Free the fixture after unmounting and removing its tree (see rootfs-fixture.h). */
void rootfs_fixture_free(struct rootfs_fixture *fx)
{
	char **points = NULL;
	size_t n = rootfs_mounts_below(0, fx->base, &points);
	bool clean = true;

	for (size_t i = n; i-- > 0;) {
		if (umount2(points[i], MNT_DETACH) < 0 && errno != EINVAL) {
			tap_diag("cleanup: umount `%s`: %s", points[i], strerror(errno));
			clean = false;
		}
		free(points[i]);
	}
	free(points);
	if (clean && nftw(fx->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		tap_diag("cleanup: remove `%s`: %s", fx->base, strerror(errno));
	if (!clean)
		tap_diag("cleanup: `%s` left in place", fx->base);
	for (size_t i = 0; i < fx->spec.n_mounts; i++) {
		free(fx->mounts[i].source);
		free(fx->mounts[i].target);
	}
	free(fx->spec.id);
	free(fx->spec.rootfs);
	free(fx->spec.app_dir);
	free(fx->spec.hostname);
	free(fx->base);
	free(fx->root);
	free(fx->app);
	free(fx->sentinel);
	free(fx->host_marker);
	free(fx);
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Mount points at or below prefix (see rootfs-fixture.h). */
size_t rootfs_mounts_below(pid_t pid, const char *prefix, char ***points)
{
	char line[8192], point[4096];
	size_t n = 0;

	if (pid)
		snprintf(line, sizeof line, "/proc/%d/mountinfo", (int)pid);
	FILE *f = fopen(pid ? line : "/proc/self/mountinfo", "re");
	*points = NULL;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
			continue;
		unescape(point);
		if (strncmp(point, prefix, strlen(prefix)) != 0)
			continue;
		*points = xreallocarray(*points, n + 1, sizeof **points);
		(*points)[n++] = xstrdup(point);
	}
	fclose(f);
	return n;
}

/* Mount points at or below prefix as text (see rootfs-fixture.h). */
char *rootfs_mounts_text(pid_t pid, const char *prefix, const char *except)
{
	char **points = NULL;
	size_t n = rootfs_mounts_below(pid, prefix, &points);
	char *text = xstrdup("");

	for (size_t i = 0; i < n; i++) {
		if (!except || strcmp(points[i], except) != 0) {
			char *t = xasprintf("%s%s%s", text, *text ? " " : "", points[i]);
			free(text);
			text = t;
		}
		free(points[i]);
	}
	free(points);
	return text;
}

/* Entries of dir (see rootfs-fixture.h). */
int rootfs_count_entries(const char *dir)
{
	return test_count_entries(dir);
}
