// SPDX-License-Identifier: MIT
/*
 * Strict parsers of numbers, booleans, sizes, durations and HOST:PORT pairs. Digits are
 * scanned by hand rather than with strtoull(), which skips leading spaces and silently wraps
 * "-1" to UINT64_MAX.
 */
#include "parse.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"

/*
 * Scan the run of decimal digits at s into *out and point *end past it. Returns -EINVAL when
 * there is no digit, -ERANGE when the run does not fit (it is still consumed, so callers can
 * reject trailing garbage first: "99999999999999999999x" is a syntax error, not an overflow).
 */
static int scan_digits(const char *s, const char **end, uint64_t *out)
{
	const char *p = s;
	uint64_t v = 0;
	bool overflow = false;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	*end = p;
	if (p == s)
		return -EINVAL;
	if (overflow)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Multiply with an overflow check: -ERANGE when a * b does not fit. */
static int mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	if (__builtin_mul_overflow(a, b, out))
		return -ERANGE;
	return 0;
}

/* Parse an unsigned decimal integer (see parse.h). */
int dew_parse_uint64(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v = 0;
	int r = scan_digits(s, &end, &v);

	if (*end != '\0' || r == -EINVAL)
		return -EINVAL;
	if (r < 0)
		return r;
	*out = v;
	return 0;
}

/* Parse a signed decimal integer (see parse.h). */
int dew_parse_int64(const char *s, int64_t *out)
{
	bool neg = *s == '-';
	uint64_t v = 0;
	int r = dew_parse_uint64(neg ? s + 1 : s, &v);

	if (r < 0)
		return r;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		/* -(INT64_MIN) overflows, so go through INT64_MIN explicitly. */
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
		return 0;
	}
	if (v > (uint64_t)INT64_MAX)
		return -ERANGE;
	*out = (int64_t)v;
	return 0;
}

/* Parse canonical decimal digits up to max (see parse.h). */
int dew_parse_digits(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int dew_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse a boolean word (see parse.h). */
int dew_parse_bool(const char *s, bool *out)
{
	static const struct {
		const char *name;
		bool value;
	} names[] = {
		{ "true", true },   { "yes", true }, { "on", true },   { "1", true },
		{ "false", false }, { "no", false }, { "off", false }, { "0", false },
	};

	for (size_t i = 0; i < DEW_ARRAY_SIZE(names); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].value;
			return 0;
		}
	}
	return -EINVAL;
}

/* The multiplier of a size suffix ("", "b", "k", "kb", "kib", ...), or 0 when unknown. */
static uint64_t size_multiplier(const char *suffix)
{
	static const char units[] = "kmgtpe";
	size_t len = strlen(suffix);

	if (len == 0 || strcasecmp(suffix, "b") == 0)
		return 1;
	if (len > 3)
		return 0;
	/* ASCII lower case; only 'A'..'Z' map onto the letters of units. */
	const char *u = memchr(units, suffix[0] | 0x20, sizeof units - 1);
	if (!u)
		return 0;
	if (len == 1 || strcasecmp(suffix + 1, "b") == 0 || strcasecmp(suffix + 1, "ib") == 0)
		return UINT64_C(1) << (10 * (u - units + 1));
	return 0;
}

/* Parse a byte count with an optional binary multiple (see parse.h). */
int dew_parse_size(const char *s, uint64_t *bytes)
{
	const char *end;
	uint64_t v = 0;
	int r = scan_digits(s, &end, &v);

	if (r == -EINVAL)
		return r;
	uint64_t mult = size_multiplier(end);
	if (mult == 0)
		return -EINVAL;
	if (r < 0 || mul_u64(v, mult, &v) < 0)
		return -ERANGE;
	*bytes = v;
	return 0;
}

/* Parse a duration into milliseconds (see parse.h). */
int dew_parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
		{ "", 1000 },	    { "ms", 1 },	  { "s", 1000 },
		{ "m", 60 * 1000 }, { "h", 3600 * 1000 }, { "d", 86400 * 1000 },
	};
	const char *end;
	uint64_t v = 0;
	int r = scan_digits(s, &end, &v);

	if (r == -EINVAL)
		return r;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(units); i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (r < 0 || mul_u64(v, units[i].ms, &v) < 0)
			return -ERANGE;
		*ms = v;
		return 0;
	}
	return -EINVAL;
}

/* True when s[0..len) has no whitespace or control character (nor DEL). */
static bool all_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

/* Split "HOST:PORT" or "[V6]:PORT" (see parse.h). */
int dew_parse_hostport(const char *s, char **host, int *port)
{
	const char *h = s, *colon;
	size_t hlen;

	if (!all_printable(s, strlen(s)))
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		/* Inside brackets only an IPv6 address (possibly with a zone) makes sense. */
		if (memchr(h, '[', hlen) || !memchr(h, ':', hlen))
			return -EINVAL;
	} else {
		colon = strchr(s, ':');
		/* A second colon means an IPv6 address without brackets: ambiguous. */
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL;
		hlen = (size_t)(colon - s);
		if (memchr(h, '[', hlen) || memchr(h, ']', hlen))
			return -EINVAL;
	}
	if (hlen == 0)
		return -EINVAL;

	uint64_t p = 0;
	int r = dew_parse_uint64(colon + 1, &p);
	if (r < 0)
		return r;
	if (p > 65535)
		return -ERANGE;
	*host = xstrndup(h, hlen);
	*port = (int)p;
	return 0;
}
