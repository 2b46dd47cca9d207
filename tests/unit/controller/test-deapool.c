// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/deapool.h: malformed advertisements are refused and change nothing,
 * the pool is bounded, entries expire, placement filters by stack, room and the avoid list and says why it
 * failed, spreads instances (fewest of the app, then most free memory, then id), reserves locally until the
 * DEA's next advertisement, the stacks and buildpacks lists are sorted unions, and the /v1/info
 * JSON has its shape.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "deapool.h"
#include "json.h"
#include "tap.h"

#define APP "6f1c1c7e-3c1b-4a4e-9a57-0d0c2f7b1e11"
#define OTHER "11111111-2222-3333-4444-555555555555"

/* Advertise text; returns the result code and, when msg is not NULL, the error message. */
static int adv_text(struct dea_pool *p, const char *text, uint64_t now, char **msg)
{
	struct dew_error *err = NULL;
	json_auto_t *j = dew_json_parse(text, strlen(text), &err);
	int r = j ? dea_pool_advertise(p, j, now, &err) : -EINVAL;

	if (msg)
		*msg = err ? xstrdup(err->msg) : NULL;
	dew_error_free(err);
	return r;
}

/* Advertise id with one stack list (JSON text), memory, disk and app_id_to_count (JSON text). */
static int adv(struct dea_pool *p, const char *id, const char *stacks, long mem, long disk,
	       const char *counts, uint64_t now)
{
	cleanup_free char *t =
		xasprintf("{\"id\": \"%s\", \"stacks\": %s, \"available_memory\": %ld,"
			  " \"available_disk\": %ld, \"app_id_to_count\": %s, \"placement_tags\": []}",
			  id, stacks, mem, disk, counts);
	return adv_text(p, t, now, NULL);
}

/* Place one instance; returns a copy of the chosen id, or NULL with *why (when why is not NULL). */
static char *place(struct dea_pool *p, const char *app, const char *stack, long mem, long disk,
		   char *const *avoid, char **why)
{
	char *reason = NULL;
	const char *id = dea_pool_place(p, app, stack, mem, disk, avoid, &reason);

	if (why)
		*why = reason;
	else
		free(reason);
	return id ? xstrdup(id) : NULL;
}

static void is_place(struct dea_pool *p, const char *app, long mem, const char *want, const char *name)
{
	cleanup_free char *why = NULL;
	cleanup_free char *got = place(p, app, "bookworm", mem, 100, NULL, &why);

	if (!tap_is_str(got, want, "%s", name) && why)
		tap_diag("why: %s", why);
}

static void refused(const char *text, const char *needle, const char *name)
{
	struct dea_pool *p = dea_pool_new();
	char *msg = NULL;

	adv(p, "dea-keep", "[\"bookworm\"]", 1024, 4096, "{}", 1);
	int r = adv_text(p, text, 2, &msg);
	tap_ok(r == -EINVAL, "%s: refused (got %d)", name, r);
	tap_has_str(msg ? msg : "", needle, "%s: message names it", name);
	if (msg && !strstr(msg, needle))
		tap_diag("message: %s", msg);
	json_auto_t *j = dea_pool_json(p, 10);
	tap_ok(dea_pool_count(p) == 1 && json_array_size(j) == 1 &&
		       json_integer_value(json_object_get(json_array_get(j, 0), "age_ms")) == 9,
	       "%s: pool unchanged", name);
	free(msg);
	dea_pool_free(p);
}

static void test_malformed(void)
{
	refused("{\"stacks\": [], \"available_memory\": 1, \"available_disk\": 1, \"app_id_to_count\": {}}",
		"`id`", "missing id");
	refused("{\"id\": \"dea keep\", \"stacks\": [], \"available_memory\": 1, \"available_disk\": 1,"
		" \"app_id_to_count\": {}}",
		"`id`", "id with a space");
	refused("{\"id\": \"\", \"stacks\": [], \"available_memory\": 1, \"available_disk\": 1,"
		" \"app_id_to_count\": {}}",
		"`id`", "empty id");
	refused("{\"id\": 7, \"stacks\": [], \"available_memory\": 1, \"available_disk\": 1,"
		" \"app_id_to_count\": {}}",
		"`id`", "id not a string");
	/* 65 characters. */
	refused("{\"id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"stacks\": "
		"[],"
		" \"available_memory\": 1, \"available_disk\": 1, \"app_id_to_count\": {}}",
		"`id`", "id too long");
	refused("{\"id\": \"dea-keep\", \"stacks\": \"bookworm\", \"available_memory\": 1, "
		"\"available_disk\": 1,"
		" \"app_id_to_count\": {}}",
		"`stacks`", "stacks not an array");
	refused("{\"id\": \"dea-keep\", \"stacks\": [1], \"available_memory\": 1, \"available_disk\": 1,"
		" \"app_id_to_count\": {}}",
		"`stacks`", "stacks of numbers");
	refused("{\"id\": \"dea-keep\", \"stacks\": [], \"buildpacks\": \"python\", \"available_memory\": 1,"
		" \"available_disk\": 1, \"app_id_to_count\": {}}",
		"`buildpacks`", "buildpacks not an array");
	refused("{\"id\": \"dea-keep\", \"stacks\": [], \"buildpacks\": [\"python\", null], "
		"\"available_memory\": 1,"
		" \"available_disk\": 1, \"app_id_to_count\": {}}",
		"`buildpacks`", "buildpacks with a null");
	refused("{\"id\": \"dea-keep\", \"stacks\": [], \"available_memory\": \"1\", \"available_disk\": 1,"
		" \"app_id_to_count\": {}}",
		"`available_memory`", "memory a string");
	refused("{\"id\": \"dea-keep\", \"stacks\": [], \"available_memory\": 1.5, \"available_disk\": 1,"
		" \"app_id_to_count\": {}}",
		"`available_memory`", "memory a real");
	refused("{\"id\": \"dea-keep\", \"stacks\": [], \"available_memory\": 1, \"app_id_to_count\": {}}",
		"`available_disk`", "disk missing");
	refused("{\"id\": \"dea-keep\", \"stacks\": [], \"available_memory\": 1, \"available_disk\": 1,"
		" \"app_id_to_count\": []}",
		"`app_id_to_count`", "counts not an object");
	refused("{\"id\": \"dea-keep\", \"stacks\": [], \"available_memory\": 1, \"available_disk\": 1,"
		" \"app_id_to_count\": {\"a\": -1}}",
		"`a`", "negative count");
	refused("{\"id\": \"dea-keep\", \"stacks\": [], \"available_memory\": 1, \"available_disk\": 1,"
		" \"app_id_to_count\": {\"a\": \"2\"}}",
		"`a`", "count a string");
	refused("{\"id\": \"dea-keep\", \"stacks\": [], \"available_memory\": 1, \"available_disk\": 1,"
		" \"app_id_to_count\": {}, \"placement_tags\": [true]}",
		"`placement_tags`", "tags not strings");
	refused("[1, 2]", "`id`", "not an object");

	/* Oversized: 33 stacks, 10,001 apps. */
	cleanup_free char *stacks = xstrdup("[");
	for (int i = 0; i < 33; i++) {
		char *s = xasprintf("%s%s\"s%d\"", stacks, i ? ", " : "", i);
		free(stacks);
		stacks = s;
	}
	cleanup_free char *t = xasprintf("{\"id\": \"dea-keep\", \"stacks\": %s], \"available_memory\": 1,"
					 " \"available_disk\": 1, \"app_id_to_count\": {}}",
					 stacks);
	refused(t, "`stacks`", "33 stacks");

	json_auto_t *counts = json_object();
	for (int i = 0; i < 10001; i++) {
		char key[32];
		snprintf(key, sizeof key, "app-%d", i);
		json_object_set_new(counts, key, json_integer(1));
	}
	cleanup_free char *ctext = dew_json_dumps(counts);
	cleanup_free char *big = xasprintf("{\"id\": \"dea-keep\", \"stacks\": [], \"available_memory\": 1,"
					   " \"available_disk\": 1, \"app_id_to_count\": %s}",
					   ctext);
	refused(big, "`app_id_to_count`", "10,001 apps");

	/* A refused re-advertisement keeps the old entry's numbers and reservations. */
	struct dea_pool *p = dea_pool_new();
	adv(p, "dea-a", "[\"bookworm\"]", 1024, 4096, "{}", 1);
	free(place(p, APP, "bookworm", 256, 100, NULL, NULL));
	adv_text(p, "{\"id\": \"dea-a\", \"stacks\": [\"bookworm\"], \"available_memory\": \"x\"}", 2, NULL);
	json_auto_t *j = dea_pool_json(p, 2);
	tap_is_int(json_integer_value(json_object_get(json_array_get(j, 0), "available_memory")), 768,
		   "a refused re-advertisement keeps the reservation");
	dea_pool_free(p);
}

static void test_full_pool(void)
{
	struct dea_pool *p = dea_pool_new();
	char id[32], *msg = NULL;
	int bad = 0;

	for (int i = 0; i < 4096; i++) {
		snprintf(id, sizeof id, "dea-%04d", i);
		bad += adv(p, id, "[\"bookworm\"]", 1024, 1024, "{}", 1) != 0;
	}
	tap_ok(bad == 0 && dea_pool_count(p) == 4096, "4096 DEAs fit");
	int r = adv_text(
		p,
		"{\"id\": \"dea-extra\", \"stacks\": [], \"available_memory\": 1, \"available_disk\": 1,"
		" \"app_id_to_count\": {}}",
		2, &msg);
	tap_ok(r == -ENOSPC && dea_pool_count(p) == 4096, "one more is refused (got %d)", r);
	tap_has_str(msg ? msg : "", "dea-extra", "the refusal names it");
	free(msg);
	tap_is_int(adv(p, "dea-4095", "[\"bookworm\"]", 2048, 1024, "{}", 3), 0,
		   "a known DEA still re-advertises");
	cleanup_free char *got = place(p, APP, "bookworm", 1500, 1, NULL, NULL);
	tap_is_str(got, "dea-4095", "and its new numbers count");
	dea_pool_free(p);
}

static void test_negative_clamped(void)
{
	struct dea_pool *p = dea_pool_new();
	char *msg = NULL;

	int r = adv_text(p,
			 "{\"id\": \"dea-a\", \"stacks\": [\"bookworm\"], \"available_memory\": -512,"
			 " \"available_disk\": -1, \"app_id_to_count\": {\"x\": 0}}",
			 1, &msg);
	tap_is_int(r, 0, "negative available memory and disk are accepted");
	if (msg)
		tap_diag("%s", msg);
	free(msg);
	json_auto_t *j = dea_pool_json(p, 1);
	json_t *e = json_array_get(j, 0);
	tap_ok(json_integer_value(json_object_get(e, "available_memory")) == 0 &&
		       json_integer_value(json_object_get(e, "available_disk")) == 0,
	       "and clamped to 0");
	cleanup_free char *why = NULL;
	cleanup_free char *got = place(p, APP, "bookworm", 1, 0, NULL, &why);
	tap_ok(got == NULL, "an overcommitted DEA gets nothing");
	tap_is_str(why, "no DEA has 1 MB of memory free (most free: 0 MB)", "why");
	dea_pool_free(p);
}

static void test_expire_remove(void)
{
	struct dea_pool *p = dea_pool_new();

	adv(p, "dea-a", "[\"bookworm\"]", 1024, 4096, "{}", 1000);
	adv(p, "dea-b", "[\"bookworm\"]", 1024, 4096, "{}", 5000);
	adv(p, "dea-c", "[\"bookworm\"]", 1024, 4096, "{}", 9000);
	tap_is_int(dea_pool_count(p), 3, "three DEAs");
	dea_pool_expire(p, 10000, 15000);
	tap_is_int(dea_pool_count(p), 3, "nothing expires before the ttl (and now < ttl is safe)");
	dea_pool_expire(p, 20000, 15000);
	tap_is_int(dea_pool_count(p), 2,
		   "one silent for longer than the ttl expires, one heard from exactly ttl ago stays");
	adv(p, "dea-b", "[\"bookworm\"]", 1024, 4096, "{}", 30000);
	dea_pool_expire(p, 35000, 15000);
	json_auto_t *j = dea_pool_json(p, 35000);
	tap_ok(json_array_size(j) == 1 &&
		       !strcmp(json_string_value(json_object_get(json_array_get(j, 0), "id")), "dea-b"),
	       "a fresh advertisement keeps a DEA");
	cleanup_free char *got = place(p, APP, "bookworm", 1, 1, NULL, NULL);
	tap_is_str(got, "dea-b", "placement uses the remaining DEA");

	dea_pool_remove(p, "dea-zzz");
	tap_is_int(dea_pool_count(p), 1, "removing an unknown DEA is harmless");
	dea_pool_remove(p, "dea-b");
	tap_is_int(dea_pool_count(p), 0, "remove forgets a DEA");
	cleanup_free char *why = NULL;
	cleanup_free char *none = place(p, APP, "bookworm", 1, 1, NULL, &why);
	tap_ok(none == NULL, "nothing to place on");
	tap_has_str(why, "no DEA offers stack `bookworm`", "why names the stack");
	dea_pool_free(p);
}

static void test_filters(void)
{
	struct dea_pool *p = dea_pool_new();
	cleanup_free char *why1 = NULL, *why2 = NULL, *why3 = NULL, *why4 = NULL, *why5 = NULL;

	adv(p, "dea-a", "[\"host\"]", 8192, 8192, "{}", 1);
	adv(p, "dea-b", "[\"bookworm\", \"host\"]", 256, 1024, "{}", 1);
	adv(p, "dea-c", "[\"bookworm\"]", 128, 8192, "{}", 1);

	cleanup_free char *a = place(p, APP, "jammy", 64, 64, NULL, &why1);
	tap_ok(a == NULL, "no DEA with the stack");
	tap_is_str(why1, "no DEA offers stack `jammy`", "why: no stack");

	cleanup_free char *b = place(p, APP, "bookworm", 512, 64, NULL, &why2);
	tap_ok(b == NULL, "memory only on a DEA without the stack does not count");
	tap_is_str(why2, "no DEA has 512 MB of memory free (most free: 256 MB)",
		   "why: no memory, with the most free among DEAs offering the stack");

	cleanup_free char *c = place(p, APP, "bookworm", 64, 9000, NULL, &why3);
	tap_ok(c == NULL, "no DEA with the disk");
	tap_is_str(why3, "no DEA has 9000 MB of disk free (most free: 8192 MB)", "why: no disk");

	cleanup_free char *d = place(p, APP, "bookworm", 200, 2048, NULL, &why4);
	tap_ok(d == NULL, "memory on one DEA and disk on another is no room");
	tap_has_str(why4, "on different DEAs", "why: not on one DEA");

	cleanup_free char *e = place(p, APP, "bookworm", 200, 1024, NULL, NULL);
	tap_is_str(e, "dea-b", "the one DEA with stack, memory and disk");
	cleanup_free char *f = place(p, APP, "host", 1024, 1024, NULL, NULL);
	tap_is_str(f, "dea-a", "the other stack");

	char *avoid[] = { "dea-a", NULL };
	cleanup_free char *g = place(p, APP, "host", 1024, 1024, avoid, &why5);
	tap_ok(g == NULL, "an avoided DEA is skipped");
	tap_is_str(why5, "no DEA has 1024 MB of memory free (most free: 56 MB)",
		   "why counts only the DEAs not avoided (and the reservation on dea-b)");
	char *avoid2[] = { "dea-x", "dea-b", NULL };
	cleanup_free char *h = place(p, APP, "bookworm", 64, 64, avoid2, NULL);
	tap_is_str(h, "dea-c", "avoid sends the instance elsewhere");
	char *avoid3[] = { "dea-b", "dea-c", NULL };
	cleanup_free char *why6 = NULL;
	cleanup_free char *i = place(p, APP, "bookworm", 1, 1, avoid3, &why6);
	tap_ok(i == NULL, "every DEA with the stack avoided");
	tap_has_str(why6, "excluded", "why says they were excluded");
	dea_pool_free(p);
}

static void test_spread(void)
{
	struct dea_pool *p = dea_pool_new();
	int n_a = 0, n_b = 0, n_c = 0;

	adv(p, "dea-c", "[\"bookworm\"]", 4096, 8192, "{}", 1);
	adv(p, "dea-a", "[\"bookworm\"]", 4096, 8192, "{}", 1);
	adv(p, "dea-b", "[\"bookworm\"]", 4096, 8192, "{}", 1);
	for (int i = 0; i < 6; i++) {
		cleanup_free char *id = place(p, APP, "bookworm", 256, 100, NULL, NULL);
		if (!id)
			break;
		n_a += !strcmp(id, "dea-a");
		n_b += !strcmp(id, "dea-b");
		n_c += !strcmp(id, "dea-c");
	}
	tap_ok(n_a == 2 && n_b == 2 && n_c == 2, "6 placements on 3 DEAs: 2 each (got %d, %d, %d)", n_a, n_b,
	       n_c);
	dea_pool_free(p);
}

static void test_order(void)
{
	struct dea_pool *p = dea_pool_new();

	/* dea-a has most memory but already runs 2 of APP; dea-b runs 1; dea-c runs none of APP
	 * (but 5 of another app, which does not matter) and has least memory. */
	adv(p, "dea-a", "[\"bookworm\"]", 8192, 8192, "{\"" APP "\": 2}", 1);
	adv(p, "dea-b", "[\"bookworm\"]", 4096, 8192, "{\"" APP "\": 1}", 1);
	adv(p, "dea-c", "[\"bookworm\"]", 1024, 8192, "{\"" OTHER "\": 5, \"" APP "\": 0}", 1);
	is_place(p, APP, 256, "dea-c", "fewest instances of the app wins over most free memory");
	is_place(p, APP, 256, "dea-b",
		 "then the local reservation counts: dea-b and dea-c have 1, b more memory");
	is_place(p, APP, 256, "dea-c", "dea-c (1) beats dea-a (2) and dea-b (2)");
	is_place(p, APP, 256, "dea-a", "all have 2: most free memory (dea-a 8192)");
	is_place(p, OTHER, 256, "dea-a", "another app: none anywhere but dea-c; most free memory among a, b");
	is_place(p, OTHER, 256, "dea-b", "another app again: dea-b (0)");

	/* Ties in count and memory: the smallest id. */
	struct dea_pool *q = dea_pool_new();
	adv(q, "dea-2", "[\"bookworm\"]", 1024, 1024, "{}", 1);
	adv(q, "dea-10", "[\"bookworm\"]", 1024, 1024, "{}", 1);
	adv(q, "dea-1", "[\"bookworm\"]", 1024, 1024, "{}", 1);
	is_place(q, APP, 0, "dea-1", "a full tie goes to the smallest id");
	is_place(q, APP, 0, "dea-10", "then the next id (byte order)");
	is_place(q, APP, 0, "dea-2", "then the last");
	dea_pool_free(q);
	dea_pool_free(p);
}

static json_int_t info_int(struct dea_pool *p, size_t i, const char *key)
{
	json_auto_t *j = dea_pool_json(p, 100);
	return json_integer_value(json_object_get(json_array_get(j, i), key));
}

static void test_reservations(void)
{
	struct dea_pool *p = dea_pool_new();

	adv(p, "dea-a", "[\"bookworm\"]", 1024, 2048, "{}", 1);
	for (int i = 0; i < 3; i++)
		free(place(p, APP, "bookworm", 256, 500, NULL, NULL));
	tap_is_int(info_int(p, 0, "available_memory"), 256, "reservations accumulate: memory");
	tap_is_int(info_int(p, 0, "available_disk"), 548, "reservations accumulate: disk");
	tap_is_int(info_int(p, 0, "instances"), 3, "reservations accumulate: instances");
	cleanup_free char *why = NULL;
	cleanup_free char *none = place(p, APP, "bookworm", 512, 100, NULL, &why);
	tap_ok(none == NULL, "a placement beyond what is left fails");
	tap_is_str(why, "no DEA has 512 MB of memory free (most free: 256 MB)", "why shows what is left");
	cleanup_free char *last = place(p, APP, "bookworm", 256, 500, NULL, NULL);
	tap_is_str(last, "dea-a", "exactly what is left fits");
	cleanup_free char *full = place(p, APP, "bookworm", 1, 1, NULL, NULL);
	tap_ok(full == NULL, "now it is full");

	/* The DEA started them: its numbers now include them, so the reservations go. */
	adv(p, "dea-a", "[\"bookworm\"]", 0, 0, "{\"" APP "\": 4}", 2);
	tap_is_int(info_int(p, 0, "available_memory"), 0, "the next advertisement replaces: memory");
	tap_is_int(info_int(p, 0, "instances"), 4, "the next advertisement replaces: instances");
	adv(p, "dea-a", "[\"bookworm\"]", 1024, 2048, "{\"" APP "\": 4}", 3);
	tap_is_int(info_int(p, 0, "available_memory"), 1024, "memory freed by the DEA is seen");
	adv(p, "dea-b", "[\"bookworm\"]", 512, 2048, "{}", 3);
	is_place(p, APP, 256, "dea-b",
		 "the advertised count (4) still counts after the reservations are gone");
	dea_pool_free(p);
}

static void test_stacks(void)
{
	struct dea_pool *p = dea_pool_new();
	char **s = dea_pool_stacks(p);

	tap_ok(s && s[0] == NULL, "an empty pool has no stacks");
	dew_strv_free(s);
	adv(p, "dea-a", "[\"jammy\", \"bookworm\"]", 1, 1, "{}", 1);
	adv(p, "dea-b", "[\"bookworm\", \"host\", \"bookworm\"]", 1, 1, "{}", 1);
	adv(p, "dea-c", "[]", 1, 1, "{}", 1);
	s = dea_pool_stacks(p);
	tap_ok(s && s[0] && s[1] && s[2] && !s[3], "three distinct stacks");
	if (s && s[0] && s[1] && s[2]) {
		tap_is_str(s[0], "bookworm", "sorted: first");
		tap_is_str(s[1], "host", "sorted: second");
		tap_is_str(s[2], "jammy", "sorted: third");
	}
	dew_strv_free(s);
	dea_pool_free(p);
}

static void test_buildpacks(void)
{
	struct dea_pool *p = dea_pool_new();
	char **b = dea_pool_buildpacks(p);

	tap_ok(b && b[0] == NULL, "an empty pool has no buildpacks");
	dew_strv_free(b);
	adv_text(p,
		 "{\"id\": \"dea-a\", \"stacks\": [\"host\"], \"buildpacks\": [\"static\", \"python\"],"
		 " \"available_memory\": 1, \"available_disk\": 1, \"app_id_to_count\": {}}",
		 1, NULL);
	adv_text(p,
		 "{\"id\": \"dea-b\", \"stacks\": [\"host\"], \"buildpacks\": [\"python\", \"node\"],"
		 " \"available_memory\": 1, \"available_disk\": 1, \"app_id_to_count\": {}}",
		 1, NULL);
	adv(p, "dea-c", "[\"host\"]", 1, 1, "{}", 1); /* a DEA that does not stage sends none */
	tap_is_int((intmax_t)dea_pool_count(p), 3, "a DEA without buildpacks is accepted");
	b = dea_pool_buildpacks(p);
	tap_ok(b && b[0] && b[1] && b[2] && !b[3], "three distinct buildpacks");
	if (b && b[0] && b[1] && b[2]) {
		tap_is_str(b[0], "node", "sorted: first");
		tap_is_str(b[1], "python", "sorted: second");
		tap_is_str(b[2], "static", "sorted: third");
	}
	dew_strv_free(b);
	dea_pool_remove(p, "dea-a");
	b = dea_pool_buildpacks(p);
	tap_ok(b && b[0] && b[1] && !b[2], "a DEA's buildpacks leave with it");
	dew_strv_free(b);
	dea_pool_free(p);
}

static void test_json(void)
{
	struct dea_pool *p = dea_pool_new();

	adv(p, "dea-b", "[\"bookworm\"]", 2048, 4096, "{\"" OTHER "\": 2, \"" APP "\": 1}", 1000);
	adv(p, "dea-a", "[\"host\", \"bookworm\"]", 1024, 512, "{}", 1500);
	free(place(p, APP, "bookworm", 128, 64, NULL, NULL));
	json_auto_t *j = dea_pool_json(p, 3000);
	cleanup_free char *text = dew_json_dumps(j);
	tap_is_str(text,
		   "[{\"id\":\"dea-a\",\"stacks\":[\"host\",\"bookworm\"],\"available_memory\":896,"
		   "\"available_disk\":448,\"instances\":1,\"age_ms\":1500},"
		   "{\"id\":\"dea-b\",\"stacks\":[\"bookworm\"],\"available_memory\":2048,"
		   "\"available_disk\":4096,\"instances\":3,\"age_ms\":2000}]",
		   "json: one object per DEA, by id, with reservations applied");
	dea_pool_free(p);
}

int main(void)
{
	test_malformed();
	test_full_pool();
	test_negative_clamped();
	test_expire_remove();
	test_filters();
	test_spread();
	test_order();
	test_reservations();
	test_stacks();
	test_buildpacks();
	test_json();
	return tap_done();
}
