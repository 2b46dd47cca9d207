/* SPDX-License-Identifier: MIT */
/*
 * A chained hash map with string keys whose nodes live inside their owners (intrusive): the
 * router's host index and backend index. Lookups cost one hash and a short chain walk; the
 * bucket array doubles when the load passes 1, so 100,000 keys stay cheap.
 */
#ifndef ROUTER_HMAP_H
#define ROUTER_HMAP_H

#include <stddef.h>
#include <stdint.h>

/* Embed in the owner; key points at the owner's own copy of its key (not owned by the map). */
struct hmap_node {
	struct hmap_node *next;
	uint64_t hash;
	const char *key;
	size_t key_len;
};

struct hmap {
	struct hmap_node **buckets;
	size_t n_buckets; /* a power of two, or 0 before the first insert */
	size_t count;
};

/* FNV-1a of len bytes. */
uint64_t hmap_hash(const char *key, size_t len);

/* The node with this key, or NULL. */
struct hmap_node *hmap_find(const struct hmap *m, const char *key, size_t len);

/* Insert node (its key must not be in the map yet); node->key and key_len must be set. */
void hmap_insert(struct hmap *m, struct hmap_node *node);

/* Remove node (which must be in the map). */
void hmap_remove(struct hmap *m, struct hmap_node *node);

/* Free the bucket array (not the nodes). */
void hmap_close(struct hmap *m);

/* Every node, in no particular order; the body may remove the current node (and only it). */
#define hmap_foreach(m, n, tmp)                                                                              \
	for (size_t hmap__i = 0; hmap__i < (m)->n_buckets; hmap__i++)                                        \
		for ((n) = (m)->buckets[hmap__i], (tmp) = (n) ? (n)->next : NULL; (n);                       \
		     (n) = (tmp), (tmp) = (n) ? (n)->next : NULL)

#endif
