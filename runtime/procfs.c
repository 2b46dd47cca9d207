// SPDX-License-Identifier: MIT
/*
 * The container's /proc and /sys: a fresh proc of its own pid namespace and a read-only sysfs,
 * with the entries that leak host information or let root inside poke the host kernel masked
 * (kcore, keys, timer_list, firmware, …) or made read-only (/proc/sys, sysrq-trigger, …). The
 * lists follow Docker's defaults (moby's oci/defaults.go), plus /proc/interrupts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"

static const char *const proc_masked[] = {
	"/proc/acpi",	    "/proc/asound",	   "/proc/interrupts",	"/proc/kcore",
	"/proc/keys",	    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi",
	"/proc/timer_list", "/proc/timer_stats",
};

static const char *const proc_readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* powercap: energy counters are a side channel (the PLATYPUS attack). */
static const char *const sys_masked[] = { "/sys/firmware", "/sys/devices/virtual/powercap" };

/*
 * Hide path: /dev/null over a file, an empty read-only tmpfs over a directory. An entry this
 * kernel does not have is nothing to hide.
 */
static int mask(const struct dewrt_root *root, const char *path, struct dew_error **err)
{
	char p[DEWRT_FD_PATH_SIZE];
	struct stat st;
	cleanup_close int fd = dewrt__resolve_in_root(root->fd, path, 0);
	int r;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return dew_error_set(err, -fd, "resolve `%s` to mask it in container `%s`", path, root->id);
	if (fstat(fd, &st) < 0)
		return dew_error_set(err, errno, "stat `%s` to mask it in container `%s`", path, root->id);
	if (S_ISDIR(st.st_mode))
		r = mount("tmpfs", dewrt__fd_path(p, fd), "tmpfs",
			  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555,size=4k");
	else
		r = mount("/dev/null", dewrt__fd_path(p, fd), NULL, MS_BIND, NULL);
	if (r < 0)
		return dew_error_set(err, errno, "mask `%s` in container `%s`", path, root->id);
	return 0;
}

/* Make path read-only by binding it onto itself and remounting the bind. */
static int make_readonly(const struct dewrt_root *root, const char *path, struct dew_error **err)
{
	char p[DEWRT_FD_PATH_SIZE];
	cleanup_close int fd = dewrt__resolve_in_root(root->fd, path, 0);

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return dew_error_set(err, -fd, "resolve `%s` in container `%s`", path, root->id);
	if (mount(dewrt__fd_path(p, fd), p, NULL, MS_BIND | MS_REC, NULL) < 0)
		return dew_error_set(err, errno, "bind `%s` onto itself in container `%s`", path, root->id);
	return dewrt__remount_in_root(root, path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, err);
}

/* Mount /proc inside the root with its masks and read-only parts (see internal.h). */
int dewrt__mount_proc(const struct dewrt_root *root, struct dew_error **err)
{
	int r;

	/*
	 * A new instance shows the pid namespace we are in, not the host's. The kernel only allows
	 * it when that pid namespace belongs to our user namespace, and (in a user namespace) when
	 * a fully visible proc is already mounted somewhere.
	 */
	if ((r = dewrt__mount_in_root(root, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
				      err)) < 0)
		return r;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(proc_masked); i++)
		if ((r = mask(root, proc_masked[i], err)) < 0)
			return r;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(proc_readonly); i++)
		if ((r = make_readonly(root, proc_readonly[i], err)) < 0)
			return r;
	return 0;
}

/* mount_setattr(2) through syscall(2): glibc only wraps it from 2.36, its headers clash before. */
static int setattr_recursive_readonly(int fd)
{
#ifdef SYS_mount_setattr
	struct {
		uint64_t attr_set, attr_clr, propagation, userns_fd;
	} attr = { .attr_set = 0x1 | 0x2 | 0x4 | 0x8 }; /* MOUNT_ATTR_RDONLY, NOSUID, NODEV, NOEXEC */

	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | 0x8000 /* AT_RECURSIVE */, &attr,
		    sizeof attr) < 0)
		return -errno;
	return 0;
#else
	(void)fd;
	return -ENOSYS;
#endif
}

/*
 * The host's /sys bound read-only, for when sysfs cannot be mounted: in a user namespace the
 * kernel allows a sysfs mount only by the owner of the network namespace (so not with network
 * `host`). Recursive, since a plain bind of a mount with locked submounts is refused there;
 * read-only all the way down where mount_setattr exists (Linux 5.12), else the top only (the
 * submounts keep their flags, but the host files under them belong to ids the container's root
 * does not map to, so it still cannot write them).
 */
static int bind_host_sys(const struct dewrt_root *root, struct dew_error **err)
{
	int r;

	if ((r = dewrt__mount_in_root(root, "/sys", "/sys", NULL, MS_BIND | MS_REC, NULL, err)) < 0)
		return r;
	cleanup_close int fd = dewrt__root_open(root, "/sys", O_DIRECTORY, err);
	if (fd < 0)
		return fd;
	r = setattr_recursive_readonly(fd);
	if (r == -ENOSYS || r == -EPERM)
		r = dewrt__remount_fd(fd, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	if (r < 0)
		return dew_error_set(err, -r, "remount `/sys` read-only in container `%s`", root->id);
	return 0;
}

/* Mount a read-only /sys inside the root with its masks (see internal.h). */
int dewrt__mount_sys(const struct dewrt_root *root, struct dew_error **err)
{
	int r = dewrt__mount_in_root(root, "sysfs", "/sys", "sysfs",
				     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);

	if (r == -EPERM) {
		dew_error_clear(err);
		r = bind_host_sys(root, err);
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(sys_masked); i++)
		if ((r = mask(root, sys_masked[i], err)) < 0)
			return r;
	return 0;
}
