// SPDX-License-Identifier: MIT
/* Unit tests of common/error.h: codes, strerror suffixes, context prefixes. */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "tap.h"

static int open_config(const char *path, struct dew_error **err)
{
	return dew_error_set(err, ENOENT, "open `%s`", path);
}

static int load_daemon(struct dew_error **err)
{
	int r = open_config("/etc/dew/dew.conf", err);
	if (r < 0)
		return dew_error_prefix(err, "load configuration of `%s`", "dew-bus");
	return 0;
}

int main(void)
{
	struct dew_error *err = NULL;
	int r = load_daemon(&err);
	tap_is_int(r, -ENOENT, "the negative errno travels up");
	tap_is_int(err->code, ENOENT, "the code is kept");
	tap_is_str(dew_error_msg(err),
		   "load configuration of `dew-bus`: open `/etc/dew/dew.conf`: No such file or directory",
		   "each layer adds its context in front");
	dew_error_clear(&err);
	tap_ok(err == NULL, "dew_error_clear resets the pointer");

	r = dew_error_set(&err, 0, "field `memory` must be an integer");
	tap_is_int(r, -EINVAL, "a logical error is EINVAL");
	tap_is_str(dew_error_msg(err), "field `memory` must be an integer", "no strerror for logical errors");

	r = dew_error_set(&err, EACCES, "second error");
	tap_is_int(r, -EACCES, "a second set returns its own code");
	tap_has_str(dew_error_msg(err), "memory", "but the first error is kept");
	dew_error_free(err);

	r = dew_error_set(NULL, EPERM, "nobody listens");
	tap_is_int(r, -EPERM, "a NULL err pointer is allowed");
	tap_is_int(dew_error_prefix(NULL, "x"), -EINVAL, "prefix of nothing is EINVAL");
	tap_is_str(dew_error_msg(NULL), "unknown error", "message of NULL");

	{
		cleanup_error struct dew_error *scoped = NULL;
		dew_error_set(&scoped, EIO, "scoped");
		tap_has_str(dew_error_msg(scoped), "Input/output error",
			    "cleanup_error scope (freed at exit)");
	}
	return tap_done();
}
