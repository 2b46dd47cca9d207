// SPDX-License-Identifier: MIT
/*
 * The container's root filesystem, built in the container's init: the stack bound read-only,
 * the spec's bind mounts, the app dir, /tmp, /dev, /proc and /sys on it, then pivot_root into it
 * and detach the old root, so nothing of the host's tree stays reachable. The order of the
 * steps matters; each says why it comes where it does.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"

/* The stack, bound onto itself (our mount namespace is private by now) and made read-only. */
static int bind_stack(const struct dewrt_spec *spec, struct dewrt_root *root, struct dew_error **err)
{
	int r;

	/*
	 * A bind gives pivot_root the mount point it needs and gives us a mount whose flags are
	 * ours. Not recursive: a host mount below the stack directory stays out of the container.
	 */
	if (mount(spec->rootfs, spec->rootfs, NULL, MS_BIND, NULL) < 0)
		return dew_error_set(err, errno, "bind the root `%s` of container `%s`", spec->rootfs,
				     spec->id);
	root->fd = open(spec->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root->fd < 0)
		return dew_error_set(err, errno, "open the root `%s` of container `%s`", spec->rootfs,
				     spec->id);
	/*
	 * Read-only before anything is mounted on it: the stack is shared by every app on the node.
	 * The mounts below are made on top of this mount, which does not need it writable; it also
	 * means the stack must already have every mount point (we never create one in it).
	 */
	if ((r = dewrt__remount_fd(root->fd, MS_RDONLY | MS_NOSUID | MS_NODEV)) < 0)
		return dew_error_set(err, -r, "remount the root `%s` of container `%s` read-only",
				     spec->rootfs, spec->id);
	return 0;
}

/* Build the new root from spec without entering it (see internal.h). */
int dewrt__rootfs_prepare(const struct dewrt_spec *spec, int *root_fd, struct dew_error **err)
{
	struct dewrt_root root = { .fd = -1, .id = spec->id };
	int r;

	*root_fd = -1;
	/*
	 * 1. Private, recursively, first of all: every mount below is then invisible to the host
	 * and to other containers, and pivot_root refuses to work on shared mounts anyway.
	 */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return dew_error_set(err, errno, "make the mounts of container `%s` private", spec->id);
	/* 2. The stack, read-only. */
	r = bind_stack(spec, &root, err);
	/*
	 * 3. The spec's bind mounts before the runtime's own: check_target keeps them clear of
	 * /proc, /sys, /dev, /tmp and the app dir, so none can cover a mask or a device.
	 */
	if (r == 0)
		r = dewrt__mount_spec_binds(&root, spec, err);
	/* 4. The app dir (read-write) and a private /tmp. */
	if (r == 0)
		r = dewrt__mount_app_tmp(&root, spec, err);
	/* 5. /dev: before /proc, whose masks bind a null device over files. */
	if (r == 0)
		r = dewrt__mount_dev(&root, err);
	/* 6. /proc and /sys, masked and partly read-only: last, so nothing is mounted over a mask. */
	if (r == 0)
		r = dewrt__mount_proc(&root, err);
	if (r == 0)
		r = dewrt__mount_sys(&root, err);
	if (r < 0) {
		if (root.fd >= 0)
			close(root.fd);
		return r;
	}
	*root_fd = root.fd;
	return 0;
}

/* Make the prepared root the root of our mount namespace and drop the old one (see internal.h). */
int dewrt__rootfs_pivot(int root_fd, const char *id, struct dew_error **err)
{
	/*
	 * pivot_root(".", ".") stacks the old root on top of the new one at "." (no put_old
	 * directory is needed in a read-only root); unmounting "." lazily then detaches the old
	 * root with every mount below it, so no path leads back to the host's tree. The old root
	 * is made a slave first so the unmount cannot propagate anywhere, whatever step 1 did.
	 */
	if (fchdir(root_fd) < 0)
		return dew_error_set(err, errno, "enter the new root of container `%s`", id);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return dew_error_set(err, errno, "pivot_root into the new root of container `%s`", id);
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return dew_error_set(err, errno, "make the old root of container `%s` a slave", id);
	if (umount2(".", MNT_DETACH) < 0)
		return dew_error_set(err, errno, "detach the old root of container `%s`", id);
	if (chdir("/") < 0)
		return dew_error_set(err, errno, "chdir to `/` in container `%s`", id);
	return 0;
}

/* Build the container's root from spec and pivot_root into it (see internal.h). */
int dewrt__rootfs_setup(const struct dewrt_spec *spec, struct dew_error **err)
{
	const char *hostname = spec->hostname ? spec->hostname : spec->id;
	int fd, r;

	if ((r = dewrt__rootfs_prepare(spec, &fd, err)) < 0)
		return r;
	/* 7. Into it, leaving nothing of the host's tree reachable. */
	r = dewrt__rootfs_pivot(fd, spec->id, err);
	close(fd);
	if (r < 0)
		return r;
	/* 8. The caller gave us a new UTS namespace: this name is only the container's. */
	if (hostname && sethostname(hostname, strlen(hostname)) < 0)
		return dew_error_set(err, errno, "set the hostname `%s` of container `%s`", hostname,
				     spec->id);
	return 0;
}
