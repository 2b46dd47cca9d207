// SPDX-License-Identifier: MIT
/*
 * Unit tests of the pure cgroup helpers of libdewrt, table-driven: the mode from a statfs type
 * (and this machine's mode against mountinfo), /proc/self/cgroup parsing (v1, hybrid, v2 and the
 * supervisor leaf), v1/v2 name translation, the weight/shares mapping and the cgroupfs parsers.
 */
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup-util.h"
#include "error.h"
#include "tap.h"

static void test_mode_from_fstype(void)
{
	enum dewrt_cgroup_mode m = DEWRT_CGROUP_V1;

	tap_ok(dewrt__cgroup_mode_from_fstype(CGROUP2_SUPER_MAGIC, &m) == 0 && m == DEWRT_CGROUP_V2,
	       "mode: cgroup2 at /sys/fs/cgroup is v2");
	tap_ok(dewrt__cgroup_mode_from_fstype(TMPFS_MAGIC, &m) == 0 && m == DEWRT_CGROUP_V1,
	       "mode: tmpfs (legacy or hybrid) is v1");
	tap_ok(dewrt__cgroup_mode_from_fstype(CGROUP_SUPER_MAGIC, &m) == 0 && m == DEWRT_CGROUP_V1,
	       "mode: a bare v1 hierarchy is v1");
	tap_is_int(dewrt__cgroup_mode_from_fstype(EXT4_SUPER_MAGIC, &m), -ENOTSUP, "mode: ext4 is refused");
}

/* What the kernel says is mounted at /sys/fs/cgroup, from mountinfo (independent of statfs). */
static void test_mode_machine(void)
{
	char line[1024];
	bool v2 = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");
	struct dew_error *err = NULL;
	enum dewrt_cgroup_mode m;

	while (f && fgets(line, sizeof line, f)) {
		char mnt[512], *dash = strstr(line, " - ");

		if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 && dash &&
		    strcmp(mnt, "/sys/fs/cgroup") == 0)
			v2 = strncmp(dash + 3, "cgroup2 ", 8) == 0;
	}
	if (f)
		fclose(f);
	tap_is_int(dewrt__cgroup_mode(&m, &err), 0, "mode of this machine detected");
	tap_is_int(m, v2 ? DEWRT_CGROUP_V2 : DEWRT_CGROUP_V1, "mode matches mountinfo (%s)",
		   v2 ? "v2" : "v1");
	dew_error_free(err);
}

static const char hybrid[] = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n3:cpu,cpuacct:/cg/a:b\n"
			     "1:freezer:/f\n0::/\n";

static void test_parse_own(void)
{
	static const struct {
		const char *text;
		enum dewrt_cgroup_mode mode;
		const char *ctl, *want;
		int ret;
	} t[] = {
		{ hybrid, DEWRT_CGROUP_V1, "memory", "/process_api/abc", 0 },
		{ hybrid, DEWRT_CGROUP_V1, "pids", "/", 0 },
		{ hybrid, DEWRT_CGROUP_V1, "cpu", "/cg/a:b", 0 },
		{ hybrid, DEWRT_CGROUP_V1, "cpuacct", "/cg/a:b", 0 },
		{ hybrid, DEWRT_CGROUP_V1, "name=systemd", "/", 0 },
		{ hybrid, DEWRT_CGROUP_V1, "cpuset", NULL, -ENOENT },
		{ hybrid, DEWRT_CGROUP_V1, "", NULL, -ENOENT }, /* the 0:: line is not a v1 hierarchy */
		{ hybrid, DEWRT_CGROUP_V2, NULL, "/", 0 },
		{ "0::/system.slice/dea.service\n", DEWRT_CGROUP_V2, NULL, "/system.slice/dea.service", 0 },
		{ "0::/x/dew-supervisor\n", DEWRT_CGROUP_V2, NULL, "/x", 0 },
		{ "0::/dew-supervisor", DEWRT_CGROUP_V2, NULL, "/", 0 },
		{ "0::/x/dew-supervisor2\n", DEWRT_CGROUP_V2, NULL, "/x/dew-supervisor2", 0 },
		{ "4:memory:/a\n", DEWRT_CGROUP_V2, NULL, NULL, -ENOENT },
		{ "4:memory\n", DEWRT_CGROUP_V1, "memory", NULL, -EINVAL },
		{ "4:memory:relative\n", DEWRT_CGROUP_V1, "memory", NULL, -EINVAL },
		{ "4:memory:\n", DEWRT_CGROUP_V1, "memory", NULL, -EINVAL },
		{ "", DEWRT_CGROUP_V1, "memory", NULL, -ENOENT },
	};

	for (size_t i = 0; i < DEW_ARRAY_SIZE(t); i++) {
		char *got = NULL;
		int ret = dewrt__cgroup_parse_own(t[i].text, t[i].mode, t[i].ctl, &got);

		if (t[i].want)
			tap_ok(ret == 0 && got && strcmp(got, t[i].want) == 0,
			       "parse_own #%zu: %s -> %s (got %s)", i, t[i].ctl ? t[i].ctl : "unified",
			       t[i].want, got ? got : "nothing");
		else
			tap_is_int(ret, t[i].ret, "parse_own #%zu: %s -> error", i,
				   t[i].ctl ? t[i].ctl : "unified");
		free(got);
	}
}

static void test_parse_files(void)
{
	static const char events[] = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n";
	static const char oomctl[] = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
	uint64_t v = 0;

	tap_ok(dewrt__cgroup_parse_keyed(events, "oom_kill", &v) == 0 && v == 1, "memory.events: oom_kill");
	tap_ok(dewrt__cgroup_parse_keyed(events, "max", &v) == 0 && v == 17, "memory.events: max");
	tap_ok(dewrt__cgroup_parse_keyed(events, "oom", &v) == 0 && v == 2,
	       "memory.events: oom is not oom_kill");
	tap_ok(dewrt__cgroup_parse_keyed(oomctl, "oom_kill", &v) == 0 && v == 3,
	       "memory.oom_control: oom_kill");
	tap_is_int(dewrt__cgroup_parse_keyed(oomctl, "oom", &v), -ENOENT, "keyed: a prefix is not a key");
	tap_is_int(dewrt__cgroup_parse_keyed("oom_kill x\n", "oom_kill", &v), -EINVAL, "keyed: bad value");
	tap_ok(dewrt__cgroup_parse_keyed("usage_usec 1234567\nuser_usec 1\n", "usage_usec", &v) == 0 &&
		       v == 1234567,
	       "cpu.stat: usage_usec");
	tap_ok(dewrt__cgroup_parse_value("33554432\n", &v) == 0 && v == 33554432, "value: a number");
	tap_ok(dewrt__cgroup_parse_value("max\n", &v) == 0 && v == UINT64_MAX, "value: max is UINT64_MAX");
	tap_is_int(dewrt__cgroup_parse_value("", &v), -EINVAL, "value: empty");
	tap_is_int(dewrt__cgroup_parse_value("1\n2\n", &v), -EINVAL, "value: two lines");
	tap_is_int(dewrt__cgroup_parse_value("-1\n", &v), -EINVAL, "value: negative");

	pid_t *pids = NULL;
	size_t n = 9;
	tap_ok(dewrt__cgroup_parse_pids("12\n345\n", &pids, &n) == 0 && n == 2 && pids[0] == 12 &&
		       pids[1] == 345,
	       "cgroup.procs: two pids");
	free(pids);
	pids = NULL;
	tap_ok(dewrt__cgroup_parse_pids("", &pids, &n) == 0 && n == 0, "cgroup.procs: empty");
	free(pids);
	tap_is_int(dewrt__cgroup_parse_pids("12\nabc\n", &pids, &n), -EINVAL, "cgroup.procs: garbage");
}

static void test_translation(void)
{
	static const struct {
		const char *v2, *v1;
		enum dewrt_cg_ctl ctl;
	} t[] = {
		{ "memory.max", "memory.limit_in_bytes", DEWRT_CG_MEMORY },
		{ "memory.swap.max", "memory.memsw.limit_in_bytes", DEWRT_CG_MEMORY },
		{ "memory.current", "memory.usage_in_bytes", DEWRT_CG_MEMORY },
		{ "memory.peak", "memory.max_usage_in_bytes", DEWRT_CG_MEMORY },
		{ "memory.events", "memory.oom_control", DEWRT_CG_MEMORY },
		{ "pids.max", "pids.max", DEWRT_CG_PIDS },
		{ "cpu.weight", "cpu.shares", DEWRT_CG_CPU },
		{ "cgroup.freeze", "freezer.state", DEWRT_CG_FREEZER },
	};
	enum dewrt_cg_ctl ctl;
	const char *file;

	for (size_t i = 0; i < DEW_ARRAY_SIZE(t); i++) {
		tap_ok(dewrt__cgroup_file(DEWRT_CGROUP_V1, t[i].v2, &ctl, &file) == 0 &&
			       strcmp(file, t[i].v1) == 0 && ctl == t[i].ctl,
		       "v1 name of %s is %s (%s)", t[i].v2, t[i].v1, dewrt__cgroup_ctl_name(t[i].ctl));
		tap_ok(dewrt__cgroup_file(DEWRT_CGROUP_V2, t[i].v2, &ctl, &file) == 0 &&
			       strcmp(file, t[i].v2) == 0,
		       "v2 name of %s is itself", t[i].v2);
	}
	tap_is_int(dewrt__cgroup_file(DEWRT_CGROUP_V1, "io.max", &ctl, &file), -ENOENT,
		   "unknown names are -ENOENT");
}

static void test_weight(void)
{
	static const struct {
		uint64_t weight, shares;
	} t[] = { { 1, 2 },	     { 4, 80 }, { 100, 2597 },	  { 5000, 131059 },
		  { 10000, 262144 }, { 0, 2 },	{ 20000, 262144 } };
	bool round_trip = true;
	uint64_t w = 0;

	for (size_t i = 0; i < DEW_ARRAY_SIZE(t); i++)
		tap_is_int((intmax_t)dewrt__cgroup_weight_to_shares(t[i].weight), (intmax_t)t[i].shares,
			   "weight %llu -> shares %llu", (unsigned long long)t[i].weight,
			   (unsigned long long)t[i].shares);
	for (uint64_t x = 1; x <= 10000; x++)
		round_trip &= dewrt__cgroup_shares_to_weight(dewrt__cgroup_weight_to_shares(x)) == x;
	tap_ok(round_trip, "weight -> shares -> weight is exact for 1..10000");
	tap_is_int((intmax_t)dewrt__cgroup_shares_to_weight(1024), 40,
		   "v1's default 1024 shares read as weight 40");

	static const struct {
		struct dewrt_limits lim;
		uint64_t want;
	} d[] = {
		{ { .memory_mb = 0 }, 100 },
		{ { .memory_mb = 1024 }, 64 },
		{ { .memory_mb = 1600 }, 100 },
		{ { .memory_mb = 8 }, 1 },
		{ { .memory_mb = 1ULL << 30 }, 10000 },
		{ { .memory_mb = 256, .cpu_weight = 500 }, 500 },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(d); i++) {
		int ret = dewrt__cgroup_weight(&d[i].lim, &w);

		tap_ok(ret == 0 && w == d[i].want,
		       "weight of memory_mb=%llu cpu_weight=%llu is %llu (got %llu)",
		       (unsigned long long)d[i].lim.memory_mb, (unsigned long long)d[i].lim.cpu_weight,
		       (unsigned long long)d[i].want, (unsigned long long)w);
	}
	tap_ok(dewrt__cgroup_weight(NULL, &w) == 0 && w == 100, "weight without limits is 100");
	struct dewrt_limits big = { .cpu_weight = 10001 };
	tap_is_int(dewrt__cgroup_weight(&big, &w), -ERANGE, "weight above 10000 is refused");
}

static void test_words(void)
{
	tap_ok(dewrt__cgroup_has_word("cpuset cpu io memory pids\n", "cpu"), "has_word: cpu among others");
	tap_ok(dewrt__cgroup_has_word("memory pids\n", "pids"), "has_word: last word before the newline");
	tap_ok(!dewrt__cgroup_has_word("cpuset io\n", "cpu"), "has_word: cpuset is not cpu");
	tap_ok(!dewrt__cgroup_has_word("", "memory"), "has_word: empty list");
}

/* v2 delegation against a fake group directory: which controllers it asks for, if any. */
static void test_delegate(void)
{
	char tmp[] = "/tmp/dew-test-cgroup-XXXXXX";
	struct dew_error *err = NULL;
	char *text = NULL;

	if (!mkdtemp(tmp))
		abort();
	cleanup_free char *file = xasprintf("%s/cgroup.subtree_control", tmp);
	FILE *f = fopen(file, "w");
	fputs("cpuset io\n", f);
	fclose(f);
	tap_is_int(dewrt__cgroup_v2_delegate(tmp, false, false, &err), 0, "delegate memory and pids");
	int ret = dewrt__cgroup_read(tmp, "cgroup.subtree_control", &text, &err);
	tap_ok(ret == 0 && strncmp(text, "+memory +pids", 13) == 0,
	       "... by writing \"+memory +pids\" (got %s)", text ? text : "nothing");
	free(text);
	text = NULL;
	f = fopen(file, "w");
	fputs("cpu memory pids\n", f);
	fclose(f);
	tap_is_int(dewrt__cgroup_v2_delegate(tmp, false, true, &err), 0, "nothing to delegate");
	tap_ok(dewrt__cgroup_read(tmp, "cgroup.subtree_control", &text, &err) == 0 &&
		       strcmp(text, "cpu memory pids\n") == 0,
	       "... leaves the file alone");
	free(text);
	dew_error_free(err);
	unlink(file);
	rmdir(tmp);
}

int main(void)
{
	test_mode_from_fstype();
	test_mode_machine();
	test_parse_own();
	test_parse_files();
	test_translation();
	test_weight();
	test_words();
	test_delegate();
	return tap_done();
}
