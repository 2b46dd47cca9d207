// SPDX-License-Identifier: MIT
/*
 * Unit tests of the NATS parser (common/nats-parser.c): every operation, a corpus fed whole,
 * split at every byte and one byte at a time, zero-copy, every error nats-server 2.9.10
 * raises (docs/nats-compat.md) and that a failed parser stays failed.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "nats-proto.h"
#include "tap.h"

static const char *const op_names[] = {
	[DEW_NATS_OP_INFO] = "INFO", [DEW_NATS_OP_CONNECT] = "CONNECT", [DEW_NATS_OP_PUB] = "PUB",
	[DEW_NATS_OP_HPUB] = "HPUB", [DEW_NATS_OP_SUB] = "SUB",		[DEW_NATS_OP_UNSUB] = "UNSUB",
	[DEW_NATS_OP_MSG] = "MSG",   [DEW_NATS_OP_HMSG] = "HMSG",	[DEW_NATS_OP_PING] = "PING",
	[DEW_NATS_OP_PONG] = "PONG", [DEW_NATS_OP_OK] = "+OK",		[DEW_NATS_OP_ERR] = "-ERR",
};

/* What the callback saw, and where the bytes it was given lie. */
struct rec {
	struct dew_buf out; /* one line per frame */
	const struct dew_nats_parser *p;
	const char *chunk; /* the data of the current dew_nats_parse call */
	size_t chunk_len;
	size_t chunk_off;     /* its offset in the whole stream */
	const size_t *starts; /* stream offset where frame j starts (optional) */
	size_t nframes;
	int misplaced; /* frames not pointing where they should */
	int stop_at;   /* return 7 from this frame (1-based), 0: never */
};

static void dump_str(struct dew_buf *b, const char *name, struct dew_nats_str s)
{
	if (!s.p && !s.len)
		return;
	dew_buf_printf(b, " %s=", name);
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '\r')
			dew_buf_puts(b, "\\r");
		else if (c == '\n')
			dew_buf_puts(b, "\\n");
		else if (c < ' ' || c >= 0x7f || c == '\\')
			dew_buf_printf(b, "\\x%02x", c);
		else
			dew_buf_putc(b, (char)c);
	}
}

static void dump_frame(struct dew_buf *b, const struct dew_nats_frame *f)
{
	dew_buf_puts(b, f->op > 0 && f->op <= DEW_NATS_OP_ERR ? op_names[f->op] : "?");
	dump_str(b, "subject", f->subject);
	dump_str(b, "sid", f->sid);
	dump_str(b, "reply", f->reply);
	dump_str(b, "queue", f->queue);
	if (f->op == DEW_NATS_OP_UNSUB)
		dew_buf_printf(b, " max=%lld", (long long)f->max_msgs);
	dump_str(b, "arg", f->arg);
	dump_str(b, "hdr", f->hdr);
	dump_str(b, "payload", f->payload);
	dew_buf_putc(b, '\n');
}

static bool inside(struct dew_nats_str s, const char *base, size_t len)
{
	if (!s.p)
		return true;
	return (uintptr_t)s.p >= (uintptr_t)base && (uintptr_t)(s.p + s.len) <= (uintptr_t)(base + len);
}

static bool frame_inside(const struct dew_nats_frame *f, const char *base, size_t len)
{
	const struct dew_nats_str fields[] = { f->subject, f->reply, f->queue,	f->sid,
					       f->arg,	   f->hdr,   f->payload };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(fields); i++)
		if (!inside(fields[i], base, len))
			return false;
	return true;
}

/* Each field points into this call's data or into scratch; a frame that began in this call, into the data. */
static int record(void *data, const struct dew_nats_frame *f)
{
	struct rec *r = data;
	size_t j = r->nframes++;
	bool began_here = r->starts && r->starts[j] >= r->chunk_off;
	const struct dew_nats_str fields[] = { f->subject, f->reply, f->queue,	f->sid,
					       f->arg,	   f->hdr,   f->payload };

	dump_frame(&r->out, f);
	if (began_here && !frame_inside(f, r->chunk, r->chunk_len))
		r->misplaced++;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(fields); i++)
		if (!inside(fields[i], r->chunk, r->chunk_len) &&
		    !inside(fields[i], r->p->scratch.data, r->p->scratch.len))
			r->misplaced++;
	return r->stop_at && (int)r->nframes == r->stop_at ? 7 : 0;
}

/* Feed stream cut at the given offsets, each piece in its own exact-size allocation (for ASan). */
static int feed(struct dew_nats_parser *p, struct rec *r, const char *stream, size_t len, const size_t *cuts,
		size_t ncuts)
{
	size_t off = 0;
	int rc = 0;

	r->p = p;
	for (size_t c = 0; c <= ncuts && rc == 0; c++) {
		size_t end = c < ncuts ? cuts[c] : len;
		char *piece = xmalloc(end - off + 1);
		memcpy(piece, stream + off, end - off);
		r->chunk = piece;
		r->chunk_len = end - off;
		r->chunk_off = off;
		rc = dew_nats_parse(p, piece, end - off, record, r);
		free(piece);
		off = end;
	}
	if (rc)
		dew_buf_printf(&r->out, "rc=%d\n", rc);
	return rc;
}

/* Parse s whole with a fresh parser; returns the dump. Caller frees. */
static char *parse_whole(enum dew_nats_side side, size_t mcl, size_t maxpay, const char *s, size_t len,
			 int *rc)
{
	struct dew_nats_parser p;
	struct rec r = { .out = DEW_BUF_INIT };

	dew_nats_parser_init(&p, side, mcl, maxpay);
	*rc = feed(&p, &r, s, len, NULL, 0);
	dew_nats_parser_close(&p);
	return dew_buf_steal(&r.out);
}

struct corpus_frame {
	const char *bytes;
	const char *want;
};

static const struct corpus_frame server_corpus[] = {
	{ "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n",
	  "CONNECT arg={\"verbose\":false,\"pedantic\":false,\"headers\":true}" },
	{ "PUB foo 5\r\nhello\r\n", "PUB subject=foo payload=hello" },
	{ "PUB foo.bar _INBOX.abc.1 0\r\n\r\n", "PUB subject=foo.bar reply=_INBOX.abc.1 payload=" },
	{ "pub\tcrlf.inside \t 8\r\nab\r\n\r\ncd\r\n", "PUB subject=crlf.inside payload=ab\\r\\n\\r\\ncd" },
	{ "HPUB foo.bar reply.x 20 25\r\nNATS/1.0\r\nX-A: 1\r\n\r\nhello\r\n",
	  "HPUB subject=foo.bar reply=reply.x hdr=NATS/1.0\\r\\nX-A: 1\\r\\n\\r\\n payload=hello" },
	{ "HPUB h 12 12\r\nNATS/1.0\r\n\r\n\r\n", "HPUB subject=h hdr=NATS/1.0\\r\\n\\r\\n payload=" },
	{ "SUB foo.* 1\r\n", "SUB subject=foo.* sid=1" },
	{ "SUB foo.> workers 22\r\n", "SUB subject=foo.> sid=22 queue=workers" },
	{ "UNSUB 22 5\r\n", "UNSUB sid=22 max=5" },
	{ "UNSUB 1\r\n", "UNSUB sid=1 max=-1" },
	{ "PING\r\n", "PING" },
	{ "PONG\r\n", "PONG" },
	{ "sUb  a.b.c   q.1\t 7  \r\n", "SUB subject=a.b.c sid=7 queue=q.1" },
	{ "PUB x.y r 2\r\n\r\n\r\n", "PUB subject=x.y reply=r payload=\\r\\n" },
	{ "connect\t{}\n", "CONNECT arg={}" },
	{ "PING\n", "PING" },
};

static const struct corpus_frame client_corpus[] = {
	{ "INFO {\"server_id\":\"x\",\"max_payload\":1048576} \r\n",
	  "INFO arg={\"server_id\":\"x\",\"max_payload\":1048576}" },
	{ "MSG foo.bar 9 5\r\nhello\r\n", "MSG subject=foo.bar sid=9 payload=hello" },
	{ "MSG foo.bar 9 _INBOX.1 0\r\n\r\n", "MSG subject=foo.bar sid=9 reply=_INBOX.1 payload=" },
	{ "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
	  "HMSG subject=_INBOX.x sid=1 hdr=NATS/1.0 503\\r\\n\\r\\n payload=" },
	{ "HMSG foo 1 rep 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n",
	  "HMSG subject=foo sid=1 reply=rep hdr=NATS/1.0\\r\\nA: b\\r\\n\\r\\n payload=hi" },
	{ "+OK\r\n", "+OK" },
	{ "-ERR 'Invalid Subject'\r\n", "-ERR arg=Invalid Subject" },
	{ "PING\r\n", "PING" },
	{ "msg\tx\t\t7\t3\r\na\r\n\r\n", "MSG subject=x sid=7 payload=a\\r\\n" },
	{ "pong\r\n", "PONG" },
};

/* Build the stream, the expected dump and each frame's start offset. */
static void build(const struct corpus_frame *c, size_t n, struct dew_buf *stream, struct dew_buf *want,
		  size_t *starts)
{
	for (size_t i = 0; i < n; i++) {
		starts[i] = stream->len;
		dew_buf_puts(stream, c[i].bytes);
		dew_buf_printf(want, "%s\n", c[i].want);
	}
}

static void test_corpus(const char *name, enum dew_nats_side side, const struct corpus_frame *c, size_t n)
{
	struct dew_buf stream = DEW_BUF_INIT, want = DEW_BUF_INIT;
	size_t starts[32];
	int rc;

	build(c, n, &stream, &want, starts);
	for (size_t i = 0; i < n; i++) {
		char *got = parse_whole(side, 0, 0, c[i].bytes, strlen(c[i].bytes), &rc);
		char *exp = xasprintf("%s\n", c[i].want);
		tap_is_str(got, exp, "%s frame %zu parsed whole", name, i);
		free(got);
		free(exp);
	}

	/* Whole pipeline: every frame points into the input and nothing is allocated. */
	struct dew_nats_parser p;
	struct rec r = { .out = DEW_BUF_INIT, .starts = starts };
	dew_nats_parser_init(&p, side, 0, 0);
	rc = feed(&p, &r, stream.data, stream.len, NULL, 0);
	tap_is_int(rc, 0, "%s pipeline of %zu ops in one buffer", name, n);
	tap_is_str(r.out.data, want.data, "%s pipeline gives every frame in order", name);
	tap_is_int(r.misplaced, 0, "%s pipeline frames point into the input (zero-copy)", name);
	tap_ok(p.scratch.data == NULL, "%s pipeline allocates nothing", name);
	dew_nats_parser_close(&p);
	dew_buf_close(&r.out);

	/* Split in two at every byte boundary. */
	int bad = 0, misplaced = 0;
	size_t first_bad = 0;
	for (size_t k = 1; k < stream.len; k++) {
		struct rec rs = { .out = DEW_BUF_INIT, .starts = starts };
		dew_nats_parser_init(&p, side, 0, 0);
		rc = feed(&p, &rs, stream.data, stream.len, &k, 1);
		if (rc || strcmp(rs.out.data ? rs.out.data : "", want.data) != 0) {
			if (!bad++)
				first_bad = k;
		}
		misplaced += rs.misplaced;
		dew_nats_parser_close(&p);
		dew_buf_close(&rs.out);
	}
	if (!tap_is_int(bad, 0, "%s split at each of %zu boundaries gives identical frames", name,
			stream.len - 1))
		tap_diag("first bad split at byte %zu", first_bad);
	tap_is_int(misplaced, 0, "%s split: unsplit ops point into their read, split ones into scratch",
		   name);

	/* One byte at a time. */
	size_t *cuts = xcalloc(stream.len, sizeof *cuts);
	for (size_t k = 1; k < stream.len; k++)
		cuts[k - 1] = k;
	struct rec rb = { .out = DEW_BUF_INIT, .starts = starts };
	dew_nats_parser_init(&p, side, 0, 0);
	rc = feed(&p, &rb, stream.data, stream.len, cuts, stream.len - 1);
	tap_is_int(rc, 0, "%s fed one byte at a time", name);
	tap_is_str(rb.out.data, want.data, "%s one byte at a time gives identical frames", name);
	tap_is_int(rb.misplaced, 0, "%s one byte at a time: frames point into scratch or the read", name);
	dew_nats_parser_close(&p);
	dew_buf_close(&rb.out);
	free(cuts);
	dew_buf_close(&stream);
	dew_buf_close(&want);
}

/* A large payload straddling reads lands in scratch, which then keeps its size. */
static void test_scratch_reuse(void)
{
	struct dew_buf s = DEW_BUF_INIT;
	struct dew_nats_parser p;
	struct rec r = { .out = DEW_BUF_INIT };
	size_t cut;

	dew_buf_puts(&s, "PUB big 100000\r\n");
	for (int i = 0; i < 10000; i++)
		dew_buf_puts(&s, "0123456789");
	dew_buf_puts(&s, "\r\n");
	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 0, 0);
	cut = 5000;
	tap_is_int(feed(&p, &r, s.data, s.len, &cut, 1), 0, "100 kB payload split in two");
	tap_has_str(r.out.data, "PUB subject=big payload=0123456789", "big payload delivered");
	size_t cap = p.scratch.cap;
	char *data = p.scratch.data;
	tap_ok(cap >= 100000, "scratch grew to the straddling op (%zu)", cap);

	/* Smaller straddling ops reuse it: no reallocation, no shrinking. */
	const char *small = "PUB a 3\r\nxyz\r\nSUB a 1\r\n";
	size_t cuts[] = { 4, 11, 18 };
	dew_buf_reset(&r.out);
	tap_is_int(feed(&p, &r, small, strlen(small), cuts, 3), 0, "small split ops after a big one");
	tap_is_str(r.out.data, "PUB subject=a payload=xyz\nSUB subject=a sid=1\n", "small split ops parsed");
	tap_ok(p.scratch.data == data && p.scratch.cap == cap, "scratch reused at its high-water mark");
	dew_nats_parser_close(&p);
	dew_buf_close(&r.out);
	dew_buf_close(&s);
}

struct err_case {
	enum dew_nats_side side;
	size_t mcl, maxpay;
	const char *in;
	int want_rc;
	const char *want_frames; /* dumped frames before the error */
};

static const struct err_case err_cases[] = {
	/* Unknown or misplaced operations: -ERR 'Unknown Protocol Operation'. */
	{ DEW_NATS_SERVER_SIDE, 0, 0, "FOO\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "\x01\xff\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "\r\nPING\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, " PING\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PI\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "+O\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "UNSUB\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUBX foo 1\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "SUB foo 1\r\nPING\r\nXXX\r\n", DEW_NATS_EUNKNOWN_OP,
	  "SUB subject=foo sid=1\nPING\n" },
	/* The payload must be followed by CRLF. */
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo 3\r\nabcd\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo 5\r\nabc\r\nPING\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo 3\r\nabcPING\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo 3\r\nabc\nPING\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo 3\r\nabc\r", 0, "" },
	/* Side restrictions. */
	{ DEW_NATS_SERVER_SIDE, 0, 0, "MSG foo 1 0\r\n\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "HMSG foo 1 0 0\r\n\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_CLIENT_SIDE, 0, 0, "PUB foo 0\r\n\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_CLIENT_SIDE, 0, 0, "HPUB foo 0 0\r\n\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_CLIENT_SIDE, 0, 0, "CONNECT {}\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_CLIENT_SIDE, 0, 0, "SUB foo 1\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	{ DEW_NATS_CLIENT_SIDE, 0, 0, "UNSUB 1\r\n", DEW_NATS_EUNKNOWN_OP, "" },
	/* Malformed arguments: nats-server closes without -ERR. */
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo bar\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB \r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB a b c 1\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo -1\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo +1\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo 0000000001\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo\r2\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "SUB foo\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "SUB a b c d\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "UNSUB \r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "UNSUB 1 2 3\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "HPUB foo 10 5\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "HPUB foo 5\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "HPUB foo x 5\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "HPUB foo 1 x\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "CONNECT\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_CLIENT_SIDE, 0, 0, "MSG foo 1\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_CLIENT_SIDE, 0, 0, "MSG foo 1 x\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_CLIENT_SIDE, 0, 0, "HMSG foo 1 3 2\r\n", DEW_NATS_EARGS, "" },
	/* Sizes over max_payload fail before any payload byte. */
	{ DEW_NATS_SERVER_SIDE, 0, 16, "PUB foo 17\r\n", DEW_NATS_EPAYLOAD, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 16, "HPUB foo 12 17\r\n", DEW_NATS_EPAYLOAD, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 16, "HPUB foo 18 17\r\n", DEW_NATS_EARGS, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 0, "PUB foo 999999999\r\n", DEW_NATS_EPAYLOAD, "" },
	{ DEW_NATS_CLIENT_SIDE, 0, 16, "MSG foo 1 17\r\n", DEW_NATS_EPAYLOAD, "" },
	{ DEW_NATS_SERVER_SIDE, 0, 16, "PUB foo 16\r\n0123456789abcdef\r\n", 0,
	  "PUB subject=foo payload=0123456789abcdef\n" },
	/* Control line limit: arguments only, final '\r' not counted. */
	{ DEW_NATS_SERVER_SIDE, 8, 0, "PUB abcd 0\r\n\r\nPUB abcdefg 0\r\n", DEW_NATS_ECONTROL_LINE,
	  "PUB subject=abcd payload=\n" },
	{ DEW_NATS_SERVER_SIDE, 8, 0, "PUB         abcdef 0\r\n\r\n", 0, "PUB subject=abcdef payload=\n" },
	{ DEW_NATS_SERVER_SIDE, 8, 0, "PUB abcdef 0", 0, "" },
	{ DEW_NATS_SERVER_SIDE, 8, 0, "PUB abcdef 0\r", 0, "" },
	{ DEW_NATS_SERVER_SIDE, 8, 0, "PUB abcdef 0 ", DEW_NATS_ECONTROL_LINE, "" },
	{ DEW_NATS_SERVER_SIDE, 8, 0, "CONNECT {\"a\":123}", DEW_NATS_ECONTROL_LINE, "" },
	{ DEW_NATS_SERVER_SIDE, 8, 0, "PINGxxxxxxxxxxxxxxxxxxxx\r\n", 0, "PING\n" },
};

static void test_errors(void)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(err_cases); i++) {
		const struct err_case *e = &err_cases[i];
		struct dew_nats_parser p;
		struct rec r = { .out = DEW_BUF_INIT };
		dew_nats_parser_init(&p, e->side, e->mcl, e->maxpay);
		int rc = feed(&p, &r, e->in, strlen(e->in), NULL, 0);
		char *want = e->want_rc ? xasprintf("%src=%d\n", e->want_frames, e->want_rc)
					: xstrdup(e->want_frames);
		tap_is_str(r.out.data ? r.out.data : "", want, "%s side: case %zu -> %d",
			   e->side == DEW_NATS_SERVER_SIDE ? "server" : "client", i, e->want_rc);
		if (rc < 0) {
			/* Dead: every later call fails the same way and calls nothing. */
			struct rec after = { .out = DEW_BUF_INIT, .p = &p };
			int again = dew_nats_parse(&p, "PING\r\n", 6, record, &after);
			tap_ok(again == rc && after.nframes == 0, "  and the parser stays dead (%d)", again);
			dew_buf_close(&after.out);
		}
		dew_nats_parser_close(&p);

		/* Fed one byte at a time, the verdict and the frames before it are the same. */
		struct rec rb = { .out = DEW_BUF_INIT };
		size_t len = strlen(e->in);
		size_t *cuts = xcalloc(len + 1, sizeof *cuts);
		for (size_t k = 1; k < len; k++)
			cuts[k - 1] = k;
		dew_nats_parser_init(&p, e->side, e->mcl, e->maxpay);
		feed(&p, &rb, e->in, len, cuts, len ? len - 1 : 0);
		tap_is_str(rb.out.data ? rb.out.data : "", want, "  and the same fed one byte at a time");
		free(cuts);
		free(want);
		dew_nats_parser_close(&p);
		dew_buf_close(&rb.out);
		dew_buf_close(&r.out);
	}
}

/* The limit is hit while the line is still open, whatever the read sizes. */
static void test_control_line_streaming(void)
{
	struct dew_nats_parser p;
	struct rec r = { .out = DEW_BUF_INIT, .p = &p };
	char chunk[100];
	int rc = 0, calls = 0;

	memset(chunk, 'a', sizeof chunk);
	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 512, 0);
	rc = dew_nats_parse(&p, "PUB ", 4, record, &r);
	while (rc == 0 && calls < 100) {
		calls++;
		rc = dew_nats_parse(&p, chunk, sizeof chunk, record, &r);
	}
	tap_is_int(rc, DEW_NATS_ECONTROL_LINE, "endless PUB line without CRLF fails");
	tap_is_int(calls, 6, "as soon as it passes 512 bytes (6th read of 100)");
	tap_ok(p.scratch.cap <= 1024, "having buffered no more than the limit (cap %zu)", p.scratch.cap);
	tap_is_str(dew_nats_strerror(rc), "maximum control line exceeded", "with nats-server's text");
	dew_nats_parser_close(&p);

	/* 512 argument bytes and a '\r' pass; the '\n' completes a line exactly at the limit. */
	struct dew_buf line = DEW_BUF_INIT;
	dew_buf_puts(&line, "SUB ");
	for (int i = 0; i < 510; i++)
		dew_buf_putc(&line, 'a');
	dew_buf_puts(&line, " 1\r");
	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 512, 0);
	rc = dew_nats_parse(&p, line.data, line.len, record, &r);
	tap_is_int(rc, 0, "512 argument bytes and a '\\r' are within the limit");
	rc = dew_nats_parse(&p, "\n", 1, record, &r);
	tap_is_int(rc, 0, "and the '\\n' completes the line");
	tap_is_int((int)r.nframes, 1, "one SUB frame");
	dew_nats_parser_close(&p);
	dew_buf_close(&line);
	dew_buf_close(&r.out);
}

struct one {
	const char *in;
	enum dew_nats_side side;
	const char *want;
};

/* Case, blanks, line ends and nats-server's leniencies. */
static const struct one leniencies[] = {
	{ "pUb FoO 1\r\nx\r\n", DEW_NATS_SERVER_SIDE, "PUB subject=FoO payload=x\n" },
	{ "ping\r\nPiNg\r\npong\r\n", DEW_NATS_SERVER_SIDE, "PING\nPING\nPONG\n" },
	{ "CoNnEcT {}\r\n", DEW_NATS_SERVER_SIDE, "CONNECT arg={}\n" },
	{ "hpub a 0 0\r\n\r\nUnSuB 3\r\n", DEW_NATS_SERVER_SIDE,
	  "HPUB subject=a hdr= payload=\nUNSUB sid=3 max=-1\n" },
	{ "SUB\tfoo\t\tq\t1\r\n", DEW_NATS_SERVER_SIDE, "SUB subject=foo sid=1 queue=q\n" },
	{ "PUB\t\tfoo\t \t1\r\nx\r\n", DEW_NATS_SERVER_SIDE, "PUB subject=foo payload=x\n" },
	{ "SUB foo 1\nPUB foo 2\nhi\r\nPING\n", DEW_NATS_SERVER_SIDE,
	  "SUB subject=foo sid=1\nPUB subject=foo payload=hi\nPING\n" },
	{ "PINGxyz foo\r\nPONG junk\r\n+OKjunk\r\n", DEW_NATS_SERVER_SIDE, "PING\nPONG\n+OK\n" },
	{ "CONNECT{}\r\nCONNECT\n{\"a\":1}\n", DEW_NATS_SERVER_SIDE,
	  "CONNECT arg={}\nCONNECT arg=\\n{\"a\":1}\n" },
	{ "SUB \nfoo 1\r\n", DEW_NATS_SERVER_SIDE, "SUB subject=foo sid=1\n" },
	{ "UNSUB 1 x\r\nUNSUB 2 0\r\nUNSUB 3 0000000002\r\n", DEW_NATS_SERVER_SIDE,
	  "UNSUB sid=1 max=-1\nUNSUB sid=2 max=0\nUNSUB sid=3 max=-1\n" },
	{ "PUB foo\r 1\r\nx\r\n", DEW_NATS_SERVER_SIDE, "PUB subject=foo\\r payload=x\n" },
	/* nats-server's sticky '\r': once seen, the byte before '\n' is cut, whatever it is. */
	{ "PUB s\r 1X\nx\r\n", DEW_NATS_SERVER_SIDE, "PUB subject=s\\r payload=x\n" },
	{ "CONNECT\r{}\n", DEW_NATS_SERVER_SIDE, "CONNECT arg=\\r{}\n" },
	{ "CONNECT {}\r\r\n", DEW_NATS_SERVER_SIDE, "CONNECT arg={}\n" },
	{ "PUB foo 000000001\r\nx\r\n", DEW_NATS_SERVER_SIDE, "PUB subject=foo payload=x\n" },
	{ "INFO {}\r\n+OK\r\n-ERR 'x'\r\n", DEW_NATS_SERVER_SIDE, "INFO arg={}\n+OK\n-ERR arg=x\n" },
	{ "-err\t 'Stale Connection'  \r\n", DEW_NATS_CLIENT_SIDE, "-ERR arg=Stale Connection\n" },
	{ "-ERR unquoted\r\n+ok\r\ninfo{}\r\n", DEW_NATS_CLIENT_SIDE,
	  "-ERR arg=unquoted\n+OK\nINFO arg={}\n" },
	{ "hmsg a 1 0 1\r\nx\r\n", DEW_NATS_CLIENT_SIDE, "HMSG subject=a sid=1 hdr= payload=x\n" },
};

static void test_leniencies(void)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(leniencies); i++) {
		int rc;
		char *got = parse_whole(leniencies[i].side, 0, 0, leniencies[i].in, strlen(leniencies[i].in),
					&rc);
		tap_is_str(got, leniencies[i].want, "%s side accepts leniency %zu",
			   leniencies[i].side == DEW_NATS_SERVER_SIDE ? "server" : "client", i);
		free(got);
	}
}

static void test_auth_pending(void)
{
	struct dew_nats_parser p;
	struct rec r = { .out = DEW_BUF_INIT };
	const char *ok = "connect {\"user\":\"u\"}\r\nPING\r\n";

	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 0, 0);
	p.auth_pending = true;
	tap_is_int(feed(&p, &r, ok, strlen(ok), NULL, 0), 0, "auth pending: CONNECT first passes");
	tap_is_str(r.out.data, "CONNECT arg={\"user\":\"u\"}\nPING\n",
		   "and clears auth_pending for what follows");
	tap_ok(!p.auth_pending, "auth_pending cleared by the CONNECT frame");
	dew_nats_parser_close(&p);
	size_t before = r.nframes;

	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 0, 0);
	p.auth_pending = true;
	tap_is_int(dew_nats_parse(&p, "P", 1, record, &r), DEW_NATS_EAUTH, "auth pending: 'P' fails at once");
	tap_is_str(dew_nats_strerror(DEW_NATS_EAUTH), "Authorization Violation", "with nats-server's text");
	dew_nats_parser_close(&p);

	/* Only a CONNECT may come first; other errors inside a CONNECT stay what they are. */
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{ "SUB foo 1\r\n", DEW_NATS_EAUTH },
		{ "XYZ\r\n", DEW_NATS_EAUTH },
		{ "+OK\r\n", DEW_NATS_EAUTH },
		{ "PUB foo\r\n", DEW_NATS_EAUTH },
		{ "CXYZ\r\n", DEW_NATS_EUNKNOWN_OP },
		{ "CONNECT {\"user\":\"uuuuuuuuuuuuu\"}\r\n", DEW_NATS_ECONTROL_LINE },
		{ "CONNECT\r\n", DEW_NATS_EARGS },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(cases); i++) {
		dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 16, 0);
		p.auth_pending = true;
		tap_is_int(dew_nats_parse(&p, cases[i].in, strlen(cases[i].in), record, &r), cases[i].want,
			   "auth pending: %zu gives %d", i, cases[i].want);
		dew_nats_parser_close(&p);
	}
	tap_ok(r.nframes == before, "and no frame is handed out by a failing op");
	dew_buf_close(&r.out);
}

static void test_nul_byte(void)
{
	struct dew_nats_parser p;
	struct rec r = { .out = DEW_BUF_INIT, .p = &p };

	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 0, 0);
	tap_is_int(dew_nats_parse(&p, "\0PING\r\n", 7, record, &r), DEW_NATS_EUNKNOWN_OP,
		   "a NUL byte is an unknown op");
	dew_nats_parser_close(&p);
	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 0, 0);
	tap_is_int(dew_nats_parse(&p, "PUB a\0b 1\r\n\0\r\n", 14, record, &r), 0,
		   "NUL bytes in a subject and payload");
	tap_ok(r.nframes == 1 && r.out.len == strlen("PUB subject=a\\x00b payload=\\x00\n"), "are kept");
	dew_nats_parser_close(&p);
	dew_buf_close(&r.out);
}

static void test_stop(void)
{
	struct dew_nats_parser p;
	struct rec r = { .out = DEW_BUF_INIT, .stop_at = 2 };
	const char *in = "PING\r\nSUB a 1\r\nPONG\r\n";

	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 0, 0);
	r.p = &p;
	tap_is_int(dew_nats_parse(&p, in, strlen(in), record, &r), 7,
		   "callback's non-zero value is returned");
	tap_is_int((int)r.nframes, 2, "and parsing stopped right after that frame");
	r.stop_at = 0;
	tap_is_int(dew_nats_parse(&p, "PONG\r\n", 6, record, &r), 0, "the parser is not dead after a stop");
	tap_is_int((int)r.nframes, 3, "and parses on");
	dew_nats_parser_close(&p);
	dew_buf_close(&r.out);
}

static int record_nothing(void *data, const struct dew_nats_frame *f)
{
	return 0;
}

struct closer {
	struct dew_nats_parser *p;
	int calls;
};

/* Close the parser and go on (return 0). */
static int close_parser(void *data, const struct dew_nats_frame *f)
{
	struct closer *c = data;
	c->calls++;
	dew_nats_parser_close(c->p);
	return 0;
}

/* Free the parser and stop. */
static int free_parser(void *data, const struct dew_nats_frame *f)
{
	struct closer *c = data;
	c->calls++;
	dew_nats_parser_close(c->p);
	free(c->p);
	return 3;
}

/* A callback may close the parser and go on (nothing more is parsed), or free it and stop. */
static void test_callback_closes(void)
{
	const char *in = "SUB a 1\r\nPUB a 11\r\nstraddling!\r\nPING\r\nPING\r\n";
	struct dew_nats_parser p;
	struct closer c = { .p = &p };

	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 0, 0);
	tap_is_int(dew_nats_parse(&p, in, 24, record_nothing, NULL), 0, "first part of a straddling PUB");
	tap_is_int(dew_nats_parse(&p, in + 24, strlen(in) - 24, close_parser, &c), 0,
		   "callback closing the parser without stopping: parse returns 0");
	tap_is_int(c.calls, 1, "and nothing more is handed out");
	tap_is_int(dew_nats_parse(&p, "PING\r\n", 6, close_parser, &c), DEW_NATS_EUNKNOWN_OP,
		   "a closed parser refuses input");
	tap_is_int(c.calls, 1, "and calls nothing");

	c.p = xmalloc(sizeof *c.p);
	c.calls = 0;
	dew_nats_parser_init(c.p, DEW_NATS_SERVER_SIDE, 0, 0);
	tap_is_int(dew_nats_parse(c.p, in, 24, record_nothing, NULL), 0, "first part of a straddling PUB");
	tap_is_int(dew_nats_parse(c.p, in + 24, strlen(in) - 24, free_parser, &c), 3,
		   "callback freeing the parser and stopping: no use after free (ASan)");
	tap_is_int(c.calls, 1, "after exactly one frame");
}

static void test_strerror(void)
{
	tap_is_str(dew_nats_strerror(DEW_NATS_EUNKNOWN_OP), "Unknown Protocol Operation",
		   "strerror unknown op");
	tap_is_str(dew_nats_strerror(DEW_NATS_ECONTROL_LINE), "maximum control line exceeded",
		   "strerror mcl");
	tap_is_str(dew_nats_strerror(DEW_NATS_EPAYLOAD), "Maximum Payload Violation", "strerror payload");
	tap_ok(dew_nats_strerror(DEW_NATS_EARGS) != NULL && dew_nats_strerror(12345) != NULL,
	       "strerror never NULL");
	tap_ok(dew_nats_error_has_reply(DEW_NATS_EUNKNOWN_OP) &&
		       dew_nats_error_has_reply(DEW_NATS_ECONTROL_LINE) &&
		       dew_nats_error_has_reply(DEW_NATS_EPAYLOAD) &&
		       dew_nats_error_has_reply(DEW_NATS_EAUTH),
	       "-ERR is sent for unknown op, control line, payload and auth");
	tap_ok(!dew_nats_error_has_reply(DEW_NATS_EARGS), "but not for malformed arguments");
}

int main(void)
{
	test_corpus("server", DEW_NATS_SERVER_SIDE, server_corpus, DEW_ARRAY_SIZE(server_corpus));
	test_corpus("client", DEW_NATS_CLIENT_SIDE, client_corpus, DEW_ARRAY_SIZE(client_corpus));
	test_scratch_reuse();
	test_errors();
	test_control_line_streaming();
	test_leniencies();
	test_auth_pending();
	test_nul_byte();
	test_stop();
	test_callback_closes();
	test_strerror();
	return tap_done();
}
