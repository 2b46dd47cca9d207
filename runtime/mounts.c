// SPDX-License-Identifier: MIT
/*
 * Mounting inside the new root: every target is resolved with dewrt__resolve_in_root and the
 * mount is made onto /proc/self/fd/<fd> of what was resolved (the crun/runc technique), never
 * onto a path the kernel would resolve again. Also the bind mounts of the spec and the app dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"

/* Paths the runtime mounts itself: a spec mount at or below one would be hidden or would hide. */
static const char *const reserved_targets[] = {
	"/proc", "/sys", "/dev", "/tmp", DEWRT_APP_DIR,
};

static int resolve_error(const struct dewrt_root *root, const char *target, int e, struct dew_error **err)
{
	if (e == ENOENT)
		return dew_error_set(
			err, ENOENT,
			"mount target `%s` is missing in the root of container `%s` (the read-only "
			"stack must provide its mount points)",
			target, root->id);
	if (e == ELOOP)
		return dew_error_set(
			err, ELOOP,
			"mount target `%s` in container `%s` is or passes through a symlink that "
			"cannot be followed safely",
			target, root->id);
	return dew_error_set(err, e, "resolve mount target `%s` in container `%s`", target, root->id);
}

/* Resolve target inside the root for mounting onto it (see internal.h). */
int dewrt__root_open(const struct dewrt_root *root, const char *target, int flags, struct dew_error **err)
{
	struct stat rst, st;
	int fd = dewrt__resolve_in_root(root->fd, target, flags);

	if (fd < 0)
		return resolve_error(root, target, -fd, err);
	/*
	 * A symlink to "/" or ".." resolves, inside the root, to the root itself; a mount there
	 * would cover the whole root (`tmp -> /` would turn the stack into an empty tmpfs).
	 */
	if (fstat(root->fd, &rst) < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return dew_error_set(err, e, "stat mount target `%s` in container `%s`", target, root->id);
	}
	if (st.st_dev == rst.st_dev && st.st_ino == rst.st_ino) {
		close(fd);
		return dew_error_set(err, EINVAL,
				     "mount target `%s` in container `%s` resolves to the root itself",
				     target, root->id);
	}
	return fd;
}

/* Mount onto target inside the root (see internal.h). */
int dewrt__mount_in_root(const struct dewrt_root *root, const char *source, const char *target,
			 const char *fstype, unsigned long flags, const char *data, struct dew_error **err)
{
	char p[DEWRT_FD_PATH_SIZE];
	cleanup_close int fd = dewrt__root_open(root, target, 0, err);

	if (fd < 0)
		return fd;
	if (mount(source, dewrt__fd_path(p, fd), fstype, flags, data) < 0) {
		if (flags & MS_BIND)
			return dew_error_set(err, errno, "bind `%s` onto `%s` in container `%s`", source,
					     target, root->id);
		return dew_error_set(err, errno, "mount %s on `%s` in container `%s`",
				     fstype ? fstype : source, target, root->id);
	}
	return 0;
}

/*
 * The flags a remount of fd's mount must repeat: inside a user namespace the kernel locks
 * nosuid, nodev, noexec, rdonly and the atime mode of mounts inherited from the host, and a
 * remount that would change one fails with EPERM.
 */
static unsigned long current_flags(int fd)
{
	static const struct {
		unsigned long st, ms;
	} map[] = {
		{ ST_RDONLY, MS_RDONLY },     { ST_NOSUID, MS_NOSUID },	  { ST_NODEV, MS_NODEV },
		{ ST_NOEXEC, MS_NOEXEC },     { ST_NOATIME, MS_NOATIME }, { ST_NODIRATIME, MS_NODIRATIME },
		{ ST_RELATIME, MS_RELATIME },
	};
	struct statvfs sv;
	unsigned long flags = 0;

	if (fstatvfs(fd, &sv) < 0)
		return 0;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(map); i++)
		if (sv.f_flag & map[i].st)
			flags |= map[i].ms;
	/* Neither noatime nor relatime is strictatime, which a remount must ask for by name. */
	if (!(flags & (MS_NOATIME | MS_RELATIME)))
		flags |= MS_STRICTATIME;
	return flags;
}

/* Remount the bind mount fd is the root of with flags added to its own (see internal.h). */
int dewrt__remount_fd(int fd, unsigned long flags)
{
	char p[DEWRT_FD_PATH_SIZE];

	flags |= current_flags(fd);
	if (mount(NULL, dewrt__fd_path(p, fd), NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
		return -errno;
	return 0;
}

/* Remount the bind mount at target inside the root with flags added (see internal.h). */
int dewrt__remount_in_root(const struct dewrt_root *root, const char *target, unsigned long flags,
			   struct dew_error **err)
{
	/* Resolved afresh: a descriptor taken before the bind refers to what the bind now covers. */
	cleanup_close int fd = dewrt__root_open(root, target, 0, err);
	int r;

	if (fd < 0)
		return fd;
	if ((r = dewrt__remount_fd(fd, flags)) < 0)
		return dew_error_set(err, -r, "remount `%s`%s in container `%s`", target,
				     (flags & MS_RDONLY) ? " read-only" : "", root->id);
	return 0;
}

/* Bind host path source onto target inside the root, then apply flags (see internal.h). */
int dewrt__bind_in_root(const struct dewrt_root *root, const char *source, const char *target,
			unsigned long flags, struct dew_error **err)
{
	int r;

	/*
	 * Not recursive: whatever the host has mounted below source stays out of the container.
	 * The mount flags of a bind are ignored by the bind itself; they take a remount.
	 */
	if ((r = dewrt__mount_in_root(root, source, target, NULL, MS_BIND, NULL, err)) < 0)
		return r;
	if (flags && (r = dewrt__remount_in_root(root, target, flags, err)) < 0)
		return r;
	return 0;
}

/* Whether path has a "." or ".." component. */
static bool has_dot_component(const char *path)
{
	for (const char *c = path; *c; c += strcspn(c, "/")) {
		c += strspn(c, "/");
		size_t n = strcspn(c, "/");
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return true;
	}
	return false;
}

/* A spec target must be absolute, plain (no "." or ".."), and clear of what the runtime mounts. */
static int check_target(const struct dewrt_root *root, const char *target, struct dew_error **err)
{
	if (target[0] != '/' || target[1] == '\0' || strstr(target, "//") || has_dot_component(target))
		return dew_error_set(err, EINVAL,
				     "mount target `%s` in container `%s` is not a plain absolute path",
				     target, root->id);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(reserved_targets); i++) {
		size_t n = strlen(reserved_targets[i]);
		if (strncmp(target, reserved_targets[i], n) == 0 && (target[n] == '\0' || target[n] == '/'))
			return dew_error_set(
				err, EINVAL,
				"mount target `%s` in container `%s` is at or below `%s`, which the "
				"runtime mounts itself",
				target, root->id, reserved_targets[i]);
	}
	return 0;
}

/* The spec's extra bind mounts, nosuid and nodev, read-only when asked (see internal.h). */
int dewrt__mount_spec_binds(const struct dewrt_root *root, const struct dewrt_spec *spec,
			    struct dew_error **err)
{
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct dewrt_mount *m = &spec->mounts[i];
		unsigned long flags = MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0);
		int r;

		if ((r = check_target(root, m->target, err)) < 0 ||
		    (r = dewrt__bind_in_root(root, m->source, m->target, flags, err)) < 0)
			return r;
	}
	return 0;
}

/*
 * The app dir with a disk quota: an overlay whose lower layer is the host app dir (read-only
 * to the container) and whose upper layer, where every write lands, is a tmpfs of disk_mb.
 * Writes beyond the quota fail with ENOSPC. The cost: what the app writes lives in memory
 * (charged to its memory cgroup) and is gone when the container is; the host dir is untouched.
 */
static int mount_app_quota(const struct dewrt_root *root, const struct dewrt_spec *spec,
			   struct dew_error **err)
{
	char p[DEWRT_FD_PATH_SIZE], size[64];
	int r;

	/* Overlay options are comma-separated paths: refuse a path that would split them. */
	if (strpbrk(spec->app_dir, ",:\\"))
		return dew_error_set(
			err, 0,
			"app_dir `%s` of container `%s` holds `,`, `:` or `\\`, which a disk quota "
			"cannot mount",
			spec->app_dir, root->id);
	snprintf(size, sizeof size, "mode=0755,size=%llum", (unsigned long long)spec->limits.disk_mb);
	if ((r = dewrt__mount_in_root(root, "tmpfs", DEWRT_APP_DIR, "tmpfs", MS_NOSUID | MS_NODEV, size,
				      err)) < 0)
		return r;
	cleanup_close int fd = dewrt__root_open(root, DEWRT_APP_DIR, 0, err);
	if (fd < 0)
		return fd;
	if (mkdirat(fd, "upper", 0755) < 0 || mkdirat(fd, "work", 0700) < 0 ||
	    fchownat(fd, "upper", spec->uid, spec->gid, 0) < 0)
		return dew_error_set(err, errno, "prepare the disk quota of container `%s`", root->id);
	cleanup_free char *opts = xasprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work%s", spec->app_dir,
					    dewrt__fd_path(p, fd), p, spec->userns ? ",userxattr" : "");
	if (mount("overlay", p, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		return dew_error_set(err, errno, "mount the app dir with a %llu MB quota in container `%s`",
				     (unsigned long long)spec->limits.disk_mb, root->id);
	return 0;
}

/* The app dir read-write at /home/vcap/app and a private tmpfs at /tmp (see internal.h). */
int dewrt__mount_app_tmp(const struct dewrt_root *root, const struct dewrt_spec *spec, struct dew_error **err)
{
	int r;

	if (spec->app_dir && spec->limits.disk_mb)
		r = mount_app_quota(root, spec, err);
	else if (spec->app_dir)
		r = dewrt__bind_in_root(root, spec->app_dir, DEWRT_APP_DIR, MS_NOSUID | MS_NODEV, err);
	else
		r = 0;
	if (r < 0)
		return r;
	/* Bounded: a runaway writer gets ENOSPC rather than eating the container's memory limit. */
	return dewrt__mount_in_root(root, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
				    "mode=1777,size=" DEWRT_TMP_SIZE, err);
}
