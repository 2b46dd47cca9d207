/* SPDX-License-Identifier: MIT */
/*
 * dewrt-probe: a static multi-call test binary (crun's tests/init.c idea) run inside
 * containers by the tests. `dewrt-probe COMMAND [ARGS]` runs one command of the table below
 * and prints one JSON object on stdout. Static so that it runs in any root filesystem; it
 * links nothing of dew.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dewrt-probe.h"

enum { MB = 1 << 20 };

/* Print s as a JSON string (quoted, escaped) on stdout. */
void probe_json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* Print `"errno": e, "errname": "EPERM"` (errname null when e is 0) on stdout. */
void probe_json_errno(int e)
{
	printf("\"errno\": %d, \"errname\": ", e);
	probe_json_str(e ? strerrorname_np(e) : NULL);
}

static long arg_long(const char *s, long def)
{
	char *end;
	long v;

	if (!s)
		return def;
	v = strtol(s, &end, 10);
	return *s && !*end && v >= 0 ? v : def;
}

/* exec PATH ARGS...: for no_new_privs and setuid tests. Prints only when execv fails. */
static int cmd_exec(int argc, char **argv)
{
	execv(argv[0], argv);
	int e = errno;
	printf("{\"exec\": ");
	probe_json_str(argv[0]);
	printf(", ");
	probe_json_errno(e);
	printf("}\n");
	return 127;
}

/*
 * write PATH [DATA]: write DATA, by default the file's current content (so a writable
 * /proc/sys file keeps its value) or "\n" for a write-only file (not a sysrq command: the
 * kernel only logs its help).
 */
static int cmd_write(int argc, char **argv)
{
	char cur[4096];
	const char *data = argc > 1 ? argv[1] : "\n";
	size_t len = strlen(data);
	const char *stage = "open";
	ssize_t n = -1;
	int fd, e = 0;

	if (argc < 2 && (fd = open(argv[0], O_RDONLY | O_CLOEXEC)) >= 0) {
		ssize_t r = read(fd, cur, sizeof(cur));
		if (r > 0) {
			data = cur;
			len = r;
		}
		close(fd);
	}
	fd = open(argv[0], O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		stage = "write";
		n = write(fd, data, len);
		if (n < 0)
			e = errno;
		close(fd);
	} else {
		e = errno;
	}
	printf("{\"write\": ");
	probe_json_str(argv[0]);
	printf(", \"stage\": \"%s\", \"result\": %zd, ", stage, n);
	probe_json_errno(e);
	printf("}\n");
	return 0;
}

/* fork-bomb [MAX]: fork sleeping children until fork fails (the pids limit) or MAX. */
static int cmd_fork_bomb(int argc, char **argv)
{
	long max = arg_long(argv[0], 4096), n = 0;
	pid_t *pids = calloc(max, sizeof(*pids));
	int e = 0;

	if (!pids)
		return 1;
	while (n < max) {
		pid_t pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0) {
			e = errno;
			break;
		}
		pids[n++] = pid;
	}
	printf("{\"forks\": %ld, ", n);
	probe_json_errno(e);
	printf("}\n");
	fflush(stdout);
	for (long i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (long i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	free(pids);
	return 0;
}

/* alloc MB: touch MB mebibytes, one at a time, until done or killed (the memory limit). */
static int cmd_alloc(int argc, char **argv)
{
	long want = arg_long(argv[0], 0), got = 0;
	int e = 0;

	for (; got < want; got++) {
		char *p = malloc(MB);
		if (!p) {
			e = errno;
			break;
		}
		memset(p, 0xa5, MB);
		if (got % 16 == 0)
			fprintf(stderr, "dewrt-probe: %ld MiB touched\n", got);
	}
	printf("{\"alloc_mb\": %ld, ", got);
	probe_json_errno(e);
	printf("}\n");
	return 0;
}

/* fill PATH [MB]: write until the disk quota or the file system stops it, or MB written. */
static int cmd_fill(int argc, char **argv)
{
	static char buf[MB];
	long max = arg_long(argc > 1 ? argv[1] : NULL, -1);
	long long written = 0;
	int fd, e = 0;

	memset(buf, 0x5a, sizeof(buf)); /* not zeros: no sparse or compressed shortcut */
	fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		e = errno;
	} else {
		while (max < 0 || written < (long long)max * MB) {
			ssize_t n = write(fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				e = n < 0 ? errno : ENOSPC;
				break;
			}
			written += n;
		}
		/* Delayed allocation may only report the failure now. */
		if (fsync(fd) < 0 && !e)
			e = errno;
		if (close(fd) < 0 && !e)
			e = errno;
	}
	printf("{\"fill\": ");
	probe_json_str(argv[0]);
	printf(", \"written_bytes\": %lld, \"written_mb\": %lld, ", written, written / MB);
	probe_json_errno(e);
	printf("}\n");
	return 0;
}

/* nofile: duplicate descriptors until the RLIMIT_NOFILE stops it (EMFILE). */
static int cmd_nofile(int argc, char **argv)
{
	int p[2], fd, max_fd, n = 2, e = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 1;
	max_fd = p[0] > p[1] ? p[0] : p[1];
	while ((fd = dup(p[0])) >= 0) {
		n++;
		if (fd > max_fd)
			max_fd = fd;
	}
	e = errno;
	printf("{\"nofile\": %d, \"max_fd\": %d, ", n, max_fd);
	probe_json_errno(e);
	printf("}\n");
	return 0;
}

/* sleep [SECONDS]: announce the pid, then sleep (forever without SECONDS). */
static int cmd_sleep(int argc, char **argv)
{
	long secs = arg_long(argv[0], -1);

	printf("{\"sleep\": %ld, \"pid\": %d}\n", secs, (int)getpid());
	fflush(stdout);
	if (secs >= 0)
		sleep(secs);
	else
		for (;;)
			pause();
	return 0;
}

/* serve PORT: a TCP server on all addresses that answers "ok\n" to every connection. */
static int cmd_serve(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_port = htons(arg_long(argv[0], 0));
	signal(SIGPIPE, SIG_IGN);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		printf("{\"serve\": null, ");
		probe_json_errno(e);
		printf("}\n");
		return 1;
	}
	printf("{\"serve\": %d}\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (write(c, "ok\n", 3) < 0) {
			/* the client left: nothing to do */
		}
		close(c);
	}
}

/* clang-format off */
static const struct probe_cmd {
	const char *name;
	const char *usage;
	int min_args;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "report", "", 0, probe_cmd_report },
	{ "syscall", "NAME [ARG] | list", 1, probe_cmd_syscall },
	{ "exec", "PATH [ARGS...]", 1, cmd_exec },
	{ "write", "PATH [DATA]", 1, cmd_write },
	{ "fork-bomb", "[MAX]", 0, cmd_fork_bomb },
	{ "alloc", "MB", 1, cmd_alloc },
	{ "fill", "PATH [MB]", 1, cmd_fill },
	{ "nofile", "", 0, cmd_nofile },
	{ "sleep", "[SECONDS]", 0, cmd_sleep },
	{ "serve", "PORT", 1, cmd_serve },
};
/* clang-format on */

static int usage(void)
{
	fprintf(stderr, "usage: dewrt-probe COMMAND [ARGS]\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(stderr, "  %s %s\n", cmds[i].name, cmds[i].usage);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (argc - 2 < cmds[i].min_args)
			return usage();
		int rc = cmds[i].fn(argc - 2, argv + 2);
		fflush(stdout);
		return rc;
	}
	return usage();
}
