// SPDX-License-Identifier: MIT
/*
 * The container's /dev: a small tmpfs holding bind mounts of the host's harmless device nodes,
 * a private devpts instance, a tmpfs at /dev/shm and the conventional symlinks. Nothing else: no
 * disks, no /dev/mem, no kmsg. Nodes are bind-mounted, not created, because mknod does not work
 * inside a user namespace (and CAP_MKNOD is not in the container's set anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

static const struct {
	const char *name, *target;
} dev_links[] = {
	{ "ptmx", "pts/ptmx" },		 { "fd", "/proc/self/fd" },	  { "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
};

/* Empty files to bind the nodes onto, the pts and shm mount points, and the symlinks. */
static int create_entries(const struct dewrt_root *root, struct dew_error **err)
{
	/* The tmpfs just mounted: the descriptor must be taken after the mount, not before. */
	cleanup_close int dev = dewrt__root_open(root, "/dev", O_DIRECTORY, err);

	if (dev < 0)
		return dev;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(dev_nodes); i++) {
		int fd =
			openat(dev, dev_nodes[i], O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd < 0)
			return dew_error_set(err, errno, "create `/dev/%s` in container `%s`", dev_nodes[i],
					     root->id);
		close(fd);
	}
	if (mkdirat(dev, "pts", 0755) < 0 || mkdirat(dev, "shm", 01777) < 0)
		return dew_error_set(err, errno, "create `/dev/pts` and `/dev/shm` in container `%s`",
				     root->id);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(dev_links); i++)
		if (symlinkat(dev_links[i].target, dev, dev_links[i].name) < 0)
			return dew_error_set(err, errno, "create symlink `/dev/%s` in container `%s`",
					     dev_links[i].name, root->id);
	return 0;
}

/* A devpts of the container's own: its ptys are invisible to the host's and other containers'. */
static int mount_pts(const struct dewrt_root *root, struct dew_error **err)
{
	int r = dewrt__mount_in_root(root, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
				     "newinstance,ptmxmode=0666,mode=0620,gid=5", err);

	/* gid=5 (tty) is EINVAL in a user namespace that does not map that group: do without. */
	if (r == -EINVAL) {
		dew_error_clear(err);
		r = dewrt__mount_in_root(root, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
					 "newinstance,ptmxmode=0666,mode=0620", err);
	}
	return r;
}

/* Build /dev inside the root (see internal.h). */
int dewrt__mount_dev(const struct dewrt_root *root, struct dew_error **err)
{
	int r;

	/*
	 * nodev on the tmpfs itself: the nodes below are bind mounts carrying the host's own
	 * flags, so they work, while a node created here later by anyone could not be opened.
	 */
	r = dewrt__mount_in_root(root, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				 "mode=755,size=" DEWRT_DEV_SIZE, err);
	if (r < 0 || (r = create_entries(root, err)) < 0)
		return r;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(dev_nodes); i++) {
		/* The same name twice: as a source it is the host's node (we have not pivoted yet). */
		char path[32];
		snprintf(path, sizeof path, "/dev/%s", dev_nodes[i]);
		if ((r = dewrt__bind_in_root(root, path, path, MS_NOSUID | MS_NOEXEC, err)) < 0)
			return r;
	}
	if ((r = mount_pts(root, err)) < 0)
		return r;
	return dewrt__mount_in_root(root, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				    "mode=1777,size=" DEWRT_SHM_SIZE, err);
}
