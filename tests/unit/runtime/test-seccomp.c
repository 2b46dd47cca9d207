// SPDX-License-Identifier: MIT
/*
 * Unit tests of runtime/seccomp.c and runtime/caps.c. The filter is compiled once; children
 * set no_new_privs, apply the capability set (when this process may), install the filter
 * and exec dewrt-probe, which tries each operation of its table. Every refused operation
 * must answer the documented errno (docs/container-spec.md), and, run again without the
 * filter, must not: so the errno seen is the filter's doing. The capability sets the probe
 * reports must equal the documented set exactly, before and after a switch to uid 1000.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sys/capability.h>

#include "alloc.h"
#include "error.h"
#include "internal.h"
#include "tap.h"

enum {
	WITH_CAPS = 1,	 /* dewrt__caps_apply */
	WITH_FILTER = 2, /* dewrt__seccomp_install */
	AS_USER = 4,	 /* then setresgid/setresuid 1000, as the app user */
	APP_UID = 1000,
};

/*
 * The documented policy (docs/container-spec.md, "Security profile"): every operation of
 * dewrt-probe's table and the errno it must get. control: without the filter, a root process
 * gets a different answer on any kernel (false where kernel settings such as
 * kernel.io_uring_disabled or modules_disabled may refuse with EPERM themselves).
 */
static const struct expect {
	const char *name;
	int err; /* 0: must succeed */
	bool control;
	bool x86; /* through the i386 entry point */
} expects[] = {
	{ "clone-newuser", EPERM, true, false },
	{ "clone3", ENOSYS, true, false },
	{ "unshare", EPERM, true, false },
	{ "setns", EPERM, true, false },
	{ "mount", EPERM, true, false },
	{ "open_tree", EPERM, true, false },
	{ "fsopen", EPERM, true, false },
	{ "ptrace-init", EPERM, true, false },
	{ "process_vm_readv", EPERM, true, false },
	{ "keyctl", EPERM, true, false },
	{ "add_key", EPERM, true, false },
	{ "request_key", EPERM, true, false },
	{ "bpf", EPERM, true, false },
	{ "userfaultfd", EPERM, true, false },
	{ "perf_event_open", EPERM, true, false },
	{ "io_uring_setup", EPERM, false, false },
	{ "kexec_load", EPERM, false, false },
	{ "init_module", EPERM, false, false },
	{ "socket-vsock", EPERM, true, false },
	{ "socket-alg", EPERM, true, false },
	{ "socket-packet", EPERM, true, false },
	{ "socket-hibits", EPERM, true, false },
	{ "tiocsti", EPERM, true, false },
	{ "tiocsti-hibits", EPERM, true, false },
	{ "tioclinux", EPERM, true, false },
	{ "personality-bad", EPERM, true, false },
#ifdef __x86_64__
	{ "modify_ldt", EPERM, true, false },
	{ "socketcall-x86", ENOSYS, true, true },
	{ "socket-x86-alg", EPERM, true, true },
	{ "unshare-x86", EPERM, true, true },
	{ "x32-unshare", EPERM, true, false },
#endif
	{ "fork", 0, false, false },
	{ "clone-plain", 0, false, false },
	{ "thread", 0, false, false },
	{ "socket-inet", 0, false, false },
	{ "socket-unix", 0, false, false },
	{ "socket-netlink", 0, false, false },
	{ "ioctl-ok", 0, false, false },
	{ "personality-query", 0, false, false },
#ifdef __x86_64__
	{ "getpid-x86", 0, false, true },
#endif
};

/* The documented capability set, in capability-number order (as the probe lists it). */
/* clang-format off */
static const char *const documented_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
};
/* clang-format on */

struct ctx {
	const char *probe;
	struct dewrt_seccomp *sc;
	bool may_caps;	  /* CAP_SETPCAP effective: the caps can be applied */
	bool may_control; /* CAP_SYS_ADMIN effective: unfiltered runs are meaningful */
	bool ia32;	  /* the i386 entry point works */
	pid_t sleeper;	  /* the target of ptrace-init (never the host's pid 1) */
	int filtered;	  /* children asked to install the one compiled filter */
	int installs;	  /* children that did */
	int own_filters;  /* seccomp filters this test already runs under (a CI container's) */
};

static int own_seccomp_filters(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp_filters: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static bool have_cap(cap_value_t cap)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (caps) {
		cap_get_flag(caps, cap, CAP_EFFECTIVE, &v);
		cap_free(caps);
	}
	return v == CAP_SET;
}

static void child_setup(const struct ctx *c, int mode)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(120);
	if ((mode & WITH_CAPS) && dewrt__caps_apply() < 0)
		_exit(121);
	if ((mode & AS_USER) && (setgroups(0, NULL) < 0 || setresgid(APP_UID, APP_UID, APP_UID) < 0 ||
				 setresuid(APP_UID, APP_UID, APP_UID) < 0))
		_exit(122);
	if ((mode & WITH_FILTER) && dewrt__seccomp_install(c->sc) < 0)
		_exit(123);
}

/*
 * Run `dewrt-probe args...` in a child set up as the container's init would be; return its
 * stdout parsed as JSON (NULL when it is not), and its wait status in *status.
 */
static json_t *run_probe(struct ctx *c, int mode, const char *a1, const char *a2, const char *a3, int *status)
{
	const char *argv[] = { c->probe, a1, a2, a3, NULL };
	char out[65536];
	size_t len = 0;
	ssize_t n;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return NULL;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		child_setup(c, mode);
		execv(c->probe, (char **)argv);
		_exit(127);
	}
	close(p[1]);
	while (len < sizeof(out) - 1 && (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	waitpid(pid, status, 0);
	if (mode & WITH_FILTER) {
		c->filtered++;
		c->installs += WIFEXITED(*status) && WEXITSTATUS(*status) < 120;
	}
	return json_loads(out, 0, NULL);
}

/* Run `syscall NAME` and return the errno it reported, or -1 when the probe failed. */
static int probe_errno(struct ctx *c, int mode, const char *name, long *result)
{
	char pid[32];
	int status;

	snprintf(pid, sizeof(pid), "%d", (int)c->sleeper);
	json_auto_t *o =
		run_probe(c, mode, "syscall", name, strcmp(name, "ptrace-init") == 0 ? pid : NULL, &status);
	if (!o || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		tap_diag("probe `syscall %s`: wait status %#x", name, status);
		return -1;
	}
	*result = json_integer_value(json_object_get(o, "result"));
	return json_integer_value(json_object_get(o, "errno"));
}

static const struct expect *find_expect(const char *name)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(expects); i++)
		if (strcmp(expects[i].name, name) == 0)
			return &expects[i];
	return NULL;
}

/* The probe's table and the documented one name the same operations. */
static void test_tables_agree(struct ctx *c)
{
	int status;
	json_auto_t *list = run_probe(c, 0, "syscall", "list", NULL, &status);
	size_t i, missing = 0;
	json_t *v;

	tap_ok(json_is_array(list), "probe lists its operations");
	json_array_foreach (list, i, v) {
		if (!find_expect(json_string_value(v))) {
			tap_diag("probe operation `%s` has no documented expectation", json_string_value(v));
			missing++;
		}
	}
	tap_is_int(missing, 0, "every probe operation has a documented errno");
	tap_is_int(json_array_size(list), DEW_ARRAY_SIZE(expects),
		   "the probe implements the documented table");
}

static void test_one(struct ctx *c, const struct expect *e, int mode)
{
	const char *want = e->err ? strerrorname_np(e->err) : "success";
	long result = 0;

	if (e->x86 && !c->ia32) {
		tap_skip("ia32", "the kernel's i386 entry point is disabled", "%s: %s", e->name, want);
		return;
	}
	int got = probe_errno(c, mode, e->name, &result);
	tap_is_int(got, e->err, "%s: %s under the filter", e->name, want);
	if (!e->control)
		return;
	if (!c->may_control) {
		tap_skip("root", "needs CAP_SYS_ADMIN to run unfiltered", "%s: not %s without the filter",
			 e->name, want);
		return;
	}
	got = probe_errno(c, 0, e->name, &result);
	tap_ok(got >= 0 && got != e->err, "%s: not %s without the filter (got %s)", e->name, want,
	       got > 0	  ? strerrorname_np(got)
	       : got == 0 ? "success"
			  : "probe failure");
}

static void test_syscalls(struct ctx *c)
{
	int mode = WITH_FILTER | (c->may_caps ? WITH_CAPS : 0);
	long result;

	/* Is the i386 entry point there at all (ia32_emulation=0 makes int 0x80 fault)? */
	c->ia32 = probe_errno(c, 0, "getpid-x86", &result) == 0;
	if (!c->ia32)
		tap_diag("int 0x80 does not work here: the x86 bypass checks are skipped");
	for (size_t i = 0; i < DEW_ARRAY_SIZE(expects); i++)
		test_one(c, &expects[i], mode);
}

static char *names_of(json_t *names)
{
	char *s = xstrdup("");
	size_t i;
	json_t *v;

	json_array_foreach (names, i, v) {
		char *t = xasprintf("%s%s%s", s, i ? "," : "", json_string_value(v));
		free(s);
		s = t;
	}
	return s;
}

static char *joined_documented_caps(void)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < DEW_ARRAY_SIZE(documented_caps); i++) {
		char *t = xasprintf("%s%s%s", s, i ? "," : "", documented_caps[i]);
		free(s);
		s = t;
	}
	return s;
}

static const char *cap_hex(json_t *report, const char *set)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(report, "caps"), set), "hex"));
}

/* dewrt__caps_list is the documented set. */
static uint64_t test_caps_list(void)
{
	size_t n;
	const int *caps = dewrt__caps_list(&n);
	uint64_t mask = 0;
	bool same = n == DEW_ARRAY_SIZE(documented_caps);

	for (size_t i = 0; i < n; i++) {
		char *name = cap_to_name(caps[i]);
		mask |= UINT64_C(1) << caps[i];
		same = same && i < DEW_ARRAY_SIZE(documented_caps) &&
		       strcasecmp(name, documented_caps[i]) == 0;
		cap_free(name);
	}
	tap_ok(same, "dewrt__caps_list is the documented set of %zu", DEW_ARRAY_SIZE(documented_caps));
	uint64_t forbidden = UINT64_C(1) << CAP_SYS_ADMIN | UINT64_C(1) << CAP_NET_RAW |
			     UINT64_C(1) << CAP_MKNOD | UINT64_C(1) << CAP_SYS_PTRACE |
			     UINT64_C(1) << CAP_SETFCAP | UINT64_C(1) << CAP_AUDIT_WRITE;
	tap_ok(!(mask & forbidden), "none of SYS_ADMIN, NET_RAW, MKNOD, SYS_PTRACE, SETFCAP, AUDIT_WRITE");
	return mask;
}

/* What the process sees with the full container setup, as root in it and as the app user. */
static void test_report(struct ctx *c, uint64_t mask)
{
	char want[17];
	int status;

	snprintf(want, sizeof(want), "%016" PRIx64, mask);
	json_auto_t *r = run_probe(c, WITH_CAPS | WITH_FILTER, "report", NULL, NULL, &status);
	tap_ok(json_is_object(r), "report is a JSON object");
	tap_is_int(json_integer_value(json_object_get(r, "no_new_privs")), 1, "NoNewPrivs: 1");
	tap_is_int(json_integer_value(json_object_get(r, "seccomp")), 2, "Seccomp: 2 (filter mode)");
	tap_is_int(json_integer_value(json_object_get(r, "seccomp_filters")), c->own_filters + 2,
		   "Seccomp_filters: 2 more than the test's own");
	tap_is_str(cap_hex(r, "CapBnd"), want, "CapBnd is the documented set");
	tap_is_str(cap_hex(r, "CapEff"), want, "CapEff is the documented set");
	tap_is_str(cap_hex(r, "CapPrm"), want, "CapPrm is the documented set");
	tap_is_str(cap_hex(r, "CapInh"), "0000000000000000", "CapInh is empty");
	tap_is_str(cap_hex(r, "CapAmb"), "0000000000000000", "CapAmb is empty");
	cleanup_free char *names =
		names_of(json_object_get(json_object_get(json_object_get(r, "caps"), "CapBnd"), "names"));
	cleanup_free char *doc = joined_documented_caps();
	tap_is_str(names, doc, "CapBnd names are the documented ones");

	/* The ordering contract of internal.h: caps, then the uid switch, then the filter. */
	json_auto_t *u = run_probe(c, WITH_CAPS | AS_USER | WITH_FILTER, "report", NULL, NULL, &status);
	tap_is_int(json_integer_value(json_object_get(u, "uid")), APP_UID, "as the app user: uid %d",
		   APP_UID);
	tap_is_str(cap_hex(u, "CapEff"), "0000000000000000", "as the app user: CapEff is empty");
	tap_is_str(cap_hex(u, "CapPrm"), "0000000000000000", "as the app user: CapPrm is empty");
	tap_is_str(cap_hex(u, "CapBnd"), want, "as the app user: CapBnd is still the documented set");
	tap_is_str(cap_hex(u, "CapAmb"), "0000000000000000", "as the app user: CapAmb is empty");
	tap_is_int(json_integer_value(json_object_get(u, "seccomp_filters")), c->own_filters + 2,
		   "as the app user: filtered");
}

int main(void)
{
	struct ctx c = { 0 };
	struct dew_error *err = NULL;
	cleanup_free char *probe = NULL;
	const char *top = getenv("top_builddir");

	probe = xstrdup(getenv("DEWRT_PROBE") ? getenv("DEWRT_PROBE") : "");
	if (!*probe) {
		free(probe);
		probe = xasprintf("%s/tests/lib/dewrt-probe", top ? top : ".");
	}
	c.probe = probe;
	if (!tap_ok(access(probe, X_OK) == 0, "dewrt-probe at %s (DEWRT_PROBE)", probe))
		return tap_done();

	tap_is_str(dewrt__seccomp_profile_name(), "dew-default-1", "profile name");
	int rc = dewrt__seccomp_compile(&c.sc, NULL, &err);
	if (!tap_is_int(rc, 0, "compile the profile%s%s", err ? ": " : "", err ? dew_error_msg(err) : ""))
		return tap_done();
	c.may_caps = have_cap(CAP_SETPCAP);
	c.may_control = have_cap(CAP_SYS_ADMIN);
	c.own_filters = own_seccomp_filters();
	if ((c.sleeper = fork()) == 0) {
		pause();
		_exit(0);
	}

	test_tables_agree(&c);
	test_syscalls(&c);
	uint64_t mask = test_caps_list();
	if (c.may_caps)
		test_report(&c, mask);
	else
		tap_skip("root", "needs CAP_SETPCAP to apply the capability set",
			 "capability sets and uid switch");
	/* Compiled once above; every filtered child installed that same program. */
	tap_ok(c.filtered >= 2 && c.installs == c.filtered,
	       "one compiled filter installed by %d of %d children", c.installs, c.filtered);

	kill(c.sleeper, SIGKILL);
	waitpid(c.sleeper, NULL, 0);
	dewrt__seccomp_free(c.sc);
	return tap_done();
}
