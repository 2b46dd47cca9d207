// SPDX-License-Identifier: MIT
/*
 * Unit tests of cli/sse.h, the reader of the live `dew logs` stream: the same events whatever
 * the pieces the body arrives in (split anywhere, one byte at a time, a CRLF across two pieces),
 * LF, CRLF and CR line ends, comments, multi-line data, other fields ignored, an unfinished event
 * discarded, and a line over the limit dropped and counted without stopping the stream.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "sse.h"
#include "tap.h"

/* What the reader handed out: "D<data>|" per event, "C<text>|" per comment. */
static void on_data(const char *text, size_t len, void *arg)
{
	struct dew_buf *b = arg;
	dew_buf_putc(b, 'D');
	dew_buf_append(b, text, len);
	dew_buf_putc(b, '|');
}

static void on_comment(const char *text, size_t len, void *arg)
{
	struct dew_buf *b = arg;
	dew_buf_putc(b, 'C');
	dew_buf_append(b, text, len);
	dew_buf_putc(b, '|');
}

/* Feed text in pieces of at most step bytes (0: all at once); returns what came out. */
static char *run(const char *text, size_t step, uint64_t *dropped)
{
	struct dew_buf out = DEW_BUF_INIT;
	struct cli_sse s;
	size_t len = strlen(text);
	cli_sse_init(&s, on_data, on_comment, &out);
	for (size_t at = 0; at < len;) {
		size_t n = step && len - at > step ? step : len - at;
		/* A copy of exactly n bytes, so a read past the piece is caught by the sanitizers. */
		char *piece = xmalloc(n);
		memcpy(piece, text + at, n);
		cli_sse_feed(&s, piece, n);
		free(piece);
		at += n;
	}
	if (dropped)
		*dropped = s.dropped;
	cli_sse_close(&s);
	dew_buf_putc(&out, '\0');
	return dew_buf_steal(&out);
}

static void is_events(const char *text, const char *want, const char *name)
{
	cleanup_free char *whole = run(text, 0, NULL);
	tap_is_str(whole, want, "%s: in one piece", name);
	bool same = true;
	size_t len = strlen(text);
	for (size_t step = 1; step <= len && same; step++) {
		cleanup_free char *got = run(text, step, NULL);
		if (strcmp(got, want) != 0) {
			tap_diag("pieces of %zu bytes gave %s", step, got);
			same = false;
		}
	}
	tap_ok(same, "%s: the same in pieces of every size", name);
}

static void test_events(void)
{
	const char *live = ": streaming the logs of this app\n\n"
			   "data: {\"line\":\"hello\"}\n\n"
			   ": keep-alive\n\n"
			   "data: {\"line\":\"again\"}\n\n";
	is_events(
		live,
		"C streaming the logs of this app|D{\"line\":\"hello\"}|C keep-alive|D{\"line\":\"again\"}|",
		"the controller's stream");
	is_events("data: a\r\n\r\ndata: b\r\rdata:c\n\n", "Da|Db|Dc|",
		  "CRLF, CR and LF line ends; no space after the colon");
	is_events("data: one\ndata: two\n\n", "Done\ntwo|", "two data lines make one event");
	is_events("data: one\r\ndata: two\r\n\r\n", "Done\ntwo|",
		  "a CRLF split between pieces is one line end, not two");
	is_events("event: x\nid: 7\nretry: 10\ndata: y\nbogus\n\n", "Dy|", "other fields are ignored");
	is_events("data\n\n", "D|", "a data field without a colon is empty data");
	is_events("\n\n\n", "", "blank lines alone dispatch nothing");
	is_events("data: done\n\ndata: unfinished\n", "Ddone|",
		  "an event without its blank line is discarded");
	is_events("data:  two spaces\n\n", "D two spaces|", "only one space after the colon is removed");
}

static void test_long_line(void)
{
	size_t big = CLI_SSE_LINE_MAX + 10;
	char *text = xmalloc(big + 64);
	strcpy(text, "data: ok\n\ndata: ");
	size_t at = strlen(text);
	memset(text + at, 'x', big);
	strcpy(text + at + big, "\n\ndata: after\n\n");
	uint64_t dropped = 0;
	cleanup_free char *got = run(text, 4096, &dropped);
	tap_is_str(got, "Dok|Dafter|", "a line over the limit is dropped, the stream goes on");
	tap_is_int((intmax_t)dropped, 1, "and counted");
	free(text);
}

int main(void)
{
	test_events();
	test_long_line();
	return tap_done();
}
