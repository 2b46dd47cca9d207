// SPDX-License-Identifier: MIT
/*
 * The internal endpoints DEAs use while staging and starting apps (issue #7): package and
 * droplet downloads, droplet uploads. No user token: each request carries a signature of its
 * method, path and expiry (auth.h) made with internal_secret, so a URI handed to one DEA for one
 * blob grants exactly that, until it expires.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "auth.h"
#include "blobs.h"
#include "controller.h"
#include "hmac.h"
#include "http-file.h"
#include "log.h"
#include "package.h"
#include "sha256.h"
#include "store.h"

/* True when req carries a valid signature for its method and path; otherwise answers 403. */
static bool internal_authorize(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	/* HEAD is served by the GET routes: a signed GET covers it. */
	const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
	int r = auth_verify_signature(cc->cfg.internal_secret, method, req->path, req->query,
				      (int64_t)time(NULL));

	if (r == 0)
		return true;
	cc->n.auth_failures++;
	if (r == -ETIMEDOUT) {
		api_error(req, 403, "the signed URI has expired");
	} else {
		dew_debug("%s %s from %s: bad signature", req->method, req->path, req->remote_addr);
		api_error(req, 403, "a valid signature (?expires=&sig=) is required");
	}
	return false;
}

/* Send the blob of kind named by :sha256, or 404 (the caller authorized the request). */
static void internal_send_file(struct dew_http_req *req, enum blob_kind kind, const char *what)
{
	struct cc *cc = api_cc(req);
	const char *sha = dew_http_param(req, "sha256");
	cleanup_free char *path = NULL;
	struct stat st;

	/* blobs_path refuses anything but 64 lowercase hex digits: no client string becomes a path. */
	path = blobs_path(cc->blobs, kind, sha);
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) : -1;
	if (fd < 0 && path && errno != ENOENT)
		dew_err("open `%s`: %s", path, strerror(errno));
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		api_error(req, 404, "%s `%s` not found", what, sha);
		return;
	}
	dew_http_send_file(req, cc->loop, fd, 0, (uint64_t)st.st_size, "application/octet-stream");
}

/* Authorize, then send the blob of kind named by :sha256, or 404. */
static void internal_send_blob(struct dew_http_req *req, enum blob_kind kind, const char *what)
{
	if (internal_authorize(req))
		internal_send_file(req, kind, what);
}

/* ---- package download ---- */

/*
 * An upload stores a package as a manifest of pool files (package.h); its tar is written on the
 * thread pool when it is first asked for, checked against the package's hash, and kept.
 */
struct package_job {
	uv_work_t work;
	struct dew_http_req *req;
	struct blobs *blobs;
	char sha256[65];
	int status; /* of package_materialize */
	struct dew_error *err;
	bool aborted;
};

static void package_work(uv_work_t *w)
{
	struct package_job *j = w->data;
	j->status = package_materialize(j->blobs, j->sha256, &j->err);
}

static void package_done(uv_work_t *w, int status)
{
	struct package_job *j = w->data;
	struct dew_http_req *req = j->req;

	(void)status;
	if (j->aborted) {
		dew_http_respond(req, 499, NULL, NULL, 0); /* releases the request; writes nothing */
	} else {
		req->data = NULL;
		req->on_abort = NULL;
		if (j->status == -ENOENT) {
			api_error(req, 404, "package `%s` not found", j->sha256);
		} else if (j->status < 0) {
			dew_err("package %s: %s", j->sha256, dew_error_msg(j->err));
			api_error(req, 500, "the package could not be written: %s", dew_error_msg(j->err));
		} else {
			internal_send_file(req, BLOB_PACKAGE, "package");
		}
	}
	dew_error_free(j->err);
	free(j);
}

static void package_on_abort(struct dew_http_req *req)
{
	((struct package_job *)req->data)->aborted = true; /* package_done releases it */
}

void api_internal_package_get(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	const char *sha = dew_http_param(req, "sha256");

	if (!internal_authorize(req))
		return;
	if (!dew_sha256_is_hex(sha) || blobs_has(cc->blobs, BLOB_PACKAGE, sha, UINT64_MAX)) {
		internal_send_file(req, BLOB_PACKAGE, "package");
		return;
	}
	struct package_job *j = xcalloc(1, sizeof(*j));
	j->req = req;
	j->blobs = cc->blobs;
	memcpy(j->sha256, sha, sizeof(j->sha256));
	j->work.data = j;
	if (uv_queue_work(cc->loop, &j->work, package_work, package_done) < 0) {
		free(j);
		api_error(req, 500, "could not queue the package build");
		return;
	}
	req->data = j;
	req->on_abort = package_on_abort;
}

void api_internal_droplet_get(struct dew_http_req *req)
{
	internal_send_blob(req, BLOB_DROPLET, "droplet");
}

/* ---- droplet upload ---- */

/* One droplet upload: the body goes to a temporary blob, hashed on the way; then committed. */
struct droplet_job {
	uv_work_t work;
	struct dew_http_req *req;
	struct blobs *blobs;
	int fd;
	char *tmp_path; /* NULL once committed (or removed) */
	struct dew_sha256 hash;
	char expected[65]; /* X-Droplet-Sha256, "" when absent */
	char sha256[65];
	uint64_t size;
	int status; /* of blobs_commit */
	struct dew_error *err;
	bool working;
	bool aborted;
};

static void droplet_job_free(struct droplet_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->tmp_path)
		unlink(j->tmp_path);
	free(j->tmp_path);
	dew_sha256_close(&j->hash);
	dew_error_free(j->err);
	free(j);
}

/* Write all of data to fd: 0 or -errno. */
static int droplet_write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int api_internal_droplet_body(struct dew_http_req *req, const char *data, size_t len)
{
	struct droplet_job *j = req->data;
	int r = droplet_write_all(j->fd, data, len);

	if (r < 0) {
		dew_err("droplet upload: write `%s`: %s", j->tmp_path, strerror(-r));
		req->data = NULL;
		droplet_job_free(j);
		/* The server answers this status itself and releases req. */
		return r == -ENOSPC || r == -EDQUOT ? 507 : 500;
	}
	dew_sha256_update(&j->hash, data, len);
	j->size += len;
	return 0;
}

static void droplet_work(uv_work_t *w)
{
	struct droplet_job *j = w->data;

	j->status = blobs_commit(j->blobs, BLOB_DROPLET, j->tmp_path, j->sha256, &j->size, &j->err);
	/* blobs_commit removes the temporary file on success and on failure alike. */
	free(j->tmp_path);
	j->tmp_path = NULL;
}

static void droplet_done(uv_work_t *w, int status)
{
	struct droplet_job *j = w->data;
	struct dew_http_req *req = j->req;

	j->working = false;
	if (j->aborted) {
		dew_http_respond(req, 499, NULL, NULL, 0); /* releases the request; writes nothing */
	} else if (j->status < 0) {
		dew_err("droplet upload: %s", dew_error_msg(j->err));
		api_error(req, 500, "the droplet could not be stored (see the controller's log)");
	} else {
		dew_info("droplet %.12s stored (%" PRIu64 " bytes) for %s", j->sha256, j->size,
			 dew_http_param(req, "guid"));
		dew_http_respond_json(
			req, 201, json_pack("{s:s, s:I}", "sha256", j->sha256, "size", (json_int_t)j->size));
	}
	droplet_job_free(j);
}

void api_internal_droplet_end(struct dew_http_req *req)
{
	struct droplet_job *j = req->data;
	char got[65];

	dew_sha256_final(&j->hash, got);
	if (j->expected[0] && !dew_hex_equal(got, j->expected, 64)) {
		req->data = NULL;
		api_error(req, 422, "X-Droplet-Sha256 is %s but the body's SHA-256 is %s", j->expected, got);
		droplet_job_free(j); /* removes the temporary file: nothing is kept */
		return;
	}
	close(j->fd);
	j->fd = -1;
	j->working = true;
	j->work.data = j;
	if (uv_queue_work(api_cc(req)->loop, &j->work, droplet_work, droplet_done) < 0) {
		req->data = NULL;
		api_error(req, 500, "could not queue the droplet's commit");
		droplet_job_free(j);
	}
}

static void droplet_abort(struct dew_http_req *req)
{
	struct droplet_job *j = req->data;

	if (!j)
		return;
	if (j->working) {
		j->aborted = true; /* droplet_done releases it */
		return;
	}
	req->data = NULL;
	dew_http_respond(req, 499, NULL, NULL, 0);
	droplet_job_free(j);
}

void api_internal_droplet_put(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	const char *expected = dew_http_header(req, "X-Droplet-Sha256");
	cleanup_error struct dew_error *err = NULL;

	if (!internal_authorize(req))
		return;
	if (expected && !dew_sha256_is_hex(expected)) {
		api_error(req, 400, "X-Droplet-Sha256 must be 64 lowercase hex digits");
		return;
	}
	struct droplet_job *j = xzalloc(sizeof *j);
	j->req = req;
	j->blobs = cc->blobs;
	j->fd = blobs_tmp(cc->blobs, &j->tmp_path, &err);
	if (j->fd < 0) {
		dew_err("droplet upload: %s", dew_error_msg(err));
		api_error(req, 500, "the droplet could not be stored (see the controller's log)");
		free(j);
		return;
	}
	dew_sha256_init(&j->hash);
	if (expected)
		memcpy(j->expected, expected, 65);
	req->data = j;
	req->on_abort = droplet_abort;
}

/* An app as the health manager needs it: desired state and what its decisions are checked with. */
static json_t *internal_desired_json(const struct store_app *a)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "droplet", a->guid, "name",
			 a->name, "version", a->version, "state", store_app_state_names[a->state],
			 "package_state", store_package_state_names[a->package_state], "instances",
			 (json_int_t)a->instances, "memory", (json_int_t)a->memory_mb, "disk",
			 (json_int_t)a->disk_mb, "last_updated", (json_int_t)a->updated, "revision",
			 (json_int_t)a->revision);
}

void api_internal_desired(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct store_app *apps = NULL;
	size_t n = 0;
	cleanup_error struct dew_error *err = NULL;
	if (!internal_authorize(req))
		return;
	int r = store_app_list(cc->store, -1, &apps, &n, &err);
	if (r < 0) {
		api_store_error(req, r, err, "apps");
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, internal_desired_json(&apps[i]));
	store_app_list_free(apps, n);
	dew_http_respond_json(req, 200, json_pack("{s:o}", "apps", list));
}

void api_internal_desired_app(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct store_app a = { 0 };
	cleanup_error struct dew_error *err = NULL;
	if (!internal_authorize(req))
		return;
	int r = store_app_get_by_guid(cc->store, dew_http_param(req, "guid"), &a, &err);
	if (r < 0) {
		api_store_error(req, r, err, "app");
		return;
	}
	dew_http_respond_json(req, 200, internal_desired_json(&a));
	store_app_clear(&a);
}
