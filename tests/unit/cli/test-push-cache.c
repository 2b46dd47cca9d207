// SPDX-License-Identifier: MIT
/*
 * Unit tests of cli/push-cache.c: hashes remembered by file identity and given back only while
 * the identity holds, files changed within the racy window not remembered, the list digest
 * naming a package, one cache per target, app and directory, and damaged caches read as empty.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "fs.h"
#include "push.h"
#include "tap.h"
#include "testutil.h"

static void put(const char *dir, const char *rel, const char *text)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		tap_ok(false, "write %s", rel);
}

/* Set rel's mtime a minute back. Its ctime stays now: the racy window sees ctime too. */
static void age(const char *dir, const char *rel)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, rel);
	struct timespec t[2] = { { time(NULL) - 60, 0 }, { time(NULL) - 60, 0 } };
	utimensat(AT_FDCWD, path, t, 0);
}

/* Walk and hash app as a push does, with c's hashes first; *filled gets how many it gave. */
static void scan(const char *app, struct push_cache *c, struct walk_list *l, uint64_t *filled)
{
	cleanup_error struct dew_error *err = NULL;
	if (walk_app(app, l, &err) < 0)
		tap_ok(false, "walk: %s", dew_error_msg(err));
	*filled = push_cache_fill(c, l);
	if (fingerprint_all(app, l, 1, NULL, NULL, &err) < 0)
		tap_ok(false, "hash: %s", dew_error_msg(err));
}

/* The cache file of c's key, found as the only one in home/cache. */
static char *cache_file(const char *home)
{
	cleanup_free char *cmd = xasprintf("ls -t %s/cache", home);
	FILE *p = popen(cmd, "r");
	char name[256] = "";
	if (!p || !fgets(name, sizeof name, p))
		name[0] = '\0';
	if (p)
		pclose(p);
	name[strcspn(name, "\n")] = '\0';
	return xasprintf("%s/cache/%s", home, name);
}

static void test_roundtrip(const char *root)
{
	cleanup_free char *app = xasprintf("%s/app", root), *home = xasprintf("%s/home", root);
	mkdir(app, 0755);
	put(app, "a.txt", "alpha\n");
	put(app, "b.txt", "beta\n");
	age(app, "a.txt");
	age(app, "b.txt");
	struct cli cli = { .home = home, .cfg = { .target = (char *)"http://cc.test" } };
	char digest[65], again[65];
	uint64_t filled;
	struct walk_list l;

	struct push_cache *c = push_cache_open(&cli, "web", app);
	scan(app, c, &l, &filled);
	tap_is_int((intmax_t)filled, 0, "a new cache gives no hash");
	push_cache_digest(&l, digest);
	tap_ok(push_cache_package(c, digest) == NULL, "a new cache names no package");
	cleanup_error struct dew_error *err = NULL;
	const char *pkg = "1111111111111111111111111111111111111111111111111111111111111111";
	tap_is_int(push_cache_save(c, &l, digest, pkg, &err), 0, "saved");
	push_cache_free(c);
	walk_list_free(&l);

	/* ctime is now: nothing was remembered but the package. */
	c = push_cache_open(&cli, "web", app);
	scan(app, c, &l, &filled);
	tap_is_int((intmax_t)filled, 0, "files whose ctime is within 2 s are hashed again");
	push_cache_digest(&l, again);
	tap_is_str(again, digest, "the same files give the same digest");
	tap_is_str(push_cache_package(c, again), pkg, "the digest names the package saved");
	push_cache_free(c);
	walk_list_free(&l);

	/* A cache saved 3 s after the last change remembers every file. */
	sleep(3);
	c = push_cache_open(&cli, "web", app);
	scan(app, c, &l, &filled);
	push_cache_save(c, &l, digest, pkg, &err);
	push_cache_free(c);
	walk_list_free(&l);
	c = push_cache_open(&cli, "web", app);
	scan(app, c, &l, &filled);
	tap_is_int((intmax_t)filled, 2, "both files' hashes come from the cache");
	push_cache_digest(&l, again);
	tap_is_str(again, digest, "and give the same digest as computed ones");
	push_cache_free(c);
	walk_list_free(&l);

	/* Another app name or target: another cache. */
	c = push_cache_open(&cli, "api", app);
	scan(app, c, &l, &filled);
	tap_is_int((intmax_t)filled, 0, "another app's cache is its own");
	push_cache_free(c);
	walk_list_free(&l);

	/* A changed file (same size, any time): its identity changed, it is hashed again. */
	put(app, "b.txt", "BETA\n");
	age(app, "b.txt");
	c = push_cache_open(&cli, "web", app);
	scan(app, c, &l, &filled);
	tap_is_int((intmax_t)filled, 1, "a file changed to the same size and an old mtime is hashed again");
	push_cache_digest(&l, again);
	tap_ok(strcmp(again, digest) != 0, "its new content changes the digest");
	tap_ok(push_cache_package(c, again) == NULL, "so no package is named");
	push_cache_free(c);
	walk_list_free(&l);

	cleanup_free char *file = cache_file(home);
	struct stat st;
	tap_ok(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600, "the cache file is 0600");
}

/* Write text as app web's cache, then read it: no hash, no package, no crash. */
static void check_damaged(const struct cli *cli, const char *app, const char *text, const char *what)
{
	struct push_cache *c = push_cache_open(cli, "web", app);
	cleanup_free char *file = cache_file(cli->home);
	push_cache_free(c);
	cleanup_error struct dew_error *err = NULL;
	dew_write_file_replace(file, text, strlen(text), 0600, &err);
	struct walk_list l;
	uint64_t filled;
	char digest[65];
	c = push_cache_open(cli, "web", app);
	scan(app, c, &l, &filled);
	push_cache_digest(&l, digest);
	tap_ok(filled == 0 && push_cache_package(c, digest) == NULL, "damaged cache reads as empty: %s",
	       what);
	push_cache_free(c);
	walk_list_free(&l);
}

static void test_damaged(const char *root)
{
	cleanup_free char *app = xasprintf("%s/app", root), *home = xasprintf("%s/home", root);
	struct cli cli = { .home = home, .cfg = { .target = (char *)"http://cc.test" } };
	const char *h = "2222222222222222222222222222222222222222222222222222222222222222";
	struct walk_list l;
	uint64_t filled;
	char digest[65];
	scan(app, NULL, &l, &filled);
	push_cache_digest(&l, digest);
	walk_list_free(&l);
	/* A valid "package" line for the current files, then a damaged file line: all or nothing. */
	cleanup_free char *head = xasprintf("dew-push-cache 1\nsaved 1\npackage %s %s\n", digest, h);
	const struct {
		const char *tail, *what;
	} tails[] = {
		{ "f 1 2 3 4 5 H 5 a.txt", "no newline at the end" },
		{ "f 1 2 3 4 5 H 99 a.txt\n", "a length past the end" },
		{ "f 1 2 3 4 5 H 0 \n", "an empty path" },
		{ "f 1 2 3 4 5 H 5 b.txt\nf 1 2 3 4 5 H 5 a.txt\n", "paths out of order" },
		{ "f 1 2 3 4 5 H 5 a.txt\nf 1 2 3 4 5 H 5 a.txt\n", "a path twice" },
		{ "f 1 2 3 4 99999999999999999999 H 5 a.txt\n", "a number out of range" },
		{ "f 1 2 3 4 5 2222 5 a.txt\n", "a short hash" },
		{ "f 1 2 3 4 5 H 5 a.txt\nx\n", "an unknown line" },
		{ "f -1 2 3 4 5 H 5 a.txt\n", "a negative number" },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(tails); i++) {
		struct dew_buf b = DEW_BUF_INIT;
		dew_buf_puts(&b, head);
		for (const char *t = tails[i].tail; *t; t++)
			*t == 'H' ? dew_buf_puts(&b, h) : dew_buf_putc(&b, *t);
		dew_buf_putc(&b, '\0');
		check_damaged(&cli, app, b.data, tails[i].what);
		dew_buf_close(&b);
	}
	const struct {
		const char *text, *what;
	} wholes[] = {
		{ "", "an empty file" },
		{ "dew-push-cache 2\nsaved 1\n", "another version" },
		{ "dew-push-cache 1\nsaved 1", "a cut header" },
		{ "dew-push-cache 1\nsaved -1\n", "a negative time" },
		{ "dew-push-cache 1\nsaved 1\npackage zz 11\n", "a malformed package line" },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(wholes); i++)
		check_damaged(&cli, app, wholes[i].text, wholes[i].what);
	/* A valid cache, for contrast: the package line alone is honoured. */
	cleanup_free char *valid = xasprintf("%s", head);
	struct push_cache *c = push_cache_open(&cli, "web", app);
	cleanup_free char *file = cache_file(home);
	push_cache_free(c);
	cleanup_error struct dew_error *err = NULL;
	dew_write_file_replace(file, valid, strlen(valid), 0600, &err);
	c = push_cache_open(&cli, "web", app);
	tap_is_str(push_cache_package(c, digest), h, "the same header without damage names the package");
	push_cache_free(c);
}

int main(void)
{
	const char *root = test_tmpdir("cli-push-cache");
	if (root) {
		test_roundtrip(root);
		test_damaged(root);
	}
	return tap_done();
}
