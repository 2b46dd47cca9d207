/* SPDX-License-Identifier: MIT */
/*
 * The controller's blob store (DESIGN.md section 9): one directory holding
 *   pool/ab/cd/<sha256>     the resource pool: app files by content, shared across apps and users
 *   packages/<sha256>       app packages (a tar of one app's files), by content
 *   droplets/<sha256>       staged droplets, by content
 *   tmp/                    uploads in progress (cleared by blobs_open)
 * Every blob is written to tmp/, fsynced and renamed into place, so a crash leaves either the
 * whole blob or none; a blob's name is the SHA-256 the controller computed itself over the bytes
 * it stored, never one a client claimed. Blocking; safe from several threads (each call works
 * on its own files).
 */
#ifndef DEW_CONTROLLER_BLOBS_H
#define DEW_CONTROLLER_BLOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct blobs;

enum blob_kind { BLOB_POOL, BLOB_PACKAGE, BLOB_DROPLET };

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

#endif
