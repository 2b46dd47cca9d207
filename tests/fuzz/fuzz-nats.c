// SPDX-License-Identifier: MIT
/*
 * libFuzzer target of the NATS parser: the input (after a few configuration bytes) is parsed
 * whole, split where the input says and one byte at a time; every way must give the same
 * frames and verdict, each frame must keep the invariants below, and what the writers make of
 * a message frame must parse back to the same frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "nats-proto.h"

#define CHECK(cond)                                                                                          \
	do {                                                                                                 \
		if (!(cond))                                                                                 \
			__builtin_trap();                                                                    \
	} while (0)

struct cfg {
	enum dew_nats_side side;
	size_t mcl, maxpay;
	bool auth;
};

struct seen {
	const struct cfg *cfg;
	const struct dew_nats_parser *p;
	const char *chunk;
	size_t chunk_len;
	struct dew_buf out; /* every frame, serialized */
	size_t frames;
	bool roundtrip;
};

static bool inside(struct dew_nats_str s, const char *base, size_t len)
{
	if (!s.p)
		return s.len == 0;
	return base && (uintptr_t)s.p >= (uintptr_t)base &&
	       (uintptr_t)(s.p + s.len) <= (uintptr_t)(base + len);
}

static bool is_token(struct dew_nats_str s)
{
	return s.len > 0 && !memchr(s.p, ' ', s.len) && !memchr(s.p, '\t', s.len);
}

static void put_str(struct dew_buf *b, struct dew_nats_str s)
{
	dew_buf_printf(b, "%zu:", s.len);
	dew_buf_append(b, s.p, s.len);
}

static void serialize(struct dew_buf *b, const struct dew_nats_frame *f)
{
	dew_buf_printf(b, "op%d max%lld ", f->op, (long long)f->max_msgs);
	put_str(b, f->subject);
	put_str(b, f->reply);
	put_str(b, f->queue);
	put_str(b, f->sid);
	put_str(b, f->arg);
	put_str(b, f->hdr);
	put_str(b, f->payload);
	dew_buf_putc(b, '\n');
}

static void check_message(const struct seen *s, const struct dew_nats_frame *f)
{
	bool h = f->op == DEW_NATS_OP_HPUB || f->op == DEW_NATS_OP_HMSG;

	CHECK(is_token(f->subject));
	CHECK(f->reply.len == 0 || is_token(f->reply));
	CHECK(f->hdr.len + f->payload.len <= s->p->max_payload);
	CHECK(f->payload.p != NULL);
	if (h)
		CHECK(f->hdr.p && f->hdr.p + f->hdr.len == f->payload.p);
	else
		CHECK(f->hdr.p == NULL && f->hdr.len == 0);
	if (f->op == DEW_NATS_OP_MSG || f->op == DEW_NATS_OP_HMSG)
		CHECK(is_token(f->sid));
}

static int on_frame(void *data, const struct dew_nats_frame *f);

/* Write a message frame back out and parse it: the same fields must come back. */
static void roundtrip(const struct seen *s, const struct dew_nats_frame *f)
{
	struct dew_buf w = DEW_BUF_INIT, want = DEW_BUF_INIT;
	struct dew_nats_parser p;
	struct cfg cfg = { .side = s->cfg->side };
	struct seen again = { .cfg = &cfg, .p = &p };
	bool server = f->op == DEW_NATS_OP_PUB || f->op == DEW_NATS_OP_HPUB;
	const void *hdr = f->hdr.p;

	if (server) {
		/* The PUB writer takes C strings. */
		if (memchr(f->subject.p, '\0', f->subject.len) ||
		    (f->reply.len && memchr(f->reply.p, '\0', f->reply.len)))
			return;
		char *subject = xstrndup(f->subject.p, f->subject.len);
		char *reply = xstrndup(f->reply.p ? f->reply.p : "", f->reply.len);
		dew_nats_write_pub(&w, subject, reply, hdr, f->hdr.len, f->payload.p, f->payload.len);
		free(subject);
		free(reply);
	} else {
		dew_nats_write_msg(&w, f->subject.p, f->subject.len, f->sid.p, f->sid.len, f->reply.p,
				   f->reply.len, hdr, f->hdr.len, f->payload.p, f->payload.len);
	}
	dew_nats_parser_init(&p, cfg.side, 0, s->p->max_payload);
	again.chunk = w.data;
	again.chunk_len = w.len;
	CHECK(dew_nats_parse(&p, w.data, w.len, on_frame, &again) == 0);
	/* An empty header block is written as PUB/MSG, which is how nats-server delivers it. */
	struct dew_nats_frame expect = *f;
	if (expect.hdr.len == 0 && (expect.op == DEW_NATS_OP_HPUB || expect.op == DEW_NATS_OP_HMSG)) {
		expect.op = expect.op == DEW_NATS_OP_HPUB ? DEW_NATS_OP_PUB : DEW_NATS_OP_MSG;
		expect.hdr = (struct dew_nats_str){ NULL, 0 };
	}
	serialize(&want, &expect);
	CHECK(again.out.len == want.len && memcmp(again.out.data, want.data, want.len) == 0);
	dew_nats_parser_close(&p);
	dew_buf_close(&again.out);
	dew_buf_close(&want);
	dew_buf_close(&w);
}

static int on_frame(void *data, const struct dew_nats_frame *f)
{
	struct seen *s = data;
	const struct dew_nats_str fields[] = { f->subject, f->reply, f->queue,	f->sid,
					       f->arg,	   f->hdr,   f->payload };

	CHECK(f->op >= DEW_NATS_OP_INFO && f->op <= DEW_NATS_OP_ERR);
	/* Under auth_pending nothing but a CONNECT gets through first. */
	CHECK(!s->cfg->auth || s->frames > 0 || f->op == DEW_NATS_OP_CONNECT);
	s->frames++;
	/* Every pointer is into this call's data or the scratch buffer. */
	for (size_t i = 0; i < DEW_ARRAY_SIZE(fields); i++)
		CHECK(inside(fields[i], s->chunk, s->chunk_len) ||
		      inside(fields[i], s->p->scratch.data, s->p->scratch.len));
	switch (f->op) {
	case DEW_NATS_OP_PUB:
	case DEW_NATS_OP_HPUB:
	case DEW_NATS_OP_SUB:
	case DEW_NATS_OP_UNSUB:
	case DEW_NATS_OP_CONNECT:
		CHECK(s->cfg->side == DEW_NATS_SERVER_SIDE);
		break;
	case DEW_NATS_OP_MSG:
	case DEW_NATS_OP_HMSG:
		CHECK(s->cfg->side == DEW_NATS_CLIENT_SIDE);
		break;
	default:
		break;
	}
	switch (f->op) {
	case DEW_NATS_OP_PUB:
	case DEW_NATS_OP_HPUB:
	case DEW_NATS_OP_MSG:
	case DEW_NATS_OP_HMSG:
		check_message(s, f);
		if (s->roundtrip)
			roundtrip(s, f);
		break;
	case DEW_NATS_OP_SUB:
		CHECK(is_token(f->subject) && is_token(f->sid) && (f->queue.len == 0 || is_token(f->queue)));
		break;
	case DEW_NATS_OP_UNSUB:
		CHECK(is_token(f->sid) && f->max_msgs >= -1 && f->max_msgs <= 999999999);
		break;
	case DEW_NATS_OP_CONNECT:
	case DEW_NATS_OP_INFO:
		CHECK(f->arg.len > 0 && f->arg.len <= s->p->max_control_line);
		break;
	default:
		break;
	}
	serialize(&s->out, f);
	return 0;
}

/* Parse body cut at cuts[] (ascending); returns the verdict, frames go to out (caller closes). */
static int run(const struct cfg *cfg, const uint8_t *body, size_t len, const size_t *cuts, size_t ncuts,
	       struct dew_buf *out, bool rt)
{
	struct dew_nats_parser p;
	struct seen s = { .cfg = cfg, .p = &p, .roundtrip = rt };
	size_t off = 0;
	int rc = 0;

	dew_nats_parser_init(&p, cfg->side, cfg->mcl, cfg->maxpay);
	p.auth_pending = cfg->auth;
	for (size_t c = 0; c <= ncuts && rc == 0; c++) {
		size_t end = c < ncuts ? cuts[c] : len;
		/* Each piece in its own allocation, so ASan sees any read past it. */
		char *piece = xmalloc(end - off + 1);
		memcpy(piece, body + off, end - off);
		s.chunk = piece;
		s.chunk_len = end - off;
		rc = dew_nats_parse(&p, piece, end - off, on_frame, &s);
		CHECK(rc <= 0 && rc >= DEW_NATS_EAUTH);
		free(piece);
		off = end;
	}
	if (rc) {
		CHECK(p.dead && dew_nats_parse(&p, "PING\r\n", 6, on_frame, &s) == rc);
		CHECK(dew_nats_strerror(rc) != NULL);
	}
	dew_nats_parser_close(&p);
	*out = s.out;
	return rc;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer's entry point: one input, checked every way described at the top. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg cfg;
	size_t cuts[8], ncuts;
	struct dew_buf whole, split;
	int rc;

	if (size < 2)
		return 0;
	/* Byte 0: side, small limits, auth; byte 1: how many of the next bytes are cut points. */
	cfg.side = data[0] & 1 ? DEW_NATS_CLIENT_SIDE : DEW_NATS_SERVER_SIDE;
	cfg.mcl = data[0] & 2 ? 24 : 0;
	cfg.maxpay = data[0] & 4 ? 40 : 0;
	cfg.auth = cfg.side == DEW_NATS_SERVER_SIDE && (data[0] & 8);
	ncuts = data[1] % 8;
	if (size < 2 + ncuts)
		return 0;
	const uint8_t *body = data + 2 + ncuts;
	size_t len = size - 2 - ncuts;
	for (size_t i = 0; i < ncuts; i++)
		cuts[i] = len * data[2 + i] / 256;
	qsort(cuts, ncuts, sizeof cuts[0], cmp_size);

	rc = run(&cfg, body, len, NULL, 0, &whole, true);
	CHECK(run(&cfg, body, len, cuts, ncuts, &split, false) == rc);
	CHECK(whole.len == split.len && (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0));
	dew_buf_close(&split);
	if (len <= 512) {
		size_t *every = xcalloc(len + 1, sizeof *every);
		for (size_t k = 1; k < len; k++)
			every[k - 1] = k;
		CHECK(run(&cfg, body, len, every, len ? len - 1 : 0, &split, false) == rc);
		CHECK(whole.len == split.len &&
		      (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0));
		dew_buf_close(&split);
		free(every);
	}
	dew_buf_close(&whole);
	return 0;
}
