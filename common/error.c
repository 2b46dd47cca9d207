// SPDX-License-Identifier: MIT
/*
 * struct dew_error: an errno plus a message that each layer extends with its own context.
 */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

int dew_error_set(struct dew_error **err, int errnum, const char *fmt, ...)
{
	int code = errnum > 0 ? errnum : EINVAL;

	if (!err || *err)
		return -code;

	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);

	struct dew_error *e = xmalloc(sizeof *e);
	e->code = code;
	e->msg = errnum > 0 ? xasprintf("%s: %s", msg, strerror(errnum)) : steal_pointer(&msg);
	*err = e;
	return -code;
}

int dew_error_set_code(struct dew_error **err, int code, const char *fmt, ...)
{
	bool fresh = err && !*err;
	va_list ap;

	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	dew_error_set(err, 0, "%s", msg);
	if (fresh)
		(*err)->code = code;
	return -code;
}

int dew_error_prefix(struct dew_error **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -EINVAL;

	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *ctx = xvasprintf(fmt, ap);
	va_end(ap);

	char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
	free((*err)->msg);
	(*err)->msg = msg;
	return -(*err)->code;
}

const char *dew_error_msg(const struct dew_error *err)
{
	return err && err->msg ? err->msg : "unknown error";
}

void dew_error_free(struct dew_error *err)
{
	if (!err)
		return;
	free(err->msg);
	free(err);
}

void dew_error_clear(struct dew_error **err)
{
	if (!err)
		return;
	dew_error_free(*err);
	*err = NULL;
}
