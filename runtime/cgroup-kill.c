// SPDX-License-Identifier: MIT
/*
 * Killing every process of a container's cgroup, daemonised grandchildren included: cgroup.kill
 * where the kernel has it (v2, 5.14+), else freeze the group (so nothing forks while we look),
 * SIGKILL each pid of cgroup.procs, thaw, and repeat until the group is empty, within a bound.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup-util.h"
#include "error.h"
#include "log.h"

enum {
	KILL_ROUNDS = 10,     /* freeze/kill/thaw rounds before giving up */
	FREEZE_WAIT_MS = 500, /* for the freezer to settle */
	EXIT_WAIT_MS = 200,   /* per round, for killed tasks to leave the group */
	KILL_WAIT_MS = 2000,  /* after cgroup.kill */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The number of processes in the group, or a negative errno. */
static int count_procs(struct dewrt_cgroup *cg, pid_t **pids, size_t *n, struct dew_error **err)
{
	cleanup_free pid_t *v = NULL;
	size_t count = 0;
	int ret = dewrt__cgroup_pids(cg, &v, &count, err);

	if (ret < 0)
		return ret;
	if (pids)
		*pids = steal_pointer(&v);
	*n = count;
	return 0;
}

/* Wait up to ms for the group to have no processes; 1 when empty, 0 when not, or -errno. */
static int wait_empty(struct dewrt_cgroup *cg, unsigned ms, size_t *left, struct dew_error **err)
{
	uint64_t deadline = now_ms() + ms;

	for (;;) {
		int ret = count_procs(cg, NULL, left, err);

		if (ret < 0)
			return ret;
		if (*left == 0)
			return 1;
		if (now_ms() >= deadline)
			return 0;
		usleep(5 * 1000);
	}
}

/*
 * Freeze (or thaw) the group: v1 freezer.state FROZEN/THAWED, v2 cgroup.freeze 1/0. A group
 * without a freezer is left running (false); a freeze that does not settle in time still counts,
 * as SIGKILL reaches a frozen task once it is thawed.
 */
static bool set_frozen(struct dewrt_cgroup *cg, bool frozen, struct dew_error **err)
{
	bool v2 = cg->mode == DEWRT_CGROUP_V2;
	enum dewrt_cg_ctl ctl;
	const char *file, *dir;

	if (dewrt__cgroup_file(cg->mode, "cgroup.freeze", &ctl, &file) < 0 ||
	    !(dir = dewrt__cgroup_dir(cg, ctl)) || !dewrt__cgroup_has(dir, file))
		return false;
	const char *value = v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
	if (dewrt__cgroup_write(dir, file, value, err) < 0)
		return false;
	for (uint64_t deadline = now_ms() + FREEZE_WAIT_MS; frozen && now_ms() < deadline; usleep(2 * 1000)) {
		cleanup_free char *text = NULL;
		uint64_t f = 0;
		struct dew_error *e = NULL;

		if (v2 ? dewrt__cgroup_read_keyed(dir, "cgroup.events", "frozen", &f, &e) < 0
		       : dewrt__cgroup_read(dir, file, &text, &e) < 0) {
			dew_error_free(e);
			break;
		}
		if (v2 ? f == 1 : strncmp(text, "FROZEN", 6) == 0)
			break;
	}
	return true;
}

/* v2 5.14+: the kernel kills the whole subtree for us. 1 when used, 0 when absent, or -errno. */
static int kill_by_file(struct dewrt_cgroup *cg, struct dew_error **err)
{
	const char *dir = dewrt__cgroup_dir(cg, DEWRT_CG_MEMORY);
	size_t left = 0;
	int ret;

	if (cg->mode != DEWRT_CGROUP_V2 || !dewrt__cgroup_has(dir, "cgroup.kill"))
		return 0;
	if ((ret = dewrt__cgroup_write(dir, "cgroup.kill", "1", err)) < 0)
		return ret;
	if ((ret = wait_empty(cg, KILL_WAIT_MS, &left, err)) < 0)
		return ret;
	if (ret == 0)
		return dew_error_set(err, EBUSY, "%zu processes survive cgroup.kill", left);
	return 1;
}

/* One round: freeze, SIGKILL every pid, thaw. */
static int kill_round(struct dewrt_cgroup *cg, struct dew_error **err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	struct dew_error *e = NULL;
	bool frozen = set_frozen(cg, true, &e);
	int ret;

	if (e) {
		dew_debug("%s (killing without the freezer)", dew_error_msg(e));
		dew_error_clear(&e);
	}
	ret = count_procs(cg, &pids, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
			ret = dew_error_set(err, errno, "kill pid %d", (int)pids[i]);
	/* Thaw whatever happened above: a group left frozen would hold its tasks forever. */
	if (frozen && !set_frozen(cg, false, &e) && e) {
		if (ret == 0) {
			*err = e;
			return -(*err)->code;
		}
		dew_error_free(e);
	}
	return ret;
}

/* Kill every process in the group. */
int dewrt__cgroup_kill_all(struct dewrt_cgroup *cg, struct dew_error **err)
{
	size_t left = 0;
	int ret = kill_by_file(cg, err);

	if (ret == 0) {
		for (int round = 0; round < KILL_ROUNDS; round++) {
			if ((ret = wait_empty(cg, 0, &left, err)) != 0)
				break;
			if ((ret = kill_round(cg, err)) < 0)
				break;
			if ((ret = wait_empty(cg, EXIT_WAIT_MS, &left, err)) != 0)
				break;
		}
		if (ret == 0)
			ret = dew_error_set(err, EBUSY, "%zu processes survive %d rounds of SIGKILL", left,
					    KILL_ROUNDS);
	}
	if (ret < 0)
		return dew_error_prefix(err, "kill the processes of cgroup `%s`", cg->path);
	return 0;
}
