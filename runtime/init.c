// SPDX-License-Identifier: MIT
/*
 * The container's init, from clone() to execve(): join the cgroup namespace, build the root,
 * lower limits and privileges, then wait on the exec fifo until `start`, install seccomp last
 * (so nothing of ours runs under it) and exec the app. Every failure is sent to the monitor as
 * "E<message>" over the sync socket; success is the socket closing on exec (it is CLOEXEC).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "init.h"
#include "internal.h"

extern char **environ;

static void __attribute__((noreturn)) init_fail(int sync_fd, struct dew_error *err)
{
	char msg[4096];
	int n = snprintf(msg, sizeof msg, "E%s", dew_error_msg(err));
	if (n > 0 && write(sync_fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0) {
		/* the monitor is gone: nobody to tell */
	}
	_exit(127);
}

/* Wait for the monitor's go-ahead: it has put us into the cgroup (and written id maps). */
static int wait_go(int sync_fd, struct dew_error **err)
{
	char c;
	ssize_t n;
	do
		n = read(sync_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || c != 'G')
		return dew_error_set(err, n < 0 ? errno : EPIPE, "wait for the monitor");
	return 0;
}

/* Lower the open-files limit and drop to the spec's ids and the documented capabilities. */
int dewrt__drop_privileges(const struct dewrt_spec *spec, struct dew_error **err)
{
	rlim_t nofile = spec->limits.nofile ? (rlim_t)spec->limits.nofile : 1024;
	struct rlimit rl = { nofile, nofile };

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return dew_error_set(err, errno, "set RLIMIT_NOFILE to %llu", (unsigned long long)nofile);
	/* Capabilities first: dropping the bounding set needs CAP_SETPCAP, which we lose with uid 0. */
	int r = dewrt__caps_apply();
	if (r < 0)
		return dew_error_set(err, -r, "apply the capability set");
	if (setgroups(0, NULL) < 0)
		return dew_error_set(err, errno, "drop supplementary groups");
	if (setresgid(spec->gid, spec->gid, spec->gid) < 0)
		return dew_error_set(err, errno, "set gid %u", (unsigned)spec->gid);
	if (setresuid(spec->uid, spec->uid, spec->uid) < 0)
		return dew_error_set(err, errno, "set uid %u", (unsigned)spec->uid);
	/* No setuid binary or file capability can give anything back from here on. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return dew_error_set(err, errno, "set no_new_privs");
	return 0;
}

/* Block until `start` opens the exec fifo for reading; the fd was opened O_PATH before pivot. */
static int wait_start(int fifo_fd, struct dew_error **err)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fifo_fd);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return dew_error_set(err, errno, "open the exec fifo");
	if (write(fd, "0", 1) != 1) {
		close(fd);
		return dew_error_set(err, errno, "write the exec fifo");
	}
	close(fd);
	close(fifo_fd);
	return 0;
}

void dewrt__init_main(const struct dewrt_init_args *a)
{
	const struct dewrt_spec *spec = a->spec;
	struct dew_error *err = NULL;

	/* The monitor left only stdio and our two fds open (both CLOEXEC). */
	if (wait_go(a->sync_fd, &err) < 0)
		init_fail(a->sync_fd, err);
	/*
	 * In a user namespace we still carry the host's root ids, which have no mapping there:
	 * become the namespace's root (host id userns_base) before touching any file system.
	 */
	if (spec->userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		dew_error_set(&err, errno, "become root of the user namespace");
		init_fail(a->sync_fd, err);
	}
	/* Joined only now, after the monitor moved us: our cgroup becomes the namespace's root. */
	if (unshare(CLONE_NEWCGROUP) < 0) {
		dew_error_set(&err, errno, "unshare the cgroup namespace");
		init_fail(a->sync_fd, err);
	}
	if (setsid() < 0) {
		dew_error_set(&err, errno, "setsid");
		init_fail(a->sync_fd, err);
	}
	if (dewrt__rootfs_setup(spec, &err) < 0)
		init_fail(a->sync_fd, err);
	if (dewrt__drop_privileges(spec, &err) < 0)
		init_fail(a->sync_fd, err);
	if (chdir(spec->cwd) < 0) {
		dew_error_set(&err, errno, "change to the working directory `%s`", spec->cwd);
		init_fail(a->sync_fd, err);
	}
	if (write(a->sync_fd, "R", 1) != 1)
		_exit(127);
	if (wait_start(a->fifo_fd, &err) < 0)
		init_fail(a->sync_fd, err);

	/* Last: from here every syscall of ours is filtered too, so do nothing but exec. */
	int r = dewrt__seccomp_install(a->seccomp);
	if (r < 0) {
		dew_error_set(&err, -r, "install the seccomp filter");
		init_fail(a->sync_fd, err);
	}
	environ = spec->env;
	execvp(spec->args[0], spec->args);
	dew_error_set(&err, errno, "exec `%s`", spec->args[0]);
	init_fail(a->sync_fd, err);
}
