/* SPDX-License-Identifier: MIT */
/*
 * HMAC-SHA256 as lowercase hex, and a constant-time comparison of hex strings: the DEA's file
 * tokens and the controller's signed URIs are both a MAC checked against what a client sent.
 */
#ifndef DEW_HMAC_H
#define DEW_HMAC_H

#include <stdbool.h>
#include <stddef.h>

enum {
	DEW_HMAC_SHA256_HEX_LEN = 64,
};

/*
 * Write hex(HMAC-SHA256(key, msg)) as 64 lowercase hex digits plus a NUL into out. An empty key
 * (key_len 0, key may be NULL) is allowed. Aborts when libcrypto fails (out of memory or a broken
 * installation), like the xmalloc family.
 */
void dew_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
			 char out[DEW_HMAC_SHA256_HEX_LEN + 1]);

/*
 * true when the first len bytes of a and b are equal. The time taken depends on len only, not on
 * where the strings differ, so a caller comparing a MAC it computed with one it was sent leaks
 * nothing about the right value. Both must hold at least len bytes (a NUL inside them is just a
 * byte: check lengths first).
 */
bool dew_hex_equal(const char *a, const char *b, size_t len);

#endif
