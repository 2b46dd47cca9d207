// SPDX-License-Identifier: MIT
/*
 * The server-sent events reader of sse.h: a line buffer and an event buffer, fed piece by piece
 * (the WHATWG "event stream interpretation", reduced to data fields and comments).
 */
#include "sse.h"

#include <string.h>

void cli_sse_init(struct cli_sse *s, cli_sse_fn on_data, cli_sse_fn on_comment, void *arg)
{
	*s = (struct cli_sse){ .on_data = on_data, .on_comment = on_comment, .arg = arg };
}

void cli_sse_close(struct cli_sse *s)
{
	dew_buf_close(&s->line);
	dew_buf_close(&s->data);
}

/* One complete line (without its end). */
static void sse_line(struct cli_sse *s, const char *line, size_t len)
{
	if (len == 0) {
		if (s->has_data && s->on_data)
			s->on_data(s->data.len ? s->data.data : "", s->data.len, s->arg);
		dew_buf_reset(&s->data);
		s->has_data = false;
		return;
	}
	if (line[0] == ':') {
		if (s->on_comment)
			s->on_comment(line + 1, len - 1, s->arg);
		return;
	}
	const char *colon = memchr(line, ':', len);
	size_t name = colon ? (size_t)(colon - line) : len;
	if (name != 4 || memcmp(line, "data", 4) != 0)
		return; /* event, id, retry and unknown fields: not used */
	const char *value = colon ? colon + 1 : line + len;
	if (value < line + len && *value == ' ')
		value++;
	if (s->has_data)
		dew_buf_putc(&s->data, '\n');
	dew_buf_append(&s->data, value, (size_t)(line + len - value));
	s->has_data = true;
}

/* The end of a line was read: hand it out, or forget it when it was too long. */
static void sse_end_line(struct cli_sse *s)
{
	if (s->skipping) {
		s->skipping = false;
		s->dropped++;
	} else {
		sse_line(s, s->line.len ? s->line.data : "", s->line.len);
	}
	dew_buf_reset(&s->line);
}

void cli_sse_feed(struct cli_sse *s, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	if (s->after_cr && p < end && *p == '\n')
		p++; /* the LF of a CRLF split between two pieces */
	s->after_cr = false;
	while (p < end) {
		/* The piece is not NUL-terminated: scan by hand, never past end. */
		const char *q = p;
		while (q < end && *q != '\r' && *q != '\n')
			q++;
		size_t n = (size_t)(q - p);
		if (!s->skipping && s->line.len + n > CLI_SSE_LINE_MAX) {
			s->skipping = true;
			dew_buf_reset(&s->line);
		}
		if (!s->skipping)
			dew_buf_append(&s->line, p, n);
		if (q == end)
			break;
		sse_end_line(s);
		if (*q == '\r' && q + 1 == end)
			s->after_cr = true;
		else if (*q == '\r' && q[1] == '\n')
			q++;
		p = q + 1;
	}
}
