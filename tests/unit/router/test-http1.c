// SPDX-License-Identifier: MIT
/* Unit tests of router/http1.h and router/body.h: strict heads, the smuggling shapes, framing. */
#include <string.h>

#include "body.h"
#include "http1.h"
#include "tap.h"

static struct h1_field fields[16];
static const struct h1_limits lim = { .max_head = 1024, .max_line = 128, .max_fields = 16 };

static int req(const char *s, struct h1_head *h)
{
	memset(h, 0, sizeof(*h));
	h->fields = fields;
	return h1_parse_request(s, strlen(s), &lim, h);
}

static void test_requests(void)
{
	struct h1_head h;
	const char *ok = "GET /a?b HTTP/1.1\r\nHost: x\r\nX-A:  v  \r\n\r\nBODY";
	tap_is_int(req(ok, &h), (int)strlen(ok) - 4, "a complete head: its length");
	tap_ok(h.method_len == 3 && h.target_len == 4 && h.minor == 1 && h.n_fields == 2, "line and fields");
	tap_ok(h.fields[1].value_len == 1 && h.fields[1].value[0] == 'v', "value whitespace trimmed");
	tap_is_int(req("GET / HTTP/1.1\r\nHost: x\r\n", &h), H1_INCOMPLETE, "incomplete");
	tap_is_int(req("\r\nGET / HTTP/1.0\r\n\r\n", &h), 20, "a leading empty line is skipped");
	static const struct {
		const char *in;
		int want;
		const char *name;
	} bad[] = {
		{ "GET / HTTP/1.1\nHost: x\r\n\r\n", H1_BAD, "bare LF ends the request line" },
		{ "GET / HTTP/1.1\r\nHost: x\n\r\n", H1_BAD, "bare LF ends a field" },
		{ "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", H1_BAD, "bare CR inside a field" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n y\r\n\r\n", H1_BAD, "obs-fold" },
		{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", H1_BAD, "space before the colon" },
		{ "GET / HTTP/1.1\r\nH\x01st: x\r\n\r\n", H1_BAD, "control character in a name" },
		{ "GET / HTTP/1.1\r\nHost: a\x01"
		  "b\r\n\r\n",
		  H1_BAD, "control character in a value" },
		{ "GET  / HTTP/1.1\r\n\r\n", H1_BAD, "two spaces in the request line" },
		{ "GET /a b HTTP/1.1\r\n\r\n", H1_BAD, "space in the target" },
		{ "GET / HTTP/2.0\r\n\r\n", H1_BAD_VERSION, "HTTP/2.0 on HTTP/1 framing" },
		{ "GET / HTTP/1.1x\r\n\r\n", H1_BAD, "garbage after the version" },
		{ "G(T / HTTP/1.1\r\n\r\n", H1_BAD, "a non-token method" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_is_int(req(bad[i].in, &h), bad[i].want, "%s", bad[i].name);
	char big[2048];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	big[sizeof(big) - 1] = '\0';
	tap_is_int(req(big, &h), H1_LINE_TOO_LONG, "a long request line without its end: 414 at once");
	/* Found by fuzz-router-http1: a request line of exactly max_line bytes whose CR arrived
	 * without its LF was refused with 414, though the whole line is accepted. */
	char exact[256] = "GET /";
	memset(exact + 5, 'a', 128 - 14);
	strcpy(exact + 128 - 9, " HTTP/1.1\r");
	tap_is_int(req(exact, &h), H1_INCOMPLETE,
		   "a max_line request line up to its CR: incomplete, not 414");
	strcat(exact, "\n\r\n");
	tap_is_int(req(exact, &h), 128 + 4, "… and accepted once whole");
	char many[1024] = "GET / HTTP/1.1\r\n";
	for (int i = 0; i < 17; i++)
		strcat(many, "A: b\r\n");
	tap_is_int(req(many, &h), H1_HEAD_TOO_LARGE, "too many fields");
	char huge[1400] = "GET / HTTP/1.1\r\nX: ";
	memset(huge + strlen(huge), 'v', 1300);
	tap_is_int(req(huge, &h), H1_HEAD_TOO_LARGE, "an oversized head");
	tap_ok(h1_list_has("keep-alive, Upgrade", 19, "upgrade"), "list token, any case");
	tap_ok(!h1_list_has("upgrades", 8, "upgrade"), "list tokens match whole");
}

static void test_responses(void)
{
	struct h1_head h = { .fields = fields };
	const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	tap_is_int(h1_parse_response(r, strlen(r), &lim, &h), (int)strlen(r), "a response head");
	tap_ok(h.status == 404 && h.reason_len == 9, "status and reason");
	r = "HTTP/1.1 200\r\n\r\n";
	tap_is_int(h1_parse_response(r, strlen(r), &lim, &h), (int)strlen(r), "no reason phrase");
	r = "HTTP/1.1 99 x\r\n\r\n";
	tap_is_int(h1_parse_response(r, strlen(r), &lim, &h), H1_BAD, "a two-digit status");
}

static void test_bodies(void)
{
	struct body b;
	body_init(&b, BODY_LENGTH, 5);
	tap_is_int(body_feed(&b, "abcdefg", 7), 5, "content-length takes its bytes");
	tap_ok(b.done, "and is done");
	const char *ck = "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	body_init(&b, BODY_CHUNKED, 0);
	tap_is_int(body_feed(&b, ck, strlen(ck)), (int)strlen(ck) - 4,
		   "chunked with an extension and a trailer");
	tap_ok(b.done, "chunked done");
	body_init(&b, BODY_CHUNKED, 0);
	size_t total = 0;
	for (size_t i = 0; i < strlen(ck) - 4; i++)
		total += (size_t)body_feed(&b, ck + i, 1);
	tap_ok(b.done && total == strlen(ck) - 4, "chunked one byte at a time");
	static const char *const bad[] = {
		"-5\r\nhello\r\n0\r\n\r\n", "x\r\n",
		"5\r\nhelloX\r\n",	    "5\nhello",
		"11111111111111111\r\n",    "0\r\nbad\nfield\r\n\r\n",
		" 5\r\nhello\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		body_init(&b, BODY_CHUNKED, 0);
		tap_is_int(body_feed(&b, bad[i], strlen(bad[i])), -1, "bad chunked body %zu refused", i);
	}
	body_init(&b, BODY_CHUNKED, 0);
	tap_is_int(body_feed(&b, "ffffffffffffffff\r\n", 18), 18, "the largest 64-bit size parses");
}

int main(void)
{
	test_requests();
	test_responses();
	test_bodies();
	return tap_done();
}
