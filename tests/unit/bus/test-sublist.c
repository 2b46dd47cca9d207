// SPDX-License-Identifier: MIT
/*
 * Unit tests of bus/sublist.h: wildcard matching, duplicates, removal and pruning, queue groups
 * merged across patterns, and the result cache checked against a brute-force matcher under
 * random interleaved inserts, removes and matches, before and after it evicts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sublist.h"
#include "tap.h"

enum {
	CACHE_BOUND = 4096, /* the cache size sublist.c promises not to exceed */
	MAX_TOKENS = 8,
	REF_MAX = 8192,
	SUB_IDS = 12,
};

/* Fake subscriptions: the index never dereferences them, so any distinct addresses do. */
static void *sub_ptr(size_t i)
{
	return (void *)(uintptr_t)(0x10000 + i * 8);
}

static size_t sub_id(void *p)
{
	return ((uintptr_t)p - 0x10000) / 8;
}

static int ins(struct sublist *sl, const char *subject, const char *queue, size_t id)
{
	return sublist_insert(sl, subject, strlen(subject), queue, queue ? strlen(queue) : 0, sub_ptr(id));
}

static int rem(struct sublist *sl, const char *subject, const char *queue, size_t id)
{
	return sublist_remove(sl, subject, strlen(subject), queue, queue ? strlen(queue) : 0, sub_ptr(id));
}

static const struct sublist_result *match(struct sublist *sl, const char *s)
{
	return sublist_match(sl, s, strlen(s));
}

static bool has_psub(const struct sublist_result *r, size_t id)
{
	for (size_t i = 0; i < r->n_psubs; i++)
		if (r->psubs[i] == sub_ptr(id))
			return true;
	return false;
}

static const struct sublist_qgroup *group(const struct sublist_result *r, const char *name)
{
	for (size_t i = 0; i < r->n_qgroups; i++)
		if (strcmp(r->qgroups[i].name, name) == 0)
			return &r->qgroups[i];
	return NULL;
}

static bool group_has(const struct sublist_qgroup *g, size_t id)
{
	for (size_t i = 0; g && i < g->n; i++)
		if (g->subs[i] == sub_ptr(id))
			return true;
	return false;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_wildcards(void)
{
	struct sublist *sl = sublist_new();
	const struct sublist_result *r;

	tap_is_int(ins(sl, "foo.bar", NULL, 1), 0, "insert a literal subject");
	tap_is_int(ins(sl, "foo.*", NULL, 2), 0, "insert foo.*");
	tap_is_int(ins(sl, "foo.>", NULL, 3), 0, "insert foo.>");
	tap_is_int(ins(sl, "*.bar.>", "", 4), 0, "insert *.bar.> with an empty queue (plain)");
	tap_is_int(ins(sl, ">", NULL, 5), 0, "insert >");
	tap_is_int(ins(sl, "foo.b*r", NULL, 6), 0, "insert foo.b*r (a literal token)");
	tap_is_int((int)sublist_count(sl), 6, "count is 6");

	r = match(sl, "foo.bar");
	tap_ok(r->n_psubs == 4 && has_psub(r, 1) && has_psub(r, 2) && has_psub(r, 3) && has_psub(r, 5),
	       "foo.bar matches the literal, foo.*, foo.> and >");
	tap_ok(r->n_qgroups == 0 && r->qgroups == NULL, "no queue groups");
	r = match(sl, "foo");
	tap_ok(r->n_psubs == 1 && has_psub(r, 5), "foo matches only > ('*' and '>' need a token)");
	r = match(sl, "foo.bar.baz");
	tap_ok(r->n_psubs == 3 && has_psub(r, 3) && has_psub(r, 4) && has_psub(r, 5),
	       "foo.bar.baz matches foo.>, *.bar.> and >, not foo.*");
	r = match(sl, "x.bar");
	tap_ok(r->n_psubs == 1 && has_psub(r, 5), "*.bar.> needs a token after bar");
	r = match(sl, "x.bar.y.z");
	tap_ok(r->n_psubs == 2 && has_psub(r, 4) && has_psub(r, 5), "x.bar.y.z matches *.bar.> and >");
	r = match(sl, "foo.b*r");
	tap_ok(r->n_psubs == 4 && has_psub(r, 6) && !has_psub(r, 1), "b*r is a literal token");
	r = match(sl, "foo.bxr");
	tap_ok(!has_psub(r, 6), "b*r does not match bxr");

	tap_is_int(rem(sl, ">", NULL, 5), 0, "remove >");
	r = match(sl, "nothing.here");
	tap_ok(r->n_psubs == 0 && r->n_qgroups == 0, "an unmatched subject has an empty result");
	sublist_free(sl);
}

static void test_duplicates_and_remove(void)
{
	struct sublist *sl = sublist_new();

	tap_is_int(ins(sl, "a.b", NULL, 1), 0, "insert a.b");
	tap_is_int(ins(sl, "a.b", NULL, 1), -EEXIST, "same sub, subject, no queue: -EEXIST");
	tap_is_int(ins(sl, "a.b", "", 1), -EEXIST, "an empty queue is the same as none");
	tap_is_int(ins(sl, "a.b", "q", 1), 0, "same sub under a queue is another entry");
	tap_is_int(ins(sl, "a.b", "q", 1), -EEXIST, "same sub, subject and queue: -EEXIST");
	tap_is_int(ins(sl, "a.b", "r", 1), 0, "same sub under another queue is fine");
	tap_is_int(ins(sl, "a.*", NULL, 1), 0, "same sub under another subject is fine");
	tap_is_int(ins(sl, "a.b", NULL, 2), 0, "another sub on a.b is fine");
	tap_is_int((int)sublist_count(sl), 5, "duplicates were not counted");

	tap_is_int(rem(sl, "a.b", NULL, 3), -ENOENT, "remove an unknown sub: -ENOENT");
	tap_is_int(rem(sl, "x.y", NULL, 1), -ENOENT, "remove under an unknown subject: -ENOENT");
	tap_is_int(rem(sl, "a.b", "zz", 1), -ENOENT, "remove under an unknown queue: -ENOENT");
	tap_is_int(rem(sl, "a.>", NULL, 1), -ENOENT, "remove under an unknown wildcard: -ENOENT");
	tap_is_int(rem(sl, "a", NULL, 1), -ENOENT, "remove at an inner node: -ENOENT");
	tap_is_int(rem(sl, "a.b", "q", 1), 0, "remove the queue entry");
	tap_is_int(rem(sl, "a.b", "q", 1), -ENOENT, "removing it twice: -ENOENT");
	const struct sublist_result *r = match(sl, "a.b");
	tap_ok(r->n_psubs == 3 && has_psub(r, 1) && has_psub(r, 2) && group(r, "q") == NULL &&
		       group_has(group(r, "r"), 1),
	       "a.b: sub 1 twice (a.b, a.*), sub 2, and only queue r");
	tap_is_int(rem(sl, "a.b", NULL, 1), 0, "remove the plain entry");
	r = match(sl, "a.b");
	tap_ok(r->n_psubs == 2 && has_psub(r, 1) && has_psub(r, 2), "a.b: sub 1 (a.*) and sub 2 remain");
	tap_is_int((int)sublist_count(sl), 3, "count is 3");
	sublist_free(sl);
}

static void test_queue_groups(void)
{
	struct sublist *sl = sublist_new();
	const struct sublist_result *r;
	const struct sublist_qgroup *w, *o;

	ins(sl, "foo.*", "workers", 1);
	ins(sl, "foo.*", "workers", 2);
	ins(sl, "foo.bar", "workers", 3);
	ins(sl, "foo.>", "workers", 4);
	ins(sl, "foo.bar", "other", 5);
	ins(sl, "foo.bar", NULL, 6);
	r = match(sl, "foo.bar");
	w = group(r, "workers");
	o = group(r, "other");
	tap_is_int((int)r->n_qgroups, 2, "two distinct queue groups");
	tap_ok(w && w->n == 4 && group_has(w, 1) && group_has(w, 2) && group_has(w, 3) && group_has(w, 4),
	       "workers merges members from foo.*, foo.bar and foo.>");
	tap_ok(o && o->n == 1 && group_has(o, 5), "other has its one member");
	tap_ok(r->n_psubs == 1 && has_psub(r, 6), "the plain sub is separate");
	r = match(sl, "foo.baz");
	w = group(r, "workers");
	tap_ok(r->n_qgroups == 1 && w && w->n == 3 && !group_has(w, 3), "foo.baz: workers without foo.bar's");
	r = match(sl, "foo.bar.baz");
	w = group(r, "workers");
	tap_ok(r->n_qgroups == 1 && w && w->n == 1 && group_has(w, 4), "foo.bar.baz: only foo.>'s member");
	rem(sl, "foo.bar", "workers", 3);
	rem(sl, "foo.bar", "other", 5);
	r = match(sl, "foo.bar");
	w = group(r, "workers");
	tap_ok(r->n_qgroups == 1 && w && w->n == 3 && !group_has(w, 3), "removes show in the merged group");
	sublist_free(sl);
}

static void test_cache(void)
{
	struct sublist *sl = sublist_new();
	struct sublist_stats a, b;
	const struct sublist_result *r, *r2;

	ins(sl, "zzz", NULL, 9);
	r = match(sl, "foo.bar");
	tap_ok(r->n_psubs == 0, "foo.bar matches nothing yet");
	match(sl, "zzz");
	sublist_stats(sl, &a);
	r2 = match(sl, "foo.bar");
	sublist_stats(sl, &b);
	tap_ok(r2 == r && b.cache_hits == a.cache_hits + 1 && b.matches == a.matches + 1,
	       "a repeated match is a cache hit");
	tap_is_int((int)b.cache_entries, 2, "two subjects cached");

	ins(sl, "foo.*", NULL, 1);
	r = match(sl, "foo.bar");
	tap_ok(r->n_psubs == 1 && has_psub(r, 1), "inserting foo.* updates cached foo.bar");
	sublist_stats(sl, &a);
	match(sl, "zzz");
	sublist_stats(sl, &b);
	tap_ok(b.cache_hits == a.cache_hits + 1, "an unrelated cached subject stays cached");
	ins(sl, "foo.bar", NULL, 2);
	r = match(sl, "foo.bar");
	tap_ok(r->n_psubs == 2 && has_psub(r, 2), "inserting literal foo.bar updates it");
	ins(sl, "foo.>", "q", 3);
	r = match(sl, "foo.bar");
	tap_ok(r->n_qgroups == 1 && group_has(group(r, "q"), 3), "a queue insert updates it");
	rem(sl, "foo.*", NULL, 1);
	r = match(sl, "foo.bar");
	tap_ok(r->n_psubs == 1 && has_psub(r, 2), "removing foo.* updates it");
	rem(sl, "foo.>", "q", 3);
	r = match(sl, "foo.bar");
	tap_ok(r->n_qgroups == 0, "removing the queue sub updates it");
	sublist_stats(sl, &b);
	tap_ok(b.inserts == 4 && b.removes == 2, "stats count inserts and removes");
	sublist_free(sl);
}

/* Matches e.<i> against e.*, e.> (queue q) and e.<i> for every tenth i. */
static bool eviction_check(const struct sublist_result *r, size_t i, size_t extra)
{
	const struct sublist_qgroup *g = group(r, "q");
	size_t want = 1 + (i % 10 == 0) + (extra != 0);
	return r->n_psubs == want && has_psub(r, 1) && (i % 10 != 0 || has_psub(r, 100 + i)) &&
	       (!extra || has_psub(r, extra)) && r->n_qgroups == 1 && g && g->n == 1 && group_has(g, 2);
}

static void test_eviction(void)
{
	struct sublist *sl = sublist_new();
	struct sublist_stats st;
	char s[64];
	size_t bad = 0, max_entries = 0;

	ins(sl, "e.*", NULL, 1);
	ins(sl, "e.>", "q", 2);
	for (size_t i = 0; i < 10000; i += 10) {
		snprintf(s, sizeof(s), "e.%zu", i);
		ins(sl, s, NULL, 100 + i);
	}
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 2)
			ins(sl, "*.*", NULL, 3);
		for (size_t i = 0; i < 10000; i++) {
			snprintf(s, sizeof(s), "e.%zu", i);
			bad += !eviction_check(match(sl, s), i, pass == 2 ? 3 : 0);
			sublist_stats(sl, &st);
			max_entries = st.cache_entries > max_entries ? st.cache_entries : max_entries;
		}
	}
	tap_is_int((int)bad, 0, "30,000 matches over 10,000 subjects stay right while the cache evicts");
	tap_ok(max_entries <= CACHE_BOUND && max_entries > CACHE_BOUND / 2,
	       "the cache holds at most %d (max %zu)", CACHE_BOUND, max_entries);

	/* a result stays readable through the next match, even when that match sweeps the cache */
	bad = 0;
	for (size_t i = 0; i < 10000; i++) {
		snprintf(s, sizeof(s), "e.%zu.x", i);
		const struct sublist_result *r1 = match(sl, s);
		snprintf(s, sizeof(s), "e.%zu.y", i);
		match(sl, s);
		bad += !(r1->n_psubs == 0 && r1->n_qgroups == 1 && group_has(&r1->qgroups[0], 2));
	}
	tap_is_int((int)bad, 0, "a result survives the next match's evictions");
	sublist_free(sl);

	/*
	 * The hard case: every cached entry is fresh, so the sweep runs a second revolution that
	 * spares nothing but the last result. Where that lands depends on the hash key, so repeat.
	 */
	bad = 0;
	for (int round = 0; round < 64; round++) {
		sl = sublist_new();
		ins(sl, "f.>", NULL, 1);
		for (size_t i = 0; i < CACHE_BOUND - 1; i++) {
			snprintf(s, sizeof(s), "f.%zu", i);
			match(sl, s);
		}
		const struct sublist_result *r1 = match(sl, "f.last");
		match(sl, "f.next");
		bad += !(r1->n_psubs == 1 && has_psub(r1, 1));
		sublist_free(sl);
	}
	tap_is_int((int)bad, 0, "a result survives a sweep that evicts even recently used entries");
}

/* The brute-force reference: every (subject, queue, sub) inserted, compared token by token. */
struct ref {
	char subject[64];
	int queue; /* 0 none, else "q<queue>" */
	size_t id;
};

static size_t split(const char *s, char tok[MAX_TOKENS][16])
{
	size_t n = 0;
	for (const char *p = s;; n++) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		memcpy(tok[n], p, len);
		tok[n][len] = '\0';
		if (!dot)
			return n + 1;
		p = dot + 1;
	}
}

static bool ref_matches(const char *pattern, const char *subject)
{
	char pt[MAX_TOKENS][16], st[MAX_TOKENS][16];
	size_t np = split(pattern, pt), ns = split(subject, st);
	for (size_t i = 0; i < np; i++) {
		if (strcmp(pt[i], ">") == 0)
			return ns > i;
		if (i >= ns || (strcmp(pt[i], "*") != 0 && strcmp(pt[i], st[i]) != 0))
			return false;
	}
	return np == ns;
}

static size_t rnd_state;

static size_t rnd(size_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state % n;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Does the sorted id list want[0..n) equal the sub pointers subs[0..n)? */
static bool same_set(size_t *want, size_t n, void **subs, size_t n_subs)
{
	size_t got[REF_MAX];
	if (n != n_subs)
		return false;
	for (size_t i = 0; i < n; i++)
		got[i] = sub_id(subs[i]);
	qsort(got, n, sizeof(*got), cmp_size);
	return memcmp(got, want, n * sizeof(*want)) == 0;
}

static bool ref_check(const struct ref *refs, size_t n_refs, const char *subject,
		      const struct sublist_result *r)
{
	static size_t want[3][REF_MAX];
	size_t n_want[3] = { 0 }, groups = 0;

	for (size_t i = 0; i < n_refs; i++)
		if (ref_matches(refs[i].subject, subject))
			want[refs[i].queue][n_want[refs[i].queue]++] = refs[i].id;
	for (int q = 0; q < 3; q++)
		qsort(want[q], n_want[q], sizeof(size_t), cmp_size);
	if (!same_set(want[0], n_want[0], r->psubs, r->n_psubs))
		return false;
	for (int q = 1; q < 3; q++) {
		char name[4];
		snprintf(name, sizeof(name), "q%d", q);
		const struct sublist_qgroup *g = group(r, name);
		groups += n_want[q] > 0;
		if (n_want[q] ? !g || !same_set(want[q], n_want[q], g->subs, g->n) : g != NULL)
			return false;
	}
	return groups == r->n_qgroups;
}

static void random_subject(char *out, size_t size, const char *const *alpha, size_t n_alpha, bool pattern)
{
	size_t ntok = 1 + rnd(pattern ? 3 : 6), len = 0;
	for (size_t i = 0; i < ntok; i++) {
		const char *t = alpha[rnd(n_alpha)];
		if (pattern)
			t = i == ntok - 1 && rnd(5) == 0 ? ">" : rnd(4) == 0 ? "*" : alpha[rnd(3)];
		len += (size_t)snprintf(out + len, size - len, "%s%s", i ? "." : "", t);
	}
}

/*
 * 20,000 random inserts, removes and matches; match subjects draw on n_alpha tokens. With burst,
 * ops come in rounds of 1,000 inserts and removes then 9,000 matches, so the cache fills and evicts.
 */
static void test_random(size_t seed, size_t n_alpha, bool burst, const char *label)
{
	static const char *const alpha[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l" };
	static struct ref refs[REF_MAX];
	struct sublist *sl = sublist_new();
	size_t n_refs = 0, bad_match = 0, bad_ret = 0, bad_count = 0, n_match = 0, max_cached = 0;
	struct sublist_stats st;
	char s[64];

	rnd_state = seed;
	for (int op = 0; op < 20000; op++) {
		size_t kind = rnd(100);
		if (burst)
			kind = op % 10000 < 1000 ? kind * 65 / 100 : 99;
		if (kind < 40 || (kind < 65 && n_refs == 0)) {
			struct ref e = { .queue = (int)rnd(3), .id = rnd(SUB_IDS) };
			random_subject(e.subject, sizeof(e.subject), alpha, 3, true);
			size_t i = 0;
			while (i < n_refs && !(strcmp(refs[i].subject, e.subject) == 0 &&
					       refs[i].queue == e.queue && refs[i].id == e.id))
				i++;
			snprintf(s, sizeof(s), "q%d", e.queue);
			int rc = ins(sl, e.subject, e.queue ? s : NULL, e.id);
			bad_ret += rc != (i < n_refs ? -EEXIST : 0);
			if (i == n_refs && n_refs < REF_MAX)
				refs[n_refs++] = e;
		} else if (kind < 65) {
			/* mostly an existing entry; sometimes one that is not there */
			struct ref e = refs[rnd(n_refs)];
			bool known = rnd(4) != 0;
			if (!known)
				e.id = SUB_IDS + rnd(4);
			snprintf(s, sizeof(s), "q%d", e.queue);
			int rc = rem(sl, e.subject, e.queue ? s : NULL, e.id);
			bad_ret += rc != (known ? 0 : -ENOENT);
			for (size_t i = 0; known && i < n_refs; i++) {
				if (strcmp(refs[i].subject, e.subject) == 0 && refs[i].queue == e.queue &&
				    refs[i].id == e.id) {
					refs[i] = refs[--n_refs];
					break;
				}
			}
		} else {
			random_subject(s, sizeof(s), alpha, n_alpha, false);
			bad_match += !ref_check(refs, n_refs, s, match(sl, s));
			n_match++;
			sublist_stats(sl, &st);
			max_cached = st.cache_entries > max_cached ? st.cache_entries : max_cached;
		}
		bad_count += sublist_count(sl) != n_refs;
	}
	tap_is_int((int)bad_ret, 0, "%s: insert and remove return what the reference expects", label);
	tap_is_int((int)bad_match, 0, "%s: %zu matches equal the brute-force reference", label, n_match);
	tap_is_int((int)bad_count, 0, "%s: count follows the reference", label);
	if (burst)
		tap_is_int((int)max_cached, CACHE_BOUND, "%s: the cache filled, so it evicted", label);
	for (size_t i = 0; i < n_refs; i++) {
		snprintf(s, sizeof(s), "q%d", refs[i].queue);
		bad_ret += rem(sl, refs[i].subject, refs[i].queue ? s : NULL, refs[i].id) != 0;
	}
	tap_ok(bad_ret == 0 && sublist_count(sl) == 0 && sublist_node_count(sl) == 0,
	       "%s: removing the remaining %zu leaves an empty trie", label, n_refs);
	sublist_stats(sl, &st);
	tap_diag("%s: seed %zu, %" PRIu64 " matches, %" PRIu64 " cache hits, %zu cached", label, seed,
		 st.matches, st.cache_hits, st.cache_entries);
	sublist_free(sl);
}

static void test_pruning(void)
{
	struct sublist *sl = sublist_new();
	char s[64];

	tap_is_int((int)sublist_node_count(sl), 0, "a new sublist has no nodes");
	ins(sl, "a.b.c", NULL, 1);
	ins(sl, "a.b.*", NULL, 1);
	ins(sl, "a.>", "q", 1);
	ins(sl, "a.b.c", "q", 2);
	tap_is_int((int)sublist_node_count(sl), 5, "a, b, c, * and > are 5 nodes");
	rem(sl, "a.b.c", NULL, 1);
	tap_is_int((int)sublist_node_count(sl), 5, "c stays while its queue sub does");
	rem(sl, "a.b.c", "q", 2);
	tap_is_int((int)sublist_node_count(sl), 4, "c is pruned");
	rem(sl, "a.b.*", NULL, 1);
	tap_is_int((int)sublist_node_count(sl), 2, "* and b are pruned");
	rem(sl, "a.>", "q", 1);
	tap_ok(sublist_node_count(sl) == 0 && sublist_count(sl) == 0, "the last remove empties the trie");

	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < 5000; i++) {
			snprintf(s, sizeof(s), "churn.%d.%zu.x", round, i);
			ins(sl, s, NULL, i);
			match(sl, s);
		}
		for (size_t i = 0; i < 5000; i++) {
			snprintf(s, sizeof(s), "churn.%d.%zu.x", round, i);
			rem(sl, s, NULL, i);
		}
	}
	struct sublist_stats st;
	sublist_stats(sl, &st);
	tap_ok(sublist_node_count(sl) == 0 && sublist_count(sl) == 0 && st.cache_entries == 0,
	       "15,000 subscriptions churned through leave no nodes and no cache entries");
	tap_ok(st.inserts == 15004 && st.removes == 15004, "stats count every insert and remove");
	sublist_free(sl);
}

static void test_100k(void)
{
	enum { N = 100000 };
	struct sublist *sl = sublist_new();
	char s[64];
	size_t bad = 0;
	long rss0 = rss_kb();
	double t0 = now();

	for (size_t i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "app.%zu.events", i);
		bad += ins(sl, s, NULL, i) != 0;
	}
	double t1 = now();
	long rss1 = rss_kb();
	ins(sl, "app.*.events", "w", N);
	ins(sl, "app.>", NULL, N + 1);
	tap_ok(bad == 0 && sublist_count(sl) == N + 2, "100,000 subscriptions inserted");
	double t2 = now();
	for (size_t i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "app.%zu.events", i);
		const struct sublist_result *r = match(sl, s);
		bad += !(r->n_psubs == 2 && has_psub(r, i) && has_psub(r, N + 1) && r->n_qgroups == 1 &&
			 r->qgroups[0].n == 1 && r->qgroups[0].subs[0] == sub_ptr(N));
	}
	double t3 = now();
	tap_is_int((int)bad, 0, "each of the 100,000 subjects matches its sub, app.* (queue w) and app.>");
	for (size_t i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "app.%zu.events", i);
		bad += rem(sl, s, NULL, i) != 0;
	}
	double t4 = now();
	const struct sublist_result *r = match(sl, "app.7.events");
	tap_ok(bad == 0 && sublist_count(sl) == 2 && r->n_psubs == 1 && r->n_qgroups == 1,
	       "all 100,000 removed; the wildcards remain");
	tap_is_int((int)sublist_node_count(sl), 4, "only app, *, events and > are left");
	tap_diag("100k: insert %.0f ms, match (uncached) %.0f ms, remove %.0f ms, RSS +%ld kB (ASan inflates "
		 "it)",
		 (t1 - t0) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3, rss1 - rss0);
	sublist_free(sl);
}

int main(void)
{
	test_wildcards();
	test_duplicates_and_remove();
	test_queue_groups();
	test_cache();
	test_eviction();
	test_pruning();
	test_random(0x9e3779b97f4a7c15u, 3, false, "random, 3 tokens");
	test_random(0x2545f4914f6cdd1du, 12, true, "random, 12 tokens in bursts");
	test_100k();
	return tap_done();
}
