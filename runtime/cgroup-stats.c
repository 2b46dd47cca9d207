// SPDX-License-Identifier: MIT
/*
 * What a container's cgroup tells about it: usage and limits (for `dew-run inspect`, the DEA's
 * stats), the pids in it, an OOM event descriptor (v1: eventfd registered on
 * memory.oom_control; v2: inotify on memory.events) for the shim's loop, and the OOM kill count
 * the shim records at exit, read without libcgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup-util.h"
#include "error.h"

/* Read the file known by its v2 name; a controller the group does not use reads as 0. */
static int read_named(const struct dewrt_cgroup *cg, const char *v2, uint64_t *out, struct dew_error **err)
{
	enum dewrt_cg_ctl ctl;
	const char *file, *dir;

	*out = 0;
	if (dewrt__cgroup_file(cg->mode, v2, &ctl, &file) < 0 || !(dir = dewrt__cgroup_dir(cg, ctl)))
		return 0;
	return dewrt__cgroup_read_value(dir, file, out, err);
}

/* A keyed value that older kernels lack (oom_kill before 4.13 on v1) reads as 0. */
static int read_keyed_opt(const char *dir, const char *file, const char *key, uint64_t *out,
			  struct dew_error **err)
{
	struct dew_error *e = NULL;
	int ret = dewrt__cgroup_read_keyed(dir, file, key, out, &e);

	if (ret == -ENOENT && dewrt__cgroup_has(dir, file)) {
		dew_error_free(e);
		*out = 0;
		return 0;
	}
	if (ret < 0)
		*err = e;
	return ret;
}

static int memory_stats(const struct dewrt_cgroup *cg, struct dewrt_cgroup_stats *out, struct dew_error **err)
{
	const char *dir = dewrt__cgroup_dir(cg, DEWRT_CG_MEMORY);
	bool v2 = cg->mode == DEWRT_CGROUP_V2;
	int ret;

	if ((ret = read_named(cg, "memory.current", &out->memory_usage, err)) < 0 ||
	    (ret = read_named(cg, "memory.max", &out->memory_limit, err)) < 0)
		return ret;
	if (!v2 && out->memory_limit >= DEWRT_CGROUP_V1_UNLIMITED)
		out->memory_limit = UINT64_MAX;
	/* memory.peak arrived in 5.19; without it the peak is unknown (0). */
	if ((!v2 || dewrt__cgroup_has(dir, "memory.peak")) &&
	    (ret = read_named(cg, "memory.peak", &out->memory_max_usage, err)) < 0)
		return ret;
	if (v2)
		ret = read_keyed_opt(dir, "memory.events", "max", &out->memory_failcnt, err);
	else
		ret = dewrt__cgroup_read_value(dir, "memory.failcnt", &out->memory_failcnt, err);
	if (ret < 0)
		return ret;
	return read_keyed_opt(dir, v2 ? "memory.events" : "memory.oom_control", "oom_kill", &out->oom_kills,
			      err);
}

static int cpu_stats(const struct dewrt_cgroup *cg, struct dewrt_cgroup_stats *out, struct dew_error **err)
{
	const char *acct = dewrt__cgroup_dir(cg, DEWRT_CG_CPUACCT);
	int ret;

	if (cg->ctl[DEWRT_CG_CPU].dir && (cg->mode == DEWRT_CGROUP_V1 || cg->ctl[DEWRT_CG_CPU].managed)) {
		if ((ret = read_named(cg, "cpu.weight", &out->cpu_weight, err)) < 0)
			return ret;
		if (cg->mode == DEWRT_CGROUP_V1)
			out->cpu_weight = dewrt__cgroup_shares_to_weight(out->cpu_weight);
	}
	if (!acct)
		return 0;
	if (cg->mode == DEWRT_CGROUP_V1)
		return dewrt__cgroup_read_value(acct, "cpuacct.usage", &out->cpu_usage_ns, err);
	uint64_t usec = 0;
	if ((ret = read_keyed_opt(acct, "cpu.stat", "usage_usec", &usec, err)) < 0)
		return ret;
	out->cpu_usage_ns = usec * 1000;
	return 0;
}

/*
 * Fill out from the group's files. Unlimited limits are UINT64_MAX; counters of controllers the
 * group does not use are 0.
 */
int dewrt__cgroup_stats(struct dewrt_cgroup *cg, struct dewrt_cgroup_stats *out, struct dew_error **err)
{
	int ret;

	memset(out, 0, sizeof *out);
	if ((ret = memory_stats(cg, out, err)) < 0 ||
	    (ret = read_named(cg, "pids.current", &out->pids_current, err)) < 0 ||
	    (ret = read_named(cg, "pids.max", &out->pids_max, err)) < 0 ||
	    (ret = cpu_stats(cg, out, err)) < 0)
		return dew_error_prefix(err, "stats of cgroup `%s`", cg->path);
	if (!dewrt__cgroup_dir(cg, DEWRT_CG_PIDS))
		out->pids_max = UINT64_MAX;
	return 0;
}

/* List the pids of the group (memory's cgroup.procs on v1). */
int dewrt__cgroup_pids(struct dewrt_cgroup *cg, pid_t **pids, size_t *n, struct dew_error **err)
{
	const char *dir = dewrt__cgroup_dir(cg, DEWRT_CG_MEMORY);
	cleanup_free char *text = NULL;
	int ret = dewrt__cgroup_read(dir, "cgroup.procs", &text, err);

	if (ret < 0)
		return dew_error_prefix(err, "list the processes of cgroup `%s`", cg->path);
	if (dewrt__cgroup_parse_pids(text, pids, n) < 0)
		return dew_error_set(err, EINVAL, "parse `%s/cgroup.procs`", dir);
	return 0;
}

/* v1: an eventfd the kernel signals on each OOM event (and when the group is removed). */
static int oom_fd_v1(const char *dir, int *fd, struct dew_error **err)
{
	cleanup_free char *ctl = xasprintf("%s/memory.oom_control", dir);
	cleanup_close int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cleanup_close int cfd = open(ctl, O_RDONLY | O_CLOEXEC);
	char line[64];
	int ret;

	if (efd < 0)
		return dew_error_set(err, errno, "eventfd");
	if (cfd < 0)
		return dew_error_set(err, errno, "open `%s`", ctl);
	snprintf(line, sizeof line, "%d %d", efd, cfd);
	if ((ret = dewrt__cgroup_write(dir, "cgroup.event_control", line, err)) < 0)
		return ret;
	*fd = steal_fd(&efd);
	return 0;
}

/* v2: inotify on memory.events, which the kernel touches on every memory event. */
static int oom_fd_v2(const char *dir, int *fd, struct dew_error **err)
{
	cleanup_free char *events = xasprintf("%s/memory.events", dir);
	cleanup_close int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (ifd < 0)
		return dew_error_set(err, errno, "inotify_init1");
	if (inotify_add_watch(ifd, events, IN_MODIFY) < 0)
		return dew_error_set(err, errno, "watch `%s`", events);
	*fd = steal_fd(&ifd);
	return 0;
}

/* The file whose `oom_kill` line counts the group's OOM kills (caller frees). */
char *dewrt__cgroup_oom_file(const struct dewrt_cgroup *cg)
{
	return xasprintf("%s/%s", dewrt__cgroup_dir(cg, DEWRT_CG_MEMORY),
			 cg->mode == DEWRT_CGROUP_V2 ? "memory.events" : "memory.oom_control");
}

/* Read the `oom_kill` count from the file dewrt__cgroup_oom_file named, with plain reads only. */
int dewrt__cgroup_oom_kills(const char *file, uint64_t *out, struct dew_error **err)
{
	const char *slash = strrchr(file, '/');

	*out = 0;
	if (!slash || slash == file || !slash[1])
		return dew_error_set(err, EINVAL, "read OOM kills: `%s` is not a cgroup file", file);
	cleanup_free char *dir = xstrndup(file, (size_t)(slash - file));
	return read_keyed_opt(dir, slash + 1, "oom_kill", out, err);
}

/*
 * An fd (non-blocking, close-on-exec; the caller owns it) that becomes readable on OOM events.
 * It can also wake for other reasons (v1: the group's removal; v2: high/max events), so the
 * caller confirms with the oom_kills counter of dewrt__cgroup_stats.
 */
int dewrt__cgroup_oom_fd(struct dewrt_cgroup *cg, int *fd, struct dew_error **err)
{
	const char *dir = dewrt__cgroup_dir(cg, DEWRT_CG_MEMORY);
	int ret = cg->mode == DEWRT_CGROUP_V2 ? oom_fd_v2(dir, fd, err) : oom_fd_v1(dir, fd, err);

	if (ret < 0)
		return dew_error_prefix(err, "watch cgroup `%s` for OOM kills", cg->path);
	return 0;
}
