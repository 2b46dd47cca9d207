// SPDX-License-Identifier: MIT
/*
 * Unit tests of cli/ignore.c: the gitignore syntax of .dewignore and .cfignore (names at any
 * depth, anchors, `*`, `?`, `**`, classes, directory-only rules, negation, comments, escapes)
 * and reading rules from a file.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "ignore.h"
#include "tap.h"
#include "testutil.h"

/* Check path against rules: ignored or kept as want. */
static void check(const char *rules, const char *path, bool is_dir, bool want)
{
	struct ignore *ig = ignore_new();
	ignore_add_rules(ig, rules, strlen(rules));
	bool got = ignore_match(ig, path, is_dir);
	tap_ok(got == want, "rules %-24.*s %s%s: %s", (int)strcspn(rules, "\n"), rules, path,
	       is_dir ? "/" : "", want ? "ignored" : "kept");
	ignore_free(ig);
}

static void test_names(void)
{
	check("*.log", "debug.log", false, true);
	check("*.log", "a/b/debug.log", false, true);
	check("*.log", "debug.log.txt", false, false);
	check("debug.log", "logs/debug.log", false, true);
	check("secret", "secret", true, true);
	check("?.txt", "a.txt", false, true);
	check("?.txt", "ab.txt", false, false);
	check("[abc].txt", "b.txt", false, true);
	check("[!abc].txt", "b.txt", false, false);
	check("[a-c].txt", "c.txt", false, true);
	check("*", "anything/at/all", false, true);
}

static void test_anchors(void)
{
	check("/build", "build", true, true);
	check("/build", "src/build", true, false);
	check("doc/frotz", "doc/frotz", false, true);
	check("doc/frotz", "a/doc/frotz", false, false);
	check("doc/*.txt", "doc/a.txt", false, true);
	check("doc/*.txt", "doc/sub/a.txt", false, false);
}

static void test_double_star(void)
{
	check("**/foo", "foo", false, true);
	check("**/foo", "a/b/foo", false, true);
	check("foo/**", "foo/a/b", false, true);
	check("foo/**", "foo", true, false);
	check("a/**/b", "a/b", false, true);
	check("a/**/b", "a/x/y/b", false, true);
	check("a/**/b", "a/x/y/c", false, false);
}

static void test_dirs_negation_comments(void)
{
	check("tmp/", "tmp", true, true);
	check("tmp/", "tmp", false, false);
	check("tmp/", "a/tmp", true, true);
	check("*.log\n!keep.log", "keep.log", false, false);
	check("*.log\n!keep.log", "other.log", false, true);
	check("!keep.log\n*.log", "keep.log", false, true);
	check("# a comment\n\n   \n", "# a comment", false, false);
	check("\\#hash", "#hash", false, true);
	check("\\!bang", "!bang", false, true);
	check("trailing   ", "trailing", false, true);
	check("crlf\r\n", "crlf", false, true);
	check("a\\*b", "a*b", false, true);
	check("a\\*b", "axb", false, false);
}

static void test_file(void)
{
	const char *dir = test_tmpdir("cli-ignore");
	if (!dir)
		return;
	cleanup_free char *path = xasprintf("%s/.cfignore", dir);
	FILE *f = fopen(path, "w");
	fputs("node_modules/\n*.tmp\n", f);
	fclose(f);
	struct ignore *ig = ignore_new();
	struct dew_error *err = NULL;
	tap_is_int(ignore_add_file(ig, path, &err), 0, "a rules file is read");
	tap_ok(ignore_match(ig, "node_modules", true) && ignore_match(ig, "x/y.tmp", false) &&
		       !ignore_match(ig, "app.js", false),
	       "its rules apply");
	cleanup_free char *missing = xasprintf("%s/.dewignore", dir);
	tap_is_int(ignore_add_file(ig, missing, &err), 0, "a missing rules file adds nothing");
	tap_ok(!ignore_match(ig, "app.js", false), "and changes nothing");
	ignore_free(ig);
}

int main(void)
{
	test_names();
	test_anchors();
	test_double_star();
	test_dirs_negation_comments();
	test_file();
	return tap_done();
}
