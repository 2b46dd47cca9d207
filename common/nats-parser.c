// SPDX-License-Identifier: MIT
/*
 * The NATS protocol parser: a resumable state machine fed whatever each read returned. An
 * operation found whole in one read is handed out in place; only one that straddles reads is
 * gathered in the parser's scratch buffer. Limits, errors and oddities follow nats-server
 * 2.9.10 byte for byte (docs/nats-compat.md), because a real nats-server must be able to
 * replace dew-bus and the other way round.
 */
#include "nats-proto.h"

#include <string.h>

#include "alloc.h"

enum {
	ST_NAME,    /* matching an operation name; need = bytes matched, frame.op = candidate */
	ST_BLANK,   /* the name must be followed by a blank */
	ST_SPC,	    /* skipping blanks before the arguments */
	ST_ARG,	    /* a line straddling reads, kept in scratch; need = saw a '\r' (has_cr) */
	ST_SKIP,    /* PING PONG +OK: everything up to the '\n' is ignored, as nats-server does */
	ST_PAYLOAD, /* gathering a payload in scratch; need = bytes left, its CRLF included */
};

enum op_kind {
	K_ARGS, /* a blank, then arguments */
	K_JSON, /* optional blanks, then the rest of the line (CONNECT, INFO) */
	K_BARE, /* no arguments */
};

#define SERVER (1u << DEW_NATS_SERVER_SIDE)
#define CLIENT (1u << DEW_NATS_CLIENT_SIDE)

/*
 * Which side accepts what is nats-server's choice, not the protocol documentation's: its
 * client connections also take INFO, +OK and -ERR, and reject MSG at its first byte.
 */
static const struct op_def {
	const char *name; /* upper case */
	unsigned char kind;
	unsigned char sides;
} op_defs[] = {
	[DEW_NATS_OP_INFO] = { "INFO", K_JSON, SERVER | CLIENT },
	[DEW_NATS_OP_CONNECT] = { "CONNECT", K_JSON, SERVER },
	[DEW_NATS_OP_PUB] = { "PUB", K_ARGS, SERVER },
	[DEW_NATS_OP_HPUB] = { "HPUB", K_ARGS, SERVER },
	[DEW_NATS_OP_SUB] = { "SUB", K_ARGS, SERVER },
	[DEW_NATS_OP_UNSUB] = { "UNSUB", K_ARGS, SERVER },
	[DEW_NATS_OP_MSG] = { "MSG", K_ARGS, CLIENT },
	[DEW_NATS_OP_HMSG] = { "HMSG", K_ARGS, CLIENT },
	[DEW_NATS_OP_PING] = { "PING", K_BARE, SERVER | CLIENT },
	[DEW_NATS_OP_PONG] = { "PONG", K_BARE, SERVER | CLIENT },
	[DEW_NATS_OP_OK] = { "+OK", K_BARE, SERVER | CLIENT },
	[DEW_NATS_OP_ERR] = { "-ERR", K_ARGS, SERVER | CLIENT },
};

/* One call of dew_nats_parse: the data and where we are in it. */
struct run {
	struct dew_nats_parser *p;
	const char *data;
	size_t len;
	size_t i;
	dew_nats_frame_fn cb;
	void *cbdata;
	int stop; /* what cb returned */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A new operation starts: forget the last frame. */
static void reset_frame(struct dew_nats_parser *p)
{
	memset(&p->frame, 0, sizeof p->frame);
	p->frame.max_msgs = -1;
	p->hdr_size = 0;
}

/* Set up an embedded parser for one side of one connection (nothing is allocated yet). */
void dew_nats_parser_init(struct dew_nats_parser *p, enum dew_nats_side side, size_t max_control_line,
			  size_t max_payload)
{
	memset(p, 0, sizeof *p);
	p->side = side;
	p->max_control_line = max_control_line ? max_control_line : DEW_NATS_MAX_CONTROL_LINE;
	p->max_payload = max_payload ? max_payload : DEW_NATS_MAX_PAYLOAD;
	dew_buf_init(&p->scratch);
	reset_frame(p);
	p->state = ST_NAME;
}

/* Release the scratch buffer; the parser then fails every call until initialised again. */
void dew_nats_parser_close(struct dew_nats_parser *p)
{
	dew_buf_close(&p->scratch);
	p->dead = true;
	p->state = DEW_NATS_EUNKNOWN_OP;
}

/*
 * Get ready for the next operation, then hand the finished frame to the callback. Nothing
 * touches the parser after the callback, which may close or free it when it stops parsing.
 */
static void emit(struct run *r)
{
	struct dew_nats_parser *p = r->p;

	p->state = ST_NAME;
	p->need = 0;
	p->in_payload = false;
	r->stop = r->cb(r->cbdata, &p->frame);
}

/*
 * Take one byte of an operation name. Names are matched case-insensitively against the ones
 * this side accepts, so an unknown operation fails at its first wrong byte, as in nats-server.
 */
static int match_name(struct dew_nats_parser *p, char c)
{
	size_t pos = p->need;
	const char *sofar = pos ? op_defs[p->frame.op].name : NULL;
	char u = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;

	if (pos == 0)
		reset_frame(p);
	/* nats-server's only check before CONNECT when auth is configured: "PING" fails at 'P'. */
	if (pos == 0 && p->auth_pending && u != 'C')
		return DEW_NATS_EAUTH;
	for (size_t op = 1; op < DEW_ARRAY_SIZE(op_defs); op++) {
		const struct op_def *d = &op_defs[op];
		if (!(d->sides & (1u << p->side)) || strlen(d->name) <= pos || d->name[pos] != u)
			continue;
		if (sofar && memcmp(d->name, sofar, pos) != 0)
			continue;
		p->frame.op = (enum dew_nats_op)op;
		p->need = pos + 1;
		if (d->name[pos + 1] == '\0') {
			p->need = 0;
			p->state = d->kind == K_BARE ? ST_SKIP : d->kind == K_ARGS ? ST_BLANK : ST_SPC;
		}
		return 0;
	}
	return DEW_NATS_EUNKNOWN_OP;
}

/*
 * nats-server's parseSize: 1 to 9 decimal digits, else -1 (no sign, no overflow possible).
 * The 9-digit cap means "PUB s 0000000001" is malformed although its value is 1.
 */
static int64_t parse_size(const struct dew_nats_str *s)
{
	int64_t v = 0;

	if (s->len == 0 || s->len > 9)
		return -1;
	for (size_t i = 0; i < s->len; i++) {
		if (s->p[i] < '0' || s->p[i] > '9')
			return -1;
		v = v * 10 + (s->p[i] - '0');
	}
	return v;
}

static bool is_separator(char c, bool cr_is_blank)
{
	return is_blank(c) || (cr_is_blank && (c == '\r' || c == '\n'));
}

/*
 * Split an argument line into at most max tokens at runs of blanks; returns how many there are,
 * or max + 1 when there are more. nats-server splits PUB and HPUB at spaces and tabs only, the
 * other operations at '\r' and '\n' too; this keeps its verdict on malformed lines.
 */
static size_t split_args(const char *s, size_t n, bool cr_is_blank, struct dew_nats_str *tok, size_t max)
{
	size_t count = 0;
	size_t i = 0;

	for (;;) {
		while (i < n && is_separator(s[i], cr_is_blank))
			i++;
		if (i == n)
			return count;
		if (count == max)
			return max + 1;
		size_t start = i;
		while (i < n && !is_separator(s[i], cr_is_blank))
			i++;
		tok[count++] = (struct dew_nats_str){ s + start, i - start };
	}
}

/* Check an announced header and total size in nats-server's order of checks. */
static int check_sizes(struct dew_nats_parser *p, int64_t hdr, int64_t total)
{
	if (hdr < 0 || total < 0 || hdr > total)
		return DEW_NATS_EARGS;
	if ((uint64_t)total > p->max_payload)
		return DEW_NATS_EPAYLOAD;
	p->hdr_size = (size_t)hdr;
	p->need = (size_t)total;
	return 0;
}

/* PUB subject [reply] size, HPUB subject [reply] hdr total. */
static int parse_pub(struct dew_nats_parser *p, const char *s, size_t n)
{
	struct dew_nats_str t[4] = { 0 }; /* zeroed: clang 14 -O2 once lost tokens of a partly set array */
	bool h = p->frame.op == DEW_NATS_OP_HPUB;
	size_t count = split_args(s, n, false, t, 4);
	size_t fixed = h ? 3 : 2; /* arguments without the reply */

	if (count != fixed && count != fixed + 1)
		return DEW_NATS_EARGS;
	p->frame.subject = t[0];
	if (count == fixed + 1)
		p->frame.reply = t[1];
	return check_sizes(p, h ? parse_size(&t[count - 2]) : 0, parse_size(&t[count - 1]));
}

/* MSG subject sid [reply] size, HMSG subject sid [reply] hdr total. */
static int parse_msg(struct dew_nats_parser *p, const char *s, size_t n)
{
	struct dew_nats_str t[5] = { 0 };
	bool h = p->frame.op == DEW_NATS_OP_HMSG;
	size_t count = split_args(s, n, true, t, 5);
	size_t fixed = h ? 4 : 3;

	if (count != fixed && count != fixed + 1)
		return DEW_NATS_EARGS;
	p->frame.subject = t[0];
	p->frame.sid = t[1];
	if (count == fixed + 1)
		p->frame.reply = t[2];
	return check_sizes(p, h ? parse_size(&t[count - 2]) : 0, parse_size(&t[count - 1]));
}

/* SUB subject [queue] sid, UNSUB sid [max]. */
static int parse_sub(struct dew_nats_parser *p, const char *s, size_t n)
{
	struct dew_nats_str t[3] = { 0 };
	size_t count = split_args(s, n, true, t, 3);

	if (p->frame.op == DEW_NATS_OP_UNSUB) {
		if (count != 1 && count != 2)
			return DEW_NATS_EARGS;
		p->frame.sid = t[0];
		/* A max that is not a number reads as -1, like nats-server (which then unsubscribes). */
		if (count == 2)
			p->frame.max_msgs = parse_size(&t[1]);
		return 0;
	}
	if (count != 2 && count != 3)
		return DEW_NATS_EARGS;
	p->frame.subject = t[0];
	if (count == 3)
		p->frame.queue = t[1];
	p->frame.sid = t[count - 1];
	return 0;
}

static bool is_space(char c)
{
	return is_blank(c) || c == '\r';
}

/* CONNECT/INFO: the JSON, trimmed; -ERR: the text inside the quotes. */
static int parse_text(struct dew_nats_parser *p, const char *s, size_t n)
{
	while (n && is_space(s[n - 1]))
		n--;
	if (p->frame.op == DEW_NATS_OP_ERR) {
		while (n && is_space(*s))
			s++, n--;
		if (n && *s == '\'')
			s++, n--;
		if (n && s[n - 1] == '\'')
			n--;
	} else if (n == 0) {
		/* nats-server fails to decode the empty JSON and closes without -ERR. */
		return DEW_NATS_EARGS;
	}
	p->frame.arg = (struct dew_nats_str){ s, n };
	return 0;
}

/* Parse a complete argument line (line end removed) into p->frame. */
static int parse_args(struct dew_nats_parser *p, const char *s, size_t n)
{
	switch (p->frame.op) {
	case DEW_NATS_OP_PUB:
	case DEW_NATS_OP_HPUB:
		return parse_pub(p, s, n);
	case DEW_NATS_OP_MSG:
	case DEW_NATS_OP_HMSG:
		return parse_msg(p, s, n);
	case DEW_NATS_OP_SUB:
	case DEW_NATS_OP_UNSUB:
		return parse_sub(p, s, n);
	default:
		return parse_text(p, s, n);
	}
}

static bool has_payload(enum dew_nats_op op)
{
	return op == DEW_NATS_OP_PUB || op == DEW_NATS_OP_HPUB || op == DEW_NATS_OP_MSG ||
	       op == DEW_NATS_OP_HMSG;
}

/* Point the frame's header and payload at the total bytes from base. */
static void set_body(struct dew_nats_parser *p, const char *base, size_t total)
{
	if (p->frame.op == DEW_NATS_OP_HPUB || p->frame.op == DEW_NATS_OP_HMSG)
		p->frame.hdr = (struct dew_nats_str){ base, p->hdr_size };
	else
		p->frame.hdr = (struct dew_nats_str){ NULL, 0 };
	p->frame.payload = (struct dew_nats_str){ base + p->hdr_size, total - p->hdr_size };
}

/* Take payload bytes (and check the CRLF after them) into scratch; emit when complete. */
static int gather_payload(struct run *r)
{
	struct dew_nats_parser *p = r->p;
	size_t avail = r->len - r->i;

	if (p->need > 2) {
		size_t n = avail < p->need - 2 ? avail : p->need - 2;
		/* Never reallocates: start_payload reserved room for the whole payload. */
		dew_buf_append(&p->scratch, r->data + r->i, n);
		r->i += n;
		p->need -= n;
		avail -= n;
	}
	/* nats-server rejects any byte but the CRLF right after the announced size. */
	while (avail && p->need) {
		if (r->data[r->i] != (p->need == 2 ? '\r' : '\n'))
			return DEW_NATS_EUNKNOWN_OP;
		r->i++;
		p->need--;
		avail--;
	}
	if (p->need == 0) {
		set_body(p, p->frame.hdr.p, p->frame.payload.len);
		emit(r);
	}
	return 0;
}

/*
 * The control line of a PUB/HPUB/MSG/HMSG is parsed; r->i is at its payload. A payload whole in
 * this read is handed out in place; else the line moves to scratch (unless there already) with
 * room for the whole payload, so its pointers stay put while the payload trickles in.
 */
static int start_payload(struct run *r, const char *line, size_t n, bool in_scratch)
{
	struct dew_nats_parser *p = r->p;
	size_t total = p->need;

	if (r->len - r->i >= total + 2) {
		const char *body = r->data + r->i;
		if (body[total] != '\r' || body[total + 1] != '\n')
			return DEW_NATS_EUNKNOWN_OP;
		r->i += total + 2;
		set_body(p, body, total);
		emit(r);
		return 0;
	}
	if (!in_scratch) {
		dew_buf_reset(&p->scratch);
		dew_buf_append(&p->scratch, line, n);
	}
	p->scratch.len = n; /* drop the '\r' a straddling line may have kept */
	p->scratch.data[n] = '\0';
	dew_buf_reserve(&p->scratch, total);
	/* Parse again from scratch, which the reservation may have moved: same verdict, new pointers. */
	parse_args(p, p->scratch.data, n);
	p->frame.hdr.p = p->scratch.data + n;
	p->frame.payload.len = total;
	p->need = total + 2;
	p->state = ST_PAYLOAD;
	p->in_payload = true;
	return gather_payload(r);
}

/*
 * Whether the line ending is cut from the n argument bytes at line. nats-server cuts the last
 * byte before the '\n' once it has seen a '\r' anywhere after the first argument byte (which its
 * state machine consumes apart), so "PUB s\r 1X\n" publishes "s\r" with size 1. A well-formed
 * line ("...\r\n") is cut the same either way; matching the quirk keeps malformed lines'
 * verdicts identical.
 */
static bool has_cr(const char *line, size_t n)
{
	return n > 1 && (line[n - 1] == '\r' || memchr(line + 1, '\r', n - 1));
}

/* A whole argument line of n bytes (its '\n' excluded) has arrived at line. */
static int finish_line(struct run *r, const char *line, size_t n, bool cr, bool in_scratch)
{
	struct dew_nats_parser *p = r->p;
	int err;

	if (cr)
		n--;
	if (n > p->max_control_line)
		return DEW_NATS_ECONTROL_LINE;
	err = parse_args(p, line, n);
	if (err)
		return err;
	if (has_payload(p->frame.op))
		return start_payload(r, line, n, in_scratch);
	if (p->frame.op == DEW_NATS_OP_CONNECT)
		p->auth_pending = false;
	emit(r);
	return 0;
}

/* Whether n argument bytes so far break max_control_line, counted as nats-server does. */
static bool over_limit(const struct dew_nats_parser *p, size_t n, bool cr)
{
	return n - cr > p->max_control_line;
}

/* The arguments start at r->i (the byte after the blanks, whatever it is: nats-server's way). */
static int begin_arg(struct run *r)
{
	struct dew_nats_parser *p = r->p;
	const char *start = r->data + r->i;
	size_t avail = r->len - r->i;
	const char *nl = memchr(start + 1, '\n', avail - 1);

	if (nl) {
		size_t n = (size_t)(nl - start);
		r->i = (size_t)(nl - r->data) + 1;
		return finish_line(r, start, n, has_cr(start, n), false);
	}
	if (over_limit(p, avail, has_cr(start, avail)))
		return DEW_NATS_ECONTROL_LINE;
	dew_buf_reset(&p->scratch);
	dew_buf_append(&p->scratch, start, avail);
	p->state = ST_ARG;
	p->need = has_cr(start, avail); /* in ST_ARG, need tells whether a '\r' was seen */
	r->i = r->len;
	return 0;
}

/* More of an argument line that straddles reads; what came before is in scratch. */
static int continue_arg(struct run *r)
{
	struct dew_nats_parser *p = r->p;
	const char *start = r->data + r->i;
	size_t avail = r->len - r->i;
	const char *nl = memchr(start, '\n', avail);
	size_t n = nl ? (size_t)(nl - start) : avail;
	bool cr = p->need || memchr(start, '\r', n);

	/* Checked before copying, so a client cannot make us buffer more than the limit. */
	if (over_limit(p, p->scratch.len + n, cr))
		return DEW_NATS_ECONTROL_LINE;
	dew_buf_append(&p->scratch, start, n);
	r->i += n;
	p->need = cr;
	if (!nl)
		return 0;
	r->i++;
	return finish_line(r, p->scratch.data, p->scratch.len, cr, true);
}

/* Ignore the rest of a PING, PONG or +OK line; emit at its '\n'. */
static int skip_line(struct run *r)
{
	const char *nl = memchr(r->data + r->i, '\n', r->len - r->i);

	if (!nl) {
		r->i = r->len;
		return 0;
	}
	r->i = (size_t)(nl - r->data) + 1;
	emit(r);
	return 0;
}

/* Advance by at least one byte from r->i. */
static int step(struct run *r)
{
	struct dew_nats_parser *p = r->p;
	char c = r->data[r->i];

	switch (p->state) {
	case ST_NAME:
		r->i++;
		return match_name(p, c);
	case ST_BLANK:
		if (!is_blank(c))
			return DEW_NATS_EUNKNOWN_OP;
		r->i++;
		p->state = ST_SPC;
		return 0;
	case ST_SPC:
		if (!is_blank(c))
			return begin_arg(r);
		r->i++;
		return 0;
	case ST_ARG:
		return continue_arg(r);
	case ST_SKIP:
		return skip_line(r);
	case ST_PAYLOAD:
		return gather_payload(r);
	}
	abort();
}

/* Feed one read's worth of bytes; see nats-proto.h for the contract. */
int dew_nats_parse(struct dew_nats_parser *p, const char *data, size_t len, dew_nats_frame_fn cb,
		   void *cbdata)
{
	struct run r = { .p = p, .data = data, .len = len, .cb = cb, .cbdata = cbdata };

	if (p->dead)
		return p->state;
	/* A callback that returned 0 may have closed the parser (not freed it). */
	while (r.i < r.len && r.stop == 0 && !p->dead) {
		int err = step(&r);
		if (err) {
			p->dead = true;
			p->state = err;
			return err;
		}
	}
	return r.stop;
}

/* Map a parse error to nats-server's -ERR text. */
const char *dew_nats_strerror(int err)
{
	switch (err) {
	case DEW_NATS_EUNKNOWN_OP:
		return "Unknown Protocol Operation";
	case DEW_NATS_ECONTROL_LINE:
		return "maximum control line exceeded";
	case DEW_NATS_EPAYLOAD:
		return "Maximum Payload Violation";
	case DEW_NATS_EAUTH:
		return "Authorization Violation";
	case DEW_NATS_EARGS:
		return "malformed protocol arguments (nats-server closes without -ERR)";
	default:
		return "unknown NATS parse error";
	}
}

/* Whether nats-server sends -ERR for this parse error before closing. */
bool dew_nats_error_has_reply(int err)
{
	return err == DEW_NATS_EUNKNOWN_OP || err == DEW_NATS_ECONTROL_LINE || err == DEW_NATS_EPAYLOAD ||
	       err == DEW_NATS_EAUTH;
}
