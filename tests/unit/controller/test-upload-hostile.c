// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/upload.h, the uploads that must be refused: hostile entries and
 * archives (built here with libarchive's writer) refused with the right errno and the entry
 * named, leaving no package, nothing in tmp/ and nothing new in the pool; resources that lie;
 * and pool poisoning attempts.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "alloc.h"
#include "blobs.h"
#include "buf.h"
#include "error.h"
#include "fs.h"
#include "json.h"
#include "package.h"
#include "sha256.h"
#include "tap.h"
#include "testutil.h"
#include "upload-harness.h"
#include "upload.h"

static void test_hostile_entries(void)
{
	REFUSE("zip slip", ZIP, EINVAL, "entry `../x`", { .name = "ok.txt", .data = "fine" },
	       { .name = "../x", .data = "escaped" });
	REFUSE("zip slip inside a path (tar)", TAR, EINVAL, "entry `a/../../x`",
	       { .name = "a/../../x", .data = "e" });
	REFUSE("absolute path", TAR, EINVAL, "entry `/etc/evil`", { .name = "/etc/evil", .data = "root" });
	REFUSE("absolute path (zip)", ZIP, EINVAL, "entry `/tmp/evil`",
	       { .name = "/tmp/evil", .data = "root" });
	REFUSE("symlink to /etc/passwd", TAR, EINVAL, "entry `passwd`",
	       { .name = "passwd", .type = AE_IFLNK, .link = "/etc/passwd" });
	REFUSE("symlink to /etc/passwd (zip)", ZIP, EINVAL, "/etc/passwd",
	       { .name = "pw", .type = AE_IFLNK, .perm = 0777, .link = "/etc/passwd" });
	REFUSE("symlink to ../../x", TAR, EINVAL, "entry `a/l`", { .name = "a/", .type = AE_IFDIR },
	       { .name = "a/l", .type = AE_IFLNK, .link = "../../x" });
	REFUSE("symlink climbing after a name", TAR, EINVAL, "entry `l`",
	       { .name = "l", .type = AE_IFLNK, .link = "d/../../x" });
	REFUSE("hard link", TAR, EINVAL, "entry `h`", { .name = "f", .data = "data" },
	       { .name = "h", .hard = "f" });
	REFUSE("character device", TAR, EINVAL, "entry `dev/null`: character device",
	       { .name = "dev/null", .type = AE_IFCHR, .perm = 0666, .rdev = makedev(1, 3) });
	REFUSE("block device", TAR, EINVAL, "entry `sda`: block device",
	       { .name = "sda", .type = AE_IFBLK, .perm = 0660, .rdev = makedev(8, 0) });
	REFUSE("fifo", TAR, EINVAL, "entry `pipe`: fifo", { .name = "pipe", .type = AE_IFIFO, .perm = 0644 });
	REFUSE("duplicate path", TAR, EINVAL, "entry `a.txt`: duplicate", { .name = "a.txt", .data = "one" },
	       { .name = "./a.txt", .data = "two" });
	REFUSE("file below a file", TAR, EINVAL, "entry `f/g`", { .name = "f", .data = "x" },
	       { .name = "f/g", .data = "y" });
	REFUSE("file written through a symlink", TAR, EINVAL, "entry `l/x` is below `l`, which is a symlink",
	       { .name = "d/", .type = AE_IFDIR }, { .name = "l", .type = AE_IFLNK, .link = "d" },
	       { .name = "l/x", .data = "through" });
	REFUSE("a directory and a file of the same path", TAR, EINVAL, "`d`",
	       { .name = "d/", .type = AE_IFDIR }, { .name = "d", .data = "x" });
	REFUSE("empty name", TAR, EINVAL, "empty path", { .name = ".", .data = "x" });

	const struct upload_limits few = { .max_files = 3 };
	const struct test_ent five[] = { { .name = "1", .data = "1" },
					 { .name = "2", .data = "2" },
					 { .name = "3", .data = "3" },
					 { .name = "4", .data = "4" },
					 { .name = "5", .data = "5" } };
	refuse_ents("too many files", TAR, five, 5, NULL, &few, EFBIG, "entry `4`: more than 3 files");
	cleanup_free char *res3 = resources_for(five, (size_t[]){ 0, 1 }, 2);
	refuse_ents("too many files, counting matched ones", TAR, five + 2, 2, res3, &few, EFBIG,
		    "entry `4`");

	cleanup_free char *kb2 = xmalloc(2001);
	memset(kb2, 'a', 2000);
	kb2[2000] = '\0';
	const struct upload_limits small = { .max_file = 1000, .max_total = 1500 };
	const struct test_ent over_file[] = { { .name = "ok", .data = "small" },
					      { .name = "huge.bin", .data = kb2 } };
	refuse_ents("a file over max_file", TAR_GZ, over_file, 2, NULL, &small, EFBIG, "entry `huge.bin`");
	const struct test_ent over_total[] = { { .name = "a", .data = kb2 + 1200 },
					       { .name = "b", .data = kb2 + 1200 },
					       { .name = "c", .data = kb2 + 1200 } };
	refuse_ents("the app over max_total", TAR_GZ, over_total, 3, NULL, &small, EFBIG, "entry `b`");
	const struct upload_limits tiny = { .max_total = 4096 };
	refuse_ents("the archive itself over max_total", TAR, app, app_n, NULL, &tiny, EFBIG,
		    "part `application`");
}

static void test_hostile_archives(void)
{
	cleanup_buf struct dew_buf arc = build(TAR, app, app_n);
	cleanup_buf struct dew_buf gz = build(TAR_GZ, app, app_n);
	struct dew_buf cut = DEW_BUF_INIT;

	/* Cut inside lib/big.bin's data. */
	const char *at = memmem(arc.data, arc.len, big, 64);
	dew_buf_append(&cut, arc.data, at ? (size_t)(at - arc.data) + 1000 : arc.len / 2);
	cleanup_buf struct dew_buf b1 = app_body(NULL, &cut);
	refused("truncated tar", &b1, NULL, EINVAL, "lib/big.bin");
	dew_buf_reset(&cut);
	dew_buf_append(&cut, gz.data, gz.len * 2 / 3);
	cleanup_buf struct dew_buf b2 = app_body(NULL, &cut);
	refused("truncated tar.gz", &b2, NULL, EINVAL, "entry `");
	dew_buf_reset(&cut);
	for (int i = 0; i < 200; i++)
		dew_buf_puts(&cut, "this is not an archive at all, just text\n");
	cleanup_buf struct dew_buf b3 = app_body(NULL, &cut);
	refused("not an archive", &b3, NULL, EINVAL, "read archive");
	dew_buf_close(&cut);

	/* resources that lie. */
	cleanup_free char *h_none = hex_of("content nobody uploaded");
	cleanup_free char *unknown =
		xasprintf("[{\"fn\":\"secret.key\",\"sha256\":\"%s\",\"size\":23,\"mode\":384}]", h_none);
	refuse_ents("resources claiming an unknown hash", TAR, app, app_n, unknown, NULL, ENOENT,
		    "resource `secret.key`");
	cleanup_free char *h_app = hex_of(app[1].data);
	cleanup_free char *wrong = xasprintf("[{\"fn\":\"sized\",\"sha256\":\"%s\",\"size\":99999}]", h_app);
	refuse_ents("resources with a wrong size", TAR, app, app_n, wrong, NULL, ENOENT, "resource `sized`");
	cleanup_free char *bad_fn =
		xasprintf("[{\"fn\":\"../../etc/cron.d/x\",\"sha256\":\"%s\",\"size\":%zu}]", h_app,
			  strlen(app[1].data));
	refuse_ents("resources with a bad fn", TAR, app, app_n, bad_fn, NULL, EINVAL,
		    "resource `../../etc/cron.d/x`");
	cleanup_free char *abs_fn =
		xasprintf("[{\"fn\":\"/abs\",\"sha256\":\"%s\",\"size\":%zu}]", h_app, strlen(app[1].data));
	refuse_ents("resources with an absolute fn", TAR, app, app_n, abs_fn, NULL, EINVAL,
		    "resource `/abs`");
	cleanup_free char *both = resources_for(app, (size_t[]){ 1 }, 1);
	refuse_ents("a path both matched and uploaded", TAR, app, app_n, both, NULL, EINVAL,
		    "resource `app.py` is both");
	cleanup_free char *dup = resources_for(app, (size_t[]){ 3, 3 }, 2);
	cleanup_buf struct dew_buf db = app_body(dup, NULL);
	refused("a resource listed twice", &db, NULL, EINVAL, "resource `bin/run`: duplicate");
}

/* Neither a claimed hash nor a chosen file name can put wrong content under a hash. */
static void test_poisoning(void)
{
	const char *genuine = "the genuine library code\n";
	cleanup_free char *h = hex_of(genuine);
	const struct test_ent victim[] = { { .name = "lib.js", .data = genuine } };
	struct result r = upload_ents(TAR, victim, 1, NULL, NULL);
	tap_is_int(r.rc, 0, "the victim's app is uploaded");
	result_free(&r);

	/* The attacker names files after the victim's hash and pool path, with other content. */
	cleanup_free char *pool_name = xasprintf("pool/%.2s/%.2s/%s", h, h + 2, h);
	const struct test_ent attack[] = { { .name = h, .data = "evil" },
					   { .name = pool_name, .data = "evil too" } };
	r = upload_ents(TAR, attack, 2, NULL, NULL);
	tap_is_int(r.rc, 0, "files named like a pool blob upload fine (names are not hashes)");
	result_free(&r);
	cleanup_free char *path = blobs_path(blobs, BLOB_POOL, h);
	cleanup_free char *got = NULL;
	dew_read_file(path, 4096, &got, NULL, NULL);
	tap_is_str(got, genuine, "the victim's blob still holds the genuine content");
	cleanup_free char *h_evil = hex_of("evil");
	tap_ok(blobs_has(blobs, BLOB_POOL, h_evil, 4), "the attacker's content is pooled under its own hash");

	/* Claiming the victim's hash with another size, or a hash of content never uploaded. */
	cleanup_free char *claim = xasprintf("[{\"fn\":\"lib.js\",\"sha256\":\"%s\",\"size\":4}]", h);
	cleanup_buf struct dew_buf b = app_body(claim, NULL);
	refused("claiming a pooled hash with another size", &b, NULL, ENOENT, "resource `lib.js`");
	cleanup_free char *h_evil2 = hex_of("evil, never uploaded");
	cleanup_free char *claim2 = xasprintf("[{\"fn\":\"lib.js\",\"sha256\":\"%s\",\"size\":20}]", h_evil2);
	cleanup_buf struct dew_buf b2 = app_body(claim2, NULL);
	refused("claiming a hash the pool lacks", &b2, NULL, ENOENT, "resource `lib.js`");
	tap_ok(!blobs_has(blobs, BLOB_POOL, h_evil2, UINT64_MAX), "and the pool still lacks it");
}

/* Files read before a refused entry never reach the pool: a batch commits only whole uploads. */
static void test_refused_leaves_pool(void)
{
	int pool0 = count_pool();

	REFUSE("zip slip after two new files", TAR, EINVAL, "entry `../late`",
	       { .name = "new-1.txt", .data = "never pooled 1" },
	       { .name = "new-2.txt", .data = "never pooled 2" }, { .name = "../late", .data = "escaped" });
	tap_is_int(count_pool(), pool0, "nothing new in the pool");
	cleanup_free char *h = hex_of("never pooled 1");
	tap_ok(!blobs_has(blobs, BLOB_POOL, h, UINT64_MAX), "not even the files before the bad entry");
}

int main(void)
{
	if (!harness_setup("upload-hostile"))
		return tap_done();
	harness_first_upload();
	test_hostile_entries();
	test_hostile_archives();
	test_poisoning();
	test_refused_leaves_pool();
	return harness_done();
}
