/* SPDX-License-Identifier: MIT */
/*
 * What `dew push` sends: the files and symlinks of an app directory (walk.c), fingerprinted
 * with SHA-256 on every core (fingerprint.c). Paths are relative to the app's directory, sorted
 * in byte order (the order of the controller's package).
 */
#ifndef DEW_CLI_WALK_H
#define DEW_CLI_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha256.h"

enum walk_type { WALK_FILE, WALK_LINK };

struct walk_entry {
	char *path;   /* "lib/a.py" (owned) */
	char *target; /* a symlink's target (owned), else NULL */
	enum walk_type type;
	unsigned mode; /* 0644 or 0755 for files (the package keeps only the execute bit), 0777 links */
	uint64_t size; /* bytes of a file at the walk; 0 for links */
	/* A file's identity at the walk, for the push cache (push-cache.c): the same values later
	 * mean the same bytes, as git and rsync assume. */
	uint64_t dev, ino;
	int64_t mtime_ns, ctime_ns;
	/* A file's hash: from the push cache, else filled by fingerprint_all. */
	char sha256[DEW_SHA256_HEX_LEN + 1];
	bool matched; /* the controller's pool has it (resource_match) */
};

struct walk_list {
	struct walk_entry *v;
	size_t n, cap;
	uint64_t files, links; /* counts by type */
	uint64_t bytes;	       /* of the files */
};

/*
 * Walk the directory root: every regular file and symlink not ignored by root's .dewignore or
 * .cfignore, skipping `.git` at any depth and, at the top, the ignore files and manifest.yml.
 * Directories are followed; symlinks are kept as links, never followed. Refused, with *err
 * naming the path: a symlink whose target is absolute or leaves root, a device, fifo or socket.
 * 0 with *out filled (sorted by path), or a negative errno.
 */
int walk_app(const char *root, struct walk_list *out, struct dew_error **err);
void walk_list_free(struct walk_list *l);

/* Called from fingerprint_all's waiting thread about every 100 ms and at the end. */
typedef void (*fingerprint_progress_fn)(uint64_t files_done, uint64_t bytes_done, void *arg);

/*
 * Fill the sha256 of every file of l (read under root) that has none yet, on threads threads
 * (0: one per online CPU). A file whose size changed since the walk is an error naming it. The
 * progress counts only the files hashed. 0, or a negative errno.
 */
int fingerprint_all(const char *root, struct walk_list *l, unsigned threads, fingerprint_progress_fn progress,
		    void *arg, struct dew_error **err);

#endif
