// SPDX-License-Identifier: MIT
/*
 * sublist-bench: how fast the dew-bus subscription index inserts, matches (through its cache and
 * around it) and removes with 100,000 subscriptions, and how much memory they take. A benchmark,
 * not a test: it prints a table and asserts nothing. Build it with -O2 and no sanitizers.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sublist.h"

enum {
	N = 100000,
	HOT = 1000, /* subjects in the cached run: well inside the cache */
	HOT_ROUNDS = 1000,
	CHURN = 10000, /* wildcard subscribe/unsubscribe pairs with a full cache */
};

static size_t sink; /* keeps the compiler from dropping matches whose results go unread */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_bytes(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

static size_t heap_bytes(void)
{
	return mallinfo2().uordblks;
}

static void *sub_ptr(size_t i)
{
	return (void *)(uintptr_t)(0x10000 + i * 8);
}

static void row(const char *name, size_t ops, double t0, double t1)
{
	printf("%-44s %9zu %9.1f %12.0f\n", name, ops, (t1 - t0) * 1e3, (double)ops / (t1 - t0));
}

/* The subscriptions of the mixed case: mostly literal, some '*', '>' and queue groups. */
static size_t mixed_subject(size_t i, char *s, size_t size, const char **queue)
{
	static const char *const queues[] = { "q0", "q1", "q2", "q3" };
	*queue = NULL;
	switch (i % 20) {
	case 0 ... 11:
		return (size_t)snprintf(s, size, "svc.%zu.x", i);
	case 12 ... 14:
		return (size_t)snprintf(s, size, "svc.%zu.*", i - 12);
	case 15 ... 16:
		return (size_t)snprintf(s, size, "svc.*.%zu", i);
	case 17 ... 18:
		*queue = queues[i % 4];
		return (size_t)snprintf(s, size, "svc.%zu.>", i - 17);
	default:
		return (size_t)snprintf(s, size, "_INBOX.%zu.*", i);
	}
}

/* The subject published to in each case: it hits the literal sub i and, when mixed, wildcards. */
static size_t pub_subject(bool mixed, size_t i, char *s, size_t size)
{
	return (size_t)snprintf(s, size, mixed ? "svc.%zu.x" : "app.%zu.events", i);
}

static void insert_all(struct sublist *sl, bool mixed, const char *label)
{
	char s[64], name[64];
	const char *q = NULL;
	double t0 = now();
	for (size_t i = 0; i < N; i++) {
		size_t len = mixed ? mixed_subject(i, s, sizeof(s), &q) : pub_subject(false, i, s, sizeof(s));
		sublist_insert(sl, s, len, q, q ? strlen(q) : 0, sub_ptr(i));
	}
	snprintf(name, sizeof(name), "%s: insert", label);
	row(name, N, t0, now());
}

static void remove_all(struct sublist *sl, bool mixed, const char *label)
{
	char s[64], name[64];
	const char *q = NULL;
	double t0 = now();
	for (size_t i = 0; i < N; i++) {
		size_t len = mixed ? mixed_subject(i, s, sizeof(s), &q) : pub_subject(false, i, s, sizeof(s));
		sublist_remove(sl, s, len, q, q ? strlen(q) : 0, sub_ptr(i));
	}
	snprintf(name, sizeof(name), "%s: remove", label);
	row(name, N, t0, now());
}

/* Every subject once (all misses: 100,000 distinct subjects go round a 4,096-entry cache). */
static void match_uncached(struct sublist *sl, bool mixed, const char *label)
{
	char s[64], name[64];
	double t0 = now();
	for (size_t i = 0; i < N; i++) {
		size_t len = pub_subject(mixed, i, s, sizeof(s));
		sink += sublist_match(sl, s, len)->n_psubs;
	}
	snprintf(name, sizeof(name), "%s: match, uncached", label);
	row(name, N, t0, now());
}

static void match_cached(struct sublist *sl, bool mixed, const char *label)
{
	char s[HOT][32], name[64];
	size_t len[HOT];
	for (size_t i = 0; i < HOT; i++) {
		len[i] = pub_subject(mixed, i * 97, s[i], sizeof(s[i]));
		sublist_match(sl, s[i], len[i]);
	}
	double t0 = now();
	for (size_t r = 0; r < HOT_ROUNDS; r++)
		for (size_t i = 0; i < HOT; i++)
			sink += sublist_match(sl, s[i], len[i])->n_psubs;
	snprintf(name, sizeof(name), "%s: match, cached (%d hot)", label, HOT);
	row(name, (size_t)HOT * HOT_ROUNDS, t0, now());
}

/*
 * A subscribe and an unsubscribe of a wildcard each sweep the full cache for the subjects it
 * matches; a cached match between pairs keeps the cache full, as live traffic would.
 */
static void wildcard_churn(struct sublist *sl, const char *label)
{
	char s[64], name[64];
	for (size_t i = 0; i < N; i++) {
		int len = snprintf(s, sizeof(s), "svc.%zu.x", i);
		sublist_match(sl, s, (size_t)len);
	}
	double t0 = now();
	for (size_t i = 0; i < CHURN; i++) {
		int len = snprintf(s, sizeof(s), "_INBOX.c%zu.*", i);
		sublist_insert(sl, s, (size_t)len, NULL, 0, sub_ptr(N + i));
		sublist_remove(sl, s, (size_t)len, NULL, 0, sub_ptr(N + i));
		len = snprintf(s, sizeof(s), "svc.%zu.x", N - 1 - i % HOT);
		sink += sublist_match(sl, s, (size_t)len)->n_psubs;
	}
	snprintf(name, sizeof(name), "%s: wildcard sub+unsub+match, full cache", label);
	row(name, CHURN, t0, now());
}

static void run(bool mixed)
{
	const char *label = mixed ? "mixed" : "literal";
	struct sublist *sl = sublist_new();
	size_t heap0 = heap_bytes();
	long rss0 = rss_bytes();

	insert_all(sl, mixed, label);
	size_t heap1 = heap_bytes();
	long rss1 = rss_bytes();
	match_uncached(sl, mixed, label);
	match_cached(sl, mixed, label);
	if (mixed)
		wildcard_churn(sl, label);
	size_t heap2 = heap_bytes();
	remove_all(sl, mixed, label);
	printf("%s: memory for %d subscriptions: heap %.1f MB (%.0f B/sub), RSS +%.1f MB; "
	       "with the cache full: heap %.1f MB; after removing all: heap %+.1f MB, %zu nodes\n",
	       label, N, (double)(heap1 - heap0) / 1e6, (double)(heap1 - heap0) / N,
	       (double)(rss1 - rss0) / 1e6, (double)(heap2 - heap0) / 1e6,
	       ((double)heap_bytes() - (double)heap0) / 1e6, sublist_node_count(sl));
	sublist_free(sl);
}

int main(void)
{
	printf("%-44s %9s %9s %12s\n", "case", "ops", "ms", "ops/s");
	run(false);
	run(true);
	return sink == (size_t)-1;
}
