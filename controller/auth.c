// SPDX-License-Identifier: MIT
/*
 * The controller's secrets (see auth.h): PBKDF2 password hashes and their strict parser, bearer
 * tokens stored as digests, and HMAC-signed paths whose query carries the expiry and signature.
 */
#include "auth.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hmac.h"
#include "parse.h"
#include "random.h"
#include "sha256.h"

enum {
	AUTH_SALT_BYTES = 16,
	AUTH_HASH_BYTES = 32,
	/*
	 * Bounds on the iteration count an encoding may carry: below the minimum a hash is too
	 * cheap to guess at, above the maximum one verify would hold a request for many seconds.
	 */
	AUTH_ITER_MIN = 1000,
	AUTH_ITER_MAX = 10000000,
	AUTH_SIG_HEX = DEW_HMAC_SHA256_HEX_LEN,
};

/* (int) casts: comparing members of two different enums is a warning. */
_Static_assert((int)AUTH_PBKDF2_ITER >= (int)AUTH_ITER_MIN && (int)AUTH_PBKDF2_ITER <= (int)AUTH_ITER_MAX,
	       "the default iteration count must verify");
_Static_assert((int)AUTH_TOKEN_HEX == (int)DEW_SHA256_HEX_LEN, "a token is as long as its digest");

static const char auth_scheme[] = "pbkdf2-sha256$";

/* ---- hex and digits ---- */

static bool auth_is_hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* true when s starts with len lowercase hex digits; stops at the first other byte (or NUL). */
static bool auth_is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!auth_is_hex_digit(s[i]))
			return false;
	}
	return true;
}

static unsigned auth_hex_value(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

/* Decode 2 * n lowercase hex digits at s into out; false when any of them is not one. */
static bool auth_hex_decode(const char *s, size_t n, unsigned char *out)
{
	if (!auth_is_hex(s, 2 * n))
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(auth_hex_value(s[2 * i]) << 4 | auth_hex_value(s[2 * i + 1]));
	return true;
}

/* Write 2 * n lowercase hex digits plus a NUL. */
static void auth_hex_encode(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

/* ---- passwords ---- */

/* A password within the bounds: the length is checked without reading past AUTH_PASSWORD_MAX. */
static bool auth_password_len(const char *password, size_t *len)
{
	if (!password)
		return false;
	*len = strnlen(password, (size_t)AUTH_PASSWORD_MAX + 1);
	return *len <= AUTH_PASSWORD_MAX;
}

/* PBKDF2-HMAC-SHA256 of password with salt, AUTH_HASH_BYTES long, as lowercase hex. */
static void auth_derive_hex(const char *password, size_t len, const unsigned char *salt, unsigned iterations,
			    char out[2 * AUTH_HASH_BYTES + 1])
{
	unsigned char hash[AUTH_HASH_BYTES];

	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, AUTH_SALT_BYTES, (int)iterations, EVP_sha256(),
			      AUTH_HASH_BYTES, hash) != 1)
		abort(); /* out of memory or a libcrypto without SHA-256 */
	auth_hex_encode(hash, sizeof hash, out);
	OPENSSL_cleanse(hash, sizeof hash);
}

/* Hash a password with a fresh salt (see auth.h). */
char *auth_password_hash(const char *password, unsigned iterations)
{
	unsigned char salt[AUTH_SALT_BYTES];
	char salt_hex[2 * AUTH_SALT_BYTES + 1], hash_hex[2 * AUTH_HASH_BYTES + 1];
	size_t len;

	if (iterations == 0)
		iterations = AUTH_PBKDF2_ITER;
	if (!auth_password_len(password, &len) || iterations < AUTH_ITER_MIN || iterations > AUTH_ITER_MAX)
		return NULL;
	dew_random_bytes(salt, sizeof salt);
	auth_hex_encode(salt, sizeof salt, salt_hex);
	auth_derive_hex(password, len, salt, iterations, hash_hex);
	char *encoded = xasprintf("%s%u$%s$%s", auth_scheme, iterations, salt_hex, hash_hex);
	OPENSSL_cleanse(hash_hex, sizeof hash_hex);
	return encoded;
}

/* An encoded hash, split: pointers into the encoding. */
struct auth_encoded {
	unsigned iterations;
	unsigned char salt[AUTH_SALT_BYTES];
	const char *hash_hex; /* 2 * AUTH_HASH_BYTES digits, then the NUL */
};

/*
 * Parse "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>" with nothing left over: the iteration
 * count in bounds (an encoding from a tampered database must not buy minutes of CPU), the salt
 * and the hash exactly as long as auth_password_hash writes them, in lowercase.
 */
static bool auth_parse_encoded(const char *encoded, struct auth_encoded *e)
{
	uint64_t iterations;

	if (!encoded || strncmp(encoded, auth_scheme, sizeof auth_scheme - 1) != 0)
		return false;
	const char *p = encoded + sizeof auth_scheme - 1;
	const char *dollar = strchr(p, '$');
	if (!dollar || dew_parse_digits(p, (size_t)(dollar - p), AUTH_ITER_MAX, &iterations) < 0 ||
	    iterations < AUTH_ITER_MIN)
		return false;
	p = dollar + 1;
	if (!auth_hex_decode(p, AUTH_SALT_BYTES, e->salt) || p[2 * AUTH_SALT_BYTES] != '$')
		return false;
	p += 2 * AUTH_SALT_BYTES + 1;
	if (!auth_is_hex(p, 2 * AUTH_HASH_BYTES) || p[2 * AUTH_HASH_BYTES] != '\0')
		return false;
	e->iterations = (unsigned)iterations;
	e->hash_hex = p;
	return true;
}

/* Re-derive with the encoded parameters and compare (see auth.h). */
bool auth_password_verify(const char *password, const char *encoded)
{
	struct auth_encoded e;
	char hash_hex[2 * AUTH_HASH_BYTES + 1];
	size_t len;

	if (!auth_password_len(password, &len) || !auth_parse_encoded(encoded, &e))
		return false;
	auth_derive_hex(password, len, e.salt, e.iterations, hash_hex);
	/* Constant time, so the response time says nothing about how much of the hash matched. */
	bool ok = dew_hex_equal(hash_hex, e.hash_hex, 2 * AUTH_HASH_BYTES);
	OPENSSL_cleanse(hash_hex, sizeof hash_hex);
	return ok;
}

/* ---- tokens ---- */

/* 32 random bytes as hex (see auth.h). */
void auth_token_new(char out[AUTH_TOKEN_HEX + 1])
{
	dew_random_hex(out, AUTH_TOKEN_HEX / 2);
}

/* The stored form of a token. */
void auth_token_digest(const char *token, char out[65])
{
	dew_sha256_hex(token, strlen(token), out);
}

/* Exactly AUTH_TOKEN_HEX lowercase hex digits. */
bool auth_token_valid(const char *token)
{
	return token && auth_is_hex(token, AUTH_TOKEN_HEX) && token[AUTH_TOKEN_HEX] == '\0';
}

/* ---- signed paths ---- */

/* true when s is non-empty and free of spaces, control bytes and any byte in reject. */
static bool auth_clean_word(const char *s, const char *reject)
{
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == 0x7f || strchr(reject, c))
			return false;
	}
	return true;
}

/*
 * The inputs a signature may bind. A space or newline in the method or path would let two
 * different (method, path) pairs share one signed message, and a '?' in the path would make the
 * signed URI ambiguous; none of them occur in a request line, so refusing them costs nothing.
 */
static bool auth_sign_args_ok(const char *secret, const char *method, const char *path)
{
	return secret && *secret && auth_clean_word(method, "") && auth_clean_word(path, "?");
}

/* hex(HMAC-SHA256(secret, "<method> <path>\n<expires>")). */
static void auth_signature(const char *secret, const char *method, const char *path, int64_t expires,
			   char out[AUTH_SIG_HEX + 1])
{
	cleanup_free char *msg = xasprintf("%s %s\n%" PRId64, method, path, expires);

	dew_hmac_sha256_hex(secret, strlen(secret), msg, strlen(msg), out);
}

/* Sign method and path until expires (see auth.h). */
char *auth_sign_path(const char *secret, const char *method, const char *path, int64_t expires)
{
	char sig[AUTH_SIG_HEX + 1];

	if (!auth_sign_args_ok(secret, method, path) || expires < 0)
		return NULL;
	auth_signature(secret, method, path, expires, sig);
	return xasprintf("%s?expires=%" PRId64 "&sig=%s", path, expires, sig);
}

/* The expires and sig parameters of a raw query, each present exactly once and well-formed. */
struct auth_query {
	const char *expires, *sig;
	size_t expires_len, sig_len;
};

/* Record one name=value pair of the query; -EACCES for a second expires or sig. */
static int auth_query_param(struct auth_query *q, const char *param, size_t len)
{
	const char *eq = memchr(param, '=', len);
	size_t name_len = eq ? (size_t)(eq - param) : len;
	const char *value = eq ? eq + 1 : param + len;
	size_t value_len = eq ? len - name_len - 1 : 0;

	if (name_len == strlen("expires") && memcmp(param, "expires", name_len) == 0) {
		if (q->expires)
			return -EACCES;
		q->expires = value;
		q->expires_len = value_len;
	} else if (name_len == strlen("sig") && memcmp(param, "sig", name_len) == 0) {
		if (q->sig)
			return -EACCES;
		q->sig = value;
		q->sig_len = value_len;
	}
	return 0;
}

/*
 * Find expires and sig in a raw query, in any order among other parameters. Nothing is
 * percent-decoded: the signer writes both in plain digits and hex, so any other spelling is not
 * one it produced. 0 with *expires set and q->sig pointing at AUTH_SIG_HEX hex digits, or -EACCES.
 */
static int auth_parse_query(const char *query, struct auth_query *q, int64_t *expires)
{
	uint64_t v;

	*q = (struct auth_query){ 0 };
	if (!query)
		return -EACCES;
	for (const char *p = query;;) {
		size_t len = strcspn(p, "&");
		if (auth_query_param(q, p, len) < 0)
			return -EACCES;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	if (!q->expires || !q->sig || dew_parse_digits(q->expires, q->expires_len, INT64_MAX, &v) < 0)
		return -EACCES;
	if (q->sig_len != AUTH_SIG_HEX || !auth_is_hex(q->sig, AUTH_SIG_HEX))
		return -EACCES;
	*expires = (int64_t)v;
	return 0;
}

/* Check a signed request (see auth.h). */
int auth_verify_signature(const char *secret, const char *method, const char *path, const char *query,
			  int64_t now)
{
	char want[AUTH_SIG_HEX + 1];
	struct auth_query q;
	int64_t expires;

	if (!auth_sign_args_ok(secret, method, path) || auth_parse_query(query, &q, &expires) < 0)
		return -EACCES;
	auth_signature(secret, method, path, expires, want);
	/* Constant time: an early exit would let a client find the signature a byte at a time. */
	if (!dew_hex_equal(want, q.sig, AUTH_SIG_HEX))
		return -EACCES;
	/* After the signature, so that only holders of a real signature learn it has expired. */
	return expires < now ? -ETIMEDOUT : 0;
}
