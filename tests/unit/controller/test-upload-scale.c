// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/upload.h and package.h at scale and at rest: resource_match (with
 * 10,000 entries), concurrent uploads, many small files, a 200 MB upload (timed, printed, not
 * asserted), and packages stored as manifests: the tar written from one matches its name, and a
 * pool file that changed or a manifest that lies makes no package.
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

/* ---- packages as manifests ---- */

/* Write text as the manifest of the package named sha (as if the store held it). */
static void plant_manifest(const char *sha, const char *text)
{
	cleanup_free char *path = blobs_path(blobs, BLOB_MANIFEST, sha);
	struct dew_error *err = NULL;

	if (dew_write_file_atomic(path, text, strlen(text), 0600, &err) < 0)
		tap_diag("plant %s: %s", path, dew_error_msg(err));
	dew_error_free(err);
}

static void test_manifests(void)
{
	const char *unique = "content of the manifest test, in no other app\n";
	const struct test_ent ents[] = { { .name = "m/one.txt", .data = unique }, app[1] };
	struct result r = upload_ents(TAR, ents, 2, NULL, NULL);
	struct dew_error *err = NULL;
	char got[65];
	uint64_t size;

	tap_is_int(r.rc, 0, "an upload for the manifest tests");
	tap_ok(blobs_has(blobs, BLOB_MANIFEST, r.sha, UINT64_MAX) &&
		       !blobs_has(blobs, BLOB_PACKAGE, r.sha, UINT64_MAX),
	       "a manifest, no tar yet");
	tap_is_int(package_materialize(blobs, r.sha, &err), 0, "the tar is written from the manifest");
	cleanup_free char *tar = blobs_path(blobs, BLOB_PACKAGE, r.sha);
	dew_sha256_file(tar, got, &size, NULL);
	tap_is_str(got, r.sha, "and hashes to the package's name");
	tap_is_int(package_materialize(blobs, r.sha, &err), 0, "asking again finds it there");
	tap_is_int(package_materialize(blobs, SHA_ZERO, &err), -ENOENT, "an unknown package: ENOENT");
	dew_error_clear(&err);

	/* A pool file whose bytes changed on disk (same size): the tar no longer has the name. */
	cleanup_free char *h = hex_of(unique);
	cleanup_free char *pooled = blobs_path(blobs, BLOB_POOL, h);
	cleanup_free char *evil = xstrdup(unique);
	evil[0] = 'C';
	unlink(tar);
	dew_write_file_atomic(pooled, evil, strlen(evil), 0600, NULL);
	tap_is_int(package_materialize(blobs, r.sha, &err), -EIO, "a changed pool file: EIO");
	tap_has_str(dew_error_msg(err), "hash", "the message says the hash differs");
	dew_error_clear(&err);
	tap_ok(!blobs_has(blobs, BLOB_PACKAGE, r.sha, UINT64_MAX), "no package was kept");
	tap_is_int(count_in("tmp"), 0, "nothing left in tmp/");
	result_free(&r);

	static const struct {
		const char *what, *text;
	} bad[] = {
		{ "not a manifest", "something else\n" },
		{ "a path with ..", "dew-package 1\nl 4 ../x 1 y\n" },
		{ "a symlink out of the app", "dew-package 1\nl 1 x 11 /etc/passwd\n" },
		{ "a bad hash", "dew-package 1\nf 644 1 xyz 1 a\n" },
		{ "a bad mode", "dew-package 1\nf 4755 1 " SHA_ZERO " 1 a\n" },
		{ "a length past the end", "dew-package 1\nf 644 1 " SHA_ZERO " 99 a\n" },
		{ "an unknown type", "dew-package 1\nd 1 a\n" },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(bad); i++) {
		char sha[65];
		dew_sha256_hex(bad[i].what, strlen(bad[i].what), sha);
		plant_manifest(sha, bad[i].text);
		tap_is_int(package_materialize(blobs, sha, &err), -EIO, "manifest with %s: EIO", bad[i].what);
		tap_has_str(dew_error_msg(err), "manifest", "%s: the message names the manifest",
			    bad[i].what);
		dew_error_clear(&err);
		tap_ok(!blobs_has(blobs, BLOB_PACKAGE, sha, UINT64_MAX), "%s: no package", bad[i].what);
	}
}

int main(void)
{
	if (!harness_setup("upload-scale"))
		return tap_done();
	harness_first_upload();
	test_resource_match();
	test_concurrent();
	test_manifests();
	test_many_files();
	test_throughput();
	return harness_done();
}
