// SPDX-License-Identifier: MIT
/*
 * GET /v1/apps/:name/instances, /stats and /crashes (issue #7): the DEAs are asked with
 * dea.find.droplet and their replies gathered until each instance the heartbeats (and accepted
 * starts) told of has replied (actual.h), or find_timeout passed. Indices the app wants but
 * nobody runs are listed as DOWN with the reason: staging, a placement or start failure, the
 * last crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actual.h"
#include "alloc.h"
#include "controller.h"
#include "json.h"
#include "log.h"
#include "store.h"

enum { GATHER_REPLY_MAX = 256 * 1024 };

struct gather;
typedef json_t *(*gather_done_fn)(struct gather *g);

struct gather {
	struct dew_http_req *req;
	struct cc *cc;
	struct store_app app;
	json_t *replies; /* the DEAs' replies, parsed */
	json_t *expect;	 /* ids of the instances heard of: stop once each replied (NULL: the timeout) */
	int64_t request;
	gather_done_fn done; /* the answer's JSON, or NULL when it answered itself */
	int64_t index;	     /* files: the instance asked for */
	char *path, *tail;
};

static void gather_free(struct gather *g)
{
	json_decref(g->replies);
	json_decref(g->expect);
	store_app_clear(&g->app);
	free(g->path);
	free(g->tail);
	free(g);
}

static void gather_finish(struct gather *g)
{
	if (g->request > 0 && g->cc->bus)
		dew_bus_request_cancel(g->cc->bus, g->request);
	g->request = 0;
	g->req->on_abort = NULL;
	json_t *answer = g->done(g);
	if (answer)
		dew_http_respond_json(g->req, 200, answer);
	gather_free(g);
}

static void gather_on_abort(struct dew_http_req *req)
{
	gather_finish(req->data); /* the answer goes nowhere; it releases req */
}

static void gather_on_reply(struct dew_bus *bus, int status, const struct dew_bus_msg *msg, void *data)
{
	struct gather *g = data;
	(void)bus;
	if (status != 0) {
		g->request = 0; /* over: timed out, no DEA at all, or the bus closed */
		gather_finish(g);
		return;
	}
	json_t *j = msg->len <= GATHER_REPLY_MAX ? dew_json_parse(msg->data, msg->len, NULL) : NULL;
	const char *droplet = NULL;
	if (!j || dew_json_get_string(j, "droplet", 0, 64, &droplet, NULL) < 0 ||
	    strcmp(droplet, g->app.guid) != 0) {
		json_decref(j);
		return;
	}
	/* Counting replies would not do: an instance started since the last heartbeat (a scale) may
	 * answer first and end the gathering before one the controller knew of. */
	const char *id = json_string_value(json_object_get(j, "instance"));
	json_array_append_new(g->replies, j);
	if (g->expect && id && json_object_del(g->expect, id) == 0 && json_object_size(g->expect) == 0)
		gather_finish(g);
}

/* Load the app into a new gather (NULL after answering). */
static struct gather *gather_new(struct dew_http_req *req)
{
	struct cc_user u;
	cleanup_free char *owner = NULL;
	struct gather *g = xzalloc(sizeof(*g));
	if (api_app_load(req, &u, &g->app, &owner) < 0) {
		free(g);
		return NULL;
	}
	cc_user_clear(&u);
	return g;
}

struct expect_scan {
	unsigned mask;
	json_t *ids;
};

static void expect_one(const struct actual_instance *i, void *data)
{
	struct expect_scan *e = data;
	if (e->mask & (1u << i->state))
		json_object_set_new(e->ids, i->instance, json_true());
}

/* The ids of app's instances in the states of mask that the controller heard of, or NULL. */
static json_t *expect_ids(const struct actual *a, const char *app, unsigned mask)
{
	struct expect_scan e = { .mask = mask, .ids = json_object() };
	actual_each(a, app, expect_one, &e);
	if (json_object_size(e.ids) == 0) {
		json_decref(e.ids);
		return NULL;
	}
	return e.ids;
}

/* Ask the DEAs for g's app's instances in states, answer with done's JSON. */
static void gather_start(struct dew_http_req *req, struct gather *g, json_t *states, bool stats,
			 unsigned expect_mask, gather_done_fn done)
{
	if (!g) { /* answered already: req is gone */
		json_decref(states);
		return;
	}
	struct cc *cc = api_cc(req);
	g->req = req;
	g->cc = cc;
	g->replies = json_array();
	g->done = done;
	g->expect = expect_ids(cc->actual, g->app.guid, expect_mask);
	json_auto_t *m = json_pack("{s:s, s:o, s:b}", "droplet", g->app.guid, "states", states,
				   "include_stats", stats);
	cleanup_free char *body = dew_json_dumps(m);
	req->data = g;
	req->on_abort = gather_on_abort;
	g->request = cc->bus ? dew_bus_request(cc->bus, "dea.find.droplet", body, strlen(body),
					       cc->cfg.find_timeout_ms, true, gather_on_reply, g)
			     : -ENOTCONN;
	if (g->request < 0)
		gather_finish(g); /* not connected: what the controller knows without the DEAs */
}

/* The reply's fields an instance entry shows. */
static json_t *instance_entry(const json_t *r)
{
	json_t *e = json_object();
	static const char *const keys[] = { "index", "state", "instance", "version", "host", "port", "dea" };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(r, keys[i]);
		if (v)
			json_object_set(e, keys[i], v);
	}
	json_t *since = json_object_get(r, "state_timestamp");
	if (json_is_number(since))
		json_object_set(e, "since", since);
	return e;
}

static int entry_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t ix = json_integer_value(json_object_get(x, "index"));
	json_int_t iy = json_integer_value(json_object_get(y, "index"));
	if (ix != iy)
		return ix < iy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "state")),
		      json_string_value(json_object_get(y, "state")));
}

/* A sorted copy of list (by index, then state). */
static json_t *sorted(json_t *list)
{
	size_t n = json_array_size(list);
	json_t **v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(list, i);
	qsort(v, n, sizeof(*v), entry_cmp);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(list);
	return out;
}

/* The health manager's word on index of g's app when it holds it back, or NULL. */
static const json_t *flapping_of(struct gather *g, int64_t index)
{
	const json_t *f = json_object_get(g->cc->flapping, g->app.guid);
	const char *v = json_string_value(json_object_get(f, "version"));
	char key[24];
	snprintf(key, sizeof key, "%" PRId64, index);
	return v && !strcmp(v, g->app.version) ? json_object_get(json_object_get(f, "indices"), key) : NULL;
}

/* Why index of g's app is not running. */
static char *down_reason(struct gather *g, int64_t index)
{
	const struct store_app *a = &g->app;
	if (a->package_state == STORE_PACKAGE_PENDING)
		return xstrdup(a->package_sha256 ? "waiting for staging" : "no bits uploaded yet");
	if (a->package_state == STORE_PACKAGE_FAILED)
		return xasprintf("staging failed: %s", a->staging_error ? a->staging_error : "?");
	const json_t *flap = flapping_of(g, index);
	if (flap) {
		const json_t *crash = actual_last_crash(g->cc->actual, a->guid, a->version, index);
		const char *last = json_string_value(json_object_get(crash, "exit_description"));
		return xasprintf("crashed %" JSON_INTEGER_FORMAT " times%s%s: %s",
				 json_integer_value(json_object_get(flap, "crashes")), last ? ", last: " : "",
				 last ? last : "",
				 json_is_true(json_object_get(flap, "gave_up"))
					 ? "the health manager gave up (restart the app to try again)"
					 : "restarts back off");
	}
	const char *why = lifecycle_down_reason(g->cc, a->guid, index);
	if (why)
		return xstrdup(why);
	const json_t *crash = actual_last_crash(g->cc->actual, a->guid, a->version, index);
	if (crash)
		return xasprintf("crashed: %s",
				 json_string_value(json_object_get(crash, "exit_description")));
	return xstrdup("not running");
}

static json_t *instances_done(struct gather *g)
{
	const struct store_app *a = &g->app;
	json_t *list = json_array(), *r;
	size_t k;
	int64_t want = a->state == STORE_APP_STARTED ? a->instances : 0;
	bool *up = xcalloc((size_t)want + 1, sizeof(*up));
	json_array_foreach (g->replies, k, r) {
		json_t *e = instance_entry(r);
		json_int_t index = json_integer_value(json_object_get(r, "index"));
		const char *version = json_string_value(json_object_get(r, "version"));
		if (index >= 0 && index < want && version && !strcmp(version, a->version))
			up[index] = true;
		json_array_append_new(list, e);
	}
	for (int64_t i = 0; i < want; i++) {
		if (up[i])
			continue;
		cleanup_free char *why = down_reason(g, i);
		const json_t *flap = flapping_of(g, i);
		json_t *e = json_pack("{s:I, s:s, s:s}", "index", (json_int_t)i, "state",
				      flap ? "FLAPPING" : "DOWN", "reason", why);
		if (flap)
			json_object_set(e, "crashes", json_object_get(flap, "crashes"));
		json_array_append_new(list, e);
	}
	free(up);
	return json_pack("{s:s, s:s, s:I, s:o}", "app", a->name, "version", a->version, "desired",
			 (json_int_t)want, "instances", sorted(list));
}

static json_t *stats_done(struct gather *g)
{
	json_t *list = json_array(), *r;
	size_t k;
	json_array_foreach (g->replies, k, r) {
		json_t *e = instance_entry(r);
		json_t *stats = json_object_get(r, "stats");
		if (json_is_object(stats))
			json_object_set(e, "stats", stats);
		json_array_append_new(list, e);
	}
	return json_pack("{s:s, s:o}", "app", g->app.name, "instances", sorted(list));
}

/* The crash records the controller heard, and those the DEAs still hold that it did not. */
static json_t *crashes_done(struct gather *g)
{
	json_t *list = actual_crashes(g->cc->actual, g->app.guid), *r, *c;
	size_t k, j;
	json_array_foreach (g->replies, k, r) {
		const char *id = json_string_value(json_object_get(r, "instance"));
		bool known = false;
		json_array_foreach (list, j, c)
			known |= id && !strcmp(id, json_string_value(json_object_get(c, "instance")));
		if (known || !id)
			continue;
		json_t *e = json_object();
		static const char *const keys[] = { "instance",		"index", "version", "exit_status",
						    "exit_description", "dea" };
		for (size_t i = 0; i < DEW_ARRAY_SIZE(keys); i++) {
			json_t *v = json_object_get(r, keys[i]);
			if (v)
				json_object_set(e, keys[i], v);
		}
		json_t *ts = json_object_get(r, "crash_timestamp");
		json_object_set(e, "since", json_is_number(ts) ? ts : json_object_get(r, "state_timestamp"));
		json_array_append_new(list, e);
	}
	return json_pack("{s:s, s:o}", "app", g->app.name, "crashes", list);
}

void api_apps_instances(struct dew_http_req *req)
{
	gather_start(req, gather_new(req), json_pack("[s, s, s]", "STARTING", "RUNNING", "STOPPING"), false,
		     ACTUAL_LIVE | (1u << ACTUAL_STOPPING), instances_done);
}

void api_apps_stats(struct dew_http_req *req)
{
	gather_start(req, gather_new(req), json_pack("[s]", "RUNNING"), true, 1u << ACTUAL_RUNNING,
		     stats_done);
}

void api_apps_crashes(struct dew_http_req *req)
{
	gather_start(req, gather_new(req), json_pack("[s]", "CRASHED"), false, 1u << ACTUAL_CRASHED,
		     crashes_done);
}

/* The instance of index g->index to read files from: RUNNING before STARTING before CRASHED,
 * the newest first among equals. */
static const json_t *files_pick(const struct gather *g)
{
	static const char *const order[] = { "RUNNING", "STARTING", "CRASHED" };
	const json_t *best = NULL, *r;
	size_t best_rank = DEW_ARRAY_SIZE(order), k;
	json_array_foreach (g->replies, k, r) {
		const char *state = json_string_value(json_object_get(r, "state"));
		size_t rank = 0;
		if (json_integer_value(json_object_get(r, "index")) != g->index || !state)
			continue;
		while (rank < DEW_ARRAY_SIZE(order) && strcmp(state, order[rank]) != 0)
			rank++;
		bool newer = best && json_number_value(json_object_get(r, "state_timestamp")) >
					     json_number_value(json_object_get(best, "state_timestamp"));
		if (rank < best_rank || (rank == best_rank && rank < DEW_ARRAY_SIZE(order) && newer)) {
			best = r;
			best_rank = rank;
		}
	}
	return best;
}

static json_t *files_done(struct gather *g)
{
	if (!g->req->conn) { /* the client went away while the DEAs were asked */
		dew_http_respond(g->req, 204, NULL, NULL, 0);
		return NULL;
	}
	const json_t *r = files_pick(g);
	const char *uri = json_string_value(json_object_get(r, "file_uri"));
	const char *token = json_string_value(json_object_get(r, "file_token"));
	if (!r) {
		api_error(g->req, 404, "app `%s` has no instance %" PRId64 " to read files from", g->app.name,
			  g->index);
	} else if (!uri || !token) {
		api_error(g->req, 502, "the DEA of instance %" PRId64 " gave no file URI", g->index);
	} else {
		files_proxy_start(g->req, g->cc, uri, token, g->path, g->tail);
	}
	return NULL;
}

void api_apps_files(struct dew_http_req *req)
{
	cleanup_free char *instance = dew_http_query(req, "instance");
	cleanup_free char *tail = dew_http_query(req, "tail");
	int64_t index = 0;
	char *end = NULL;
	if (instance) {
		index = strtoll(instance, &end, 10);
		if (!*instance || *end || index < 0 || index > 10000) {
			api_error(req, 400, "query `instance` must be an instance index (0-10000)");
			return;
		}
	}
	if (tail && (!*tail || strspn(tail, "0123456789") != strlen(tail) || strlen(tail) > 18)) {
		api_error(req, 400, "query `tail` must be a number of bytes");
		return;
	}
	struct gather *g = gather_new(req);
	if (!g)
		return;
	g->index = index;
	const char *path = dew_http_param(req, "*");
	g->path = xstrdup(path ? path : "");
	g->tail = steal_pointer(&tail);
	gather_start(req, g, json_pack("[s, s, s]", "RUNNING", "STARTING", "CRASHED"), false,
		     ACTUAL_LIVE | (1u << ACTUAL_CRASHED), files_done);
}
