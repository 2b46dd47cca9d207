// SPDX-License-Identifier: MIT
/*
 * The lifecycle API of libdewrt: create (state dir, cgroup, detached monitor), start (open the
 * exec fifo), wait (inotify on the state dir), kill, delete, stats. Every call works from the
 * state on disk, so any process (dew-run, a restarted DEA) can act on any container.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Remove a state directory (no symlinks followed: FTW_PHYS). */
static void remove_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
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

/* Fork twice so the monitor is nobody's child but init's, then wait for its report. */
static int spawn_monitor(struct dewrt_monitor_args *m, struct dew_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return dew_error_set(err, errno, "pipe");
	pid_t first = fork();
	if (first < 0) {
		close(p[0]);
		close(p[1]);
		return dew_error_set(err, errno, "fork the monitor");
	}
	if (first == 0) {
		close(p[0]);
		m->report_fd = p[1];
		if (fork() == 0)
			dewrt__monitor_main(m);
		_exit(0);
	}
	close(p[1]);
	waitpid(first, NULL, 0);
	char msg[4096];
	ssize_t n, len = 0;
	while (len < (ssize_t)sizeof msg - 1 && (n = read(p[0], msg + len, sizeof msg - 1 - (size_t)len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += n;
	}
	close(p[0]);
	msg[len > 0 ? len : 0] = '\0';
	if (len >= 2 && strncmp(msg, "OK", 2) == 0)
		return 0;
	if (len > 1 && msg[0] == 'E')
		return dew_error_set(err, 0, "%s", msg + 1);
	return dew_error_set(err, EPIPE, "the monitor exited before the container was created");
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
	struct dewrt_state st = { .id = spec->id, .dir = dir, .status = DEWRT_CREATING, .exit_code = -1,
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
	if (r == 0)
		r = dewrt__cgroup_create(NULL, cg_name, &spec->limits, &cg, err);
	int fifo_fd = r == 0 ? open(fifo, O_PATH | O_CLOEXEC) : -1;
	if (r == 0 && fifo_fd < 0)
		r = dew_error_set(err, errno, "open `%s`", fifo);
	if (r == 0) {
		struct dewrt_monitor_args m = { ctx, spec, cg, dir, fifo_fd, -1 };
		r = spawn_monitor(&m, err);
	}
	if (fifo_fd >= 0)
		close(fifo_fd);
	if (r < 0) {
		struct dew_error *e2 = NULL;
		if (cg && dewrt__cgroup_remove(cg, &e2) < 0)
			dew_error_free(e2);
		remove_tree(dir);
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
		r = dew_error_set(err, EBUSY, "container `%s` is %s, not created", id, dewrt_status_name(st->status));
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
			return dew_error_set(err, ESRCH, "container `%s`: its monitor exited without a final state", id);
		}
	}
}
