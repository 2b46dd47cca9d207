// SPDX-License-Identifier: MIT
/*
 * SHA-256 through libcrypto's EVP API. OpenSSL failures here mean out of memory or a broken
 * installation, so they abort like the xmalloc family.
 */
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

enum { READ_BLOCK = 64 * 1024 };

/* Allocate the EVP context and start a SHA-256 digest. */
void dew_sha256_init(struct dew_sha256 *h)
{
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort();
}

/* Feed len bytes into the digest. */
void dew_sha256_update(struct dew_sha256 *h, const void *data, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(h->ctx, data, len) != 1)
		abort();
}

/* Finish the digest, hex-encode it and free the context. */
void dew_sha256_final(struct dew_sha256 *h, char hex[DEW_SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n * 2 != DEW_SHA256_HEX_LEN)
		abort();
	for (unsigned int i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[DEW_SHA256_HEX_LEN] = '\0';
	dew_sha256_close(h);
}

/* Free the context (NULL is fine) and mark the hash closed. */
void dew_sha256_close(struct dew_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

/* Hash a buffer in one go. */
void dew_sha256_hex(const void *data, size_t len, char hex[DEW_SHA256_HEX_LEN + 1])
{
	struct dew_sha256 h;

	dew_sha256_init(&h);
	dew_sha256_update(&h, data, len);
	dew_sha256_final(&h, hex);
}

/* Hash the content of fd, streaming it in blocks. */
static int hash_fd(int fd, const char *path, struct dew_sha256 *h, uint64_t *total, struct dew_error **err)
{
	cleanup_free unsigned char *buf = xmalloc(READ_BLOCK);

	*total = 0;
	for (;;) {
		ssize_t k = read(fd, buf, READ_BLOCK);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return dew_error_set(err, errno, "read `%s`", path);
		}
		if (k == 0)
			return 0;
		dew_sha256_update(h, buf, (size_t)k);
		*total += (uint64_t)k;
	}
}

/* Hash a file (see sha256.h). */
int dew_sha256_file(const char *path, char hex[DEW_SHA256_HEX_LEN + 1], uint64_t *size,
		    struct dew_error **err)
{
	struct dew_sha256 h;
	uint64_t total = 0;
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return dew_error_set(err, errno, "open `%s`", path);
	dew_sha256_init(&h);
	int r = hash_fd(fd, path, &h, &total, err);
	if (r < 0) {
		dew_sha256_close(&h);
		return r;
	}
	dew_sha256_final(&h, hex);
	if (size)
		*size = total;
	return 0;
}

/* Check the canonical hex form of a digest. */
bool dew_sha256_is_hex(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < DEW_SHA256_HEX_LEN; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[DEW_SHA256_HEX_LEN] == '\0';
}
