// SPDX-License-Identifier: MIT
/*
 * Unit tests of the runtime's cgroups on real groups below this process's own: limits, attach, an
 * OOM kill and its event, pids.max, kill_all of a daemonised grandchild, stats, re-open and the
 * errors. Every group is named dew-test-<pid>-N and removed in every path; a final sweep fails the run
 * if one was left behind, and a first sweep clears leftovers of earlier runs that died. The
 * pure helpers are tested in test-cgroup-util.c.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup-testlib.h"
#include "error.h"
#include "tap.h"

static void test_limits(void)
{
	struct dewrt_limits lim = { .memory_mb = 64, .pids = 32 }; /* weight from memory: 64 / 16 = 4 */
	struct dewrt_cgroup *cg = cgt_make(&lim), *again = NULL;
	struct dew_error *err = NULL;

	if (!cg)
		return;
	cleanup_free char *name = xasprintf(PREFIX "%d-%d", (int)getpid(), cgt_seq);
	tap_has_str(dewrt__cgroup_path(cg), name, "path names the group: %s", dewrt__cgroup_path(cg));
	if (cgt_mode == DEWRT_CGROUP_V1) {
		cleanup_free char *memsw = cgt_group_file(cg, DEWRT_CG_MEMORY, "memory.memsw.limit_in_bytes");
		cleanup_free char *oomctl = cgt_group_file(cg, DEWRT_CG_MEMORY, "memory.oom_control");

		tap_is_int(cgt_file_u64(cg, DEWRT_CG_MEMORY, "memory.limit_in_bytes"), 64 * MiB,
			   "memory.limit_in_bytes");
		if (access(memsw, F_OK) == 0)
			tap_is_int(cgt_file_u64(cg, DEWRT_CG_MEMORY, "memory.memsw.limit_in_bytes"), 64 * MiB,
				   "memory.memsw.limit_in_bytes = the memory limit (no swap)");
		else
			tap_is_int(cgt_file_u64(cg, DEWRT_CG_MEMORY, "memory.swappiness"), 0,
				   "memory.swappiness 0 (no swap accounting here)");
		tap_has_str(cgt_slurp(oomctl), "oom_kill_disable 0", "OOM killer enabled");
		tap_is_int(cgt_file_u64(cg, DEWRT_CG_PIDS, "pids.max"), 32, "pids.max");
		tap_is_int(cgt_file_u64(cg, DEWRT_CG_CPU, "cpu.shares"), 80, "cpu.shares from weight 4");
	} /* else: test_limits_v2 checks the v2 files */
	tap_is_int(dewrt__cgroup_create(NULL, name, &lim, &again, &err), -EEXIST,
		   "creating it again is -EEXIST");
	tap_has_str(err ? err->msg : "", "File exists", "... with a clear message: %s", err ? err->msg : "");
	dew_error_free(err);
	cgt_drop(cg, true);

	struct dewrt_limits explicit = { .cpu_weight = 100 };
	if ((cg = cgt_make(&explicit))) {
		if (cgt_mode == DEWRT_CGROUP_V1) {
			tap_is_int(cgt_file_u64(cg, DEWRT_CG_CPU, "cpu.shares"), 2597,
				   "cpu.shares from weight 100");
			tap_ok(cgt_file_u64(cg, DEWRT_CG_MEMORY, "memory.limit_in_bytes") >=
				       DEWRT_CGROUP_V1_UNLIMITED,
			       "no memory limit when memory_mb is 0");
		} else if (cg->ctl[DEWRT_CG_CPU].managed) {
			tap_is_int(cgt_file_u64(cg, DEWRT_CG_CPU, "cpu.weight"), 100, "cpu.weight 100");
		}
		cgt_drop(cg, true);
	}
}

/* v2 files; written from the kernel's cgroup-v2 documentation, run only on a v2 machine. */
static void test_limits_v2(void)
{
	static const char reason[] = "the cgroup v2 memory controller is not available on this machine";

	if (cgt_mode != DEWRT_CGROUP_V2) {
		tap_skip("cgroup2", reason, "v2: memory.max, memory.swap.max, pids.max, cpu.weight");
		tap_skip("cgroup2", reason, "v2: kill_all through cgroup.kill");
		return;
	}
	struct dewrt_limits lim = { .memory_mb = 64, .pids = 32, .cpu_weight = 250 };
	struct dewrt_cgroup *cg = cgt_make(&lim);
	int report = -1, status = 0;

	if (!cg)
		return;
	cleanup_free char *swap = cgt_group_file(cg, DEWRT_CG_MEMORY, "memory.swap.max");
	tap_ok(cgt_file_u64(cg, DEWRT_CG_MEMORY, "memory.max") == 64 * MiB &&
		       (access(swap, F_OK) < 0 ||
			cgt_file_u64(cg, DEWRT_CG_MEMORY, "memory.swap.max") == 0) &&
		       cgt_file_u64(cg, DEWRT_CG_PIDS, "pids.max") == 32 &&
		       (!cg->ctl[DEWRT_CG_CPU].managed ||
			cgt_file_u64(cg, DEWRT_CG_CPU, "cpu.weight") == 250),
	       "v2: memory.max, memory.swap.max, pids.max, cpu.weight");
	pid_t pid = cgt_spawn_in(cg, cgt_child_wait, &report);
	struct dew_error *err = NULL;
	if (pid > 0) {
		cgt_report_of(report, 5000);
		tap_is_int(dewrt__cgroup_kill_all(cg, &err), 0, "v2: kill_all through cgroup.kill");
		cgt_reap(pid, &status);
		close(report);
	}
	dew_error_free(err);
	cgt_drop(cg, true);
}

static void test_attach(void)
{
	struct dewrt_cgroup *cg = cgt_make(&(struct dewrt_limits){ .memory_mb = 64 });
	pid_t *pids = NULL;
	size_t n = 0;
	int report = -1, status = 0;
	struct dew_error *err = NULL;

	if (!cg)
		return;
	pid_t pid = cgt_spawn_in(cg, cgt_child_wait, &report);
	if (pid > 0) {
		tap_is_int(cgt_report_of(report, 5000), 'r', "attached child runs");
		tap_ok(cgt_procs_has(cg, pid), "child %d is in cgroup.procs", (int)pid);
		tap_ok(dewrt__cgroup_pids(cg, &pids, &n, &err) == 0 && n == 1 && pids[0] == pid,
		       "pids lists exactly the child");
		cleanup_free char *mine = xasprintf("/proc/%d/cgroup", (int)pid);
		tap_has_str(cgt_slurp(mine), dewrt__cgroup_path(cg), "/proc/%d/cgroup names the group",
			    (int)pid);
		tap_ok(!cgt_procs_has(cg, getpid()), "the test process stays outside");
		kill(pid, SIGKILL);
		cgt_reap(pid, &status);
		close(report);
	}
	free(pids);
	dew_error_free(err);
	cgt_drop(cg, true);
}

static void test_oom(void)
{
	struct dewrt_cgroup *cg = cgt_make(&(struct dewrt_limits){ .memory_mb = 32 });
	struct dewrt_cgroup_stats st = { 0 };
	struct dew_error *err = NULL;
	int fd = -1, report = -1, status = 0;
	cleanup_free char *before = xstrdup(cgt_slurp("/proc/self/cgroup"));

	if (!cg)
		return;
	if (!cgt_call_ok(dewrt__cgroup_oom_fd(cg, &fd, &err), &err, "OOM fd registered before the app runs"))
		goto out;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	tap_is_int(poll(&p, 1, 0), 0, "the OOM fd is quiet before the app runs");
	pid_t pid = cgt_spawn_in(cg, cgt_child_oom, &report);
	if (pid > 0) {
		cgt_reap(pid, &status);
		tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		       "a child touching 200 MB in a 32 MB group is SIGKILLed (status 0x%x)", status);
		tap_is_int(cgt_report_of(report, 0), -1, "... before it could report");
		close(report);
	}
	tap_is_int(poll(&p, 1, 5000), 1, "the OOM fd became readable");
	int ret = dewrt__cgroup_stats(cg, &st, &err);
	tap_ok(ret == 0 && st.oom_kills >= 1, "stats count the OOM kill (%llu)",
	       (unsigned long long)st.oom_kills);
	tap_is_str(cgt_slurp("/proc/self/cgroup"), before, "the test process stays in its own groups");
	char *mem = mmap(NULL, 64 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem != MAP_FAILED) {
		memset(mem, 1, 64 * MiB);
		munmap(mem, 64 * MiB);
	}
	tap_ok(mem != MAP_FAILED, "the test process can still touch 64 MB (not under the 32 MB limit)");
out:
	if (fd >= 0)
		close(fd);
	dew_error_free(err);
	cgt_drop(cg, true);
}

static void test_pids_limit(void)
{
	struct dewrt_cgroup *cg = cgt_make(&(struct dewrt_limits){ .memory_mb = 64, .pids = 16 });
	int report = -1, status = 0;
	struct dew_error *err = NULL;

	if (!cg)
		return;
	pid_t pid = cgt_spawn_in(cg, cgt_child_forks, &report);
	if (pid > 0) {
		tap_is_int(cgt_report_of(report, 10000), 'y',
			   "forking 100 times under pids.max 16 meets EAGAIN");
		struct dewrt_cgroup_stats st = { 0 };
		int ret = dewrt__cgroup_stats(cg, &st, &err);
		tap_ok(ret == 0 && st.pids_current == 16 && st.pids_max == 16, "stats: pids %llu of %llu",
		       (unsigned long long)st.pids_current, (unsigned long long)st.pids_max);
		cgt_call_ok(dewrt__cgroup_kill_all(cg, &err), &err,
			    "kill_all ends the forker and its children");
		cgt_reap(pid, &status);
		tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the forker died of SIGKILL");
		close(report);
	}
	dew_error_free(err);
	cgt_drop(cg, true);
	cgt_reap_orphans();
}

static void test_kill_daemon(void)
{
	struct dewrt_cgroup *cg = cgt_make(&(struct dewrt_limits){ .memory_mb = 64 });
	struct dew_error *err = NULL;
	int report = -1, status = 0;
	pid_t daemon = 0;
	struct pollfd p;

	if (!cg)
		return;
	pid_t pid = cgt_spawn_in(cg, cgt_child_daemon, &report);
	if (pid <= 0)
		goto out;
	cgt_reap(pid, &status);
	p = (struct pollfd){ .fd = report, .events = POLLIN };
	if (!tap_ok(poll(&p, 1, 5000) == 1 && read(report, &daemon, sizeof daemon) == sizeof daemon,
		    "the double-forked, setsid daemon reports its pid"))
		goto out;
	tap_ok(cgt_procs_has(cg, daemon), "the daemon %d outlived its parent in the group", (int)daemon);
	cgt_call_ok(dewrt__cgroup_kill_all(cg, &err), &err, "kill_all");
	/* We are the subreaper, so the orphan is ours to cgt_reap and its status shows what hit it. */
	status = 0;
	cgt_reap(daemon, &status);
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the daemon died of SIGKILL");
	tap_ok(!cgt_procs_has(cg, daemon), "the group is empty");
out:
	if (report >= 0)
		close(report);
	dew_error_free(err);
	cgt_drop(cg, true);
}

static void test_stats(void)
{
	struct dewrt_cgroup *cg =
		cgt_make(&(struct dewrt_limits){ .memory_mb = 64, .pids = 32, .cpu_weight = 100 });
	struct dewrt_cgroup_stats st = { 0 };
	struct dew_error *err = NULL;
	int report = -1, status = 0;

	if (!cg)
		return;
	pid_t pid = cgt_spawn_in(cg, cgt_child_busy, &report);
	if (pid > 0) {
		tap_is_int(cgt_report_of(report, 10000), 'r', "busy child ready");
		cgt_call_ok(dewrt__cgroup_stats(cg, &st, &err), &err, "stats");
		tap_ok(st.memory_usage >= 8 * MiB && st.memory_usage <= 64 * MiB,
		       "usage %llu covers the 8 MB touched", (unsigned long long)st.memory_usage);
		tap_is_int((intmax_t)st.memory_limit, 64 * MiB, "limit");
		tap_ok(cgt_mode == DEWRT_CGROUP_V2 || st.memory_max_usage >= st.memory_usage,
		       "max usage %llu", (unsigned long long)st.memory_max_usage);
		tap_ok(st.oom_kills == 0 && st.memory_failcnt == 0, "no OOM, no failures");
		tap_ok(st.pids_current == 1 && st.pids_max == 32, "pids %llu of %llu",
		       (unsigned long long)st.pids_current, (unsigned long long)st.pids_max);
		tap_is_int((intmax_t)st.cpu_weight, 100, "cpu weight");
		tap_ok(st.cpu_usage_ns >= 20000000ULL && st.cpu_usage_ns < 60000000000ULL,
		       "cpu usage %llu ns covers the 50 ms spin", (unsigned long long)st.cpu_usage_ns);
		kill(pid, SIGKILL);
		cgt_reap(pid, &status);
		close(report);
	}
	cgt_drop(cg, true);
	dew_error_free(err);
	err = NULL;
	if ((cg = cgt_make(NULL))) {
		tap_ok(dewrt__cgroup_stats(cg, &st, &err) == 0 && st.memory_limit == UINT64_MAX &&
			       st.pids_max == UINT64_MAX && st.cpu_weight == 100 && st.memory_usage == 0,
		       "an empty group without limits: unlimited, weight 100, no usage");
		cgt_drop(cg, true);
	}
	dew_error_free(err);
}

static void test_open_remove(void)
{
	struct dewrt_cgroup *cg = cgt_make(&(struct dewrt_limits){ .memory_mb = 64, .pids = 8 }), *re = NULL;
	struct dewrt_cgroup_stats st = { 0 };
	struct dew_error *err = NULL;
	int report = -1, status = 0;

	if (!cg)
		return;
	const char *path = dewrt__cgroup_path(cg);
	if (!cgt_call_ok(dewrt__cgroup_open(path, &re, &err), &err, "open the group by its path")) {
		cgt_drop(cg, true);
		return;
	}
	cgt_track(re);
	tap_is_str(dewrt__cgroup_path(re), path, "the re-opened group has the same path");
	for (int c = 0; c < DEWRT_CG_NCTL; c++)
		tap_is_str(dewrt__cgroup_dir(re, c) ? dewrt__cgroup_dir(re, c) : "-",
			   dewrt__cgroup_dir(cg, c) ? dewrt__cgroup_dir(cg, c) : "-",
			   "... and the same %s directory", dewrt__cgroup_ctl_name(c));
	pid_t pid = cgt_spawn_in(re, cgt_child_wait, &report);
	if (pid > 0) {
		cgt_report_of(report, 5000);
		tap_ok(dewrt__cgroup_stats(re, &st, &err) == 0 && st.pids_current == 1 && st.pids_max == 8,
		       "stats through the re-opened group");
		tap_is_int(dewrt__cgroup_remove(re, &err), -EBUSY,
			   "remove of a busy group fails after a short wait");
		tap_has_str(err ? err->msg : "", "busy", "... saying so: %s", err ? err->msg : "");
		dew_error_clear(&err);
		tap_ok(cgt_procs_has(re, pid),
		       "... and leaves the process in the group (no migration to the parent)");
		kill(pid, SIGKILL);
		cgt_reap(pid, &status);
		close(report);
	}
	cgt_drop(re, true);
	tap_is_int(dewrt__cgroup_remove(cg, &err), -ENOENT, "remove of a group that is gone is -ENOENT");
	tap_has_str(err ? err->msg : "", "No such file or directory", "... clearly: %s", err ? err->msg : "");
	dew_error_free(err);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(cgt_live); i++)
		if (cgt_live[i] == cg)
			cgt_live[i] = NULL;
	dewrt__cgroup_free(cg);
}

/* As nobody, creating a group below ours is refused, and the message says where and why. */
static void test_permission(void)
{
	cleanup_free char *name = cgt_tname();
	char msg[512] = "";
	int fds[2], status = 0;

	if (pipe(fds) < 0)
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		struct dewrt_cgroup *cg = NULL;
		struct dew_error *err = NULL;

		close(fds[0]);
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		int ret = dewrt__cgroup_create(NULL, name, NULL, &cg, &err);
		const char *m = dew_error_msg(err);
		if (write(fds[1], m, strlen(m)) < 0)
			_exit(3);
		_exit(ret == -EACCES ? 0 : 1);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], msg, sizeof msg - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	cgt_reap(pid, &status);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
		tap_skip(NULL, "cannot switch to uid 65534", "create as nobody is -EACCES");
		return;
	}
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "create as nobody is -EACCES");
	cleanup_free char *want = xasprintf("create cgroup `%s` under `", name);
	tap_has_str(msg, want, "... naming the group and its parent: %s", msg);
	tap_has_str(msg, "(memory): Permission denied", "... the controller and the reason");
}

static void test_errors(void)
{
	cleanup_free char *missing = xasprintf("/" PREFIX "%d-nowhere", (int)getpid());
	struct dewrt_cgroup *cg = NULL;
	struct dew_error *err = NULL;

	tap_is_int(dewrt__cgroup_open(missing, &cg, &err), -ENOENT, "open of a missing group is -ENOENT");
	tap_has_str(err ? err->msg : "", missing, "... naming it: %s", err ? err->msg : "");
	dew_error_clear(&err);
	tap_is_int(dewrt__cgroup_create(missing, "x", NULL, &cg, &err), -ENOENT,
		   "create under a missing parent");
	cleanup_free char *want =
		xasprintf("create cgroup `x` under `%s` (memory): No such file or directory", missing);
	tap_is_str(err ? err->msg : "", want, "... says where and why");
	dew_error_clear(&err);
	tap_is_int(dewrt__cgroup_create(NULL, "a/b", NULL, &cg, &err), -EINVAL, "a name with / is refused");
	dew_error_clear(&err);
	tap_is_int(dewrt__cgroup_create(NULL, "..", NULL, &cg, &err), -EINVAL, "the name .. is refused");
	dew_error_clear(&err);
	tap_is_int(dewrt__cgroup_create("/a/../b", "x", NULL, &cg, &err), -EINVAL,
		   "a parent with .. is refused");
	dew_error_clear(&err);
	tap_is_int(dewrt__cgroup_open("/", &cg, &err), -EINVAL, "the root is never opened");
	dew_error_clear(&err);
	tap_is_int(dewrt__cgroup_create(NULL, "x", &(struct dewrt_limits){ .cpu_weight = 10001 }, &cg, &err),
		   -ERANGE, "a weight above 10000 is refused");
	dew_error_free(err);
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} real[] = {
		{ "limits", test_limits },
		{ "attach", test_attach },
		{ "OOM kill", test_oom },
		{ "pids.max", test_pids_limit },
		{ "kill_all", test_kill_daemon },
		{ "stats", test_stats },
		{ "open and remove", test_open_remove },
		{ "errors", test_errors },
		{ "permission", test_permission },
	};
	struct dew_error *err = NULL;
	struct dewrt_cgroup *probe = NULL;
	cleanup_free char *probe_name = xasprintf(PREFIX "%d-probe", (int)getpid());

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (cgt_sweep(false) > 0)
		tap_diag("removed leftovers of earlier runs");
	if (dewrt__cgroup_mode(&cgt_mode, &err) < 0 ||
	    dewrt__cgroup_create(NULL, probe_name, &(struct dewrt_limits){ .memory_mb = 16 }, &probe, &err) <
		    0) {
		cleanup_free char *why =
			xasprintf("cannot create a cgroup below this process's own: %s", dew_error_msg(err));
		for (size_t i = 0; i < DEW_ARRAY_SIZE(real); i++)
			tap_skip(NULL, why, "%s", real[i].name);
		dew_error_free(err);
		return tap_done();
	}
	dewrt__cgroup_remove(probe, &err);
	dewrt__cgroup_free(probe);
	dew_error_clear(&err);

	for (size_t i = 0; i < DEW_ARRAY_SIZE(real); i++)
		real[i].fn();
	test_limits_v2();

	for (size_t i = 0; i < DEW_ARRAY_SIZE(cgt_live); i++)
		cgt_drop(cgt_live[i], false);
	cgt_reap_orphans();
	tap_is_int(cgt_sweep(true), 0, "every test removed its groups");
	return tap_done();
}
