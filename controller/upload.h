/* SPDX-License-Identifier: MIT */
/*
 * App bits (DESIGN.md section 9): `POST /v1/resource_match` and `PUT /v1/apps/:name/bits`.
 *
 * resource_match: a JSON array [{sha256, size, fn, mode}] in, the entries the pool holds (same
 * hash and size) out, in the request's order.
 *
 * bits: a multipart/form-data body (RFC 7578) with two parts, in any order:
 *   `resources`    JSON [{sha256, size, fn, mode}]: files the client did not send because the
 *                  pool has them (each must be in the pool with that size, else 422 naming fn);
 *   `application`  a zip or tar (plain or gzip) of every other file (optional when every file
 *                  was matched).
 * The body is parsed as it streams in (never held whole in memory), bounded by the limits. A tar
 * archive (plain or gzip) is read as it arrives by a thread of the upload's own (upload-stream.h;
 * upload_feed waits when that reader is 8 MiB behind); a zip goes to a temporary file and is
 * read by upload_finish (blocking: run it on a worker thread). Entries are read one by one with
 * libarchive: absolute paths, `..`, entries that would be written through a symlink, symlinks
 * whose target leaves the app, hard links, device files, fifos and sockets are refused (each a
 * 422 naming the entry); every regular file is written once and named by the hash the
 * controller computes over the bytes it wrote, and enters the pool only when upload_finish
 * accepts the whole upload. The package is an uncompressed tar of every file (uploaded and
 * matched) sorted by path, with fixed owner, group and mtime, so the same files always give the
 * same package hash and an unchanged app does not restage; it is stored as a manifest under
 * that hash (package.h). File modes keep only the owner-execute bit's meaning (0644 or 0755);
 * directories are implied.
 */
#ifndef DEW_CONTROLLER_UPLOAD_H
#define DEW_CONTROLLER_UPLOAD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "blobs.h"
#include "error.h"

struct upload_limits {
	uint64_t max_total; /* bytes of the whole app (uploaded + matched) [1 GiB] */
	uint64_t max_file;  /* bytes of one file [512 MiB] */
	uint64_t max_files; /* files in the app [65536] */
};

/*
 * The HTTP status an upload error maps to is in (*err)->code as an errno:
 *   EBADMSG  400  malformed multipart framing, missing boundary, bad resources JSON
 *   EFBIG    413  a limit exceeded (the message names it and, where known, the entry)
 *   EINVAL   422  a refused entry or resource (the message names it)
 *   ENOENT   422  a resource the pool does not hold
 *   other    500
 */

/*
 * resource_match: body is the request's JSON (an array of at most 100000 entries, each checked:
 * sha256 64 lowercase hex, size >= 0, fn a relative path, mode an integer). Returns a new array
 * or NULL with *err (EBADMSG naming the entry).
 */
json_t *upload_resource_match(struct blobs *b, const json_t *body, struct dew_error **err);

struct upload;

/* Start an upload for a request with this Content-Type (must be multipart/form-data with a
 * boundary). */
int upload_new(struct blobs *b, const char *content_type, const struct upload_limits *lim,
	       struct upload **out, struct dew_error **err);
/* Feed the next len bytes of the body (any split); from one thread at a time. On error the upload
 * is dead: free it. */
int upload_feed(struct upload *u, const char *data, size_t len, struct dew_error **err);
/* The body ended: check the framing, build the package. Blocking. sha256 gets the package's
 * hash, *files the number of files in it. */
int upload_finish(struct upload *u, char sha256[65], uint64_t *files, struct dew_error **err);
/* Free (stopping its reader thread, removing temporary files); NULL is fine. */
void upload_free(struct upload *u);

#endif
