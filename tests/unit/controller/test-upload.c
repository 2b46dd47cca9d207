// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/upload.h, the uploads that succeed: the multipart parser fed whole,
 * byte by byte and in random chunks; packages that are byte-identical for the same files however
 * they were uploaded (tar, tar.gz, zip, partly or wholly matched); names as bytes; only changed
 * files entering the pool; and the edges of a streamed tar (data after its end, a tar that looks
 * like a zip, resources after the archive, an upload dropped half way).
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

/* ---- uploads that succeed ---- */

/* The first upload of the app: everything new, the package holds exactly the app. */
static void test_first_upload(void)
{
	int pool0 = count_pool();
	struct result r = upload_ents(TAR, app, app_n, NULL, NULL);

	if (!tap_is_int(r.rc, 0, "first upload (tar, no resources part) succeeds"))
		tap_diag("%s", r.msg);
	tap_is_int((int)r.files, 6, "six files and links in the package");
	tap_ok(dew_sha256_is_hex(r.sha), "a package hash");
	tap_ok(blobs_has(blobs, BLOB_MANIFEST, r.sha, UINT64_MAX),
	       "the package is stored under it (a manifest)");
	tap_ok(!blobs_has(blobs, BLOB_PACKAGE, r.sha, UINT64_MAX), "and no tar of it until one is asked for");
	tap_is_int(count_pool() - pool0, 5, "five distinct contents entered the pool");
	for (size_t i = 0; i < app_n; i++) {
		if (app[i].type)
			continue;
		cleanup_free char *h = hex_of(app[i].data);
		tap_ok(blobs_has(blobs, BLOB_POOL, h, strlen(app[i].data)), "`%s` is pooled by its hash",
		       app[i].name);
	}
	app_sha = xstrdup(r.sha);
	app_listing = expected_listing(app, app_n);
	cleanup_free char *got = package_listing(r.sha);
	tap_is_str(got, app_listing,
		   "the package: sorted, 0644/0755, owner 0:0, mtime 0, no names, exact content");
	tap_is_int(count_in("tmp"), 0, "nothing left in tmp/");
	result_free(&r);
}

/* The same body fed whole, byte by byte and in random chunks gives the same package. */
static void test_chunking(void)
{
	cleanup_free char *res = resources_for(app, (size_t[]){ 1 }, 1);
	const struct test_ent rest[] = { app[0], app[2], app[3], app[4], app[5], app[6], app[7] };
	cleanup_buf struct dew_buf arc = build(TAR, rest, DEW_ARRAY_SIZE(rest));
	cleanup_buf struct dew_buf body = app_body(res, &arc);
	static const char *const names[] = { "whole", "byte by byte", "random chunks" };

	for (enum chunking c = WHOLE; c <= RANDOM; c++) {
		for (unsigned seed = 1; seed <= (c == RANDOM ? 4u : 1u); seed++) {
			struct result r = run(CT, body.data, body.len, c, seed * 7919, NULL);
			if (!tap_is_int(r.rc, 0, "fed %s (seed %u): succeeds", names[c], seed))
				tap_diag("%s", r.msg);
			tap_is_str(r.sha, app_sha, "fed %s (seed %u): the same package", names[c], seed);
			tap_is_int((int)r.files, 6, "fed %s (seed %u): six files", names[c], seed);
			result_free(&r);
		}
	}
	tap_is_int(count_in("tmp"), 0, "nothing left in tmp/");
}

/* Framing variants that must parse to the same app. */
static void test_framing_ok(void)
{
	cleanup_buf struct dew_buf arc = build(TAR_GZ, app, app_n);
	const char *qb = "a'b(c)+_,-./:=? d";
	cleanup_free char *qct = xasprintf("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"%s\"", qb);
	struct part p = { "application", arc.data, arc.len, "Content-Type: application/gzip\r\n" };
	cleanup_buf struct dew_buf quoted = body_of(qb, "This is the preamble.\r\n--not-the-boundary", &p, 1,
						    "epilogue junk --" BOUNDARY "--\r\n\x01\x02 and more");
	struct result r = run(qct, quoted.data, quoted.len, RANDOM, 99, NULL);

	if (!tap_is_int(r.rc, 0, "quoted boundary with specials, preamble, epilogue junk: succeeds"))
		tap_diag("%s", r.msg);
	tap_is_str(r.sha, app_sha, "the same package (gzip archive)");
	result_free(&r);
	r = run(qct, quoted.data, quoted.len, BYTES, 0, NULL);
	tap_is_str(r.sha, app_sha, "the same, fed byte by byte");
	result_free(&r);

	/* Lower-case header names, transport padding after the delimiters, unquoted name. */
	struct dew_buf b = DEW_BUF_INIT;
	dew_buf_printf(&b,
		       "--%s  \t\r\ncontent-disposition: FORM-DATA; NAME=application\r\nX-Other: 1\r\n\r\n",
		       BOUNDARY);
	dew_buf_append(&b, arc.data, arc.len);
	dew_buf_printf(&b, "\r\n--%s--", BOUNDARY);
	r = run(CT, b.data, b.len, WHOLE, 0, NULL);
	if (!tap_is_int(r.rc, 0, "case-insensitive headers, padding, no CRLF after the close delimiter"))
		tap_diag("%s", r.msg);
	tap_is_str(r.sha, app_sha, "the same package");
	result_free(&r);
	dew_buf_close(&b);
}

/* A refusal of the body itself (not of an entry). */
static void framing_refused(const char *what, const char *ct, const struct dew_buf *body, int code,
			    const char *needle)
{
	int pk = count_in("manifests");

	for (enum chunking c = WHOLE; c <= BYTES; c++) {
		struct result r = run(ct, body->data, body->len, c, 0, NULL);
		tap_is_int(r.rc, -code, "%s (%s): refused with %s", what, c == WHOLE ? "whole" : "bytes",
			   strerror(code));
		tap_has_str(r.msg, needle, "%s: the message says why", what);
		if (c == WHOLE)
			tap_diag("%s: %s", what, r.msg);
		result_free(&r);
	}
	tap_ok(count_in("manifests") == pk && count_in("tmp") == 0, "%s: no package, nothing in tmp/", what);
}

static void test_framing_bad(void)
{
	cleanup_buf struct dew_buf arc = build(TAR, app, app_n);
	cleanup_buf struct dew_buf good = app_body("[]", &arc);
	struct dew_error *err = NULL;
	struct upload *u = NULL;
	static const struct {
		const char *ct, *what;
	} cts[] = {
		{ NULL, "no Content-Type" },
		{ "multipart/form-data", "no boundary" },
		{ "multipart/form-data; boundary=", "empty boundary" },
		{ "multipart/form-data; boundary=\"unterminated", "unterminated quote" },
		{ "multipart/form-data; "
		  "boundary=12345678901234567890123456789012345678901234567890123456789012345678901",
		  "boundary of 71 characters" },
		{ "multipart/form-data; boundary=a@b", "boundary with a character RFC 2046 forbids" },
		{ "multipart/form-data; boundary=\"ends in space \"", "boundary ending in a space" },
		{ "multipart/mixed; boundary=abc", "multipart/mixed" },
		{ "application/json", "not multipart" },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(cts); i++) {
		int rc = upload_new(blobs, cts[i].ct, NULL, &u, &err);
		tap_ok(rc == -EBADMSG && err && err->code == EBADMSG, "upload_new refuses %s with EBADMSG",
		       cts[i].what);
		dew_error_clear(&err);
	}
	int rc = upload_new(blobs,
			    "multipart/form-data; "
			    "boundary=1234567890123456789012345678901234567890123456789012345678901234567890",
			    NULL, &u, &err);
	tap_is_int(rc, 0, "a boundary of exactly 70 characters is fine");
	upload_free(u);
	dew_error_clear(&err);

	struct dew_buf b = DEW_BUF_INIT;
	dew_buf_append(&b, good.data, good.len / 2);
	framing_refused("truncated body", CT, &b, EBADMSG, "close delimiter");
	dew_buf_reset(&b);
	dew_buf_append(&b, good.data, good.len - strlen("--" BOUNDARY "--\r\n"));
	framing_refused("body without its close delimiter", CT, &b, EBADMSG, "close delimiter");
	dew_buf_reset(&b);
	framing_refused("empty body", CT, &b, EBADMSG, "close delimiter");

	struct part unknown[] = { { "resources", "[]", 2, NULL }, { "evil\x01", "x", 1, NULL } };
	cleanup_buf struct dew_buf ub = body_of(BOUNDARY, NULL, unknown, 2, NULL);
	framing_refused("unknown part", CT, &ub, EBADMSG, "unknown part `evil\\x01`");
	struct part twice[] = { { "application", arc.data, arc.len, NULL },
				{ "application", arc.data, arc.len, NULL } };
	cleanup_buf struct dew_buf tb = body_of(BOUNDARY, NULL, twice, 2, NULL);
	framing_refused("second application part", CT, &tb, EBADMSG, "second part `application`");
	cleanup_buf struct dew_buf none = body_of(BOUNDARY, NULL, NULL, 0, NULL);
	framing_refused("neither part", CT, &none, EBADMSG, "neither");

	dew_buf_reset(&b);
	dew_buf_printf(&b, "--%s\r\nContent-Type: text/plain\r\n\r\nx\r\n--%s--\r\n", BOUNDARY, BOUNDARY);
	framing_refused("part without Content-Disposition", CT, &b, EBADMSG, "Content-Disposition");
	dew_buf_reset(&b);
	dew_buf_printf(&b,
		       "--%s\r\nContent-Disposition: attachment; name=\"resources\"\r\n\r\n[]\r\n--%s--\r\n",
		       BOUNDARY, BOUNDARY);
	framing_refused("Content-Disposition not form-data", CT, &b, EBADMSG, "form-data");
	dew_buf_reset(&b);
	dew_buf_printf(
		&b, "--%sXYZ\r\nContent-Disposition: form-data; name=\"resources\"\r\n\r\n[]\r\n--%s--\r\n",
		BOUNDARY, BOUNDARY);
	framing_refused("garbage after a delimiter", CT, &b, EBADMSG, "garbage");
	dew_buf_reset(&b);
	dew_buf_printf(&b, "--%s\r\nContent-Disposition: form-data; name=\"resources\"\r\nX-Pad: ", BOUNDARY);
	for (int i = 0; i < 9000; i++)
		dew_buf_putc(&b, 'p');
	dew_buf_printf(&b, "\r\n\r\n[]\r\n--%s--\r\n", BOUNDARY);
	framing_refused("part headers over 8 KiB", CT, &b, EBADMSG, "8192");
	dew_buf_reset(&b);
	dew_buf_printf(&b, "--%s\r\nno colon here\r\n\r\n[]\r\n--%s--\r\n", BOUNDARY, BOUNDARY);
	framing_refused("a header line without a colon", CT, &b, EBADMSG, "header");

	cleanup_buf struct dew_buf bad_json = app_body("[{\"fn\": ", NULL);
	framing_refused("resources not JSON", CT, &bad_json, EBADMSG, "resources");
	cleanup_buf struct dew_buf obj_json = app_body("{\"fn\": \"x\"}", NULL);
	framing_refused("resources not an array", CT, &obj_json, EBADMSG, "array");
	cleanup_buf struct dew_buf bad_entry =
		app_body("[{\"fn\": \"x\", \"sha256\": \"zz\", \"size\": 1}]", NULL);
	framing_refused("resources entry with a bad sha256", CT, &bad_entry, EBADMSG, "`x`");
	dew_buf_close(&b);

	/* A dead upload stays dead. */
	u = NULL;
	rc = upload_new(blobs, CT, NULL, &u, &err);
	const char *junk = "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"nope\"\r\n\r\n";
	rc = upload_feed(u, junk, strlen(junk), &err);
	dew_error_clear(&err);
	rc = upload_feed(u, "more", 4, &err);
	tap_ok(rc < 0, "feeding a failed upload fails again");
	dew_error_clear(&err);
	char sha[65];
	uint64_t files;
	rc = upload_finish(u, sha, &files, &err);
	tap_ok(rc < 0, "finishing a failed upload fails");
	dew_error_clear(&err);
	upload_free(u);
}

/* The same files give the same package in every archive format and however many were matched. */
static void test_identical_packages(void)
{
	for (enum fmt f = TAR; f <= ZIP; f++) {
		struct result r = upload_ents(f, app, app_n, "[]", NULL);
		if (!tap_is_int(r.rc, 0, "%s upload succeeds", fmt_names[f]))
			tap_diag("%s", r.msg);
		tap_is_str(r.sha, app_sha, "%s: the same package", fmt_names[f]);
		result_free(&r);
	}
	/* Matched: app.py, bin/run, lib/big.bin; uploaded: the rest. */
	const size_t matched[] = { 1, 3, 5 };
	cleanup_free char *res = resources_for(app, matched, 3);
	struct test_ent rest[] = { app[0], app[2], app[4], app[6], app[7] };
	for (enum fmt f = TAR; f <= ZIP; f++) {
		int pool0 = count_pool();
		struct result r = upload_ents(f, rest, DEW_ARRAY_SIZE(rest), res, NULL);
		if (!tap_is_int(r.rc, 0, "%s: three matched, the rest uploaded: succeeds", fmt_names[f]))
			tap_diag("%s", r.msg);
		tap_is_str(r.sha, app_sha, "%s: byte-identical package", fmt_names[f]);
		tap_is_int((int)r.files, 6, "%s: six files", fmt_names[f]);
		tap_is_int(count_pool(), pool0, "%s: nothing new in the pool", fmt_names[f]);
		result_free(&r);
	}
	/* Everything matched: the app's files only as resources, the symlink not (links are not pooled). */
	const size_t all[] = { 1, 3, 4, 5, 7 };
	cleanup_free char *res_all = resources_for(app, all, 5);
	struct test_ent link_only[] = { app[6] };
	struct result r = upload_ents(ZIP, link_only, 1, res_all, NULL);
	tap_is_str(r.sha, app_sha, "all files matched, only the symlink uploaded: the same package");
	result_free(&r);

	/* Without the symlink, all matched: no application part at all. */
	cleanup_buf struct dew_buf body = app_body(res_all, NULL);
	r = run_body(&body, RANDOM, NULL);
	if (!tap_is_int(r.rc, 0, "resources only, no application part: succeeds"))
		tap_diag("%s", r.msg);
	tap_is_int((int)r.files, 5, "five files");
	struct test_ent no_link[] = { app[1], app[3], app[4], app[5], app[7] };
	cleanup_free char *want = expected_listing(no_link, 5);
	cleanup_free char *got = package_listing(r.sha);
	tap_is_str(got, want, "the package holds the matched files with their modes");
	result_free(&r);
}

/* Names are bytes: UTF-8, invalid UTF-8 and long names reach the package unchanged. */
static void test_names(void)
{
	char long_name[400];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	long_name[100] = long_name[250] = '/';
	const struct test_ent ents[] = {
		{ .name = "caf\xc3\xa9/men\xc3\xbc.txt", .data = "utf-8" },
		{ .name = "bin\xff\xfe.dat", .data = "latin-1" },
		{ .name = long_name, .data = "long" },
		{ .name = "l\xc3\xafnk", .type = AE_IFLNK, .link = "caf\xc3\xa9/men\xc3\xbc.txt" },
	};

	char first[65] = "";
	for (enum fmt f = TAR; f <= ZIP; f += 2) {
		struct result r = upload_ents(f, ents, DEW_ARRAY_SIZE(ents), NULL, NULL);
		if (!tap_is_int(r.rc, 0, "%s: non-ASCII and 400-byte names upload", fmt_names[f]))
			tap_diag("%s", r.msg);
		cleanup_free char *want = expected_listing(ents, DEW_ARRAY_SIZE(ents));
		cleanup_free char *got = package_listing(r.sha);
		tap_is_str(got, want, "%s: and reach the package byte for byte", fmt_names[f]);
		if (*first)
			tap_is_str(r.sha, first, "%s: the same package as from tar", fmt_names[f]);
		memcpy(first, r.sha, sizeof(first));
		result_free(&r);
	}
}

/* Re-uploading the same app gives the same package; one changed file adds one blob. */
static void test_reupload(void)
{
	int pool0 = count_pool(), pk0 = count_in("manifests");
	struct result r = upload_ents(TAR, app, app_n, NULL, NULL);

	tap_is_str(r.sha, app_sha, "re-upload: the same package hash (no restage)");
	tap_is_int(count_pool(), pool0, "re-upload: nothing new in the pool");
	tap_is_int(count_in("manifests"), pk0, "re-upload: no new package");
	result_free(&r);

	struct test_ent changed[DEW_ARRAY_SIZE(app)];
	memcpy(changed, app, sizeof(app));
	changed[1].data = "print('hello, changed')\n";
	/* As the CLI would: everything but the changed file matched. */
	const size_t matched[] = { 3, 4, 5, 7 };
	cleanup_free char *res = resources_for(app, matched, 4);
	struct test_ent upload[] = { changed[1], changed[6] };
	r = upload_ents(TAR_GZ, upload, 2, res, NULL);
	if (!tap_is_int(r.rc, 0, "one file changed: succeeds"))
		tap_diag("%s", r.msg);
	tap_ok(strcmp(r.sha, app_sha) != 0, "one file changed: a new package hash");
	tap_is_int(count_pool(), pool0 + 1, "one file changed: exactly one new blob in the pool");
	cleanup_free char *h = hex_of(changed[1].data);
	tap_ok(blobs_has(blobs, BLOB_POOL, h, strlen(changed[1].data)), "and it is the changed file's");
	tap_is_int(count_in("manifests"), pk0 + 1, "one new package");
	cleanup_free char *want = expected_listing(changed, DEW_ARRAY_SIZE(changed));
	cleanup_free char *got = package_listing(r.sha);
	tap_is_str(got, want, "the new package has the changed content");
	result_free(&r);
}

/* ---- a streamed tar ---- */

/* What follows a tar's end in its part is ignored, as in a file; a tar starting "PK" still reads. */
static void test_stream_trailing(void)
{
	cleanup_buf struct dew_buf arc = build(TAR, app, app_n);
	for (int i = 0; i < 3000; i++)
		dew_buf_puts(&arc, "junk after the end of the archive\n");
	cleanup_buf struct dew_buf body = app_body(NULL, &arc);
	struct result r = run_body(&body, RANDOM, NULL);

	if (!tap_is_int(r.rc, 0, "a tar followed by 100 KB of junk: succeeds"))
		tap_diag("%s", r.msg);
	tap_is_str(r.sha, app_sha, "the same package");
	result_free(&r);

	const struct test_ent pk[] = { { .name = "PKG-INFO", .data = "Name: x\n" }, app[1] };
	cleanup_free char *want = expected_listing(pk, 2);
	r = upload_ents(TAR, pk, 2, NULL, NULL);
	if (!tap_is_int(r.rc, 0, "a tar whose first name starts with PK (read from a file): succeeds"))
		tap_diag("%s", r.msg);
	cleanup_free char *got = package_listing(r.sha);
	tap_is_str(got, want, "its package holds both files");
	result_free(&r);
}

/* The `resources` part may come after the archive: the same package, the same limits. */
static void test_stream_resources_last(void)
{
	cleanup_free char *res = resources_for(app, (size_t[]){ 1 }, 1);
	const struct test_ent rest[] = { app[0], app[2], app[3], app[4], app[5], app[6], app[7] };
	cleanup_buf struct dew_buf arc = build(TAR_GZ, rest, DEW_ARRAY_SIZE(rest));
	struct part parts[] = { { "application", arc.data, arc.len, NULL },
				{ "resources", res, strlen(res), NULL } };
	cleanup_buf struct dew_buf body = body_of(BOUNDARY, NULL, parts, 2, NULL);
	struct result r = run_body(&body, RANDOM, NULL);

	if (!tap_is_int(r.rc, 0, "application first, resources second: succeeds"))
		tap_diag("%s", r.msg);
	tap_is_str(r.sha, app_sha, "the same package");
	result_free(&r);

	const struct upload_limits few = { .max_files = 5 };
	r = run_body(&body, WHOLE, &few);
	tap_is_int(r.rc, -EFBIG, "with max_files 5, the late resource is one file too many");
	tap_has_str(r.msg, "more than 5 files", "the message says the limit");
	result_free(&r);
	tap_is_int(count_in("tmp"), 0, "nothing left in tmp/");
}

/* An upload dropped half way through a streamed tar leaves nothing behind. */
static void test_stream_dropped(void)
{
	cleanup_free char *noise = xmalloc(4 << 20);
	uint64_t s = 7;
	noise_fill(noise, 4 << 20, &s);
	for (size_t i = 0; i < (4 << 20); i++)
		noise[i] = noise[i] ? noise[i] : 'q';
	noise[(4 << 20) - 1] = '\0';
	const struct test_ent ents[] = { { .name = "a.bin", .data = noise },
					 { .name = "b.bin", .data = noise + 1 } };
	cleanup_buf struct dew_buf arc = build(TAR, ents, 2);
	cleanup_buf struct dew_buf body = app_body("[]", &arc);
	struct dew_error *err = NULL;
	struct upload *u = NULL;
	int pool0 = count_pool();
	int rc = upload_new(blobs, CT, NULL, &u, &err);

	for (size_t off = 0; rc == 0 && off < body.len * 3 / 4; off += 65536)
		rc = upload_feed(u, body.data + off, 65536, &err);
	tap_is_int(rc, 0, "three quarters of a 8 MB tar fed");
	upload_free(u); /* the client went away */
	dew_error_free(err);
	tap_is_int(count_pool(), pool0, "dropped: nothing entered the pool");
	tap_is_int(count_in("tmp"), 0, "dropped: nothing left in tmp/");
}

int main(void)
{
	if (!harness_setup("upload"))
		return tap_done();
	test_first_upload();
	test_chunking();
	test_framing_ok();
	test_framing_bad();
	test_identical_packages();
	test_reupload();
	test_names();
	test_stream_trailing();
	test_stream_resources_last();
	test_stream_dropped();
	return harness_done();
}
