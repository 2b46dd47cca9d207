/* SPDX-License-Identifier: MIT */
/*
 * The controller's secrets (issue #7): password hashes, bearer tokens and signed URIs.
 *
 * Passwords: PBKDF2-HMAC-SHA256 from libcrypto with a random 16-byte salt and AUTH_PBKDF2_ITER
 * iterations, encoded "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>"; verification re-derives
 * with the encoded iteration count and compares in constant time.
 *
 * Tokens: 32 random bytes as 64 hex characters, given to the client once; the store keeps only
 * their SHA-256 (auth_token_digest), so a leaked database yields no usable token.
 *
 * Signed URIs (package download, droplet upload/download by DEAs): the signature is
 * hex(HMAC-SHA256(secret, "<method> <path>\n<expires>")) and travels as the query
 * `?expires=<unix seconds>&sig=<hex>`; it binds the method, the path and the expiry.
 */
#ifndef DEW_CONTROLLER_AUTH_H
#define DEW_CONTROLLER_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

enum {
	AUTH_PBKDF2_ITER = 210000, /* OWASP's 2023 figure for PBKDF2-HMAC-SHA256 */
	AUTH_TOKEN_HEX = 64,
	AUTH_PASSWORD_MIN = 8,
	AUTH_PASSWORD_MAX = 1024,
};

/*
 * Hash a password (encoded as above; caller frees). iterations 0: AUTH_PBKDF2_ITER. NULL when
 * password is NULL or longer than AUTH_PASSWORD_MAX, or iterations is outside 1000..10,000,000
 * (the range verify accepts). The minimum length is the caller's policy, not checked here.
 */
char *auth_password_hash(const char *password, unsigned iterations);
/* true when password matches encoded (false for a malformed encoding too). */
bool auth_password_verify(const char *password, const char *encoded);

/* A new token: AUTH_TOKEN_HEX hex characters plus NUL into out. */
void auth_token_new(char out[AUTH_TOKEN_HEX + 1]);
/* The SHA-256 (hex) of a token, as stored. */
void auth_token_digest(const char *token, char out[65]);
/* A well-formed token: exactly AUTH_TOKEN_HEX lowercase hex characters. */
bool auth_token_valid(const char *token);

/*
 * "<path>?expires=<e>&sig=<hex>" for method and path (path may not hold a '?'); caller frees.
 * NULL for an empty secret, an empty method or path, one holding a space or control byte, or a
 * negative expires.
 */
char *auth_sign_path(const char *secret, const char *method, const char *path, int64_t expires);
/* 0 when query (the raw query string of a request to path) carries a valid signature for method
 * and path at now; -EACCES (missing or wrong) or -ETIMEDOUT (expired: expires < now, reported only
 * for a valid signature). */
int auth_verify_signature(const char *secret, const char *method, const char *path, const char *query,
			  int64_t now);

#endif
