/* SPDX-License-Identifier: MIT */
/*
 * Errors of synchronous code (crun's model): a function returns a negative errno and fills a
 * struct dew_error whose message gains context at every layer on the way up. Only the top
 * (main, a request handler) prints and frees it. Error objects never cross an async boundary.
 */
#ifndef DEW_ERROR_H
#define DEW_ERROR_H

struct dew_error {
	int code;  /* a positive errno value */
	char *msg; /* "open `x`: No such file or directory", owned */
};

/*
 * Fill *err (when err is not NULL and *err is NULL) with a message from fmt; when errnum > 0,
 * ": strerror(errnum)" is appended. errnum 0 means a logical error (bad input) and is stored as
 * EINVAL. Returns -code, so callers can write `return dew_error_set(err, errno, "...")`.
 */
int dew_error_set(struct dew_error **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Like dew_error_set with errnum 0 (no strerror appended) but recording code as the errno:
 * for refusals that have a fitting errno yet whose message says it better (e.g. -EFBIG with
 * "file `x` is larger than 1 MiB"). Returns -code.
 */
int dew_error_set_code(struct dew_error **err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prepend "context: " to the message of *err. Returns -(*err)->code, or -EINVAL when there is
 * no error to extend (err NULL or *err NULL).
 */
int dew_error_prefix(struct dew_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message of err, or "unknown error" when err is NULL. */
const char *dew_error_msg(const struct dew_error *err);

/* Free err and its message; NULL is fine. */
void dew_error_free(struct dew_error *err);

/* Release *err and set it to NULL. */
void dew_error_clear(struct dew_error **err);

static inline void dew__error_freep(struct dew_error **err)
{
	dew_error_free(*err);
}
#define cleanup_error __attribute__((cleanup(dew__error_freep)))

#endif
