/* SPDX-License-Identifier: MIT */
/*
 * Text from outside (app logs, buildpack output, libcurl's messages) made valid UTF-8 for JSON on
 * the bus: jansson, like every JSON reader, takes nothing else, and apps write anything.
 */
#ifndef DEW_UTF8_H
#define DEW_UTF8_H

#include <stddef.h>

#include "buf.h"

/*
 * Append len bytes of s to out as valid UTF-8 without NUL: each byte that does not start a valid
 * character (a stray continuation, an overlong form, a surrogate, a code point past U+10FFFF, a
 * truncated sequence) and each NUL becomes U+FFFD; valid characters are copied as they are.
 */
void dew_utf8_append(struct dew_buf *out, const char *s, size_t len);

/*
 * As dew_utf8_append, but when len is over max only the first max bytes are taken, fewer when a
 * character straddles the cut (it is dropped whole), followed by "…" (U+2026).
 */
void dew_utf8_append_cut(struct dew_buf *out, const char *s, size_t len, size_t max);

#endif
