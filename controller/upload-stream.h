/* SPDX-License-Identifier: MIT */
/*
 * An archive read while it arrives (internal to upload.c): the bytes fed on one thread go through
 * a bounded queue to a reader thread of the stream's own, where libarchive pulls them, so a tar
 * is taken apart as the body streams in rather than stored whole first.
 */
#ifndef DEW_CONTROLLER_UPLOAD_STREAM_H
#define DEW_CONTROLLER_UPLOAD_STREAM_H

#include <archive.h>
#include <stddef.h>

#include "error.h"

enum {
	UPLOAD_STREAM_CHUNK = 256 << 10,    /* the pieces handed to the reader */
	UPLOAD_STREAM_MAX_QUEUED = 8 << 20, /* bytes the reader may fall behind before a feed waits */
};

struct upload_stream;

/*
 * What the reader thread runs once a has been opened on the stream: read it to the end (or an
 * error), then free it. Returns 0 or a negative errno with *err set.
 */
typedef int upload_stream_read_fn(void *ctx, struct archive *a, struct dew_error **err);

/*
 * Start the reader thread on a (configured for its formats, not opened; taken over), calling
 * read(ctx, a, err) there. Returns 0 or -errno with *err set.
 */
int upload_stream_start(struct archive *a, upload_stream_read_fn *read, void *ctx, struct upload_stream **out,
			struct dew_error **err);
/*
 * Feed the next n bytes. While the reader is more than UPLOAD_STREAM_MAX_QUEUED behind this
 * waits for it. Bytes after the reader finished are dropped (as libarchive ignores what follows
 * an archive in a file). When the reader has failed, its error is returned and the stream is
 * done: only upload_stream_join may follow.
 */
int upload_stream_feed(struct upload_stream *s, const char *p, size_t n, struct dew_error **err);
/* The bytes ended (the reader sees the end of its input). Same errors as upload_stream_feed. */
int upload_stream_end(struct upload_stream *s, struct dew_error **err);
/* Wait for the reader, free the stream, and return the reader's result (its error into *err). */
int upload_stream_join(struct upload_stream *s, struct dew_error **err);
/* Make the reader give up (its read fails with ECANCELED), wait for it, free the stream. */
void upload_stream_abort(struct upload_stream *s);

#endif
