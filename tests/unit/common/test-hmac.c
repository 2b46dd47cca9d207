// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/hmac.c: the RFC 4231 HMAC-SHA256 vectors (cases 1-4, 6 and 7; case 5
 * is a truncated MAC), an empty key and message, and the constant-time comparison.
 */
#include <string.h>

#include "hmac.h"
#include "tap.h"

/* RFC 4231 section 4: key and data as byte strings, the full HMAC-SHA-256. */
static void test_rfc4231(void)
{
	unsigned char key_0b[20], key_aa20[20], key_aa131[131], key_4[25], data_dd[50], data_cd[50];
	char hex[DEW_HMAC_SHA256_HEX_LEN + 1];

	memset(key_0b, 0x0b, sizeof key_0b);
	memset(key_aa20, 0xaa, sizeof key_aa20);
	memset(key_aa131, 0xaa, sizeof key_aa131);
	for (size_t i = 0; i < sizeof key_4; i++)
		key_4[i] = (unsigned char)(i + 1);
	memset(data_dd, 0xdd, sizeof data_dd);
	memset(data_cd, 0xcd, sizeof data_cd);

	static const char data_6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	static const char data_7[] =
		"This is a test using a larger than block-size key and a larger than block-size "
		"data. The key needs to be hashed before being used by the HMAC algorithm.";
	const struct {
		const void *key;
		size_t key_len;
		const void *data;
		size_t data_len;
		const char *mac;
	} cases[] = {
		{ key_0b, sizeof key_0b, "Hi There", 8,
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		{ "Jefe", 4, "what do ya want for nothing?", 28,
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ key_aa20, sizeof key_aa20, data_dd, sizeof data_dd,
		  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
		{ key_4, sizeof key_4, data_cd, sizeof data_cd,
		  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
		{ key_aa131, sizeof key_aa131, data_6, sizeof data_6 - 1,
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
		{ key_aa131, sizeof key_aa131, data_7, sizeof data_7 - 1,
		  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
	};
	static const int rfc_case[] = { 1, 2, 3, 4, 6, 7 };

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(hex, 'X', sizeof hex);
		dew_hmac_sha256_hex(cases[i].key, cases[i].key_len, cases[i].data, cases[i].data_len, hex);
		tap_is_str(hex, cases[i].mac, "RFC 4231 test case %d", rfc_case[i]);
	}
}

static void test_empty(void)
{
	char a[DEW_HMAC_SHA256_HEX_LEN + 1], b[DEW_HMAC_SHA256_HEX_LEN + 1];

	dew_hmac_sha256_hex(NULL, 0, NULL, 0, a);
	tap_is_str(a, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
		   "empty key and message (NULL pointers)");
	dew_hmac_sha256_hex("", 0, "", 0, b);
	tap_is_str(b, a, "empty key and message (empty strings) give the same MAC");
	dew_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing!", 28, b);
	tap_ok(strcmp(b, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") != 0,
	       "one changed message byte changes the MAC");
	dew_hmac_sha256_hex("Jefd", 4, "what do ya want for nothing?", 28, b);
	tap_ok(strcmp(b, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") != 0,
	       "one changed key byte changes the MAC");
}

static void test_hex_equal(void)
{
	static const char mac[] = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
	char copy[sizeof mac];

	memcpy(copy, mac, sizeof mac);
	tap_ok(dew_hex_equal(mac, copy, 64), "equal strings");
	copy[0] = 'c';
	tap_ok(!dew_hex_equal(mac, copy, 64), "differ in the first byte");
	memcpy(copy, mac, sizeof mac);
	copy[63] = '8';
	tap_ok(!dew_hex_equal(mac, copy, 64), "differ in the last byte");
	tap_ok(dew_hex_equal(mac, copy, 63), "only len bytes are compared");
	memcpy(copy, mac, sizeof mac);
	copy[31] = 'B';
	tap_ok(!dew_hex_equal(mac, copy, 64), "case matters (B is not b)");
	tap_ok(dew_hex_equal("abc", "xyz", 0), "len 0 compares nothing");
	tap_ok(!dew_hex_equal("ab\0d", "ab\0c", 4), "a NUL is just a byte: the bytes after it count");
	tap_ok(dew_hex_equal("ab\0d", "ab\0d", 4), "equal across a NUL");
}

int main(void)
{
	test_rfc4231();
	test_empty();
	test_hex_equal();
	return tap_done();
}
