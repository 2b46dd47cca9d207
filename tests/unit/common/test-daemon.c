// SPDX-License-Identifier: MIT
/* Unit tests of common/daemon.h option parsing: defaults, file, flags, -o, and usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "daemon.h"
#include "fs.h"
#include "log.h"
#include "tap.h"

struct cfg {
	struct dew_daemon_core core;
	char *name;
	int64_t count;
	bool flag;
	uint64_t limit;
};

static const struct dew_conf_key keys[] = {
	DEW_DAEMON_CORE_KEYS(struct cfg, "127.0.0.1:4000", "127.0.0.1:0"),
	{ "name", DEW_CONF_STRING, offsetof(struct cfg, name), "default-name", 0, 0, NULL, "a name" },
	{ "count", DEW_CONF_INT, offsetof(struct cfg, count), "3", 0, 10, NULL, "a count" },
	{ "flag", DEW_CONF_BOOL, offsetof(struct cfg, flag), "true", 0, 0, NULL, "a flag" },
	{ "limit", DEW_CONF_SIZE, offsetof(struct cfg, limit), "1M", 0, 0, NULL, "a size" },
};

static const struct dew_daemon_info info = {
	.name = "dew-unit",
	.section = "run",
	.summary = "unit",
	.keys = keys,
	.n_keys = DEW_ARRAY_SIZE(keys),
	.uses_bus = false,
};

static char conf_path[256];

/* Parse a NULL-terminated argument list; returns parse_args' result, error text in *msg. */
static int parse(struct dew_daemon *d, struct cfg *c, char **msg, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = (char *)"dew-unit";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	memset(c, 0, sizeof *c);
	struct dew_error *err = NULL;
	int r = dew_daemon_parse_args(d, &info, c, &c->core, argc, argv, &err);
	*msg = err ? xstrdup(dew_error_msg(err)) : NULL;
	dew_error_free(err);
	return r;
}

int main(void)
{
	struct dew_daemon d;
	struct cfg c;
	char *msg;
	int r;

	snprintf(conf_path, sizeof conf_path, "/tmp/dew-test-daemon-%d.conf", (int)getpid());
	const char *text = "log_level = debug\n[run]\nname = from-file\ncount = 7\n";
	if (dew_write_file_atomic(conf_path, text, strlen(text), 0644, NULL) < 0)
		return 1;

	r = parse(&d, &c, &msg, (const char *[]){ "-c", "/dev/null", NULL });
	tap_is_int(r, DEW_DAEMON_RUN, "no options: run");
	tap_is_str(c.core.listen, "127.0.0.1:4000", "listen default");
	tap_is_str(c.name, "default-name", "string default");
	tap_ok(c.count == 3 && c.flag && c.limit == 1048576, "int, bool and size defaults");
	tap_is_int(c.core.log_level, 3, "log level default is info");
	dew_daemon_free(&d);

	r = parse(&d, &c, &msg, (const char *[]){ "--count", "9", "-c", conf_path, "--no-flag", NULL });
	tap_is_int(r, DEW_DAEMON_RUN, "file plus flags");
	tap_is_str(c.name, "from-file", "a value from the file");
	tap_is_int(c.count, 9, "a flag before -c still wins over the file");
	tap_ok(!c.flag, "--no-flag sets a boolean false");
	tap_is_int(c.core.log_level, 4, "a global key of the file applies (log_level = debug)");
	dew_daemon_free(&d);

	r = parse(&d, &c, &msg,
		  (const char *[]){ "-c", conf_path, "-o", "name=over", "--flag", "--limit=64K", "--listen",
				    "0.0.0.0:0", NULL });
	tap_is_int(r, DEW_DAEMON_RUN, "-o, --flag, --key=value");
	tap_is_str(c.name, "over", "-o KEY=VALUE");
	tap_ok(c.flag, "--flag alone sets true");
	tap_is_int((int64_t)c.limit, 65536, "--limit=64K");
	tap_is_str(c.core.listen, "0.0.0.0:0", "--listen");
	dew_daemon_free(&d);

	r = parse(&d, &c, &msg, (const char *[]){ "-c", "/dev/null", "--count", "11", NULL });
	tap_ok(r < 0, "out-of-range flag is an error");
	tap_has_str(msg, "--count", "the error names the flag");
	free(msg);
	dew_daemon_free(&d);

	r = parse(&d, &c, &msg, (const char *[]){ "-c", "/dev/null", "--bus", "nats://x:1", NULL });
	tap_ok(r < 0, "--bus is not offered by a daemon that does not use the bus");
	tap_has_str(msg, "unknown option `--bus`", "and the error says so");
	free(msg);
	dew_daemon_free(&d);

	r = parse(&d, &c, &msg, (const char *[]){ "-c", "/dev/null", "--count", NULL });
	tap_ok(r < 0, "a missing value is an error");
	tap_has_str(msg, "needs a value", "and says what is missing");
	free(msg);
	dew_daemon_free(&d);

	r = parse(&d, &c, &msg, (const char *[]){ "-c", "/dev/null", "stray", NULL });
	tap_ok(r < 0, "a stray argument is an error");
	tap_has_str(msg, "unexpected argument `stray`", "naming it");
	free(msg);
	dew_daemon_free(&d);

	r = parse(&d, &c, &msg, (const char *[]){ "-o", "noequals", NULL });
	tap_ok(r < 0, "-o without = is an error");
	free(msg);
	dew_daemon_free(&d);

	r = parse(&d, &c, &msg, (const char *[]){ "-c", "/nonexistent/dew.conf", NULL });
	tap_ok(r < 0, "an explicit config file that does not exist is an error");
	tap_has_str(msg, "/nonexistent/dew.conf", "naming the file");
	free(msg);
	dew_daemon_free(&d);

	unlink(conf_path);
	return tap_done();
}
