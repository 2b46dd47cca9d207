// SPDX-License-Identifier: MIT
/*
 * dewrt_exec: run another program inside a running container, confined exactly as its app is.
 * A helper child is moved into the container's cgroup, joins the init's namespaces and forks
 * the process that drops privileges and execs (a pid namespace applies to children only). Set-up
 * errors reach the caller as "E<errno> <message>" on a CLOEXEC socket, an exec failure as "X…";
 * success is the socket closing on exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "init.h"
#include "internal.h"

extern char **environ;

enum {
	EXEC_SYNC_FD = 3, /* in the children: the socket to the caller */
	EXEC_PIDFD = 4,	  /* in the helper: a pidfd of the container's init */
	EXEC_MSG_MAX = 4096,
};

/* What the children need, all prepared before fork: they only read it. */
struct exec_args {
	const struct dewrt_spec *spec;
	const struct dewrt_seccomp *seccomp;
	char *const *args;
	char *const *env;
	pid_t init_pid;
	int ns_flags;
};

/* Send "<kind><errno> <message>" to the caller and exit 127, as the init does on failure. */
static void __attribute__((noreturn)) child_fail(char kind, int code, const char *msg)
{
	char buf[EXEC_MSG_MAX];
	int n = snprintf(buf, sizeof buf, "%c%d %s", kind, code, msg);
	if (n > 0 &&
	    send(EXEC_SYNC_FD, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, MSG_NOSIGNAL) < 0) {
		/* the caller is gone: nobody to tell */
	}
	_exit(127);
}

static void __attribute__((noreturn)) child_fail_errno(const char *what)
{
	char msg[512];
	int code = errno;
	snprintf(msg, sizeof msg, "%s: %s", what, strerror(code));
	child_fail('E', code, msg);
}

/*
 * Kernels before 5.8 take no pidfd in setns: open every namespace file first, while /proc is
 * still the host's, check through the pidfd that the init is alive (so the pid was not recycled
 * between the two), then join them one by one, the mount namespace last.
 */
static int join_by_path(pid_t pid, int flags)
{
	static const struct {
		const char *name;
		int flag;
	} ns[] = {
		/* The user namespace first: it owns the others, and grants the right to join them. */
		{ "user", CLONE_NEWUSER }, { "cgroup", CLONE_NEWCGROUP }, { "ipc", CLONE_NEWIPC },
		{ "uts", CLONE_NEWUTS },   { "net", CLONE_NEWNET },	  { "pid", CLONE_NEWPID },
		{ "mnt", CLONE_NEWNS },
	};
	int fds[DEW_ARRAY_SIZE(ns)];
	int r = 0;

	for (size_t i = 0; i < DEW_ARRAY_SIZE(ns); i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns[i].name);
		fds[i] = (flags & ns[i].flag) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		if ((flags & ns[i].flag) && fds[i] < 0 && r == 0)
			r = -errno;
	}
	if (r == 0 && syscall(SYS_pidfd_send_signal, EXEC_PIDFD, 0, NULL, 0) < 0)
		r = -errno;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(ns); i++) {
		if (fds[i] < 0)
			continue;
		if (r == 0 && setns(fds[i], ns[i].flag) < 0)
			r = -errno;
		close(fds[i]);
	}
	return r;
}

/* The grandchild, in the container's namespaces and cgroup: drop to the app's confinement, exec. */
static void __attribute__((noreturn)) target_main(const struct exec_args *a)
{
	struct dew_error *err = NULL;
	char msg[EXEC_MSG_MAX];

	close(EXEC_PIDFD);
	if (dewrt__drop_privileges(a->spec, &err) < 0)
		child_fail('E', err->code, dew_error_msg(err));
	/* As the app's user, so the directory is checked with its permissions. */
	if (chdir(a->spec->cwd) < 0) {
		snprintf(msg, sizeof msg, "change to the working directory `%s`", a->spec->cwd);
		child_fail_errno(msg);
	}
	/* Last, as in the init: from here every syscall of ours is filtered too. */
	int r = dewrt__seccomp_install(a->seccomp);
	if (r < 0) {
		errno = -r;
		child_fail_errno("install the seccomp filter");
	}
	environ = (char **)a->env;
	execvp(a->args[0], a->args);
	int code = errno;
	snprintf(msg, sizeof msg, "exec `%s`: %s", a->args[0], strerror(code));
	child_fail('X', code, msg);
}

/* Signals the caller ignores or blocks must not reach the program (SIG_IGN survives execve). */
static void reset_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
}

/*
 * The helper: keep only stdio, the socket and the pidfd (no fd of the caller reaches the
 * container); wait until the caller has moved us into the cgroup; join the namespaces; fork the
 * target and exit with its status.
 */
static void __attribute__((noreturn)) helper_main(const struct exec_args *a, int sync_fd, int pidfd)
{
	int s = fcntl(sync_fd, F_DUPFD_CLOEXEC, 10), p = fcntl(pidfd, F_DUPFD_CLOEXEC, 10);
	if (s < 0 || p < 0 || dup3(s, EXEC_SYNC_FD, O_CLOEXEC) < 0 || dup3(p, EXEC_PIDFD, O_CLOEXEC) < 0 ||
	    syscall(SYS_close_range, EXEC_PIDFD + 1, ~0U, 0) < 0)
		_exit(127);
	reset_signals();
	/* Nothing in the container may open our /proc entries (exe is a host binary: CVE-2019-5736). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	char go;
	ssize_t n;
	do
		n = recv(EXEC_SYNC_FD, &go, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n != 1 || go != 'G')
		_exit(127);
	/* One atomic call where the kernel takes a pidfd (5.8): all namespaces or none. */
	if (setns(EXEC_PIDFD, a->ns_flags) < 0) {
		int r = errno == EINVAL ? join_by_path(a->init_pid, a->ns_flags) : -errno;
		if (r < 0) {
			errno = -r;
			child_fail_errno("join the container's namespaces");
		}
	}
	pid_t pid = fork();
	if (pid < 0)
		child_fail_errno("fork in the container's pid namespace");
	if (pid == 0)
		target_main(a);
	close(EXEC_SYNC_FD);
	close(EXEC_PIDFD);
	int ws;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	_exit(WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws));
}

/* The container must be running and its init still the process in its cgroup: a pidfd of it. */
static int open_init(const struct dewrt_state *st, struct dew_error **err)
{
	if (st->status != DEWRT_RUNNING)
		return dew_error_set(err, 0, "container `%s` is %s, not running", st->id,
				     dewrt_status_name(st->status));
	/* A pidfd pins the process; the cgroup check proves it is still our init. */
	int pidfd = (int)syscall(SYS_pidfd_open, st->init_pid, 0);
	if (pidfd >= 0 && dewrt__pid_in_cgroup(st->init_pid, st->cgroup))
		return pidfd;
	if (pidfd >= 0)
		close(pidfd);
	return dew_error_set(err, ESRCH, "container `%s`: its init is gone", st->id);
}

/* Collect the children's report until the socket closes: 0, or the error they sent. */
static int read_report(int fd, const char *id, bool *exec_failed, struct dew_error **err)
{
	char msg[EXEC_MSG_MAX];
	int r = 0;
	ssize_t n;
	while ((n = recv(fd, msg, sizeof msg - 1, 0)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return dew_error_set(err, errno, "exec in container `%s`: read from the helper", id);
		msg[n] = '\0';
		char *text = NULL;
		long code = strtol(msg + 1, &text, 10);
		if (r < 0 || (msg[0] != 'E' && msg[0] != 'X') || code <= 0 || *text != ' ')
			continue;
		*exec_failed = msg[0] == 'X';
		/* The text already ends in the child's strerror: keep its errno without appending it. */
		dew_error_set(err, 0, "%s `%s`: %s", *exec_failed ? "container" : "exec in container", id,
			      text + 1);
		if (err && *err)
			(*err)->code = (int)code;
		r = -(int)code;
	}
	return r;
}

/*
 * Start the helper and move it into the container's cgroup before it does anything else, as
 * the monitor does for the init: the limits count it from the start, `delete -f` reaches it,
 * and its cgroup is inside the cgroup namespace it joins next (after setns(CLONE_NEWNS) the
 * host's cgroup tree would be out of its reach anyway). Then let it go and wait for it.
 */
static int run_helper(const struct exec_args *a, const struct dewrt_state *st, int pidfd, int *status,
		      struct dew_error **err)
{
	struct dewrt_cgroup *cg = NULL;
	int sv[2], r, ws;
	bool exec_failed = false;

	if ((r = dewrt__cgroup_open(st->cgroup, &cg, err)) < 0)
		return dew_error_prefix(err, "exec in container `%s`", st->id);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		dewrt__cgroup_free(cg);
		return dew_error_set(err, errno, "exec in container `%s`: socketpair", st->id);
	}
	pid_t pid = fork();
	if (pid == 0)
		helper_main(a, sv[1], pidfd);
	close(sv[1]);
	if (pid < 0)
		r = dew_error_set(err, errno, "exec in container `%s`: fork", st->id);
	if (r == 0 && dewrt__cgroup_attach(cg, pid, err) < 0) {
		kill(pid, SIGKILL);
		r = dew_error_prefix(err, "exec in container `%s`", st->id);
	}
	if (r == 0 && send(sv[0], "G", 1, MSG_NOSIGNAL) != 1)
		r = dew_error_set(err, errno, "exec in container `%s`: start the helper", st->id);
	if (r == 0)
		r = read_report(sv[0], st->id, &exec_failed, err);
	close(sv[0]);
	dewrt__cgroup_free(cg);
	while (pid > 0 && waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return r < 0 ? r : dew_error_set(err, errno, "exec in container `%s`: wait", st->id);
	if (r < 0) {
		*status = exec_failed ? 127 : -1;
		return r;
	}
	*status = WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
	return 0;
}

/* Run args inside the running container id, confined as its app; its exit status into *status. */
int dewrt_exec(struct dewrt_context *ctx, const char *id, char *const *args, char *const *env, int *status,
	       struct dew_error **err)
{
	static char *const no_env[] = { NULL };
	struct dewrt_state *st = NULL;

	*status = -1;
	if (!args || !args[0] || !args[0][0])
		return dew_error_set(err, 0, "exec in container `%s`: no program given", id);
	int r = dewrt__seccomp_ready(ctx, err);
	if (r == 0)
		r = dewrt_state_read(ctx, id, &st, err);
	if (r < 0)
		return r;
	int pidfd = open_init(st, err);
	if (pidfd < 0) {
		dewrt_state_free(st);
		return pidfd;
	}
	if (!env)
		env = st->spec->env;
	struct exec_args a = {
		.spec = st->spec,
		.seccomp = ctx->seccomp,
		.args = args,
		.env = env ? env : no_env,
		.init_pid = st->init_pid,
		.ns_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP |
			    (st->spec->net != DEWRT_NET_HOST ? CLONE_NEWNET : 0) |
			    (st->spec->userns ? CLONE_NEWUSER : 0),
	};
	r = run_helper(&a, st, pidfd, status, err);
	close(pidfd);
	dewrt_state_free(st);
	return r;
}
