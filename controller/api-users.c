// SPDX-License-Identifier: MIT
/*
 * Users and tokens: POST /v1/users {username, password, admin?} (an admin, or anyone when
 * open_registration is on; only an admin makes admins), POST /v1/tokens {username, password}
 * -> {token, expires, user, admin}, DELETE /v1/tokens/current. Password hashing is slow on
 * purpose (PBKDF2, auth.h), so it runs on the thread pool, never on the loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "auth.h"
#include "controller.h"
#include "json.h"
#include "log.h"
#include "store.h"

enum { USER_NAME_MAX = 64 };

/* A user name: 1-64 of [a-z0-9._-], starting with a letter or digit. */
static bool users_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > USER_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int users_check(const char *name, const char *password, struct dew_error **err)
{
	if (!users_name_ok(name))
		return dew_error_set(err, 0,
				     "field `username` must be 1-%d of a-z, 0-9, '.', '_', '-', starting "
				     "with a letter or digit",
				     USER_NAME_MAX);
	size_t n = strlen(password);
	if (n < AUTH_PASSWORD_MIN || n > AUTH_PASSWORD_MAX)
		return dew_error_set(err, 0, "field `password` must have %d to %d characters",
				     AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
	return 0;
}

int cc_user_add(struct cc *cc, const char *name, const char *password, bool admin, struct dew_error **err)
{
	if (users_check(name, password, err) < 0)
		return -EINVAL;
	cleanup_free char *hash = auth_password_hash(password, (unsigned)cc->cfg.password_iterations);
	int64_t id = 0;
	return store_user_create(cc->store, name, hash, admin, &id, err);
}

/* Work handed to the thread pool: hash or verify, then finish on the loop. */
struct users_job {
	uv_work_t work;
	struct dew_http_req *req;
	char *name, *password, *hash; /* hash: to verify against (tokens) or the result (users) */
	bool admin;
	bool ok;
	int64_t user_id;
	unsigned iterations;
};

static void users_job_free(struct users_job *j)
{
	free(j->name);
	if (j->password) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->hash);
	free(j);
}

static void users_hash_work(uv_work_t *w)
{
	struct users_job *j = w->data;
	j->hash = auth_password_hash(j->password, j->iterations);
}

static void users_hash_done(uv_work_t *w, int status)
{
	struct users_job *j = w->data;
	struct dew_http_req *req = j->req;
	struct cc *cc = api_cc(req);
	int64_t id = 0;
	cleanup_error struct dew_error *err = NULL;
	int r = store_user_create(cc->store, j->name, j->hash, j->admin, &id, &err);
	if (r == -EEXIST)
		api_error(req, 409, "user `%s` exists already", j->name);
	else if (r < 0)
		api_store_error(req, r, err, "user");
	else {
		dew_info("user %s created%s", j->name, j->admin ? " (admin)" : "");
		dew_http_respond_json(req, 201,
				      json_pack("{s:I, s:s, s:b}", "id", (json_int_t)id, "username", j->name,
						"admin", j->admin));
	}
	users_job_free(j);
}

void api_users_create(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user caller = { 0 };
	bool authed = false;
	if (!cc->cfg.open_registration || dew_http_header(req, "Authorization")) {
		if (!api_auth(req, &caller))
			return;
		authed = true;
		if (!caller.admin && !cc->cfg.open_registration) {
			cc_user_clear(&caller);
			api_error(req, 403, "only an admin can create users (open_registration is off)");
			return;
		}
	}
	json_auto_t *body = api_body_object(req);
	if (!body) {
		cc_user_clear(&caller);
		return;
	}
	const char *name = NULL, *password = NULL;
	bool admin = false;
	cleanup_error struct dew_error *err = NULL;
	if (dew_json_get_string(body, "username", 0, 1024, &name, &err) < 0 ||
	    dew_json_get_string(body, "password", 0, 4096, &password, &err) < 0 ||
	    dew_json_get_bool(body, "admin", DEW_JSON_OPTIONAL, &admin, &err) < 0 ||
	    users_check(name, password, &err) < 0) {
		cc_user_clear(&caller);
		api_error(req, 422, "%s", dew_error_msg(err));
		return;
	}
	if (admin && !(authed && caller.admin)) {
		cc_user_clear(&caller);
		api_error(req, 403, "only an admin can create admins");
		return;
	}
	cc_user_clear(&caller);
	struct users_job *j = xcalloc(1, sizeof(*j));
	j->req = req;
	j->name = xstrdup(name);
	j->password = xstrdup(password);
	j->admin = admin;
	j->iterations = (unsigned)cc->cfg.password_iterations;
	j->work.data = j;
	if (uv_queue_work(cc->loop, &j->work, users_hash_work, users_hash_done) < 0) {
		users_job_free(j);
		api_error(req, 500, "could not queue the password hash");
	}
}

/* Verifying runs even for unknown users (against a fixed hash), so timing does not tell which
 * user names exist. */
static void users_verify_work(uv_work_t *w)
{
	struct users_job *j = w->data;
	j->ok = auth_password_verify(j->password, j->hash) && j->user_id > 0;
}

static void users_verify_done(uv_work_t *w, int status)
{
	struct users_job *j = w->data;
	struct dew_http_req *req = j->req;
	struct cc *cc = api_cc(req);
	if (!j->ok) {
		cc->n.auth_failures++;
		api_error(req, 401, "wrong username or password");
		users_job_free(j);
		return;
	}
	char token[AUTH_TOKEN_HEX + 1], digest[65];
	auth_token_new(token);
	auth_token_digest(token, digest);
	int64_t expires = (int64_t)time(NULL) + (int64_t)(cc->cfg.token_ttl_ms / 1000);
	cleanup_error struct dew_error *err = NULL;
	int r = store_token_create(cc->store, digest, j->user_id, expires, &err);
	if (r < 0)
		api_store_error(req, r, err, "token");
	else
		dew_http_respond_json(req, 201,
				      json_pack("{s:s, s:I, s:s, s:b}", "token", token, "expires",
						(json_int_t)expires, "user", j->name, "admin", j->admin));
	explicit_bzero(token, sizeof token);
	users_job_free(j);
}

void api_tokens_create(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	json_auto_t *body = api_body_object(req);
	if (!body)
		return;
	const char *name = NULL, *password = NULL;
	cleanup_error struct dew_error *err = NULL;
	if (dew_json_get_string(body, "username", 0, 1024, &name, &err) < 0 ||
	    dew_json_get_string(body, "password", 0, 4096, &password, &err) < 0) {
		api_error(req, 422, "%s", dew_error_msg(err));
		return;
	}
	struct users_job *j = xcalloc(1, sizeof(*j));
	j->req = req;
	j->name = xstrdup(name);
	j->password = xstrdup(password);
	struct store_user u = { 0 };
	int r = store_user_get_by_name(cc->store, name, &u, &err);
	if (r == 0) {
		j->user_id = u.id;
		j->admin = u.admin;
		j->hash = steal_pointer(&u.password_hash);
	} else if (r == -ENOENT) {
		/* A fixed hash with the configured cost (made at start): the same work as for a real user. */
		j->hash = xstrdup(cc->decoy_hash);
	} else {
		users_job_free(j);
		api_store_error(req, r, err, "user");
		return;
	}
	store_user_clear(&u);
	j->work.data = j;
	if (uv_queue_work(cc->loop, &j->work, users_verify_work, users_verify_done) < 0) {
		users_job_free(j);
		api_error(req, 500, "could not queue the password check");
	}
}

void api_tokens_delete(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	if (!api_auth(req, &u))
		return;
	cc_user_clear(&u);
	char digest[65];
	auth_token_digest(dew_http_header(req, "Authorization") + 7, digest);
	cleanup_error struct dew_error *err = NULL;
	int r = store_token_delete(cc->store, digest, &err);
	if (r < 0 && r != -ENOENT)
		api_store_error(req, r, err, "token");
	else
		dew_http_respond(req, 204, NULL, NULL, 0);
}
