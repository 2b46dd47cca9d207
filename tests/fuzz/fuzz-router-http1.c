// SPDX-License-Identifier: MIT
/*
 * libFuzzer target of the router's request path (and of its response path): the input is a
 * byte stream from a client (or from a backend) fed in pieces, split where the input says, the
 * way client.c and proxy.c see it: each head is parsed again from its start as bytes arrive,
 * checked (head.c), rewritten, and its body framed (body.c) piece by piece; pipelined messages
 * follow on the same stream. Invariants:
 *   - a verdict on a prefix (a complete head or an error) is the verdict on the whole stream:
 *     where the pieces were cut never changes what the router decides;
 *   - the body framing consumes the same bytes and ends (or fails) at the same place whole and
 *     in pieces;
 *   - the head the router writes parses back, strictly, to the same framing, host and target:
 *     the backend (or client) cannot read the message differently from the router.
 *
 * Input: byte 0 = flags (bits 0-2: split count, 3: response side, 4: small limits, 5-6: the
 * request a response answers: GET, HEAD, upgrade, POST), then one byte per split point, then
 * the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "body.h"
#include "buf.h"
#include "head.h"
#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
	do {                                                                                                 \
		if (!(cond))                                                                                 \
			__builtin_trap();                                                                    \
	} while (0)

enum { FZ_MAX_FIELDS = 100 };

static const struct h1_limits fz_router_limits = { .max_head = 32 * 1024,
						   .max_line = 8192,
						   .max_fields = 100 };
static const struct h1_limits fz_small_limits = { .max_head = 256, .max_line = 64, .max_fields = 8 };
/* What re-parses the heads the router writes: it adds fields and bytes of its own. */
static const struct h1_limits fz_wide_limits = { .max_head = 1 << 20,
						 .max_line = 1 << 20,
						 .max_fields = 200 };

/* The requests a response may answer (flags bits 5-6). */
static const char *const fz_requests[] = {
	"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n",
	"HEAD / HTTP/1.1\r\nHost: a.example.com\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: a.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	"POST /p HTTP/1.0\r\nHost: a.example.com\r\nContent-Length: 2\r\n\r\n",
};

struct fz {
	const char *stream; /* the whole input stream */
	size_t len;
	size_t fed;  /* bytes given to the router so far */
	size_t done; /* bytes of the stream consumed (heads and bodies) */
	bool response;
	const struct h1_limits *lim;
	bool in_body;
	bool stopped; /* the connection would be closed */
	struct body body;
	size_t body_start; /* stream offset of the current body */
	ssize_t whole_n;   /* the body framed whole: bytes, or -1 */
	bool whole_done;
	struct h1_field fields[FZ_MAX_FIELDS];
	struct h1_field again_fields[200];
	struct h1_field req_fields[8];
	struct h1_head req_h; /* the request a response answers */
	struct head_request req;
	struct backend be;
	struct dew_buf out;
};

static int fz_parse(struct fz *fz, const char *p, size_t len, const struct h1_limits *lim, struct h1_head *h,
		    struct h1_field *fields)
{
	memset(h, 0, sizeof(*h));
	h->fields = fields;
	return fz->response ? h1_parse_response(p, len, lim, h) : h1_parse_request(p, len, lim, h);
}

/* Every pointer of a parsed head lies inside the bytes it was parsed from. */
static void fz_check_inside(const struct h1_head *h, const char *p, size_t n)
{
	for (size_t i = 0; i < h->n_fields; i++) {
		const struct h1_field *f = &h->fields[i];
		CHECK(f->name >= p && f->name + f->name_len <= p + n);
		CHECK(f->value >= p && f->value + f->value_len <= p + n);
		CHECK(f->name_len > 0);
	}
}

/* The request head the router sends on parses back to the same request. */
static void fz_request_roundtrip(struct fz *fz, const struct h1_head *h, const struct head_request *r)
{
	struct head_forward f = {
		.client_ip = "192.0.2.1",
		.proto = "http",
		.request_id = "00000000-0000-4000-8000-000000000000",
		.start_ms = 1700000000000ULL,
		.be = &fz->be,
	};
	dew_buf_reset(&fz->out);
	head_request_write(&fz->out, h, r, &f);
	char *copy = xmalloc(fz->out.len); /* exact size: ASan sees any read past the head */
	memcpy(copy, fz->out.data, fz->out.len);
	struct h1_head h2;
	struct head_request r2;
	int n = fz_parse(fz, copy, fz->out.len, &fz_wide_limits, &h2, fz->again_fields);
	CHECK(n == (int)fz->out.len);
	CHECK(head_request_check(&h2, &r2) == 0);
	CHECK(r2.body == r->body && (r->body != BODY_LENGTH || r2.length == r->length));
	CHECK(r2.host_len == r->host_len && memcmp(r2.host, r->host, r->host_len) == 0);
	/* The target as sent: an empty absolute-form path becomes "/". */
	size_t slash = !r->target_len || (r->target[0] != '/' && r->target[0] != '*');
	CHECK(r2.target_len == r->target_len + slash && (!slash || r2.target[0] == '/'));
	CHECK(memcmp(r2.target + slash, r->target, r->target_len) == 0);
	CHECK(r2.upgrade == r->upgrade && r2.is_head == r->is_head && r2.idempotent == r->idempotent);
	CHECK(h2.minor == h->minor);
	free(copy);
}

/* The response head the router sends to the client parses back to the same framing. */
static void fz_response_roundtrip(struct fz *fz, const struct h1_head *h, const struct head_response *resp)
{
	struct head_reply rp = {
		.request_id = "00000000-0000-4000-8000-000000000000",
		.close = false,
		.sticky_names = "JSESSIONID,SID",
		.instance_id = fz->be.instance_id,
	};
	dew_buf_reset(&fz->out);
	head_response_write(&fz->out, h, resp, &rp);
	char *copy = xmalloc(fz->out.len);
	memcpy(copy, fz->out.data, fz->out.len);
	struct h1_head h2;
	struct head_response resp2;
	int n = fz_parse(fz, copy, fz->out.len, &fz_wide_limits, &h2, fz->again_fields);
	CHECK(n == (int)fz->out.len);
	CHECK(head_response_check(&h2, &fz->req, &resp2) == 0);
	CHECK(h2.status == h->status && resp2.body == resp->body && resp2.upgraded == resp->upgraded);
	CHECK(resp->body != BODY_LENGTH || resp2.length == resp->length);
	free(copy);
}

/* A head is complete at the start of what was fed: check it, rewrite it, start its body. */
static void fz_head(struct fz *fz, const struct h1_head *h, int n)
{
	enum body_kind kind;
	uint64_t length;
	bool stop_after;
	if (fz->response) {
		struct head_response resp;
		if (head_response_check(h, &fz->req, &resp) < 0) {
			fz->stopped = true; /* 502 to the client */
			return;
		}
		fz_response_roundtrip(fz, h, &resp);
		if (resp.interim) {
			fz->done += (size_t)n;
			return;
		}
		kind = resp.body;
		length = resp.length;
		stop_after = resp.upgraded || !resp.keep_alive;
	} else {
		struct head_request r;
		if (head_request_check(h, &r) != 0) {
			CHECK(r.why != NULL);
			fz->stopped = true; /* 400 or 405, then close */
			return;
		}
		fz_request_roundtrip(fz, h, &r);
		kind = r.body;
		length = r.length;
		stop_after = r.upgrade || !r.keep_alive;
	}
	fz->done += (size_t)n;
	if (stop_after && kind == BODY_NONE) {
		fz->stopped = true;
		return;
	}
	body_init(&fz->body, kind, length);
	fz->in_body = true;
	fz->body_start = fz->done;
	/* The same body framed in one go, over everything the stream still holds. */
	struct body whole;
	body_init(&whole, kind, length);
	fz->whole_n = body_feed(&whole, fz->stream + fz->done, fz->len - fz->done);
	fz->whole_done = whole.done;
	if (stop_after)
		fz->stopped = true; /* what follows the body is not read as another message */
}

/* Body bytes fed so far: the same verdict as the body framed whole. */
static void fz_body(struct fz *fz)
{
	size_t avail = fz->fed - fz->done;
	ssize_t n = body_feed(&fz->body, fz->stream + fz->done, avail);
	if (n < 0) {
		CHECK(fz->whole_n < 0);
		fz->stopped = true;
		return;
	}
	CHECK((size_t)n <= avail);
	fz->done += (size_t)n;
	size_t got = fz->done - fz->body_start;
	if (fz->body.done) {
		CHECK(fz->whole_done && fz->whole_n == (ssize_t)got);
		fz->in_body = false;
		return;
	}
	CHECK((size_t)n == avail); /* an unfinished body takes everything */
	if (fz->fed == fz->len)
		CHECK(!fz->whole_done && fz->whole_n == (ssize_t)got);
}

/* What the router does with the bytes fed so far (client_process / proxy_*_data). */
static void fz_process(struct fz *fz)
{
	while (!fz->stopped && fz->done < fz->fed) {
		if (fz->in_body) {
			fz_body(fz);
			if (fz->in_body || fz->stopped)
				return;
			continue;
		}
		size_t avail = fz->fed - fz->done;
		char *buf = xmalloc(avail);
		memcpy(buf, fz->stream + fz->done, avail);
		struct h1_head h;
		int n = fz_parse(fz, buf, avail, fz->lim, &h, fz->fields);
		/* The verdict on the whole stream from here. */
		struct h1_head whole;
		int wn = fz_parse(fz, fz->stream + fz->done, fz->len - fz->done, fz->lim, &whole,
				  fz->again_fields);
		if (n == H1_INCOMPLETE) {
			free(buf);
			return;
		}
		if (n < 0) {
			CHECK(h.why != NULL);
			CHECK(wn < 0); /* an error on a prefix is an error of the whole */
			free(buf);
			fz->stopped = true;
			return;
		}
		CHECK(wn == n && whole.n_fields == h.n_fields);
		CHECK((size_t)n <= avail && h.n_fields <= fz->lim->max_fields);
		fz_check_inside(&h, buf, (size_t)n);
		fz_head(fz, &h, n);
		free(buf);
	}
}

static void fz_request_setup(struct fz *fz, unsigned which)
{
	const char *s = fz_requests[which];
	fz->req_h.fields = fz->req_fields;
	int n = h1_parse_request(s, strlen(s), &fz_router_limits, &fz->req_h);
	CHECK(n == (int)strlen(s));
	CHECK(head_request_check(&fz->req_h, &fz->req) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0];
	size_t n_splits = flags & 7;
	if (size < 1 + n_splits)
		return 0;
	struct fz *fz = xzalloc(sizeof(*fz));
	fz->stream = (const char *)data + 1 + n_splits;
	fz->len = size - 1 - n_splits;
	fz->response = flags & 0x08;
	fz->lim = flags & 0x10 ? &fz_small_limits : &fz_router_limits;
	fz->be = (struct backend){ .app_id = "app-1", .instance_id = "inst-1", .instance_index = 3 };
	dew_buf_init(&fz->out);
	if (fz->response)
		fz_request_setup(fz, (flags >> 5) & 3);
	/* Split points in increasing order, as the pieces arrive. */
	size_t splits[8], prev = 0;
	for (size_t i = 0; i < n_splits; i++) {
		size_t at = fz->len ? data[1 + i] * fz->len / 256 : 0;
		splits[i] = at > prev ? at : prev;
		prev = splits[i];
	}
	for (size_t i = 0; i <= n_splits && !fz->stopped; i++) {
		size_t end = i < n_splits ? splits[i] : fz->len;
		if (end <= fz->fed && i < n_splits)
			continue;
		fz->fed = end;
		fz_process(fz);
	}
	dew_buf_close(&fz->out);
	free(fz);
	return 0;
}
