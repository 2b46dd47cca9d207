// SPDX-License-Identifier: MIT
/*
 * The router's hash map (hmap.h): FNV-1a, chains, doubling at load factor 1.
 */
#include "hmap.h"

#include <string.h>

#include "alloc.h"

uint64_t hmap_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct hmap_node *hmap_find(const struct hmap *m, const char *key, size_t len)
{
	if (!m->n_buckets)
		return NULL;
	uint64_t h = hmap_hash(key, len);
	for (struct hmap_node *n = m->buckets[h & (m->n_buckets - 1)]; n; n = n->next)
		if (n->hash == h && n->key_len == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

static void hmap_grow(struct hmap *m)
{
	size_t nb = m->n_buckets ? m->n_buckets * 2 : 64;
	struct hmap_node **b = xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct hmap_node *n = m->buckets[i];
		while (n) {
			struct hmap_node *next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
			n = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
}

void hmap_insert(struct hmap *m, struct hmap_node *node)
{
	if (m->count + 1 > m->n_buckets)
		hmap_grow(m);
	node->hash = hmap_hash(node->key, node->key_len);
	struct hmap_node **head = &m->buckets[node->hash & (m->n_buckets - 1)];
	node->next = *head;
	*head = node;
	m->count++;
}

void hmap_remove(struct hmap *m, struct hmap_node *node)
{
	struct hmap_node **p = &m->buckets[node->hash & (m->n_buckets - 1)];
	while (*p && *p != node)
		p = &(*p)->next;
	if (*p) {
		*p = node->next;
		m->count--;
	}
}

void hmap_close(struct hmap *m)
{
	free(m->buckets);
	m->buckets = NULL;
	m->n_buckets = 0;
	m->count = 0;
}
