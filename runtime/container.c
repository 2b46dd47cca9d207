// SPDX-License-Identifier: MIT
/*
 * The lifecycle API of libdewrt: create (state dir, detached monitor, cgroup), start (open the
 * exec fifo), wait (a pidfd of the monitor), kill, delete, stats. Every call works from the
 * state on disk, so any process (dew-run, a restarted DEA) can act on any container.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fs.h"
#include "internal.h"
#include "json.h"
#include "monitor.h"

void dewrt__log(const struct dewrt_context *ctx, int level, const char *fmt, ...)
{
	if (!ctx->log)
		return;
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	ctx->log(level, msg, ctx->log_data);
}

int dewrt_context_init(struct dewrt_context *ctx, const char *state_root, struct dew_error **err)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->state_root = xstrdup(state_root ? state_root : "/run/dew/containers");
	return 0;
}

int dewrt__seccomp_ready(struct dewrt_context *ctx, struct dew_error **err)
{
	/* Compiled on first use (about 10 ms for three architectures), then reused: commands that
	 * only read state never pay for it, and a daemon pays once. */
	if (ctx->seccomp)
		return 0;
	/* The cache lives in the state root; without it (not created yet) compile in memory. */
	struct stat sb;
	bool cache = stat(ctx->state_root, &sb) == 0 && sb.st_uid == geteuid() && !(sb.st_mode & 022);
	return dewrt__seccomp_compile(&ctx->seccomp, cache ? ctx->state_root : NULL, err);
}

void dewrt_context_close(struct dewrt_context *ctx)
{
	dewrt__seccomp_free(ctx->seccomp);
	free(ctx->state_root);
	memset(ctx, 0, sizeof *ctx);
}

static int write_spec(const char *dir, const struct dewrt_spec *spec, struct dew_error **err)
{
	json_t *j = dewrt__spec_json(spec);
	cleanup_free char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	cleanup_free char *path = xasprintf("%s/spec.json", dir);
	/* /run is volatile: an atomic rename is all readers need, fsync would only cost time. */
	return dew_write_file_replace(path, text, strlen(text), 0644, err);
}

/*
 * Fork twice so the monitor is nobody's child but init's; *sock is our end of the socket to it
 * (protocol in monitor.h). Called before the first libcgroup call of a short-lived creator, so
 * the monitor starts without libcgroup's state.
 */
static int spawn_monitor(struct dewrt_monitor_args *m, int *sock, struct dew_error **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return dew_error_set(err, errno, "create the monitor's socket");
	pid_t first = fork();
	if (first < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return dew_error_set(err, e, "fork the monitor");
	}
	if (first == 0) {
		close(sv[0]);
		m->creator_fd = sv[1];
		if (fork() == 0)
			dewrt__monitor_main(m);
		_exit(0);
	}
	close(sv[1]);
	waitpid(first, NULL, 0);
	*sock = sv[0];
	return 0;
}

/* One message from the monitor, NUL-terminated in buf; 0 once it has closed its end. */
static ssize_t monitor_recv(int sock, char *buf, size_t size)
{
	ssize_t n;
	do
		n = recv(sock, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* The monitor's "E<message>", or its going away, as an error. */
static int monitor_failed(const char *msg, ssize_t n, struct dew_error **err)
{
	if (n > 1 && msg[0] == 'E')
		return dew_error_set(err, 0, "%s", msg + 1);
	return dew_error_set(err, EPIPE, "the monitor exited before the container was created");
}

/* Send "C<path>\0<oom file>\0" with the OOM event fd (monitor.h). */
static int send_cgroup(int sock, const char *path, const char *oom_file, int oom_fd, struct dew_error **err)
{
	size_t plen = strlen(path) + 1, flen = strlen(oom_file) + 1;
	if (plen + flen > 2 * PATH_MAX)
		return dew_error_set(err, ENAMETOOLONG, "hand the cgroup `%s` to the monitor", path);
	cleanup_free char *buf = xmalloc(1 + plen + flen);
	buf[0] = 'C';
	memcpy(buf + 1, path, plen);
	memcpy(buf + 1 + plen, oom_file, flen);
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} c;
	memset(&c, 0, sizeof c);
	struct iovec iov = { buf, 1 + plen + flen };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof c.b
	};
	struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &oom_fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)iov.iov_len)
		return dew_error_set(err, n < 0 ? errno : EIO, "hand the cgroup to the monitor");
	return 0;
}

/*
 * The creator's half of the monitor's start-up, once cg exists: let the monitor clone the init,
 * take the init's pid, move the init into cg and register the OOM event here, then hand the
 * event fd and the paths to the monitor, which only then lets the init go on. The pid stays
 * valid meanwhile: the monitor does not reap the init before it has our answer.
 */
static int attach_init(int sock, struct dewrt_cgroup *cg, struct dew_error **err)
{
	char msg[4096];
	if (send(sock, "S", 1, MSG_NOSIGNAL) < 0) {
		/* the monitor failed already: its "E<message>" is read below */
	}
	ssize_t n = monitor_recv(sock, msg, sizeof msg);
	char *end = msg;
	long pid = n > 1 && msg[0] == 'P' ? strtol(msg + 1, &end, 10) : 0;
	if (pid <= 0 || pid > INT32_MAX || *end)
		return monitor_failed(msg, n, err);
	int r = dewrt__cgroup_attach(cg, (pid_t)pid, err);
	cleanup_close int oom_fd = -1;
	if (r == 0)
		r = dewrt__cgroup_oom_fd(cg, &oom_fd, err);
	if (r < 0)
		return r;
	cleanup_free char *oom_file = dewrt__cgroup_oom_file(cg);
	return send_cgroup(sock, dewrt__cgroup_path(cg), oom_file, oom_fd, err);
}

/* Wait for the monitor's report: "OK" once the container is CREATED. */
static int monitor_wait_ok(int sock, struct dew_error **err)
{
	char msg[4096];
	ssize_t n = monitor_recv(sock, msg, sizeof msg);
	if (n >= 2 && strncmp(msg, "OK", 2) == 0)
		return 0;
	return monitor_failed(msg, n, err);
}

/* Tell the monitor to give up (it kills and reaps the init) and wait until it has exited. */
static void monitor_abort(int sock)
{
	char msg[4096];
	if (send(sock, "E", 1, MSG_NOSIGNAL) < 0) {
		/* gone already: the loop below sees the end at once */
	}
	while (monitor_recv(sock, msg, sizeof msg) > 0) {
	}
}

int dewrt_create(struct dewrt_context *ctx, const struct dewrt_spec *spec, struct dew_error **err)
{
	cleanup_free char *dir = dewrt__state_dir(ctx, spec->id);
	cleanup_free char *fifo = xasprintf("%s/exec.fifo", dir);
	cleanup_free char *cg_name = xasprintf("dew-%s", spec->id);
	struct dewrt_cgroup *cg = NULL;
	int r;

	if ((r = dew_mkdir_p(ctx->state_root, 0711, err)) < 0 || (r = dewrt__seccomp_ready(ctx, err)) < 0)
		return r;
	if (mkdir(dir, 0700) < 0)
		return errno == EEXIST ? dew_error_set(err, EEXIST, "container `%s` already exists", spec->id)
				       : dew_error_set(err, errno, "create `%s`", dir);
	struct dewrt_state st = { .id = spec->id,
				  .dir = dir,
				  .status = DEWRT_CREATING,
				  .exit_code = -1,
				  .created_ms = dewrt__now_ms() };
	r = write_spec(dir, spec, err);
	if (r == 0)
		r = dewrt__state_write(&st, err);
	if (r == 0 && mkfifo(fifo, 0600) < 0)
		r = dew_error_set(err, errno, "create `%s`", fifo);
	/* The init opens it after dropping to the app's user, through its O_PATH fd. */
	uid_t host_uid = spec->userns ? spec->userns_base + spec->uid : spec->uid;
	gid_t host_gid = spec->userns ? spec->userns_base + spec->gid : spec->gid;
	if (r == 0 && chown(fifo, host_uid, host_gid) < 0)
		r = dew_error_set(err, errno, "chown `%s`", fifo);
	int fifo_fd = r == 0 ? open(fifo, O_PATH | O_CLOEXEC) : -1;
	if (r == 0 && fifo_fd < 0)
		r = dew_error_set(err, errno, "open `%s`", fifo);
	/*
	 * The monitor first, the cgroup after: the monitor must not inherit libcgroup's state
	 * (monitor.h). It opens the logs meanwhile and clones the init when attach_init says so.
	 */
	int sock = -1;
	if (r == 0) {
		struct dewrt_monitor_args m = { ctx, spec, dir, fifo_fd, -1 };
		r = spawn_monitor(&m, &sock, err);
	}
	if (fifo_fd >= 0)
		close(fifo_fd);
	if (r == 0)
		r = dewrt__cgroup_create(NULL, cg_name, &spec->limits, &cg, err);
	if (r == 0)
		r = attach_init(sock, cg, err);
	if (r == 0)
		r = monitor_wait_ok(sock, err);
	if (r < 0 && sock >= 0)
		monitor_abort(sock); /* the init is gone when this returns: the group can go */
	if (sock >= 0)
		close(sock);
	if (r < 0) {
		struct dew_error *e2 = NULL;
		if (cg && dewrt__cgroup_remove(cg, &e2) < 0)
			dew_error_free(e2);
		dew_remove_tree(dir, NULL);
	}
	dewrt__cgroup_free(cg);
	return r < 0 ? dew_error_prefix(err, "create container `%s`", spec->id) : 0;
}

int dewrt_start(struct dewrt_context *ctx, const char *id, struct dew_error **err)
{
	struct dewrt_state *st = NULL;
	int r = dewrt_state_read(ctx, id, &st, err);
	if (r < 0)
		return r;
	if (st->status != DEWRT_CREATED) {
		r = dew_error_set(err, EBUSY, "container `%s` is %s, not created", id,
				  dewrt_status_name(st->status));
		dewrt_state_free(st);
		return r;
	}
	cleanup_free char *fifo = xasprintf("%s/exec.fifo", st->dir);
	dewrt_state_free(st);
	r = -EIO;
	/* The init is blocked opening the fifo for writing: our open releases it. */
	cleanup_close int fd = open(fifo, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return dew_error_set(err, errno, "start container `%s`: open the exec fifo", id);
	/* Wait for the init's byte, noticing an init that failed instead. */
	for (int waited = 0; waited < 10000; waited += 50) {
		struct pollfd p = { fd, POLLIN, 0 };
		char c;
		if (poll(&p, 1, 50) > 0 && read(fd, &c, 1) == 1) {
			unlink(fifo);
			return 0;
		}
		struct dewrt_state *now = NULL;
		if (dewrt_state_read(ctx, id, &now, err) < 0)
			return r;
		if (now->status == DEWRT_STOPPED) {
			r = dew_error_set(err, 0, "start container `%s`: %s", id,
					  now->error ? now->error : "its init exited");
			dewrt_state_free(now);
			return r;
		}
		dewrt_state_free(now);
	}
	return dew_error_set(err, ETIMEDOUT, "start container `%s`: the init did not answer", id);
}

int dewrt_wait(struct dewrt_context *ctx, const char *id, uint64_t timeout_ms, struct dewrt_state **out,
	       struct dew_error **err)
{
	int64_t deadline = timeout_ms ? dewrt__now_ms() + (int64_t)timeout_ms : INT64_MAX;
	/* The monitor writes the final state and then exits: its pidfd says when to look again. */
	cleanup_close int pfd = -1;
	for (;;) {
		struct dewrt_state *st = NULL;
		int r = dewrt_state_read(ctx, id, &st, err);
		if (r < 0)
			return r;
		if (st->status == DEWRT_STOPPED) {
			*out = st;
			return 0;
		}
		pid_t monitor = st->monitor_pid;
		dewrt_state_free(st);
		if (pfd < 0 && monitor > 0) {
			pfd = (int)syscall(SYS_pidfd_open, monitor, 0);
			if (pfd < 0 && errno == ESRCH) {
				/* Gone between our read and now: one more look decides. */
				if (dewrt_state_read(ctx, id, &st, err) < 0)
					return -EIO;
				if (st->status == DEWRT_STOPPED) {
					*out = st;
					return 0;
				}
				dewrt_state_free(st);
				return dew_error_set(err, ESRCH, "container `%s`: its monitor is gone", id);
			}
		}
		int64_t left = deadline - dewrt__now_ms();
		if (left <= 0)
			return dew_error_set(err, ETIMEDOUT, "container `%s` did not stop in time", id);
		struct pollfd p = { pfd, POLLIN, 0 };
		if (pfd < 0)
			poll(NULL, 0, left > 50 ? 50 : (int)left);
		else if (poll(&p, 1, left > 1000 ? 1000 : (int)left) > 0) {
			/* The monitor exited: its last act was writing the final state. */
			if (dewrt_state_read(ctx, id, &st, err) < 0)
				return -EIO;
			if (st->status == DEWRT_STOPPED) {
				*out = st;
				return 0;
			}
			dewrt_state_free(st);
			return dew_error_set(err, ESRCH,
					     "container `%s`: its monitor exited without a final state", id);
		}
	}
}
