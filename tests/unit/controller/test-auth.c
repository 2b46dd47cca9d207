// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/auth.c: password hashes (round trip, tampering, a known PBKDF2
 * vector, many malformed encodings, the default cost and how long it takes), tokens and their
 * digests, and signed paths (binding, expiry, and the strict query parser).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "auth.h"
#include "hmac.h"
#include "sha256.h"
#include "tap.h"

enum { FAST_ITER = 1000 };

static const char password[] = "correct horse battery staple";

/* ---- passwords ---- */

static void test_round_trip(void)
{
	cleanup_free char *a = auth_password_hash(password, FAST_ITER);
	cleanup_free char *b = auth_password_hash(password, FAST_ITER);

	if (!tap_ok(a && b, "hash a password"))
		return;
	tap_ok(strncmp(a, "pbkdf2-sha256$1000$", 19) == 0, "encoding starts with scheme and iterations: %s",
	       a);
	tap_is_int((intmax_t)strlen(a), 19 + 32 + 1 + 64, "salt of 32 and hash of 64 hex digits");
	tap_ok(a[19 + 32] == '$', "salt and hash are separated by '$'");
	tap_ok(auth_password_verify(password, a), "the right password verifies");
	tap_ok(!auth_password_verify("correct horse battery stapler", a), "a wrong password does not");
	tap_ok(!auth_password_verify("correct horse battery stapl", a), "a prefix of the password does not");
	tap_ok(!auth_password_verify("", a), "the empty password does not");
	tap_ok(!auth_password_verify(NULL, a), "a NULL password does not");
	tap_ok(strcmp(a, b) != 0, "two hashes of the same password differ");
	tap_ok(strncmp(a, b, 19 + 32) != 0, "... because their salts differ");
	tap_ok(auth_password_verify(password, b), "the second hash verifies too");
}

/* Flip one hex digit of s at i to another hex digit. */
static void flip_hex(char *s, size_t i)
{
	s[i] = s[i] == '0' ? '1' : '0';
}

static void test_tampered(void)
{
	cleanup_free char *enc = auth_password_hash(password, FAST_ITER);
	if (!tap_ok(enc != NULL, "hash for tampering"))
		return;
	size_t salt = 19, hash = 19 + 32 + 1;

	cleanup_free char *t = xstrdup(enc);
	flip_hex(t, salt);
	tap_ok(!auth_password_verify(password, t), "tampered salt (first digit)");
	strcpy(t, enc);
	flip_hex(t, salt + 31);
	tap_ok(!auth_password_verify(password, t), "tampered salt (last digit)");
	strcpy(t, enc);
	flip_hex(t, hash);
	tap_ok(!auth_password_verify(password, t), "tampered hash (first digit)");
	strcpy(t, enc);
	flip_hex(t, hash + 63);
	tap_ok(!auth_password_verify(password, t), "tampered hash (last digit)");
	strcpy(t, enc);
	t[16] = '1'; /* 1000 -> 1010 */
	tap_ok(!auth_password_verify(password, t), "tampered iteration count: %.24s", t);
	cleanup_free char *more = xasprintf("pbkdf2-sha256$10000%s", enc + 18);
	tap_ok(!auth_password_verify(password, more), "iteration count 10000 instead of 1000");
	tap_ok(auth_password_verify(password, enc), "the original still verifies");
}

/* An encoding made elsewhere: hashlib.pbkdf2_hmac("sha256", password, bytes(range(16)), 1000). */
static void test_known_vector(void)
{
	static const char enc[] = "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$"
				  "a69b179e3add3c1e0aaf227a0eb3aa2aa8645ab86fecf6ca00c17512697c719e";

	tap_ok(auth_password_verify(password, enc), "an independently computed PBKDF2-HMAC-SHA256 verifies");
	tap_ok(!auth_password_verify("Correct horse battery staple", enc), "... and only for its password");
	/* A correct PBKDF2 at 999 iterations: below the floor, refused though the hash matches. */
	tap_ok(!auth_password_verify(password,
				     "pbkdf2-sha256$999$000102030405060708090a0b0c0d0e0f$"
				     "62931e0ac5f93618088219aa20582dd9c5ed4c8d3b3cab4842ce79fa673708e0"),
	       "a matching hash with 999 iterations is rejected");
	/* The same values with uppercase hex: one spelling only, as written. */
	tap_ok(!auth_password_verify(password,
				     "pbkdf2-sha256$1000$000102030405060708090A0B0C0D0E0F$"
				     "a69b179e3add3c1e0aaf227a0eb3aa2aa8645ab86fecf6ca00c17512697c719e"),
	       "an uppercase salt is rejected");
	tap_ok(!auth_password_verify(password,
				     "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$"
				     "A69B179E3ADD3C1E0AAF227A0EB3AA2AA8645AB86FECF6CA00C17512697C719E"),
	       "an uppercase hash is rejected");
}

/* s with control characters as '?', for a one-line test name (caller frees). */
static char *printable(const char *s)
{
	char *p = xstrdup(s);

	for (char *c = p; *c; c++) {
		if ((unsigned char)*c < ' ')
			*c = '?';
	}
	return p;
}

static void test_malformed(void)
{
	cleanup_free char *enc = auth_password_hash(password, FAST_ITER);
	if (!tap_ok(enc != NULL, "hash for malformed variants"))
		return;
	const char *salt = enc + 19;	      /* 32 digits */
	const char *hash = enc + 19 + 32 + 1; /* 64 digits */

	char *cases[] = {
		xstrdup(""), xstrdup("pbkdf2-sha256"), xstrdup("pbkdf2-sha256$"),
		xstrdup("pbkdf2-sha256$1000$"), xasprintf("pbkdf2-sha256$1000$%.32s", salt),
		xasprintf("pbkdf2-sha256$1000$%.32s$", salt), xasprintf("pbkdf2-sha1$1000$%s", salt),
		xasprintf("PBKDF2-SHA256$1000$%s", salt), xasprintf("pbkdf2-sha512$1000$%s", salt),
		xasprintf("$pbkdf2-sha256$1000$%s", salt), xasprintf(" pbkdf2-sha256$1000$%s", salt),
		/* iterations */
		xasprintf("pbkdf2-sha256$$%s", salt), xasprintf("pbkdf2-sha256$0$%s", salt),
		xasprintf("pbkdf2-sha256$999$%s", salt), xasprintf("pbkdf2-sha256$01000$%s", salt),
		xasprintf("pbkdf2-sha256$+1000$%s", salt), xasprintf("pbkdf2-sha256$-1000$%s", salt),
		xasprintf("pbkdf2-sha256$ 1000$%s", salt), xasprintf("pbkdf2-sha256$1000 $%s", salt),
		xasprintf("pbkdf2-sha256$1e3$%s", salt), xasprintf("pbkdf2-sha256$0x3e8$%s", salt),
		xasprintf("pbkdf2-sha256$10000001$%s", salt),
		xasprintf("pbkdf2-sha256$4294968296$%s", salt), /* 2^32 + 1000: must not wrap to 1000 */
		xasprintf("pbkdf2-sha256$99999999999999999999999$%s", salt),
		/* salt */
		xasprintf("pbkdf2-sha256$1000$%.30s$%s", salt, hash),
		xasprintf("pbkdf2-sha256$1000$%.31s$%s", salt, hash),
		xasprintf("pbkdf2-sha256$1000$%.32s0$%s", salt, hash),
		xasprintf("pbkdf2-sha256$1000$%.32s00$%s", salt, hash),
		xasprintf("pbkdf2-sha256$1000$g%.31s$%s", salt + 1, hash),
		xasprintf("pbkdf2-sha256$1000$ %.31s$%s", salt + 1, hash),
		xasprintf("pbkdf2-sha256$1000$$%s", hash), xasprintf("pbkdf2-sha256$1000$%s", hash),
		/* hash */
		xasprintf("pbkdf2-sha256$1000$%.32s$%.62s", salt, hash),
		xasprintf("pbkdf2-sha256$1000$%.32s$%.63s", salt, hash),
		xasprintf("pbkdf2-sha256$1000$%.32s$%s0", salt, hash),
		xasprintf("pbkdf2-sha256$1000$%.32s$%s00", salt, hash),
		xasprintf("pbkdf2-sha256$1000$%.32s$%.63sz", salt, hash),
		xasprintf("pbkdf2-sha256$1000$%.32s$", salt), xasprintf("%s$", enc), xasprintf("%s\n", enc),
		xasprintf("%s ", enc), xasprintf("%s$extra", enc),
		xasprintf("%.18s$1000$%s", enc, enc + 19),   /* an extra field */
		xasprintf("pbkdf2-sha256$1000%s", enc + 19), /* a separator missing */
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(cases); i++) {
		cleanup_free char *shown = printable(cases[i]);
		tap_ok(!auth_password_verify(password, cases[i]), "malformed encoding %zu rejected: %s", i,
		       shown);
		free(cases[i]);
	}
	tap_ok(!auth_password_verify(password, NULL), "a NULL encoding is rejected");
}

static void test_hash_bounds(void)
{
	char long_pw[AUTH_PASSWORD_MAX + 2];

	tap_ok(auth_password_hash(NULL, FAST_ITER) == NULL, "hash refuses a NULL password");
	tap_ok(auth_password_hash(password, 999) == NULL, "hash refuses 999 iterations");
	tap_ok(auth_password_hash(password, 10000001) == NULL, "hash refuses 10,000,001 iterations");

	memset(long_pw, 'p', AUTH_PASSWORD_MAX);
	long_pw[AUTH_PASSWORD_MAX] = '\0';
	cleanup_free char *max = auth_password_hash(long_pw, FAST_ITER);
	tap_ok(max && auth_password_verify(long_pw, max),
	       "a password of AUTH_PASSWORD_MAX bytes hashes and verifies");
	long_pw[AUTH_PASSWORD_MAX] = 'p';
	long_pw[AUTH_PASSWORD_MAX + 1] = '\0';
	tap_ok(auth_password_hash(long_pw, FAST_ITER) == NULL, "one byte more is refused");
	tap_ok(!auth_password_verify(long_pw, max), "and does not verify");

	cleanup_free char *empty = auth_password_hash("", FAST_ITER);
	tap_ok(empty && auth_password_verify("", empty),
	       "the empty password hashes and verifies (length is policy)");
	tap_ok(!auth_password_verify("x", empty), "... and only the empty password");
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* The one check at the default cost, timed: it is what a login pays. */
static void test_default_cost(void)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cleanup_free char *enc = auth_password_hash(password, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!tap_ok(enc != NULL, "hash with the default iteration count"))
		return;
	cleanup_free char *prefix = xasprintf("pbkdf2-sha256$%d$", AUTH_PBKDF2_ITER);
	tap_ok(strncmp(enc, prefix, strlen(prefix)) == 0, "iterations 0 means AUTH_PBKDF2_ITER: %.22s", enc);
	tap_ok(auth_password_verify(password, enc), "the default-cost hash verifies");
	tap_diag("one PBKDF2-HMAC-SHA256 hash at %d iterations took %.1f ms", AUTH_PBKDF2_ITER,
		 elapsed_ms(&t0, &t1));
}

/* ---- tokens ---- */

static void test_tokens(void)
{
	char a[AUTH_TOKEN_HEX + 1], b[AUTH_TOKEN_HEX + 1], d[65], want[65];

	auth_token_new(a);
	auth_token_new(b);
	tap_is_int((intmax_t)strlen(a), AUTH_TOKEN_HEX, "a token has AUTH_TOKEN_HEX characters");
	tap_ok(auth_token_valid(a) && auth_token_valid(b), "new tokens are well-formed");
	tap_ok(strcmp(a, b) != 0, "two tokens differ");

	auth_token_digest(a, d);
	dew_sha256_hex(a, strlen(a), want);
	tap_is_str(d, want, "the digest is the SHA-256 of the token");
	tap_ok(strcmp(d, a) != 0, "the digest is not the token");
	auth_token_digest("abc", d);
	tap_is_str(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		   "digest of \"abc\" is the FIPS 180-2 vector");

	tap_ok(!auth_token_valid(NULL), "NULL is not a token");
	tap_ok(!auth_token_valid(""), "\"\" is not a token");
	char t[AUTH_TOKEN_HEX + 2];
	memcpy(t, a, sizeof a);
	t[AUTH_TOKEN_HEX - 1] = '\0';
	tap_ok(!auth_token_valid(t), "63 characters are not a token");
	memcpy(t, a, sizeof a);
	t[AUTH_TOKEN_HEX] = '0';
	t[AUTH_TOKEN_HEX + 1] = '\0';
	tap_ok(!auth_token_valid(t), "65 characters are not a token");
	memcpy(t, a, sizeof a);
	t[10] = 'g';
	tap_ok(!auth_token_valid(t), "a non-hex character is not a token");
	memcpy(t, a, sizeof a);
	t[10] = 'A';
	tap_ok(!auth_token_valid(t), "uppercase hex is not a token");
}

/* ---- signed paths ---- */

static const char secret[] = "s3cret-signing-key";
static const char pkg[] = "/v2/packages/abc";
/* hmac.new(secret, b"GET /v2/packages/abc\n1000", sha256), computed with Python. */
static const char sig1000[] = "d8ac6deb8bbc20b41a63e93a1f4612fc813e5b2818122b07bb403b3eb51a943e";

static int verify(const char *query, int64_t now)
{
	return auth_verify_signature(secret, "GET", pkg, query, now);
}

static void test_sign(void)
{
	cleanup_free char *uri = auth_sign_path(secret, "GET", pkg, 1000);
	cleanup_free char *want = xasprintf("%s?expires=1000&sig=%s", pkg, sig1000);

	tap_is_str(uri, want, "signed path has the documented form and signature");
	const char *query = uri ? strchr(uri, '?') + 1 : "";
	tap_is_int(verify(query, 999), 0, "valid before the expiry");
	tap_is_int(verify(query, 1000), 0, "valid at the expiry second");
	tap_is_int(verify(query, 1001), -ETIMEDOUT, "expired after it");
	tap_is_int(auth_verify_signature(secret, "PUT", pkg, query, 999), -EACCES, "wrong method");
	tap_is_int(auth_verify_signature(secret, "get", pkg, query, 999), -EACCES,
		   "method is case-sensitive");
	tap_is_int(auth_verify_signature(secret, "GET", "/v2/packages/abd", query, 999), -EACCES,
		   "wrong path");
	tap_is_int(auth_verify_signature(secret, "GET", "/v2/packages/abc/", query, 999), -EACCES,
		   "path with a trailing slash");
	tap_is_int(auth_verify_signature("another-secret-key", "GET", pkg, query, 999), -EACCES,
		   "wrong secret");

	cleanup_free char *later = auth_sign_path(secret, "GET", pkg, 1001);
	tap_ok(later && strcmp(later + strlen(pkg) + strlen("?expires=1001&sig="), sig1000) != 0,
	       "the signature binds the expiry");
	cleanup_free char *put = auth_sign_path(secret, "PUT", "/v2/droplets/x", INT64_MAX);
	tap_ok(put != NULL, "sign until INT64_MAX");
	tap_is_int(auth_verify_signature(secret, "PUT", "/v2/droplets/x", put ? strchr(put, '?') + 1 : "", 0),
		   0, "verify a PUT signed until INT64_MAX");

	tap_ok(auth_sign_path(secret, "GET", "/a?b=c", 1000) == NULL, "sign refuses a path with '?'");
	tap_ok(auth_sign_path("", "GET", pkg, 1000) == NULL, "sign refuses an empty secret");
	tap_ok(auth_sign_path(NULL, "GET", pkg, 1000) == NULL, "sign refuses a NULL secret");
	tap_ok(auth_sign_path(secret, "", pkg, 1000) == NULL, "sign refuses an empty method");
	tap_ok(auth_sign_path(secret, "GET /a", "/b", 1000) == NULL, "sign refuses a method with a space");
	tap_ok(auth_sign_path(secret, "GET", "/a b", 1000) == NULL, "sign refuses a path with a space");
	tap_ok(auth_sign_path(secret, "GET", "/a\n1", 1000) == NULL, "sign refuses a path with a newline");
	tap_ok(auth_sign_path(secret, "GET", "", 1000) == NULL, "sign refuses an empty path");
	tap_ok(auth_sign_path(secret, "GET", pkg, -1) == NULL, "sign refuses a negative expiry");
	tap_is_int(auth_verify_signature("", "GET", pkg, query, 999), -EACCES,
		   "verify refuses an empty secret");
}

static void test_query(void)
{
	cleanup_free char *bad_sig = xstrdup(sig1000);
	bad_sig[63] = bad_sig[63] == 'e' ? 'f' : 'e';
	cleanup_free char *upper = xstrdup(sig1000);
	for (char *c = upper; *c; c++)
		*c = (char)(*c >= 'a' ? *c - 32 : *c);

	const struct {
		char *query;
		int64_t now;
		int want;
		const char *what;
	} cases[] = {
		/* order and extra parameters */
		{ xasprintf("sig=%s&expires=1000", sig1000), 999, 0, "sig before expires" },
		{ xasprintf("a=1&expires=1000&b&sig=%s&c=", sig1000), 999, 0, "other parameters around" },
		{ xasprintf("&expires=1000&&sig=%s&", sig1000), 999, 0, "empty parameters" },
		{ xasprintf("expiresx=5&expires=1000&sig=%s&sigs=x", sig1000), 999, 0,
		  "names extending the two" },
		{ xasprintf("sig=%s&expires=1000", sig1000), 1001, -ETIMEDOUT, "expired, in any order" },
		/* tampering */
		{ xasprintf("expires=1000&sig=%s", bad_sig), 999, -EACCES, "tampered signature" },
		{ xasprintf("expires=1000&sig=%s", bad_sig), 2000, -EACCES,
		  "tampered and expired: the signature is checked first" },
		{ xasprintf("expires=1001&sig=%s", sig1000), 999, -EACCES, "tampered expiry" },
		{ xasprintf("expires=999&sig=%s", sig1000), 999, -EACCES, "expiry moved earlier" },
		/* missing */
		{ xstrdup(""), 999, -EACCES, "empty query" },
		{ xstrdup("expires=1000"), 999, -EACCES, "no sig" },
		{ xasprintf("sig=%s", sig1000), 999, -EACCES, "no expires" },
		{ xasprintf("exp%%69res=1000&sig=%s", sig1000), 999, -EACCES,
		  "percent-encoded name is not expires" },
		{ xasprintf("EXPIRES=1000&sig=%s", sig1000), 999, -EACCES, "names are case-sensitive" },
		/* duplicates */
		{ xasprintf("expires=1000&expires=1000&sig=%s", sig1000), 999, -EACCES, "expires twice" },
		{ xasprintf("expires=1000&sig=%s&sig=%s", sig1000, sig1000), 999, -EACCES, "sig twice" },
		{ xasprintf("expires=1000&sig=%s&expires=2000", sig1000), 999, -EACCES,
		  "expires again after sig" },
		{ xasprintf("expires=1000&sig=%s&sig", sig1000), 999, -EACCES,
		  "a bare sig after a valid one" },
		/* garbage expires */
		{ xasprintf("expires=&sig=%s", sig1000), 999, -EACCES, "empty expires" },
		{ xasprintf("expires&sig=%s", sig1000), 999, -EACCES, "expires without '='" },
		{ xasprintf("expires=+1000&sig=%s", sig1000), 999, -EACCES, "expires with a sign" },
		{ xasprintf("expires=-1&sig=%s", sig1000), 999, -EACCES, "negative expires" },
		{ xasprintf("expires=01000&sig=%s", sig1000), 999, -EACCES, "expires with a leading zero" },
		{ xasprintf("expires=1000x&sig=%s", sig1000), 999, -EACCES,
		  "expires with a trailing letter" },
		{ xasprintf("expires=1000%%20&sig=%s", sig1000), 999, -EACCES,
		  "expires with an encoded space" },
		{ xasprintf("expires= 1000&sig=%s", sig1000), 999, -EACCES, "expires with a space" },
		{ xasprintf("expires=1e3&sig=%s", sig1000), 999, -EACCES, "expires in exponent form" },
		{ xasprintf("expires=9223372036854775808&sig=%s", sig1000), 999, -EACCES,
		  "expires above INT64_MAX" },
		{ xasprintf("expires=99999999999999999999&sig=%s", sig1000), 999, -EACCES,
		  "expires of 20 digits" },
		{ xasprintf("expires=1000=1000&sig=%s", sig1000), 999, -EACCES, "expires with a second '='" },
		/* garbage sig */
		{ xstrdup("expires=1000&sig="), 999, -EACCES, "empty sig" },
		{ xstrdup("expires=1000&sig"), 999, -EACCES, "sig without '='" },
		{ xasprintf("expires=1000&sig=%.63s", sig1000), 999, -EACCES, "sig of 63 digits" },
		{ xasprintf("expires=1000&sig=%s0", sig1000), 999, -EACCES, "sig of 65 digits" },
		{ xasprintf("expires=1000&sig=%s", upper), 999, -EACCES, "uppercase sig" },
		{ xasprintf("expires=1000&sig=g%s", sig1000 + 1), 999, -EACCES, "sig with a non-hex digit" },
		{ xasprintf("expires=1000&sig=%s#", sig1000), 999, -EACCES, "sig with a fragment" },
	};

	for (size_t i = 0; i < DEW_ARRAY_SIZE(cases); i++) {
		tap_is_int(verify(cases[i].query, cases[i].now), cases[i].want, "query: %s", cases[i].what);
		free(cases[i].query);
	}
	tap_is_int(verify(NULL, 999), -EACCES, "a NULL query");
	tap_is_int(auth_verify_signature(NULL, "GET", pkg, "", 0), -EACCES, "a NULL secret");
	tap_is_int(auth_verify_signature(secret, NULL, pkg, "", 0), -EACCES, "a NULL method");
	tap_is_int(auth_verify_signature(secret, "GET", NULL, "", 0), -EACCES, "a NULL path");
}

int main(void)
{
	test_round_trip();
	test_tampered();
	test_known_vector();
	test_malformed();
	test_hash_bounds();
	test_tokens();
	test_sign();
	test_query();
	test_default_cost();
	return tap_done();
}
