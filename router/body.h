/* SPDX-License-Identifier: MIT */
/*
 * Message body framing for a proxy that passes bodies through untouched: it tells how many of
 * the bytes that follow a head belong to the body and when the body ends, for Content-Length,
 * chunked (chunk sizes, extensions and trailers validated on the way) and close-delimited bodies.
 * No allocation; the bytes are never copied here.
 */
#ifndef ROUTER_BODY_H
#define ROUTER_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum body_kind {
	BODY_NONE,    /* no body: done at once */
	BODY_LENGTH,  /* Content-Length */
	BODY_CHUNKED, /* Transfer-Encoding: chunked */
	BODY_CLOSE,   /* until the connection closes (responses only) */
};

enum {
	BODY_MAX_CHUNK_LINE = 4096, /* chunk size line with extensions */
	BODY_MAX_TRAILERS = 16384,  /* trailer section */
};

struct body {
	enum body_kind kind;
	uint64_t remaining; /* LENGTH: bytes left; CHUNKED: bytes left in this chunk's data */
	int state;	    /* CHUNKED: where in the chunk grammar */
	unsigned digits;    /* hex digits of the size being read */
	size_t line;	    /* bytes of the current size or trailer line, or of all trailers */
	bool done;
};

void body_init(struct body *b, enum body_kind kind, uint64_t length);

/*
 * Account for len bytes at p: returns how many belong to the body (the rest is the next
 * message), or -1 when a chunked body is malformed (bad size, missing CRLF, oversized line).
 * b->done is set once the body is complete. BODY_CLOSE takes everything.
 */
ssize_t body_feed(struct body *b, const char *p, size_t len);

#endif
