// SPDX-License-Identifier: MIT
/*
 * The droplet cache: <dir>/<sha256> files, downloaded (fetch.c) into <dir>/.tmp-<sha>-<random>
 * while hashing, then fsynced and renamed into place only when the hash matches. An in-memory
 * index (a list in least-recently-used order, one mutex) holds sizes and reference counts;
 * eviction removes unreferenced entries from the cold end until the cache fits.
 */
#include "droplet-cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fetch.h"
#include "fs.h"
#include "log.h"
#include "random.h"
#include "sha256.h"

enum {
	DROPLET_CACHE_MAX_ADOPT = 100000, /* entries adopted from disk on open, at most */
};
/* No droplet is bigger than this: refused from Content-Length and again while streaming. */
static const uint64_t droplet_cache_max_droplet = 4ULL << 30;

enum droplet_state {
	DROPLET_READY,
	DROPLET_DOWNLOADING, /* one thread downloads; others wait on the cache's cond */
	DROPLET_FAILED,	     /* unlinked from the index; freed by the last waiter to leave */
};

struct droplet_entry {
	struct droplet_entry *prev, *next; /* prev is more recently used */
	char sha[DEW_SHA256_HEX_LEN + 1];
	uint64_t size;
	unsigned refs;	  /* gets not yet released; never evicted while > 0 */
	unsigned waiters; /* threads waiting for this entry's download */
	enum droplet_state state;
	int err_code;  /* DROPLET_FAILED: the downloader's error, copied to each waiter */
	char *err_msg; /* owned */
};

struct droplet_cache {
	char *dir;
	uint64_t max_bytes;
	pthread_mutex_t lock;		   /* guards everything below */
	pthread_cond_t done;		   /* broadcast when a download finishes, either way */
	struct droplet_entry *head, *tail; /* most and least recently used */
	struct droplet_cache_stats stats;  /* bytes and entries count READY entries only */
};

static void droplet_entry_free(struct droplet_entry *e)
{
	free(e->err_msg);
	free(e);
}

static void droplet_cache_unlink(struct droplet_cache *c, struct droplet_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void droplet_cache_push_front(struct droplet_cache *c, struct droplet_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
}

/* A linear scan: a DEA caches tens to hundreds of droplets, and each lookup precedes a download. */
static struct droplet_entry *droplet_cache_find(struct droplet_cache *c, const char *sha)
{
	for (struct droplet_entry *e = c->head; e; e = e->next)
		if (strcmp(e->sha, sha) == 0)
			return e;
	return NULL;
}

/* Drop a READY entry from the index and its file from the disk. Called with the lock held. */
static void droplet_cache_drop(struct droplet_cache *c, struct droplet_entry *e)
{
	cleanup_free char *path = xasprintf("%s/%s", c->dir, e->sha);

	if (unlink(path) < 0 && errno != ENOENT)
		dew_warn("droplet cache: remove `%s`: %s", path, strerror(errno));
	droplet_cache_unlink(c, e);
	c->stats.bytes -= e->size;
	c->stats.entries--;
	droplet_entry_free(e);
}

/*
 * Evict unreferenced entries, least recently used first, until the cache fits in max_bytes.
 * Entries in use are skipped, so the cache may stay over the limit: that is logged, not fixed.
 */
static void droplet_cache_evict(struct droplet_cache *c)
{
	struct droplet_entry *e = c->tail;

	while (c->stats.bytes > c->max_bytes && e) {
		struct droplet_entry *prev = e->prev;
		if (e->state == DROPLET_READY && e->refs == 0 && e->waiters == 0) {
			dew_info("droplet cache: evict %s (%" PRIu64 " bytes)", e->sha, e->size);
			droplet_cache_drop(c, e);
			c->stats.evictions++;
		}
		e = prev;
	}
	if (c->stats.bytes > c->max_bytes)
		dew_warn("droplet cache: %" PRIu64 " bytes in use exceed the limit of %" PRIu64
			 " bytes; nothing more can be evicted",
			 c->stats.bytes, c->max_bytes);
}

/* A droplet found on disk at open, with the time it was downloaded. */
struct droplet_found {
	struct droplet_entry *e;
	time_t mtime;
};

static int droplet_cache_found_cmp(const void *a, const void *b)
{
	const struct droplet_found *x = a, *y = b;

	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* Index the regular file name (a valid hash) of d into found, growing it. */
static void droplet_cache_found_add(DIR *d, const char *name, struct droplet_found **found, size_t *n,
				    size_t *cap)
{
	struct stat st;

	if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*found = xreallocarray(*found, *cap, sizeof **found);
	}
	struct droplet_entry *e = xzalloc(sizeof *e);
	memcpy(e->sha, name, DEW_SHA256_HEX_LEN + 1);
	e->size = (uint64_t)st.st_size;
	e->state = DROPLET_READY;
	(*found)[(*n)++] = (struct droplet_found){ e, st.st_mtime };
}

/*
 * Index the droplets already in dir and remove temporary files that a crash left behind. An
 * entry's hash is not re-verified here: a file only gets its final name after its hash was
 * checked and it was fsynced, so a file named by a hash is trusted to hold it (re-hashing
 * gigabytes at every start would delay the DEA for little gain). Entries are ordered by mtime
 * (download time), which approximates the use order of the previous run. Other files are left.
 */
static int droplet_cache_adopt(struct droplet_cache *c, struct dew_error **err)
{
	DIR *d = opendir(c->dir);
	struct droplet_found *found = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!d)
		return dew_error_set(err, errno, "open droplet cache `%s`", c->dir);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, ".tmp-", 5) == 0) {
			if (unlinkat(dirfd(d), de->d_name, 0) < 0)
				dew_warn("droplet cache: remove `%s/%s`: %s", c->dir, de->d_name,
					 strerror(errno));
		} else if (dew_sha256_is_hex(de->d_name) && n < DROPLET_CACHE_MAX_ADOPT) {
			droplet_cache_found_add(d, de->d_name, &found, &n, &cap);
		}
	}
	closedir(d);
	if (n > 0)
		qsort(found, n, sizeof *found, droplet_cache_found_cmp);
	for (size_t i = 0; i < n; i++) { /* oldest first, so the newest ends at the head */
		droplet_cache_push_front(c, found[i].e);
		c->stats.bytes += found[i].e->size;
		c->stats.entries++;
	}
	free(found);
	return 0;
}

/* Open dir as a droplet cache: create it, clear leftover downloads, adopt the droplets there. */
int droplet_cache_open(const char *dir, uint64_t max_bytes, struct droplet_cache **out,
		       struct dew_error **err)
{
	struct droplet_cache *c;
	int r;

	fetch_init();
	r = dew_mkdir_p(dir, 0755, err);
	if (r < 0)
		return dew_error_prefix(err, "open droplet cache");
	c = xzalloc(sizeof *c);
	c->dir = xstrdup(dir);
	c->max_bytes = max_bytes;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->done, NULL);
	r = droplet_cache_adopt(c, err);
	if (r < 0) {
		droplet_cache_close(c);
		return r;
	}
	droplet_cache_evict(c);
	dew_info("droplet cache `%s`: %" PRIu64 " droplets, %" PRIu64 " of %" PRIu64 " bytes", dir,
		 c->stats.entries, c->stats.bytes, max_bytes);
	*out = c;
	return 0;
}

/* Forget the index and free the cache; the files stay for the next open. */
void droplet_cache_close(struct droplet_cache *c)
{
	if (!c)
		return;
	while (c->head) {
		struct droplet_entry *e = c->head;
		if (e->refs > 0 || e->state != DROPLET_READY)
			dew_warn("droplet cache: closed with %s still in use", e->sha);
		droplet_cache_unlink(c, e);
		droplet_entry_free(e);
	}
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	free(c->dir);
	free(c);
}

/*
 * Download uri to <dir>/<sha> through a temporary file, checking the hash; *size gets the
 * droplet's size. Runs without the lock. On failure nothing is left in dir.
 */
static int droplet_cache_fetch(struct droplet_cache *c, const char *sha, const char *uri, uint64_t timeout_ms,
			       uint64_t *size, struct dew_error **err)
{
	char rnd[17], got[DEW_SHA256_HEX_LEN + 1];
	cleanup_free char *tmp = NULL;
	cleanup_free char *path = xasprintf("%s/%s", c->dir, sha);
	uint64_t n = 0;
	int fd, r;

	if (strncasecmp(uri, "http://", 7) != 0 && strncasecmp(uri, "https://", 8) != 0)
		return dew_error_set_code(err, EPROTONOSUPPORT, "only http and https URIs are allowed");
	dew_random_hex(rnd, 8);
	tmp = xasprintf("%s/.tmp-%s-%s", c->dir, sha, rnd);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return dew_error_set(err, errno, "create `%s`", tmp);
	r = fetch_to_fd(uri, fd, tmp, droplet_cache_max_droplet, timeout_ms, got, &n, err);
	if (r == 0 && strcmp(got, sha) != 0)
		r = dew_error_set_code(err, EBADMSG, "SHA-256 mismatch (got %s)", got);
	/* fsync before rename: entries adopted on restart are trusted without re-hashing. */
	if (r == 0 && fchmod(fd, 0644) < 0)
		r = dew_error_set(err, errno, "chmod `%s`", tmp);
	if (r == 0 && fsync(fd) < 0)
		r = dew_error_set(err, errno, "fsync `%s`", tmp);
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = dew_error_set(err, errno, "rename `%s` to `%s`", tmp, path);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	*size = n;
	return 0;
}

/* uri with any "user:password@" replaced by "***@", for error messages and logs. */
static char *droplet_cache_redact(const char *uri)
{
	const char *auth = strstr(uri, "://");
	const char *end, *at;

	if (!auth)
		return xstrdup(uri);
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (!at)
		return xstrdup(uri);
	return xasprintf("%.*s***%s", (int)(auth - uri), uri, at);
}

/* Finish the download of e (lock held): publish it or record the failure, and wake the waiters. */
static void droplet_cache_finish(struct droplet_cache *c, struct droplet_entry *e, int r, uint64_t size,
				 struct dew_error *error)
{
	if (r == 0) {
		e->state = DROPLET_READY;
		e->size = size;
		e->refs = 1 + e->waiters; /* the waiters' references, taken before eviction can run */
		c->stats.bytes += size;
		c->stats.entries++;
		droplet_cache_evict(c);
	} else {
		e->state = DROPLET_FAILED;
		e->err_code = -r;
		e->err_msg = xstrdup(dew_error_msg(error));
		droplet_cache_unlink(c, e); /* a later get tries again */
		if (e->waiters == 0)
			droplet_entry_free(e);
	}
	pthread_cond_broadcast(&c->done);
}

/* Wait (lock held) for another thread's download of e; its outcome becomes ours. */
static int droplet_cache_wait(struct droplet_cache *c, struct droplet_entry *e, struct dew_error **err)
{
	int code;

	e->waiters++;
	while (e->state == DROPLET_DOWNLOADING)
		pthread_cond_wait(&c->done, &c->lock);
	e->waiters--;
	if (e->state == DROPLET_READY)
		return 0; /* our reference was taken by droplet_cache_finish */
	code = e->err_code;
	dew_error_set_code(err, code, "%s", e->err_msg);
	if (e->waiters == 0)
		droplet_entry_free(e);
	return -code;
}

/* Take a reference on a droplet, downloading it first unless it is cached or being downloaded. */
int droplet_cache_get(struct droplet_cache *c, const char *sha256, const char *uri, uint64_t timeout_ms,
		      char **path, bool *hit, struct dew_error **err)
{
	cleanup_free char *file = NULL;
	struct dew_error *error = NULL;
	struct droplet_entry *e;
	uint64_t size = 0;
	struct stat st;
	int r;

	if (!dew_sha256_is_hex(sha256))
		return dew_error_set(err, 0, "download droplet `%.80s`: not a SHA-256 in lowercase hex",
				     sha256);
	file = xasprintf("%s/%s", c->dir, sha256);
	pthread_mutex_lock(&c->lock);
	e = droplet_cache_find(c, sha256);
	/* A file removed behind our back is forgotten and downloaded again. */
	if (e && e->state == DROPLET_READY && e->refs == 0 && lstat(file, &st) < 0) {
		dew_warn("droplet cache: `%s` vanished; downloading it again", file);
		droplet_cache_drop(c, e);
		e = NULL;
	}
	if (e && e->state == DROPLET_READY) {
		e->refs++;
		droplet_cache_unlink(c, e);
		droplet_cache_push_front(c, e);
		c->stats.hits++;
		pthread_mutex_unlock(&c->lock);
		*hit = true;
		*path = steal_pointer(&file);
		return 0;
	}
	c->stats.misses++;
	if (e) {
		r = droplet_cache_wait(c, e, err);
		pthread_mutex_unlock(&c->lock);
		goto out;
	}
	e = xzalloc(sizeof *e);
	memcpy(e->sha, sha256, DEW_SHA256_HEX_LEN + 1);
	e->state = DROPLET_DOWNLOADING;
	droplet_cache_push_front(c, e);
	pthread_mutex_unlock(&c->lock);

	if (!uri)
		r = dew_error_set(&error, 0, "no URI to download it from");
	else
		r = droplet_cache_fetch(c, sha256, uri, timeout_ms, &size, &error);

	pthread_mutex_lock(&c->lock);
	droplet_cache_finish(c, e, r, size, error);
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		if (err && !*err)
			*err = steal_pointer(&error);
	} else {
		cleanup_free char *shown = droplet_cache_redact(uri);
		dew_info("droplet cache: downloaded %s (%" PRIu64 " bytes) from %s", sha256, size, shown);
	}
	dew_error_free(error);
out:
	if (r < 0) {
		cleanup_free char *shown = droplet_cache_redact(uri ? uri : "(none)");
		return dew_error_prefix(err, "download droplet %s from %s", sha256, shown);
	}
	*hit = false;
	*path = steal_pointer(&file);
	return 0;
}

/* Drop a reference taken by droplet_cache_get, evicting now if the cache is over its limit. */
void droplet_cache_release(struct droplet_cache *c, const char *sha256)
{
	struct droplet_entry *e;

	pthread_mutex_lock(&c->lock);
	e = droplet_cache_find(c, sha256);
	if (!e || e->state != DROPLET_READY || e->refs == 0) {
		dew_err("droplet cache: release of %.80s, which is not held", sha256);
	} else if (--e->refs == 0 && c->stats.bytes > c->max_bytes) {
		/* An over-limit cache (in-use droplets, or one droplet larger than the limit) shrinks now. */
		droplet_cache_evict(c);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Copy the counters under the lock. */
void droplet_cache_get_stats(struct droplet_cache *c, struct droplet_cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}
