// SPDX-License-Identifier: MIT
/*
 * HMAC-SHA256 through libcrypto's one-shot HMAC(), and CRYPTO_memcmp for comparisons that must
 * not reveal where two MACs differ.
 */
#include "hmac.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

/* HMAC the message and hex-encode the 32-byte MAC (see hmac.h). */
void dew_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
			 char out[DEW_HMAC_SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	/* libcrypto treats a NULL key as "reuse the previous key", which a one-shot call lacks. */
	static const unsigned char empty_key[1];
	static const unsigned char empty_msg[1];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (key_len > INT_MAX)
		abort(); /* HMAC() takes an int; no caller has a key anywhere near this long */
	if (key_len == 0)
		key = empty_key;
	if (msg_len == 0)
		msg = empty_msg;
	if (!HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, mac, &len) ||
	    len * 2 != DEW_HMAC_SHA256_HEX_LEN)
		abort();
	for (unsigned int i = 0; i < len; i++) {
		out[2 * i] = digits[mac[i] >> 4];
		out[2 * i + 1] = digits[mac[i] & 0x0f];
	}
	out[DEW_HMAC_SHA256_HEX_LEN] = '\0';
	OPENSSL_cleanse(mac, sizeof mac);
}

/* Compare in time that depends on len only (see hmac.h). */
bool dew_hex_equal(const char *a, const char *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
