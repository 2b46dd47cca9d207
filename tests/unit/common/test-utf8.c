// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/utf8.c: valid text copied as is, each kind of invalid byte (and NUL)
 * replaced by U+FFFD, and the cut at a byte limit that never splits a character.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "tap.h"
#include "utf8.h"

#define REPL "\xef\xbf\xbd"
#define ELLIPSIS "\xe2\x80\xa6"

/* dew_utf8_append of len bytes of s, as a string (caller frees). */
static char *clean(const char *s, size_t len)
{
	struct dew_buf b = DEW_BUF_INIT;

	dew_utf8_append(&b, s, len);
	return dew_buf_steal(&b);
}

/* dew_utf8_append_cut of s (its strlen) at max, as a string (caller frees). */
static char *cut(const char *s, size_t max)
{
	struct dew_buf b = DEW_BUF_INIT;

	dew_utf8_append_cut(&b, s, strlen(s), max);
	return dew_buf_steal(&b);
}

static void test_valid(void)
{
	static const char *const cases[] = {
		"",
		"plain ascii\twith tab",
		"caf\xc3\xa9",				  /* U+00E9, 2 bytes */
		"\xe2\x82\xac 5",			  /* U+20AC, 3 bytes */
		"\xf0\x9f\x98\x80",			  /* U+1F600, 4 bytes */
		"\xc2\x80 \xdf\xbf",			  /* the ends of the 2-byte range */
		"\xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80", /* U+0800, U+D7FF, U+E000 */
		"\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf",	  /* U+10000, U+10FFFF */
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cleanup_free char *got = clean(cases[i], strlen(cases[i]));
		tap_is_str(got, cases[i], "valid text %zu is copied as is", i);
	}
}

static void test_invalid(void)
{
	static const struct {
		const char *in, *want, *what;
	} cases[] = {
		{ "bad \xff\xfe utf8", "bad " REPL REPL " utf8", "bytes that never occur" },
		{ "a\x80z", "a" REPL "z", "a stray continuation byte" },
		{ "\xc0\xaf", REPL REPL, "an overlong 2-byte form" },
		{ "\xc1\xbf", REPL REPL, "another overlong 2-byte form" },
		{ "\xe0\x80\xaf", REPL REPL REPL, "an overlong 3-byte form" },
		{ "\xf0\x80\x80\xaf", REPL REPL REPL REPL, "an overlong 4-byte form" },
		{ "\xed\xa0\x80", REPL REPL REPL, "a surrogate (U+D800)" },
		{ "\xf4\x90\x80\x80", REPL REPL REPL REPL, "a code point past U+10FFFF" },
		{ "\xf5\x80\x80\x80", REPL REPL REPL REPL, "a lead byte past F4" },
		{ "\xc3(", REPL "(", "a lead byte without its continuation" },
		{ "\xe2\x82", REPL REPL, "a sequence cut short by the end" },
		{ "\xe2\x82\xc3\xa9", REPL REPL "\xc3\xa9", "a short sequence before a valid character" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cleanup_free char *got = clean(cases[i].in, strlen(cases[i].in));
		tap_is_str(got, cases[i].want, "%s becomes U+FFFD", cases[i].what);
	}
}

static void test_nul_and_length(void)
{
	cleanup_free char *nul = clean("a\0b", 3);
	tap_is_str(nul, "a" REPL "b", "a NUL becomes U+FFFD");
	/* len bounds the read: a character that continues past it is not one. */
	cleanup_free char *part = clean("x\xc3\xa9", 2);
	tap_is_str(part, "x" REPL, "a character split by len is replaced, not read past len");
	cleanup_free char *none = clean("abc", 0);
	tap_is_str(none, "", "zero bytes append nothing");

	struct dew_buf b = DEW_BUF_INIT;
	dew_buf_puts(&b, "kept: ");
	dew_utf8_append(&b, "\xff", 1);
	tap_is_str(b.data, "kept: " REPL, "text is appended after what the buffer holds");
	dew_buf_close(&b);
}

static void test_cut(void)
{
	cleanup_free char *fits = cut("abcdef", 6);
	tap_is_str(fits, "abcdef", "text of exactly max bytes is not cut");
	cleanup_free char *shorter = cut("ab\xff", 8);
	tap_is_str(shorter, "ab" REPL, "short text is only cleaned, with no ellipsis");
	cleanup_free char *ascii = cut("abcdefgh", 5);
	tap_is_str(ascii, "abcde" ELLIPSIS, "long text is cut at max bytes with a trailing …");
	/* "é" takes bytes 3 and 4: a cut at 4 would split it. */
	cleanup_free char *two = cut("abc\xc3\xa9xyz", 4);
	tap_is_str(two, "abc" ELLIPSIS, "a 2-byte character straddling the cut is dropped whole");
	cleanup_free char *after = cut("abc\xc3\xa9xyz", 5);
	tap_is_str(after, "abc\xc3\xa9" ELLIPSIS, "a character ending at the cut is kept");
	cleanup_free char *four = cut("ab\xf0\x9f\x98\x80z", 5);
	tap_is_str(four, "ab" ELLIPSIS, "a 4-byte character straddling the cut is dropped whole");
	cleanup_free char *bad = cut("ab\xff\xfe\xfd\xfc", 3);
	tap_is_str(bad, "ab" REPL ELLIPSIS, "invalid bytes before the cut are replaced");

	struct dew_buf b = DEW_BUF_INIT;
	dew_utf8_append_cut(&b, "a\0bcdef", 7, 3);
	tap_is_str(b.data, "a" REPL "b" ELLIPSIS, "a NUL before the cut is replaced too");
	dew_buf_close(&b);
}

int main(void)
{
	test_valid();
	test_invalid();
	test_nul_and_length();
	test_cut();
	return tap_done();
}
