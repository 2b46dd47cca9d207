/* SPDX-License-Identifier: MIT */
/*
 * A streaming multipart/form-data parser (RFC 7578 over RFC 2046) for request bodies too large
 * to hold: the body is fed in any split, each part's content is handed on as it arrives, and
 * only a delimiter's length of it is ever held back. Internal to the controller (upload.c).
 */
#ifndef DEW_CONTROLLER_MULTIPART_H
#define DEW_CONTROLLER_MULTIPART_H

#include <stddef.h>

#include "error.h"

enum {
	MULTIPART_MAX_BOUNDARY = 70,  /* RFC 2046 */
	MULTIPART_MAX_HEADERS = 8192, /* the header block of one part */
	MULTIPART_MAX_NAME = 255,     /* a part's name */
};

/*
 * What the parser calls, with ctx, for each part. Each returns 0, or a negative errno with *err
 * set, which kills the parse. name is the part's Content-Disposition name (borrowed for the
 * call); data arrives in pieces of any size (never empty) between part_begin and part_end.
 */
struct multipart_ops {
	int (*part_begin)(void *ctx, const char *name, struct dew_error **err);
	int (*part_data)(void *ctx, const char *data, size_t len, struct dew_error **err);
	int (*part_end)(void *ctx, struct dew_error **err);
};

struct multipart;

/*
 * A parser for a body of this Content-Type: multipart/form-data with a boundary of 1 to 70
 * characters (quoted or not); anything else is -EBADMSG. *out is freed with multipart_free.
 */
int multipart_new(const char *content_type, const struct multipart_ops *ops, void *ctx,
		  struct multipart **out, struct dew_error **err);
/*
 * Parse the next len bytes. Framing errors (a part without `form-data; name=`, headers over 8 KiB,
 * garbage after a delimiter) are -EBADMSG; a callback's error is returned as it is. After an
 * error the parser refuses further input. Bytes after the close delimiter are ignored.
 */
int multipart_feed(struct multipart *m, const char *data, size_t len, struct dew_error **err);
/* The body ended: 0 when the close delimiter was seen, -EBADMSG otherwise. */
int multipart_finish(struct multipart *m, struct dew_error **err);
/* NULL is fine. */
void multipart_free(struct multipart *m);

#endif
