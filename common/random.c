// SPDX-License-Identifier: MIT
/*
 * Random bytes from getrandom(2) and what is built on them: UUIDs, hex tokens and unbiased
 * bounded integers.
 */
#include "random.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

/* Fill buf from the kernel, looping over short reads and EINTR (see random.h). */
void dew_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t k = getrandom(p, n, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			/* ENOSYS or EFAULT: no safe fallback; ids and tokens would be guessable. */
			static const char msg[] = "dew: getrandom failed\n";
			if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
				/* nothing left to do */
			}
			abort();
		}
		p += k;
		n -= (size_t)k;
	}
}

/* Format 16 random bytes as a version 4, variant 1 UUID. */
void dew_uuid4(char out[DEW_UUID_LEN + 1])
{
	unsigned char b[16];

	dew_random_bytes(b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx */
	snprintf(out, DEW_UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Hex-encode nbytes random bytes into out, in chunks to avoid a large temporary. */
void dew_random_hex(char *out, size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char chunk[64];

	while (nbytes > 0) {
		size_t k = nbytes < sizeof chunk ? nbytes : sizeof chunk;
		dew_random_bytes(chunk, k);
		for (size_t i = 0; i < k; i++) {
			*out++ = digits[chunk[i] >> 4];
			*out++ = digits[chunk[i] & 0x0f];
		}
		nbytes -= k;
	}
	*out = '\0';
}

/* 64 random bits. */
uint64_t dew_random_u64(void)
{
	uint64_t v;

	dew_random_bytes(&v, sizeof v);
	return v;
}

/* Rejection sampling over the largest multiple of n below 2^64 (see random.h). */
uint64_t dew_random_below(uint64_t n)
{
	if (n == 0)
		abort();
	/* (2^64 - n) % n == 2^64 % n: the count of low values that would make x % n biased. */
	uint64_t threshold = -n % n;
	for (;;) {
		uint64_t x = dew_random_u64();
		if (x >= threshold)
			return x % n;
	}
}
