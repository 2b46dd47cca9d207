// SPDX-License-Identifier: MIT
/*
 * Acting on an existing container: signals (to the init, checked against the container's cgroup
 * so a recycled pid is never hit), delete (kill what is left, remove cgroup and state), and
 * live usage next to the limits.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "fs.h"
#include "internal.h"

/* Is pid a member of the cgroup at path? Read from /proc/<pid>/cgroup. */
bool dewrt__pid_in_cgroup(pid_t pid, const char *path)
{
	char file[64];
	cleanup_free char *text = NULL;
	size_t len;
	snprintf(file, sizeof file, "/proc/%d/cgroup", (int)pid);
	if (!path || dew_read_file(file, 1 << 20, &text, &len, NULL) < 0)
		return false;
	return strstr(text, path) != NULL;
}

int dewrt_kill(struct dewrt_context *ctx, const char *id, int sig, struct dew_error **err)
{
	struct dewrt_state *st = NULL;
	int r = dewrt_state_read(ctx, id, &st, err);
	if (r < 0)
		return r;
	if (st->status != DEWRT_CREATED && st->status != DEWRT_RUNNING) {
		r = dew_error_set(err, ESRCH, "container `%s` is %s", id, dewrt_status_name(st->status));
	} else {
		/* A pidfd pins the process; the cgroup check proves it is still our init. */
		int pfd = (int)syscall(SYS_pidfd_open, st->init_pid, 0);
		if (pfd < 0 || !dewrt__pid_in_cgroup(st->init_pid, st->cgroup))
			r = dew_error_set(err, ESRCH, "container `%s`: its init is gone", id);
		else if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0)
			r = dew_error_set(err, errno, "signal container `%s`", id);
		if (pfd >= 0)
			close(pfd);
	}
	dewrt_state_free(st);
	return r;
}

/* Kill everything in the container's cgroup and wait (bounded) for the monitor's final state. */
static int stop_forcibly(struct dewrt_context *ctx, struct dewrt_state *st, struct dew_error **err)
{
	struct dewrt_cgroup *cg = NULL;
	int r = dewrt__cgroup_open(st->cgroup, &cg, err);
	if (r == 0)
		r = dewrt__cgroup_kill_all(cg, err);
	dewrt__cgroup_free(cg);
	if (r < 0)
		return r;
	struct dewrt_state *final = NULL;
	struct dew_error *werr = NULL;
	if (dewrt_wait(ctx, st->id, 5000, &final, &werr) < 0)
		dew_error_free(werr); /* a dead monitor cannot record it; deleting anyway */
	dewrt_state_free(final);
	return 0;
}

int dewrt_delete(struct dewrt_context *ctx, const char *id, bool force, struct dew_error **err)
{
	struct dewrt_state *st = NULL;
	int r = dewrt_state_read(ctx, id, &st, err);
	if (r < 0)
		return r;
	bool live = st->status != DEWRT_STOPPED && st->monitor_pid > 0 && kill(st->monitor_pid, 0) == 0;
	if (live && !force) {
		r = dew_error_set(err, EBUSY, "container `%s` is %s: stop it first or delete with --force",
				  id, dewrt_status_name(st->status));
		dewrt_state_free(st);
		return r;
	}
	if (live)
		r = stop_forcibly(ctx, st, err);
	struct dewrt_cgroup *cg = NULL;
	/* Daemonized leftovers would keep the group busy: kill them, then remove it. */
	if (r == 0 && st->cgroup && dewrt__cgroup_open(st->cgroup, &cg, NULL) == 0) {
		r = dewrt__cgroup_kill_all(cg, err);
		if (r == 0)
			r = dewrt__cgroup_remove(cg, err);
		dewrt__cgroup_free(cg);
	}
	if (r == 0)
		r = dew_remove_tree(st->dir, err);
	dewrt_state_free(st);
	return r < 0 ? dew_error_prefix(err, "delete container `%s`", id) : 0;
}

/* Bytes allocated below the directory dfd (consumed), not following symlinks. */
static uint64_t dir_usage(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	uint64_t total = 0;
	if (!d) {
		close(dfd);
		return 0;
	}
	for (struct dirent *e; (e = readdir(d));) {
		struct stat sb;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		total += (uint64_t)sb.st_blocks * 512;
		if (S_ISDIR(sb.st_mode) && depth < 64) {
			int sub =
				openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				total += dir_usage(sub, depth + 1);
		}
	}
	closedir(d);
	return total;
}

/*
 * What the app has written: with a quota, the usage of its tmpfs upper layer, seen through the
 * init's root (0 once it stopped: the layer is gone with it); without, the host app dir's size.
 */
static uint64_t disk_used(const struct dewrt_state *st)
{
	if (st->spec->limits.disk_mb) {
		char path[96];
		struct statfs sf;
		snprintf(path, sizeof path, "/proc/%d/root/home/vcap/app", (int)st->init_pid);
		if (st->status != DEWRT_RUNNING || statfs(path, &sf) < 0)
			return 0;
		return (uint64_t)(sf.f_blocks - sf.f_bfree) * (uint64_t)sf.f_bsize;
	}
	int dfd = st->spec->app_dir ? open(st->spec->app_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	return dfd >= 0 ? dir_usage(dfd, 0) : 0;
}

static int stats(struct dewrt_context *ctx, const char *id, bool with_disk, struct dewrt_stats *out,
		 struct dew_error **err)
{
	struct dewrt_state *st = NULL;
	struct dewrt_cgroup *cg = NULL;
	struct dewrt_cgroup_stats cs = { 0 };
	int r = dewrt_state_read(ctx, id, &st, err);
	if (r < 0)
		return r;
	memset(out, 0, sizeof *out);
	if (st->cgroup && (r = dewrt__cgroup_open(st->cgroup, &cg, err)) == 0)
		r = dewrt__cgroup_stats(cg, &cs, err);
	dewrt__cgroup_free(cg);
	if (r == 0) {
		out->memory_usage = cs.memory_usage;
		out->memory_limit = cs.memory_limit;
		out->memory_max_usage = cs.memory_max_usage;
		out->memory_failcnt = cs.memory_failcnt;
		out->oom_kills = cs.oom_kills;
		out->pids_current = cs.pids_current;
		out->pids_max = cs.pids_max;
		out->cpu_weight = cs.cpu_weight;
		out->cpu_usage_ns = cs.cpu_usage_ns;
		out->disk_quota = st->spec->limits.disk_mb * 1024 * 1024;
		if (with_disk)
			out->disk_used = disk_used(st);
	}
	dewrt_state_free(st);
	return r;
}

int dewrt_stats(struct dewrt_context *ctx, const char *id, struct dewrt_stats *out, struct dew_error **err)
{
	return stats(ctx, id, true, out, err);
}

int dewrt_stats_cgroup(struct dewrt_context *ctx, const char *id, struct dewrt_stats *out,
		       struct dew_error **err)
{
	return stats(ctx, id, false, out, err);
}
