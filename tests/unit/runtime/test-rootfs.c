// SPDX-License-Identifier: MIT
/*
 * Tests of the container's root (runtime/rootfs.c and friends), as root: each case builds a stack
 * in a private temp dir, runs the setup as pid 1 of fresh mount, pid, uts, ipc and net
 * namespaces, and has that process report what it sees as "key=value" lines over a pipe. Hostile
 * stacks (symlinks from /proc, /tmp, /dev, the app dir to host paths) must fail or stay inside.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "internal.h"
#include "rootfs-check.h"
#include "rootfs-fixture.h"
#include "tap.h"

/* tests/lib/dewrt-probe when it is built (NULL: the in-process checks alone). */
static const char *probe;

enum {
	CHILD_TIMEOUT_MS = 30000,
	USERNS_BASE = 100000,	   /* container root is this host uid and gid in the user namespace case */
	RUN_PREPARE_ONLY = 1 << 0, /* stop before pivot_root and report mounts outside the root */
	RUN_USERNS = 1 << 1,	   /* in a user namespace mapping 0..65535 to USERNS_BASE.. */
	RUN_HOST_NET = 1 << 2,	   /* in the host's network namespace */
};

/* A stack or spec that tries to get a mount onto the host. */
struct hostile {
	const char *name;
	const char *link, *target; /* a stack dir replaced by a symlink; "@" is the temp dir */
	const char *rmdir;	   /* a stack dir removed */
	const char *mount_target;  /* a spec mount (of the sentinel dir) onto this */
	bool may_succeed;	   /* only by mounting inside the root */
	const char *names;	   /* what the error must say */
};

static const struct hostile hostile[] = {
	{ "proc -> host dir", "proc", "@/sentinel", NULL, NULL, false, "`/proc`" },
	{ "proc -> /etc", "proc", "/etc", NULL, NULL, true, "`/proc" },
	{ "tmp -> /", "tmp", "/", NULL, NULL, false, "`/tmp`" },
	{ "dev -> ../../../<temp dir>/sentinel", "dev", "../../..@/sentinel", NULL, NULL, false, "`/dev`" },
	{ "app dir -> host dir", "home/vcap/app", "@/sentinel", NULL, NULL, false, "`/home/vcap/app`" },
	{ "spec mount onto opt -> host dir", "opt", "@/sentinel", NULL, "/opt", false, "`/opt`" },
	{ "spec mount onto /proc/sys", NULL, NULL, NULL, "/proc/sys", false,
	  "`/proc/sys` in container `rootfs-test` is at or below `/proc`" },
	{ "spec mount with ..", NULL, NULL, NULL, "/usr/../proc", false,
	  "`/usr/../proc` in container `rootfs-test` is not a plain" },
	{ "stack without /sys", NULL, NULL, "sys", NULL, false, "`/sys` is missing" },
};

/* What the container's pid 1 sent back, and how it ended. */
struct outcome {
	char *report;	   /* "key=value" lines */
	char *host_mounts; /* mount points below the temp dir seen by the test while the container lived */
	int status;	   /* of the intermediate child */
};

/*
 * The container's pid 1: set up (or, for a hostile stack, only prepare, and report every mount
 * made outside the root), run the checks, report, and wait for the test to look at its own
 * mount table before exiting.
 */
static void __attribute__((noreturn)) container_main(struct rootfs_fixture *fx, int flags, int rep, int go)
{
	FILE *out = fdopen(rep, "w");
	struct dew_error *err = NULL;
	int r, fd = -1;

	if (!out)
		_exit(1);
	if (flags & RUN_PREPARE_ONLY) {
		char **before = NULL;
		size_t n_before = rootfs_mounts_below(0, "/", &before);
		r = dewrt__rootfs_prepare(&fx->spec, &fd, &err);
		rootfs_report_escapes(out, fx->root, before, n_before);
	} else {
		r = dewrt__rootfs_setup(&fx->spec, &err);
		if (r == 0)
			rootfs_check_inside(out, fx);
	}
	fprintf(out, "setup=%d\nerror=%s\nend\n", r, err ? err->msg : "");
	fflush(out);
	char c;
	while (read(go, &c, 1) > 0)
		;
	_exit(0);
}

/*
 * The intermediate child: new namespaces, then a grandchild that is pid 1 in them. With a user
 * namespace, created first so that it owns all the others: the test writes our id maps when we
 * say "u", and says when it is done.
 */
static void __attribute__((noreturn)) intermediate(struct rootfs_fixture *fx, int flags, int rep, int go)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if ((flags & RUN_USERNS) &&
	    (unshare(CLONE_NEWUSER) < 0 || write(rep, "u", 1) != 1 || read(go, &c, 1) != 1 ||
	     setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		dprintf(rep, "setup=user namespace: %s\nend\n", strerror(errno));
		_exit(1);
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
		    ((flags & RUN_HOST_NET) ? 0 : CLONE_NEWNET)) < 0) {
		dprintf(rep, "setup=unshare: %s\nend\n", strerror(errno));
		_exit(1);
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Should the test die, the container goes too (and its mounts with its namespace). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		container_main(fx, flags, rep, go);
	}
	close(rep);
	close(go);
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		_exit(1);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* Append what fd has to *text until a line "end" (true) or, when !until_end, EOF (true); else false. */
static bool read_report(int fd, char **text, size_t *len, bool until_end)
{
	for (;;) {
		if (until_end && *text && (strncmp(*text, "end\n", 4) == 0 || strstr(*text, "\nend\n")))
			return true;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, CHILD_TIMEOUT_MS) <= 0)
			return false;
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return !until_end;
		*text = xrealloc(*text, *len + (size_t)n + 1);
		memcpy(*text + *len, chunk, (size_t)n);
		*len += (size_t)n;
		(*text)[*len] = '\0';
	}
}

/* Write the id maps of the intermediate child once it has its user namespace (see intermediate). */
static void map_ids(pid_t pid, int rep, int go, char **text, size_t *len)
{
	static const char *const files[] = { "uid_map", "gid_map" };
	struct pollfd p = { .fd = rep, .events = POLLIN };
	char c = 0, path[64], map[64];

	if (poll(&p, 1, CHILD_TIMEOUT_MS) <= 0 || read(rep, &c, 1) != 1)
		return;
	if (c != 'u') { /* it failed and is reporting why: keep that */
		*text = xstrdup((char[]){ c, '\0' });
		*len = 1;
		return;
	}
	snprintf(map, sizeof map, "0 %d 65536\n", USERNS_BASE);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, map, strlen(map)) != (ssize_t)strlen(map))
			tap_diag("write `%s`: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (write(go, "g", 1) != 1)
		tap_diag("wake the container: %s", strerror(errno));
}

/*
 * Run a container on fx. While its pid 1 waits after reporting, the test lists the mount points
 * below the temp dir (a shared mount) in its own namespace: any would have propagated out.
 */
static void run_container(struct rootfs_fixture *fx, int flags, struct outcome *out)
{
	int rep[2], go[2];
	size_t len = 0;

	memset(out, 0, sizeof *out);
	if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		printf("Bail out! pipe: %s\n", strerror(errno));
		exit(1);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(rep[0]);
		close(go[1]);
		intermediate(fx, flags, rep[1], go[0]);
	}
	close(rep[1]);
	close(go[0]);
	if ((flags & RUN_USERNS) && pid > 0)
		map_ids(pid, rep[0], go[1], &out->report, &len);
	if (!read_report(rep[0], &out->report, &len, true)) {
		tap_diag("the container did not report within %d ms", CHILD_TIMEOUT_MS);
		if (pid > 0)
			kill(pid, SIGKILL);
	}
	out->host_mounts = rootfs_mounts_text(0, fx->base, fx->base);
	close(go[1]);
	read_report(rep[0], &out->report, &len, false);
	close(rep[0]);
	if (pid < 0 || waitpid(pid, &out->status, 0) < 0)
		out->status = -1;
	if (!out->report)
		out->report = xstrdup("");
}

static void outcome_free(struct outcome *o)
{
	free(o->report);
	free(o->host_mounts);
}

/* The value of key in the report ("" when absent), valid until the next call. */
static const char *get(const struct outcome *o, const char *key)
{
	static char value[65536]; /* the probe's JSON is one line */
	size_t n = strlen(key);

	value[0] = '\0';
	for (const char *l = o->report; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != '\0')) {
		if (strncmp(l, key, n) == 0 && l[n] == '=') {
			snprintf(value, sizeof value, "%.*s", (int)strcspn(l + n + 1, "\n"), l + n + 1);
			break;
		}
	}
	return value;
}

/* The top mount at target in the probe's list of mounts, or NULL. */
static json_t *probe_mount(json_t *report, const char *target)
{
	json_t *m, *found = NULL;
	size_t i;

	json_array_foreach (json_object_get(report, "mounts"), i, m)
		if (json_is_string(json_object_get(m, "target")) &&
		    strcmp(json_string_value(json_object_get(m, "target")), target) == 0)
			found = m;
	return found;
}

/*
 * What tests/lib/dewrt-probe, a static binary that knows nothing of these tests, saw in the
 * container: the masked paths and the mounts, as a second opinion on the checks above.
 */
static void check_probe(const struct outcome *o, const char *in)
{
	static const struct {
		const char *target, *fstype;
		bool ro;
	} want[] = {
		{ "/", NULL, true },
		{ "/usr", NULL, true },
		{ "/proc", "proc", false },
		{ "/proc/sys", "proc", true },
		{ "/sys", "sysfs", true },
		{ "/dev", "tmpfs", false },
		{ "/dev/pts", "devpts", false },
		{ "/dev/shm", "tmpfs", false },
		{ "/tmp", "tmpfs", false },
	};
	json_error_t jerr;
	json_t *report, *m;
	char bad[1024] = "";
	size_t i;

	if (!probe)
		return;
	report = json_loads(get(o, "probe"), 0, &jerr);
	if (!tap_ok(report != NULL, "%sthe probe reports JSON", in)) {
		tap_diag("%s", jerr.text);
		return;
	}
	json_array_foreach (json_object_get(report, "masked"), i, m)
		if (json_is_true(json_object_get(m, "exists")) &&
		    !json_is_false(json_object_get(m, "nonempty")))
			snprintf(bad + strlen(bad), sizeof bad - strlen(bad), " %s",
				 json_string_value(json_object_get(m, "path")));
	tap_is_str(bad, "", "%sthe probe sees every masked path empty", in);
	for (i = 0; i < DEW_ARRAY_SIZE(want); i++) {
		json_t *mnt = probe_mount(report, want[i].target);
		const char *fstype = mnt ? json_string_value(json_object_get(mnt, "fstype")) : NULL;
		tap_ok(mnt && (!want[i].fstype || (fstype && strcmp(fstype, want[i].fstype) == 0)) &&
			       json_is_true(json_object_get(mnt, "ro")) == want[i].ro,
		       "%sthe probe sees %s at `%s`%s", in, want[i].fstype ? want[i].fstype : "a mount",
		       want[i].target, want[i].ro ? ", read-only" : "");
	}
	json_decref(report);
}

/*
 * A container on the normal stack, as root or as an unprivileged range in a user namespace; with
 * the host's network there, sysfs cannot be mounted and /sys is the host's, bound read-only.
 */
static void test_inside(int flags)
{
	struct rootfs_fixture *fx = rootfs_fixture_new();
	bool userns = flags & RUN_USERNS;
	const char *in = "";
	struct outcome o;

	if (userns)
		in = (flags & RUN_HOST_NET) ? "user namespace, host network: " : "user namespace: ";
	if (probe)
		rootfs_fixture_add_probe(fx, probe);

	/* The app dir belongs to the app's user; container root is that here. */
	if (userns && chown(fx->app, USERNS_BASE, USERNS_BASE) < 0)
		tap_diag("chown `%s`: %s", fx->app, strerror(errno));
	run_container(fx, flags, &o);
	if (!tap_is_str(get(&o, "setup"), "0", "%ssetup succeeds", in))
		tap_diag("error: %s", get(&o, "error"));
	for (size_t i = 0; i < rootfs_n_expect; i++) {
		const struct rootfs_expect *e = &rootfs_expect[i];
		tap_is_str(get(&o, e->key), userns && e->userns_want ? e->userns_want : e->want, "%s%s", in,
			   e->what);
	}
	tap_is_str(get(&o, "hostname"), fx->spec.hostname, "%sthe hostname is set", in);
	tap_is_str(o.host_mounts, "", "%sno mount propagated to the host (the temp dir is a shared mount)",
		   in);
	cleanup_free char *from_inside = xasprintf("%s/from-container", fx->app);
	tap_ok(access(from_inside, F_OK) == 0, "%sa file written to /home/vcap/app is in the host's app dir",
	       in);
	tap_is_int(o.status, 0, "%sthe container's pid 1 exited cleanly", in);
	check_probe(&o, in);
	outcome_free(&o);
	rootfs_fixture_free(fx);
}

static void hostile_fixture(struct rootfs_fixture *fx, const struct hostile *h)
{
	if (h->link) {
		/* "@" is the temp dir: "../../..@/sentinel" climbs from it to / and back down. */
		const char *at = strchr(h->target, '@');
		cleanup_free char *target =
			at ? xasprintf("%.*s%s%s", (int)(at - h->target), h->target, fx->base, at + 1)
			   : xstrdup(h->target);
		rootfs_fixture_symlink(fx, h->link, target);
	}
	if (h->rmdir)
		rootfs_fixture_rmdir(fx, h->rmdir);
	if (h->mount_target)
		rootfs_fixture_add_mount(fx, h->mount_target);
}

static void test_hostile(const struct hostile *h)
{
	struct rootfs_fixture *fx = rootfs_fixture_new();
	struct outcome o;

	hostile_fixture(fx, h);
	run_container(fx, RUN_PREPARE_ONLY, &o);
	const char *setup = get(&o, "setup");
	bool ok = strcmp(setup, "0") == 0;
	if (h->may_succeed) /* either is right; the mount table check below is the test */
		tap_diag("%s: setup %s", h->name, ok ? "succeeds, mounting inside the root" : "fails");
	else
		tap_ok(!ok, "%s: setup fails", h->name);
	if (!ok)
		tap_has_str(get(&o, "error"), h->names, "%s: the error names the path", h->name);
	tap_is_str(get(&o, "escaped"), "", "%s: nothing was mounted outside the root", h->name);
	tap_is_str(o.host_mounts, "", "%s: nothing propagated to the host", h->name);
	tap_is_int(rootfs_count_entries(fx->sentinel), 0, "%s: the host sentinel dir is unchanged", h->name);
	tap_is_int(o.status, 0, "%s: the container's pid 1 exited cleanly", h->name);
	outcome_free(&o);
	rootfs_fixture_free(fx);
}

/*
 * Whether this process may build containers (new namespaces, mounts in them), and if so, move it
 * into a mount namespace of its own, a slave of the one it was started in: every mount the tests
 * make then dies with this process however it ends, and none can reach where it came from.
 */
static bool can_run(const char **why)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) < 0)
			_exit(1);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", "/tmp", "tmpfs", 0, "size=4k") < 0)
			_exit(2);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
		*why = "cannot fork a probe";
		return false;
	}
	if (WEXITSTATUS(status) == 1)
		*why = "cannot unshare mount, pid, uts, ipc and net namespaces (not root?)";
	else if (WEXITSTATUS(status) == 2)
		*why = "cannot mount in a new mount namespace";
	if (WEXITSTATUS(status) != 0)
		return false;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		*why = "cannot move the test into a mount namespace of its own";
		return false;
	}
	return true;
}

/* $top_builddir/tests/lib/dewrt-probe, or next to this binary's build tree when run by hand. */
static const char *find_probe(void)
{
	static char path[4096];
	const char *top = getenv("top_builddir");
	char exe[4096];
	ssize_t n;

	if (top)
		snprintf(path, sizeof path, "%s/tests/lib/dewrt-probe", top);
	else if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) > 0) {
		exe[n] = '\0';
		snprintf(path, sizeof path, "%.*s/../../lib/dewrt-probe", (int)(strrchr(exe, '/') - exe),
			 exe);
	}
	if (access(path, X_OK) == 0)
		return path;
	tap_diag("no dewrt-probe at `%s`: in-process checks only", path);
	return NULL;
}

int main(void)
{
	const char *why = NULL;
	pid_t parent = getppid();

	/* A reader of our output that goes away must not stop us before the cleanup. */
	signal(SIGPIPE, SIG_IGN);
	if (!can_run(&why)) {
		tap_skip(NULL, why, "container root tests");
		return tap_done();
	}
	rootfs_check_init();
	probe = find_probe();
	test_inside(0);
	test_inside(RUN_USERNS);
	test_inside(RUN_USERNS | RUN_HOST_NET);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(hostile); i++)
		test_hostile(&hostile[i]);
	cleanup_free char *left = rootfs_mounts_text(0, ROOTFS_FIXTURE_PREFIX, NULL);
	cleanup_free char *left_outside = rootfs_mounts_text(parent, ROOTFS_FIXTURE_PREFIX, NULL);
	tap_is_str(left, "", "no test mount left behind in the test's mount namespace");
	tap_is_str(left_outside, "", "no test mount in the namespace the test was started in");
	return tap_done();
}
