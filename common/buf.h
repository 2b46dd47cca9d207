/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer (always NUL-terminated, so text can be used as a C string), for
 * building responses, metrics pages and protocol frames.
 */
#ifndef DEW_BUF_H
#define DEW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct dew_buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
};

#define DEW_BUF_INIT                                                                                         \
	{                                                                                                    \
		NULL, 0, 0                                                                                   \
	}

void dew_buf_init(struct dew_buf *b);
/* Release the memory; the buffer is empty and reusable afterwards. */
void dew_buf_close(struct dew_buf *b);
/* Make room for n more bytes. */
void dew_buf_reserve(struct dew_buf *b, size_t n);
void dew_buf_append(struct dew_buf *b, const void *data, size_t n);
void dew_buf_puts(struct dew_buf *b, const char *s);
void dew_buf_putc(struct dew_buf *b, char c);
void dew_buf_printf(struct dew_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dew_buf_vprintf(struct dew_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes (a consumed prefix). */
void dew_buf_consume(struct dew_buf *b, size_t n);
void dew_buf_reset(struct dew_buf *b);
/* Hand the data out (caller frees) and leave the buffer empty. Never NULL. */
char *dew_buf_steal(struct dew_buf *b);

static inline void dew__buf_closep(struct dew_buf *b)
{
	dew_buf_close(b);
}
#define cleanup_buf __attribute__((cleanup(dew__buf_closep)))

#endif
