// SPDX-License-Identifier: MIT
/* Unit tests of router/head.h: request checks (smuggling), the forwarded heads, sticky cookies. */
#include <string.h>
#include <stdlib.h>

#include "alloc.h"
#include "head.h"
#include "tap.h"

static struct h1_field fields[32];
static const struct h1_limits lim = { .max_head = 8192, .max_line = 4096, .max_fields = 32 };

static int check(const char *s, struct h1_head *h, struct head_request *r)
{
	memset(h, 0, sizeof(*h));
	h->fields = fields;
	int n = h1_parse_request(s, strlen(s), &lim, h);
	if (n <= 0)
		return -1000 + n;
	return head_request_check(h, r);
}

static void test_checks(void)
{
	struct h1_head h;
	struct head_request r;
	static const struct {
		const char *in;
		int want;
		const char *name;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a.com\r\n\r\n", 0, "a plain request" },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		  400, "CL and TE" },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
		  "conflicting CLs" },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0,
		  "repeated equal CLs" },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", 400, "a CL list" },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", 400, "a signed CL" },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400,
		  "TE other than chunked" },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
		  "chunked\r\n\r\n",
		  400, "two TE fields" },
		{ "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "TE in HTTP/1.0" },
		{ "GET / HTTP/1.1\r\n\r\n", 400, "no Host" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Hosts" },
		{ "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "a Host with a space" },
		{ "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400, "a bad port" },
		{ "CONNECT a.com:443 HTTP/1.1\r\nHost: a.com\r\n\r\n", 405, "CONNECT" },
		{ "GET a.com HTTP/1.1\r\nHost: a.com\r\n\r\n", 400, "a relative target" },
		{ "GET http://u@evil.com/ HTTP/1.1\r\nHost: a.com\r\n\r\n", 400,
		  "userinfo in an absolute target" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tap_is_int(check(cases[i].in, &h, &r), cases[i].want, "%s", cases[i].name);

	tap_is_int(check("GET http://Other.COM:8080/p?q HTTP/1.1\r\nHost: a.com\r\n\r\n", &h, &r), 0,
		   "absolute form");
	tap_is_str(r.host, "other.com", "absolute form is routed by its own host, lowercased, no port");
	tap_ok(r.target_len == 4 && memcmp(r.target, "/p?q", 4) == 0 && r.path_len == 2,
	       "origin-form target sent on");
	tap_is_int(check("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", &h, &r), 400, "an empty host name");
	tap_is_int((int)r.host_len, 0, "is the empty_host case");
	check("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &h, &r);
	tap_ok(!r.keep_alive, "HTTP/1.0 closes by default");
	check("GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n", &h, &r);
	tap_ok(r.keep_alive, "HTTP/1.0 keep-alive on request");
	check("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &h, &r);
	tap_ok(!r.keep_alive, "Connection: close");
	check("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
	      &h, &r);
	tap_ok(r.upgrade, "an upgrade request");
	check("GET / HTTP/1.1\r\nHost: a\r\nCookie: x=1; __VCAP_ID__=inst-9; y=2\r\n\r\n", &h, &r);
	tap_ok(r.sticky_len == 6 && memcmp(r.sticky, "inst-9", 6) == 0, "__VCAP_ID__ read from Cookie");
	check("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", &h, &r);
	tap_ok(r.body == BODY_CHUNKED && !r.idempotent, "chunked POST");
}

static void test_forward(void)
{
	struct h1_head h;
	struct head_request r;
	const char *in = "GET /x HTTP/1.1\r\nHost: App.com\r\nConnection: close, X-Secret\r\nX-Secret: s\r\n"
			 "Keep-Alive: 5\r\nX-Forwarded-For: 1.1.1.1\r\nX-CF-InstanceID: forged\r\n"
			 "X-Vcap-Request-Id: forged\r\nX-Request-Start: 1\r\nX-Forwarded-For: 2.2.2.2\r\n"
			 "Accept: */*\r\nTE: trailers\r\n\r\n";
	tap_is_int(check(in, &h, &r), 0, "a request with hop-by-hop and forged fields");
	struct backend be = { .app_id = "app1", .instance_id = "inst-1", .instance_index = 2 };
	struct head_forward f = {
		.client_ip = "9.9.9.9", .proto = "http", .request_id = "rid", .start_ms = 42, .be = &be
	};
	struct dew_buf out = DEW_BUF_INIT;
	head_request_write(&out, &h, &r, &f);
	tap_has_str(out.data, "GET /x HTTP/1.1\r\nHost: App.com\r\n", "request line and Host first");
	tap_has_str(out.data, "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 9.9.9.9\r\n",
		    "X-Forwarded-For merged, peer appended");
	tap_has_str(out.data, "X-Forwarded-Proto: http\r\n", "X-Forwarded-Proto set");
	tap_has_str(out.data, "X-CF-InstanceID: inst-1\r\n", "X-CF-InstanceID from the table");
	tap_has_str(out.data, "X-CF-InstanceIndex: 2\r\n", "X-CF-InstanceIndex");
	tap_ok(!strstr(out.data, "forged"), "client copies of router fields are dropped");
	tap_ok(!strstr(out.data, "X-Secret"), "fields named by Connection are dropped");
	tap_ok(!strstr(out.data, "Keep-Alive") && !strstr(out.data, "Connection") && !strstr(out.data, "TE:"),
	       "hop-by-hop fields are dropped");
	tap_has_str(out.data, "X-Request-Start: 42\r\nX-Vcap-Request-Id: rid\r\n", "request start and id");
	dew_buf_close(&out);

	/* Connection cannot make the router drop framing. */
	in = "POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: 2\r\n\r\n";
	check(in, &h, &r);
	head_request_write(&out, &h, &r, &f);
	tap_has_str(out.data, "Content-Length: 2\r\n", "Content-Length kept whatever Connection names");
	dew_buf_close(&out);

	/* Found by fuzz-router-http1: an absolute form without a path went on as "GET ?q". */
	static const struct {
		const char *in, *line;
	} no_path[] = {
		{ "GET http://a.com?q=1 HTTP/1.1\r\nHost: a.com\r\n\r\n", "GET /?q=1 HTTP/1.1\r\n" },
		{ "GET http://a.com HTTP/1.1\r\nHost: a.com\r\n\r\n", "GET / HTTP/1.1\r\n" },
	};
	for (size_t i = 0; i < sizeof(no_path) / sizeof(no_path[0]); i++) {
		check(no_path[i].in, &h, &r);
		head_request_write(&out, &h, &r, &f);
		tap_ok(strncmp(out.data, no_path[i].line, strlen(no_path[i].line)) == 0,
		       "an absolute form without a path is sent with \"/\" first (%zu)", i);
		dew_buf_close(&out);
	}
}

/*
 * Found by fuzz-router-http1: a Set-Cookie whose last attribute has no '=' was scanned with
 * strcspn past the end of the head (heads are not NUL-terminated). The head is in a buffer of
 * its exact size here, so the sanitizer build sees any read past it.
 */
static void test_sticky_unterminated(const struct head_request *r)
{
	static const char text[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: JSESSIONID=1; Secure\r\n\r\n";
	size_t len = sizeof(text) - 1;
	char *in = xmalloc(len);
	memcpy(in, text, len);
	static struct h1_field rf[4];
	struct h1_head h = { .fields = rf };
	struct head_response resp;
	tap_is_int(h1_parse_response(in, len, &lim, &h), (int)len, "a head with no NUL after it");
	head_response_check(&h, r, &resp);
	struct head_reply rp = { .request_id = "rid", .sticky_names = "JSESSIONID", .instance_id = "inst-1" };
	struct dew_buf out = DEW_BUF_INIT;
	head_response_write(&out, &h, &resp, &rp);
	tap_has_str(out.data, "Set-Cookie: __VCAP_ID__=inst-1; Path=/; HttpOnly; Secure\r\n",
		    "a last attribute without '=' is copied, and nothing past the head is read");
	dew_buf_close(&out);
	free(in);
}

static void test_response(void)
{
	struct h1_head rq, h;
	struct head_request r;
	struct head_response resp;
	check("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &rq, &r);
	static struct h1_field rf[16];
	const char *in =
		"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
		"Set-Cookie: JSESSIONID=abc; Path=/; Secure; SameSite=Lax\r\nContent-Length: 5\r\n\r\n";
	h = (struct h1_head){ .fields = rf };
	tap_ok(h1_parse_response(in, strlen(in), &lim, &h) > 0, "response parsed");
	tap_is_int(head_response_check(&h, &r, &resp), 0, "response checked");
	tap_ok(resp.body == BODY_LENGTH && resp.length == 5 && resp.keep_alive, "framing and keep-alive");
	struct head_reply rp = { .request_id = "rid", .sticky_names = "JSESSIONID", .instance_id = "inst-1" };
	struct dew_buf out = DEW_BUF_INIT;
	head_response_write(&out, &h, &resp, &rp);
	tap_has_str(out.data, "Set-Cookie: __VCAP_ID__=inst-1; Path=/; HttpOnly; Secure; SameSite=Lax\r\n",
		    "sticky cookie with Secure and SameSite copied");
	tap_has_str(out.data, "X-Vcap-Request-Id: rid\r\n", "request id echoed");
	tap_ok(!strstr(out.data, "X-Hop") && !strstr(out.data, "Connection"),
	       "hop-by-hop response fields dropped");
	dew_buf_close(&out);
	in = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
	h = (struct h1_head){ .fields = rf };
	h1_parse_response(in, strlen(in), &lim, &h);
	tap_is_int(head_response_check(&h, &r, &resp), -1, "CL and TE in a response: refused");
	in = "HTTP/1.1 200 OK\r\n\r\n";
	h1_parse_response(in, strlen(in), &lim, &h);
	head_response_check(&h, &r, &resp);
	tap_ok(resp.body == BODY_CLOSE && !resp.keep_alive, "no framing: close-delimited");
	in = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
	h1_parse_response(in, strlen(in), &lim, &h);
	tap_is_int(head_response_check(&h, &r, &resp), -1, "101 to a plain request is refused");
	test_sticky_unterminated(&r);
}

int main(void)
{
	test_checks();
	test_forward();
	test_response();
	return tap_done();
}
