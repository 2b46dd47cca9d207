// SPDX-License-Identifier: MIT
/*
 * Unit tests of cli/walk.c and cli/fingerprint.c: what a push takes from an app directory
 * (sorted files and symlinks, the execute bit, .git and the push's own files skipped, the
 * ignore files honoured), what it refuses (links out, fifos), and the SHA-256 of every file
 * computed on several threads.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "tap.h"
#include "testutil.h"
#include "walk.h"

static void put(const char *dir, const char *rel, const char *text)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		tap_ok(false, "write %s", rel);
}

static void sub(const char *dir, const char *rel)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, rel);
	mkdir(path, 0755);
}

static void link_at(const char *dir, const char *target, const char *rel)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, rel);
	if (symlink(target, path) < 0)
		tap_ok(false, "symlink %s", rel);
}

/* The paths of l joined by spaces, with '@' after a link and '*' after an executable. */
static char *listing(const struct walk_list *l)
{
	char *s = xstrdup("");
	for (size_t i = 0; i < l->n; i++) {
		char *t = xasprintf("%s%s%s%s", s, i ? " " : "", l->v[i].path,
				    l->v[i].type == WALK_LINK ? "@"
				    : l->v[i].mode == 0755    ? "*"
							      : "");
		free(s);
		s = t;
	}
	return s;
}

static void test_walk(const char *root)
{
	sub(root, "app");
	cleanup_free char *app = xasprintf("%s/app", root);
	put(app, "index.html", "hello\n");
	put(app, "run.sh", "#!/bin/sh\n");
	cleanup_free char *run = xasprintf("%s/run.sh", app);
	chmod(run, 0755);
	sub(app, "lib");
	put(app, "lib/a.py", "a = 1\n");
	sub(app, "lib/sub");
	put(app, "lib/sub/b.py", "b = 2\n");
	link_at(app, "../index.html", "lib/home.html");
	sub(app, ".git");
	put(app, ".git/HEAD", "ref\n");
	put(app, "manifest.yml", "applications: []\n");
	put(app, ".cfignore", "*.log\n/tmp/\n");
	put(app, ".dewignore", "!keep.log\n");
	put(app, "debug.log", "noise\n");
	put(app, "keep.log", "kept\n");
	sub(app, "tmp");
	put(app, "tmp/x", "x\n");
	sub(app, "lib/tmp");
	put(app, "lib/tmp/y", "y\n");

	struct walk_list l;
	struct dew_error *err = NULL;
	if (!tap_is_int(walk_app(app, &l, &err), 0, "the app is walked"))
		tap_diag("%s", dew_error_msg(err));
	cleanup_free char *got = listing(&l);
	tap_is_str(got, "index.html keep.log lib/a.py lib/home.html@ lib/sub/b.py lib/tmp/y run.sh*",
		   "files and links sorted; .git, manifest.yml, ignore files and ignored paths left out");
	tap_ok(l.files == 6 && l.links == 1 && l.bytes == 6 + 5 + 6 + 6 + 2 + 10, "counts and bytes");
	tap_is_str(l.v[3].target, "../index.html", "a link keeps its target");

	tap_is_int(fingerprint_all(app, &l, 3, NULL, NULL, &err), 0, "fingerprinted on 3 threads");
	char want[DEW_SHA256_HEX_LEN + 1];
	dew_sha256_hex("b = 2\n", 6, want);
	tap_is_str(l.v[4].sha256, want, "a file's SHA-256");
	bool all = true;
	for (size_t i = 0; i < l.n; i++)
		all &= l.v[i].type == WALK_LINK || strlen(l.v[i].sha256) == DEW_SHA256_HEX_LEN;
	tap_ok(all, "every file has a hash");
	walk_list_free(&l);
}

static void refused(const char *root, const char *name, const char *want, const char *what)
{
	cleanup_free char *app = xasprintf("%s/%s", root, name);
	struct walk_list l;
	struct dew_error *err = NULL;
	tap_ok(walk_app(app, &l, &err) < 0, "%s: refused", what);
	tap_has_str(dew_error_msg(err), want, "%s: the error names it", what);
	dew_error_free(err);
}

static void test_refusals(const char *root)
{
	sub(root, "out");
	put(root, "out/ok.txt", "ok\n");
	sub(root, "out/d");
	link_at(root, "../../secret", "out/d/up");
	refused(root, "out", "the symlink `d/up` points outside the app", "a link up and out");
	sub(root, "abs");
	link_at(root, "/etc/passwd", "abs/passwd");
	refused(root, "abs", "the symlink `passwd` points outside the app", "an absolute link");
	sub(root, "fifo");
	cleanup_free char *fifo = xasprintf("%s/fifo/pipe", root);
	mkfifo(fifo, 0644);
	refused(root, "fifo", "`pipe` is a fifo", "a fifo");
	refused(root, "missing", "open the app directory", "a missing directory");
}

int main(void)
{
	const char *root = test_tmpdir("cli-walk");
	if (root) {
		test_walk(root);
		test_refusals(root);
	}
	return tap_done();
}
