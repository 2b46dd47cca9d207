// SPDX-License-Identifier: MIT
/*
 * The checks the container root tests run inside a container (see rootfs-check.h): what a user
 * of the container would see of its root, /tmp, the app dir, /proc, /dev and /sys. Nothing here
 * writes to a path that could be the host's unless the check itself has already failed.
 */
#include "rootfs-check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"

const struct rootfs_expect rootfs_expect[] = {
	{ "root_marker", "0", "`/` is the new root: its marker file is visible", NULL },
	{ "host_marker", "No such file or directory", "a marker file of the host's /tmp is not", NULL },
	{ "root_mounts", "1", "one mount at `/`: the old root is gone, not stacked", NULL },
	{ "write_usr", "Read-only file system", "the stack is read-only (/usr)", NULL },
	{ "write_root", "Read-only file system", "the stack is read-only (/)", NULL },
	{ "passwd", "yes", "the stack's /etc/passwd is read", NULL },
	{ "exec", "7", "a program of the stack runs (/bin/sh)", NULL },
	{ "write_app", "0", "/home/vcap/app is writable", NULL },
	{ "tmp", "tmpfs,0,rw", "/tmp is a fresh, writable tmpfs", NULL },
	{ "proc_self", "1", "/proc shows us as pid 1", NULL },
	{ "proc_pids", "1", "/proc shows no host pids", NULL },
	{ "masked", "", "masked entries are empty (offenders listed)", NULL },
	/* In a user namespace the permission check (the files are the host root's) comes first. */
	{ "proc_sys", "ro", "/proc/sys is read-only (EROFS)", "Permission denied" },
	{ "sysrq", "ro", "/proc/sysrq-trigger is read-only (EROFS) or absent here and on the host", NULL },
	{ "proc_ro", "", "/proc/bus, fs, irq, sys, sysrq-trigger are read-only mounts (offenders listed)",
	  NULL },
	{ "dev", "fd,full,null,ptmx,pts,random,shm,stderr,stdin,stdout,tty,urandom,zero",
	  "/dev has exactly the expected entries", NULL },
	{ "dev_null", "5,0", "/dev/null takes writes and reads empty", NULL },
	{ "dev_zero", "zeros", "/dev/zero reads zeros", NULL },
	{ "dev_flags", "nosuid,nodev,noexec", "/dev is nosuid, nodev and noexec", NULL },
	{ "pty", "/dev/pts/0", "/dev/ptmx opens a pty of a new devpts instance", NULL },
	{ "shm", "tmpfs,0", "/dev/shm is a writable tmpfs", NULL },
	{ "sys", "sysfs,ro", "/sys is a read-only sysfs", NULL },
	{ "sys_cgroup", "ro", "/sys/fs/cgroup is read-only too", NULL },
	{ "inner_mount", "0", "a mount made inside the container succeeds", NULL },
};
const size_t rootfs_n_expect = DEW_ARRAY_SIZE(rootfs_expect);

static const char *const masked[] = {
	"/proc/acpi",	    "/proc/asound",	   "/proc/interrupts",	"/proc/kcore",
	"/proc/keys",	    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi",
	"/proc/timer_list", "/proc/timer_stats",   "/sys/firmware",	"/sys/devices/virtual/powercap",
};
static bool masked_on_host[DEW_ARRAY_SIZE(masked)];

static const struct {
	const char *key, *path;
} readonly[] = { { "proc_sys", "/proc/sys/kernel/hostname" }, { "sysrq", "/proc/sysrq-trigger" } };
static bool readonly_on_host[DEW_ARRAY_SIZE(readonly)];

/* Note which masked and read-only entries the host has (see rootfs-check.h). */
void rootfs_check_init(void)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(masked); i++)
		masked_on_host[i] = access(masked[i], F_OK) == 0;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(readonly); i++)
		readonly_on_host[i] = access(readonly[i].path, F_OK) == 0;
}

static const char *result(int r)
{
	return r == 0 ? "0" : strerror(errno);
}

/* The root, /etc, exec, the app dir and /tmp. */
static void check_files(FILE *out, const struct rootfs_fixture *fx)
{
	char buf[4096];
	int fd, status = -1;

	fprintf(out, "root_marker=%s\n", result(access("/dewrt-root-marker", F_OK)));
	fprintf(out, "host_marker=%s\n", result(access(fx->host_marker, F_OK)));
	/* A unique name: were /usr the host's and writable, the file is removed at once. */
	fd = open("/usr/.dewrt-rootfs-test", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	fprintf(out, "write_usr=%s\n", result(fd < 0 ? -1 : 0));
	if (fd >= 0 && (close(fd), unlink("/usr/.dewrt-rootfs-test")) == 0)
		fprintf(out, "write_usr_cleanup=1\n");
	fprintf(out, "write_root=%s\n", result(mkdir("/.dewrt-rootfs-test", 0755)));
	rmdir("/.dewrt-rootfs-test");
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	fprintf(out, "passwd=%s\n", strstr(buf, "vcap:x:1000:1000") ? "yes" : "no");
	if (fd >= 0)
		close(fd);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	fprintf(out, "exec=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	fd = open("/home/vcap/app/from-container", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	fprintf(out, "write_app=%s\n", result(fd < 0 ? -1 : 0));
	if (fd >= 0)
		close(fd);
	struct statfs sf;
	int entries = rootfs_count_entries("/tmp");
	fd = open("/tmp/x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	fprintf(out, "tmp=%s,%d,%s\n",
		statfs("/tmp", &sf) == 0 && sf.f_type == TMPFS_MAGIC ? "tmpfs" : "other", entries,
		fd >= 0 ? "rw" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Bytes a file reads, or -1. */
static long file_size(const char *path)
{
	char buf[4096];
	long total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		total += n;
	close(fd);
	return n < 0 ? -1 : total;
}

static void append(char *list, size_t size, const char *item)
{
	size_t len = strlen(list);
	snprintf(list + len, size - len, "%s%s", len ? "," : "", item);
}

/* /proc: our pid namespace only; masks empty; the read-only parts refuse writers. */
static void check_proc(FILE *out)
{
	char buf[64], bad[1024] = "";
	ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
	DIR *d = opendir("/proc");
	struct dirent *e;
	int pids = 0;

	buf[n > 0 ? n : 0] = '\0';
	fprintf(out, "proc_self=%s\n", buf);
	while (d && (e = readdir(d)))
		pids += e->d_name[strspn(e->d_name, "0123456789")] == '\0';
	if (d)
		closedir(d);
	fprintf(out, "proc_pids=%d\n", pids);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(masked); i++) {
		struct stat st;
		bool there = stat(masked[i], &st) == 0;
		bool empty = there && (S_ISDIR(st.st_mode) ? rootfs_count_entries(masked[i]) == 0
							   : file_size(masked[i]) == 0);
		if (masked_on_host[i] ? !empty : there)
			append(bad, sizeof bad, masked[i]);
	}
	fprintf(out, "masked=%s\n", bad);
	/*
	 * Opened for writing but never written: should the check fail, nothing reaches the kernel.
	 * An entry this kernel lacks (sysrq-trigger without CONFIG_MAGIC_SYSRQ) passes as absent.
	 */
	for (size_t i = 0; i < DEW_ARRAY_SIZE(readonly); i++) {
		int fd = open(readonly[i].path, O_WRONLY | O_CLOEXEC);
		int saved = errno;
		if (fd < 0 && saved == ENOENT && !readonly_on_host[i])
			fprintf(out, "%s=ro\n%s_note=absent on this kernel\n", readonly[i].key,
				readonly[i].key);
		else
			fprintf(out, "%s=%s\n", readonly[i].key,
				fd < 0 && saved == EROFS ? "ro" : result(fd < 0 ? -1 : 0));
		if (fd >= 0)
			close(fd);
	}
	bad[0] = '\0';
	static const char *const ro[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					  "/proc/sysrq-trigger" };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(ro); i++) {
		struct statvfs sv;
		if (access(ro[i], F_OK) == 0 && (statvfs(ro[i], &sv) < 0 || !(sv.f_flag & ST_RDONLY)))
			append(bad, sizeof bad, ro[i]);
	}
	fprintf(out, "proc_ro=%s\n", bad);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* /dev: exactly our entries, working nodes, a pty of our own, /dev/shm. */
static void check_dev(FILE *out)
{
	char *names[64], list[1024] = "", buf[16];
	size_t n = 0;
	DIR *d = opendir("/dev");
	struct dirent *e;

	while (d && (e = readdir(d)) && n < DEW_ARRAY_SIZE(names))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			names[n++] = xstrdup(e->d_name);
	if (d)
		closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		append(list, sizeof list, names[i]);
		free(names[i]);
	}
	fprintf(out, "dev=%s\n", list);
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ssize_t written = fd < 0 ? -1 : write(fd, "hello", 5);
	fprintf(out, "dev_null=%zd,%zd\n", written, fd < 0 ? -1 : read(fd, buf, sizeof buf));
	if (fd >= 0)
		close(fd);
	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	memset(buf, 'x', sizeof buf);
	bool zeros = fd >= 0 && read(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
	for (size_t i = 0; i < sizeof buf; i++)
		zeros = zeros && buf[i] == 0;
	fprintf(out, "dev_zero=%s\n", zeros ? "zeros" : "no");
	if (fd >= 0)
		close(fd);
	struct statvfs sv;
	if (statvfs("/dev", &sv) == 0)
		fprintf(out, "dev_flags=%s%s%s\n", sv.f_flag & ST_NOSUID ? "nosuid" : "",
			sv.f_flag & ST_NODEV ? ",nodev" : "", sv.f_flag & ST_NOEXEC ? ",noexec" : "");
	fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	fprintf(out, "pty=%s\n", fd >= 0 && ptsname(fd) ? ptsname(fd) : strerror(errno));
	if (fd >= 0)
		close(fd);
	struct statfs sf;
	fd = open("/dev/shm/x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	fprintf(out, "shm=%s,%s\n",
		statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC ? "tmpfs" : "other",
		result(fd < 0 ? -1 : 0));
	if (fd >= 0)
		close(fd);
}

/* `/dewrt-probe report`, when the fixture bound it in: its JSON on one line. */
static void run_probe(FILE *out)
{
	char buf[4096];
	int pipefd[2];
	ssize_t n;

	if (access("/dewrt-probe", X_OK) < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
		return;
	fflush(out);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		execl("/dewrt-probe", "dewrt-probe", "report", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	fputs("probe=", out);
	while ((n = read(pipefd[0], buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != '\n')
				fputc(buf[i], out);
	fputc('\n', out);
	close(pipefd[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* Run every check (see rootfs-check.h). */
void rootfs_check_inside(FILE *out, const struct rootfs_fixture *fx)
{
	char **points = NULL, host[256] = "";
	size_t n = rootfs_mounts_below(0, "/", &points);
	size_t at_root = 0;

	for (size_t i = 0; i < n; i++) {
		at_root += strcmp(points[i], "/") == 0;
		free(points[i]);
	}
	free(points);
	fprintf(out, "root_mounts=%zu\n", at_root);
	check_files(out, fx);
	check_proc(out);
	check_dev(out);
	struct statfs sf;
	struct statvfs sv;
	fprintf(out, "sys=%s,%s\n", statfs("/sys", &sf) == 0 && sf.f_type == SYSFS_MAGIC ? "sysfs" : "other",
		statvfs("/sys", &sv) == 0 && (sv.f_flag & ST_RDONLY) ? "ro" : "rw");
	/* An empty dir of a fresh sysfs, or the host's cgroup mount when /sys is the host's bound. */
	fprintf(out, "sys_cgroup=%s\n",
		statvfs("/sys/fs/cgroup", &sv) == 0 && (sv.f_flag & ST_RDONLY) ? "ro" : "rw");
	gethostname(host, sizeof host - 1);
	fprintf(out, "hostname=%s\n", host);
	/* Below the app dir, a bind of a host dir: were it still shared, this would reach the host. */
	mkdir("/home/vcap/app/inner", 0755);
	fprintf(out, "inner_mount=%s\n",
		result(mount("tmpfs", "/home/vcap/app/inner", "tmpfs", 0, "size=4k")));
	run_probe(out);
}

static bool below(const char *point, const char *root)
{
	size_t n = strlen(root);
	return strncmp(point, root, n) == 0 && (point[n] == '\0' || point[n] == '/');
}

/* Report mounts made outside the root (see rootfs-check.h). */
void rootfs_report_escapes(FILE *out, const char *root, char **before, size_t n_before)
{
	char **after = NULL, list[2048] = "";
	size_t n_after = rootfs_mounts_below(0, "/", &after);

	for (size_t i = 0; i < n_after; i++) {
		/* Matched against the earlier table one for one, so a second mount at a point counts. */
		bool old = false;
		for (size_t j = 0; j < n_before && !old; j++)
			if (before[j] && strcmp(before[j], after[i]) == 0) {
				free(before[j]);
				before[j] = NULL;
				old = true;
			}
		if (!old && !below(after[i], root))
			append(list, sizeof list, after[i]);
		free(after[i]);
	}
	for (size_t j = 0; j < n_before; j++)
		free(before[j]);
	free(before);
	free(after);
	fprintf(out, "escaped=%s\n", list);
}
