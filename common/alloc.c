// SPDX-License-Identifier: MIT
/*
 * Allocators that abort on out-of-memory. A daemon that cannot allocate a few bytes cannot
 * report anything useful either; aborting keeps every caller free of NULL checks.
 */
#include "alloc.h"

#include <stdint.h>
#include <string.h>

static void __attribute__((noreturn)) oom(size_t size)
{
	/* No allocation here: write the message straight to stderr. */
	char msg[96];
	int n = snprintf(msg, sizeof msg, "dew: out of memory allocating %zu bytes\n", size);
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0) {
		/* nothing left to do */
	}
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

void *xzalloc(size_t size)
{
	return xcalloc(1, size);
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

void *xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		oom(SIZE_MAX);
	return xrealloc(ptr, nmemb * size);
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom(strlen(s) + 1);
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom(n + 1);
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *p = NULL;
	if (vasprintf(&p, fmt, ap) < 0)
		oom(strlen(fmt));
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}
