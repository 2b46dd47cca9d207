// SPDX-License-Identifier: MIT
/*
 * The push cache (push.h): what the last push of an app from this directory to this target
 * learnt, kept in $DEW_HOME/cache so that the next push of unchanged files costs neither hashing
 * nor a file list on the wire.
 *
 * Two things are remembered. The hash of each file, with the file's device, inode, size, mtime
 * and ctime: the same five values later are taken to mean the same bytes, the assumption git's
 * index and rsync make. A file changed within CACHE_RACY_NS of the save is not remembered, as its
 * next change could keep the same timestamps (git's "racy" entries). And the digest of the whole
 * list (paths, modes, sizes, hashes, link targets) with the package the controller built from it:
 * when the list is the same again, the push names that package instead of sending the list.
 *
 * The file is text: a "dew-push-cache 1" line, "saved <ns>", an optional "package <digest>
 * <sha256>", then one "f <dev> <ino> <size> <mtime_ns> <ctime_ns> <sha256> <len> <path>" line per
 * file in path order. Anything unexpected makes the whole cache empty: it is only ever a hint.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "fs.h"
#include "push.h"

#define CACHE_MAGIC "dew-push-cache 1\n"

enum {
	CACHE_MAX_BYTES = 256 << 20, /* a cache larger than this is ignored */
};

static const int64_t CACHE_RACY_NS = 2000000000; /* 2 s: wider than any file system's clock step */

struct cache_file {
	char *path; /* borrowed from the text */
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
	char sha256[DEW_SHA256_HEX_LEN + 1];
};

struct push_cache {
	char *file; /* $DEW_HOME/cache/push-<key> */
	char *text; /* the loaded file; paths point into it */
	struct cache_file *v;
	size_t n;
	char digest[DEW_SHA256_HEX_LEN + 1], package[DEW_SHA256_HEX_LEN + 1]; /* "" when unknown */
};

static int64_t cache_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A decimal number ending at a space: advances *p past the space. */
static bool cache_number(char **p, uint64_t *out)
{
	char *end;
	if (**p < '0' || **p > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(*p, &end, 10);
	if (errno || *end != ' ')
		return false;
	*out = v;
	*p = end + 1;
	return true;
}

/* A 64-digit hash ending at sep: copied to out, advances *p past sep. */
static bool cache_hash(char **p, char sep, char out[DEW_SHA256_HEX_LEN + 1])
{
	if (strlen(*p) < DEW_SHA256_HEX_LEN + 1 || (*p)[DEW_SHA256_HEX_LEN] != sep)
		return false;
	memcpy(out, *p, DEW_SHA256_HEX_LEN);
	out[DEW_SHA256_HEX_LEN] = '\0';
	*p += DEW_SHA256_HEX_LEN + 1;
	return dew_sha256_is_hex(out);
}

/* One "f ..." line at *p (its path NUL-terminated in place): advances *p to the next line. */
static bool cache_parse_file(char **p, struct cache_file *f)
{
	uint64_t mtime, ctime, len;
	char *s = *p + 2;
	if (strncmp(*p, "f ", 2) != 0 || !cache_number(&s, &f->dev) || !cache_number(&s, &f->ino) ||
	    !cache_number(&s, &f->size) || !cache_number(&s, &mtime) || !cache_number(&s, &ctime) ||
	    !cache_hash(&s, ' ', f->sha256) || !cache_number(&s, &len) || len == 0 || len > PATH_MAX ||
	    strnlen(s, len + 1) != len + 1 || s[len] != '\n' || mtime > INT64_MAX || ctime > INT64_MAX)
		return false;
	f->mtime_ns = (int64_t)mtime;
	f->ctime_ns = (int64_t)ctime;
	f->path = s;
	s[len] = '\0';
	if (strlen(f->path) != len)
		return false; /* a NUL inside */
	*p = s + len + 1;
	return true;
}

/* Parse c->text; false when it is not a cache this code wrote. */
static bool cache_parse(struct push_cache *c)
{
	char *p = c->text;
	uint64_t saved;
	if (strncmp(p, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0)
		return false;
	p += strlen(CACHE_MAGIC);
	if (strncmp(p, "saved ", 6) != 0)
		return false;
	p += 6;
	char *nl = strchr(p, '\n');
	if (!nl)
		return false;
	*nl = ' '; /* cache_number wants a space after the digits */
	if (!cache_number(&p, &saved))
		return false;
	if (strncmp(p, "package ", 8) == 0) {
		p += 8;
		if (!cache_hash(&p, ' ', c->digest) || !cache_hash(&p, '\n', c->package))
			return false;
	}
	size_t cap = 0;
	while (*p) {
		if (c->n == cap) {
			cap = cap ? cap * 2 : 256;
			c->v = xreallocarray(c->v, cap, sizeof(*c->v));
		}
		struct cache_file *f = &c->v[c->n];
		if (!cache_parse_file(&p, f))
			return false;
		if (c->n && strcmp(c->v[c->n - 1].path, f->path) >= 0)
			return false; /* not in path order */
		c->n++;
	}
	return true;
}

struct push_cache *push_cache_open(const struct cli *cli, const char *app, const char *root)
{
	struct push_cache *c = xcalloc(1, sizeof(*c));
	cleanup_free char *where = realpath(root, NULL);
	struct dew_sha256 h;
	char key[DEW_SHA256_HEX_LEN + 1];
	dew_sha256_init(&h);
	/* NUL-separated: no two (target, app, directory) triples give the same input. */
	const char *parts[] = { cli->cfg.target ? cli->cfg.target : "", app, where ? where : root };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(parts); i++)
		dew_sha256_update(&h, parts[i], strlen(parts[i]) + 1);
	dew_sha256_final(&h, key);
	dew_sha256_close(&h);
	c->file = xasprintf("%s/cache/push-%.32s", cli->home, key);

	cleanup_error struct dew_error *err = NULL;
	size_t len = 0;
	if (dew_read_file(c->file, CACHE_MAX_BYTES, &c->text, &len, &err) < 0)
		return c; /* none yet, or unreadable: an empty cache */
	if (strlen(c->text) != len || !cache_parse(c)) {
		free(c->v);
		c->v = NULL;
		c->n = 0;
		c->digest[0] = c->package[0] = '\0';
	}
	return c;
}

void push_cache_free(struct push_cache *c)
{
	if (!c)
		return;
	free(c->file);
	free(c->text);
	free(c->v);
	free(c);
}

uint64_t push_cache_fill(const struct push_cache *c, struct walk_list *l)
{
	uint64_t filled = 0;
	size_t k = 0;
	/* Both lists are in path order: one merge pass. */
	for (size_t i = 0; c && i < l->n && k < c->n; i++) {
		struct walk_entry *e = &l->v[i];
		int cmp = -1;
		while (k < c->n && (cmp = strcmp(c->v[k].path, e->path)) < 0)
			k++;
		if (cmp != 0 || e->type != WALK_FILE)
			continue;
		const struct cache_file *f = &c->v[k];
		if (f->dev == e->dev && f->ino == e->ino && f->size == e->size &&
		    f->mtime_ns == e->mtime_ns && f->ctime_ns == e->ctime_ns) {
			memcpy(e->sha256, f->sha256, sizeof(e->sha256));
			filled++;
		}
	}
	return filled;
}

void push_cache_digest(const struct walk_list *l, char hex[DEW_SHA256_HEX_LEN + 1])
{
	struct dew_sha256 h;
	dew_sha256_init(&h);
	for (size_t i = 0; i < l->n; i++) {
		const struct walk_entry *e = &l->v[i];
		cleanup_free char *line = e->type == WALK_FILE
						  ? xasprintf("f %o %" PRIu64 " %s %zu %s\n", e->mode,
							      e->size, e->sha256, strlen(e->path), e->path)
						  : xasprintf("l %zu %s %zu %s\n", strlen(e->path), e->path,
							      strlen(e->target), e->target);
		dew_sha256_update(&h, line, strlen(line));
	}
	dew_sha256_final(&h, hex);
	dew_sha256_close(&h);
}

const char *push_cache_package(const struct push_cache *c, const char *digest)
{
	return c && c->package[0] && strcmp(c->digest, digest) == 0 ? c->package : NULL;
}

int push_cache_save(struct push_cache *c, const struct walk_list *l, const char *digest, const char *package,
		    struct dew_error **err)
{
	if (!c)
		return 0;
	int64_t now = cache_now_ns();
	struct dew_buf b;
	dew_buf_init(&b);
	dew_buf_printf(&b, CACHE_MAGIC "saved %" PRId64 "\n", now);
	if (digest && package)
		dew_buf_printf(&b, "package %s %s\n", digest, package);
	for (size_t i = 0; i < l->n; i++) {
		const struct walk_entry *e = &l->v[i];
		if (e->type != WALK_FILE || !e->sha256[0] || e->mtime_ns < 0 || e->ctime_ns < 0 ||
		    e->mtime_ns > now - CACHE_RACY_NS || e->ctime_ns > now - CACHE_RACY_NS)
			continue; /* changed too recently to tell a later change by its timestamps */
		dew_buf_printf(&b,
			       "f %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %s %zu %s\n",
			       e->dev, e->ino, e->size, e->mtime_ns, e->ctime_ns, e->sha256, strlen(e->path),
			       e->path);
	}
	cleanup_free char *dir = xstrdup(c->file);
	*strrchr(dir, '/') = '\0';
	int r = dew_mkdir_p(dir, 0700, err);
	if (r == 0)
		r = dew_write_file_replace(c->file, b.data, b.len, 0600, err);
	dew_buf_close(&b);
	return r;
}
