/* SPDX-License-Identifier: MIT */
/*
 * dewrt-probe `report`: what a process inside the container sees, as one JSON object: its
 * ids and id maps, capability sets, no_new_privs and seccomp state, hostname, mounts, the
 * paths that should be masked, and its open file descriptors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dewrt-probe.h"

/* Names of capability numbers 0..40 (linux/capability.h); newer ones print as "cap_N". */
/* clang-format off */
static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
/* clang-format on */

/* Paths a container must mask (DESIGN.md 7.1); the report says what is visible of each. */
/* clang-format off */
static const char *const masked_paths[] = {
	"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats",
	"/proc/acpi", "/proc/scsi", "/proc/interrupts", "/sys/firmware",
};
/* clang-format on */

static char *slurp(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap) {
			char *p = realloc(buf, (cap *= 2) + 1);
			if (!p)
				break;
			buf = p;
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

static const char *next_line(const char *l)
{
	l = strchr(l, '\n');
	return l ? l + 1 : NULL;
}

/* Copy the value of "Key:" in /proc/self/status to out; NULL when absent. */
static const char *status_field(const char *status, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);

	for (const char *l = status; l && *l; l = next_line(l)) {
		if (strncmp(l, key, klen) != 0 || l[klen] != ':')
			continue;
		l += klen + 1;
		l += strspn(l, " \t");
		size_t n = strcspn(l, "\n");
		if (n >= size)
			n = size - 1;
		memcpy(out, l, n);
		out[n] = '\0';
		return out;
	}
	return NULL;
}

static void report_caps(const char *status)
{
	static const char *const sets[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	char val[64];

	printf("\"caps\": {");
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		uint64_t mask = 0;
		bool first = true;

		if (status_field(status, sets[i], val, sizeof(val)))
			mask = strtoull(val, NULL, 16);
		printf("%s\"%s\": {\"hex\": \"%016" PRIx64 "\", \"names\": [", i ? ", " : "", sets[i], mask);
		for (int c = 0; c < 64; c++) {
			if (!(mask & (UINT64_C(1) << c)))
				continue;
			if (c < (int)(sizeof(cap_names) / sizeof(cap_names[0])))
				printf("%s\"%s\"", first ? "" : ", ", cap_names[c]);
			else
				printf("%s\"cap_%d\"", first ? "" : ", ", c);
			first = false;
		}
		printf("]}");
	}
	printf("}, ");
}

static void report_idmap(const char *key, const char *path)
{
	char *map = slurp(path), *save = NULL;
	bool first = true;

	printf("\"%s\": [", key);
	for (char *l = map ? strtok_r(map, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long a, b, c;
		if (sscanf(l, "%lu %lu %lu", &a, &b, &c) != 3)
			continue;
		printf("%s[%lu, %lu, %lu]", first ? "" : ", ", a, b, c);
		first = false;
	}
	printf("], ");
	free(map);
}

static void report_ids(void)
{
	gid_t groups[64];
	int n = getgroups(64, groups);

	printf("\"pid\": %d, \"ppid\": %d, \"uid\": %u, \"euid\": %u, \"gid\": %u, \"egid\": %u, \"groups\": "
	       "[",
	       (int)getpid(), (int)getppid(), getuid(), geteuid(), getgid(), getegid());
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? ", " : "", groups[i]);
	printf("], ");
	report_idmap("uid_map", "/proc/self/uid_map");
	report_idmap("gid_map", "/proc/self/gid_map");
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3]) {
			*w++ = (char)strtol((char[]){ r[1], r[2], r[3], 0 }, NULL, 8);
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static void report_mounts(void)
{
	char *info = slurp("/proc/self/mountinfo"), *save = NULL;
	bool first = true;

	printf("\"mounts\": [");
	for (char *l = info ? strtok_r(info, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		char target[PATH_MAX], opts[1024], fstype[256], source[PATH_MAX];
		const char *sep = strstr(l, " - ");
		if (!sep || sscanf(l, "%*s %*s %*s %*s %4095s %1023s", target, opts) != 2 ||
		    sscanf(sep + 3, "%255s %4095s", fstype, source) != 2)
			continue;
		unescape(target);
		unescape(source);
		printf("%s{\"target\": ", first ? "" : ", ");
		probe_json_str(target);
		printf(", \"fstype\": ");
		probe_json_str(fstype);
		printf(", \"source\": ");
		probe_json_str(source);
		printf(", \"ro\": %s, \"options\": ",
		       strncmp(opts, "ro", 2) == 0 && (!opts[2] || opts[2] == ',') ? "true" : "false");
		probe_json_str(opts);
		printf("}");
		first = false;
	}
	printf("], ");
	free(info);
}

/* readable: opening and reading (or listing) works; nonempty: that gave bytes or entries. */
static void report_masked(void)
{
	printf("\"masked\": [");
	for (size_t i = 0; i < sizeof(masked_paths) / sizeof(masked_paths[0]); i++) {
		const char *path = masked_paths[i];
		bool exists = access(path, F_OK) == 0, readable = false, nonempty = false;
		DIR *d = opendir(path);
		if (d) {
			struct dirent *e;
			readable = true;
			while ((e = readdir(d)))
				nonempty |= strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
			closedir(d);
		} else {
			char buf[4096];
			int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
			readable = n >= 0;
			nonempty = n > 0;
			if (fd >= 0)
				close(fd);
		}
		printf("%s{\"path\": \"%s\", \"exists\": %s, \"readable\": %s, \"nonempty\": %s}",
		       i ? ", " : "", path, exists ? "true" : "false", readable ? "true" : "false",
		       nonempty ? "true" : "false");
	}
	printf("], ");
}

static void report_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	bool first = true;

	printf("\"fds\": [");
	while (d && (e = readdir(d))) {
		char path[300], target[PATH_MAX];
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		printf("%s{\"fd\": %s, \"target\": ", first ? "" : ", ", e->d_name);
		probe_json_str(target);
		printf("}");
		first = false;
	}
	printf("]");
	if (d)
		closedir(d);
}

/* `report`: one JSON object describing the process and its view of the system. */
int probe_cmd_report(int argc, char **argv)
{
	char *status = slurp("/proc/self/status");
	char host[256] = "", cwd[PATH_MAX] = "", val[64];
	struct rlimit nofile = { 0, 0 };

	gethostname(host, sizeof(host) - 1);
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	getrlimit(RLIMIT_NOFILE, &nofile);

	printf("{");
	report_ids();
	printf("\"hostname\": ");
	probe_json_str(host);
	printf(", \"cwd\": ");
	probe_json_str(cwd);
	printf(", \"nofile\": [%llu, %llu], ", (unsigned long long)nofile.rlim_cur,
	       (unsigned long long)nofile.rlim_max);
	report_caps(status);
	printf("\"no_new_privs\": %s, ", status_field(status, "NoNewPrivs", val, sizeof(val)) ? val : "null");
	printf("\"seccomp\": %s, ", status_field(status, "Seccomp", val, sizeof(val)) ? val : "null");
	printf("\"seccomp_filters\": %s, ",
	       status_field(status, "Seccomp_filters", val, sizeof(val)) ? val : "null");
	report_mounts();
	report_masked();
	report_fds();
	printf("}\n");
	free(status);
	return 0;
}
