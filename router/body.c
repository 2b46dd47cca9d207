// SPDX-License-Identifier: MIT
/*
 * Body framing (body.h). The chunked grammar of RFC 9112 section 7.1, strictly: hex sizes
 * without sign or space (at most 16 digits), extensions bounded in length, CRLF everywhere.
 */
#include "body.h"

#include <string.h>

#include "parse.h"

enum chunk_state {
	CK_SIZE,    /* hex digits */
	CK_EXT,	    /* after the size: ";ext" up to CR */
	CK_SIZE_LF, /* CR seen after the size line */
	CK_DATA,    /* remaining bytes of data */
	CK_DATA_CR, /* CRLF after data */
	CK_DATA_LF,
	CK_TRAILER, /* start of a trailer line (or the final CRLF) */
	CK_TRAILER_LINE,
	CK_TRAILER_LF,
	CK_END_LF, /* CR of the final empty line seen */
};

void body_init(struct body *b, enum body_kind kind, uint64_t length)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->remaining = length;
	b->done = kind == BODY_NONE || (kind == BODY_LENGTH && length == 0);
}

/* One byte of the chunk framing outside data; 0 or -1. */
static int body_chunk_byte(struct body *b, char c)
{
	int v;
	switch (b->state) {
	case CK_SIZE:
		if ((v = dew_hex_digit(c)) >= 0) {
			if (++b->digits > 16)
				return -1;
			b->remaining = b->remaining << 4 | (uint64_t)v;
			return 0;
		}
		if (b->digits == 0)
			return -1;
		if (c == '\r') {
			b->state = CK_SIZE_LF;
			return 0;
		}
		if (c != ';' && c != ' ' && c != '\t')
			return -1;
		b->state = CK_EXT;
		b->line = b->digits;
		return 0;
	case CK_EXT:
		if (c == '\r')
			b->state = CK_SIZE_LF;
		else if (c == '\n' || ++b->line > BODY_MAX_CHUNK_LINE)
			return -1;
		return 0;
	case CK_SIZE_LF:
		if (c != '\n')
			return -1;
		b->digits = 0;
		b->line = 0;
		b->state = b->remaining ? CK_DATA : CK_TRAILER;
		return 0;
	case CK_DATA_CR:
		if (c != '\r')
			return -1;
		b->state = CK_DATA_LF;
		return 0;
	case CK_DATA_LF:
		if (c != '\n')
			return -1;
		b->state = CK_SIZE;
		return 0;
	case CK_TRAILER:
		if (c == '\r') {
			b->state = CK_END_LF;
			return 0;
		}
		if (c == '\n' || c == ' ' || c == '\t')
			return -1;
		b->state = CK_TRAILER_LINE;
		return ++b->line > BODY_MAX_TRAILERS ? -1 : 0;
	case CK_TRAILER_LINE:
		if (c == '\r')
			b->state = CK_TRAILER_LF;
		else if (c == '\n' || ++b->line > BODY_MAX_TRAILERS)
			return -1;
		return 0;
	case CK_TRAILER_LF:
		if (c != '\n')
			return -1;
		b->state = CK_TRAILER;
		return 0;
	case CK_END_LF:
		if (c != '\n')
			return -1;
		b->done = true;
		return 0;
	}
	return -1;
}

static ssize_t body_chunked(struct body *b, const char *p, size_t len)
{
	size_t i = 0;
	while (i < len && !b->done) {
		if (b->state == CK_DATA) {
			size_t n = len - i;
			if (n > b->remaining)
				n = (size_t)b->remaining;
			i += n;
			b->remaining -= n;
			if (b->remaining == 0)
				b->state = CK_DATA_CR;
			continue;
		}
		if (body_chunk_byte(b, p[i++]) < 0)
			return -1;
	}
	return (ssize_t)i;
}

ssize_t body_feed(struct body *b, const char *p, size_t len)
{
	if (b->done)
		return 0;
	switch (b->kind) {
	case BODY_NONE:
		return 0;
	case BODY_LENGTH: {
		size_t n = len < b->remaining ? len : (size_t)b->remaining;
		b->remaining -= n;
		b->done = b->remaining == 0;
		return (ssize_t)n;
	}
	case BODY_CHUNKED:
		return body_chunked(b, p, len);
	case BODY_CLOSE:
		return (ssize_t)len;
	}
	return -1;
}
