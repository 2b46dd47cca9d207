// SPDX-License-Identifier: MIT
/*
 * A streamed archive (see upload-stream.h): a queue of chunks under one mutex and condition,
 * filled by the feeder and drained by libarchive's read callback on the reader thread. The
 * feeder waits only when the reader is far behind: the HTTP core has no way to stop reading one
 * request's body, so that wait is the upload's backpressure (before, the same bytes were written
 * to a temporary file at that point, which also waits when the disk is slow).
 */
#include "upload-stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* A piece of the archive on its way to the reader. */
struct chunk {
	struct chunk *next;
	size_t len;
	char data[];
};

struct upload_stream {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct archive *a;
	upload_stream_read_fn *read;
	void *ctx;
	/* Under lock: */
	struct chunk *head, *tail;
	size_t queued;
	bool eof, abort, finished;
	int rc; /* the reader's result, with err: read by the feeder only after the join */
	struct dew_error *err;
	/* The feeder's chunk being filled, and the reader's chunk libarchive is reading. */
	struct chunk *fill;
	struct chunk *reading;
};

/* libarchive asks for more: the next chunk, 0 at the end, -1 when the upload is dropped. */
static la_ssize_t stream_read(struct archive *a, void *arg, const void **buf)
{
	struct upload_stream *s = arg;
	struct chunk *c;
	bool aborted;

	pthread_mutex_lock(&s->lock);
	free(s->reading); /* libarchive is done with the previous one */
	s->reading = NULL;
	while (!s->head && !s->eof && !s->abort)
		pthread_cond_wait(&s->cond, &s->lock);
	aborted = s->abort;
	c = aborted ? NULL : s->head;
	if (c) {
		s->head = c->next;
		if (!s->head)
			s->tail = NULL;
		s->queued -= c->len;
		s->reading = c;
		pthread_cond_broadcast(&s->cond); /* room for the feeder */
	}
	pthread_mutex_unlock(&s->lock);
	if (aborted) {
		archive_set_error(a, ECANCELED, "the upload was abandoned");
		return -1;
	}
	*buf = c ? c->data : NULL;
	return c ? (la_ssize_t)c->len : 0;
}

/* The reader thread: the whole archive, then a word to the feeder that it is done. */
static void *stream_main(void *arg)
{
	struct upload_stream *s = arg;
	struct dew_error *err = NULL;
	int rc;

	if (archive_read_open(s->a, s, NULL, stream_read, NULL) != ARCHIVE_OK) {
		rc = dew_error_set_code(&err, EINVAL, "read archive: %s", archive_error_string(s->a));
		archive_read_free(s->a);
	} else {
		rc = s->read(s->ctx, s->a, &err);
	}
	s->a = NULL;
	pthread_mutex_lock(&s->lock);
	s->rc = rc;
	s->err = err;
	s->finished = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Start the reader (see upload-stream.h). */
int upload_stream_start(struct archive *a, upload_stream_read_fn *read, void *ctx, struct upload_stream **out,
			struct dew_error **err)
{
	struct upload_stream *s = xzalloc(sizeof(*s));
	int r;

	s->a = a;
	s->read = read;
	s->ctx = ctx;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	r = pthread_create(&s->thread, NULL, stream_main, s);
	if (r != 0) {
		archive_read_free(a);
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return dew_error_set(err, r, "start the archive reader");
	}
	*out = s;
	return 0;
}

/* Wait for the reader and free the stream (see upload-stream.h). */
int upload_stream_join(struct upload_stream *s, struct dew_error **err)
{
	struct chunk *c;
	int rc;

	pthread_join(s->thread, NULL);
	while ((c = s->head)) {
		s->head = c->next;
		free(c);
	}
	free(s->fill);
	free(s->reading);
	rc = s->rc;
	if (rc < 0 && err && !*err)
		*err = steal_pointer(&s->err);
	dew_error_free(s->err);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return rc;
}

/* Give up (see upload-stream.h). */
void upload_stream_abort(struct upload_stream *s)
{
	pthread_mutex_lock(&s->lock);
	s->abort = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	upload_stream_join(s, NULL);
}

/* Queue the filled chunk (if any) and, with eof, the end; the reader's failure comes back. */
static int stream_push(struct upload_stream *s, bool eof, struct dew_error **err)
{
	struct chunk *c = steal_pointer(&s->fill);
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	while (c && s->queued >= UPLOAD_STREAM_MAX_QUEUED && !s->finished)
		pthread_cond_wait(&s->cond, &s->lock);
	if (c && !s->finished) {
		if (s->tail)
			s->tail->next = c;
		else
			s->head = c;
		s->tail = c;
		s->queued += c->len;
		c = NULL;
	}
	s->eof = s->eof || eof;
	pthread_cond_broadcast(&s->cond);
	if (s->finished && s->rc < 0) {
		/* The error object crosses threads under the lock, once: the reader is done with it. */
		rc = s->rc;
		if (err && !*err)
			*err = steal_pointer(&s->err);
	}
	pthread_mutex_unlock(&s->lock);
	free(c);
	return rc;
}

/* Feed bytes (see upload-stream.h). */
int upload_stream_feed(struct upload_stream *s, const char *p, size_t n, struct dew_error **err)
{
	while (n > 0) {
		if (!s->fill) {
			s->fill = xmalloc(sizeof(struct chunk) + UPLOAD_STREAM_CHUNK);
			s->fill->next = NULL;
			s->fill->len = 0;
		}
		size_t k = UPLOAD_STREAM_CHUNK - s->fill->len;
		if (k > n)
			k = n;
		memcpy(s->fill->data + s->fill->len, p, k);
		s->fill->len += k;
		p += k;
		n -= k;
		int r = s->fill->len == UPLOAD_STREAM_CHUNK ? stream_push(s, false, err) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

/* The end of the bytes (see upload-stream.h). */
int upload_stream_end(struct upload_stream *s, struct dew_error **err)
{
	return stream_push(s, true, err);
}
