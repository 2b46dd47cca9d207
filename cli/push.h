/* SPDX-License-Identifier: MIT */
/*
 * The parts of `dew push` (cmd-push.c) that talk about bits: what the controller's pool has
 * (push-upload.c, resource_match), the streamed upload of the rest, and the progress shown on
 * a terminal (push-progress.c).
 */
#ifndef DEW_CLI_PUSH_H
#define DEW_CLI_PUSH_H

#include <stdint.h>

#include "cli.h"
#include "walk.h"

/* What a push sent and what it did not need to. */
struct push_stats {
	uint64_t files, links, bytes;	       /* of the app */
	uint64_t matched_files, matched_bytes; /* already in the controller's pool */
	uint64_t upload_files, upload_bytes;   /* files (and symlinks) in the archive, their bytes */
	uint64_t sent;			       /* bytes of the bits request body */
	uint64_t match_sent;		       /* bytes of the resource_match request bodies */
	uint64_t cached;		       /* files whose hash came from the push cache */
	char package[DEW_SHA256_HEX_LEN + 1];  /* the package the controller has for the app */
	bool reused;			       /* named by the push cache: no file list sent */
	bool changed;			       /* the controller says the package changed */
};

/* Ask the controller which files of l its pool holds; sets their matched and fills st. 0, or -1
 * after printing why. */
int push_match(struct cli *cli, struct walk_list *l, struct push_stats *st);

struct push_progress;

/*
 * PUT the bits of app name: the matched files as the `resources` part, the others (and every
 * symlink) as an uncompressed tar in the `application` part, produced from root by a thread
 * while it is sent, never held in memory; the part is left out when every file matched. Sets
 * st->sent and st->changed; prog (may be NULL) sees the bytes sent. 0, or -1 after printing why.
 */
int push_upload(struct cli *cli, const char *name, const char *root, const struct walk_list *l,
		struct push_stats *st, struct push_progress *prog);

/*
 * PUT /v1/apps/:name/package {sha256}: make package (the controller's, from an earlier push)
 * the app's, sending no file list. 0 with st filled as for an upload of nothing; 1 when the
 * controller does not hold that package (push the bits instead); -1 after printing why.
 */
int push_package(struct cli *cli, const char *name, const char *package, struct push_stats *st);

/* ---- the push cache (push-cache.c): $DEW_HOME/cache, one file per target, app and directory ---- */

struct push_cache;

/* The cache of app pushed from root to the current target; empty when there is none or it is
 * damaged (a cache is only a hint). Never NULL. */
struct push_cache *push_cache_open(const struct cli *cli, const char *app, const char *root);
void push_cache_free(struct push_cache *c);
/* Fill the sha256 of each file of l whose device, inode, size, mtime and ctime are those the
 * cache remembers; return how many. c may be NULL. */
uint64_t push_cache_fill(const struct push_cache *c, struct walk_list *l);
/* The digest of l once every file is hashed: paths, modes, sizes, hashes and link targets. */
void push_cache_digest(const struct walk_list *l, char hex[DEW_SHA256_HEX_LEN + 1]);
/* The package built from a list with this digest, when the cache knows it; else NULL. */
const char *push_cache_package(const struct push_cache *c, const char *digest);
/* Remember l's hashes (but those of files changed in the last 2 s) and, when both are given,
 * that digest gave package. 0, or a negative errno with *err set. c may be NULL. */
int push_cache_save(struct push_cache *c, const struct walk_list *l, const char *digest, const char *package,
		    struct dew_error **err);

/* ---- progress (push-progress.c): on a terminal, redrawn with \r; else plain lines ---- */

struct push_progress {
	struct cli *cli;
	uint64_t total_files, total_bytes;
	uint64_t upload_total; /* bytes expected in the upload body (an estimate) */
	double last;	       /* when the line was last drawn */
	bool drawn;	       /* a \r line is on the screen */
};

void push_progress_init(struct push_progress *p, struct cli *cli, const struct walk_list *l);
/* A fingerprint_progress_fn. */
void push_progress_hashed(uint64_t files, uint64_t bytes, void *arg);
/* The hashing is done: a summary line (cached: hashes the push cache gave). */
void push_progress_hashed_done(struct push_progress *p, uint64_t cached, double seconds);
/* The push cache named a package the controller holds: nothing to upload. */
void push_progress_reused(struct push_progress *p, const struct push_stats *st);
/* The resource_match is done: "N files, X to upload, Y already on the controller". */
void push_progress_matched(struct push_progress *p, const struct push_stats *st);
/* A cli_progress_fn for the upload. */
void push_progress_upload(uint64_t sent, void *arg);
/* The upload is done. */
void push_progress_uploaded(struct push_progress *p, const struct push_stats *st, double seconds);

#endif
