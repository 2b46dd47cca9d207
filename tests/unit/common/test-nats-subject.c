// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/nats-subject.c: subject and queue validation, wildcard matching as
 * nats-server 2.9.10 routes (docs/nats-compat.md), and the exact bytes of the frame writers.
 */
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "nats-proto.h"
#include "tap.h"

static const struct {
	const char *s;
	bool valid, literal;
} subjects[] = {
	{ "foo", true, true },
	{ "foo.bar.baz", true, true },
	{ "_INBOX.abc.1", true, true },
	{ "foo.*", true, false },
	{ "*", true, false },
	{ ">", true, false },
	{ "foo.>", true, false },
	{ "foo.*.>", true, false },
	{ "*.*", true, false },
	/* '*' and '>' inside a token are ordinary bytes (nats-server routes "foo.b*r" literally). */
	{ "foo.b*r", true, true },
	{ "fo>o", true, true },
	{ "foo.>bar", true, true },
	{ "**", true, true },
	{ "", false, false },
	{ ".", false, false },
	{ "a..b", false, false },
	{ ".foo", false, false },
	{ "foo.", false, false },
	{ "foo.>.bar", false, false },
	{ ">.foo", false, false },
	{ "foo bar", false, false },
	{ "foo\tbar", false, false },
	{ "foo\r", false, false },
	{ "foo\nbar", false, false },
	{ "a\x01"
	  "b",
	  false, false },
	{ "a\x7f", false, false },
	{ "caf\xc3\xa9.ok", true, true },
};

static const struct {
	const char *q;
	bool valid;
} queues[] = {
	{ "workers", true }, { "q.a", true },  { "q*", true },	  { "q>", true },   { "staging", true },
	{ "", false },	     { "a b", false }, { "a\tb", false }, { "a\r", false }, { "\n", false },
};

static const struct {
	const char *pattern, *subject;
	bool match;
} matches[] = {
	{ "foo", "foo", true },
	{ "foo", "bar", false },
	{ "foo", "foo.bar", false },
	{ "foo.bar", "foo", false },
	{ "foo.*", "foo.bar", true },
	{ "foo.*", "foo.bar.baz", false },
	{ "foo.*", "foo", false },
	{ "foo.>", "foo", false },
	{ "foo.>", "foo.bar", true },
	{ "foo.>", "foo.bar.baz", true },
	{ ">", "foo", true },
	{ ">", "foo.bar.baz", true },
	{ "*.*", "foo.bar", true },
	{ "*.*", "foo", false },
	{ "*.*", "foo.bar.baz", false },
	{ "*.bar.>", "x.bar.y.z", true },
	{ "*.bar.>", "x.baz.y", false },
	{ "foo.*.baz", "foo.bar.baz", true },
	{ "foo.*.baz", "foo.bar.qux", false },
	/* A published "foo.*" is a literal token: it reaches "foo.*" and ">", not "foo.bar". */
	{ "foo.*", "foo.*", true },
	{ "foo.bar", "foo.*", false },
	{ "foo.b*r", "foo.bxr", false },
	{ "foo.b*r", "foo.b*r", true },
	{ "foo.*", "foo.b*r", true },
	/* Empty tokens reach no one (nats-server drops "foo..bar" even for ">"). */
	{ ">", "foo..bar", false },
	{ "foo.*.bar", "foo..bar", false },
	{ "foo.>", "foo.", false },
	{ "", "foo", false },
	{ "foo", "", false },
	{ "foo.>.bar", "foo.x.bar", false },
};

static void test_validation(void)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(subjects); i++) {
		const char *s = subjects[i].s;
		tap_ok(dew_nats_subject_valid(s, strlen(s)) == subjects[i].valid, "subject %zu is %svalid", i,
		       subjects[i].valid ? "" : "in");
		tap_ok(dew_nats_subject_literal(s, strlen(s)) == subjects[i].literal,
		       "subject %zu is %sliteral", i, subjects[i].literal ? "" : "not ");
	}
	tap_ok(!dew_nats_subject_valid("a\0b", 3), "a NUL byte makes a subject invalid");
	tap_ok(dew_nats_subject_valid("foo.bar", 3), "only len bytes are looked at");
	for (size_t i = 0; i < DEW_ARRAY_SIZE(queues); i++)
		tap_ok(dew_nats_queue_valid(queues[i].q, strlen(queues[i].q)) == queues[i].valid,
		       "queue %zu is %svalid", i, queues[i].valid ? "" : "in");
}

static void test_match(void)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(matches); i++) {
		const char *p = matches[i].pattern, *s = matches[i].subject;
		tap_ok(dew_nats_subject_match(p, strlen(p), s, strlen(s)) == matches[i].match, "'%s' %s '%s'",
		       p, matches[i].match ? "matches" : "does not match", s);
	}
}

static void test_writers(void)
{
	struct dew_buf b = DEW_BUF_INIT;

	dew_nats_write_pub(&b, "foo", NULL, NULL, 0, "hello", 5);
	tap_is_str(b.data, "PUB foo 5\r\nhello\r\n", "PUB without reply");
	dew_buf_reset(&b);
	dew_nats_write_pub(&b, "foo.bar", "_INBOX.x.1", NULL, 0, NULL, 0);
	tap_is_str(b.data, "PUB foo.bar _INBOX.x.1 0\r\n\r\n", "PUB with reply, empty payload");
	dew_buf_reset(&b);
	dew_nats_write_pub(&b, "foo", "", NULL, 0, "a\r\nb", 4);
	tap_is_str(b.data, "PUB foo 4\r\na\r\nb\r\n", "PUB with an empty reply and CRLF in the payload");
	dew_buf_reset(&b);
	dew_nats_write_pub(&b, "foo", "r", "NATS/1.0\r\nA: b\r\n\r\n", 18, "hi", 2);
	tap_is_str(b.data, "HPUB foo r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n", "HPUB with reply");
	dew_buf_reset(&b);
	dew_nats_write_pub(&b, "foo", NULL, "NATS/1.0\r\n\r\n", 12, NULL, 0);
	tap_is_str(b.data, "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n", "HPUB with headers only");
	dew_buf_reset(&b);
	dew_nats_write_pub(&b, "foo", NULL, "", 0, "x", 1);
	tap_is_str(b.data, "PUB foo 1\r\nx\r\n", "an empty header block gives PUB");
	dew_buf_reset(&b);

	dew_nats_write_msg(&b, "foo.bar", 7, "9", 1, NULL, 0, NULL, 0, "hello", 5);
	tap_is_str(b.data, "MSG foo.bar 9 5\r\nhello\r\n", "MSG without reply");
	dew_buf_reset(&b);
	dew_nats_write_msg(&b, "foo.barXX", 7, "12x", 2, "reply.toY", 8, NULL, 0, "", 0);
	tap_is_str(b.data, "MSG foo.bar 12 reply.to 0\r\n\r\n", "MSG with reply, lengths respected");
	dew_buf_reset(&b);
	dew_nats_write_msg(&b, "_INBOX.x", 8, "1", 1, NULL, 0, "NATS/1.0 503\r\n\r\n", 16, NULL, 0);
	tap_is_str(b.data, "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
		   "HMSG no-responders status, as nats-server sends it");
	dew_buf_reset(&b);
	dew_nats_write_msg(&b, "foo", 3, "1", 1, "rep", 3, "NATS/1.0\r\nA: b\r\n\r\n", 18, "hi", 2);
	tap_is_str(b.data, "HMSG foo 1 rep 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n", "HMSG with reply");
	dew_buf_reset(&b);
	dew_nats_write_msg(&b, "foo", 3, "1", 1, NULL, 0, "x", 0, "hi", 2);
	tap_is_str(b.data, "MSG foo 1 2\r\nhi\r\n",
		   "an empty header block gives MSG, as nats-server delivers it");
	dew_buf_reset(&b);

	/* Several frames append to the same buffer, and a big one too. */
	char *big = xmalloc(200000);
	memset(big, 'z', 200000);
	dew_nats_write_pub(&b, "a", NULL, NULL, 0, "1", 1);
	dew_nats_write_pub(&b, "b", NULL, NULL, 0, big, 200000);
	tap_ok(b.len == strlen("PUB a 1\r\n1\r\nPUB b 200000\r\n") + 200000 + 2 &&
		       memcmp(b.data, "PUB a 1\r\n1\r\nPUB b 200000\r\nzzz", 29) == 0 &&
		       memcmp(b.data + b.len - 3, "z\r\n", 3) == 0,
	       "frames append; a 200 kB payload is written whole");
	free(big);
	dew_buf_close(&b);
}

struct roundtrip {
	int frames;
	struct dew_nats_frame last;
	char copy[256];
};

static int keep(void *data, const struct dew_nats_frame *f)
{
	struct roundtrip *rt = data;
	rt->frames++;
	rt->last = *f;
	snprintf(rt->copy, sizeof rt->copy, "%.*s|%.*s|%.*s|%.*s|%.*s", (int)f->subject.len, f->subject.p,
		 (int)f->sid.len, f->sid.p, (int)f->reply.len, f->reply.p, (int)f->hdr.len, f->hdr.p,
		 (int)f->payload.len, f->payload.p);
	return 0;
}

/* What the writers produce, the parser reads back unchanged. */
static void test_roundtrip(void)
{
	struct dew_buf b = DEW_BUF_INIT;
	struct dew_nats_parser p;
	struct roundtrip rt = { 0 };

	dew_nats_write_pub(&b, "a.b", "r.1", "NATS/1.0\r\nK: v\r\n\r\n", 18, "pay\r\nload", 9);
	dew_nats_parser_init(&p, DEW_NATS_SERVER_SIDE, 0, 0);
	tap_is_int(dew_nats_parse(&p, b.data, b.len, keep, &rt), 0, "written HPUB parses");
	tap_ok(rt.frames == 1 && rt.last.op == DEW_NATS_OP_HPUB, "as one HPUB");
	tap_is_str(rt.copy, "a.b||r.1|NATS/1.0\r\nK: v\r\n\r\n|pay\r\nload", "with every field intact");
	dew_nats_parser_close(&p);

	dew_buf_reset(&b);
	rt.frames = 0;
	dew_nats_write_msg(&b, "x.y", 3, "42", 2, "inbox", 5, NULL, 0, "data", 4);
	dew_nats_parser_init(&p, DEW_NATS_CLIENT_SIDE, 0, 0);
	tap_is_int(dew_nats_parse(&p, b.data, b.len, keep, &rt), 0, "written MSG parses");
	tap_ok(rt.frames == 1 && rt.last.op == DEW_NATS_OP_MSG, "as one MSG");
	tap_is_str(rt.copy, "x.y|42|inbox||data", "with every field intact");
	dew_nats_parser_close(&p);
	dew_buf_close(&b);
}

int main(void)
{
	test_validation();
	test_match();
	test_writers();
	test_roundtrip();
	return tap_done();
}
