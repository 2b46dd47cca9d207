/* SPDX-License-Identifier: MIT */
/*
 * A strict HTTP/1.x head parser for both sides of the proxy (no I/O, no allocation): the
 * request line or status line and the header fields, pointing into the caller's buffer. It
 * refuses what request smuggling is made of: bare CR or LF, obs-fold, whitespace before the
 * colon, control characters, non-token names, versions other than 1.0 and 1.1, and bounds the
 * head's size, the request line and the number of fields. Called again from the start when more
 * bytes arrive; errors are reported as soon as a complete line shows them.
 */
#ifndef ROUTER_HTTP1_H
#define ROUTER_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum h1_result {
	H1_INCOMPLETE = 0,	/* need more bytes */
	H1_BAD = -1,		/* malformed: 400 */
	H1_HEAD_TOO_LARGE = -2, /* head over max_head, or too many fields: 431 */
	H1_LINE_TOO_LONG = -3,	/* request line over max_line: 414 */
	H1_BAD_VERSION = -4,	/* HTTP/2.0, HTTP/1.2 …: 505 */
};

struct h1_field {
	const char *name;
	const char *value; /* optional whitespace trimmed */
	uint32_t name_len;
	uint32_t value_len;
};

struct h1_limits {
	size_t max_head;   /* start line + fields + CRLFs */
	size_t max_line;   /* request line (without CRLF) */
	size_t max_fields; /* <= capacity of the field array */
};

struct h1_head {
	const char *method, *target; /* requests */
	size_t method_len, target_len;
	int status;	    /* responses: 100..599 */
	const char *reason; /* responses: the reason phrase (may be empty) */
	size_t reason_len;
	int minor;		 /* 0 or 1 */
	struct h1_field *fields; /* the caller's array */
	size_t n_fields;
	size_t skipped;	 /* empty lines before the request line */
	const char *why; /* on error: a static reason for logs */
};

/*
 * Parse a request head at buf. h->fields must point at lim->max_fields entries. Returns the
 * head's length (CRLF CRLF included, > 0), H1_INCOMPLETE, or a negative enum h1_result with
 * h->why set.
 */
int h1_parse_request(const char *buf, size_t len, const struct h1_limits *lim, struct h1_head *h);
/* The same for a response head (status line "HTTP/1.x NNN reason"). */
int h1_parse_response(const char *buf, size_t len, const struct h1_limits *lim, struct h1_head *h);

/* Case-insensitive comparison of a field name with a lowercase literal. */
bool h1_name_is(const struct h1_field *f, const char *lower, size_t len);
#define H1_NAME_IS(f, lit) h1_name_is((f), (lit), sizeof(lit) - 1)

/* True when the comma list value (len bytes) holds token (lowercase), case-insensitively. */
bool h1_list_has(const char *value, size_t len, const char *token);

#endif
