// SPDX-License-Identifier: MIT
/*
 * Unit tests of stacks/ in a private temporary directory: a good stack.json (relative and
 * absolute rootfs, mounts, runtimes), each malformed field with the message that names the file
 * and the field, probing (host runtimes run, root runtimes checked, failures, a hang killed at
 * the deadline) and dew_stack_apply() filling a spec.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "dewrt.h"
#include "error.h"
#include "fs.h"
#include "stack.h"
#include "tap.h"

/* The tests run inside the temporary directory, so messages name `stacks/<name>/stack.json`. */
#define STACKS "stacks"

static void write_file(const char *path, const char *data, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(data, f) < 0 || fclose(f) != 0)
		tap_diag("write %s: %s", path, strerror(errno));
	chmod(path, mode);
}

static void mkdirs(const char *path)
{
	struct dew_error *err = NULL;

	if (dew_mkdir_p(path, 0755, &err) < 0)
		tap_diag("%s", dew_error_msg(err));
	dew_error_free(err);
}

/* A root with the mount points the runtime needs (and /usr, /usr/local/bin, /opt for tests). */
static void make_root(const char *root)
{
	static const char *const dirs[] = { "proc",	     "dev",	"sys",		"tmp",
					    "home/vcap/app", "usr/bin", "usr/local/bin" };

	for (size_t i = 0; i < DEW_ARRAY_SIZE(dirs); i++) {
		cleanup_free char *d = xasprintf("%s/%s", root, dirs[i]);
		mkdirs(d);
	}
}

/* stacks/<name>/stack.json with json and a rootfs "root" next to it. */
static void make_stack(const char *name, const char *json)
{
	cleanup_free char *dir = xasprintf(STACKS "/%s", name);
	cleanup_free char *root = xasprintf("%s/root", dir);
	cleanup_free char *path = xasprintf("%s/stack.json", dir);

	make_root(root);
	write_file(path, json, 0644);
}

static void test_good(void)
{
	struct dew_stack *st = NULL;
	struct dew_error *err = NULL;

	make_stack("good", "{\"name\": \"good\", \"description\": \"a test stack\", \"rootfs\": \"root\",\n"
			   " \"runtimes\": [\"python3\", \"sh\", \"no-such-runtime-xyz\"],\n"
			   " \"mounts\": [{\"source\": \"/usr\", \"target\": \"/usr\"},\n"
			   "            {\"source\": \"/srv/x\", \"target\": \"/usr/local/bin\", "
			   "\"readonly\": false}]}");
	if (!tap_is_int(dew_stack_load(STACKS, "good", false, &st, &err), 0, "a good stack loads")) {
		tap_diag("%s", dew_error_msg(err));
		dew_error_free(err);
		return;
	}
	cleanup_free char *want_root = realpath(STACKS "/good/root", NULL);
	tap_is_str(st->name, "good", "name");
	tap_is_str(st->description, "a test stack", "description");
	tap_is_str(st->rootfs, want_root, "a relative rootfs is resolved against the stack's directory");
	tap_ok(st->rootfs[0] == '/', "the rootfs is absolute even with a relative stacks dir");
	tap_is_int((long)st->n_mounts, 2, "two mounts");
	tap_ok(strcmp(st->mounts[0].source, "/usr") == 0 && strcmp(st->mounts[0].target, "/usr") == 0 &&
		       st->mounts[0].readonly,
	       "mounts[0] is /usr, read-only by default");
	tap_ok(strcmp(st->mounts[1].source, "/srv/x") == 0 && !st->mounts[1].readonly,
	       "mounts[1] keeps readonly false");
	tap_ok(st->runtimes[0] && st->runtimes[1] && st->runtimes[2] && !st->runtimes[3] &&
		       strcmp(st->runtimes[2], "no-such-runtime-xyz") == 0,
	       "without probing every runtime listed is kept");
	dew_stack_free(st);

	/* Absolute rootfs, no optional fields. */
	cleanup_free char *json = xasprintf("{\"name\": \"abs\", \"rootfs\": \"%s\"}", want_root);
	mkdirs(STACKS "/abs");
	write_file(STACKS "/abs/stack.json", json, 0644);
	if (tap_is_int(dew_stack_load(STACKS, "abs", true, &st, &err), 0,
		       "an absolute rootfs and no optional field")) {
		tap_is_str(st->rootfs, want_root, "the absolute rootfs is kept");
		tap_ok(st->n_mounts == 0 && st->runtimes && !st->runtimes[0] &&
			       strcmp(st->description, "") == 0,
		       "no mounts, no runtimes, empty description");
		dew_stack_free(st);
	}
	dew_error_clear(&err);
}

/*
 * Each malformed stack.json is refused with a message naming the file and the field. The JSON
 * is written with ' for " (swapped before use) and B( ) supplies the valid name and rootfs.
 */
#define B(rest) "{'name': 'bad', 'rootfs': 'root'" rest "}"
#define USR "{'source': '/usr', 'target': '/usr'}"
static void test_bad(void)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "[]", "stacks/bad/stack.json: must be a JSON object" },
		{ "{'name': ", "stacks/bad/stack.json: invalid JSON" },
		{ "{'rootfs': 'root'}", "stacks/bad/stack.json: field `name` is required" },
		{ "{'name': 'other', 'rootfs': 'root'}",
		  "field `name` must be `bad`, the name of its directory" },
		{ B(", 'description': 7"), "field `description` must be a string" },
		{ "{'name': 'bad'}", "stacks/bad/stack.json: field `rootfs` is required" },
		{ "{'name': 'bad', 'rootfs': ''}", "field `rootfs` must not be empty" },
		{ "{'name': 'bad', 'rootfs': 'nowhere'}",
		  "field `rootfs`: `stacks/bad/nowhere`: No such file or directory" },
		{ "{'name': 'bad', 'rootfs': 'stack.json'}",
		  "field `rootfs`: `stacks/bad/stack.json` is not a directory" },
		{ "{'name': 'bad', 'rootfs': 'root/usr'}", "lacks the mount point `/proc`" },
		{ B(", 'mounts': {}"), "field `mounts` must be an array" },
		{ B(", 'mounts': [" USR ", 3]"),
		  "stacks/bad/stack.json: field `mounts[1]` must be an object" },
		{ B(", 'mounts': [" USR ", {'source': 'usr', 'target': '/usr/bin'}]"),
		  "stacks/bad/stack.json: field `mounts[1].source` must be an absolute path" },
		{ B(", 'mounts': [{'source': '/usr'}]"), "field `mounts[0].target` is required" },
		{ B(", 'mounts': [{'source': '/usr', 'target': 5}]"),
		  "field `mounts[0].target` must be a string" },
		{ B(", 'mounts': [{'source': '/usr', 'target': '/usr/../etc'}]"),
		  "field `mounts[0].target` must be an absolute path" },
		{ B(", 'mounts': [{'source': '/usr', 'target': '/usr//bin'}]"),
		  "field `mounts[0].target` must be an absolute path" },
		{ B(", 'mounts': [{'source': '/usr', 'target': '/usr', 'readonly': 'yes'}]"),
		  "field `mounts[0].readonly` must be a boolean" },
		{ B(", 'mounts': [" USR ", {'source': '/opt', 'target': '/usr'}]"),
		  "field `mounts[1].target`: `/usr` is mounted twice" },
		{ B(", 'mounts': [{'source': '/opt', 'target': '/opt'}]"),
		  "field `mounts[0].target`: the stack root `" },
		{ B(", 'mounts': [{'source': '/lib', 'target': '/lib'}]"),
		  "field `mounts[0].target`: the mount point `/lib` in the stack root" },
		{ B(", 'runtimes': 'sh'"), "field `runtimes` must be an array" },
		{ B(", 'runtimes': ['sh', '../bin/x']"), "field `runtimes[1]` must be a program name" },
		{ B(", 'runtimes': ['-c']"), "field `runtimes[0]` must be a program name" },
		{ B(", 'runtimes': ['sh', 'sh']"), "field `runtimes[1]`: `sh` is listed twice" },
	};
	struct dew_error *err = NULL;

	make_stack("bad", "{}");
	if (symlink("usr/lib", STACKS "/bad/root/lib") < 0)
		tap_diag("symlink: %s", strerror(errno));
	for (size_t i = 0; i < DEW_ARRAY_SIZE(cases); i++) {
		struct dew_stack *st = (struct dew_stack *)1;
		cleanup_free char *json = xstrdup(cases[i].json);
		for (char *c = json; *c; c++)
			*c = *c == '\'' ? '"' : *c;
		write_file(STACKS "/bad/stack.json", json, 0644);
		int r = dew_stack_load(STACKS, "bad", false, &st, &err);
		tap_ok(r == -EINVAL || r == -ENOENT || r == -ENOTDIR, "bad %zu is refused (%d)", i, r);
		tap_ok(st == NULL, "bad %zu: no stack handed out", i);
		tap_has_str(dew_error_msg(err), cases[i].msg, "bad %zu: the message names the field", i);
		dew_error_clear(&err);
	}

	/* Bounds: the file, the number of mounts and of runtimes. */
	size_t big = 64 * 1024 + 1;
	char *json = xmalloc(big + 1);
	memset(json, ' ', big);
	json[big] = '\0';
	write_file(STACKS "/bad/stack.json", json, 0644);
	free(json);
	struct dew_stack *st = NULL;
	tap_is_int(dew_stack_load(STACKS, "bad", false, &st, &err), -EFBIG,
		   "a stack.json over 64 KiB is refused");
	tap_has_str(dew_error_msg(err), "stacks/bad/stack.json` is larger than 65536 bytes",
		    "... with its size");
	dew_error_clear(&err);

	cleanup_free char *mounts = xstrdup("");
	for (int i = 0; i < 65; i++) {
		char *m = xasprintf("%s%s{\"source\": \"/usr\", \"target\": \"/t%d\"}", mounts, i ? "," : "",
				    i);
		free(mounts);
		mounts = m;
	}
	json = xasprintf("{\"name\": \"bad\", \"rootfs\": \"root\", \"mounts\": [%s]}", mounts);
	write_file(STACKS "/bad/stack.json", json, 0644);
	free(json);
	tap_ok(dew_stack_load(STACKS, "bad", false, &st, &err) < 0, "65 mounts are refused");
	tap_has_str(dew_error_msg(err), "field `mounts` has more than 64 items", "... naming the field");
	dew_error_clear(&err);

	cleanup_free char *rts = xstrdup("");
	for (int i = 0; i < 33; i++) {
		char *r = xasprintf("%s%s\"rt%d\"", rts, i ? "," : "", i);
		free(rts);
		rts = r;
	}
	json = xasprintf("{\"name\": \"bad\", \"rootfs\": \"root\", \"runtimes\": [%s]}", rts);
	write_file(STACKS "/bad/stack.json", json, 0644);
	free(json);
	tap_ok(dew_stack_load(STACKS, "bad", false, &st, &err) < 0, "33 runtimes are refused");
	tap_has_str(dew_error_msg(err), "field `runtimes` has more than 32 items", "... naming the field");
	dew_error_clear(&err);

	tap_is_int(dew_stack_load(STACKS, "missing", false, &st, &err), -ENOENT,
		   "a missing stack is -ENOENT");
	tap_has_str(dew_error_msg(err), "stack `missing`: open `stacks/missing/stack.json`",
		    "... naming the file");
	dew_error_clear(&err);
	tap_is_int(dew_stack_load(STACKS, "../bad", false, &st, &err), -EINVAL,
		   "a name with a slash is refused");
	tap_has_str(dew_error_msg(err), "stack name `../bad` is invalid", "... as an invalid name");
	dew_error_clear(&err);
}

static bool has_runtime(const struct dew_stack *st, const char *name)
{
	for (size_t i = 0; st->runtimes[i]; i++)
		if (strcmp(st->runtimes[i], name) == 0)
			return true;
	return false;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Host runtimes (through the /usr mount and a fake host bin dir bound at /usr/local/bin) are
 * run; runtimes of the root itself are only checked; a failing or hanging one is dropped.
 */
static void test_probe(const char *tmp)
{
	struct dew_stack *st = NULL;
	struct dew_error *err = NULL;

	mkdirs("hostbin");
	write_file("hostbin/ok-rt", "#!/bin/sh\nexit 0\n", 0755);
	write_file("hostbin/fail-rt", "#!/bin/sh\nexit 1\n", 0755);
	write_file("hostbin/hang-rt", "#!/bin/sh\nexec sleep 30\n", 0755);
	make_stack("probe", "");
	write_file(STACKS "/probe/root/usr/bin/root-rt", "not run, only checked\n", 0755);
	write_file(STACKS "/probe/root/usr/bin/noexec-rt", "", 0644);
	mkdirs(STACKS "/probe/root/opt");
	write_file(STACKS "/probe/root/opt/real-rt", "", 0755);
	/* An absolute link resolves inside the root, where /opt/real-rt exists (not on the host). */
	if (symlink("/opt/real-rt", STACKS "/probe/root/usr/bin/link-rt") < 0)
		tap_diag("symlink: %s", strerror(errno));

	/* A stack whose /usr/local/bin comes from the host. */
	cleanup_free char *json =
		xasprintf("{\"name\": \"probe\", \"rootfs\": \"root\", \"runtimes\": [\"sh\", "
			  "\"no-such-runtime-xyz\", \"ok-rt\","
			  " \"fail-rt\", \"hang-rt\", \"root-rt\"],"
			  " \"mounts\": [{\"source\": \"%s/hostbin\", \"target\": \"/usr/local/bin\"},"
			  " {\"source\": \"/usr\", \"target\": \"/usr\"}]}",
			  tmp);
	write_file(STACKS "/probe/stack.json", json, 0644);
	double t0 = now_s();
	if (!tap_is_int(dew_stack_load(STACKS, "probe", true, &st, &err), 0, "the probe stack loads")) {
		tap_diag("%s", dew_error_msg(err));
		dew_error_clear(&err);
		return;
	}
	double took = now_s() - t0;
	tap_ok(has_runtime(st, "sh"), "sh (from the host's /usr) runs and is kept");
	tap_ok(!has_runtime(st, "no-such-runtime-xyz"), "a runtime that does not exist is dropped");
	tap_ok(has_runtime(st, "ok-rt"), "a host runtime answering its version command is kept");
	tap_ok(!has_runtime(st, "fail-rt"), "a host runtime that fails is dropped");
	tap_ok(!has_runtime(st, "hang-rt"), "a host runtime that hangs is dropped");
	tap_ok(!has_runtime(st, "root-rt"), "the root's /usr/bin is hidden by the /usr mount");
	tap_ok(took >= 1.9 && took < 5, "the hang is killed at the 2 s deadline (took %.2f s)", took);
	tap_ok(strcmp(st->runtimes[0], "sh") == 0, "the order of stack.json is kept");
	dew_stack_free(st);

	/* The same root without mounts: runtimes in the root are checked, not run. */
	write_file(STACKS "/probe/stack.json",
		   "{\"name\": \"probe\", \"rootfs\": \"root\", \"runtimes\": [\"root-rt\", \"noexec-rt\", "
		   "\"link-rt\","
		   " \"ok-rt\", \"sh\"]}",
		   0644);
	if (tap_is_int(dew_stack_load(STACKS, "probe", true, &st, &err), 0,
		       "the probe stack without mounts loads")) {
		tap_ok(has_runtime(st, "root-rt"),
		       "an executable file in the root's /usr/bin is kept (not run)");
		tap_ok(!has_runtime(st, "noexec-rt"), "a file without execute permission is dropped");
		tap_ok(has_runtime(st, "link-rt"), "an absolute symlink is resolved inside the root");
		tap_ok(!has_runtime(st, "ok-rt") && !has_runtime(st, "sh"),
		       "host programs do not count for a root");
		dew_stack_free(st);
	}
	dew_error_clear(&err);
}

static void test_apply(void)
{
	static const char spec_json[] =
		"{\"id\": \"t\", \"rootfs\": \"/old\", \"args\": [\"/bin/true\"],"
		" \"mounts\": [{\"source\": \"/data\", \"target\": \"/usr/local/data\"}]}";
	struct dewrt_spec *spec = NULL;
	struct dew_stack *st = NULL;
	struct dew_error *err = NULL;

	if (!tap_is_int(dewrt_spec_parse(spec_json, strlen(spec_json), &spec, &err), 0,
			"a spec to apply to") ||
	    !tap_is_int(dew_stack_load(STACKS, "good", false, &st, &err), 0, "the good stack")) {
		tap_diag("%s", dew_error_msg(err));
		dew_error_free(err);
		dewrt_spec_free(spec);
		return;
	}
	dew_stack_apply(st, spec);
	tap_is_str(spec->rootfs, st->rootfs, "apply sets the rootfs");
	tap_ok(spec->rootfs != st->rootfs, "... as a copy");
	tap_is_int((long)spec->n_mounts, 3, "the stack's two mounts and the spec's one");
	tap_ok(strcmp(spec->mounts[0].target, "/usr") == 0 &&
		       strcmp(spec->mounts[1].target, "/usr/local/bin") == 0 && !spec->mounts[1].readonly,
	       "the stack's mounts come first, with their flags");
	tap_ok(spec->mounts[0].source != st->mounts[0].source, "... as copies");
	tap_is_str(spec->mounts[2].target, "/usr/local/data",
		   "the spec's own mount comes last, over the stack's");
	dew_stack_free(st);
	dewrt_spec_free(spec); /* under ASan: nothing shared, nothing leaked */

	struct dewrt_spec empty = { 0 };
	if (dew_stack_load(STACKS, "good", false, &st, &err) == 0) {
		dew_stack_apply(st, &empty);
		tap_ok(empty.n_mounts == 2 && empty.rootfs && strcmp(empty.rootfs, st->rootfs) == 0,
		       "apply fills an empty spec");
		for (size_t i = 0; i < empty.n_mounts; i++) {
			free(empty.mounts[i].source);
			free(empty.mounts[i].target);
		}
		free(empty.mounts);
		free(empty.rootfs);
		dew_stack_free(st);
	}
	dew_error_clear(&err);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	cleanup_free char *tmpl = xasprintf("%s/dew-test-stack.XXXXXX", base && *base ? base : "/tmp");
	cleanup_free char *cwd = getcwd(NULL, 0);

	if (!mkdtemp(tmpl) || chdir(tmpl) < 0) {
		tap_ok(false, "temporary directory %s: %s", tmpl, strerror(errno));
		return tap_done();
	}
	test_good();
	test_bad();
	test_probe(tmpl);
	test_apply();
	if (chdir(cwd) < 0 || nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		tap_diag("cannot remove %s", tmpl);
	return tap_done();
}
