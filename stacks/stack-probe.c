// SPDX-License-Identifier: MIT
/*
 * Which runtimes a stack really has, as Cloud Foundry's DEA probed its own: a runtime that
 * reaches the container from the host (through a stack mount such as /usr) is run once with its
 * version command, all of them in parallel under one deadline; a runtime inside the stack's own
 * root is only checked to be an executable file there, since running it would mean the host's
 * loader and libraries, not the root's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "stack-internal.h"

enum {
	PROBE_TIMEOUT_MS = 2000,
	PROBE_POLL_MS = 2,
	PROBE_MAX_ARGS = 4,
};

/* The version command of each known runtime; any other runtime is probed with `--version`. */
static const struct {
	const char *runtime;
	const char *args[PROBE_MAX_ARGS - 1];
} probe_table[] = {
	{ "python3", { "--version" } }, { "node", { "--version" } }, { "perl", { "-v" } },
	{ "ruby", { "--version" } },	{ "sh", { "-c", "true" } },
};

/* Where a container finds a runtime: the PATH the DEA gives apps, in its order. */
static const char *const search_dirs[] = { "/usr/local/bin", "/usr/bin", "/bin" };

static const char *const probe_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "HOME=/", NULL };

struct probe {
	char *host_path; /* the host file to run, or NULL when none is run */
	pid_t pid;	 /* > 0 while running */
	bool ok;
};

/* The stack mount whose target holds the container path cpath (the longest such), or NULL. */
static const struct dewrt_mount *mount_of(const struct dew_stack *stack, const char *cpath)
{
	const struct dewrt_mount *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < stack->n_mounts; i++) {
		const char *t = stack->mounts[i].target;
		size_t n = strcmp(t, "/") == 0 ? 0 : strlen(t);
		if (strncmp(cpath, t, n) == 0 && cpath[n] == '/' && (!best || n > best_len)) {
			best = &stack->mounts[i];
			best_len = n;
		}
	}
	return best;
}

static bool executable_file(const struct stat *st)
{
	return S_ISREG(st->st_mode) && (st->st_mode & 0111);
}

/*
 * Find runtime in the search path as the container would: a hit below a stack mount sets
 * p->host_path (to be run); a hit in the root itself sets p->ok.
 */
static void locate(const struct dew_stack *stack, int root, const char *runtime, struct probe *p)
{
	struct stat st;

	for (size_t i = 0; i < DEW_ARRAY_SIZE(search_dirs); i++) {
		cleanup_free char *cpath = xasprintf("%s/%s", search_dirs[i], runtime);
		const struct dewrt_mount *m = mount_of(stack, cpath);
		if (m) {
			size_t n = strcmp(m->target, "/") == 0 ? 0 : strlen(m->target);
			char *host = xasprintf("%s%s", m->source, cpath + n);
			if (stat(host, &st) == 0 && executable_file(&st)) {
				p->host_path = host;
				return;
			}
			free(host);
			continue;
		}
		if (root < 0)
			continue;
		cleanup_close int fd = dew_stack__open_in_root(root, cpath, true);
		if (fd >= 0 && fstat(fd, &st) == 0 && executable_file(&st)) {
			p->ok = true;
			return;
		}
	}
}

/* Fork and exec the version command with stdio on /dev/null, in its own process group. */
static pid_t spawn(const char *path, const char *runtime)
{
	const char *argv[PROBE_MAX_ARGS + 1] = { runtime };
	size_t t = 0;

	while (t < DEW_ARRAY_SIZE(probe_table) && strcmp(probe_table[t].runtime, runtime) != 0)
		t++;
	for (size_t i = 0; i < PROBE_MAX_ARGS - 1; i++)
		argv[i + 1] = t < DEW_ARRAY_SIZE(probe_table) ? probe_table[t].args[i]
							      : (i == 0 ? "--version" : NULL);

	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* The child: async-signal-safe calls only (the caller may have threads). */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(127);
#ifdef SYS_close_range
	syscall(SYS_close_range, 3U, ~0U, 0U);
#endif
	execve(path, (char *const *)argv, (char *const *)probe_env);
	_exit(127);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reap every probe; those still running at the deadline are killed and count as failed. */
static void wait_all(struct probe *p, size_t n)
{
	const struct timespec poll = { 0, PROBE_POLL_MS * 1000000L };
	int64_t deadline = now_ms() + PROBE_TIMEOUT_MS;

	for (;;) {
		size_t pending = 0;
		for (size_t i = 0; i < n; i++) {
			int st;
			if (p[i].pid <= 0)
				continue;
			pid_t r = waitpid(p[i].pid, &st, WNOHANG);
			if (r == p[i].pid) {
				p[i].ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
				p[i].pid = 0;
			} else if (r < 0 && errno != EINTR) {
				p[i].pid = 0; /* reaped by someone else: no verdict, so not advertised */
			} else {
				pending++;
			}
		}
		if (pending == 0)
			return;
		if (now_ms() >= deadline)
			break;
		nanosleep(&poll, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i].pid <= 0)
			continue;
		kill(-p[i].pid, SIGKILL);
		kill(p[i].pid, SIGKILL);
		while (waitpid(p[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		p[i].pid = 0;
	}
}

/* Keep in stack->runtimes only those that a container on the stack can run. */
void dew_stack__probe(struct dew_stack *stack)
{
	size_t n = 0, kept = 0;

	while (stack->runtimes[n])
		n++;
	struct probe *p = xcalloc(n + 1, sizeof *p);
	cleanup_close int root = open(stack->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; i < n; i++) {
		locate(stack, root, stack->runtimes[i], &p[i]);
		if (p[i].host_path)
			p[i].pid = spawn(p[i].host_path, stack->runtimes[i]);
	}
	wait_all(p, n);
	for (size_t i = 0; i < n; i++) {
		free(p[i].host_path);
		if (p[i].ok)
			stack->runtimes[kept++] = stack->runtimes[i];
		else
			free(stack->runtimes[i]);
	}
	stack->runtimes[kept] = NULL;
	free(p);
}
