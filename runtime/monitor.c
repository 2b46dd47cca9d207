// SPDX-License-Identifier: MIT
/*
 * The monitor ("shim"): one small process per container that owns the container's init. It
 * clones the init into its namespaces, has the creator move it into the cgroup and register the
 * OOM event before any app code runs (monitor.h: the monitor itself never touches libcgroup),
 * copies stdout/stderr into size-bounded log files, and records the exit status, signal and OOM
 * kills in state.json. It is detached from whoever created the container, so the DEA can restart
 * without killing apps.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "init.h"
#include "internal.h"
#include "monitor.h"

enum {
	LOG_MAX_BYTES = 8 * 1024 * 1024, /* per stream; the previous file is kept as .1 */
	/* One read of a log pipe. On the stack, whose pages stay private once written: 16 KiB
	 * rather than the pipe's 64 KiB keeps a chatty app from adding 48 KiB to its monitor. */
	PUMP_BYTES = 16 * 1024,
	DRAIN_MS = 300,
};

struct log_sink {
	int pipe_fd;
	int file_fd;
	char *path;
	uint64_t size;
};

static int sink_open(struct log_sink *s, const char *dir, const char *name, struct dew_error **err)
{
	struct stat sb;
	s->path = xasprintf("%s/%s", dir, name);
	s->file_fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (s->file_fd < 0)
		return dew_error_set(err, errno, "open log `%s`", s->path);
	s->size = fstat(s->file_fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	return 0;
}

/* Copy what the pipe holds into the log, rotating at LOG_MAX_BYTES. Returns false at EOF. */
static bool sink_pump(struct log_sink *s)
{
	char buf[PUMP_BYTES];
	ssize_t n = read(s->pipe_fd, buf, sizeof buf);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	if (s->size + (uint64_t)n > LOG_MAX_BYTES) {
		cleanup_free char *old = xasprintf("%s.1", s->path);
		rename(s->path, old);
		close(s->file_fd);
		s->file_fd =
			open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
		s->size = 0;
	}
	if (s->file_fd >= 0 && write(s->file_fd, buf, (size_t)n) == n)
		s->size += (uint64_t)n;
	return true;
}

/* Read the init's answer to 'G': 'R' (ready) or "E<message>". */
static int read_ready(int sync_fd, struct dew_error **err)
{
	char msg[4096];
	ssize_t n;
	do
		n = read(sync_fd, msg, sizeof msg - 1);
	while (n < 0 && errno == EINTR);
	if (n == 1 && msg[0] == 'R')
		return 0;
	if (n > 1 && msg[0] == 'E') {
		msg[n] = '\0';
		return dew_error_set(err, 0, "%s", msg + 1);
	}
	return dew_error_set(err, EPIPE, "the container's init exited during set-up");
}

/*
 * Map container ids 0..65535 to the unprivileged host range starting at userns_base, so root
 * in the container is nobody on the host. Written by us (root on the host) before the init
 * continues; setgroups stays allowed because the mapping is written by a privileged process.
 */
static int write_id_maps(pid_t pid, uid_t base, struct dew_error **err)
{
	static const char *const files[] = { "uid_map", "gid_map" };
	char line[64];
	int n = snprintf(line, sizeof line, "0 %u %u\n", (unsigned)base, (unsigned)DEWRT_USERNS_SIZE);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(files); i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, line, (size_t)n) != n) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return dew_error_set(err, e, "write %s of the container's init", files[i]);
		}
		close(fd);
	}
	return 0;
}

static pid_t clone_init(const struct dewrt_monitor_args *m, int sync_child, int out_w, int err_w)
{
	int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
	if (m->spec->net != DEWRT_NET_HOST)
		flags |= CLONE_NEWNET;
	/* Created together, the pid namespace is owned by the new user namespace (needed for /proc). */
	if (m->spec->userns)
		flags |= CLONE_NEWUSER;
	pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid != 0)
		return pid;
	/*
	 * The child: stdio, then the two fds the init needs at 3 and 4, and nothing else: every
	 * other descriptor of the monitor (the socket to the creator, log files) is closed, so no
	 * host fd reaches the app and the creator sees the socket close when the monitor exits.
	 */
	sigset_t none;
	sigemptyset(&none);
	/* The monitor blocks SIGCHLD for its signalfd; the app must not inherit that mask. */
	sigprocmask(SIG_SETMASK, &none, NULL);
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int sync_fd = fcntl(sync_child, F_DUPFD_CLOEXEC, 10);
	int fifo_fd = fcntl(m->fifo_fd, F_DUPFD_CLOEXEC, 10);
	if (null_fd < 0 || sync_fd < 0 || fifo_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_w, 1) < 0 ||
	    dup2(err_w, 2) < 0 || dup3(sync_fd, 3, O_CLOEXEC) < 0 || dup3(fifo_fd, 4, O_CLOEXEC) < 0 ||
	    syscall(SYS_close_range, 5, ~0U, 0) < 0)
		_exit(127);
	struct dewrt_init_args a = { m->spec, m->ctx->seccomp, 3, 4 };
	dewrt__init_main(&a);
}

struct monitor {
	const struct dewrt_monitor_args *m;
	struct dewrt_state st;
	struct log_sink out, err;
	char *oom_file; /* where the group counts its OOM kills (dewrt__cgroup_oom_file) */
	int sync_fd, oom_fd, sig_fd;
	pid_t init;
};

/* The init exited: record how, drain the logs, write the final state. */
static void finish(struct monitor *mo, int status)
{
	struct dew_error *err = NULL;
	uint64_t oom_kills = 0;

	/* A plain read of one file: this process never initialises libcgroup (monitor.h). */
	if (dewrt__cgroup_oom_kills(mo->oom_file, &oom_kills, &err) < 0)
		dew_error_clear(&err);
	mo->st.status = DEWRT_STOPPED;
	mo->st.finished_ms = dewrt__now_ms();
	mo->st.oom_kills = oom_kills;
	if (WIFEXITED(status)) {
		mo->st.exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		mo->st.exit_signal = WTERMSIG(status);
		mo->st.exit_code = 128 + WTERMSIG(status);
		/* SIGKILL while the group counted an OOM kill: the OOM killer ended it. */
		mo->st.oom_killed = WTERMSIG(status) == SIGKILL && oom_kills > 0;
	}
	/* The rest of the pid namespace died with its init; give the pipes a moment to drain. */
	struct pollfd p[2] = { { mo->out.pipe_fd, POLLIN, 0 }, { mo->err.pipe_fd, POLLIN, 0 } };
	int64_t deadline = dewrt__now_ms() + DRAIN_MS;
	while ((p[0].fd >= 0 || p[1].fd >= 0) && dewrt__now_ms() < deadline) {
		if (poll(p, 2, DRAIN_MS) <= 0)
			break;
		for (int i = 0; i < 2; i++)
			if (p[i].fd >= 0 && p[i].revents && !sink_pump(i ? &mo->err : &mo->out))
				p[i].fd = -1;
	}
	if (dewrt__state_write(&mo->st, &err) < 0)
		dew_error_free(err);
}

/* The exec happened (the sync socket closed on exec) or failed ("E…"). */
static void on_sync(struct monitor *mo)
{
	char msg[4096];
	ssize_t n = read(mo->sync_fd, msg, sizeof msg - 1);
	struct dew_error *err = NULL;
	if (n > 1 && msg[0] == 'E') {
		msg[n] = '\0';
		free(mo->st.error);
		mo->st.error = xstrdup(msg + 1);
	} else if (n <= 0) {
		mo->st.status = DEWRT_RUNNING;
		mo->st.started_ms = dewrt__now_ms();
	}
	close(mo->sync_fd);
	mo->sync_fd = -1;
	if (dewrt__state_write(&mo->st, &err) < 0)
		dew_error_free(err);
}

static void loop(struct monitor *mo)
{
	for (;;) {
		struct pollfd p[5] = {
			{ mo->out.pipe_fd, POLLIN, 0 }, { mo->err.pipe_fd, POLLIN, 0 },
			{ mo->sync_fd, POLLIN, 0 },	{ mo->oom_fd, POLLIN, 0 },
			{ mo->sig_fd, POLLIN, 0 },
		};
		if (poll(p, 5, -1) < 0 && errno != EINTR)
			return;
		if (p[0].revents && !sink_pump(&mo->out))
			mo->out.pipe_fd = -1;
		if (p[1].revents && !sink_pump(&mo->err))
			mo->err.pipe_fd = -1;
		if (p[2].revents)
			on_sync(mo);
		if (p[3].revents) {
			uint64_t v;
			if (read(mo->oom_fd, &v, sizeof v) < 0) {
				/* drained or inotify record; the count is read from the cgroup at exit */
			}
		}
		if (p[4].revents) {
			struct signalfd_siginfo si;
			if (read(mo->sig_fd, &si, sizeof si) < 0)
				continue;
			int status;
			if (waitpid(mo->init, &status, WNOHANG) == mo->init) {
				finish(mo, status);
				return;
			}
		}
	}
}

/* Detach from the creator: own session, stdio on /dev/null, a recognisable name. */
static void detach(void)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, 0);
		dup2(null_fd, 1);
		dup2(null_fd, 2);
		close(null_fd);
	}
	setsid();
	prctl(PR_SET_NAME, "dew-monitor", 0, 0, 0);
}

/* Wait for the creator's "S": the cgroup exists, the init may be cloned (monitor.h). */
static int wait_creator(int fd, struct dew_error **err)
{
	char c;
	ssize_t n;
	do
		n = recv(fd, &c, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n != 1 || c != 'S')
		return dew_error_set(err, ECANCELED, "the creator gave up on the container");
	return 0;
}

/*
 * Send the init's pid to the creator, which moves the init into the cgroup and registers the OOM
 * event, and take back the event fd and the paths ("C" in monitor.h). Anything else is the
 * creator giving up.
 */
static int join_cgroup(struct monitor *mo, struct dew_error **err)
{
	int fd = mo->m->creator_fd;
	char buf[2 * PATH_MAX + 8], pid[24];
	int n = snprintf(pid, sizeof pid, "P%d", (int)mo->init);

	if (send(fd, pid, (size_t)n, MSG_NOSIGNAL) != n)
		return dew_error_set(err, errno, "send the init's pid to the creator");
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { buf, sizeof buf - 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof c.b
	};
	ssize_t len;
	do
		len = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (len < 0 && errno == EINTR);
	struct cmsghdr *h = len > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
	    h->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&mo->oom_fd, CMSG_DATA(h), sizeof(int));
	if (len < 3 || buf[0] != 'C' || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || mo->oom_fd < 0 ||
	    buf[len - 1] != '\0')
		return dew_error_set(err, ECANCELED, "the creator did not hand over the container's cgroup");
	const char *path = buf + 1, *oom_file = path + strlen(path) + 1;
	if (oom_file >= buf + len || !*path || !*oom_file)
		return dew_error_set(err, EPROTO, "the creator's cgroup message is malformed");
	mo->st.cgroup = xstrdup(path);
	mo->oom_file = xstrdup(oom_file);
	return 0;
}

static int start_init(struct monitor *mo, struct dew_error **err)
{
	const struct dewrt_monitor_args *m = mo->m;
	int sv[2], out[2], errp[2];
	const char *log_dir = m->spec->log_dir ? m->spec->log_dir : m->dir;

	if (sink_open(&mo->out, log_dir, "stdout.log", err) < 0 ||
	    sink_open(&mo->err, log_dir, "stderr.log", err) < 0)
		return -EIO;
	if (wait_creator(m->creator_fd, err) < 0)
		return -ECANCELED;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0)
		return dew_error_set(err, errno, "create the monitor's pipes");
	mo->init = clone_init(m, sv[1], out[1], errp[1]);
	if (mo->init < 0)
		return dew_error_set(err, errno, "clone the container's init");
	close(sv[1]);
	close(out[1]);
	close(errp[1]);
	mo->sync_fd = sv[0];
	mo->out.pipe_fd = out[0];
	mo->err.pipe_fd = errp[0];
	int r = m->spec->userns ? write_id_maps(mo->init, m->spec->userns_base, err) : 0;
	/* The init waits for 'G', which it gets only once it is in the group and the OOM event is
	 * registered: nothing of the container runs before either. */
	if (r == 0)
		r = join_cgroup(mo, err);
	if (r < 0) {
		kill(mo->init, SIGKILL);
		waitpid(mo->init, NULL, 0);
		return r;
	}
	if (write(mo->sync_fd, "G", 1) != 1 || (r = read_ready(mo->sync_fd, err)) < 0) {
		kill(mo->init, SIGKILL);
		waitpid(mo->init, NULL, 0);
		return r < 0 ? r : dew_error_set(err, EPIPE, "the container's init went away");
	}
	return 0;
}

void dewrt__monitor_main(const struct dewrt_monitor_args *m)
{
	struct monitor mo = { .m = m, .sync_fd = -1, .oom_fd = -1, .sig_fd = -1 };
	struct dew_error *err = NULL;
	sigset_t mask;

	detach();
	/* The creator's freed heap would otherwise stay private dirty memory of every monitor. */
	malloc_trim(0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	mo.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	mo.st = (struct dewrt_state){
		.id = m->spec->id, .dir = m->dir, .exit_code = -1, .created_ms = dewrt__now_ms()
	};
	mo.st.monitor_pid = getpid();
	if (mo.sig_fd < 0 || start_init(&mo, &err) < 0) {
		dewrt__report(m->creator_fd, err ? dew_error_msg(err) : "signalfd failed");
		_exit(1);
	}
	/* The init has its own copy of the seccomp program: ours would only hold heap pages. */
	dewrt__seccomp_free(m->ctx->seccomp);
	m->ctx->seccomp = NULL;
	mo.st.init_pid = mo.init;
	mo.st.status = DEWRT_CREATED;
	if (dewrt__state_write(&mo.st, &err) < 0) {
		kill(mo.init, SIGKILL);
		waitpid(mo.init, NULL, 0);
		dewrt__report(m->creator_fd, dew_error_msg(err));
		_exit(1);
	}
	dewrt__report(m->creator_fd, NULL);
	/* Again, now that the set-up's allocations are freed: the idle monitor keeps only its own. */
	malloc_trim(0);
	loop(&mo);
	_exit(0);
}

void dewrt__report(int fd, const char *error)
{
	char msg[4096];
	int n = error ? snprintf(msg, sizeof msg, "E%s", error) : snprintf(msg, sizeof msg, "OK");
	/* MSG_NOSIGNAL: a creator that is gone must not take the monitor with it (SIGPIPE). */
	if (n > 0 && send(fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1, MSG_NOSIGNAL) < 0) {
		/* the creator is gone */
	}
	close(fd);
}
