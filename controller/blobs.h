/* SPDX-License-Identifier: MIT */
/*
 * The controller's blob store (DESIGN.md section 9): one directory holding
 *   pool/ab/cd/<sha256>     the resource pool: app files by content, shared across apps and users
 *   packages/<sha256>       app packages (a tar of one app's files), by content
 *   droplets/<sha256>       staged droplets, by content
 *   manifests/<sha256>      app packages as a list of pool files (package.h): named by the hash
 *                           of the tar they describe, which the controller computed by writing it
 *   tmp/                    uploads in progress (cleared by blobs_open)
 * Every blob is written to tmp/, fsynced and renamed into place, so a crash leaves either the
 * whole blob or none; a blob's name is the SHA-256 the controller computed itself over the bytes
 * it stored, never one a client claimed. Blocking; safe from several threads (each call works
 * on its own files; a batch belongs to one thread at a time).
 */
#ifndef DEW_CONTROLLER_BLOBS_H
#define DEW_CONTROLLER_BLOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct blobs;

enum blob_kind { BLOB_POOL, BLOB_PACKAGE, BLOB_DROPLET, BLOB_MANIFEST };

/* Open (creating) dir and its subdirectories; removes leftovers in tmp/. */
int blobs_open(const char *dir, struct blobs **out, struct dew_error **err);
void blobs_close(struct blobs *b);

/* The path a blob of kind with hash sha256 has (whether or not it exists); caller frees. NULL
 * when sha256 is not 64 lowercase hex digits, so no string from a client becomes a path. */
char *blobs_path(struct blobs *b, enum blob_kind kind, const char *sha256);
/* A blob of that hash and exactly size bytes exists (size UINT64_MAX: any size). */
bool blobs_has(struct blobs *b, enum blob_kind kind, const char *sha256, uint64_t size);

/* A new temporary file in tmp/ (O_RDWR | O_CLOEXEC, mode 0600): its fd, and its path in *path
 * (caller frees). Returns the fd or -errno. */
int blobs_tmp(struct blobs *b, char **path, struct dew_error **err);
/*
 * Store the temporary file tmp_path (written by the caller, still open as fd or closed) as a blob
 * of kind: hash its bytes (from the file itself), fsync, rename to its place (an existing blob of
 * that hash is kept and tmp_path removed). sha256 gets the hash, *size the length. The temporary
 * file is gone afterwards, on success and on failure.
 */
int blobs_commit(struct blobs *b, enum blob_kind kind, const char *tmp_path, char sha256[65], uint64_t *size,
		 struct dew_error **err);

/*
 * Store the temporary file tmp_path as the manifest named sha256 (the hash of the package tar it
 * describes, computed by the caller from the pool): fsync, rename (an existing one is kept), and
 * the directory fsynced. The temporary file is gone afterwards.
 */
int blobs_commit_manifest(struct blobs *b, const char *tmp_path, const char *sha256, struct dew_error **err);

/*
 * A batch of new pool blobs (an upload's files): each written and hashed in one pass as its
 * bytes arrive, none in the pool until blobs_batch_commit makes them all durable and renames
 * them into place, with one fsync per directory (or one syncfs for many files) rather than
 * several per file. One file is open at a time: _open, _write (any number), _close.
 */
struct blobs_batch;

struct blobs_batch *blobs_batch_new(struct blobs *b);
/* Free the batch, removing the temporary files of blobs it did not commit; NULL is fine. */
void blobs_batch_free(struct blobs_batch *bt);
/* Start the next file. Returns 0 or -errno. */
int blobs_batch_open(struct blobs_batch *bt, struct dew_error **err);
/* Write len bytes at off into the open file; gaps read as zeros (sparse files). */
int blobs_batch_write(struct blobs_batch *bt, const void *data, size_t len, uint64_t off,
		      struct dew_error **err);
/*
 * Finish the open file, extended with zeros to size when shorter: sha256 gets the hash of its
 * bytes, *stored their number. The hash is of what was written, computed on the way (or read
 * back from the file when the writes were not in order).
 */
int blobs_batch_close(struct blobs_batch *bt, uint64_t size, char sha256[65], uint64_t *stored,
		      struct dew_error **err);
/* Make every closed file durable and put it in the pool under its hash. */
int blobs_batch_commit(struct blobs_batch *bt, struct dew_error **err);

#endif
