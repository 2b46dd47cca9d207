/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 over OpenSSL's EVP interface, as lowercase hex: droplet and package hashes, the
 * content-addressed resource pool, and streaming hashes of uploads.
 */
#ifndef DEW_SHA256_H
#define DEW_SHA256_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
	DEW_SHA256_HEX_LEN = 64,
};

/* A running hash; embed it and drive it with _init, _update (any number), _final. */
struct dew_sha256 {
	EVP_MD_CTX *ctx; /* owned; NULL after _final or _close */
};

/* Start a hash. Aborts when OpenSSL cannot allocate or lacks SHA-256. */
void dew_sha256_init(struct dew_sha256 *h);
/* Feed len bytes of data into the hash. */
void dew_sha256_update(struct dew_sha256 *h, const void *data, size_t len);
/* Write the digest as 64 lowercase hex digits plus a NUL into hex and release the context. */
void dew_sha256_final(struct dew_sha256 *h, char hex[DEW_SHA256_HEX_LEN + 1]);
/* Release a hash abandoned before _final; harmless after _final. */
void dew_sha256_close(struct dew_sha256 *h);

/* The hex digest of len bytes of data. */
void dew_sha256_hex(const void *data, size_t len, char hex[DEW_SHA256_HEX_LEN + 1]);

/*
 * The hex digest of the file at path, read in 64 KiB blocks; its size in *size unless size is
 * NULL. Returns 0, or a negative errno with *err set.
 */
int dew_sha256_file(const char *path, char hex[DEW_SHA256_HEX_LEN + 1], uint64_t *size,
		    struct dew_error **err);

/* True when s is exactly 64 lowercase hex digits (the form every hash takes on the wire). */
bool dew_sha256_is_hex(const char *s);

#endif
