/* SPDX-License-Identifier: MIT */
/*
 * The subscription index of dew-bus: a trie of subject tokens ('*' and '>' wildcards) with a
 * bounded cache of match results, so a hot subject is one hash lookup even with 100,000
 * subscriptions. Subscriptions are opaque pointers owned by the caller.
 */
#ifndef DEW_BUS_SUBLIST_H
#define DEW_BUS_SUBLIST_H

#include <stddef.h>
#include <stdint.h>

struct sublist;

/* The subscriptions matching one subject. Plain subscribers each get the message; each
 * queue group gets it once (the caller picks one member). */
struct sublist_qgroup {
	const char *name; /* the queue group name */
	void **subs;
	size_t n;
};

struct sublist_result {
	void **psubs; /* plain subscriptions */
	size_t n_psubs;
	struct sublist_qgroup *qgroups;
	size_t n_qgroups;
};

struct sublist *sublist_new(void);
void sublist_free(struct sublist *sl);

/*
 * Add sub under subject (validated by the caller with dew_nats_subject_valid) and queue (NULL
 * or "" for a plain subscription). Strings are copied. Returns 0 or -EEXIST when that exact
 * sub pointer is already there under the same subject and queue.
 */
int sublist_insert(struct sublist *sl, const char *subject, size_t subject_len, const char *queue,
		   size_t queue_len, void *sub);

/* Remove what sublist_insert added. Returns 0 or -ENOENT. */
int sublist_remove(struct sublist *sl, const char *subject, size_t subject_len, const char *queue,
		   size_t queue_len, void *sub);

/*
 * The subscriptions matching literal subject s. The result is owned by the sublist and valid
 * until the next insert or remove (callers deliver before touching the index again).
 */
const struct sublist_result *sublist_match(struct sublist *sl, const char *s, size_t len);

size_t sublist_count(const struct sublist *sl);
/* Trie nodes below the root: empty ones are pruned on remove, so this falls back with churn. */
size_t sublist_node_count(const struct sublist *sl);

struct sublist_stats {
	uint64_t matches, cache_hits, inserts, removes;
	size_t cache_entries;
};
void sublist_stats(const struct sublist *sl, struct sublist_stats *out);

#endif
