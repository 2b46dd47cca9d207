/* SPDX-License-Identifier: MIT */
/*
 * Server-sent events (the live `dew logs` stream) read from a body that arrives in pieces of any
 * size: a piece may end in the middle of a line, or between the CR and LF of one. Lines end in
 * LF, CRLF or CR; `data:` fields are joined with LF and handed out when a blank line ends the
 * event; `:` comments are handed out as they come; other fields are ignored. A line longer than
 * CLI_SSE_LINE_MAX is dropped (counted in `dropped`), so a broken server cannot grow memory.
 */
#ifndef DEW_CLI_SSE_H
#define DEW_CLI_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum { CLI_SSE_LINE_MAX = 1 << 20 };

/* An event's data (without the final LF), or a comment's text after the colon. */
typedef void (*cli_sse_fn)(const char *text, size_t len, void *arg);

struct cli_sse {
	cli_sse_fn on_data, on_comment; /* either may be NULL */
	void *arg;
	struct dew_buf line; /* the line being read */
	struct dew_buf data; /* the event being read */
	bool has_data;	     /* a data field was seen in it */
	bool after_cr;	     /* the last byte was a CR: a following LF belongs to it */
	bool skipping;	     /* the line went over the limit: ignored up to its end */
	uint64_t dropped;    /* lines dropped for their length */
};

void cli_sse_init(struct cli_sse *s, cli_sse_fn on_data, cli_sse_fn on_comment, void *arg);
/* Read a piece of the stream; the callbacks run for every event and comment it completes. */
void cli_sse_feed(struct cli_sse *s, const char *data, size_t len);
/* Free the buffers; an event not ended by a blank line is discarded (as the standard says). */
void cli_sse_close(struct cli_sse *s);

#endif
