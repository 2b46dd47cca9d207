// SPDX-License-Identifier: MIT
/*
 * The strict HTTP/1.x head parser (http1.h). Character classes are tables; each line must end
 * in CRLF and may hold no other CR or LF, so a proxy behind or in front of us cannot read the
 * same bytes as a different message.
 */
#include "http1.h"

#include <string.h>

/* RFC 9110 tchar. */
static const unsigned char h1_tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1,	    ['&'] = 1,	       ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,	    ['^'] = 1,	       ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

/* Field value octets: HTAB, SP, VCHAR, obs-text. */
static const unsigned char h1_vchar[256] = {
	['\t'] = 1,
	[' ' ... '~'] = 1,
	[0x80 ... 0xff] = 1,
};

/* Request target octets: VCHAR only (no space, no control, no obs-text). */
static const unsigned char h1_target_char[256] = {
	['!' ... '~'] = 1,
};

static int h1_fail(struct h1_head *h, int code, const char *why)
{
	h->why = why;
	return code;
}

/*
 * The next line from *pos: its start and length without CRLF. 1 when complete, 0 when no LF
 * yet, H1_BAD for a bare LF or a CR anywhere but before the LF.
 */
static int h1_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *line_len,
		   struct h1_head *h)
{
	const char *start = buf + *pos;
	const char *lf = memchr(start, '\n', len - *pos);
	const char *end = lf ? lf : buf + len;
	const char *cr = memchr(start, '\r', (size_t)(end - start));
	if (cr && (!lf || cr != lf - 1))
		return cr + 1 < buf + len ? h1_fail(h, H1_BAD, "bare CR") : 0;
	if (!lf)
		return 0;
	if (lf == start || lf[-1] != '\r')
		return h1_fail(h, H1_BAD, "bare LF");
	*line = start;
	*line_len = (size_t)(lf - 1 - start);
	*pos = (size_t)(lf + 1 - buf);
	return 1;
}

/* "HTTP/1.0" or "HTTP/1.1" at p (8 bytes). */
static int h1_version(const char *p, size_t len, struct h1_head *h)
{
	if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' ||
	    p[7] > '9')
		return h1_fail(h, H1_BAD, "malformed HTTP version");
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return h1_fail(h, H1_BAD_VERSION, "unsupported HTTP version");
	h->minor = p[7] - '0';
	return 0;
}

static int h1_request_line(const char *p, size_t len, struct h1_head *h)
{
	size_t i = 0;
	while (i < len && h1_tchar[(unsigned char)p[i]])
		i++;
	if (i == 0 || i > 32 || i == len || p[i] != ' ')
		return h1_fail(h, H1_BAD, "malformed method");
	h->method = p;
	h->method_len = i++;
	size_t t = i;
	while (i < len && h1_target_char[(unsigned char)p[i]])
		i++;
	if (i == t || i == len || p[i] != ' ')
		return h1_fail(h, H1_BAD, "malformed request target");
	h->target = p + t;
	h->target_len = i - t;
	return h1_version(p + i + 1, len - i - 1, h);
}

static int h1_status_line(const char *p, size_t len, struct h1_head *h)
{
	if (len < 12 || p[8] != ' ' || (len > 12 && p[12] != ' '))
		return h1_fail(h, H1_BAD, "malformed status line");
	int r = h1_version(p, 8, h);
	if (r < 0)
		return r;
	int status = 0;
	for (size_t i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return h1_fail(h, H1_BAD, "malformed status code");
		status = status * 10 + (p[i] - '0');
	}
	if (status < 100 || status > 599)
		return h1_fail(h, H1_BAD, "status code out of range");
	for (size_t i = 13; i < len; i++)
		if (!h1_vchar[(unsigned char)p[i]])
			return h1_fail(h, H1_BAD, "control character in reason phrase");
	h->status = status;
	h->reason = len > 12 ? p + 13 : p + 12;
	h->reason_len = len > 12 ? len - 13 : 0;
	return 0;
}

static int h1_field(const char *p, size_t len, struct h1_head *h, const struct h1_limits *lim)
{
	if (p[0] == ' ' || p[0] == '\t')
		return h1_fail(h, H1_BAD, "obsolete line folding");
	size_t i = 0;
	while (i < len && h1_tchar[(unsigned char)p[i]])
		i++;
	if (i == 0 || i == len || p[i] != ':')
		return h1_fail(h, H1_BAD, "malformed header field name");
	size_t v = i + 1, e = len;
	while (v < e && (p[v] == ' ' || p[v] == '\t'))
		v++;
	while (e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	for (size_t k = v; k < e; k++)
		if (!h1_vchar[(unsigned char)p[k]])
			return h1_fail(h, H1_BAD, "control character in header field value");
	if (h->n_fields == lim->max_fields)
		return h1_fail(h, H1_HEAD_TOO_LARGE, "too many header fields");
	h->fields[h->n_fields++] = (struct h1_field){
		.name = p, .name_len = (uint32_t)i, .value = p + v, .value_len = (uint32_t)(e - v)
	};
	return 0;
}

static int h1_parse(const char *buf, size_t len, const struct h1_limits *lim, struct h1_head *h, bool request)
{
	size_t pos = 0, n;
	const char *line;
	h->n_fields = 0;
	h->skipped = 0;
	h->why = NULL;
	/* A few empty lines before a request are tolerated (RFC 9112 section 2.2). */
	while (request && len - pos >= 2 && buf[pos] == '\r' && buf[pos + 1] == '\n' && h->skipped < 4) {
		pos += 2;
		h->skipped++;
	}
	int r = h1_line(buf, len, &pos, &line, &n, h);
	if (r <= 0) {
		/* A CR last is the line's end arriving, not a byte of the line: the verdict must not
		 * depend on where the stream was cut. */
		size_t have = len - pos - (len > pos && buf[len - 1] == '\r');
		if (r == 0 && request && have > lim->max_line)
			return h1_fail(h, H1_LINE_TOO_LONG, "request line too long");
		if (r == 0 && len > lim->max_head)
			return h1_fail(h, H1_HEAD_TOO_LARGE, "head too large");
		return r;
	}
	if (request && n > lim->max_line)
		return h1_fail(h, H1_LINE_TOO_LONG, "request line too long");
	r = request ? h1_request_line(line, n, h) : h1_status_line(line, n, h);
	if (r < 0)
		return r;
	for (;;) {
		r = h1_line(buf, len, &pos, &line, &n, h);
		if (r < 0)
			return r;
		if (pos > lim->max_head || (r == 0 && len > lim->max_head))
			return h1_fail(h, H1_HEAD_TOO_LARGE, "head too large");
		if (r == 0)
			return H1_INCOMPLETE;
		if (n == 0)
			return (int)pos;
		r = h1_field(line, n, h, lim);
		if (r < 0)
			return r;
	}
}

int h1_parse_request(const char *buf, size_t len, const struct h1_limits *lim, struct h1_head *h)
{
	return h1_parse(buf, len, lim, h, true);
}

int h1_parse_response(const char *buf, size_t len, const struct h1_limits *lim, struct h1_head *h)
{
	return h1_parse(buf, len, lim, h, false);
}

static char h1_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool h1_name_is(const struct h1_field *f, const char *lower, size_t len)
{
	if (f->name_len != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (h1_lower(f->name[i]) != lower[i])
			return false;
	return true;
}

bool h1_list_has(const char *value, size_t len, const char *token)
{
	size_t tlen = strlen(token), i = 0;
	while (i < len) {
		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		size_t s = i;
		while (i < len && value[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t'))
			e--;
		if (e - s == tlen) {
			size_t k = 0;
			while (k < tlen && h1_lower(value[s + k]) == token[k])
				k++;
			if (k == tlen)
				return true;
		}
	}
	return false;
}
