// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/upload.h: resource_match; the multipart parser fed whole, byte by byte
 * and in random chunks; packages that are byte-identical for the same files however they were
 * uploaded (tar, tar.gz, zip, partly or wholly matched); only changed files entering the pool;
 * hostile uploads (built here with libarchive's writer) refused with the right errno and the
 * entry named, leaving no package and nothing in tmp/; pool poisoning attempts; concurrent
 * uploads; and the throughput of a 200 MB upload (printed, not asserted).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
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
#include "testarchive.h"
#include "testutil.h"
#include "upload.h"

#define BOUNDARY "----dewBoundary7MA4YWxkTrZu0gW"
#define CT "multipart/form-data; boundary=" BOUNDARY
#define SHA_ZERO "0000000000000000000000000000000000000000000000000000000000000000"

enum fmt { TAR, TAR_GZ, ZIP };
static const char *const fmt_names[] = { "tar", "tar.gz", "zip" };

enum chunking { WHOLE, BYTES, RANDOM };

/* What an upload gave. */
struct result {
	int rc;
	char sha[65];
	uint64_t files;
	char *msg;
};

static const char *tmp; /* the private temporary directory */
static char *dir;	/* the blob store */
static struct blobs *blobs;
static char *big;    /* 300 KiB of noise: spans many blocks and reads */
static char *tricky; /* content full of near-delimiters */

static int count_in(const char *rel)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, rel);
	return test_count_entries(p);
}

/* Regular files below dir/pool (ftw counts into a static: the tests are single-threaded here). */
static int n_pool;
static int count_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path, (void)st, (void)ftw;
	n_pool += flag == FTW_F;
	return 0;
}

static int count_pool(void)
{
	cleanup_free char *p = xasprintf("%s/pool", dir);
	n_pool = 0;
	nftw(p, count_one, 16, FTW_PHYS);
	return n_pool;
}

static char *hex_of(const char *data)
{
	char *h = xmalloc(65);
	dew_sha256_hex(data, strlen(data), h);
	return h;
}

/* ---- archives ---- */

static la_ssize_t buf_write(struct archive *a, void *ctx, const void *data, size_t n)
{
	(void)a;
	dew_buf_append(ctx, data, n);
	return (la_ssize_t)n;
}

/* A writer for fmt appending to out (or writing to path when out is NULL). */
static struct archive *writer(enum fmt f, struct dew_buf *out, const char *path)
{
	struct archive *a = test_archive_writer(f == ZIP, f == TAR_GZ ? "gzip" : NULL);
	int r = out ? archive_write_open(a, out, NULL, buf_write, NULL)
		    : archive_write_open_filename(a, path);
	if (r != ARCHIVE_OK)
		tap_diag("open writer: %s", archive_error_string(a));
	return a;
}

/* Build an archive of ents in format f, into a buffer. */
static struct dew_buf build(enum fmt f, const struct test_ent *ents, size_t n)
{
	struct dew_buf out = DEW_BUF_INIT;
	struct archive *a = writer(f, &out, NULL);
	struct archive_entry *e = archive_entry_new();

	/* A different mtime per entry: the package must not depend on it. */
	for (size_t i = 0; i < n; i++)
		test_archive_add(a, e, &ents[i], 1700000000 + (time_t)i, ents[i].data,
				 test_ent_size(&ents[i]));
	archive_entry_free(e);
	if (archive_write_close(a) != ARCHIVE_OK)
		tap_diag("close archive: %s", archive_error_string(a));
	archive_write_free(a);
	return out;
}

/* ---- multipart bodies ---- */

struct part {
	const char *name;
	const char *data;
	size_t len;
	const char *headers; /* extra header lines, each ending in CRLF */
};

/* A multipart body with these parts; preamble and epilogue may be NULL. */
static struct dew_buf body_of(const char *boundary, const char *preamble, const struct part *parts, size_t n,
			      const char *epilogue)
{
	struct dew_buf b = DEW_BUF_INIT;

	if (preamble)
		dew_buf_printf(&b, "%s\r\n", preamble);
	for (size_t i = 0; i < n; i++) {
		dew_buf_printf(&b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"%s\r\n%s\r\n",
			       boundary, parts[i].name,
			       strcmp(parts[i].name, "application") == 0 ? "; filename=\"app.zip\"" : "",
			       parts[i].headers ? parts[i].headers : "");
		dew_buf_append(&b, parts[i].data, parts[i].len);
		dew_buf_puts(&b, "\r\n");
	}
	dew_buf_printf(&b, "--%s--\r\n", boundary);
	if (epilogue)
		dew_buf_puts(&b, epilogue);
	return b;
}

/* The usual body: resources JSON (or NULL for no part) and an archive (or NULL). */
static struct dew_buf app_body(const char *resources, const struct dew_buf *arc)
{
	struct part parts[2];
	size_t n = 0;

	if (resources)
		parts[n++] = (struct part){ "resources", resources, strlen(resources), NULL };
	if (arc)
		parts[n++] = (struct part){ "application", arc->data ? arc->data : "", arc->len,
					    "Content-Type: application/octet-stream\r\n" };
	return body_of(BOUNDARY, NULL, parts, n, NULL);
}

/* Upload body with content type ct, fed as chunking says. */
static struct result run(const char *ct, const char *body, size_t len, enum chunking c, unsigned seed,
			 const struct upload_limits *lim)
{
	struct result res = { 0 };
	struct dew_error *err = NULL;
	struct upload *u = NULL;
	size_t off = 0;

	res.rc = upload_new(blobs, ct, lim, &u, &err);
	while (res.rc == 0 && off < len) {
		size_t n = len - off;
		if (c == BYTES)
			n = 1;
		if (c == RANDOM) {
			seed = seed * 1103515245 + 12345;
			size_t k = 1 + (seed >> 8) % (seed & 0x100 ? 7 : 9000);
			n = k < n ? k : n;
		}
		res.rc = upload_feed(u, body + off, n, &err);
		off += n;
	}
	if (res.rc == 0)
		res.rc = upload_finish(u, res.sha, &res.files, &err);
	if (res.rc < 0 && (!err || err->code != -res.rc))
		tap_diag("rc %d does not match the error's code %d", res.rc, err ? err->code : 0);
	res.msg = xstrdup(dew_error_msg(err));
	dew_error_free(err);
	upload_free(u);
	return res;
}

static struct result run_body(const struct dew_buf *body, enum chunking c, const struct upload_limits *lim)
{
	return run(CT, body->data, body->len, c, 1, lim);
}

/* Upload ents as an archive of format f, with resources (NULL: no part). */
static struct result upload_ents(enum fmt f, const struct test_ent *ents, size_t n, const char *resources,
				 const struct upload_limits *lim)
{
	cleanup_buf struct dew_buf arc = build(f, ents, n);
	cleanup_buf struct dew_buf body = app_body(resources, n ? &arc : NULL);

	return run_body(&body, WHOLE, lim);
}

/* ---- packages ---- */

/* One line per package entry: path, type, mode, owner, mtime, names, content hash or target. */
static char *package_listing(const char *sha)
{
	cleanup_free char *path = blobs_path(blobs, BLOB_PACKAGE, sha);
	struct dew_error *err = NULL;
	if (package_materialize(blobs, sha, &err) < 0)
		tap_diag("materialize %s: %s", sha, dew_error_msg(err));
	dew_error_free(err);
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct dew_buf out = DEW_BUF_INIT;
	static char buf[1 << 16];

	archive_read_support_format_tar(a);
	if (!path || archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		archive_read_free(a);
		return xstrdup("(no package)");
	}
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		struct dew_sha256 h;
		char hex[65];
		ssize_t k;
		const char *un = archive_entry_uname(e), *gn = archive_entry_gname(e);
		dew_sha256_init(&h);
		while ((k = archive_read_data(a, buf, sizeof(buf))) > 0)
			dew_sha256_update(&h, buf, (size_t)k);
		dew_sha256_final(&h, hex);
		bool link = archive_entry_filetype(e) == AE_IFLNK;
		dew_buf_printf(&out, "%s %s %04o %jd:%jd %jd '%s':'%s' %s\n", archive_entry_pathname(e),
			       link				       ? "l"
			       : archive_entry_filetype(e) == AE_IFREG ? "f"
								       : "?",
			       (unsigned)archive_entry_perm(e), (intmax_t)archive_entry_uid(e),
			       (intmax_t)archive_entry_gid(e), (intmax_t)archive_entry_mtime(e), un ? un : "",
			       gn ? gn : "", link ? archive_entry_symlink(e) : hex);
	}
	archive_read_free(a);
	return dew_buf_steal(&out);
}

/* name without empty and "." components, as the package holds it. */
static char *norm(const char *name)
{
	struct dew_buf out = DEW_BUF_INIT;

	for (const char *s = name; *s; s += *s == '/') {
		size_t n = strcspn(s, "/");
		if (n > 0 && !(n == 1 && *s == '.')) {
			if (out.len)
				dew_buf_putc(&out, '/');
			dew_buf_append(&out, s, n);
		}
		s += n;
	}
	return dew_buf_steal(&out);
}

static int ent_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The listing the package of ents must have: files and links sorted, fixed metadata. */
static char *expected_listing(const struct test_ent *ents, size_t n)
{
	char **lines = xcalloc(n + 1, sizeof(char *));
	struct dew_buf out = DEW_BUF_INIT;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct test_ent *x = &ents[i];
		if (x->type == AE_IFDIR)
			continue;
		cleanup_free char *name = norm(x->name);
		if (x->type == AE_IFLNK) {
			lines[k++] = xasprintf("%s l 0777 0:0 0 '':'' %s\n", name, x->link);
		} else {
			cleanup_free char *h = hex_of(x->data);
			lines[k++] = xasprintf("%s f %04o 0:0 0 '':'' %s\n", name,
					       (x->perm & 0100) ? 0755 : 0644, h);
		}
	}
	qsort(lines, k, sizeof(char *), ent_cmp);
	for (size_t i = 0; i < k; i++) {
		dew_buf_puts(&out, lines[i]);
		free(lines[i]);
	}
	free(lines);
	return dew_buf_steal(&out);
}

/* A resources JSON array for some of ents (by index); size_delta skews the first entry's size. */
static char *resources_for(const struct test_ent *ents, const size_t *idx, size_t n)
{
	json_auto_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct test_ent *x = &ents[idx[i]];
		cleanup_free char *h = hex_of(x->data);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:i}", "fn", x->name, "sha256", h,
						     "size", (json_int_t)strlen(x->data), "mode",
						     (int)(x->perm ? x->perm : 0644)));
	}
	return dew_json_dumps(arr);
}

static void result_free(struct result *r)
{
	free(r->msg);
}

/* The app most tests use: nested files, an executable, a symlink, directories, an empty file. */
static struct test_ent app[8];
static const size_t app_n = DEW_ARRAY_SIZE(app);
static char *app_sha; /* its package */
static char *app_listing;

static void init_app(void)
{
	const struct test_ent a[] = {
		{ .name = "./", .type = AE_IFDIR, .perm = 0755 },
		{ .name = "./app.py", .perm = 0664, .data = "print('hello')\n" },
		{ .name = "bin/", .type = AE_IFDIR, .perm = 0700 },
		{ .name = "bin/run", .perm = 0775, .data = "#!/bin/sh\nexec python3 app.py\n" },
		{ .name = "lib/tricky.txt", .perm = 0600, .data = tricky },
		{ .name = "lib/big.bin", .perm = 0744, .data = big },
		{ .name = "lib/current", .type = AE_IFLNK, .link = "tricky.txt" },
		{ .name = "static//./empty", .perm = 0444, .data = "" },
	};
	memcpy(app, a, sizeof(a));
}

/* ---- resource_match ---- */

static json_t *match(const char *text, int *rc, char **msg)
{
	struct dew_error *err = NULL;
	json_auto_t *body = json_loads(text, 0, NULL);
	json_t *out = body ? upload_resource_match(blobs, body, &err) : NULL;

	*rc = out ? 0 : err ? -err->code : -1;
	*msg = xstrdup(dew_error_msg(err));
	dew_error_free(err);
	return out;
}

static void test_resource_match(void)
{
	cleanup_free char *h_app = hex_of(app[1].data);
	cleanup_free char *h_run = hex_of(app[3].data);
	cleanup_free char *h_none = hex_of("never uploaded");
	cleanup_free char *req =
		xasprintf("[{\"sha256\":\"%s\",\"size\":%zu,\"fn\":\"app.py\",\"mode\":420},"
			  "{\"sha256\":\"%s\",\"size\":3,\"fn\":\"miss\",\"mode\":420},"
			  "{\"sha256\":\"%s\",\"size\":%zu,\"fn\":\"wrong-size\",\"mode\":420},"
			  "{\"sha256\":\"%s\",\"size\":%zu,\"fn\":\"./bin/run\",\"mode\":493}]",
			  h_app, strlen(app[1].data), h_none, h_app, strlen(app[1].data) + 1, h_run,
			  strlen(app[3].data));
	char *msg;
	int rc;
	json_t *out = match(req, &rc, &msg);

	tap_is_int(rc, 0, "resource_match succeeds");
	tap_is_int((int)json_array_size(out), 2, "two of four entries are in the pool");
	tap_is_str(json_string_value(json_object_get(json_array_get(out, 0), "fn")), "app.py",
		   "first hit: app.py");
	tap_is_str(json_string_value(json_object_get(json_array_get(out, 1), "fn")), "./bin/run",
		   "second hit keeps the request's order and fn");
	tap_is_int(json_integer_value(json_object_get(json_array_get(out, 1), "mode")), 0755, "mode kept");
	tap_is_str(json_string_value(json_object_get(json_array_get(out, 0), "sha256")), h_app,
		   "sha256 kept");
	json_decref(out);
	free(msg);

	out = match("[]", &rc, &msg);
	tap_ok(rc == 0 && json_array_size(out) == 0, "an empty request matches nothing");
	json_decref(out);
	free(msg);

	static const struct {
		const char *what, *json, *needle;
	} bad[] = {
		{ "not an array", "{\"sha256\":\"x\"}", "array" },
		{ "entry not an object", "[1]", "entry 0" },
		{ "uppercase sha",
		  "[{\"sha256\":\"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\","
		  "\"size\":1,\"fn\":\"up\"}]",
		  "`up`" },
		{ "short sha", "[{\"sha256\":\"abc\",\"size\":1,\"fn\":\"short\"}]", "`short`" },
		{ "sha not a string", "[{\"sha256\":5,\"size\":1,\"fn\":\"num\"}]", "`num`" },
		{ "missing size", "[{\"sha256\":\"" SHA_ZERO "\",\"fn\":\"nosize\"}]", "`nosize`" },
		{ "negative size", "[{\"sha256\":\"" SHA_ZERO "\",\"size\":-1,\"fn\":\"neg\"}]", "`neg`" },
		{ "size a string", "[{\"sha256\":\"" SHA_ZERO "\",\"size\":\"1\",\"fn\":\"str\"}]", "`str`" },
		{ "missing fn", "[{\"sha256\":\"" SHA_ZERO "\",\"size\":1}]", "entry 0" },
		{ "absolute fn", "[{\"sha256\":\"" SHA_ZERO "\",\"size\":1,\"fn\":\"/etc/passwd\"}]",
		  "`/etc/passwd`" },
		{ "fn with ..", "[{\"sha256\":\"" SHA_ZERO "\",\"size\":1,\"fn\":\"a/../../b\"}]",
		  "`a/../../b`" },
		{ "empty fn", "[{\"sha256\":\"" SHA_ZERO "\",\"size\":1,\"fn\":\"./\"}]", "empty path" },
		{ "mode too large", "[{\"sha256\":\"" SHA_ZERO "\",\"size\":1,\"fn\":\"m\",\"mode\":4096}]",
		  "`m`" },
		{ "mode a string",
		  "[{\"sha256\":\"" SHA_ZERO "\",\"size\":1,\"fn\":\"ms\",\"mode\":\"0644\"}]", "`ms`" },
		{ "second entry bad",
		  "[{\"sha256\":\"" SHA_ZERO "\",\"size\":1,\"fn\":\"ok\"},{\"size\":1,\"fn\":\"b\"}]",
		  "entry 1" },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(bad); i++) {
		out = match(bad[i].json, &rc, &msg);
		tap_ok(out == NULL && rc == -EBADMSG, "resource_match refuses %s with EBADMSG (%d)",
		       bad[i].what, rc);
		tap_has_str(msg, bad[i].needle, "%s: the message names the entry", bad[i].what);
		json_decref(out);
		free(msg);
	}
	cleanup_free char *long_fn = xmalloc(4200);
	memset(long_fn, 'a', 4199);
	long_fn[4199] = '\0';
	for (size_t i = 100; i < 4199; i += 100)
		long_fn[i] = '/';
	cleanup_free char *req_long =
		xasprintf("[{\"sha256\":\"%s\",\"size\":1,\"fn\":\"%s\"}]", h_app, long_fn);
	out = match(req_long, &rc, &msg);
	tap_ok(out == NULL && rc == -EBADMSG, "an fn over 4096 bytes is refused");
	tap_has_str(msg, "4096", "the message says the limit");
	json_decref(out);
	free(msg);

	/* 10,000 entries, half of them hits: the benchmark target is < 50 ms. */
	json_auto_t *many = json_array();
	for (int i = 0; i < 10000; i++) {
		cleanup_free char *fn = xasprintf("f%d", i);
		cleanup_free char *h = i % 2 ? xstrdup(h_app) : hex_of(fn);
		json_array_append_new(many, json_pack("{s:s, s:I, s:s, s:i}", "sha256", h, "size",
						      (json_int_t)(i % 2 ? strlen(app[1].data) : 2), "fn", fn,
						      "mode", 0644));
	}
	struct dew_error *err = NULL;
	double t0 = test_now();
	out = upload_resource_match(blobs, many, &err);
	double ms = (test_now() - t0) * 1000;
	tap_is_int((int)json_array_size(out), 5000, "10,000 entries: 5,000 hits");
	tap_diag("resource_match of 10,000 entries: %.1f ms (target < 50 ms)", ms);
	json_decref(out);
	dew_error_free(err);
	err = NULL;

	json_auto_t *huge = json_array();
	for (int i = 0; i <= 100000; i++)
		json_array_append_new(huge, json_object());
	out = upload_resource_match(blobs, huge, &err);
	tap_ok(out == NULL && err && err->code == EBADMSG, "more than 100,000 entries are refused");
	dew_error_free(err);
}

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

/* ---- hostile uploads ---- */

/* An upload refused with code and a message containing needle; no package, nothing in tmp/. */
static void refused(const char *what, const struct dew_buf *body, const struct upload_limits *lim, int code,
		    const char *needle)
{
	int pk = count_in("manifests");
	struct result r = run_body(body, WHOLE, lim);

	tap_is_int(r.rc, -code, "%s: refused with %s", what, strerror(code));
	tap_has_str(r.msg, needle, "%s: the message names it", what);
	tap_diag("%s: %s", what, r.msg);
	tap_ok(count_in("manifests") == pk && count_in("tmp") == 0,
	       "%s: no new package, nothing left in tmp/", what);
	result_free(&r);
}

static void refuse_ents(const char *what, enum fmt f, const struct test_ent *ents, size_t n,
			const char *resources, const struct upload_limits *lim, int code, const char *needle)
{
	cleanup_buf struct dew_buf arc = build(f, ents, n);
	cleanup_buf struct dew_buf body = app_body(resources, &arc);

	refused(what, &body, lim, code, needle);
}

#define REFUSE(what, f, code, needle, ...)                                                                   \
	do {                                                                                                 \
		const struct test_ent ents_[] = { __VA_ARGS__ };                                             \
		refuse_ents(what, f, ents_, DEW_ARRAY_SIZE(ents_), NULL, NULL, code, needle);                \
	} while (0)

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

/* ---- threads and throughput ---- */

struct job {
	int seed;
	struct result r;
	const struct dew_buf *body;
};

static void *upload_job(void *arg)
{
	struct job *j = arg;

	j->r = run(CT, j->body->data, j->body->len, RANDOM, (unsigned)j->seed, NULL);
	return NULL;
}

static void test_concurrent(void)
{
	cleanup_buf struct dew_buf arc = build(ZIP, app, app_n);
	cleanup_buf struct dew_buf body = app_body("[]", &arc);
	struct job jobs[4];
	pthread_t t[4];
	bool ok = true;

	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct job){ .seed = i + 1, .body = &body };
		pthread_create(&t[i], NULL, upload_job, &jobs[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ok = ok && jobs[i].r.rc == 0 && strcmp(jobs[i].r.sha, app_sha) == 0;
		if (jobs[i].r.rc < 0)
			tap_diag("job %d: %s", i, jobs[i].r.msg);
		result_free(&jobs[i].r);
	}
	tap_ok(ok, "four concurrent uploads of the app all give its package");
	tap_is_int(count_in("tmp"), 0, "nothing left in tmp/");
}

/* Fill buf with n bytes of fast pseudo-random noise (xorshift64). */
static void noise_fill(char *buf, size_t n, uint64_t *s)
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		*s ^= *s << 13;
		*s ^= *s >> 7;
		*s ^= *s << 17;
		memcpy(buf + i, s, 8);
	}
}

/* 200 MB of random content in four files, fed as it would come off a socket; MB/s printed. */
static void test_throughput(void)
{
	enum { NFILES = 4, FILE_MB = 50, CHUNK = 1 << 20 };
	cleanup_free char *path = xasprintf("%s/bench.tar", tmp);
	cleanup_free char *buf = xmalloc(CHUNK);
	struct archive *a = writer(TAR, NULL, path);
	struct archive_entry *e = archive_entry_new();
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < NFILES; i++) {
		cleanup_free char *name = xasprintf("data/blob-%d.bin", i);
		test_archive_add(a, e, &(struct test_ent){ .name = name }, 0, NULL, (size_t)FILE_MB << 20);
		for (int k = 0; k < FILE_MB; k++) {
			noise_fill(buf, CHUNK, &s);
			archive_write_data(a, buf, CHUNK);
		}
	}
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);

	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	fstat(fd, &st);
	const char *head = "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"application\"; "
			   "filename=\"app.tar\"\r\n\r\n";
	const char *tail = "\r\n--" BOUNDARY "--\r\n";
	struct dew_error *err = NULL;
	struct upload *u = NULL;
	char sha[65];
	uint64_t files = 0;
	double t0 = test_now();
	int rc = upload_new(blobs, CT, NULL, &u, &err);
	if (rc == 0)
		rc = upload_feed(u, head, strlen(head), &err);
	for (off_t off = 0; rc == 0 && off < st.st_size;) {
		ssize_t k = pread(fd, buf, 64 << 10, off); /* socket-sized reads */
		if (k <= 0)
			break;
		rc = upload_feed(u, buf, (size_t)k, &err);
		off += k;
	}
	if (rc == 0)
		rc = upload_feed(u, tail, strlen(tail), &err);
	double t1 = test_now();
	if (rc == 0)
		rc = upload_finish(u, sha, &files, &err);
	double t2 = test_now();
	if (!tap_is_int(rc, 0, "a 200 MB upload succeeds"))
		tap_diag("%s", dew_error_msg(err));
	tap_is_int((int)files, NFILES, "with its four files");
	double mb = (double)st.st_size / 1e6;
	tap_diag("200 MB upload: %.0f MB in %.2f s = %.0f MB/s (feed %.0f MB/s, finish %.2f s; target >= 200 "
		 "MB/s)",
		 mb, t2 - t0, mb / (t2 - t0), mb / (t1 - t0), t2 - t1);
	dew_error_free(err);
	upload_free(u);
	unlink(path);
}

/* Many small files: each costs a pool commit (hash, fsync, rename, directory fsync). */
static void test_many_files(void)
{
	enum { N = 2000 };
	struct test_ent *ents = xcalloc(N, sizeof(*ents));
	char **names = xcalloc(N, sizeof(char *));

	for (int i = 0; i < N; i++) {
		names[i] = xasprintf("src/m%04d/file-%d.txt", i % 50, i);
		ents[i] = (struct test_ent){ .name = names[i], .data = names[i] };
	}
	double t0 = test_now();
	struct result r = upload_ents(TAR_GZ, ents, N, NULL, NULL);
	double t = test_now() - t0;
	tap_ok(r.rc == 0 && r.files == N, "an app of %d small files uploads", N);
	tap_diag("%d small files: %.2f s (%.0f files/s)", N, t, N / t);
	result_free(&r);
	for (int i = 0; i < N; i++)
		free(names[i]);
	free(names);
	free(ents);
}

int main(void)
{
	struct dew_error *err = NULL;

	tmp = test_tmpdir("upload");
	if (!tmp)
		return tap_done();
	dir = xasprintf("%s/blobs", tmp);
	if (!tap_ok(blobs_open(dir, &blobs, &err) == 0, "open the blob store")) {
		tap_diag("%s", dew_error_msg(err));
		return tap_done();
	}
	big = xmalloc(300 * 1024 + 1);
	uint64_t s = 42;
	noise_fill(big, 300 * 1024, &s);
	for (size_t i = 0; i < 300 * 1024; i++)
		big[i] = big[i] ? big[i] : 'z'; /* a C string */
	big[300 * 1024] = '\0';
	/* Every proper prefix of the delimiter, each followed by a byte that breaks it, and a prefix at
	 * the very end: a client picks a boundary absent from its content, but near-misses are fine. */
	const char *d = "\r\n--" BOUNDARY;
	struct dew_buf t = DEW_BUF_INIT;
	for (size_t k = 1; k < strlen(d); k++) {
		dew_buf_append(&t, d, k);
		dew_buf_puts(&t, "#");
		dew_buf_append(&t, d, k);
		dew_buf_puts(&t, "\r");
	}
	dew_buf_append(&t, d, strlen(d) - 1);
	tricky = dew_buf_steal(&t);
	init_app();
	test_first_upload();
	test_resource_match();
	test_chunking();
	test_framing_ok();
	test_framing_bad();
	test_identical_packages();
	test_reupload();
	test_names();
	test_hostile_entries();
	test_hostile_archives();
	test_poisoning();
	test_concurrent();
	test_many_files();
	test_throughput();
	blobs_close(blobs);
	free(app_sha);
	free(app_listing);
	free(big);
	free(tricky);
	return tap_done();
}
