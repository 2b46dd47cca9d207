// SPDX-License-Identifier: MIT
/*
 * A connection's subscriptions by sid: a chained hash table that grows with the number of
 * subscriptions, so UNSUB stays O(1) for a client holding tens of thousands of them.
 */
#include <string.h>

#include "alloc.h"
#include "server.h"

static uint64_t hash_sid(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static void grow(struct bus_client *c)
{
	size_t n = c->n_sid_buckets ? c->n_sid_buckets * 2 : 8;
	struct bus_sub **b = xcalloc(n, sizeof *b);
	for (size_t i = 0; i < c->n_sid_buckets; i++) {
		struct bus_sub *s = c->sid_buckets[i], *next;
		for (; s; s = next) {
			next = s->next_in_bucket;
			size_t j = hash_sid(s->sid, strlen(s->sid)) & (n - 1);
			s->next_in_bucket = b[j];
			b[j] = s;
		}
	}
	free(c->sid_buckets);
	c->sid_buckets = b;
	c->n_sid_buckets = n;
}

struct bus_sub *sidmap_get(struct bus_client *c, const char *sid, size_t len)
{
	if (!c->n_sid_buckets)
		return NULL;
	struct bus_sub *s = c->sid_buckets[hash_sid(sid, len) & (c->n_sid_buckets - 1)];
	for (; s; s = s->next_in_bucket)
		if (strlen(s->sid) == len && memcmp(s->sid, sid, len) == 0)
			return s;
	return NULL;
}

void sidmap_put(struct bus_client *c, struct bus_sub *sub)
{
	if (c->n_subs + 1 > c->n_sid_buckets)
		grow(c);
	size_t j = hash_sid(sub->sid, strlen(sub->sid)) & (c->n_sid_buckets - 1);
	sub->next_in_bucket = c->sid_buckets[j];
	c->sid_buckets[j] = sub;
	c->n_subs++;
}

void sidmap_del(struct bus_client *c, struct bus_sub *sub)
{
	size_t j = hash_sid(sub->sid, strlen(sub->sid)) & (c->n_sid_buckets - 1);
	for (struct bus_sub **pp = &c->sid_buckets[j]; *pp; pp = &(*pp)->next_in_bucket) {
		if (*pp == sub) {
			*pp = sub->next_in_bucket;
			c->n_subs--;
			return;
		}
	}
}

static void sub_free(struct bus_sub *sub)
{
	free(sub->subject);
	free(sub->queue);
	free(sub->sid);
	free(sub);
}

void bus_sub_remove(struct bus_client *c, struct bus_sub *sub)
{
	const char *q = sub->queue ? sub->queue : "";
	sublist_remove(c->srv->subs, sub->subject, strlen(sub->subject), q, strlen(q), sub);
	sidmap_del(c, sub);
	sub_free(sub);
}

void sidmap_clear(struct bus_client *c)
{
	for (size_t i = 0; i < c->n_sid_buckets; i++) {
		struct bus_sub *s = c->sid_buckets[i], *next;
		for (; s; s = next) {
			next = s->next_in_bucket;
			const char *q = s->queue ? s->queue : "";
			sublist_remove(c->srv->subs, s->subject, strlen(s->subject), q, strlen(q), s);
			sub_free(s);
		}
	}
	free(c->sid_buckets);
	c->sid_buckets = NULL;
	c->n_sid_buckets = 0;
	c->n_subs = 0;
}
