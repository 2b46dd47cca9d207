/* SPDX-License-Identifier: MIT */
/*
 * Sending a file (or a byte range of one) as an HTTP response from the loop: small ranges in
 * one answer, larger ones streamed one chunk per loop iteration, pausing while the client's
 * socket has more than DEW_HTTP_FILE_MAX_QUEUED bytes it has not taken yet, so a slow client
 * never makes the server hold a file in memory. Used by the DEA's file server and the
 * controller's blob downloads.
 */
#ifndef DEW_HTTP_FILE_H
#define DEW_HTTP_FILE_H

#include <stdint.h>
#include <uv.h>

#include "http.h"

enum {
	DEW_HTTP_FILE_CHUNK = 64 * 1024,    /* read and written per loop iteration */
	DEW_HTTP_FILE_MAX_QUEUED = 4 << 20, /* queued bytes above which sending pauses */
	DEW_HTTP_FILE_WAIT_MS = 2,	    /* how long one pause lasts before looking again */
};

/*
 * Answer req with bytes [start, end) of the regular file fd (owned: closed on every path) with
 * status 200 and content_type (NULL: application/octet-stream). Ranges up to
 * DEW_HTTP_FILE_CHUNK go out in one answer with a Content-Length; a HEAD request gets the head
 * only; larger ranges are streamed (chunked) from loop, which must be the server's loop. The
 * sender takes req->data and req->on_abort for itself: a client that goes away ends it. A file
 * that shrinks while being sent ends the body early (a read error too, logged). A read error of
 * a small range answers 500. Extra headers must be added before the call.
 */
void dew_http_send_file(struct dew_http_req *req, uv_loop_t *loop, int fd, uint64_t start, uint64_t end,
			const char *content_type);

#endif
