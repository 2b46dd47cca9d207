// SPDX-License-Identifier: MIT
/*
 * UTF-8 clean-up (utf8.h): a validating decoder of one character at a time, with fast runs of
 * ASCII, and a cut that never splits a character.
 */
#include "utf8.h"

#include <stdint.h>

#define DEW_UTF8_ELLIPSIS "\xe2\x80\xa6"    /* "…", appended to cut text */
#define DEW_UTF8_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, for bytes that are not UTF-8 */

/* The length of the valid UTF-8 character (not NUL) at s (n bytes left), or 0 when it is not one. */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
	uint32_t cp, min;
	size_t len;

	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Copy s as valid UTF-8, one U+FFFD for each byte that is not part of a character (see utf8.h). */
void dew_utf8_append(struct dew_buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	/* dew_buf_reserve alone leaves a new buffer's data unterminated: only reserve what is written. */
	if (len == 0)
		return;
	dew_buf_reserve(out, len);
	while (p < end) {
		const unsigned char *run = p;
		while (p < end && *p && *p < 0x80)
			p++;
		if (p > run)
			dew_buf_append(out, run, (size_t)(p - run));
		if (p == end)
			break;
		size_t n = utf8_char_len(p, (size_t)(end - p));
		if (n) {
			dew_buf_append(out, p, n);
			p += n;
		} else {
			dew_buf_puts(out, DEW_UTF8_REPLACEMENT);
			p++;
		}
	}
}

/*
 * Where to cut s (more than max bytes): at max, moved back to the start of a character that would
 * straddle the cut. s[max] is the first byte past the cut: a continuation byte there means the
 * character before it straddles.
 */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t cut = max;

	for (int i = 0; i < 3 && cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80; i++)
		cut--;
	return ((unsigned char)s[cut] & 0xc0) == 0x80 ? max : cut;
}

/* Copy at most max bytes of s as valid UTF-8, marking a cut with "…" (see utf8.h). */
void dew_utf8_append_cut(struct dew_buf *out, const char *s, size_t len, size_t max)
{
	if (len <= max) {
		dew_utf8_append(out, s, len);
		return;
	}
	dew_utf8_append(out, s, utf8_cut(s, max));
	dew_buf_puts(out, DEW_UTF8_ELLIPSIS);
}
