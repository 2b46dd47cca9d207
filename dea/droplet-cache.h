/* SPDX-License-Identifier: MIT */
/*
 * The DEA's droplet cache: droplets downloaded over HTTP (libcurl), verified against their
 * SHA-256 while streaming, stored by hash, bounded on disk with least-recently-used eviction
 * that never evicts a droplet in use.
 */
#ifndef DEW_DEA_DROPLET_CACHE_H
#define DEW_DEA_DROPLET_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct droplet_cache;

struct droplet_cache_stats {
	uint64_t hits, misses, evictions, bytes, entries;
};

/*
 * Open (creating) dir as a cache of at most max_bytes; existing entries are adopted. Files named
 * by a hash are trusted without re-hashing (only verified, fsynced downloads get such names);
 * leftover .tmp-* files of interrupted downloads are removed; other files are left alone. The
 * adopted entries are ordered by mtime and evicted down to max_bytes. Returns 0 or -errno.
 */
int droplet_cache_open(const char *dir, uint64_t max_bytes, struct droplet_cache **out,
		       struct dew_error **err);
/* Free c (NULL is fine); no get may be in progress. The cached files stay on disk. */
void droplet_cache_close(struct droplet_cache *c);

/*
 * Make sure the droplet sha256 is in the cache (downloading it from uri when it is not, with a
 * timeout; the hash is checked while streaming and a mismatch is an error that stores nothing)
 * and take a reference on it: it is not evicted until droplet_cache_release. *path gets the
 * file's path (caller frees). *hit says whether it was already there. Blocking (the DEA runs it
 * on a worker thread); safe to call from several threads at once: concurrent gets of the same
 * missing droplet share one download and its outcome. Only http and https URIs (and redirects)
 * are followed; bodies over 4 GiB are refused; timeout_ms bounds the whole transfer (0: no
 * limit). A droplet larger than max_bytes is still returned, then evicted on its release.
 * Returns 0, or -errno with *err "download droplet <sha> from <uri>: HTTP 404" (or "SHA-256
 * mismatch (got <hash>)", "timed out after N ms", ...). Credentials in uri are not logged.
 */
int droplet_cache_get(struct droplet_cache *c, const char *sha256, const char *uri, uint64_t timeout_ms,
		      char **path, bool *hit, struct dew_error **err);
/* Drop one reference taken by a successful droplet_cache_get; an unheld sha256 is logged. */
void droplet_cache_release(struct droplet_cache *c, const char *sha256);
/* Counters: bytes and entries cover finished downloads only (not ones in flight). */
void droplet_cache_get_stats(struct droplet_cache *c, struct droplet_cache_stats *out);

#endif
