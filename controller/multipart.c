// SPDX-License-Identifier: MIT
/*
 * Streaming multipart/form-data (see multipart.h): a byte-driven state machine over the framing
 * of RFC 2046 section 5.1.1, with a delimiter matcher that holds back at most the delimiter's
 * length, so a part of any size passes through in constant memory.
 */
#include "multipart.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "alloc.h"
#include "buf.h"

enum {
	MAX_PADDING = 256, /* transport padding after a delimiter */
};

/* Where the parser stands in the body. */
enum mp_state {
	MP_PREAMBLE,  /* before the first delimiter: discarded */
	MP_DELIM_END, /* after "--boundary": "--", or padding then CRLF */
	MP_CLOSE,     /* after "--boundary-": the second '-' */
	MP_DELIM_LF,  /* after the CR that ends a delimiter line */
	MP_HEADERS,   /* a part's header block */
	MP_BODY,      /* a part's content */
	MP_EPILOGUE,  /* after the close delimiter: ignored */
	MP_DEAD,      /* after an error */
};

struct multipart {
	const struct multipart_ops *ops;
	void *ctx;
	enum mp_state state;
	char delim[4 + MULTIPART_MAX_BOUNDARY + 1]; /* "\r\n--" boundary */
	size_t dlen;
	size_t match;	/* bytes of delim matched: held back until known not to be content */
	size_t padding; /* transport padding after the current delimiter */
	struct dew_buf hdr;
};

/*
 * Find parameter key in the "; k=v; k2=\"v2\"" list s of a header value, case-insensitively,
 * and copy its value, unquoted, into out. Returns 1 when found, 0 when absent, -1 when the list
 * is malformed or the value does not fit in outsz.
 */
static int header_param(const char *s, const char *key, char *out, size_t outsz)
{
	int found = 0;

	for (;;) {
		s += strspn(s, " \t");
		if (!*s)
			return found;
		if (*s++ != ';')
			return -1;
		s += strspn(s, " \t");
		if (!*s)
			return found;
		const char *k = s;
		size_t kn = strcspn(s, "=; \t\"");
		s += kn;
		s += strspn(s, " \t");
		if (kn == 0 || *s++ != '=')
			return -1;
		s += strspn(s, " \t");
		bool want = !found && kn == strlen(key) && strncasecmp(k, key, kn) == 0;
		bool over = false;
		size_t n = 0;
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				if (want && n + 1 < outsz)
					out[n++] = *s;
				else
					over = over || want;
			}
			if (*s++ != '"')
				return -1;
		} else {
			size_t vn = strcspn(s, "; \t\"");
			if (vn == 0)
				return -1;
			over = want && vn >= outsz;
			if (want && !over)
				memcpy(out, s, n = vn);
			s += vn;
		}
		if (want) {
			if (over)
				return -1;
			out[n] = '\0';
			found = 1;
		}
	}
}

/* Whether b is a boundary RFC 2046 allows: 1 to 70 bchars, not ending in a space. */
static bool boundary_valid(const char *b)
{
	static const char bchars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=? ";
	size_t n = strlen(b);

	return n > 0 && n <= MULTIPART_MAX_BOUNDARY && b[n - 1] != ' ' && strspn(b, bchars) == n;
}

/* The boundary of a multipart/form-data Content-Type, into out. */
static int content_type_boundary(const char *ct, char out[MULTIPART_MAX_BOUNDARY + 1], struct dew_error **err)
{
	static const char type[] = "multipart/form-data";
	char b[MULTIPART_MAX_BOUNDARY + 2];
	int r;

	if (!ct || !*ct)
		return dew_error_set_code(err, EBADMSG, "Content-Type missing: expected multipart/form-data");
	ct += strspn(ct, " \t");
	size_t n = strcspn(ct, "; \t");
	if (n != sizeof(type) - 1 || strncasecmp(ct, type, n) != 0)
		return dew_error_set_code(err, EBADMSG, "Content-Type must be multipart/form-data");
	r = header_param(ct + n, "boundary", b, sizeof(b));
	if (r < 0)
		return dew_error_set_code(
			err, EBADMSG, "Content-Type: malformed parameters, or a boundary over %d characters",
			MULTIPART_MAX_BOUNDARY);
	if (r == 0)
		return dew_error_set_code(err, EBADMSG, "Content-Type: multipart boundary missing");
	if (!boundary_valid(b))
		return dew_error_set_code(err, EBADMSG, "Content-Type: invalid multipart boundary");
	memcpy(out, b, strlen(b) + 1);
	return 0;
}

/* Start a parser (see multipart.h). */
int multipart_new(const char *content_type, const struct multipart_ops *ops, void *ctx,
		  struct multipart **out, struct dew_error **err)
{
	char boundary[MULTIPART_MAX_BOUNDARY + 1];
	int r = content_type_boundary(content_type, boundary, err);

	if (r < 0)
		return r;
	struct multipart *m = xzalloc(sizeof(*m));
	m->ops = ops;
	m->ctx = ctx;
	m->dlen = (size_t)snprintf(m->delim, sizeof(m->delim), "\r\n--%s", boundary);
	/* The body starts as if after a CRLF, so a first line "--boundary" is a delimiter too. */
	m->match = 2;
	m->state = MP_PREAMBLE;
	dew_buf_init(&m->hdr);
	*out = m;
	return 0;
}

/* Free a parser. */
void multipart_free(struct multipart *m)
{
	if (!m)
		return;
	dew_buf_close(&m->hdr);
	free(m);
}

/* Find the Content-Disposition of a complete header block and start the part it names. */
static int part_begin(struct multipart *m, struct dew_error **err)
{
	static const char form_data[] = "form-data";
	const char *cd = NULL;
	char name[MULTIPART_MAX_NAME + 1];
	char *line = m->hdr.data;

	if (memchr(m->hdr.data, '\0', m->hdr.len))
		return dew_error_set_code(err, EBADMSG, "multipart: NUL byte in part headers");
	while (*line) {
		char *eol = strstr(line, "\r\n"); /* the block ends in CRLF */
		*eol = '\0';
		if (*line) {
			char *colon = strchr(line, ':');
			if (!colon || colon == line || strcspn(line, " \t") < (size_t)(colon - line))
				return dew_error_set_code(err, EBADMSG,
							  "multipart: malformed part header line");
			*colon = '\0';
			if (strcasecmp(line, "Content-Disposition") == 0) {
				if (cd)
					return dew_error_set_code(
						err, EBADMSG,
						"multipart: two Content-Disposition headers in one part");
				cd = colon + 1 + strspn(colon + 1, " \t");
			}
		}
		line = eol + 2;
	}
	if (!cd)
		return dew_error_set_code(err, EBADMSG, "multipart: a part without Content-Disposition");
	size_t n = strcspn(cd, "; \t");
	bool fd = n == sizeof(form_data) - 1 && strncasecmp(cd, form_data, n) == 0;
	if (!fd || header_param(cd + n, "name", name, sizeof(name)) <= 0)
		return dew_error_set_code(err, EBADMSG, "multipart: a part without `form-data; name=...`");
	return m->ops->part_begin(m->ctx, name, err);
}

/* Bytes before a delimiter: a part's content, or the preamble (dropped). */
static int deliver(struct multipart *m, const char *p, size_t n, struct dew_error **err)
{
	return m->state == MP_BODY && n > 0 ? m->ops->part_data(m->ctx, p, n, err) : 0;
}

/*
 * Scan n bytes of preamble or content for the delimiter "\r\n--boundary", delivering what is
 * certainly not delimiter. Only the matched prefix of the delimiter is held back (m->match). No
 * bchar is CR, so after a failed match the next match can only start at the current byte.
 * Returns the bytes used, with *found set when they end with a whole delimiter, or -errno.
 */
static ssize_t scan(struct multipart *m, const char *p, size_t n, bool *found, struct dew_error **err)
{
	size_t i = 0;
	int r;

	*found = false;
	while (i < n) {
		if (m->match == 0) {
			const char *cr = memchr(p + i, '\r', n - i);
			size_t stop = cr ? (size_t)(cr - p) : n;
			r = deliver(m, p + i, stop - i, err);
			if (r < 0)
				return r;
			i = stop;
			if (!cr)
				break;
			m->match = 1;
			i++;
		} else if (p[i] == m->delim[m->match]) {
			i++;
			if (++m->match == m->dlen) {
				m->match = 0;
				*found = true;
				return (ssize_t)i;
			}
		} else {
			r = deliver(m, m->delim, m->match, err);
			if (r < 0)
				return r;
			m->match = 0;
		}
	}
	return (ssize_t)i;
}

/* One byte of the framing between parts: the rest of a delimiter line, or a part's headers. */
static int frame_byte(struct multipart *m, char c, struct dew_error **err)
{
	switch (m->state) {
	case MP_DELIM_END:
		if (c == '-' && m->padding == 0)
			m->state = MP_CLOSE;
		else if (c == '\r')
			m->state = MP_DELIM_LF;
		else if ((c != ' ' && c != '\t') || ++m->padding > MAX_PADDING)
			return dew_error_set_code(err, EBADMSG,
						  "multipart: garbage after a boundary delimiter");
		return 0;
	case MP_CLOSE:
		if (c != '-')
			return dew_error_set_code(err, EBADMSG,
						  "multipart: garbage after a boundary delimiter");
		m->state = MP_EPILOGUE;
		return 0;
	case MP_DELIM_LF:
		if (c != '\n')
			return dew_error_set_code(err, EBADMSG,
						  "multipart: delimiter line not ended by CRLF");
		m->state = MP_HEADERS;
		dew_buf_reset(&m->hdr);
		return 0;
	default: /* MP_HEADERS */
		if (m->hdr.len >= MULTIPART_MAX_HEADERS)
			return dew_error_set_code(err, EBADMSG,
						  "multipart: part headers longer than %d bytes",
						  MULTIPART_MAX_HEADERS);
		dew_buf_putc(&m->hdr, c);
		size_t l = m->hdr.len;
		if ((l == 2 && memcmp(m->hdr.data, "\r\n", 2) == 0) ||
		    (l >= 4 && memcmp(m->hdr.data + l - 4, "\r\n\r\n", 4) == 0)) {
			int r = part_begin(m, err);
			if (r < 0)
				return r;
			m->state = MP_BODY;
		}
		return 0;
	}
}

/* Parse more of the body (see multipart.h). */
int multipart_feed(struct multipart *m, const char *data, size_t len, struct dew_error **err)
{
	int r = 0;

	if (m->state == MP_DEAD)
		return dew_error_set_code(err, EBADMSG, "multipart: the body was already refused");
	while (len > 0 && r == 0 && m->state != MP_EPILOGUE) {
		if (m->state == MP_PREAMBLE || m->state == MP_BODY) {
			bool found;
			ssize_t k = scan(m, data, len, &found, err);
			if (k < 0) {
				r = (int)k;
				break;
			}
			data += k;
			len -= (size_t)k;
			if (found && m->state == MP_BODY)
				r = m->ops->part_end(m->ctx, err);
			if (found) {
				m->state = MP_DELIM_END;
				m->padding = 0;
			}
		} else {
			r = frame_byte(m, *data, err);
			data++;
			len--;
		}
	}
	if (r < 0)
		m->state = MP_DEAD;
	return r;
}

/* The body ended (see multipart.h). */
int multipart_finish(struct multipart *m, struct dew_error **err)
{
	if (m->state == MP_EPILOGUE)
		return 0;
	if (m->state == MP_DEAD)
		return dew_error_set_code(err, EBADMSG, "multipart: the body was already refused");
	m->state = MP_DEAD;
	return dew_error_set_code(err, EBADMSG, "multipart: the body ends before the close delimiter");
}
