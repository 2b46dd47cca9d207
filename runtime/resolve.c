// SPDX-License-Identifier: MIT
/*
 * Path resolution inside a container's root that can never leave it. Every mount target in the
 * new root is opened here first and the mount is made onto the resulting O_PATH descriptor, so a
 * stack whose /proc, /tmp or /dev is a symlink to a host path cannot redirect a mount onto the
 * host: openat2(RESOLVE_IN_ROOT) where the kernel has it, else a walk that refuses symlinks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"

enum {
	RESOLVE_MAX_DEPTH = 256, /* components after normalisation */
	RESOLVE_EAGAIN_RETRIES = 16,
};

/* The flags a caller may pass: the O_PATH|O_CLOEXEC descriptor is always what comes back. */
static bool flags_valid(int flags)
{
	return (flags & ~O_DIRECTORY) == 0;
}

/*
 * Split path into components with "." and empty ones dropped and ".." applied lexically, clamped
 * at the root the way a chroot clamps it. Lexical ".." is exact here only because the walk
 * refuses every symlink: no component can move us anywhere but one level down.
 */
static int normalise(char *buf, const char **comps, size_t *n)
{
	char *save = NULL;

	*n = 0;
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			if (*n > 0)
				(*n)--;
			continue;
		}
		if (*n == RESOLVE_MAX_DEPTH)
			return -ENAMETOOLONG;
		comps[(*n)++] = c;
	}
	return 0;
}

/* Open one component below dir without following it; a symlink there is -ELOOP. */
static int open_component(int dir, const char *name, bool last, int flags)
{
	struct stat st;
	int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (S_ISLNK(st.st_mode) || (!S_ISDIR(st.st_mode) && (!last || (flags & O_DIRECTORY)))) {
		close(fd);
		return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
	}
	return fd;
}

/* Walk path below root one component at a time, refusing every symlink (see internal.h). */
int dewrt__resolve_walk(int root, const char *path, int flags)
{
	const char *comps[RESOLVE_MAX_DEPTH];
	size_t n;
	int r;

	if (!flags_valid(flags))
		return -EINVAL;
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	cleanup_free char *buf = xstrdup(path);
	if ((r = normalise(buf, comps, &n)) < 0)
		return r;

	int cur = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		int next = open_component(cur, comps[i], i + 1 == n, flags);
		close(cur);
		if (next < 0)
			return next;
		cur = next;
	}
	return cur;
}

/* Resolve path below root with openat2, or -ENOSYS when this kernel (or a filter) lacks it. */
static int resolve_openat2(int root, const char *path, int flags)
{
	/*
	 * RESOLVE_IN_ROOT treats root as "/" for absolute symlinks and "..", so a symlink can only
	 * ever lead somewhere below root. Magic links (/proc/<pid>/fd/<n>, /proc/<pid>/root) jump
	 * anywhere regardless of that, hence RESOLVE_NO_MAGICLINKS.
	 */
	struct open_how how = {
		.flags = (uint64_t)(O_PATH | O_CLOEXEC | flags),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *p = path[strspn(path, "/")] ? path : ".";

	for (int i = 0; i < RESOLVE_EAGAIN_RETRIES; i++) {
		long fd = syscall(SYS_openat2, root, p, &how, sizeof how);
		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a concurrent rename raced with ".." resolution; the kernel asks us to retry. */
		if (errno != EAGAIN)
			return errno == EPERM ? -ENOSYS
					      : -errno; /* EPERM: a seccomp filter without openat2 */
	}
	return -EAGAIN;
}

/* Resolve path below root without ever leaving it (see internal.h). */
int dewrt__resolve_in_root(int root, const char *path, int flags)
{
	if (!flags_valid(flags))
		return -EINVAL;
	int fd = resolve_openat2(root, path, flags);
	if (fd != -ENOSYS)
		return fd;
	return dewrt__resolve_walk(root, path, flags);
}

/* "/proc/self/fd/<fd>": the path through which mount(2) reaches what fd refers to. */
const char *dewrt__fd_path(char buf[static DEWRT_FD_PATH_SIZE], int fd)
{
	snprintf(buf, DEWRT_FD_PATH_SIZE, "/proc/self/fd/%d", fd);
	return buf;
}
