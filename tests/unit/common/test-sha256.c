// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/sha256.c: known vectors, a 1 MB buffer hashed in one go, in odd-sized
 * updates and from a file, and the hex form check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "sha256.h"
#include "tap.h"

enum { BIG = 1000000 };

static void test_vectors(void)
{
	char hex[DEW_SHA256_HEX_LEN + 1];

	dew_sha256_hex("", 0, hex);
	tap_is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 of \"\"");
	dew_sha256_hex("abc", 3, hex);
	tap_is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		   "sha256 of \"abc\"");
	dew_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	tap_is_str(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
		   "sha256 of the 448-bit vector");
}

static void test_big(const char *dir)
{
	unsigned char *buf = xmalloc(BIG);
	char one[DEW_SHA256_HEX_LEN + 1], parts[DEW_SHA256_HEX_LEN + 1], file[DEW_SHA256_HEX_LEN + 1];
	struct dew_sha256 h;
	struct dew_error *err = NULL;

	/* One million 'a's: the FIPS 180-2 long vector. */
	memset(buf, 'a', BIG);
	dew_sha256_hex(buf, BIG, one);
	tap_is_str(one, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		   "1,000,000 x 'a'");

	for (size_t i = 0; i < BIG; i++)
		buf[i] = (unsigned char)(i * 7 + (i >> 9));
	dew_sha256_hex(buf, BIG, one);

	dew_sha256_init(&h);
	size_t off = 0, step = 1;
	while (off < BIG) {
		size_t n = step < BIG - off ? step : BIG - off;
		dew_sha256_update(&h, buf + off, n);
		off += n;
		step = step * 3 + 1; /* 1, 4, 13, 40, ... odd-sized pieces */
		if (step > 70000)
			step = 17;
	}
	dew_sha256_update(&h, buf, 0);
	dew_sha256_final(&h, parts);
	tap_is_str(parts, one, "odd-sized updates give the same digest");
	tap_ok(h.ctx == NULL, "final releases the context");

	cleanup_free char *path = xasprintf("%s/big", dir);
	FILE *f = fopen(path, "w");
	tap_ok(f && fwrite(buf, 1, BIG, f) == BIG && fclose(f) == 0, "write the buffer to a file");
	uint64_t size = 0;
	tap_is_int(dew_sha256_file(path, file, &size, &err), 0, "hash the file");
	tap_is_str(file, one, "the file gives the same digest");
	tap_is_int((int64_t)size, BIG, "the file size is reported");
	tap_is_int(dew_sha256_file(path, file, NULL, &err), 0, "size may be NULL");
	unlink(path);

	tap_is_int(dew_sha256_file(path, file, &size, &err), -ENOENT, "missing file");
	tap_has_str(dew_error_msg(err), path, "message names the file");
	dew_error_clear(&err);
	tap_ok(dew_sha256_file(dir, file, &size, &err) == -EISDIR, "a directory cannot be hashed");
	dew_error_clear(&err);

	/* Abandoning a hash must not leak (ASan checks). */
	dew_sha256_init(&h);
	dew_sha256_update(&h, "x", 1);
	dew_sha256_close(&h);
	dew_sha256_close(&h);
	tap_ok(h.ctx == NULL, "close releases an abandoned hash");
	free(buf);
}

static void test_is_hex(void)
{
	static const struct {
		const char *s;
		bool want;
	} cases[] = {
		{ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", true },
		{ "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", false },
		{ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", false },
		{ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555", false },
		{ "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false },
		{ "", false },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		tap_ok(dew_sha256_is_hex(cases[i].s) == cases[i].want, "is_hex case %zu", i);
	tap_ok(!dew_sha256_is_hex(NULL), "is_hex(NULL) is false");
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	cleanup_free char *dir = xasprintf("%s/dew-test-sha256.XXXXXX", base && *base ? base : "/tmp");

	test_vectors();
	test_is_hex();
	if (!mkdtemp(dir)) {
		tap_ok(false, "mkdtemp %s: %s", dir, strerror(errno));
		return tap_done();
	}
	test_big(dir);
	if (rmdir(dir) < 0)
		tap_diag("rmdir %s: %s", dir, strerror(errno));
	return tap_done();
}
