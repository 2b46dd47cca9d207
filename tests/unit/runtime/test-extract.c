// SPDX-License-Identifier: MIT
/*
 * Unit tests of dewrt_extract(): a normal app in every format extracts byte-exact with setuid
 * bits stripped, and hostile archives built here with libarchive's writer (traversal, symlink
 * and hard-link tricks, devices, entry and compression bombs, truncation, garbage) are refused
 * with the entry named, the target left empty and a sentinel directory beside it untouched.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "dewrt.h"
#include "error.h"
#include "fs.h"
#include "tap.h"
#include "testarchive.h"
#include "testutil.h"

enum fmt { TAR, TAR_GZ, TAR_ZST, ZIP };
static const char *const fmt_names[] = { "tar", "tar.gz", "tar.zst", "zip" };

static const char *tmp; /* the private temporary directory */
static char *arcdir;	/* archives are built here */
static char *sentinel;	/* beside the target; must never change */
static char *out;	/* the extraction target */
static int n_refusals;

#define MTIME 1700000000

/* Open a writer for fmt on path; the caller adds entries. */
static struct archive *writer(const char *path, enum fmt f)
{
	static const struct {
		const char *name, *level;
	} filters[] = { [TAR] = { NULL, NULL },
			[TAR_GZ] = { "gzip", "9" },
			[TAR_ZST] = { "zstd", "1" },
			[ZIP] = { NULL, NULL } };
	struct archive *a = test_archive_writer(f == ZIP, filters[f].name);

	if (filters[f].level)
		archive_write_set_filter_option(a, filters[f].name, "compression-level", filters[f].level);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		tap_diag("open %s: %s", path, archive_error_string(a));
	return a;
}

/* Add a header with the fixed mtime (and size bytes of data from data, when not NULL) to a. */
static void add(struct archive *a, struct archive_entry *e, const struct test_ent *x, const char *data,
		size_t size)
{
	test_archive_add(a, e, x, MTIME, data, size);
}

/* Build archive arcdir/name from ents; returns its path (caller frees). */
static char *build(const char *name, enum fmt f, const struct test_ent *ents, size_t n)
{
	char *path = xasprintf("%s/%s", arcdir, name);
	struct archive *a = writer(path, f);
	struct archive_entry *e = archive_entry_new();

	for (size_t i = 0; i < n; i++)
		add(a, e, &ents[i], ents[i].data, test_ent_size(&ents[i]));
	archive_entry_free(e);
	if (archive_write_close(a) != ARCHIVE_OK)
		tap_diag("close %s: %s", path, archive_error_string(a));
	archive_write_free(a);
	return path;
}

/* Nothing beside the target changed: the sentinel keeps its one file, tmp gains nothing. */
static void check_sentinel(const char *what, bool target_exists)
{
	cleanup_free char *keep = xasprintf("%s/keep", sentinel);
	cleanup_free char *data = test_slurp(keep, NULL);

	tap_ok(test_count_entries(sentinel) == 1 && data && strcmp(data, "precious\n") == 0,
	       "%s: the sentinel directory is untouched", what);
	tap_is_int(test_count_entries(tmp), 2 + target_exists, "%s: nothing new beside the target", what);
}

/* check_sentinel, and the target is empty (or gone when the extraction created it). */
static void check_untouched(const char *what, bool precreated)
{
	struct stat st;

	check_sentinel(what, precreated);
	if (precreated)
		tap_is_int(test_count_entries(out), 0, "%s: the existing target is left empty", what);
	else
		tap_ok(lstat(out, &st) < 0 && errno == ENOENT, "%s: the target we created is removed", what);
}

/* Extract arc and expect a refusal whose message contains needle; then check the damage. */
static void refused(const char *what, const char *arc, const struct dewrt_extract_limits *lim,
		    const char *needle)
{
	struct dew_error *err = NULL;
	bool precreated = n_refusals++ % 2 == 1; /* both ways of meeting the target */

	if (precreated)
		mkdir(out, 0755);
	int r = dewrt_extract(arc, out, lim, &err);
	tap_ok(r < 0, "%s: refused (%d)", what, r);
	tap_has_str(dew_error_msg(err), needle, "%s: message names the entry", what);
	tap_diag("%s: %s", what, dew_error_msg(err));
	check_untouched(what, precreated);
	dew_error_free(err);
	test_remove_tree(out);
}

static void refuse_entries(const char *what, const struct test_ent *ents, size_t n, const char *needle)
{
	cleanup_free char *arc = build("hostile.tar", TAR, ents, n);

	refused(what, arc, NULL, needle);
	unlink(arc);
}

#define REFUSE(what, needle, ...)                                                                            \
	do {                                                                                                 \
		const struct test_ent ents_[] = { __VA_ARGS__ };                                             \
		refuse_entries(what, ents_, DEW_ARRAY_SIZE(ents_), needle);                                  \
	} while (0)

/* 300 KiB of deterministic noise, so compressed archives span many blocks. */
static char *noise(size_t n)
{
	char *s = xmalloc(n + 1);
	uint32_t v = 12345;

	for (size_t i = 0; i < n; i++) {
		v = v * 1103515245 + 12345;
		s[i] = (char)('a' + (v >> 16) % 26);
	}
	s[n] = '\0';
	return s;
}

static char *big_data;

static void check_file(const char *what, const char *rel, const char *want, mode_t mode)
{
	cleanup_free char *path = xasprintf("%s/%s", out, rel);
	cleanup_free char *got = test_slurp(path, NULL);
	struct stat st;

	tap_ok(got && strcmp(got, want) == 0, "%s: `%s` is byte-exact", what, rel);
	tap_ok(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode &&
		       st.st_mtime == MTIME,
	       "%s: `%s` has mode %04o and the archive's mtime", what, rel, mode);
}

static void check_mode(const char *what, const char *rel, mode_t type, mode_t mode)
{
	cleanup_free char *path = xasprintf("%s/%s", out, rel);
	struct stat st;

	tap_ok(lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == type && (st.st_mode & 07777) == mode,
	       "%s: `%s` has mode %04o", what, rel, mode);
}

static void check_link(const char *what, const char *rel, const char *want)
{
	cleanup_free char *path = xasprintf("%s/%s", out, rel);
	char buf[256];
	ssize_t n = readlink(path, buf, sizeof buf - 1);

	buf[n > 0 ? n : 0] = '\0';
	tap_is_str(buf, want, "%s: symlink `%s`", what, rel);
}

/* A normal app in format f: everything lands, setuid/setgid/sticky bits do not. */
static void test_normal(enum fmt f)
{
	const char *what = fmt_names[f];
	const struct test_ent ents[] = {
		{ .name = "./", .type = AE_IFDIR, .perm = 0700 },
		{ .name = "app/", .type = AE_IFDIR, .perm = 0755 },
		{ .name = "app/bin/", .type = AE_IFDIR, .perm = 0750 },
		{ .name = "app/bin/run", .perm = 0755, .data = "#!/bin/sh\necho hi\n" },
		{ .name = "app/data.txt", .perm = 0640, .data = big_data },
		{ .name = "app/current", .type = AE_IFLNK, .perm = 0777, .link = "bin/run" },
		{ .name = "app/bin/up", .type = AE_IFLNK, .perm = 0777, .link = "../data.txt" },
		{ .name = "app/suid", .perm = 04755, .data = "s\n" },
		{ .name = "app/shared/", .type = AE_IFDIR, .perm = 03777 },
		{ .name = "app/caf\xc3\xa9.txt", .data = "utf-8\n" },
		{ .name = "app/deep/a/b/file", .data = "deep\n" },
		{ .name = "app/empty", .perm = 0600, .data = "" },
		{ .name = "app/dup", .data = "first\n" },
		{ .name = "app/dup", .data = "second\n" },
		/* zip has no hard links: the last entry is left out there */
		{ .name = "app/hard", .hard = "app/data.txt" },
	};
	cleanup_free char *name = xasprintf("app.%s", what);
	cleanup_free char *arc = build(name, f, ents, DEW_ARRAY_SIZE(ents) - (f == ZIP));
	struct dew_error *err = NULL;
	struct stat a, b;

	int r = dewrt_extract(arc, out, NULL, &err);
	if (!tap_is_int(r, 0, "%s: normal app extracts", what))
		tap_diag("%s", dew_error_msg(err));
	dew_error_free(err);
	check_mode(what, ".", S_IFDIR, 0755);
	check_mode(what, "app/bin", S_IFDIR, 0750);
	check_file(what, "app/bin/run", "#!/bin/sh\necho hi\n", 0755);
	check_file(what, "app/data.txt", big_data, 0640);
	check_link(what, "app/current", "bin/run");
	check_link(what, "app/bin/up", "../data.txt");
	check_file(what, "app/suid", "s\n", 0755);
	check_mode(what, "app/shared", S_IFDIR, 0777);
	check_file(what, "app/caf\xc3\xa9.txt", "utf-8\n", 0644);
	check_file(what, "app/deep/a/b/file", "deep\n", 0644);
	check_mode(what, "app/deep/a", S_IFDIR, 0755);
	check_file(what, "app/empty", "", 0600);
	check_file(what, "app/dup", "second\n", 0644);
	if (f != ZIP) {
		cleanup_free char *pa = xasprintf("%s/app/hard", out);
		cleanup_free char *pb = xasprintf("%s/app/data.txt", out);
		tap_ok(lstat(pa, &a) == 0 && lstat(pb, &b) == 0 && a.st_ino == b.st_ino && a.st_nlink == 2,
		       "%s: hard link shares the inode", what);
	}
	check_sentinel(what, true);
	test_remove_tree(out);
	unlink(arc);
}

/* Path traversal, absolute names and odd names. */
static void test_names(void)
{
	char longname[PATH_MAX + 16];
	char deep[1024] = "";

	REFUSE("dotdot", "entry `../x`: path escapes the target directory", { .name = "../x", .data = "x" });
	REFUSE("inner dotdot", "entry `a/../../x`", { .name = "a/", .type = AE_IFDIR },
	       { .name = "a/../../x", .data = "x" });
	REFUSE("absolute", "entry `/tmp/x`: absolute path", { .name = "ok", .data = "ok" },
	       { .name = "/tmp/x", .data = "x" });
	REFUSE("sentinel path", "path escapes", { .name = "../sentinel/keep", .data = "pwned\n" });
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	for (size_t i = 254; i < sizeof longname - 1; i += 255)
		longname[i] = '/'; /* components within NAME_MAX */
	REFUSE("over PATH_MAX", "longer than PATH_MAX", { .name = longname, .data = "x" });
	for (int i = 0; i < 300; i++)
		strcat(deep, "d/");
	strcat(deep, "f");
	REFUSE("too deep", "nested too deep", { .name = deep, .data = "x" });
	REFUSE("empty name", "entry ``: empty name", { .name = "", .data = "x" });
	REFUSE("name that is only dots", "entry `./.`: empty name", { .name = "./.", .data = "x" });
	const struct test_ent zipx[] = { { .name = "../zipx", .data = "x" } };
	cleanup_free char *zip = build("hostile.zip", ZIP, zipx, 1);
	refused("zip dotdot", zip, NULL, "entry `../zipx`: path escapes the target directory");
	unlink(zip);
	REFUSE("control characters", "entry `evil\\x0aname/../../x`: path escapes",
	       { .name = "evil\nname/../../x", .data = "x" });
}

/* Symlinks: never followed while extracting, and never pointing out of the tree. */
static void test_symlinks(void)
{
	cleanup_free char *abs = xasprintf("%s", sentinel);

	REFUSE("symlink to outside then write", "entry `link`: symlink target is absolute",
	       { .name = "link", .type = AE_IFLNK, .link = abs },
	       { .name = "link/pwned", .data = "pwned\n" });
	REFUSE("symlink to .. then write", "entry `link`: symlink target escapes",
	       { .name = "link", .type = AE_IFLNK, .link = ".." }, { .name = "link/x", .data = "x" });
	/* Links that are allowed to exist are still never written through. */
	REFUSE("write through an inner symlink",
	       "entry `a/link/x`: `a/link` is a symlink; refusing to write through it",
	       { .name = "a/link", .type = AE_IFLNK, .link = ".." }, { .name = "a/link/x", .data = "x" });
	REFUSE("write through a symlinked dir", "entry `s/pwned`: `s` is a symlink",
	       { .name = "d/", .type = AE_IFDIR }, { .name = "s", .type = AE_IFLNK, .link = "d" },
	       { .name = "s/pwned", .data = "x" });
	REFUSE("file over a symlink", "entry `l`: name is an existing symlink", { .name = "f", .data = "f" },
	       { .name = "l", .type = AE_IFLNK, .link = "f" }, { .name = "l", .data = "x" });
	REFUSE("file over a dangling symlink", "entry `l`: name is an existing symlink",
	       { .name = "l", .type = AE_IFLNK, .link = "nothere" }, { .name = "l", .data = "x" });
	REFUSE("dir over a symlink", "entry `l/`: `l` is a symlink", { .name = "d/", .type = AE_IFDIR },
	       { .name = "l", .type = AE_IFLNK, .link = "d" }, { .name = "l/", .type = AE_IFDIR });
	REFUSE("dotdot after a name", "entry `m`: symlink target has `..` after a name",
	       { .name = "d/l", .type = AE_IFLNK, .link = ".." },
	       { .name = "m", .type = AE_IFLNK, .link = "d/l/.." });
	/* Refused only while writing, after real files exist: the rollback must remove them all. */
	REFUSE("rollback of written files", "entry `a/link/x`: `a/link` is a symlink",
	       { .name = "app/data", .data = big_data }, { .name = "app/x/y/z/w", .data = "w" },
	       { .name = "app/ro/", .type = AE_IFDIR, .perm = 0500 },
	       { .name = "app/ro/f", .perm = 0, .data = "f" },
	       { .name = "a/link", .type = AE_IFLNK, .link = ".." }, { .name = "a/link/x", .data = "x" });
	REFUSE("deep escape", "entry `a/b/l`: symlink target escapes",
	       { .name = "a/b/l", .type = AE_IFLNK, .link = "../../../sentinel" });
}

/* Hard links only to files of this archive that already exist. */
static void test_hardlinks(void)
{
	REFUSE("hard link to /etc/passwd", "entry `pw`: hard link target `/etc/passwd`: absolute path",
	       { .name = "pw", .hard = "/etc/passwd" });
	REFUSE("hard link to ../outside", "entry `h`: hard link target `../outside`: path escapes",
	       { .name = "h", .hard = "../outside" });
	REFUSE("hard link to a later entry", "entry `h`: hard link target `later`: not extracted yet",
	       { .name = "h", .hard = "later" }, { .name = "later", .data = "x" });
	REFUSE("hard link through a symlink", "entry `h`: hard link target `s/f`: `s` is a symlink",
	       { .name = "d/f", .data = "f" }, { .name = "s", .type = AE_IFLNK, .link = "d" },
	       { .name = "h", .hard = "s/f" });
	REFUSE("hard link to a symlink", "entry `h`: hard link target `s`: not a regular file",
	       { .name = "s", .type = AE_IFLNK, .link = "x" }, { .name = "h", .hard = "s" });
}

static unsigned char *put16(unsigned char *p, unsigned v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	return p + 2;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	return put16(put16(p, v & 0xffff), v >> 16);
}

/* A stored zip of one empty entry `sock` whose Unix mode (external attributes) is a socket. */
static void write_socket_zip(const char *path)
{
	unsigned char buf[256], *p = buf;

	p = put32(p, 0x04034b50); /* local file header */
	p = put16(put16(put16(put16(put16(p, 10), 0), 0), 0), 0x21);
	p = put32(put32(put32(p, 0), 0), 0);
	p = put16(put16(p, 4), 0);
	memcpy(p, "sock", 4);
	p += 4;
	uint32_t cd = (uint32_t)(p - buf);
	p = put32(p, 0x02014b50); /* central directory: made by Unix (3), version 2.0 */
	p = put16(put16(put16(put16(put16(put16(p, 3 << 8 | 20), 10), 0), 0), 0), 0x21);
	p = put32(put32(put32(p, 0), 0), 0);
	p = put16(put16(put16(put16(put16(p, 4), 0), 0), 0), 0);
	p = put32(put32(p, (uint32_t)(S_IFSOCK | 0644) << 16), 0);
	memcpy(p, "sock", 4);
	p += 4;
	uint32_t cd_size = (uint32_t)(p - buf) - cd;
	p = put32(p, 0x06054b50); /* end of central directory */
	p = put16(put16(put16(put16(p, 0), 0), 1), 1);
	p = put32(put32(p, cd_size), cd);
	p = put16(p, 0);
	dew_write_file_atomic(path, buf, (size_t)(p - buf), 0644, NULL);
}

/* Device nodes, fifos and sockets. */
static void test_special(void)
{
	REFUSE("char device", "entry `dev/mem`: character device not allowed",
	       { .name = "dev/mem", .type = AE_IFCHR, .rdev = makedev(1, 1) });
	REFUSE("block device", "entry `sda`: block device not allowed",
	       { .name = "sda", .type = AE_IFBLK, .rdev = makedev(8, 0) });
	REFUSE("fifo", "entry `fifo`: fifo not allowed", { .name = "ok", .data = "x" },
	       { .name = "fifo", .type = AE_IFIFO });

	/* tar cannot carry a socket and libarchive will not write one to a zip: craft the zip. */
	cleanup_free char *arc = xasprintf("%s/sock.zip", arcdir);
	write_socket_zip(arc);
	refused("socket", arc, NULL, "entry `sock`: socket not allowed");
	unlink(arc);
}

/* 1,000,001 empty entries stop at the entry limit, quickly. */
static void test_entry_bomb(void)
{
	cleanup_free char *arc = xasprintf("%s/entries.tar.zst", arcdir);
	double t0 = test_now();
	struct archive *a = writer(arc, TAR_ZST);
	struct archive_entry *e = archive_entry_new();
	char name[32];

	for (int i = 0; i < 1000001; i++) {
		snprintf(name, sizeof name, "e%07d", i);
		add(a, e, &(struct test_ent){ .name = name }, NULL, 0);
	}
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	tap_diag("built 1,000,001 entries in %.2fs", test_now() - t0);

	t0 = test_now();
	refused("1M entries", arc, NULL, "entry `e0100000`: more than 100000 entries");
	double dt = test_now() - t0;
	tap_diag("1M entries refused in %.2fs", dt);
	tap_ok(dt < 5, "1M entries: refused in %.2fs (under 5s)", dt);

	const struct dewrt_extract_limits lim = { .max_entries = 10 };
	refused("custom entry limit", arc, &lim, "entry `e0000010`: more than 10 entries");
	unlink(arc);
}

/*
 * 200 MB of zeros (about 1000:1) are stopped by the ratio check while streaming. RLIMIT_FSIZE
 * makes any write past 16 MiB fail, so a refusal for the ratio shows that little was written
 * (here nothing at all: the dry run refuses before the target exists).
 */
static void test_ratio_bomb(enum fmt f)
{
	cleanup_free char *arc = xasprintf("%s/bomb.%s", arcdir, fmt_names[f]);
	cleanup_free char *what = xasprintf("%s bomb", fmt_names[f]);
	static char zeros[1 << 20];
	struct archive *a = writer(arc, f);
	struct archive_entry *e = archive_entry_new();
	struct rlimit old, lim;
	struct dew_error *err = NULL;
	struct stat st;

	add(a, e, &(struct test_ent){ .name = "zeros" }, NULL, 200 << 20);
	for (int i = 0; i < 200; i++)
		archive_write_data(a, zeros, sizeof zeros);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	stat(arc, &st);
	tap_diag("%s: %jd bytes", what, (intmax_t)st.st_size);

	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	uint64_t cap = 16 << 20;
	lim.rlim_cur = cap;
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &lim);
	double t0 = test_now();
	int r = dewrt_extract(arc, out, NULL, &err);
	double dt = test_now() - t0;
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);

	tap_ok(r < 0, "%s: refused", what);
	tap_has_str(dew_error_msg(err), "entry `zeros`: compression ratio over 200:1",
		    "%s: by the ratio check", what);
	const char *p = err ? strstr(err->msg, ":1 (") : NULL;
	uint64_t written = p ? strtoull(p + 4, NULL, 10) : UINT64_MAX;
	tap_ok(written < cap, "%s: stopped after %" PRIu64 " bytes (cap %" PRIu64 ")", what, written, cap);
	tap_diag("%s: %s (%.2fs)", what, dew_error_msg(err), dt);
	check_untouched(what, false);
	dew_error_free(err);
	unlink(arc);
}

/* Size budget: a declared size over what remains is refused before a byte is written. */
static void test_size_limit(void)
{
	const struct test_ent ents[] = { { .name = "small", .data = "0123456789" },
					 { .name = "big", .data = big_data } };
	cleanup_free char *arc = build("size.tar", TAR, ents, 2);
	const struct dewrt_extract_limits lim = { .max_bytes = 1000 };

	refused("size budget", arc, &lim,
		"entry `big`: 307200 bytes do not fit in the remaining 990 of 1000");
	unlink(arc);
}

/* Truncated and garbage archives, a non-empty target and a symlink as the target. */
static void test_broken(void)
{
	const struct test_ent ents[] = { { .name = "a", .data = "a" }, { .name = "big", .data = big_data } };
	cleanup_free char *arc = build("trunc.tar.gz", TAR_GZ, ents, 2);
	struct stat st;

	stat(arc, &st);
	truncate(arc, st.st_size / 2);
	refused("truncated tar.gz", arc, NULL, "entry `big`: read data");
	unlink(arc);
	free(arc);
	arc = build("trunc.tar", TAR, ents, 2);
	truncate(arc, 2048);
	refused("truncated tar", arc, NULL, "entry `big`");
	unlink(arc);
	free(arc);

	arc = xasprintf("%s/garbage", arcdir);
	cleanup_free char *junk = noise(4096);
	dew_write_file_atomic(arc, junk, 4096, 0644, NULL);
	refused("garbage", arc, NULL, "read archive");
	unlink(arc);

	const struct test_ent one[] = { { .name = "x", .data = "x" } };
	cleanup_free char *ok = build("one.tar", TAR, one, 1);
	cleanup_free char *mine = xasprintf("%s/mine", out);
	struct dew_error *err = NULL;
	mkdir(out, 0755);
	dew_write_file_atomic(mine, "mine\n", 5, 0644, NULL);
	tap_ok(dewrt_extract(ok, out, NULL, &err) == -ENOTEMPTY, "non-empty target: refused");
	tap_has_str(dew_error_msg(err), "Directory not empty", "non-empty target: message says why");
	cleanup_free char *data = test_slurp(mine, NULL);
	tap_ok(test_count_entries(out) == 1 && data && strcmp(data, "mine\n") == 0,
	       "non-empty target: left alone");
	dew_error_clear(&err);
	test_remove_tree(out);

	symlink(sentinel, out);
	tap_ok(dewrt_extract(ok, out, NULL, &err) < 0, "symlink as the target: refused");
	tap_diag("%s", dew_error_msg(err));
	dew_error_clear(&err);
	unlink(out);
	check_untouched("symlink as the target", false);
	unlink(ok);
}

int main(void)
{
	tmp = test_tmpdir("extract");
	if (!tmp)
		return tap_done();
	arcdir = xasprintf("%s/arc", tmp);
	sentinel = xasprintf("%s/sentinel", tmp);
	out = xasprintf("%s/out", tmp);
	cleanup_free char *keep = xasprintf("%s/keep", sentinel);
	mkdir(arcdir, 0755);
	mkdir(sentinel, 0755);
	dew_write_file_atomic(keep, "precious\n", 9, 0644, NULL);
	big_data = noise(300 * 1024);

	for (enum fmt f = TAR; f <= ZIP; f++) {
		if (f % 2 == 1)
			mkdir(out, 0755); /* an existing empty target, and one extract creates */
		test_normal(f);
	}
	test_names();
	test_symlinks();
	test_hardlinks();
	test_special();
	test_size_limit();
	test_broken();
	test_ratio_bomb(TAR_GZ);
	test_ratio_bomb(ZIP);
	test_entry_bomb();

	free(big_data);
	free(arcdir);
	free(sentinel);
	free(out);
	return tap_done();
}
