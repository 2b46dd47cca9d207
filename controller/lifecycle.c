// SPDX-License-Identifier: MIT
/*
 * Lifecycle (issue #7, DESIGN.md section 5.1): after every desired-state change the controller
 * makes the DEAs match the app. A STOPPED (or deleted) app gets dea.stop; a STARTED app with a
 * droplet gets its indices beyond `instances` stopped, every index below it that has no STARTING
 * or RUNNING instance of the current version (actual.h) placed (deapool.h) and started with
 * `dea.<id>.start`, and each instance of another version stopped once the current version runs
 * at its index (a rolling replacement: the old one serves until then). A DEA that refuses or does not answer
 * is avoided and the next one tried, up to LIFECYCLE_TRIES DEAs; an index nobody can run stays down with the
 * reason kept for the instances API. Crashes are not restarted here: that is the health manager's work
 * (cloudcontrollers.hm.requests, hm.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actual.h"
#include "alloc.h"
#include "auth.h"
#include "controller.h"
#include "deapool.h"
#include "json.h"
#include "log.h"
#include "random.h"
#include "store.h"

enum {
	LIFECYCLE_TRIES = 3,		    /* DEAs asked for one instance before it stays down */
	LIFECYCLE_REPLY_MS = 5000,	    /* a DEA answers a start before fetching the droplet */
	LIFECYCLE_URI_VALIDITY = 24 * 3600, /* seconds a droplet URI in a start message is valid */
};

/* One instance being started: waiting for its DEA's answer. */
struct start {
	struct start *next;
	struct cc *cc;
	char *guid, *version;
	int64_t index;
	char instance_id[37];
	char *dea;    /* asked now */
	char **avoid; /* DEAs that refused or did not answer (NULL-terminated) */
	size_t n_avoid;
	int64_t request;
};

static void start_free(struct cc *cc, struct start *s)
{
	for (struct start **p = &cc->starts; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	free(s->guid);
	free(s->version);
	free(s->dea);
	dew_strv_free(s->avoid);
	free(s);
}

static bool start_pending(const struct cc *cc, const char *guid, const char *version, int64_t index)
{
	for (const struct start *s = cc->starts; s; s = s->next)
		if (s->index == index && !strcmp(s->guid, guid) && !strcmp(s->version, version))
			return true;
	return false;
}

/* ---- why an index is down ---- */

static void down_set(struct cc *cc, const char *guid, int64_t index, const char *why)
{
	char key[24];
	snprintf(key, sizeof key, "%" PRId64, index);
	json_t *app = json_object_get(cc->down, guid);
	if (!why) {
		if (app)
			json_object_del(app, key);
		return;
	}
	if (!app) {
		app = json_object();
		json_object_set_new(cc->down, guid, app);
	}
	json_object_set_new(app, key, json_string(why));
}

const char *lifecycle_down_reason(struct cc *cc, const char *guid, int64_t index)
{
	char key[24];
	snprintf(key, sizeof key, "%" PRId64, index);
	return json_string_value(json_object_get(json_object_get(cc->down, guid), key));
}

/* ---- messages ---- */

json_t *lifecycle_uris(struct cc *cc, const struct store_app *a)
{
	struct store_route *rs = NULL;
	size_t n = 0;
	json_t *uris = json_array();
	if (store_route_list(cc->store, a->id, -1, &rs, &n, NULL) < 0)
		return uris;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(uris, json_string(rs[i].host));
	store_route_list_free(rs, n);
	return uris;
}

static void lifecycle_publish(struct cc *cc, const char *subject, json_t *msg)
{
	if (cc->bus && msg)
		dew_bus_publish_json(cc->bus, subject, NULL, msg);
	json_decref(msg);
}

static json_t *start_message(struct cc *cc, const struct store_app *a, const struct start *s)
{
	cleanup_free char *path = xasprintf("/v1/internal/droplets/%s", a->droplet_sha256);
	cleanup_free char *signed_path = auth_sign_path(cc->cfg.internal_secret, "GET", path,
							(int64_t)time(NULL) + LIFECYCLE_URI_VALIDITY);
	if (!signed_path)
		return NULL;
	cleanup_free char *uri = xasprintf("%s%s", cc->cfg.internal_url, signed_path);
	json_t *env = json_loads(a->env_json ? a->env_json : "{}", 0, NULL);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s?, s:I, s:I, s:o, s:[], s:o, s:s}",
			 "droplet", a->guid, "name", a->name, "version", a->version, "instance_id",
			 s->instance_id, "index", (json_int_t)s->index, "droplet_uri", uri, "droplet_sha256",
			 a->droplet_sha256, "stack", a->stack, "start_command", a->command, "memory",
			 (json_int_t)a->memory_mb, "disk", (json_int_t)a->disk_mb, "env",
			 env ? env : json_object(), "services", "uris", lifecycle_uris(cc, a), "health_check",
			 "port");
}

/* Does the app still want s's instance? */
static bool start_wanted(const struct store_app *a, const struct start *s)
{
	return a->state == STORE_APP_STARTED && a->package_state == STORE_PACKAGE_STAGED &&
	       a->droplet_sha256 && !strcmp(a->version, s->version) && s->index < a->instances;
}

static void start_on_reply(struct dew_bus *bus, int status, const struct dew_bus_msg *msg, void *data);

/* dea.stop {droplet, instances: ids} (taken) unless empty; they count as STOPPING until their
 * DEA's next heartbeat, so they are asked once. Returns how many. */
static size_t stop_instances(struct cc *cc, const char *guid, json_t *ids)
{
	size_t n = json_array_size(ids), k;
	json_t *id;
	json_array_foreach (ids, k, id)
		actual_set_state(cc->actual, json_string_value(id), ACTUAL_STOPPING);
	if (n)
		lifecycle_publish(cc, "dea.stop", json_pack("{s:s, s:o}", "droplet", guid, "instances", ids));
	else
		json_decref(ids);
	return n;
}

struct index_scan {
	const char *version;
	int64_t index;
	json_t *ids;
};

static void index_other_one(const struct actual_instance *i, void *data)
{
	struct index_scan *x = data;
	if ((ACTUAL_LIVE & (1u << i->state)) && i->index == x->index && strcmp(i->version, x->version) != 0)
		json_array_append_new(x->ids, json_string(i->instance));
}

/* Stop the instances of other versions at index of a (no room for a new one beside them): true
 * when there were some. The rolling replacement then degrades to stop-then-start there. */
static bool retire_index(struct cc *cc, const struct store_app *a, int64_t index)
{
	struct index_scan x = { .version = a->version, .index = index, .ids = json_array() };
	actual_each(cc->actual, a->guid, index_other_one, &x);
	return stop_instances(cc, a->guid, x.ids) > 0;
}

/* Place s on the next DEA and ask it; on every failure the instance is down with the reason. */
static void start_try(struct start *s)
{
	struct cc *cc = s->cc;
	struct store_app a = { 0 };
	cleanup_free char *why = NULL;
	if (store_app_get_by_guid(cc->store, s->guid, &a, NULL) < 0 || !start_wanted(&a, s)) {
		store_app_clear(&a);
		start_free(cc, s);
		return;
	}
	const char *dea =
		s->n_avoid < LIFECYCLE_TRIES
			? dea_pool_place(cc->deas, a.guid, a.stack, a.memory_mb, a.disk_mb, s->avoid, &why)
			: NULL;
	if (!dea) {
		const char *last = lifecycle_down_reason(cc, a.guid, s->index);
		/* "no DEA has N MB ... free" (deapool.h): no room for the new instance beside the old. */
		bool room = why && !strncmp(why, "no DEA has ", 11);
		if (!why)
			why = xasprintf("%zu DEAs refused it (the last: %s)", s->n_avoid, last ? last : "?");
		if (room && retire_index(cc, &a, s->index)) {
			char *more =
				xasprintf("%s; the older version's instance at this index was stopped to "
					  "make room (the health manager starts this one once there is)",
					  why);
			free(why);
			why = more;
		}
		down_set(cc, a.guid, s->index, why);
		cc->n.placement_failures++;
		dew_notice("app %s (%s) index %" PRId64 " not placed: %s", a.name, a.guid, s->index, why);
		store_app_clear(&a);
		start_free(cc, s);
		return;
	}
	free(s->dea);
	s->dea = xstrdup(dea);
	json_auto_t *m = start_message(cc, &a, s);
	cleanup_free char *body = m ? dew_json_dumps(m) : NULL;
	cleanup_free char *subject = xasprintf("dea.%s.start", dea);
	s->request = body ? dew_bus_request(cc->bus, subject, body, strlen(body), LIFECYCLE_REPLY_MS, false,
					    start_on_reply, s)
			  : -EINVAL;
	if (s->request < 0) {
		down_set(cc, a.guid, s->index,
			 "the start message could not be sent (see the controller's log)");
		dew_err("start %s index %" PRId64 " on %s: %s", a.guid, s->index, dea,
			body ? strerror((int)-s->request) : "could not sign the droplet URI");
		store_app_clear(&a);
		start_free(cc, s);
		return;
	}
	cc->n.placements++;
	store_app_clear(&a);
}

/* Avoid s's DEA from now on, say why, and try the next one. */
static void start_retry(struct start *s, const char *why)
{
	s->avoid = xreallocarray(s->avoid, s->n_avoid + 2, sizeof(*s->avoid));
	s->avoid[s->n_avoid++] = steal_pointer(&s->dea);
	s->avoid[s->n_avoid] = NULL;
	cleanup_free char *line = xasprintf("DEA %s: %s", s->avoid[s->n_avoid - 1], why);
	down_set(s->cc, s->guid, s->index, line);
	dew_info("start of %s index %" PRId64 ": %s", s->guid, s->index, line);
	start_try(s);
}

static void start_on_reply(struct dew_bus *bus, int status, const struct dew_bus_msg *msg, void *data)
{
	struct start *s = data;
	struct cc *cc = s->cc;
	(void)bus;
	s->request = 0;
	if (status == DEW_BUS_ECANCELED) {
		start_free(cc, s);
		return;
	}
	if (status == DEW_BUS_ETIMEDOUT || status == DEW_BUS_ENORESPONDERS) {
		start_retry(s, status == DEW_BUS_ETIMEDOUT ? "did not answer the start" : "is gone");
		return;
	}
	json_auto_t *j = msg->len <= 65536 ? dew_json_parse(msg->data, msg->len, NULL) : NULL;
	const char *error = NULL;
	json_int_t port = 0;
	if (!j || dew_json_get_int(j, "port", DEW_JSON_REQUIRED, 1, 65535, &port, NULL) < 0) {
		if (!j || dew_json_get_string(j, "error", DEW_JSON_REQUIRED, 1024, &error, NULL) < 0)
			error = "answered the start with a malformed reply";
		cc->n.starts_refused++;
		start_retry(s, error);
		return;
	}
	actual_note_start(cc->actual, s->dea, s->guid, s->version, s->instance_id, s->index,
			  (double)time(NULL));
	down_set(cc, s->guid, s->index, NULL);
	dew_info("app %s index %" PRId64 " starting on DEA %s (instance %s, port %" PRId64 ")", s->guid,
		 s->index, s->dea, s->instance_id, (int64_t)port);
	start_free(cc, s);
}

void lifecycle_start_index(struct cc *cc, const struct store_app *a, int64_t index)
{
	if (!cc->bus || start_pending(cc, a->guid, a->version, index))
		return;
	struct start *s = xzalloc(sizeof(*s));
	s->cc = cc;
	s->guid = xstrdup(a->guid);
	s->version = xstrdup(a->version);
	s->index = index;
	dew_uuid4(s->instance_id);
	s->next = cc->starts;
	cc->starts = s;
	start_try(s);
}

/* ---- convergence ---- */

static void stop_all(struct cc *cc, const char *guid)
{
	lifecycle_publish(cc, "dea.stop", json_pack("{s:s}", "droplet", guid));
}

/*
 * A rolling replacement: stop the instances of other versions whose successor runs (or whose
 * index is no longer wanted), and only those, so each old instance serves until the new one at
 * its index is RUNNING. Called at every convergence and whenever a heartbeat shows an instance
 * of the app newly RUNNING (lifecycle_risen).
 */
static void retire(struct cc *cc, const struct store_app *a)
{
	json_t *ids = actual_superseded_ids(cc->actual, a->guid, a->version, a->instances);
	size_t n = stop_instances(cc, a->guid, ids);
	if (n)
		dew_info("app %s (%s): %zu instance(s) of an older version replaced", a->name, a->guid, n);
}

void lifecycle_risen(struct cc *cc, const char *guid)
{
	char **other = NULL;
	struct store_app a = { 0 };
	if (!cc->bus || !actual_id_ok(guid))
		return;
	other = actual_other_versions(cc->actual, guid, NULL);
	bool mixed = other[0] && other[1]; /* two versions live: a replacement in progress */
	dew_strv_free(other);
	if (mixed && store_app_get_by_guid(cc->store, guid, &a, NULL) == 0 && a.state == STORE_APP_STARTED &&
	    a.package_state == STORE_PACKAGE_STAGED)
		retire(cc, &a);
	store_app_clear(&a);
}

void lifecycle_converge(struct cc *cc, const struct store_app *a, const struct store_app *old)
{
	if (!cc->bus)
		return;
	if (a->state != STORE_APP_STARTED) {
		if (!old || old->state == STORE_APP_STARTED ||
		    actual_count(cc->actual, a->guid, NULL, ACTUAL_LIVE))
			stop_all(cc, a->guid);
		json_object_del(cc->down, a->guid);
		return;
	}
	if (a->package_state != STORE_PACKAGE_STAGED || !a->droplet_sha256)
		return; /* staging.c converges once the package is staged */
	char **stale = actual_other_versions(cc->actual, a->guid, a->version);
	bool was_started = old && old->state == STORE_APP_STARTED;
	if (was_started && old->version && strcmp(old->version, a->version) != 0) {
		bool listed = false;
		for (char **v = stale; *v; v++)
			listed |= !strcmp(*v, old->version);
		if (!listed) /* started moments ago: not heard of in a heartbeat yet */
			lifecycle_publish(
				cc, "dea.stop",
				json_pack("{s:s, s:s}", "droplet", a->guid, "version", old->version));
	}
	dew_strv_free(stale);
	retire(cc, a);

	json_t *extra = actual_live_indices_from(cc->actual, a->guid, a->instances);
	for (int64_t i = a->instances; was_started && i < old->instances; i++)
		json_array_append_new(extra, json_integer(i));
	if (json_array_size(extra))
		lifecycle_publish(cc, "dea.stop",
				  json_pack("{s:s, s:o}", "droplet", a->guid, "indices", extra));
	else
		json_decref(extra);
	for (int64_t i = 0; i < a->instances; i++)
		if (!actual_index_live(cc->actual, a->guid, a->version, i))
			lifecycle_start_index(cc, a, i);
}

void lifecycle_deleted(struct cc *cc, const char *guid)
{
	stop_all(cc, guid);
	logs_forget(cc, guid);
	json_object_del(cc->flapping, guid);
	json_object_del(cc->down, guid);
	actual_forget_app(cc->actual, guid);
}

void lifecycle_routes_changed(struct cc *cc, const struct store_app *a)
{
	lifecycle_publish(cc, "dea.update",
			  json_pack("{s:s, s:o}", "droplet", a->guid, "uris", lifecycle_uris(cc, a)));
}

void lifecycle_free_all(struct cc *cc)
{
	while (cc->starts) /* the bus is closed: their requests are gone */
		start_free(cc, cc->starts);
	json_decref(cc->down);
	cc->down = NULL;
}
