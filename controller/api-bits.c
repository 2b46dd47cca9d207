// SPDX-License-Identifier: MIT
/*
 * App bits (DESIGN.md section 9): POST /v1/resource_match answers which files the pool holds
 * (on the thread pool), PUT /v1/apps/:name/bits takes the rest as a multipart body streamed through upload.h
 * (never held in memory), then builds the package on the thread pool. A package with the hash the app already
 * has changes nothing (no restage); a new one makes the app PENDING again, and is staged at once when the app
 * is STARTED (staging.c). PUT /v1/apps/:name/package names a package the controller stored
 * before, so an unchanged app is pushed again without its file list.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "controller.h"
#include "json.h"
#include "log.h"
#include "sha256.h"
#include "store.h"
#include "upload.h"

/*
 * One resource_match: parsing 10,000 entries, looking each up in the pool and writing the
 * answer take tens of milliseconds, so they run on the thread pool, not on the loop every other
 * request waits on. The body stays the request's until the answer.
 */
struct match_job {
	uv_work_t work;
	struct dew_http_req *req;
	struct blobs *blobs;
	char *answer; /* the JSON text, or NULL with status and err */
	int status;
	struct dew_error *err;
	bool aborted;
};

static void match_work(uv_work_t *w)
{
	struct match_job *j = w->data;
	const struct dew_http_req *req = j->req;
	cleanup_error struct dew_error *why = NULL;
	json_auto_t *body = req->body_len ? dew_json_parse(req->body, req->body_len, &why) : NULL;

	if (!body || !json_is_array(body)) {
		j->status = 400;
		dew_error_set_code(&j->err, EBADMSG,
				   "the body must be a JSON array of {sha256, size, fn, mode}%s%s",
				   why ? ": " : "", why ? dew_error_msg(why) : "");
		return;
	}
	json_auto_t *hits = upload_resource_match(j->blobs, body, &j->err);
	if (!hits) {
		j->status = j->err && j->err->code == EBADMSG ? 400 : 500;
		return;
	}
	j->answer = json_dumps(hits, JSON_COMPACT);
	j->status = j->answer ? 200 : 500;
}

static void match_done(uv_work_t *w, int status)
{
	struct match_job *j = w->data;
	struct dew_http_req *req = j->req;

	(void)status;
	if (j->aborted)
		dew_http_respond(req, 499, NULL, NULL, 0); /* releases the request; writes nothing */
	else if (j->answer)
		dew_http_respond(req, 200, "application/json", j->answer, strlen(j->answer));
	else
		api_error(req, j->status, "%s", j->err ? dew_error_msg(j->err) : "resource_match failed");
	free(j->answer);
	dew_error_free(j->err);
	free(j);
}

static void match_on_abort(struct dew_http_req *req)
{
	((struct match_job *)req->data)->aborted = true; /* match_done releases it */
}

void api_resource_match(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	if (!api_auth(req, &u))
		return;
	cc_user_clear(&u);
	struct match_job *j = xcalloc(1, sizeof(*j));
	j->req = req;
	j->blobs = cc->blobs;
	j->work.data = j;
	if (uv_queue_work(cc->loop, &j->work, match_work, match_done) < 0) {
		free(j);
		api_error(req, 500, "could not queue the resource match");
		return;
	}
	req->data = j;
	req->on_abort = match_on_abort;
}

/* One upload in flight: the request, the app it is for, the parser, then the worker. */
struct bits_job {
	uv_work_t work;
	struct dew_http_req *req;
	struct upload *upload;
	int64_t app_id;
	char *app_name;
	char sha256[65];
	uint64_t files;
	int status; /* of upload_finish */
	struct dew_error *err;
	bool working;
	bool aborted;
};

static void bits_job_free(struct bits_job *j)
{
	upload_free(j->upload);
	free(j->app_name);
	dew_error_free(j->err);
	free(j);
}

/* The status an upload error maps to (upload.h). */
static int bits_status(const struct dew_error *err)
{
	switch (err ? err->code : 0) {
	case EBADMSG:
		return 400;
	case EFBIG:
		return 413;
	case EINVAL:
	case ENOENT:
		return 422;
	default:
		return 500;
	}
}

static void bits_fail(struct bits_job *j)
{
	int status = bits_status(j->err);
	if (status == 500)
		dew_err("bits of %s: %s", j->app_name, dew_error_msg(j->err));
	api_error(j->req, status, "%s", dew_error_msg(j->err));
	bits_job_free(j);
}

static void bits_work(uv_work_t *w)
{
	struct bits_job *j = w->data;
	j->status = upload_finish(j->upload, j->sha256, &j->files, &j->err);
}

/*
 * Make package sha256 (stored) the app's and answer 201 {package_sha256, changed[, files]}: a
 * new package makes the app PENDING and is staged at once when the app is STARTED; the same
 * one changes nothing. files is UINT64_MAX when not known.
 */
static void bits_apply(struct dew_http_req *req, struct cc *cc, int64_t app_id, const char *app_name,
		       const char *sha256, uint64_t files)
{
	struct store_app a = { 0 };
	cleanup_error struct dew_error *err = NULL;
	int r = store_app_get(cc->store, app_id, &a, &err);
	bool changed = r == 0 && (!a.package_sha256 || strcmp(a.package_sha256, sha256) != 0);
	if (r == 0 && changed) {
		/* Retried on a concurrent change: the bits win over whatever else changed meanwhile. */
		for (int tries = 0; tries < 3; tries++) {
			free(a.package_sha256);
			a.package_sha256 = xstrdup(sha256);
			a.package_state = STORE_PACKAGE_PENDING;
			free(a.droplet_sha256);
			a.droplet_sha256 = NULL;
			r = store_app_update(cc->store, &a, &err);
			if (r != -ESTALE)
				break;
			store_app_clear(&a);
			dew_error_free(steal_pointer(&err));
			if ((r = store_app_get(cc->store, app_id, &a, &err)) < 0)
				break;
		}
	}
	if (r < 0) {
		api_store_error(req, r, err, "app");
	} else {
		if (files != UINT64_MAX)
			dew_info("bits of %s: package %.12s, %" PRIu64 " files%s", app_name, sha256, files,
				 changed ? "" : " (unchanged)");
		else
			dew_info("bits of %s: package %.12s named by the client%s", app_name, sha256,
				 changed ? "" : " (unchanged)");
		if (changed && cc->bus) {
			json_auto_t *m = json_pack("{s:s}", "droplet", a.guid);
			dew_bus_publish_json(cc->bus, "droplet.updated", NULL, m); /* its revision moved */
		}
		staging_maybe_start(cc, &a); /* when the app is STARTED */
		json_t *answer = json_pack("{s:s, s:b}", "package_sha256", sha256, "changed", changed);
		if (files != UINT64_MAX)
			json_object_set_new(answer, "files", json_integer((json_int_t)files));
		dew_http_respond_json(req, 201, answer);
	}
	store_app_clear(&a);
}

static void bits_done(uv_work_t *w, int status)
{
	struct bits_job *j = w->data;
	struct cc *cc = api_cc(j->req);
	j->working = false;
	if (j->aborted || j->status < 0) {
		if (j->aborted) {
			dew_http_respond(j->req, 499, NULL, NULL,
					 0); /* releases the request; writes nothing */
			bits_job_free(j);
		} else {
			bits_fail(j);
		}
		return;
	}
	bits_apply(j->req, cc, j->app_id, j->app_name, j->sha256, j->files);
	bits_job_free(j);
}

int api_bits_body(struct dew_http_req *req, const char *data, size_t len)
{
	struct bits_job *j = req->data;
	if (j && upload_feed(j->upload, data, len, &j->err) < 0) {
		req->data = NULL;
		bits_fail(j); /* answers: no further callback comes for req */
	}
	return 0;
}

void api_bits_end(struct dew_http_req *req)
{
	struct bits_job *j = req->data;
	if (!j)
		return;
	j->working = true;
	j->work.data = j;
	if (uv_queue_work(api_cc(req)->loop, &j->work, bits_work, bits_done) < 0) {
		j->working = false;
		req->data = NULL;
		dew_error_set(&j->err, ENOMEM, "could not queue the package build");
		bits_fail(j);
	}
}

static void bits_on_abort(struct dew_http_req *req)
{
	struct bits_job *j = req->data;
	if (!j)
		return;
	if (j->working) {
		j->aborted = true; /* bits_done releases it */
		return;
	}
	req->data = NULL;
	dew_http_respond(req, 499, NULL, NULL, 0);
	bits_job_free(j);
}

/* Authenticate req and load the caller's app named by :name into *a: 0, or -1 after answering. */
static int bits_app_load(struct dew_http_req *req, struct store_app *a)
{
	struct cc_user u;
	if (!api_auth(req, &u))
		return -1;
	cleanup_error struct dew_error *err = NULL;
	int r = store_app_get_by_name(api_cc(req)->store, u.id, dew_http_param(req, "name"), a, &err);
	cc_user_clear(&u);
	if (r < 0) {
		api_store_error(req, r, err, "app");
		return -1;
	}
	return 0;
}

void api_bits_begin(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct store_app a = { 0 };
	if (bits_app_load(req, &a) < 0)
		return;
	const struct upload_limits lim = {
		.max_total = cc->cfg.max_upload,
		.max_file = cc->cfg.max_upload_file,
		.max_files = (uint64_t)cc->cfg.max_upload_files,
	};
	struct bits_job *j = xcalloc(1, sizeof(*j));
	j->req = req;
	j->app_id = a.id;
	j->app_name = steal_pointer(&a.name);
	store_app_clear(&a);
	const char *ct = dew_http_header(req, "Content-Type");
	if (upload_new(cc->blobs, ct ? ct : "", &lim, &j->upload, &j->err) < 0) {
		bits_fail(j);
		return;
	}
	req->data = j;
	req->on_abort = bits_on_abort;
}

void api_apps_package(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct store_app a = { 0 };
	if (bits_app_load(req, &a) < 0)
		return;
	json_auto_t *body = api_body_object(req);
	const char *sha = body ? json_string_value(json_object_get(body, "sha256")) : NULL;
	if (!body) {
		/* answered */
	} else if (!sha || !dew_sha256_is_hex(sha)) {
		api_error(req, 400, "`sha256` must be the package's SHA-256 (64 lowercase hex digits)");
	} else if (!blobs_has(cc->blobs, BLOB_MANIFEST, sha, UINT64_MAX) &&
		   !blobs_has(cc->blobs, BLOB_PACKAGE, sha, UINT64_MAX)) {
		api_error(req, 404, "package %s not found: upload the bits", sha);
	} else {
		bits_apply(req, cc, a.id, a.name, sha, UINT64_MAX);
	}
	store_app_clear(&a);
}
