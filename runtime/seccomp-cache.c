// SPDX-License-Identifier: MIT
/*
 * An on-disk cache of the compiled seccomp filter. Compiling the profile for three entry
 * points takes about 10 ms, which dominated a short-lived `dew-run run`; the BPF depends only
 * on the profile data, the libseccomp version and the machine, so it is stored under a key
 * hashed from exactly those and reused by every later process. The cache lives in the state
 * root (root-owned, 0711) and a file is trusted only when root owns it and nobody else can
 * write it; anything unexpected means "compile again".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "alloc.h"
#include "fs.h"
#include "internal.h"
#include "seccomp-profile.h"
#include "sha256.h"

enum { CACHE_MAX_INSNS = BPF_MAXINSNS };

static const char cache_magic[8] = "DEWSC01\n";

static void hash_rules(struct dew_sha256 *h, const struct dewrt_sc_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		dew_sha256_update(h, r[i].name, strlen(r[i].name) + 1);
		dew_sha256_update(h, &r[i].action, sizeof r[i].action);
		dew_sha256_update(h, &r[i].n_args, sizeof r[i].n_args);
		const uint64_t cmp[4] = { r[i].cmp.arg, r[i].cmp.op, r[i].cmp.datum_a, r[i].cmp.datum_b };
		dew_sha256_update(h, cmp, sizeof cmp);
	}
}

/* The cache key: everything the compiled BPF depends on. */
static void cache_key(char hex[DEW_SHA256_HEX_LEN + 1])
{
	const struct scmp_version *v = seccomp_version();
	struct dew_sha256 h;
	struct utsname u;
	char text[256];

	uname(&u);
	snprintf(text, sizeof text, "%s|libseccomp %u.%u.%u|%s|%zu", dewrt__seccomp_profile_name(), v->major,
		 v->minor, v->micro, u.machine, sizeof(long));
	dew_sha256_init(&h);
	dew_sha256_update(&h, text, strlen(text));
	for (size_t i = 0; i < dewrt__sc_allow_n; i++)
		dew_sha256_update(&h, dewrt__sc_allow[i], strlen(dewrt__sc_allow[i]) + 1);
	hash_rules(&h, dewrt__sc_rules, dewrt__sc_rules_n);
	hash_rules(&h, dewrt__sc_deny, dewrt__sc_deny_n);
	dew_sha256_final(&h, hex);
}

/* Read a cached filter; NULL when absent, untrusted or malformed. */
static struct dewrt_seccomp *cache_load(const char *path)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
	    (sb.st_mode & 022) || sb.st_size > (off_t)(sizeof cache_magic + 8 + 2 * CACHE_MAX_INSNS * 8))
		return NULL;
	cleanup_free char *buf = xmalloc((size_t)sb.st_size);
	if (read(fd, buf, (size_t)sb.st_size) != sb.st_size || (size_t)sb.st_size < sizeof cache_magic + 8 ||
	    memcmp(buf, cache_magic, sizeof cache_magic) != 0)
		return NULL;
	uint32_t n[FILTER_COUNT];
	memcpy(n, buf + sizeof cache_magic, sizeof n);
	size_t off = sizeof cache_magic + sizeof n;
	if (n[0] == 0 || n[1] == 0 || n[0] > CACHE_MAX_INSNS || n[1] > CACHE_MAX_INSNS ||
	    off + ((size_t)n[0] + n[1]) * sizeof(struct sock_filter) != (size_t)sb.st_size)
		return NULL;
	struct dewrt_seccomp *sc = xzalloc(sizeof *sc);
	for (size_t i = 0; i < FILTER_COUNT; i++) {
		size_t bytes = (size_t)n[i] * sizeof(struct sock_filter);
		sc->prog[i].len = (unsigned short)n[i];
		sc->prog[i].filter = xmalloc(bytes);
		memcpy(sc->prog[i].filter, buf + off, bytes);
		off += bytes;
	}
	return sc;
}

static void cache_store(const char *path, const struct dewrt_seccomp *sc)
{
	uint32_t n[FILTER_COUNT] = { sc->prog[0].len, sc->prog[1].len };
	size_t len = sizeof cache_magic + sizeof n + ((size_t)n[0] + n[1]) * sizeof(struct sock_filter);
	cleanup_free char *buf = xmalloc(len);
	size_t off = 0;
	memcpy(buf, cache_magic, sizeof cache_magic);
	off += sizeof cache_magic;
	memcpy(buf + off, n, sizeof n);
	off += sizeof n;
	for (size_t i = 0; i < FILTER_COUNT; i++) {
		memcpy(buf + off, sc->prog[i].filter, n[i] * sizeof(struct sock_filter));
		off += n[i] * sizeof(struct sock_filter);
	}
	/* Best effort: a cache that cannot be written only costs the next process a compile. */
	dew_write_file_replace(path, buf, len, 0600, NULL);
}

int dewrt__seccomp_compile(struct dewrt_seccomp **out, const char *cache_dir, struct dew_error **err)
{
	char key[DEW_SHA256_HEX_LEN + 1];
	cleanup_free char *path = NULL;

	if (cache_dir) {
		cache_key(key);
		path = xasprintf("%s/.seccomp-%.32s.bpf", cache_dir, key);
		if ((*out = cache_load(path)))
			return 0;
	}
	int r = dewrt__seccomp_compile_fresh(out, err);
	if (r == 0 && path)
		cache_store(path, *out);
	return r;
}
