// SPDX-License-Identifier: MIT
/*
 * NATS subjects and frames: validation of subjects and queue names, wildcard matching, and
 * the writers of PUB/HPUB and MSG/HMSG in exactly the bytes nats clients and nats-server send.
 * '*' and '>' are wildcards only as a whole token: "foo.b*r" is a literal subject.
 */
#include "nats-proto.h"

#include <string.h>

/* Control bytes and whitespace, which would break a control line or hide in logs. */
static bool is_bad_byte(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

/* Cut the next '.'-separated token off the front of the subject; false when none is left. */
static bool next_token(const char **s, size_t *len, struct dew_nats_str *tok, bool *more)
{
	const char *dot;

	if (!*more)
		return false;
	dot = memchr(*s, '.', *len);
	tok->p = *s;
	tok->len = dot ? (size_t)(dot - *s) : *len;
	*more = dot != NULL;
	if (dot) {
		*len -= tok->len + 1;
		*s = dot + 1;
	}
	return true;
}

static bool token_is(const struct dew_nats_str *t, char c)
{
	return t->len == 1 && t->p[0] == c;
}

/* Validate s; *wild tells whether it held a wildcard token. */
static bool check_subject(const char *s, size_t len, bool *wild)
{
	struct dew_nats_str t;
	bool more = true;
	bool after_fwc = false;

	*wild = false;
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (is_bad_byte((unsigned char)s[i]))
			return false;
	while (next_token(&s, &len, &t, &more)) {
		if (t.len == 0 || after_fwc)
			return false;
		if (token_is(&t, '>'))
			after_fwc = true;
		if (token_is(&t, '*') || token_is(&t, '>'))
			*wild = true;
	}
	return true;
}

/* Check a subject that may hold wildcards, as for SUB. */
bool dew_nats_subject_valid(const char *s, size_t len)
{
	bool wild;
	return check_subject(s, len, &wild);
}

/* Check a subject fit to publish to: valid and without wildcard tokens. */
bool dew_nats_subject_literal(const char *s, size_t len)
{
	bool wild;
	return check_subject(s, len, &wild) && !wild;
}

/* Check a queue group name: not empty, no whitespace. */
bool dew_nats_queue_valid(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case ' ':
		case '\t':
		case '\r':
		case '\n':
		case '\f':
		case '\v':
			return false;
		}
	}
	return true;
}

/*
 * Match subject s against pattern p token by token. The subject's tokens are literal even when
 * they read "*" or ">", so a subject published as "foo.*" matches "foo.*" and ">" but not
 * "foo.bar" (nats-server does so). Empty tokens match nothing: nats-server delivers "foo..bar"
 * nowhere.
 */
bool dew_nats_subject_match(const char *p, size_t plen, const char *s, size_t slen)
{
	struct dew_nats_str pt, st;
	bool pmore = true, smore = true;

	if (plen == 0 || slen == 0)
		return false;
	while (next_token(&p, &plen, &pt, &pmore)) {
		if (pt.len == 0)
			return false;
		if (token_is(&pt, '>')) {
			/* The tail: one token at least, and '>' must be the pattern's last. */
			bool any = false;
			if (pmore)
				return false;
			while (next_token(&s, &slen, &st, &smore)) {
				if (st.len == 0)
					return false;
				any = true;
			}
			return any;
		}
		if (!next_token(&s, &slen, &st, &smore) || st.len == 0)
			return false;
		if (!token_is(&pt, '*') && (pt.len != st.len || memcmp(pt.p, st.p, pt.len) != 0))
			return false;
	}
	return !smore;
}

/* Append a decimal size without printf, as the writers run once per message. */
static void put_size(struct dew_buf *out, size_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	dew_buf_append(out, tmp + i, sizeof tmp - i);
}

static void put_arg(struct dew_buf *out, const char *s, size_t len)
{
	dew_buf_putc(out, ' ');
	dew_buf_append(out, s, len);
}

/* The common tail: "[hdr_len ]total\r\n" then the header block, the payload and "\r\n". */
static void put_sizes_and_body(struct dew_buf *out, const void *hdr, size_t hdr_len, const void *payload,
			       size_t len)
{
	dew_buf_putc(out, ' ');
	if (hdr) {
		put_size(out, hdr_len);
		dew_buf_putc(out, ' ');
	}
	put_size(out, hdr_len + len);
	dew_buf_append(out, "\r\n", 2);
	if (hdr)
		dew_buf_append(out, hdr, hdr_len);
	dew_buf_append(out, payload, len);
	dew_buf_append(out, "\r\n", 2);
}

/* Append PUB or HPUB as nats clients write it. */
void dew_nats_write_pub(struct dew_buf *out, const char *subject, const char *reply, const void *hdr,
			size_t hdr_len, const void *payload, size_t len)
{
	size_t slen = strlen(subject), rlen = reply ? strlen(reply) : 0;

	if (hdr_len == 0)
		hdr = NULL;
	dew_buf_reserve(out, slen + rlen + hdr_len + len + 64);
	dew_buf_append(out, hdr ? "HPUB" : "PUB", hdr ? 4 : 3);
	put_arg(out, subject, slen);
	if (rlen)
		put_arg(out, reply, rlen);
	put_sizes_and_body(out, hdr, hdr_len, payload, len);
}

/* Append MSG or HMSG as nats-server writes it. */
void dew_nats_write_msg(struct dew_buf *out, const char *subject, size_t subject_len, const char *sid,
			size_t sid_len, const char *reply, size_t reply_len, const void *hdr, size_t hdr_len,
			const void *payload, size_t len)
{
	if (hdr_len == 0)
		hdr = NULL;
	dew_buf_reserve(out, subject_len + sid_len + reply_len + hdr_len + len + 64);
	dew_buf_append(out, hdr ? "HMSG" : "MSG", hdr ? 4 : 3);
	put_arg(out, subject, subject_len);
	put_arg(out, sid, sid_len);
	if (reply && reply_len)
		put_arg(out, reply, reply_len);
	put_sizes_and_body(out, hdr, hdr_len, payload, len);
}
