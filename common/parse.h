/* SPDX-License-Identifier: MIT */
/*
 * Strict parsers of textual values (config files, command-line flags, environment): the whole
 * string must match, so "12 ", " 12" and "12x" are errors. Each returns 0, -EINVAL for text
 * that does not match, or -ERANGE for a well-formed value that does not fit; *out is written
 * only on success.
 */
#ifndef DEW_PARSE_H
#define DEW_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal integer with an optional leading '-': "42", "-7". */
int dew_parse_int64(const char *s, int64_t *out);

/* Decimal digits only (no sign): "0", "18446744073709551615". */
int dew_parse_uint64(const char *s, uint64_t *out);

/*
 * Exactly len decimal digits at s (no NUL needed after them) in their one canonical spelling: no
 * sign, no space, no leading zero ("0" itself is fine), at most max. For numbers inside signed
 * or authenticated text (tokens, signed URLs, password hashes), where "007" and "7" must not
 * both be accepted for the same value. -ERANGE for a value above max.
 */
int dew_parse_digits(const char *s, size_t len, uint64_t max, uint64_t *out);

/* The value of one hex digit (0-9, a-f, A-F), or -1 for any other character. */
int dew_hex_digit(char c);

/* true/false, yes/no, on/off, 1/0, in any case. */
int dew_parse_bool(const char *s, bool *out);

/*
 * A byte count: digits, then an optional binary multiple K, M, G, T, P or E (1K = 1024), then an
 * optional "B" or "iB" after the multiple ("64KiB", "1MB"); a bare "B" is allowed too ("512B").
 * Case-insensitive. A value that does not fit in 64 bits is -ERANGE.
 */
int dew_parse_size(const char *s, uint64_t *bytes);

/*
 * A duration in milliseconds: digits followed by ms, s, m, h or d (case-insensitive); a bare
 * number means seconds. "250ms" -> 250, "2m" -> 120000. Overflow is -ERANGE.
 */
int dew_parse_duration_ms(const char *s, uint64_t *ms);

/*
 * "HOST:PORT" with a required port 0..65535: "127.0.0.1:4222", "localhost:0", "[::1]:80". The
 * host is returned without brackets in *host (allocated; the caller frees it). An empty host, an
 * unbracketed IPv6 address, or whitespace or control characters anywhere are -EINVAL; a port
 * above 65535 is -ERANGE. Nothing is written on error.
 */
int dew_parse_hostport(const char *s, char **host, int *port);

#endif
