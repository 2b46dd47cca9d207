// SPDX-License-Identifier: MIT
/* Unit tests of router/accesslog.h: gorouter's field order, and escaping of hostile values. */
#include <string.h>

#include "accesslog.h"
#include "tap.h"

static struct h1_field fields[16];
static const struct h1_limits lim = { .max_head = 8192, .max_line = 4096, .max_fields = 16 };

static void parse(const char *s, struct h1_head *h)
{
	memset(h, 0, sizeof(*h));
	h->fields = fields;
	if (h1_parse_request(s, strlen(s), &lim, h) <= 0)
		tap_diag("test input did not parse: %s", h->why ? h->why : "incomplete");
}

static struct accesslog_entry entry(const struct h1_head *h)
{
	return (struct accesslog_entry){
		.host = "app.example.com",
		.host_len = 15,
		.when = 1700000000,
		.h = h,
		.status = 200,
		.bytes_received = 5,
		.bytes_sent = 13,
		.remote_addr = "127.0.0.1",
		.backend_addr = "127.0.0.1:8081",
		.proto = "http",
		.request_id = "rid-1",
		.response_time = 0.0015,
		.app_id = "app-1",
		.instance_id = "inst-1",
		.app_index = 2,
	};
}

static void test_fields(void)
{
	struct h1_head h;
	parse("POST /a?b=1 HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: curl/8\r\nReferer: http://r/\r\n"
	      "X-Forwarded-For: 10.0.0.1\r\n\r\n",
	      &h);
	struct accesslog_entry e = entry(&h);
	struct dew_buf out = DEW_BUF_INIT;
	accesslog_format(&out, &e);
	tap_is_str(out.data,
		   "app.example.com - [2023-11-14T22:13:20Z] \"POST /a?b=1 HTTP/1.1\" 200 5 13 \"http://r/\" "
		   "\"curl/8\" \"127.0.0.1\" \"127.0.0.1:8081\" x_forwarded_for:\"10.0.0.1, 127.0.0.1\" "
		   "x_forwarded_proto:\"http\" vcap_request_id:\"rid-1\" response_time:0.001500 "
		   "app_id:\"app-1\" "
		   "app_index:\"2\" instance_id:\"inst-1\" x_cf_routererror:\"-\"\n",
		   "every field in gorouter's order");
	dew_buf_reset(&out);
	e = (struct accesslog_entry){ .h = &h,
				      .when = 0,
				      .status = 404,
				      .remote_addr = "::1",
				      .proto = "https",
				      .request_id = "rid-2",
				      .app_index = -1,
				      .router_error = "unknown_route" };
	accesslog_format(&out, &e);
	tap_has_str(out.data, "- [1970-01-01T00:00:00Z] \"POST /a?b=1 HTTP/1.1\" 404 0 0 ",
		    "no host: '-'; the target from the head");
	tap_has_str(out.data, "\"::1\" \"-\" x_forwarded_for:\"10.0.0.1, ::1\" x_forwarded_proto:\"https\"",
		    "no backend: '-'");
	tap_has_str(out.data,
		    "app_id:\"-\" app_index:\"-\" instance_id:\"-\" x_cf_routererror:\"unknown_route\"\n",
		    "no app; the router's error code");
	dew_buf_close(&out);
}

static void test_hostile(void)
{
	struct h1_head h;
	/* What the parser lets through: quotes, backslashes, tabs and obs-text in values, quotes in
	 * the target. */
	parse("GET /\"x\\y HTTP/1.1\r\nHost: a\r\nUser-Agent: a\" \"b\\\t\xff\r\n"
	      "X-Forwarded-Proto: \"\r\n\r\n",
	      &h);
	struct accesslog_entry e = entry(&h);
	e.router_error = NULL;
	struct dew_buf out = DEW_BUF_INIT;
	accesslog_format(&out, &e);
	tap_has_str(out.data, "\"GET /\\\"x\\\\y HTTP/1.1\"", "quotes and backslashes in the target escaped");
	tap_has_str(out.data, "\"a\\\" \\\"b\\\\\\x09\\xff\"",
		    "quote, backslash, tab and obs-text in a value escaped");
	tap_has_str(out.data, "x_forwarded_proto:\"\\\"\"", "a quote alone");
	tap_ok(strchr(out.data, '\n') == out.data + out.len - 1, "one line");
	/* Whatever a value holds, the line has an even number of unescaped quotes. */
	size_t quotes = 0;
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] == '\\')
			i++;
		else if (out.data[i] == '"')
			quotes++;
	tap_is_int((intmax_t)quotes, 2 * 12, "twelve quoted fields, each closed");
	dew_buf_reset(&out);
	char raw[300];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (char)(i & 0xff);
	accesslog_escape(&out, raw, sizeof(raw), 256);
	tap_ok(!memchr(out.data, '\n', out.len) && !memchr(out.data, '\r', out.len) &&
		       !memchr(out.data, '\0', out.len),
	       "no control byte survives escaping");
	tap_ok(out.len > 3 && memcmp(out.data + out.len - 3, "...", 3) == 0, "a long value is cut, marked");
	dew_buf_close(&out);
}

int main(void)
{
	test_fields();
	test_hostile();
	return tap_done();
}
