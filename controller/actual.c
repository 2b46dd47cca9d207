// SPDX-License-Identifier: MIT
/*
 * The instances the DEAs report (actual.h). One entry per DEA holds the instances of its last
 * heartbeat plus the starts noted since; queries scan every entry, which stays cheap for the
 * thousands of instances one controller serves. Crash records live in a JSON object keyed by
 * app id, whose insertion order is the eviction order.
 */
#include "actual.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"

enum {
	ACTUAL_ID_MAX = 64,
	ACTUAL_INDEX_MAX = 10000,
	ACTUAL_DESCRIPTION_MAX = 1024,
	ACTUAL_LOG_TAIL_MAX = 40,
	ACTUAL_LOG_LINE_MAX = 4096,
};

const char *const actual_state_names[ACTUAL_N_STATES] = {
	[ACTUAL_STARTING] = "STARTING", [ACTUAL_RUNNING] = "RUNNING", [ACTUAL_STOPPING] = "STOPPING",
	[ACTUAL_STOPPED] = "STOPPED",	[ACTUAL_CRASHED] = "CRASHED", [ACTUAL_DELETED] = "DELETED",
};

struct inst {
	char *droplet, *version, *instance;
	int64_t index;
	enum actual_state state;
	double since;
};

struct dea_entry {
	char *id;
	struct inst *v; /* from the last heartbeat, then starts noted since */
	size_t n, cap;
	uint64_t seen_ms;
};

struct actual {
	struct dea_entry **deas;
	size_t n, cap;
	json_t *crashes; /* app id -> [crash record], newest first */
};

static void inst_clear(struct inst *i)
{
	free(i->droplet);
	free(i->version);
	free(i->instance);
}

static void entry_free(struct dea_entry *e)
{
	for (size_t i = 0; i < e->n; i++)
		inst_clear(&e->v[i]);
	free(e->v);
	free(e->id);
	free(e);
}

struct actual *actual_new(void)
{
	struct actual *a = xzalloc(sizeof(*a));
	a->crashes = json_object();
	return a;
}

void actual_free(struct actual *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		entry_free(a->deas[i]);
	free(a->deas);
	json_decref(a->crashes);
	free(a);
}

bool actual_id_ok(const char *s)
{
	size_t n = s ? strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") : 0;
	return n > 0 && n <= ACTUAL_ID_MAX && s[n] == '\0' && s[0] != '.';
}

static int get_id(const json_t *o, const char *key, const char **out, struct dew_error **err)
{
	int r = dew_json_get_string(o, key, DEW_JSON_REQUIRED, ACTUAL_ID_MAX, out, err);
	if (r < 0)
		return r;
	if (!actual_id_ok(*out))
		return dew_error_set(err, 0, "field `%s` must be 1-%d of A-Z, a-z, 0-9, '_', '.', '-'", key,
				     ACTUAL_ID_MAX);
	return 0;
}

static int parse_state(const char *s)
{
	for (int i = 0; i < ACTUAL_N_STATES; i++)
		if (!strcmp(s, actual_state_names[i]))
			return i;
	return -1;
}

/* One heartbeat entry into *out (strings copied). */
static int parse_inst(const json_t *o, struct inst *out, struct dew_error **err)
{
	const char *droplet, *version, *instance, *state;
	json_int_t index = 0;
	if (!json_is_object(o))
		return dew_error_set(err, 0, "not an object");
	if (get_id(o, "droplet", &droplet, err) < 0 || get_id(o, "version", &version, err) < 0 ||
	    get_id(o, "instance", &instance, err) < 0 ||
	    dew_json_get_int(o, "index", DEW_JSON_REQUIRED, 0, ACTUAL_INDEX_MAX, &index, err) < 0 ||
	    dew_json_get_string(o, "state", DEW_JSON_REQUIRED, 16, &state, err) < 0)
		return -EINVAL;
	int st = parse_state(state);
	if (st < 0)
		return dew_error_set(err, 0, "field `state`: unknown state `%s`", state);
	json_t *ts = json_object_get(o, "state_timestamp");
	if (ts && !json_is_number(ts))
		return dew_error_set(err, 0, "field `state_timestamp` must be a number");
	*out = (struct inst){
		.droplet = xstrdup(droplet),
		.version = xstrdup(version),
		.instance = xstrdup(instance),
		.index = index,
		.state = (enum actual_state)st,
		.since = ts ? json_number_value(ts) : 0,
	};
	return 0;
}

static struct dea_entry *entry_get(struct actual *a, const char *dea, bool create)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->deas[i]->id, dea))
			return a->deas[i];
	if (!create || a->n >= ACTUAL_DEAS_MAX)
		return NULL;
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 8;
		a->deas = xreallocarray(a->deas, a->cap, sizeof(*a->deas));
	}
	struct dea_entry *e = xzalloc(sizeof(*e));
	e->id = xstrdup(dea);
	a->deas[a->n++] = e;
	return e;
}

static void entry_push(struct dea_entry *e, struct inst *i)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 8;
		e->v = xreallocarray(e->v, e->cap, sizeof(*e->v));
	}
	e->v[e->n++] = *i;
}

/* Add to risen the droplet of each instance of v that is RUNNING and was not before on e. */
static void note_risen(const struct dea_entry *e, const struct inst *v, size_t n, json_t *risen)
{
	json_auto_t *was = json_object(); /* the ids RUNNING before, hashed: one pass each */
	for (size_t j = 0; j < e->n; j++)
		if (e->v[j].state == ACTUAL_RUNNING)
			json_object_set_new(was, e->v[j].instance, json_true());
	for (size_t j = 0; j < n; j++)
		if (v[j].state == ACTUAL_RUNNING && !json_object_get(was, v[j].instance))
			json_object_set_new(risen, v[j].droplet, json_true());
}

int actual_heartbeat(struct actual *a, const json_t *msg, uint64_t now_ms, json_t *risen,
		     struct dew_error **err)
{
	const char *dea;
	json_t *list, *o;
	size_t k;
	if (dew_json_get_string(msg, "dea", DEW_JSON_REQUIRED, ACTUAL_ID_MAX, &dea, err) < 0)
		return -EINVAL;
	if (!*dea ||
	    strspn(dea, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(dea))
		return dew_error_set(err, 0, "field `dea` must be 1-%d of A-Z, a-z, 0-9, '_', '-'",
				     ACTUAL_ID_MAX);
	if (dew_json_get_array(msg, "droplets", DEW_JSON_REQUIRED, ACTUAL_INSTANCES_PER_DEA, &list, err) < 0)
		return -EINVAL;
	struct inst *v = xcalloc(json_array_size(list) + 1, sizeof(*v));
	json_array_foreach (list, k, o) {
		if (parse_inst(o, &v[k], err) < 0) {
			for (size_t j = 0; j < k; j++)
				inst_clear(&v[j]);
			free(v);
			return dew_error_prefix(err, "droplets[%zu]", k);
		}
	}
	struct dea_entry *e = entry_get(a, dea, true);
	if (!e) {
		for (size_t j = 0; j < json_array_size(list); j++)
			inst_clear(&v[j]);
		free(v);
		return dew_error_set_code(err, ENOSPC, "more than %d DEAs", ACTUAL_DEAS_MAX);
	}
	if (risen)
		note_risen(e, v, json_array_size(list), risen);
	for (size_t j = 0; j < e->n; j++)
		inst_clear(&e->v[j]);
	free(e->v);
	e->v = v;
	e->n = json_array_size(list);
	e->cap = e->n + 1;
	e->seen_ms = now_ms;
	return 0;
}

void actual_note_start(struct actual *a, const char *dea, const char *droplet, const char *version,
		       const char *instance, int64_t index, double now)
{
	struct dea_entry *e = entry_get(a, dea, true);
	if (!e || e->n >= ACTUAL_INSTANCES_PER_DEA)
		return;
	for (size_t k = 0; k < e->n; k++)
		if (!strcmp(e->v[k].instance, instance))
			return; /* its heartbeat came first */
	struct inst i = {
		.droplet = xstrdup(droplet),
		.version = xstrdup(version),
		.instance = xstrdup(instance),
		.index = index,
		.state = ACTUAL_STARTING,
		.since = now,
	};
	entry_push(e, &i);
}

size_t actual_expire(struct actual *a, uint64_t now_ms, uint64_t ttl_ms, json_t *gone_ids)
{
	size_t kept = 0, gone = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct dea_entry *e = a->deas[i];
		if (e->seen_ms + ttl_ms < now_ms) {
			if (gone_ids)
				json_array_append_new(gone_ids, json_string(e->id));
			entry_free(e);
			gone++;
		} else {
			a->deas[kept++] = e;
		}
	}
	a->n = kept;
	return gone;
}

bool actual_forget_dea(struct actual *a, const char *dea)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->deas[i]->id, dea)) {
			entry_free(a->deas[i]);
			memmove(a->deas + i, a->deas + i + 1, (a->n - i - 1) * sizeof(*a->deas));
			a->n--;
			return true;
		}
	return false;
}

size_t actual_dea_mark(struct actual *a, const char *dea, const json_t *ids, enum actual_state state)
{
	struct dea_entry *e = entry_get(a, dea, false);
	size_t n = 0;
	for (size_t i = 0; e && i < e->n; i++)
		if (json_object_get(ids, e->v[i].instance)) {
			e->v[i].state = state;
			n++;
		}
	return n;
}

bool actual_set_state(struct actual *a, const char *instance, enum actual_state state)
{
	for (size_t d = 0; d < a->n; d++)
		for (size_t i = 0; i < a->deas[d]->n; i++)
			if (!strcmp(a->deas[d]->v[i].instance, instance)) {
				a->deas[d]->v[i].state = state;
				return true;
			}
	return false;
}

size_t actual_each(const struct actual *a, const char *droplet, actual_fn fn, void *data)
{
	size_t n = 0;
	for (size_t d = 0; d < a->n; d++) {
		const struct dea_entry *e = a->deas[d];
		for (size_t i = 0; i < e->n; i++) {
			const struct inst *in = &e->v[i];
			if (strcmp(in->droplet, droplet) != 0)
				continue;
			n++;
			if (!fn)
				continue;
			struct actual_instance view = {
				.dea = e->id,
				.droplet = in->droplet,
				.version = in->version,
				.instance = in->instance,
				.index = in->index,
				.state = in->state,
				.since = in->since,
			};
			fn(&view, data);
		}
	}
	return n;
}

/* Scan droplet's instances with a predicate; the count of those it accepts. */
struct scan {
	const char *version;
	unsigned mask;
	int64_t index; /* -1: any */
	size_t n;
};

static void scan_one(const struct actual_instance *i, void *data)
{
	struct scan *s = data;
	if ((s->version && strcmp(i->version, s->version) != 0) || !(s->mask & (1u << i->state)) ||
	    (s->index >= 0 && i->index != s->index))
		return;
	s->n++;
}

size_t actual_count(const struct actual *a, const char *droplet, const char *version, unsigned mask)
{
	struct scan s = { .version = version, .mask = mask, .index = -1 };
	actual_each(a, droplet, scan_one, &s);
	return s.n;
}

bool actual_index_live(const struct actual *a, const char *droplet, const char *version, int64_t index)
{
	struct scan s = { .version = version, .mask = ACTUAL_LIVE, .index = index };
	actual_each(a, droplet, scan_one, &s);
	return s.n > 0;
}

bool actual_superseded(const struct actual *a, const struct actual_instance *inst, const char *version,
		       int64_t instances)
{
	if (!(ACTUAL_LIVE & (1u << inst->state)) || !version || !strcmp(inst->version, version))
		return false;
	if (inst->index < 0 || inst->index >= instances)
		return true;
	struct scan s = { .version = version, .mask = 1u << ACTUAL_RUNNING, .index = inst->index };
	actual_each(a, inst->droplet, scan_one, &s);
	return s.n > 0;
}

struct superseded {
	const struct actual *a;
	const char *version;
	int64_t instances;
	json_t *ids;
};

static void superseded_one(const struct actual_instance *i, void *data)
{
	struct superseded *s = data;
	if (actual_superseded(s->a, i, s->version, s->instances))
		json_array_append_new(s->ids, json_string(i->instance));
}

json_t *actual_superseded_ids(const struct actual *a, const char *droplet, const char *version,
			      int64_t instances)
{
	struct superseded s = { .a = a, .version = version, .instances = instances, .ids = json_array() };
	actual_each(a, droplet, superseded_one, &s);
	return s.ids;
}

struct versions {
	const char *keep;
	json_t *seen; /* version -> true */
	json_t *indices;
	int64_t from;
};

static void version_one(const struct actual_instance *i, void *data)
{
	struct versions *v = data;
	if (!(ACTUAL_LIVE & (1u << i->state)))
		return;
	if (v->seen && (!v->keep || strcmp(i->version, v->keep) != 0))
		json_object_set_new(v->seen, i->version, json_true());
	if (v->indices && i->index >= v->from) {
		size_t k;
		json_t *x;
		json_array_foreach (v->indices, k, x)
			if (json_integer_value(x) == i->index)
				return;
		json_array_append_new(v->indices, json_integer(i->index));
	}
}

char **actual_other_versions(const struct actual *a, const char *droplet, const char *keep)
{
	struct versions v = { .keep = keep, .seen = json_object() };
	actual_each(a, droplet, version_one, &v);
	char **out = xcalloc(json_object_size(v.seen) + 1, sizeof(*out));
	size_t n = 0;
	const char *key;
	json_t *val;
	json_object_foreach (v.seen, key, val)
		out[n++] = xstrdup(key);
	json_decref(v.seen);
	return out;
}

json_t *actual_live_indices_from(const struct actual *a, const char *droplet, int64_t from)
{
	struct versions v = { .indices = json_array(), .from = from };
	actual_each(a, droplet, version_one, &v);
	return v.indices;
}

size_t actual_total(const struct actual *a)
{
	size_t n = 0;
	for (size_t d = 0; d < a->n; d++)
		n += a->deas[d]->n;
	return n;
}

/* The log_tail of a droplet.exited message: at most ACTUAL_LOG_TAIL_MAX strings, each cut. */
static json_t *crash_log_tail(const json_t *msg)
{
	json_t *tail = json_object_get(msg, "log_tail"), *line;
	size_t k;
	if (!json_is_array(tail))
		return NULL;
	json_t *out = json_array();
	json_array_foreach (tail, k, line) {
		if (k >= ACTUAL_LOG_TAIL_MAX)
			break;
		if (!json_is_string(line))
			continue;
		size_t len = json_string_length(line);
		json_array_append_new(out,
				      json_stringn(json_string_value(line),
						   len > ACTUAL_LOG_LINE_MAX ? ACTUAL_LOG_LINE_MAX : len));
	}
	return out;
}

int actual_exited(struct actual *a, const json_t *msg, struct dew_error **err)
{
	const char *droplet, *version, *instance, *reason, *desc = "", *dea = NULL;
	json_int_t index = 0, status = -1;
	if (get_id(msg, "droplet", &droplet, err) < 0 || get_id(msg, "version", &version, err) < 0 ||
	    get_id(msg, "instance", &instance, err) < 0 ||
	    dew_json_get_int(msg, "index", DEW_JSON_REQUIRED, 0, ACTUAL_INDEX_MAX, &index, err) < 0 ||
	    dew_json_get_string(msg, "reason", DEW_JSON_REQUIRED, 32, &reason, err) < 0 ||
	    dew_json_get_string(msg, "exit_description", DEW_JSON_OPTIONAL, ACTUAL_DESCRIPTION_MAX, &desc,
				err) < 0 ||
	    dew_json_get_string(msg, "dea", DEW_JSON_OPTIONAL, ACTUAL_ID_MAX, &dea, err) < 0 ||
	    dew_json_get_int(msg, "exit_status", DEW_JSON_OPTIONAL, -1, 1 << 16, &status, err) < 0)
		return -EINVAL;
	if (strcmp(reason, "CRASHED") != 0)
		return 0;
	json_t *ts = json_object_get(msg, "crash_timestamp");
	json_t *rec = json_pack("{s:s, s:I, s:s, s:I, s:s, s:f}", "instance", instance, "index", index,
				"version", version, "exit_status", status, "exit_description", desc, "since",
				json_is_number(ts) ? json_number_value(ts) : 0.0);
	if (dea)
		json_object_set_new(rec, "dea", json_string(dea));
	json_t *tail = crash_log_tail(msg);
	if (tail)
		json_object_set_new(rec, "log_tail", tail);

	/* Re-inserted at the end: the least recently heard app is the first key. */
	json_t *list = json_incref(json_object_get(a->crashes, droplet));
	if (!list)
		list = json_array();
	json_object_del(a->crashes, droplet);
	json_array_insert_new(list, 0, rec);
	while (json_array_size(list) > ACTUAL_CRASHES_PER_APP)
		json_array_remove(list, json_array_size(list) - 1);
	if (json_object_size(a->crashes) >= ACTUAL_CRASH_APPS)
		json_object_del(a->crashes, json_object_iter_key(json_object_iter(a->crashes)));
	json_object_set_new(a->crashes, droplet, list);
	return 0;
}

json_t *actual_crashes(const struct actual *a, const char *droplet)
{
	json_t *list = json_object_get(a->crashes, droplet);
	return list ? json_deep_copy(list) : json_array();
}

const json_t *actual_last_crash(const struct actual *a, const char *droplet, const char *version,
				int64_t index)
{
	json_t *list = json_object_get(a->crashes, droplet), *rec;
	size_t k;
	json_array_foreach (list, k, rec) {
		if (json_integer_value(json_object_get(rec, "index")) == index &&
		    (!version || !strcmp(json_string_value(json_object_get(rec, "version")), version)))
			return rec;
	}
	return NULL;
}

void actual_forget_app(struct actual *a, const char *droplet)
{
	json_object_del(a->crashes, droplet);
}
