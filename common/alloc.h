/* SPDX-License-Identifier: MIT */
/*
 * Allocation helpers: allocators that abort on out-of-memory (so callers never handle NULL from
 * them), cleanup attributes for locals and steal_pointer() to hand ownership out of a scope.
 */
#ifndef DEW_ALLOC_H
#define DEW_ALLOC_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Allocate or abort. Memory from these is released with free(). */
void *xmalloc(size_t size);
void *xzalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* xreallocarray() checks nmemb * size for overflow and aborts on it. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static inline void dew__freep(void *p)
{
	free(*(void **)p);
}

static inline void dew__closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void dew__fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define cleanup_free __attribute__((cleanup(dew__freep)))
#define cleanup_close __attribute__((cleanup(dew__closep)))
#define cleanup_fclose __attribute__((cleanup(dew__fclosep)))

/* Return *pp and set it to NULL, so a cleanup attribute no longer frees it. */
#define steal_pointer(pp)                                                                                    \
	({                                                                                                   \
		__typeof__(*(pp)) dew__tmp = *(pp);                                                          \
		*(pp) = NULL;                                                                                \
		dew__tmp;                                                                                    \
	})

/* Return *fdp and set it to -1, so cleanup_close no longer closes it. */
#define steal_fd(fdp)                                                                                        \
	({                                                                                                   \
		int dew__fd = *(fdp);                                                                        \
		*(fdp) = -1;                                                                                 \
		dew__fd;                                                                                     \
	})

#define DEW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
