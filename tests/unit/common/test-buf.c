// SPDX-License-Identifier: MIT
/* Unit tests of common/buf.h. */
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "tap.h"

int main(void)
{
	struct dew_buf b = DEW_BUF_INIT;
	dew_buf_puts(&b, "hello");
	dew_buf_putc(&b, ' ');
	dew_buf_printf(&b, "%s #%d", "world", 2);
	tap_is_str(b.data, "hello world #2", "puts, putc and printf append");
	tap_is_int((int)b.len, 14, "length tracks content");

	dew_buf_consume(&b, 6);
	tap_is_str(b.data, "world #2", "consume drops a prefix");
	dew_buf_consume(&b, 100);
	tap_is_int((int)b.len, 0, "consume past the end empties");

	for (int i = 0; i < 10000; i++)
		dew_buf_append(&b, "0123456789", 10);
	tap_is_int((int)b.len, 100000, "grows to 100 kB");
	tap_ok(b.data[b.len] == '\0', "stays NUL-terminated");

	dew_buf_reset(&b);
	dew_buf_append(&b, "a\0b", 3);
	tap_ok(b.len == 3 && memcmp(b.data, "a\0b", 3) == 0, "binary data with NUL bytes");

	char *s = dew_buf_steal(&b);
	tap_ok(b.data == NULL && b.len == 0, "steal empties the buffer");
	free(s);
	s = dew_buf_steal(&b);
	tap_is_str(s, "", "steal of an empty buffer gives an empty string");
	free(s);
	dew_buf_reserve(&b, 100);
	s = dew_buf_steal(&b);
	tap_is_str(s, "", "steal of a buffer that only reserved room gives an empty string");
	free(s);
	dew_buf_close(&b);
	return tap_done();
}
