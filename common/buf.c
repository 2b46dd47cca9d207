// SPDX-License-Identifier: MIT
/*
 * Growable byte buffer with geometric growth and a trailing NUL.
 */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

void dew_buf_init(struct dew_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void dew_buf_close(struct dew_buf *b)
{
	free(b->data);
	dew_buf_init(b);
}

void dew_buf_reserve(struct dew_buf *b, size_t n)
{
	/* +1 keeps room for the terminating NUL. */
	if (b->len + n + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + n + 1) {
		if (cap > SIZE_MAX / 2)
			abort();
		cap *= 2;
	}
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	/* A buffer is always a string, even one that only reserved room so far. */
	b->data[b->len] = '\0';
}

void dew_buf_append(struct dew_buf *b, const void *data, size_t n)
{
	dew_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void dew_buf_puts(struct dew_buf *b, const char *s)
{
	dew_buf_append(b, s, strlen(s));
}

void dew_buf_putc(struct dew_buf *b, char c)
{
	dew_buf_append(b, &c, 1);
}

void dew_buf_vprintf(struct dew_buf *b, const char *fmt, va_list ap)
{
	/* Never NULL; said explicitly because gcc's -O2 with sanitizers otherwise warns here. */
	if (!fmt)
		return;
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	dew_buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void dew_buf_printf(struct dew_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dew_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void dew_buf_consume(struct dew_buf *b, size_t n)
{
	if (n >= b->len) {
		dew_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void dew_buf_reset(struct dew_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *dew_buf_steal(struct dew_buf *b)
{
	if (!b->data)
		return xstrdup("");
	char *p = b->data;
	dew_buf_init(b);
	return p;
}
