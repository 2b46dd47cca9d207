// SPDX-License-Identifier: MIT
/*
 * The subscription index of dew-bus: a token trie (literal children in a small open-addressing
 * table, plus a '*' and a '>' child per node) and a bounded cache of results keyed by subject.
 * A change under pattern P drops the cached subjects P matches (as nats-server does). A result
 * stays valid until the next insert or remove and through the next match, which may evict others.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alloc.h"
#include "sublist.h"

enum {
	CACHE_MAX = 4096,	     /* cached subjects before a sweep evicts some */
	CACHE_SWEEP = CACHE_MAX / 8, /* entries a sweep frees, so sweeps stay rare */
	CACHE_BUCKETS = 4096,	     /* power of two */
	CACHE_BYTES = 16 << 20,	     /* a subject matched by many wildcards can make results big */
	KIDS_MIN = 4,		     /* first real table; a lone child is kept inline */
	SWEEP_STREAK = 16,	     /* wildcard changes in a row before the cache is just emptied */
};

/* Pointers with a single element kept inline: most subjects have one subscriber. */
struct pvec {
	union {
		void *one;
		void **many;
	} u;
	uint32_t n, cap; /* cap <= 1: the element is inline */
};

/* The members of one queue group at one node. */
struct qsubs {
	struct pvec members;
	uint32_t len;
	char name[];
};

struct node {
	union {
		struct node *one;
		struct node **slots;
	} kids;			/* literal children, open addressing on the token's hash */
	struct node *pwc, *fwc; /* the '*' and '>' children */
	struct pvec psubs;
	struct qsubs **queues;
	uint32_t n_kids, cap_kids, n_queues, toklen;
	char tok[];
};

/* A cached result and its arrays, in one allocation so eviction is one free(). */
struct centry {
	struct centry *next;
	uint64_t hash;
	size_t size;
	char *subject;
	size_t len;
	bool ref; /* used since the clock hand last passed: spared by the next sweep */
	struct sublist_result r;
};

struct sublist {
	struct node *root;
	uint64_t key[2]; /* SipHash key: subjects come from clients, who must not force collisions */
	size_t count, nodes;
	struct sublist_stats st;
	struct centry *cache[CACHE_BUCKETS];
	size_t cache_n, cache_bytes, hand;
	struct centry *last;	  /* the result handed out last: no sweep frees it */
	unsigned wildcard_streak; /* wildcard inserts and removes since the last match */
	/* scratch reused by every match and remove */
	void **ps;
	size_t n_ps, cap_ps;
	struct qsubs **qs;
	size_t n_qs, cap_qs;
	struct node **path;
	size_t cap_path;
};

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND()                                                                                           \
	do {                                                                                                 \
		v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                                    \
		v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                                       \
		v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                                       \
		v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                                    \
	} while (0)

/* SipHash-1-3 (the variant Rust and Python use for their hash tables) of len bytes at data. */
static uint64_t sip13(const struct sublist *sl, const void *data, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ sl->key[0], v1 = 0x646f72616e646f6dULL ^ sl->key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ sl->key[0], v3 = 0x7465646279746573ULL ^ sl->key[1];
	const unsigned char *p = data, *end = p + (len & ~(size_t)7);
	uint64_t m, b = (uint64_t)len << 56;

	for (; p != end; p += 8) {
		memcpy(&m, p, 8);
		v3 ^= m;
		SIPROUND();
		v0 ^= m;
	}
	for (size_t i = 0; i < (len & 7); i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND();
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < 3; i++)
		SIPROUND();
	return v0 ^ v1 ^ v2 ^ v3;
}

static void **pvec_items(struct pvec *v)
{
	return v->cap <= 1 ? &v->u.one : v->u.many;
}

static void pvec_push(struct pvec *v, void *p)
{
	if (v->n == 0 && v->cap <= 1) {
		v->cap = 1;
	} else if (v->n == v->cap) {
		void **many = xreallocarray(v->cap == 1 ? NULL : v->u.many, v->cap * 2, sizeof(*many));
		if (v->cap == 1)
			many[0] = v->u.one;
		v->u.many = many;
		v->cap *= 2;
	}
	pvec_items(v)[v->n++] = p;
}

/* The index of p in v, or v->n when it is not there. */
static uint32_t pvec_find(struct pvec *v, void *p)
{
	void **items = pvec_items(v);
	uint32_t i = 0;
	while (i < v->n && items[i] != p)
		i++;
	return i;
}

static bool pvec_del(struct pvec *v, void *p)
{
	void **items = pvec_items(v);
	uint32_t i = pvec_find(v, p);

	if (i == v->n)
		return false;
	items[i] = items[--v->n];
	if (v->cap > 1 && v->n <= 1) {
		void *one = v->n ? items[0] : NULL;
		free(v->u.many);
		v->u.one = one;
		v->cap = v->n;
	} else if (v->cap > 4 && v->n < v->cap / 4) {
		/* shrink at a quarter, not a half, so a push/pop at the boundary does not thrash */
		v->u.many = xreallocarray(v->u.many, v->cap / 2, sizeof(void *));
		v->cap /= 2;
	}
	return true;
}

static void pvec_free(struct pvec *v)
{
	if (v->cap > 1)
		free(v->u.many);
}

static struct node **kids_slots(struct node *n)
{
	return n->cap_kids <= 1 ? &n->kids.one : n->kids.slots;
}

/* The slot a token hashes to; an inline single child needs no hash at all. */
static size_t kids_home(const struct sublist *sl, const struct node *n, const char *tok, size_t len)
{
	return n->cap_kids <= 1 ? 0 : sip13(sl, tok, len) & (n->cap_kids - 1);
}

static struct node *kids_find(const struct sublist *sl, struct node *n, const char *tok, size_t len)
{
	if (n->n_kids == 0)
		return NULL;
	struct node **slots = kids_slots(n);
	size_t mask = n->cap_kids - 1, i = kids_home(sl, n, tok, len);
	for (size_t probes = 0; probes < n->cap_kids; probes++, i = (i + 1) & mask) {
		struct node *k = slots[i];
		if (!k)
			return NULL;
		if (k->toklen == len && memcmp(k->tok, tok, len) == 0)
			return k;
	}
	return NULL;
}

static void kids_place(const struct sublist *sl, struct node *n, struct node *k)
{
	struct node **slots = kids_slots(n);
	size_t i = kids_home(sl, n, k->tok, k->toklen), mask = n->cap_kids - 1;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = k;
}

static void kids_resize(const struct sublist *sl, struct node *n, uint32_t cap)
{
	uint32_t old_cap = n->cap_kids;
	struct node *old_one = n->kids.one, **old = old_cap <= 1 ? &old_one : n->kids.slots;

	n->cap_kids = cap;
	if (cap > 1)
		n->kids.slots = xcalloc(cap, sizeof(struct node *));
	else
		n->kids.one = NULL;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i])
			kids_place(sl, n, old[i]);
	if (old_cap > 1)
		free(old);
}

static void kids_add(const struct sublist *sl, struct node *n, struct node *k)
{
	/* keep the load at or under 3/4 so probe runs stay short */
	if (n->cap_kids == 0)
		kids_resize(sl, n, 1);
	else if (n->cap_kids == 1 || (n->n_kids + 1) * 4 > n->cap_kids * 3)
		kids_resize(sl, n, n->cap_kids < KIDS_MIN ? KIDS_MIN : n->cap_kids * 2);
	kids_place(sl, n, k);
	n->n_kids++;
}

/* Delete child k with backward shifting, which leaves no tombstones to slow later probes. */
static void kids_del(const struct sublist *sl, struct node *n, struct node *k)
{
	struct node **slots = kids_slots(n);
	size_t mask = n->cap_kids - 1, i = kids_home(sl, n, k->tok, k->toklen);

	while (slots[i] != k)
		i = (i + 1) & mask;
	/* an inline child fills its one slot; real tables always keep a free slot to stop on */
	for (size_t j = (i + 1) & mask; n->cap_kids > 1 && slots[j]; j = (j + 1) & mask) {
		size_t home = kids_home(sl, n, slots[j]->tok, slots[j]->toklen);
		bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (!stays) {
			slots[i] = slots[j];
			i = j;
		}
	}
	slots[i] = NULL;
	n->n_kids--;
	if (n->n_kids == 0)
		kids_resize(sl, n, 0);
	else if (n->cap_kids > KIDS_MIN && n->n_kids * 8 < n->cap_kids)
		kids_resize(sl, n, n->cap_kids / 2);
}

static struct node *node_new(struct sublist *sl, const char *tok, size_t len)
{
	struct node *n = xzalloc(sizeof(*n) + len + 1);
	memcpy(n->tok, tok, len);
	n->toklen = (uint32_t)len;
	sl->nodes++;
	return n;
}

static bool node_empty(const struct node *n)
{
	return n->n_kids == 0 && !n->pwc && !n->fwc && n->psubs.n == 0 && n->n_queues == 0;
}

static void node_free(struct node *n)
{
	struct node **slots = kids_slots(n);
	for (uint32_t i = 0; i < n->cap_kids; i++)
		if (slots[i])
			node_free(slots[i]);
	if (n->cap_kids > 1)
		free(n->kids.slots);
	if (n->pwc)
		node_free(n->pwc);
	if (n->fwc)
		node_free(n->fwc);
	for (uint32_t i = 0; i < n->n_queues; i++) {
		pvec_free(&n->queues[i]->members);
		free(n->queues[i]);
	}
	free(n->queues);
	pvec_free(&n->psubs);
	free(n);
}

static struct qsubs *node_queue(struct node *n, const char *name, size_t len, bool create)
{
	for (uint32_t i = 0; i < n->n_queues; i++)
		if (n->queues[i]->len == len && memcmp(n->queues[i]->name, name, len) == 0)
			return n->queues[i];
	if (!create)
		return NULL;
	struct qsubs *q = xzalloc(sizeof(*q) + len + 1);
	memcpy(q->name, name, len);
	q->len = (uint32_t)len;
	n->queues = xreallocarray(n->queues, n->n_queues + 1, sizeof(*n->queues));
	n->queues[n->n_queues++] = q;
	return q;
}

static void node_queue_drop(struct node *n, struct qsubs *q)
{
	uint32_t i = 0;
	while (n->queues[i] != q)
		i++;
	n->queues[i] = n->queues[--n->n_queues];
	pvec_free(&q->members);
	free(q);
	if (n->n_queues == 0)
		free(steal_pointer(&n->queues));
}

/* Does literal subject s match pattern p? The same rules as the trie walk in match_walk(). */
static bool subject_matches(const char *p, size_t plen, const char *s, size_t slen)
{
	const char *pe = p + plen, *se = s + slen;
	for (;;) {
		const char *pd = memchr(p, '.', (size_t)(pe - p)), *sd = memchr(s, '.', (size_t)(se - s));
		size_t pl = (size_t)((pd ? pd : pe) - p), tl = (size_t)((sd ? sd : se) - s);
		if (pl == 1 && *p == '>')
			return true;
		if (!(pl == 1 && *p == '*') && (pl != tl || memcmp(p, s, pl) != 0))
			return false;
		if (!pd || !sd)
			return !pd && !sd;
		p = pd + 1;
		s = sd + 1;
	}
}

static void cache_unlink(struct sublist *sl, struct centry **pp)
{
	struct centry *e = *pp;
	*pp = e->next;
	sl->cache_n--;
	sl->cache_bytes -= e->size;
	free(e);
}

/* The link pointing at the entry cached for subject s with hash h, or NULL. */
static struct centry **cache_find(struct sublist *sl, const char *s, size_t len, uint64_t h)
{
	for (struct centry **pp = &sl->cache[h & (CACHE_BUCKETS - 1)]; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->len == len && memcmp((*pp)->subject, s, len) == 0)
			return pp;
	return NULL;
}

static void cache_clear(struct sublist *sl)
{
	for (size_t b = 0; b < CACHE_BUCKETS; b++)
		while (sl->cache[b])
			cache_unlink(sl, &sl->cache[b]);
}

/* Drop the cached results that a change under pattern p (with a wildcard or not) affects. */
static void cache_invalidate(struct sublist *sl, const char *p, size_t len, bool wildcard)
{
	sl->last = NULL;
	if (sl->cache_n == 0)
		return;
	if (!wildcard) {
		/* a literal pattern matches only itself: one lookup instead of a sweep */
		struct centry **pp = cache_find(sl, p, len, sip13(sl, p, len));
		if (pp)
			cache_unlink(sl, pp);
		return;
	}
	/*
	 * A sweep costs the whole cache. A client going away removes its subscriptions in a row
	 * with no match between, and each sweep would keep (and next time recheck) the same
	 * entries; emptying the cache once makes the rest of such a run free.
	 */
	if (++sl->wildcard_streak > SWEEP_STREAK) {
		cache_clear(sl);
		return;
	}
	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		for (struct centry **pp = &sl->cache[b]; *pp;) {
			if (subject_matches(p, len, (*pp)->subject, (*pp)->len))
				cache_unlink(sl, pp);
			else
				pp = &(*pp)->next;
		}
	}
}

/*
 * Make room for an entry of size bytes with a clock sweep: entries used since the hand last
 * passed are spared once, so hot subjects stay cached. A second revolution evicts whatever is
 * left, except the result handed out last, which callers may still be reading.
 */
static void cache_sweep(struct sublist *sl, size_t size)
{
	if (sl->cache_n < CACHE_MAX && sl->cache_bytes + size <= CACHE_BYTES)
		return;
	for (size_t visited = 0; visited < 2 * CACHE_BUCKETS; visited++) {
		if (sl->cache_n + CACHE_SWEEP <= CACHE_MAX && sl->cache_bytes + size <= CACHE_BYTES / 8 * 7)
			return;
		for (struct centry **pp = &sl->cache[sl->hand]; *pp;) {
			if (*pp == sl->last || (*pp)->ref) {
				(*pp)->ref = false;
				pp = &(*pp)->next;
			} else {
				cache_unlink(sl, pp);
			}
		}
		sl->hand = (sl->hand + 1) & (CACHE_BUCKETS - 1);
	}
}

static void *scratch_grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	while (*cap < need)
		*cap = *cap ? *cap * 2 : 64;
	return xreallocarray(p, *cap, size);
}

static void collect(struct sublist *sl, struct node *n)
{
	if (n->psubs.n) {
		sl->ps = scratch_grow(sl->ps, &sl->cap_ps, sl->n_ps + n->psubs.n, sizeof(void *));
		memcpy(sl->ps + sl->n_ps, pvec_items(&n->psubs), n->psubs.n * sizeof(void *));
		sl->n_ps += n->psubs.n;
	}
	if (n->n_queues) {
		sl->qs = scratch_grow(sl->qs, &sl->cap_qs, sl->n_qs + n->n_queues, sizeof(*sl->qs));
		memcpy(sl->qs + sl->n_qs, n->queues, n->n_queues * sizeof(*sl->qs));
		sl->n_qs += n->n_queues;
	}
}

/*
 * Collect what matches the tokens s..end under node n. Each trie node is visited at most once
 * per match, so a subject costs at most the size of the trie however its wildcards overlap.
 */
static void match_walk(struct sublist *sl, struct node *n, const char *s, const char *end)
{
	for (;;) {
		const char *dot = memchr(s, '.', (size_t)(end - s)), *tend = dot ? dot : end;
		if (n->fwc)
			collect(sl, n->fwc);
		if (n->pwc) {
			if (dot)
				match_walk(sl, n->pwc, dot + 1, end);
			else
				collect(sl, n->pwc);
		}
		struct node *k = kids_find(sl, n, s, (size_t)(tend - s));
		if (!k)
			return;
		if (!dot) {
			collect(sl, k);
			return;
		}
		n = k;
		s = dot + 1;
	}
}

static int qsubs_cmp(const void *a, const void *b)
{
	const struct qsubs *x = *(struct qsubs *const *)a, *y = *(struct qsubs *const *)b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->name, y->name, x->len);
}

/* Build one allocation holding the result in the scratch arrays, its group names and subject. */
static struct centry *centry_build(struct sublist *sl, const char *s, size_t len, uint64_t h)
{
	size_t n_groups = 0, n_members = 0, names = 0;

	if (sl->n_qs > 1)
		qsort(sl->qs, sl->n_qs, sizeof(*sl->qs), qsubs_cmp);
	for (size_t i = 0; i < sl->n_qs; i++) {
		if (i == 0 || qsubs_cmp(&sl->qs[i - 1], &sl->qs[i]) != 0) {
			n_groups++;
			names += sl->qs[i]->len + 1;
		}
		n_members += sl->qs[i]->members.n;
	}
	size_t size = sizeof(struct centry) + n_groups * sizeof(struct sublist_qgroup) +
		      (sl->n_ps + n_members) * sizeof(void *) + names + len + 1;
	struct centry *e = xzalloc(size);
	struct sublist_qgroup *g = (struct sublist_qgroup *)(e + 1);
	void **ptrs = (void **)(g + n_groups);
	char *str = (char *)(ptrs + sl->n_ps + n_members);

	*e = (struct centry){ .hash = h, .size = size, .len = len, .ref = true };
	e->r.psubs = sl->n_ps ? ptrs : NULL;
	e->r.n_psubs = sl->n_ps;
	e->r.qgroups = n_groups ? g : NULL;
	e->r.n_qgroups = n_groups;
	if (sl->n_ps)
		memcpy(ptrs, sl->ps, sl->n_ps * sizeof(void *));
	ptrs += sl->n_ps;
	for (size_t i = 0; i < sl->n_qs; i++) {
		struct qsubs *q = sl->qs[i];
		if (i > 0 && qsubs_cmp(&sl->qs[i - 1], &sl->qs[i]) == 0) {
			g[-1].n += q->members.n;
		} else {
			memcpy(str, q->name, q->len + 1);
			*g++ = (struct sublist_qgroup){ .name = str, .subs = ptrs, .n = q->members.n };
			str += q->len + 1;
		}
		memcpy(ptrs, pvec_items(&q->members), q->members.n * sizeof(void *));
		ptrs += q->members.n;
	}
	memcpy(str, s, len);
	str[len] = '\0';
	e->subject = str;
	return e;
}

/* Look subject s up in the cache, or walk the trie and cache what matched. */
const struct sublist_result *sublist_match(struct sublist *sl, const char *s, size_t len)
{
	uint64_t h = sip13(sl, s, len);
	struct centry **pp = cache_find(sl, s, len, h), *e;

	sl->st.matches++;
	sl->wildcard_streak = 0;
	if (pp) {
		sl->st.cache_hits++;
		(*pp)->ref = true;
		sl->last = *pp;
		return &sl->last->r;
	}
	sl->n_ps = sl->n_qs = 0;
	match_walk(sl, sl->root, s, s + len);
	e = centry_build(sl, s, len, h);
	cache_sweep(sl, e->size);
	e->next = sl->cache[h & (CACHE_BUCKETS - 1)];
	sl->cache[h & (CACHE_BUCKETS - 1)] = e;
	sl->cache_n++;
	sl->cache_bytes += e->size;
	sl->last = e;
	return &e->r;
}

/*
 * Find (or with create, make) the node for subject. sl->path[0..*depth) records the nodes above
 * it, root first, for pruning; *wildcard says whether a token was '*' or '>'.
 */
static struct node *node_walk(struct sublist *sl, const char *s, size_t len, bool create, bool *wildcard,
			      size_t *depth)
{
	const char *end = s + len;
	struct node *n = sl->root;

	*wildcard = false;
	*depth = 0;
	for (;;) {
		const char *dot = memchr(s, '.', (size_t)(end - s)), *tend = dot ? dot : end;
		size_t tl = (size_t)(tend - s);
		struct node **slot = NULL, *k;

		sl->path = scratch_grow(sl->path, &sl->cap_path, *depth + 1, sizeof(*sl->path));
		sl->path[(*depth)++] = n;
		if (tl == 1 && (*s == '*' || *s == '>')) {
			*wildcard = true;
			slot = *s == '*' ? &n->pwc : &n->fwc;
			k = *slot;
		} else {
			k = kids_find(sl, n, s, tl);
		}
		if (!k && !create)
			return NULL;
		if (!k) {
			k = node_new(sl, s, tl);
			if (slot)
				*slot = k;
			else
				kids_add(sl, n, k);
		}
		n = k;
		if (!dot)
			return n;
		s = dot + 1;
	}
}

/* Add sub under subject and queue, creating the nodes on its path. */
int sublist_insert(struct sublist *sl, const char *subject, size_t subject_len, const char *queue,
		   size_t queue_len, void *sub)
{
	bool wildcard;
	size_t depth;
	struct node *n = node_walk(sl, subject, subject_len, true, &wildcard, &depth);

	if (!queue || queue_len == 0) {
		if (pvec_find(&n->psubs, sub) < n->psubs.n)
			return -EEXIST;
		pvec_push(&n->psubs, sub);
	} else {
		struct qsubs *q = node_queue(n, queue, queue_len, true);
		if (pvec_find(&q->members, sub) < q->members.n)
			return -EEXIST;
		pvec_push(&q->members, sub);
	}
	sl->count++;
	sl->st.inserts++;
	cache_invalidate(sl, subject, subject_len, wildcard);
	return 0;
}

/* Remove sub from subject and queue, pruning the nodes it leaves empty. */
int sublist_remove(struct sublist *sl, const char *subject, size_t subject_len, const char *queue,
		   size_t queue_len, void *sub)
{
	bool wildcard;
	size_t depth;
	struct node *n = node_walk(sl, subject, subject_len, false, &wildcard, &depth);

	if (!n)
		return -ENOENT;
	if (!queue || queue_len == 0) {
		if (!pvec_del(&n->psubs, sub))
			return -ENOENT;
	} else {
		struct qsubs *q = node_queue(n, queue, queue_len, false);
		if (!q || !pvec_del(&q->members, sub))
			return -ENOENT;
		if (q->members.n == 0)
			node_queue_drop(n, q);
	}
	/* prune from the leaf up, so churn over distinct subjects leaves no empty nodes behind */
	for (size_t i = depth; i > 0 && node_empty(n); i--) {
		struct node *parent = sl->path[i - 1];
		if (parent->pwc == n)
			parent->pwc = NULL;
		else if (parent->fwc == n)
			parent->fwc = NULL;
		else
			kids_del(sl, parent, n);
		node_free(n);
		sl->nodes--;
		n = parent;
	}
	sl->count--;
	sl->st.removes++;
	cache_invalidate(sl, subject, subject_len, wildcard);
	return 0;
}

/* Make an empty index with a fresh hash key. */
struct sublist *sublist_new(void)
{
	struct sublist *sl = xzalloc(sizeof(*sl));

	sl->root = xzalloc(sizeof(*sl->root));
	if (getrandom(sl->key, sizeof(sl->key), GRND_NONBLOCK) != (ssize_t)sizeof(sl->key)) {
		/* early boot without entropy: an address- and time-based key still beats a fixed one */
		sl->key[0] = (uint64_t)(uintptr_t)sl ^ (uint64_t)clock();
		sl->key[1] = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	}
	return sl;
}

/* Free the index, its cache and its copies of subjects; not the subscriptions. */
void sublist_free(struct sublist *sl)
{
	if (!sl)
		return;
	cache_clear(sl);
	node_free(sl->root);
	free(sl->ps);
	free(sl->qs);
	free(sl->path);
	free(sl);
}

/* The number of subscriptions held. */
size_t sublist_count(const struct sublist *sl)
{
	return sl->count;
}

/* The number of trie nodes below the root. */
size_t sublist_node_count(const struct sublist *sl)
{
	return sl->nodes;
}

/* Copy the counters and the current number of cached subjects into out. */
void sublist_stats(const struct sublist *sl, struct sublist_stats *out)
{
	*out = sl->st;
	out->cache_entries = sl->cache_n;
}
