/* SPDX-License-Identifier: MIT */
/*
 * Cryptographically strong random values from the kernel (getrandom(2)): instance and task
 * ids, tokens, salts, and unbiased picks (placement, backoff jitter).
 */
#ifndef DEW_RANDOM_H
#define DEW_RANDOM_H

#include <stddef.h>
#include <stdint.h>

enum {
	DEW_UUID_LEN = 36, /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" without the NUL */
};

/*
 * Fill buf with n random bytes. Blocks only until the kernel's pool is initialised at boot;
 * aborts if getrandom(2) fails, since nothing secure can be done without randomness.
 */
void dew_random_bytes(void *buf, size_t n);

/* Write a random RFC 4122 version 4 UUID, lowercase, NUL-terminated, into out. */
void dew_uuid4(char out[DEW_UUID_LEN + 1]);

/* Write 2 * nbytes lowercase hex digits from nbytes random bytes plus a NUL into out. */
void dew_random_hex(char *out, size_t nbytes);

/* 64 random bits. */
uint64_t dew_random_u64(void);

/* A uniformly distributed value in [0, n) without modulo bias. n must not be 0 (aborts). */
uint64_t dew_random_below(uint64_t n);

#endif
