// SPDX-License-Identifier: MIT
/*
 * The pool of DEAs built from dea.advertise, and placement of one instance on it (deapool.h).
 * Entries are kept sorted by id, so lookups are a binary search and listings are stable; a
 * placement is one pass over the entries.
 */
#include "deapool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"

enum {
	DEAPOOL_ID_MAX = 64,	     /* bytes of a DEA id, an app id (key) or a stack name */
	DEAPOOL_STACKS_MAX = 32,     /* stacks per DEA */
	DEAPOOL_BUILDPACKS_MAX = 64, /* buildpacks per DEA */
	DEAPOOL_TAGS_MAX = 32,	     /* placement tags per DEA */
	DEAPOOL_APPS_MAX = 10000,    /* entries of app_id_to_count */
	DEAPOOL_COUNT_MAX = 1000000, /* instances of one app on one DEA */
	DEAPOOL_DEAS_MAX = 4096,     /* DEAs in the pool (bounds what a flood of ids can allocate) */
};

/* Bound of available_memory / available_disk (MB) in either direction: 2^40 MB is an exbibyte,
 * and keeps every sum of reservations far from overflow. */
#define DEAPOOL_MB_MAX ((json_int_t)1 << 40)

struct dea_entry {
	char *id;
	char **stacks;	   /* as advertised */
	char **buildpacks; /* as advertised; NULL when the DEA sent none (it does not stage) */
	int64_t memory_mb; /* available as advertised, negative clamped to 0 */
	int64_t disk_mb;
	json_t *counts;	   /* app id -> instances, as advertised (zero counts left out) */
	int64_t instances; /* sum of counts */
	/* Reserved here by dea_pool_place since the advertisement above. */
	int64_t res_memory_mb;
	int64_t res_disk_mb;
	json_t *res_counts; /* app id -> instances placed */
	int64_t res_instances;
	uint64_t seen_ms;
};

struct dea_pool {
	struct dea_entry **v; /* sorted by id */
	size_t n, cap;
};

static void entry_free(struct dea_entry *e)
{
	if (!e)
		return;
	free(e->id);
	dew_strv_free(e->stacks);
	dew_strv_free(e->buildpacks);
	json_decref(e->counts);
	json_decref(e->res_counts);
	free(e);
}

/* Create an empty pool. */
struct dea_pool *dea_pool_new(void)
{
	return xzalloc(sizeof(struct dea_pool));
}

/* Free the pool and every entry; NULL is fine. */
void dea_pool_free(struct dea_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		entry_free(p->v[i]);
	free(p->v);
	free(p);
}

/* Binary search for id: returns true with *at its index, or false with *at where it would go. */
static bool pool_find(const struct dea_pool *p, const char *id, size_t *at)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->v[mid]->id, id);
		if (c == 0) {
			*at = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return false;
}

static bool id_ok(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
	return n > 0 && s[n] == '\0' && n <= DEAPOOL_ID_MAX;
}

/* A size in MB: an integer; a DEA that overcommitted may advertise a negative one, which means
 * no room, so it is clamped to 0. */
static int get_mb(const json_t *msg, const char *key, int64_t *out, struct dew_error **err)
{
	json_int_t v = 0;
	int r = dew_json_get_int(msg, key, DEW_JSON_REQUIRED, -DEAPOOL_MB_MAX, DEAPOOL_MB_MAX, &v, err);

	if (r < 0)
		return r;
	*out = v < 0 ? 0 : v;
	return 0;
}

/* Copy app_id_to_count into e->counts, checking every key and count first. */
static int get_counts(const json_t *msg, struct dea_entry *e, struct dew_error **err)
{
	json_t *obj = NULL, *v;
	const char *app;
	int r = dew_json_get_object(msg, "app_id_to_count", DEW_JSON_REQUIRED, &obj, err);

	if (r < 0)
		return r;
	if (json_object_size(obj) > DEAPOOL_APPS_MAX)
		return dew_error_set(err, 0, "field `app_id_to_count` has more than %d entries",
				     DEAPOOL_APPS_MAX);
	json_object_foreach (obj, app, v) {
		size_t len = strlen(app);
		if (len == 0 || len > DEAPOOL_ID_MAX)
			return dew_error_set(err, 0,
					     "field `app_id_to_count` has a key that is not 1 to %d bytes",
					     DEAPOOL_ID_MAX);
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > DEAPOOL_COUNT_MAX)
			return dew_error_set(err, 0,
					     "field `app_id_to_count`: the count of `%s` must be an "
					     "integer between 0 and %d",
					     app, DEAPOOL_COUNT_MAX);
	}
	e->counts = json_object();
	json_object_foreach (obj, app, v) {
		if (json_integer_value(v) == 0)
			continue;
		json_object_set_new(e->counts, app, json_integer(json_integer_value(v)));
		e->instances += json_integer_value(v);
	}
	return 0;
}

/* Build an entry from an advertisement, or return NULL with *err set, having kept nothing. */
static struct dea_entry *entry_parse(const json_t *msg, struct dew_error **err)
{
	const char *id = NULL;
	cleanup_strv char **tags = NULL;

	if (dew_json_get_string(msg, "id", DEW_JSON_REQUIRED, DEAPOOL_ID_MAX, &id, err) < 0)
		return NULL;
	if (!id_ok(id)) {
		dew_error_set(err, 0, "field `id` must be 1 to %d letters, digits, `-` or `_`",
			      DEAPOOL_ID_MAX);
		return NULL;
	}
	/* Tags are checked, not used: placement by tag is not part of the design yet. */
	if (dew_json_get_string_array(msg, "placement_tags", DEW_JSON_OPTIONAL, DEAPOOL_TAGS_MAX,
				      DEAPOOL_ID_MAX, &tags, err) < 0)
		return NULL;

	struct dea_entry *e = xzalloc(sizeof *e);
	if (dew_json_get_string_array(msg, "stacks", DEW_JSON_REQUIRED, DEAPOOL_STACKS_MAX, DEAPOOL_ID_MAX,
				      &e->stacks, err) < 0 ||
	    dew_json_get_string_array(msg, "buildpacks", DEW_JSON_OPTIONAL, DEAPOOL_BUILDPACKS_MAX,
				      DEAPOOL_ID_MAX, &e->buildpacks, err) < 0 ||
	    get_mb(msg, "available_memory", &e->memory_mb, err) < 0 ||
	    get_mb(msg, "available_disk", &e->disk_mb, err) < 0 || get_counts(msg, e, err) < 0) {
		entry_free(e);
		return NULL;
	}
	e->id = xstrdup(id);
	e->res_counts = json_object();
	return e;
}

/* Validate an advertisement, then add its DEA or replace the entry (and its reservations). */
int dea_pool_advertise(struct dea_pool *p, const json_t *msg, uint64_t now_ms, struct dew_error **err)
{
	struct dea_entry *e = entry_parse(msg, err);
	size_t at;
	int r;

	/* Every refusal of the parser is a logical one (EINVAL). */
	if (!e)
		return -EINVAL;
	e->seen_ms = now_ms;
	if (pool_find(p, e->id, &at)) {
		/* The DEA's numbers now include what it started, so local reservations go. */
		entry_free(p->v[at]);
		p->v[at] = e;
		return 0;
	}
	if (p->n >= DEAPOOL_DEAS_MAX) {
		r = dew_error_set_code(err, ENOSPC, "the pool already holds %d DEAs; `%s` is not added",
				       DEAPOOL_DEAS_MAX, e->id);
		entry_free(e);
		return r;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = xreallocarray(p->v, p->cap, sizeof *p->v);
	}
	memmove(p->v + at + 1, p->v + at, (p->n - at) * sizeof *p->v);
	p->v[at] = e;
	p->n++;
	return 0;
}

/* Drop the entries last seen before now_ms - ttl_ms, keeping the order. */
void dea_pool_expire(struct dea_pool *p, uint64_t now_ms, uint64_t ttl_ms)
{
	if (now_ms < ttl_ms)
		return;
	uint64_t oldest = now_ms - ttl_ms;
	size_t kept = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i]->seen_ms < oldest)
			entry_free(p->v[i]);
		else
			p->v[kept++] = p->v[i];
	}
	p->n = kept;
}

/* Drop one entry by id, if present. */
void dea_pool_remove(struct dea_pool *p, const char *dea_id)
{
	size_t at;

	if (!dea_id || !pool_find(p, dea_id, &at))
		return;
	entry_free(p->v[at]);
	memmove(p->v + at, p->v + at + 1, (p->n - at - 1) * sizeof *p->v);
	p->n--;
}

static int64_t count_of(const json_t *counts, const char *app)
{
	json_t *c = json_object_get(counts, app);
	return c ? json_integer_value(c) : 0;
}

static int64_t entry_free_memory(const struct dea_entry *e)
{
	return e->memory_mb > e->res_memory_mb ? e->memory_mb - e->res_memory_mb : 0;
}

static int64_t entry_free_disk(const struct dea_entry *e)
{
	return e->disk_mb > e->res_disk_mb ? e->disk_mb - e->res_disk_mb : 0;
}

static bool strv_has(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* What a failed placement saw, for the one-line reason. */
struct place_scan {
	size_t with_stack;	/* DEAs offering the stack, avoided or not */
	size_t avoided;		/* of those, skipped because the caller asked */
	size_t mem_ok, disk_ok; /* of the others, those with enough memory / disk */
	int64_t most_memory, most_disk;
};

static char *place_why(const struct place_scan *s, size_t n_deas, const char *stack, int64_t memory_mb,
		       int64_t disk_mb)
{
	if (n_deas == 0)
		return xasprintf("no DEA offers stack `%s` (no DEA is advertising)", stack);
	if (s->with_stack == 0)
		return xasprintf("no DEA offers stack `%s`", stack);
	if (s->with_stack == s->avoided)
		return xasprintf("no DEA offers stack `%s` but the %zu excluded", stack, s->avoided);
	if (s->mem_ok == 0)
		return xasprintf("no DEA has %" PRId64 " MB of memory free (most free: %" PRId64 " MB)",
				 memory_mb, s->most_memory);
	if (s->disk_ok == 0)
		return xasprintf("no DEA has %" PRId64 " MB of disk free (most free: %" PRId64 " MB)",
				 disk_mb, s->most_disk);
	return xasprintf("no DEA has %" PRId64 " MB of memory and %" PRId64 " MB of disk free at once (most "
			 "free: %" PRId64 " MB of memory, %" PRId64 " MB of disk, on different DEAs)",
			 memory_mb, disk_mb, s->most_memory, s->most_disk);
}

/* True when a (with n_a instances of the app) is a better home than b (with n_b). */
static bool place_better(const struct dea_entry *a, int64_t n_a, const struct dea_entry *b, int64_t n_b)
{
	if (n_a != n_b)
		return n_a < n_b;
	if (entry_free_memory(a) != entry_free_memory(b))
		return entry_free_memory(a) > entry_free_memory(b);
	return strcmp(a->id, b->id) < 0;
}

/* Pick the best DEA for one instance in one pass and reserve on it, or say why none fits. */
const char *dea_pool_place(struct dea_pool *p, const char *app_guid, const char *stack, int64_t memory_mb,
			   int64_t disk_mb, char *const *avoid, char **why)
{
	struct place_scan s = { 0 };
	struct dea_entry *best = NULL;
	int64_t best_n = 0;

	memory_mb = memory_mb < 0 ? 0 : memory_mb;
	disk_mb = disk_mb < 0 ? 0 : disk_mb;
	for (size_t i = 0; i < p->n; i++) {
		struct dea_entry *e = p->v[i];
		if (!strv_has(e->stacks, stack))
			continue;
		s.with_stack++;
		if (strv_has(avoid, e->id)) {
			s.avoided++;
			continue;
		}
		int64_t mem = entry_free_memory(e), disk = entry_free_disk(e);
		s.most_memory = mem > s.most_memory ? mem : s.most_memory;
		s.most_disk = disk > s.most_disk ? disk : s.most_disk;
		s.mem_ok += mem >= memory_mb;
		s.disk_ok += disk >= disk_mb;
		if (mem < memory_mb || disk < disk_mb)
			continue;
		int64_t n = count_of(e->counts, app_guid) + count_of(e->res_counts, app_guid);
		if (!best || place_better(e, n, best, best_n)) {
			best = e;
			best_n = n;
		}
	}
	if (!best) {
		if (why)
			*why = place_why(&s, p->n, stack, memory_mb, disk_mb);
		return NULL;
	}
	best->res_memory_mb += memory_mb;
	best->res_disk_mb += disk_mb;
	best->res_instances++;
	json_object_set_new(best->res_counts, app_guid,
			    json_integer(count_of(best->res_counts, app_guid) + 1));
	return best->id;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The union of one string list of every entry (which picks it), sorted and unique. */
static char **pool_union(const struct dea_pool *p, char **(*which)(const struct dea_entry *e))
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < p->n; i++)
		for (char **s = which(p->v[i]); s && *s; s++)
			n++;
	/* Borrowed pointers first, so only the unique names are copied. */
	const char **all = xcalloc(n ? n : 1, sizeof *all);
	for (size_t i = 0; i < p->n; i++)
		for (char **s = which(p->v[i]); s && *s; s++)
			all[k++] = *s;
	qsort(all, n, sizeof *all, cmp_str);
	char **out = xcalloc(n + 1, sizeof *out);
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || strcmp(out[k - 1], all[i]) != 0)
			out[k++] = xstrdup(all[i]);
	free(all);
	return out;
}

static char **entry_stacks(const struct dea_entry *e)
{
	return e->stacks;
}

static char **entry_buildpacks(const struct dea_entry *e)
{
	return e->buildpacks;
}

/* The union of the advertised stacks, sorted and unique. */
char **dea_pool_stacks(const struct dea_pool *p)
{
	return pool_union(p, entry_stacks);
}

/* The union of the advertised buildpacks, sorted and unique. */
char **dea_pool_buildpacks(const struct dea_pool *p)
{
	return pool_union(p, entry_buildpacks);
}

/* How many DEAs the pool holds. */
size_t dea_pool_count(const struct dea_pool *p)
{
	return p->n;
}

/* Describe each DEA, by id, with local reservations subtracted. */
json_t *dea_pool_json(const struct dea_pool *p, uint64_t now_ms)
{
	json_t *a = json_array();

	for (size_t i = 0; i < p->n; i++) {
		const struct dea_entry *e = p->v[i];
		json_t *stacks = json_array();
		for (char **s = e->stacks; *s; s++)
			json_array_append_new(stacks, json_string(*s));
		json_array_append_new(a,
				      json_pack("{s:s, s:o, s:I, s:I, s:I, s:I}", "id", e->id, "stacks",
						stacks, "available_memory", (json_int_t)entry_free_memory(e),
						"available_disk", (json_int_t)entry_free_disk(e), "instances",
						(json_int_t)(e->instances + e->res_instances), "age_ms",
						(json_int_t)(now_ms > e->seen_ms ? now_ms - e->seen_ms : 0)));
	}
	return a;
}
