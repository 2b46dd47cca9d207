// SPDX-License-Identifier: MIT
/*
 * Helpers of the cgroup tests on real groups: naming and tracking groups, children forked into
 * them, independent readers of cgroupfs files and the sweep of leftovers (cgroup-testlib.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup-testlib.h"
#include "error.h"
#include "tap.h"

enum dewrt_cgroup_mode cgt_mode;
int cgt_seq;
struct dewrt_cgroup *cgt_live[16];

/* Return the next group name. */
char *cgt_tname(void)
{
	return xasprintf(PREFIX "%d-%d", (int)getpid(), ++cgt_seq);
}

/* Remember a group until it is dropped. */
void cgt_track(struct dewrt_cgroup *cg)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(cgt_live); i++)
		if (!cgt_live[i]) {
			cgt_live[i] = cg;
			return;
		}
	abort();
}

/* Record that a library call succeeded, showing its error message when it did not; clears *err. */
bool cgt_call_ok(int ret, struct dew_error **err, const char *what)
{
	bool ok = tap_is_int(ret, 0, "%s%s%s", what, *err ? ": " : "", *err ? (*err)->msg : "");

	dew_error_clear(err);
	return ok;
}

/* Kill, remove and free a tracked group; a failure is reported as a test failure. */
void cgt_drop(struct dewrt_cgroup *cg, bool check)
{
	struct dew_error *err = NULL;
	int ret;

	if (!cg)
		return;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(cgt_live); i++)
		if (cgt_live[i] == cg)
			cgt_live[i] = NULL;
	ret = dewrt__cgroup_kill_all(cg, &err);
	if (ret == 0)
		ret = dewrt__cgroup_remove(cg, &err);
	if (check)
		tap_is_int(ret, 0, "remove %s%s%s", dewrt__cgroup_path(cg), err ? ": " : "",
			   err ? err->msg : "");
	dew_error_free(err);
	dewrt__cgroup_free(cg);
}

/* Create and track the next group below our own. */
struct dewrt_cgroup *cgt_make(const struct dewrt_limits *lim)
{
	cleanup_free char *name = cgt_tname();
	struct dewrt_cgroup *cg = NULL;
	cleanup_free char *what = xasprintf("create %s", name);
	struct dew_error *err = NULL;

	if (!cgt_call_ok(dewrt__cgroup_create(NULL, name, lim, &cg, &err), &err, what))
		return NULL;
	cgt_track(cg);
	return cg;
}

/* Return the path of a file of the group. */
char *cgt_group_file(struct dewrt_cgroup *cg, enum dewrt_cg_ctl c, const char *file)
{
	return xasprintf("%s/%s", dewrt__cgroup_dir(cg, c), file);
}

/* Read a whole (small) file with stdio, independent of the library's readers. */
char *cgt_slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return f ? buf : NULL;
}

/* Read the number at the start of a group file. */
unsigned long long cgt_file_u64(struct dewrt_cgroup *cg, enum dewrt_cg_ctl c, const char *file)
{
	cleanup_free char *path = cgt_group_file(cg, c, file);
	const char *s = cgt_slurp(path);

	return s ? strtoull(s, NULL, 10) : 0xdeadULL;
}

/* Tell whether pid is in the group. */
bool cgt_procs_has(struct dewrt_cgroup *cg, pid_t pid)
{
	cleanup_free char *path = cgt_group_file(cg, DEWRT_CG_MEMORY, "cgroup.procs");
	const char *s = cgt_slurp(path);
	char want[16];

	snprintf(want, sizeof want, "%d\n", (int)pid);
	for (const char *p = s; p && *p; p = strchr(p, '\n') + 1)
		if (strncmp(p, want, strlen(want)) == 0)
			return true;
	return false;
}

/* Fork a child that waits until it is attached to cg, then runs fn. */
pid_t cgt_spawn_in(struct dewrt_cgroup *cg, cgt_child_fn fn, int *report)
{
	int go[2], rep[2];
	struct dew_error *err = NULL;
	pid_t pid;
	char c = 'g';

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		abort();
	if ((pid = fork()) == 0) {
		close(go[1]);
		close(rep[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(99);
		fn(rep[1]);
		_exit(0);
	}
	close(go[0]);
	close(rep[1]);
	if (!cgt_call_ok(dewrt__cgroup_attach(cg, pid, &err), &err, "attach the child")) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(go[1]);
		close(rep[0]);
		return -1;
	}
	if (write(go[1], &c, 1) != 1)
		abort();
	close(go[1]);
	*report = rep[0];
	return pid;
}

/* Read one byte the child reports, within ms; -1 on timeout or EOF. */
int cgt_report_of(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c;
}

/* Wait for pid, retrying on EINTR. */
void cgt_reap(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

/* Reap orphans re-parented to us (we are their subreaper). */
void cgt_reap_orphans(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Child: report ready, then wait to be killed. */
void cgt_child_wait(int report)
{
	if (write(report, "r", 1) != 1)
		_exit(98);
	for (;;)
		pause();
}

static void touch(size_t bytes)
{
	volatile char *p =
		mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		_exit(97);
	for (size_t i = 0; i < bytes; i += 4096)
		p[i] = 1;
}

/* Child: touch 200 MB; reports only if it survives. */
void cgt_child_oom(int report)
{
	touch(200 * MiB);
	if (write(report, "x", 1) != 1) /* survived: the limit did not hold */
		_exit(98);
}

/* Child: touch 8 MB and spin 50 ms, then report ready and wait. */
void cgt_child_busy(int report)
{
	struct timespec start, now;

	touch(8 * MiB);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 50);
	cgt_child_wait(report);
}

/* Child: fork 100 waiting children and report whether a fork met EAGAIN. */
void cgt_child_forks(int report)
{
	bool eagain = false;

	for (int i = 0; i < 100; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			for (;;)
				pause();
		}
		if (pid < 0 && errno == EAGAIN)
			eagain = true;
	}
	if (write(report, eagain ? "y" : "n", 1) != 1)
		_exit(98);
	for (;;)
		pause();
}

/* Child: setsid and fork a daemon that reports its pid, then exit. */
void cgt_child_daemon(int report)
{
	if (setsid() < 0)
		_exit(96);
	pid_t pid = fork();
	if (pid == 0) {
		pid_t self = getpid();
		if (write(report, &self, sizeof self) != (ssize_t)sizeof self)
			_exit(98);
		for (;;)
			pause();
	}
	_exit(pid > 0 ? 0 : 95);
}

/* Kill what is in dir and remove it; true when it is gone. */
static bool cgt_sweep_dir(const char *dir)
{
	for (int i = 0; i < 200; i++) {
		cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
		const char *s = cgt_slurp(procs);

		for (const char *p = s; p && *p; p = strchr(p, '\n') + 1)
			kill((pid_t)atoi(p), SIGKILL);
		if (rmdir(dir) == 0 || errno == ENOENT)
			return true;
		cgt_reap_orphans();
		usleep(10000);
	}
	return false;
}

/*
 * Remove dew-test-<pid>-* groups below this process's groups in every hierarchy: ours (mine) or
 * those of runs that are dead. Returns how many were found.
 */
int cgt_sweep(bool mine)
{
	static const char *const roots[] = { "/sys/fs/cgroup",	       "/sys/fs/cgroup/memory",
					     "/sys/fs/cgroup/pids",    "/sys/fs/cgroup/cpu",
					     "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct",
					     "/sys/fs/cgroup/freezer" };
	int found = 0;

	for (size_t r = 0; r < DEW_ARRAY_SIZE(roots); r++) {
		for (int c = -1; c < DEWRT_CG_NCTL; c++) {
			char *own = NULL;
			enum dewrt_cgroup_mode m = c < 0 ? DEWRT_CGROUP_V2 : DEWRT_CGROUP_V1;
			struct dew_error *e = NULL;

			if (dewrt__cgroup_own_path(m, c < 0 ? NULL : dewrt__cgroup_ctl_name(c), &own, &e) <
			    0) {
				dew_error_free(e);
				continue;
			}
			cleanup_free char *base = xasprintf("%s%s", roots[r], strcmp(own, "/") ? own : "");
			DIR *d = opendir(base);
			struct dirent *ent;

			free(own);
			while (d && (ent = readdir(d))) {
				int pid = 0;

				if (sscanf(ent->d_name, PREFIX "%d-", &pid) != 1 ||
				    (mine ? pid != getpid()
					  : pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH))
					continue;
				cleanup_free char *dir = xasprintf("%s/%s", base, ent->d_name);
				found++;
				if (!cgt_sweep_dir(dir))
					tap_diag("could not remove %s", dir);
			}
			if (d)
				closedir(d);
		}
	}
	return found;
}
