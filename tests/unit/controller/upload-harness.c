// SPDX-License-Identifier: MIT
/*
 * The upload tests' shared harness (see upload-harness.h).
 */
#include "upload-harness.h"

#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "json.h"
#include "package.h"
#include "sha256.h"
#include "tap.h"
#include "testutil.h"

const char *const fmt_names[] = { "tar", "tar.gz", "zip" };

const char *tmp; /* the private temporary directory */
char *dir;	 /* the blob store */
struct blobs *blobs;
char *big;    /* 300 KiB of noise: spans many blocks and reads */
char *tricky; /* content full of near-delimiters */

int count_in(const char *rel)
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

int count_pool(void)
{
	cleanup_free char *p = xasprintf("%s/pool", dir);
	n_pool = 0;
	nftw(p, count_one, 16, FTW_PHYS);
	return n_pool;
}

char *hex_of(const char *data)
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
struct archive *writer(enum fmt f, struct dew_buf *out, const char *path)
{
	struct archive *a = test_archive_writer(f == ZIP, f == TAR_GZ ? "gzip" : NULL);
	int r = out ? archive_write_open(a, out, NULL, buf_write, NULL)
		    : archive_write_open_filename(a, path);
	if (r != ARCHIVE_OK)
		tap_diag("open writer: %s", archive_error_string(a));
	return a;
}

/* Build an archive of ents in format f, into a buffer. */
struct dew_buf build(enum fmt f, const struct test_ent *ents, size_t n)
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

/* A multipart body with these parts; preamble and epilogue may be NULL. */
struct dew_buf body_of(const char *boundary, const char *preamble, const struct part *parts, size_t n,
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
struct dew_buf app_body(const char *resources, const struct dew_buf *arc)
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
struct result run(const char *ct, const char *body, size_t len, enum chunking c, unsigned seed,
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

struct result run_body(const struct dew_buf *body, enum chunking c, const struct upload_limits *lim)
{
	return run(CT, body->data, body->len, c, 1, lim);
}

/* Upload ents as an archive of format f, with resources (NULL: no part). */
struct result upload_ents(enum fmt f, const struct test_ent *ents, size_t n, const char *resources,
			  const struct upload_limits *lim)
{
	cleanup_buf struct dew_buf arc = build(f, ents, n);
	cleanup_buf struct dew_buf body = app_body(resources, n ? &arc : NULL);

	return run_body(&body, WHOLE, lim);
}

/* ---- packages ---- */

/* One line per package entry: path, type, mode, owner, mtime, names, content hash or target. */
char *package_listing(const char *sha)
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
char *norm(const char *name)
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
char *expected_listing(const struct test_ent *ents, size_t n)
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
char *resources_for(const struct test_ent *ents, const size_t *idx, size_t n)
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

void result_free(struct result *r)
{
	free(r->msg);
}

struct test_ent app[8];
const size_t app_n = DEW_ARRAY_SIZE(app);
char *app_sha; /* its package */
char *app_listing;

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

/* ---- refusals ---- */

/* An upload refused with code and a message containing needle; no package, nothing in tmp/. */
void refused(const char *what, const struct dew_buf *body, const struct upload_limits *lim, int code,
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

void refuse_ents(const char *what, enum fmt f, const struct test_ent *ents, size_t n, const char *resources,
		 const struct upload_limits *lim, int code, const char *needle)
{
	cleanup_buf struct dew_buf arc = build(f, ents, n);
	cleanup_buf struct dew_buf body = app_body(resources, &arc);

	refused(what, &body, lim, code, needle);
}

/* Fill buf with n bytes of fast pseudo-random noise (xorshift64). */
void noise_fill(char *buf, size_t n, uint64_t *s)
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		*s ^= *s << 13;
		*s ^= *s >> 7;
		*s ^= *s << 17;
		memcpy(buf + i, s, 8);
	}
}

/* ---- set-up ---- */

bool harness_setup(const char *name)
{
	struct dew_error *err = NULL;

	tmp = test_tmpdir(name);
	if (!tmp)
		return false;
	dir = xasprintf("%s/blobs", tmp);
	if (!tap_ok(blobs_open(dir, &blobs, &err) == 0, "open the blob store")) {
		tap_diag("%s", dew_error_msg(err));
		dew_error_free(err);
		return false;
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
	return true;
}

void harness_first_upload(void)
{
	struct result r = upload_ents(TAR, app, app_n, NULL, NULL);

	if (!tap_is_int(r.rc, 0, "set-up: the app uploads"))
		tap_diag("%s", r.msg);
	app_sha = xstrdup(r.sha);
	app_listing = expected_listing(app, app_n);
	result_free(&r);
}

int harness_done(void)
{
	blobs_close(blobs);
	free(dir);
	free(app_sha);
	free(app_listing);
	free(big);
	free(tricky);
	return tap_done();
}
