// SPDX-License-Identifier: MIT
/*
 * Staging (issue #7, DESIGN.md section 5.1): when a STARTED app's package is PENDING, one
 * `staging` request goes to a DEA (queue group) with signed URIs for the package and the droplet;
 * the log lines it streams on staging.<guid> are kept in a bounded ring per app (GET
 * /v1/apps/:name/staging_log), and the reply makes the package STAGED or FAILED with the reason.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "auth.h"
#include "blobs.h"
#include "buf.h"
#include "controller.h"
#include "json.h"
#include "log.h"
#include "random.h"
#include "store.h"

enum {
	STAGING_LOG_LINES = 500,
	STAGING_LINE_MAX = 4096,     /* longer lines are cut */
	STAGING_REPLY_MAX = 1 << 20, /* a reply is a few hundred bytes */
	STAGING_GRACE_MS = 30000,    /* the DEA's time limit plus download and upload */
	STAGING_URI_VALIDITY = 3600, /* seconds a signed URI outlives the staging time limit */
	STAGING_UPDATE_TRIES = 3,
	STAGING_WATCHERS_MAX = 1024, /* clients following staging logs, beyond: the log so far */
	STAGING_BUSY_MS = 500,	     /* a request a busy DEA turned down is sent again after this */
	STAGING_BUSY_TRIES = 120,    /* times; then the staging fails with the last DEA's answer */
};

/*
 * One app's staging: in flight (request > 0) or done, with the log of the last one. This table
 * lives in this process only: several controllers on one store would need the store to hold
 * "staging of package P in flight since T" so that only one of them sends the request.
 */
struct staging {
	struct staging *next;
	struct cc *cc;
	char *guid;
	char *package_sha256; /* of the staging in flight (or the last one) */
	int64_t request;      /* dew_bus_request id while in flight, else 0 */
	uint64_t log_sid;     /* subscription to staging.<guid> while in flight, else 0 */
	bool busy_wait;	      /* a DEA was busy: sent again by the busy timer */
	int busy_tries;
	char *lines[STAGING_LOG_LINES];
	size_t first, n; /* the ring */
	struct staging_watch *watchers;
};

/* A client following the log of a staging in flight (GET staging_log). */
struct staging_watch {
	struct staging_watch *next;
	struct staging *s;
	struct dew_http_req *req;
};

static struct staging *staging_find(struct cc *cc, const char *guid)
{
	for (struct staging *s = cc->stagings; s; s = s->next)
		if (!strcmp(s->guid, guid))
			return s;
	return NULL;
}

static void staging_log_clear(struct staging *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[(s->first + i) % STAGING_LOG_LINES]);
	s->first = s->n = 0;
}

static void staging_unwatch(struct staging_watch *w)
{
	for (struct staging_watch **p = &w->s->watchers; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	w->s->cc->n_staging_watchers--;
	w->req->on_abort = NULL;
	dew_http_stream_end(w->req);
	free(w);
}

static void staging_watch_abort(struct dew_http_req *req)
{
	staging_unwatch(req->data);
}

/* Stop listening and forget the request (its callback does not come any more); the clients
 * following the log get the end of it. */
static void staging_end(struct staging *s)
{
	while (s->watchers)
		staging_unwatch(s->watchers);
	if (s->request > 0 && s->cc->bus)
		dew_bus_request_cancel(s->cc->bus, s->request);
	if (s->log_sid && s->cc->bus)
		dew_bus_unsubscribe(s->cc->bus, s->log_sid, 0);
	s->request = 0;
	s->log_sid = 0;
	s->busy_wait = false;
}

static void staging_log_add(struct staging *s, const char *line, size_t len)
{
	if (len > STAGING_LINE_MAX)
		len = STAGING_LINE_MAX;
	char *copy = xmalloc(len + 1);
	memcpy(copy, line, len);
	copy[len] = '\0';
	for (char *p = copy; (p = strpbrk(p, "\r\n"));)
		*p = ' '; /* one line stays one line in the text answer */
	for (struct staging_watch *w = s->watchers; w; w = w->next) {
		dew_http_stream_write(w->req, copy, strlen(copy));
		dew_http_stream_write(w->req, "\n", 1);
	}
	if (s->n == STAGING_LOG_LINES) {
		free(s->lines[s->first]);
		s->lines[s->first] = copy;
		s->first = (s->first + 1) % STAGING_LOG_LINES;
	} else {
		s->lines[(s->first + s->n++) % STAGING_LOG_LINES] = copy;
	}
}

/* A line on staging.<guid>: {app, source, stream, ts, line}; anything else is dropped. */
static void staging_on_log(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct staging *s = data;
	(void)bus;
	if (msg->len > STAGING_REPLY_MAX)
		return;
	json_auto_t *j = dew_json_parse(msg->data, msg->len, NULL);
	const char *line = NULL;
	if (!j || dew_json_get_string(j, "line", 0, 0, &line, NULL) != 0) {
		dew_debug("staging log of %s: a malformed message dropped", s->guid);
		return;
	}
	staging_log_add(s, line, strlen(line));
}

/* The outcome of one staging, written to the app if its package is still the one staged. */
struct staging_result {
	const char *droplet_sha256, *buildpack, *command; /* success */
	const char *error;				  /* failure: the reason */
};

static void staging_apply(struct staging_result *res, struct store_app *a)
{
	a->package_state = res->error ? STORE_PACKAGE_FAILED : STORE_PACKAGE_STAGED;
	free(a->staging_error);
	a->staging_error = res->error ? xstrdup(res->error) : NULL;
	if (res->error)
		return;
	/* Instances running an older droplet are replaced: a new version stops them (lifecycle.c). */
	if (!a->droplet_sha256 || strcmp(a->droplet_sha256, res->droplet_sha256) != 0) {
		char v[37];
		dew_uuid4(v);
		free(a->version);
		a->version = xstrdup(v);
	}
	free(a->droplet_sha256);
	a->droplet_sha256 = xstrdup(res->droplet_sha256);
	free(a->detected_buildpack);
	a->detected_buildpack = res->buildpack ? xstrdup(res->buildpack) : NULL;
	free(a->detected_command);
	a->detected_command = res->command ? xstrdup(res->command) : NULL;
}

static void staging_finish(struct staging *s, struct staging_result *res)
{
	struct cc *cc = s->cc;
	struct store_app a = { 0 };
	cleanup_error struct dew_error *err = NULL;
	int r = 0;
	staging_end(s);
	for (int tries = 0; tries < STAGING_UPDATE_TRIES; tries++) {
		store_app_clear(&a);
		dew_error_free(steal_pointer(&err));
		if ((r = store_app_get_by_guid(cc->store, s->guid, &a, &err)) < 0)
			break;
		if (!a.package_sha256 || strcmp(a.package_sha256, s->package_sha256) != 0) {
			dew_info("staging of %s (package %.12s) ended, but the app has a newer package: "
				 "result dropped",
				 s->guid, s->package_sha256);
			store_app_clear(&a);
			return;
		}
		staging_apply(res, &a);
		if ((r = store_app_update(cc->store, &a, &err)) != -ESTALE)
			break;
	}
	if (r == -ENOENT) {
		dew_info("staging of %s ended after the app was deleted", s->guid);
	} else if (r < 0) {
		dew_err("record the staging of %s: %s", s->guid, err ? dew_error_msg(err) : strerror(-r));
	} else if (res->error) {
		cc->n.stagings_failed++;
		dew_notice("staging of %s (%s) failed: %s", a.name, s->guid, res->error);
	} else {
		cc->n.stagings_succeeded++;
		dew_info("app %s (%s) staged: droplet %.12s, buildpack %s", a.name, s->guid,
			 res->droplet_sha256, res->buildpack ? res->buildpack : "?");
		json_auto_t *m = json_pack("{s:s}", "droplet", s->guid);
		dew_bus_publish_json(cc->bus, "droplet.updated", NULL, m);
		lifecycle_converge(cc, &a, NULL);
	}
	store_app_clear(&a);
}

/* Check a success reply {droplet_sha256, buildpack, start_command, ...} into *res: NULL or why
 * it is malformed. */
static const char *staging_check_reply(const json_t *j, struct staging_result *res)
{
	const char *sha = NULL;
	if (dew_json_get_string(j, "droplet_sha256", 0, 64, &sha, NULL) != 0 || strlen(sha) != 64 ||
	    strspn(sha, "0123456789abcdef") != 64)
		return "the DEA's staging reply has no valid `droplet_sha256`";
	if (dew_json_get_string(j, "buildpack", DEW_JSON_OPTIONAL, 256, &res->buildpack, NULL) < 0)
		return "the DEA's staging reply has a malformed `buildpack`";
	if (dew_json_get_string(j, "start_command", DEW_JSON_OPTIONAL, 4096, &res->command, NULL) < 0)
		return "the DEA's staging reply has a malformed `start_command`";
	res->droplet_sha256 = sha;
	return NULL;
}

static void staging_on_busy_timer(uv_timer_t *t);

static void staging_on_reply(struct dew_bus *bus, int status, const struct dew_bus_msg *msg, void *data)
{
	struct staging *s = data;
	struct cc *cc = s->cc;
	struct staging_result res = { 0 };
	cleanup_free char *why = NULL;
	json_auto_t *j = NULL;
	(void)bus;
	s->request = 0; /* this request is over: nothing to cancel */
	if (status == DEW_BUS_ECANCELED) {
		s->log_sid = 0; /* the bus is closing (the controller stops): the app stays PENDING */
		return;
	}
	if (status == DEW_BUS_ETIMEDOUT) {
		why = xasprintf("staging timed out after %" PRIu64 " s",
				(cc->cfg.staging_timeout_ms + STAGING_GRACE_MS) / 1000);
	} else if (status == DEW_BUS_ENORESPONDERS) {
		why = xstrdup("no DEA is staging (nothing subscribes to `staging`)");
	} else if (status < 0) {
		why = xasprintf("the staging request failed: %s", uv_strerror(status));
	} else if (msg->len > STAGING_REPLY_MAX || !(j = dew_json_parse(msg->data, msg->len, NULL)) ||
		   !json_is_object(j)) {
		why = xstrdup("the DEA's staging reply is not a JSON object");
	} else if (json_is_string(json_object_get(j, "failure")) &&
		   !strcmp(json_string_value(json_object_get(j, "failure")), "busy") &&
		   s->busy_tries < STAGING_BUSY_TRIES) {
		s->busy_tries++;
		s->busy_wait = true;
		uv_timer_start(&cc->staging_timer, staging_on_busy_timer, STAGING_BUSY_MS, 0);
		return;
	} else if (json_object_get(j, "error")) {
		const char *e = NULL;
		why = dew_json_get_string(j, "error", 0, STAGING_LINE_MAX, &e, NULL) == 0 && *e
			      ? xstrdup(e)
			      : xstrdup("the DEA's staging reply has a malformed `error`");
	} else {
		const char *bad = staging_check_reply(j, &res);
		if (bad)
			why = xstrdup(bad);
		else if (!blobs_has(cc->blobs, BLOB_DROPLET, res.droplet_sha256, UINT64_MAX))
			why = xstrdup("the droplet was not uploaded");
	}
	res.error = why;
	staging_finish(s, &res);
}

/* The signed internal URI of method and path, valid for the staging and an hour more. */
static char *staging_uri(struct cc *cc, const char *method, const char *path)
{
	int64_t expires =
		(int64_t)time(NULL) + (int64_t)(cc->cfg.staging_timeout_ms / 1000) + STAGING_URI_VALIDITY;
	cleanup_free char *signed_path = auth_sign_path(cc->cfg.internal_secret, method, path, expires);
	return signed_path ? xasprintf("%s%s", cc->cfg.internal_url, signed_path) : NULL;
}

static json_t *staging_request(struct cc *cc, const struct store_app *a, const char *log_subject)
{
	cleanup_free char *pkg_path = xasprintf("/v1/internal/packages/%s", a->package_sha256);
	cleanup_free char *drop_path = xasprintf("/v1/internal/droplets/%s", a->guid);
	cleanup_free char *pkg_uri = staging_uri(cc, "GET", pkg_path);
	cleanup_free char *drop_uri = staging_uri(cc, "PUT", drop_path);
	if (!pkg_uri || !drop_uri)
		return NULL;
	json_t *env = json_loads(a->env_json ? a->env_json : "{}", 0, NULL);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:o, s:[], s:I, s:I, s:s}", "app_id", a->guid,
			 "package_uri", pkg_uri, "package_sha256", a->package_sha256, "droplet_upload_uri",
			 drop_uri, "stack", a->stack, "buildpack", a->buildpack, "start_command", a->command,
			 "env", env ? env : json_object(), "services", "memory", (json_int_t)a->memory_mb,
			 "disk", (json_int_t)a->disk_mb, "log_subject", log_subject);
}

/* Send the staging request of s for a (subscribed to its log lines first). */
static void staging_send(struct staging *s, const struct store_app *a)
{
	struct cc *cc = s->cc;
	cleanup_free char *log_subject = xasprintf("staging.%s", a->guid);
	json_auto_t *req = staging_request(cc, a, log_subject);
	cleanup_free char *body = req ? dew_json_dumps(req) : NULL;
	struct staging_result res = { .error = "the staging request could not be made (see the log)" };
	if (!body) {
		dew_err("staging of %s: could not sign the internal URIs (internal_url `%s`)", a->guid,
			cc->cfg.internal_url);
		staging_finish(s, &res);
		return;
	}
	if (!s->log_sid)
		s->log_sid = dew_bus_subscribe(cc->bus, log_subject, NULL, staging_on_log, s);
	int64_t id =
		dew_bus_request(cc->bus, "staging", body, strlen(body),
				cc->cfg.staging_timeout_ms + STAGING_GRACE_MS, false, staging_on_reply, s);
	if (id < 0) {
		dew_err("staging of %s: request: %s", a->guid, strerror((int)-id));
		staging_finish(s, &res);
		return;
	}
	s->request = id;
	if (!s->busy_tries)
		cc->n.stagings_started++;
	dew_info("staging %s (%s): package %.12s%s", a->name, a->guid, a->package_sha256,
		 s->busy_tries ? " (again: the last DEA asked was busy)" : "");
}

/* Every STAGING_BUSY_MS: send again the requests a busy DEA turned down, if their app still
 * wants that package staged. */
static void staging_on_busy_timer(uv_timer_t *t)
{
	struct cc *cc = t->data;
	for (struct staging *s = cc->stagings; s; s = s->next) {
		if (!s->busy_wait)
			continue;
		s->busy_wait = false;
		struct store_app a = { 0 };
		if (store_app_get_by_guid(cc->store, s->guid, &a, NULL) == 0 &&
		    a.state == STORE_APP_STARTED && a.package_state == STORE_PACKAGE_PENDING &&
		    a.package_sha256 && !strcmp(a.package_sha256, s->package_sha256))
			staging_send(s, &a);
		else
			staging_end(s);
		store_app_clear(&a);
	}
}

void staging_init(struct cc *cc)
{
	uv_timer_init(cc->loop, &cc->staging_timer);
	cc->staging_timer.data = cc;
}

void staging_stop(struct cc *cc)
{
	if (!uv_is_closing((uv_handle_t *)&cc->staging_timer))
		uv_close((uv_handle_t *)&cc->staging_timer, NULL);
}

void staging_maybe_start(struct cc *cc, const struct store_app *a)
{
	if (a->state != STORE_APP_STARTED || a->package_state != STORE_PACKAGE_PENDING ||
	    !a->package_sha256 || !cc->bus)
		return;
	struct staging *s = staging_find(cc, a->guid);
	if (s && (s->request > 0 || s->busy_wait) && !strcmp(s->package_sha256, a->package_sha256))
		return; /* this package is staging already */
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->cc = cc;
		s->guid = xstrdup(a->guid);
		s->next = cc->stagings;
		cc->stagings = s;
	} else if (s->request > 0) {
		dew_info("staging of %s (package %.12s) superseded by package %.12s", a->guid,
			 s->package_sha256, a->package_sha256);
	}
	staging_end(s);
	staging_log_clear(s);
	free(s->package_sha256);
	s->package_sha256 = xstrdup(a->package_sha256);
	s->busy_tries = 0;

	staging_send(s, a);
}

void staging_forget(struct cc *cc, const char *guid)
{
	for (struct staging **p = &cc->stagings; *p; p = &(*p)->next) {
		struct staging *s = *p;
		if (strcmp(s->guid, guid) != 0)
			continue;
		*p = s->next;
		staging_end(s);
		staging_log_clear(s);
		free(s->guid);
		free(s->package_sha256);
		free(s);
		return;
	}
}

void staging_free_all(struct cc *cc)
{
	while (cc->stagings)
		staging_forget(cc, cc->stagings->guid);
}

size_t staging_in_flight(const struct cc *cc)
{
	size_t n = 0;
	for (const struct staging *s = cc->stagings; s; s = s->next)
		n += s->request > 0 || s->busy_wait;
	return n;
}

bool staging_log_answer(struct cc *cc, const char *guid, struct dew_http_req *req)
{
	struct staging *s = staging_find(cc, guid);
	if (!s)
		return false;
	struct dew_buf text = DEW_BUF_INIT;
	for (size_t i = 0; i < s->n; i++) {
		dew_buf_puts(&text, s->lines[(s->first + i) % STAGING_LOG_LINES]);
		dew_buf_putc(&text, '\n');
	}
	if ((s->request > 0 || s->busy_wait) && cc->n_staging_watchers < STAGING_WATCHERS_MAX) {
		struct staging_watch *w = xzalloc(sizeof(*w));
		w->s = s;
		w->req = req;
		w->next = s->watchers;
		s->watchers = w;
		cc->n_staging_watchers++;
		req->data = w;
		req->on_abort = staging_watch_abort;
		dew_http_add_header(req, "Cache-Control", "no-cache");
		dew_http_stream_start(req, 200, "text/plain; charset=utf-8");
		if (text.len)
			dew_http_stream_write(req, text.data, text.len);
	} else {
		dew_http_respond(req, 200, "text/plain; charset=utf-8", text.data ? text.data : "", text.len);
	}
	dew_buf_close(&text);
	return true;
}

void staging_resume(struct cc *cc)
{
	struct store_app *apps = NULL;
	size_t n = 0;
	cleanup_error struct dew_error *err = NULL;
	if (store_app_list(cc->store, -1, &apps, &n, &err) < 0) {
		dew_err("resume stagings: %s", dew_error_msg(err));
		return;
	}
	for (size_t i = 0; i < n; i++)
		staging_maybe_start(cc, &apps[i]);
	store_app_list_free(apps, n);
}
