// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/random.c: UUID format (version 4, RFC 4122 variant) and uniqueness,
 * hex tokens, and the bounds and coverage of dew_random_below().
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "random.h"
#include "tap.h"

enum { N_UUIDS = 10000 };

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx, lowercase. */
static bool uuid_well_formed(const char *u)
{
	if (strlen(u) != DEW_UUID_LEN)
		return false;
	for (int i = 0; i < DEW_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? u[i] != '-' : !is_lower_hex(u[i]))
			return false;
	}
	return u[14] == '4' && strchr("89ab", u[19]) != NULL;
}

static int cmp_uuid(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_uuid(void)
{
	char(*u)[DEW_UUID_LEN + 1] = xcalloc(N_UUIDS, sizeof *u);
	int bad = 0, dups = 0;

	for (int i = 0; i < N_UUIDS; i++) {
		dew_uuid4(u[i]);
		if (!uuid_well_formed(u[i]) && bad++ == 0)
			tap_diag("malformed: %s", u[i]);
	}
	tap_ok(uuid_well_formed(u[0]), "uuid looks like %s", u[0]);
	tap_is_int(bad, 0, "%d uuids are version 4, variant 10xx, lowercase", N_UUIDS);
	qsort(u, N_UUIDS, sizeof *u, cmp_uuid);
	for (int i = 1; i < N_UUIDS; i++)
		dups += strcmp(u[i - 1], u[i]) == 0;
	tap_is_int(dups, 0, "%d uuids are unique", N_UUIDS);
	free(u);

	tap_ok(!uuid_well_formed("00000000-0000-0000-0000-000000000000"),
	       "the checker itself rejects a nil uuid");
}

static void test_hex(void)
{
	char small[9], big[2 * 1000 + 1];
	int bad = 0;

	memset(small, 'Z', sizeof small);
	dew_random_hex(small, 4);
	tap_is_int((int)strlen(small), 8, "4 bytes give 8 hex digits");
	dew_random_hex(big, 1000);
	tap_is_int((int)strlen(big), 2000, "1000 bytes give 2000 hex digits");
	for (int i = 0; i < 2000; i++)
		bad += !is_lower_hex(big[i]);
	tap_is_int(bad, 0, "only lowercase hex digits");

	char empty[1] = { 'Z' };
	dew_random_hex(empty, 0);
	tap_is_int(empty[0], '\0', "0 bytes give an empty string");

	unsigned char a[32] = { 0 }, b[32] = { 0 };
	dew_random_bytes(a, sizeof a);
	dew_random_bytes(b, sizeof b);
	tap_ok(memcmp(a, b, sizeof a) != 0, "two draws of 32 bytes differ");
	tap_ok(dew_random_u64() != dew_random_u64() || dew_random_u64() != dew_random_u64(),
	       "u64 draws differ");
}

static void test_below(void)
{
	int seen[7] = { 0 }, out = 0;

	for (int i = 0; i < 7000; i++) {
		uint64_t v = dew_random_below(7);
		if (v >= 7)
			out++;
		else
			seen[v]++;
	}
	tap_is_int(out, 0, "random_below(7) stays below 7");
	bool all = true;
	for (int i = 0; i < 7; i++)
		all = all && seen[i] > 700; /* expected 1000 each; 700 is > 10 sigma away */
	tap_ok(all, "every value of [0, 7) comes up about equally often");

	tap_is_int((int)dew_random_below(1), 0, "random_below(1) is 0");
	bool big_ok = true;
	uint64_t n = (UINT64_C(1) << 63) + 1; /* the worst case for rejection sampling */
	for (int i = 0; i < 1000; i++)
		big_ok = big_ok && dew_random_below(n) < n;
	tap_ok(big_ok, "random_below(2^63 + 1) stays below");
	big_ok = true;
	for (int i = 0; i < 1000; i++)
		big_ok = big_ok && dew_random_below(UINT64_MAX) < UINT64_MAX;
	tap_ok(big_ok, "random_below(UINT64_MAX) stays below");
}

int main(void)
{
	test_uuid();
	test_hex();
	test_below();
	return tap_done();
}
