// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/config.c: defaults, the file format (sections, comments, quoting,
 * limits), validation messages naming file and line, command-line overrides, and the dump
 * loading back to the same values.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "error.h"
#include "tap.h"

#define ORIGIN "/etc/dew/dew.conf"

struct testcfg {
	char *bus;
	char *listen;
	char *status_listen;
	int log_format;
	int log_level;
	int64_t workers;
	int64_t offset;
	bool verbose;
	uint64_t max_payload;
	uint64_t ping_interval;
	char *name;
};

static const char *const formats[] = { "text", "json", NULL };
static const char *const levels[] = { "error", "warning", "notice", "info", "debug", NULL };

#define KEY(n, t, field, d, lo, hi, ch)                                                                      \
	{                                                                                                    \
		n, t, offsetof(struct testcfg, field), d, lo, hi, ch, "doc of " n                            \
	}

static const struct dew_conf_key keys[] = {
	KEY("bus", DEW_CONF_STRING, bus, "nats://127.0.0.1:4222", 0, 0, NULL),
	KEY("listen", DEW_CONF_HOSTPORT, listen, "127.0.0.1:4222", 0, 0, NULL),
	KEY("status_listen", DEW_CONF_HOSTPORT, status_listen, NULL, 0, 0, NULL),
	KEY("log_format", DEW_CONF_ENUM, log_format, NULL, 0, 0, formats),
	KEY("log_level", DEW_CONF_ENUM, log_level, "info", 0, 0, levels),
	KEY("workers", DEW_CONF_INT, workers, "4", 1, 64, NULL),
	KEY("offset", DEW_CONF_INT, offset, "-5", 0, 0, NULL),
	KEY("verbose", DEW_CONF_BOOL, verbose, "no", 0, 0, NULL),
	KEY("max_payload", DEW_CONF_SIZE, max_payload, "1M", 1024, 64 << 20, NULL),
	KEY("ping_interval", DEW_CONF_DURATION, ping_interval, "2m", 0, 0, NULL),
	KEY("name", DEW_CONF_STRING, name, NULL, 0, 0, NULL),
};
enum { NKEYS = DEW_ARRAY_SIZE(keys) };

/* A daemon that uses none of the shared keys except log_level (like dew-bus lacks `bus`). */
static const struct dew_conf_key small_keys[] = {
	KEY("log_level", DEW_CONF_ENUM, log_level, "info", 0, 0, levels),
	KEY("workers", DEW_CONF_INT, workers, "4", 1, 64, NULL),
};

static void init(struct testcfg *c)
{
	struct dew_error *err = NULL;

	memset(c, 0xa5, sizeof *c); /* init must not read or free what was there */
	if (dew_conf_init(keys, NKEYS, c, &err) < 0)
		tap_diag("init: %s", dew_error_msg(err));
	dew_error_free(err);
}

/* Load text into a fresh config; returns the result and the message (or NULL) in *msg. */
static int load(struct testcfg *c, const char *text, const char *section, char **msg)
{
	struct dew_error *err = NULL;

	init(c);
	int r = dew_conf_load_string(keys, NKEYS, c, text, ORIGIN, section, &err);
	*msg = err ? xstrdup(err->msg) : NULL;
	dew_error_free(err);
	return r;
}

static void test_defaults(void)
{
	struct testcfg c;
	struct dew_error *err = NULL;

	init(&c);
	tap_is_str(c.bus, "nats://127.0.0.1:4222", "default string");
	tap_is_str(c.listen, "127.0.0.1:4222", "default hostport");
	tap_ok(c.status_listen == NULL, "no default: NULL string");
	tap_is_int(c.log_format, 0, "no default: first choice");
	tap_is_int(c.log_level, 3, "default enum");
	tap_is_int(c.workers, 4, "default int");
	tap_is_int(c.offset, -5, "default negative int");
	tap_ok(!c.verbose, "default bool");
	tap_ok(c.max_payload == 1 << 20, "default size");
	tap_ok(c.ping_interval == 120000, "default duration");
	tap_ok(c.name == NULL, "no default string");
	dew_conf_free(keys, NKEYS, &c);
	tap_ok(c.bus == NULL && c.listen == NULL, "free clears the strings");

	struct testcfg d;
	const struct dew_conf_key bad[] = { KEY("workers", DEW_CONF_INT, workers, "100", 1, 64, NULL) };
	tap_is_int(dew_conf_init(bad, 1, &d, &err), -EINVAL, "a default out of bounds is an error");
	tap_is_int(dew_conf_init(bad, 1, &d, NULL), -EINVAL, "the same without an error object");
	tap_is_str(dew_error_msg(err),
		   "built-in default of key `workers`: expected an integer between 1 and 64, got `100`",
		   "bad default message");
	dew_error_clear(&err);

	/* A bad default in the middle: the strings before it are freed, those after are NULL. */
	struct testcfg e;
	const struct dew_conf_key mid[] = {
		KEY("bus", DEW_CONF_STRING, bus, "x", 0, 0, NULL),
		KEY("listen", DEW_CONF_HOSTPORT, listen, "nope", 0, 0, NULL),
		KEY("name", DEW_CONF_STRING, name, "y", 0, 0, NULL),
	};
	memset(&e, 0xa5, sizeof e);
	tap_is_int(dew_conf_init(mid, 3, &e, &err), -EINVAL, "a bad hostport default");
	tap_is_str(dew_error_msg(err), "built-in default of key `listen`: expected HOST:PORT, got `nope`",
		   "bad hostport default message");
	dew_error_clear(&err);
	tap_ok(e.name == NULL, "fields after the bad default are zeroed");
	dew_conf_free(mid, 3, &e);

	tap_ok(dew_conf_find(keys, NKEYS, "workers") == &keys[5], "find a key");
	tap_ok(dew_conf_find(keys, NKEYS, "nope") == NULL, "find an unknown key");
	const char *const *s = dew_conf_sections();
	tap_ok(strcmp(s[0], "bus") == 0 && strcmp(s[6], "run") == 0 && s[7] == NULL, "section list");
	const char *const *k = dew_conf_shared_keys();
	tap_ok(strcmp(k[0], "bus") == 0 && strcmp(k[1], "bus_ping_interval") == 0 &&
		       strcmp(k[2], "log_level") == 0 && strcmp(k[3], "log_format") == 0 && k[4] == NULL,
	       "shared key list");
}

static void test_values(void)
{
	struct testcfg c;
	cleanup_free char *msg = NULL;
	const char *text =
		"# dew.conf\n"
		"\n"
		"bus = nats://10.0.0.1:4222,nats://10.0.0.2:4222   # two servers\n"
		"log_format = json\n"
		"log_level = DEBUG\n"
		"workers = 3\n"
		"[bus]\r\n"
		"  listen   =   [::1]:4333  \n"
		"\tverbose = yes\n"
		"max_payload = 64KiB\n"
		"ping_interval = 250ms\n"
		"workers = 8 # the section wins over the global value\n"
		"offset = -9223372036854775808\n"
		"name = \"a \\\"quoted\\\" \\\\ value\\twith # no comment\\n\"  # but this is one\n"
		"status_listen = 0.0.0.0:0\n";

	tap_is_int(load(&c, text, "bus", &msg), 0, "a full file loads");
	if (msg)
		tap_diag("%s", msg);
	tap_is_str(c.bus, "nats://10.0.0.1:4222,nats://10.0.0.2:4222",
		   "unquoted value, inline comment dropped");
	tap_is_int(c.log_format, 1, "enum");
	tap_is_int(c.log_level, 4, "enum is case-insensitive");
	tap_is_str(c.listen, "[::1]:4333", "hostport stored as given, blanks trimmed");
	tap_ok(c.verbose, "bool yes");
	tap_ok(c.max_payload == 64 << 10, "size 64KiB");
	tap_ok(c.ping_interval == 250, "duration 250ms");
	tap_is_int(c.workers, 8, "own section overrides global");
	tap_ok(c.offset == INT64_MIN, "unbounded int takes INT64_MIN");
	tap_is_str(c.name, "a \"quoted\" \\ value\twith # no comment\n", "quoted value with escapes");
	tap_is_str(c.status_listen, "0.0.0.0:0", "port 0");
	dew_conf_free(keys, NKEYS, &c);

	tap_is_int(load(&c, "name = a#b\nbus = x\t#c\n", NULL, &msg), 0, "a # not after a blank is kept");
	tap_is_str(c.name, "a#b", "a#b");
	tap_is_str(c.bus, "x", "tab before # starts a comment");
	dew_conf_free(keys, NKEYS, &c);

	tap_is_int(load(&c, "name = #comment only\nbus =\nlisten = \"\"\n", NULL, &msg), 0, "empty values");
	tap_ok(c.name == NULL, "a value that is only a comment is empty: unset");
	tap_ok(c.bus == NULL, "an empty string value unsets the key");
	tap_ok(c.listen == NULL, "an empty quoted hostport unsets the key");
	dew_conf_free(keys, NKEYS, &c);

	tap_is_int(load(&c, "", "bus", &msg), 0, "an empty file is fine");
	dew_conf_free(keys, NKEYS, &c);
	tap_is_int(load(&c, "workers = 5", "bus", &msg), 0, "no newline at the end is fine");
	tap_is_int(c.workers, 5, "last line without a newline is read");
	dew_conf_free(keys, NKEYS, &c);
	tap_is_int(load(&c, "name = \"caf\xc3\xa9 \xe2\x82\xac\"\n", "bus", &msg), 0, "UTF-8 text");
	tap_is_str(c.name, "caf\xc3\xa9 \xe2\x82\xac", "UTF-8 value");
	dew_conf_free(keys, NKEYS, &c);
}

/* Each case loads text for section "bus" and must fail with exactly msg. */
static void test_errors(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "[bus]\nmax_payload = lots\n",
		  ORIGIN ":2: key `max_payload`: expected a size such as 512K or 1M, got `lots`" },
		{ "\n\n[bus]\nmax_payload = 128M\n",
		  ORIGIN ":4: key `max_payload`: expected a size between 1K and 64M, got `128M`" },
		{ "[bus]\nmax_payload = 99999999999T\n",
		  ORIGIN ":2: key `max_payload`: expected a size between 1K and 64M, got `99999999999T`" },
		{ "ping_interval = 213503982335d\n", ORIGIN
		  ":1: key `ping_interval`: expected a duration such as 250ms, 5s or 2m, got `213503982335d` "
		  "(out of range)" },
		{ "workers = many\n", ORIGIN ":1: key `workers`: expected an integer, got `many`" },
		{ "workers = 0\n",
		  ORIGIN ":1: key `workers`: expected an integer between 1 and 64, got `0`" },
		{ "offset = 9223372036854775808\n",
		  ORIGIN ":1: key `offset`: expected an integer, got `9223372036854775808` (out of range)" },
		{ "verbose = maybe\n", ORIGIN
		  ":1: key `verbose`: expected a boolean (true/false, yes/no, on/off, 1/0), got `maybe`" },
		{ "ping_interval = 5 minutes\n", ORIGIN
		  ":1: key `ping_interval`: expected a duration such as 250ms, 5s or 2m, got `5 minutes`" },
		{ "log_format = xml\n", ORIGIN ":1: key `log_format`: expected one of text|json, got `xml`" },
		{ "listen = 4222\n", ORIGIN ":1: key `listen`: expected HOST:PORT, got `4222`" },
		{ "listen = \"localhost:70000\"\n",
		  ORIGIN ":1: key `listen`: expected HOST:PORT, got `localhost:70000`" },
		{ "workers = \n", ORIGIN ":1: key `workers`: expected an integer, got ``" },
		{ "[bus]\n\n\n\n\n\n\n\n\n\n\nmax_payloadd = 1M\n",
		  ORIGIN ":12: unknown key `max_payloadd` in section [bus]" },
		{ "colour = blue\n", ORIGIN ":1: unknown key `colour` in the global section" },
		{ "[bus]\nlog_levels = info\n", ORIGIN ":2: unknown key `log_levels` in section [bus]" },
		{ "workers = 1\nworkers = 2\n",
		  ORIGIN ":2: key `workers` is given twice in the global section (first on line 1)" },
		{ "[bus]\nworkers = 1\n[router]\n[bus]\nworkers = 2\n",
		  ORIGIN ":5: key `workers` is given twice in section [bus] (first on line 2)" },
		{ "\n\n\n\n\n\n[dae]\n", ORIGIN
		  ":7: unknown section [dae] (known: bus, controller, dea, router, healthd, broker, run)" },
		{ "[bus\n", ORIGIN ":1: malformed section header `[bus` (expected [name])" },
		{ "[Bus]\n", ORIGIN ":1: malformed section header `[Bus]` (names use a-z, 0-9 and _)" },
		{ "[bus] extra\n", ORIGIN ":1: unexpected text after section header: `extra`" },
		{ "just words\n", ORIGIN ":1: expected `key = value` or `[section]`, got `just words`" },
		{ "= 3\n", ORIGIN ":1: expected `key = value` or `[section]`, got `= 3`" },
		{ "Workers = 3\n", ORIGIN ":1: invalid key name `Workers` (keys use a-z, 0-9 and _)" },
		{ "work-ers = 3\n", ORIGIN ":1: invalid key name `work-ers` (keys use a-z, 0-9 and _)" },
		{ "name = \"open\n", ORIGIN ":1: unterminated quoted value" },
		{ "name = \"ends in \\\n", ORIGIN ":1: unterminated quoted value" },
		{ "name = \"a\\qb\"\n",
		  ORIGIN ":1: unknown escape sequence in quoted value (use \\\" \\\\ \\n \\t)" },
		{ "name = \"a\" b\n", ORIGIN ":1: unexpected text after quoted value: `b`" },
		{ "name = caf\xc3\n", ORIGIN ":1: line is not valid UTF-8 text" },
		{ "name = \xc0\xaf\n", ORIGIN ":1: line is not valid UTF-8 text" },
		{ "name = \xed\xa0\x80\n", ORIGIN ":1: line is not valid UTF-8 text" },
		/* Other sections are skipped, but must still be well-formed. */
		{ "[router]\nthis is not an assignment\n",
		  ORIGIN ":2: expected `key = value` or `[section]`, got "
			 "`this is not an assignment`" },
	};

	for (size_t i = 0; i < DEW_ARRAY_SIZE(cases); i++) {
		struct testcfg c;
		cleanup_free char *msg = NULL;
		int r = load(&c, cases[i].text, "bus", &msg);
		tap_is_int(r, -EINVAL, "error case %zu fails", i);
		tap_is_str(msg, cases[i].msg, "error case %zu message", i);
		dew_conf_free(keys, NKEYS, &c);
	}
}

static void test_sections(void)
{
	struct testcfg c;
	cleanup_free char *msg = NULL;
	const char *text = "workers = 2\n"
			   "[router]\n"
			   "unknown_to_us = whatever\n"
			   "workers = not a number\n"
			   "workers = twice\n"
			   "[controller]\n"
			   "workers = 9\n";

	tap_is_int(load(&c, text, "bus", &msg), 0, "other daemons' sections are skipped");
	tap_is_int(c.workers, 2, "values of other sections are not applied");
	dew_conf_free(keys, NKEYS, &c);
	free(msg);

	tap_is_int(load(&c, text, "controller", &msg), 0, "the controller reads its own section");
	tap_is_int(c.workers, 9, "the controller's value");
	dew_conf_free(keys, NKEYS, &c);
	free(msg);

	tap_is_int(load(&c, "workers = 2\n[bus]\nworkers = 3\n", NULL, &msg), 0, "section NULL: global only");
	tap_is_int(c.workers, 2, "section NULL ignores [bus]");
	dew_conf_free(keys, NKEYS, &c);
	free(msg);

	/* A section named after the caller is known even when not in the list (test daemons). */
	tap_is_int(load(&c, "[testd]\nworkers = 7\n", "testd", &msg), 0, "the caller's own section is known");
	tap_is_int(c.workers, 7, "its value applies");
	dew_conf_free(keys, NKEYS, &c);
	free(msg);
	msg = NULL;
}

static void test_shared_keys(void)
{
	struct testcfg c;
	struct dew_error *err = NULL;
	const char *text = "bus = nats://127.0.0.1:4222\nlog_format = json\nlog_level = debug\nworkers = 6\n";

	memset(&c, 0, sizeof c);
	tap_is_int(dew_conf_init(small_keys, 2, &c, &err), 0, "init the small table");
	tap_is_int(dew_conf_load_string(small_keys, 2, &c, text, ORIGIN, "bus", &err), 0,
		   "shared global keys are tolerated by a table without them");
	tap_is_int(c.log_level, 4, "a shared key in the table applies");
	tap_is_int(c.workers, 6, "other keys apply");
	dew_error_clear(&err);

	tap_is_int(dew_conf_load_string(small_keys, 2, &c, "bus = a\nbus = b\n", ORIGIN, "bus", &err),
		   -EINVAL, "a tolerated key given twice is still an error");
	tap_is_str(dew_error_msg(err),
		   ORIGIN ":2: key `bus` is given twice in the global section (first on line 1)",
		   "duplicate tolerated key message");
	dew_error_clear(&err);

	tap_is_int(dew_conf_load_string(small_keys, 2, &c, "[bus]\nlog_format = json\n", ORIGIN, "bus", &err),
		   -EINVAL, "shared keys are not tolerated in the daemon's section");
	tap_is_str(dew_error_msg(err), ORIGIN ":2: unknown key `log_format` in section [bus]", "message");
	dew_error_clear(&err);
}

static void test_limits(const char *dir)
{
	struct testcfg c;
	cleanup_free char *msg = NULL;
	struct dew_buf b = DEW_BUF_INIT;

	/* "name = " plus padding: exactly 4096 bytes is fine, 4097 is not. */
	dew_buf_puts(&b, "# first line\nname = ");
	while (b.len < 13 + 4096)
		dew_buf_putc(&b, 'x');
	dew_buf_putc(&b, '\n');
	tap_is_int(load(&c, b.data, NULL, &msg), 0, "a line of 4096 bytes is fine");
	tap_is_int(c.name ? (int)strlen(c.name) : 0, 4096 - 7, "its value is complete");
	dew_conf_free(keys, NKEYS, &c);
	b.len--;
	dew_buf_puts(&b, "x\n");
	tap_is_int(load(&c, b.data, NULL, &msg), -EINVAL, "a line of 4097 bytes is an error");
	tap_is_str(msg, ORIGIN ":2: line is longer than 4096 bytes", "line length message");
	free(steal_pointer(&msg));
	dew_conf_free(keys, NKEYS, &c);

	/* A file just over 1 MiB of comments. */
	dew_buf_reset(&b);
	while (b.len <= DEW_CONF_MAX_FILE)
		dew_buf_puts(&b, "# padding padding padding padding padding padding padding padding\n");
	tap_is_int(load(&c, b.data, NULL, &msg), -EINVAL, "a text over 1 MiB is an error");
	tap_is_str(msg, ORIGIN ": file is larger than 1048576 bytes", "file size message");
	free(steal_pointer(&msg));
	dew_conf_free(keys, NKEYS, &c);

	cleanup_free char *path = xasprintf("%s/big.conf", dir);
	FILE *f = fopen(path, "w");
	tap_ok(f && fwrite(b.data, 1, b.len, f) == b.len && fclose(f) == 0, "write a 1 MiB file");
	struct dew_error *err = NULL;
	init(&c);
	tap_is_int(dew_conf_load_file(keys, NKEYS, &c, path, "bus", &err), -EFBIG,
		   "a file over 1 MiB is an error");
	tap_has_str(dew_error_msg(err), path, "message names the file");
	dew_error_clear(&err);
	unlink(path);
	dew_conf_free(keys, NKEYS, &c);
	dew_buf_close(&b);
}

static void test_file(const char *dir)
{
	struct testcfg c;
	struct dew_error *err = NULL;
	cleanup_free char *path = xasprintf("%s/dew.conf", dir);
	FILE *f = fopen(path, "w");

	tap_ok(f && fputs("log_level = warning\n[bus]\nworkers = 12\nverbose = on\n", f) >= 0 &&
		       fclose(f) == 0,
	       "write a config file");
	init(&c);
	tap_is_int(dew_conf_load_file(keys, NKEYS, &c, path, "bus", &err), 0, "load the file");
	tap_is_int(c.workers, 12, "value from the file");
	tap_is_int(c.log_level, 1, "global value from the file");

	/* Flags win over the file. */
	tap_is_int(dew_conf_set(keys, NKEYS, &c, "workers", "16", "--workers", &err), 0, "override a key");
	tap_is_int(c.workers, 16, "the override wins");
	tap_is_int(dew_conf_set(keys, NKEYS, &c, "listen", "x", "--listen", &err), -EINVAL, "bad override");
	tap_is_str(dew_error_msg(err), "--listen: expected HOST:PORT, got `x`",
		   "override message names the flag");
	dew_error_clear(&err);
	tap_is_int(dew_conf_set(keys, NKEYS, &c, "listen", "x", NULL, &err), -EINVAL,
		   "bad override without origin");
	tap_is_str(dew_error_msg(err), "key `listen`: expected HOST:PORT, got `x`", "message names the key");
	dew_error_clear(&err);
	tap_is_int(dew_conf_set(keys, NKEYS, &c, "nope", "1", "--nope", &err), -EINVAL,
		   "unknown key override");
	tap_is_str(dew_error_msg(err), "--nope: unknown key `nope`", "unknown override message");
	dew_error_clear(&err);

	tap_is_int(dew_conf_set_assignment(keys, NKEYS, &c, "max_payload=2M", &err), 0, "-o KEY=VALUE");
	tap_ok(c.max_payload == 2 << 20, "-o value applied");
	tap_is_int(dew_conf_set_assignment(keys, NKEYS, &c, "name=a=b", &err), 0, "-o value with '='");
	tap_is_str(c.name, "a=b", "value keeps everything after the first '='");
	tap_is_int(dew_conf_set_assignment(keys, NKEYS, &c, "max_payload=1G", &err), -EINVAL, "-o bad value");
	tap_is_str(dew_error_msg(err), "-o max_payload: expected a size between 1K and 64M, got `1G`",
		   "-o message");
	dew_error_clear(&err);
	tap_is_int(dew_conf_set_assignment(keys, NKEYS, &c, "workers", &err), -EINVAL, "-o without '='");
	tap_is_str(dew_error_msg(err), "-o: expected KEY=VALUE, got `workers`", "-o syntax message");
	dew_error_clear(&err);
	tap_is_int(dew_conf_set_assignment(keys, NKEYS, &c, "=3", &err), -EINVAL, "-o without a key");
	dew_error_clear(&err);
	tap_is_int(dew_conf_set_assignment(keys, NKEYS, &c, "colour=blue", &err), -EINVAL, "-o unknown key");
	tap_is_str(dew_error_msg(err), "-o: unknown key `colour`", "-o unknown key message");
	dew_error_clear(&err);
	dew_conf_free(keys, NKEYS, &c);

	cleanup_free char *missing = xasprintf("%s/missing.conf", dir);
	init(&c);
	tap_is_int(dew_conf_load_file(keys, NKEYS, &c, missing, "bus", &err), -ENOENT, "missing file");
	tap_has_str(dew_error_msg(err), missing, "message names the missing file");
	dew_error_clear(&err);
	dew_conf_free(keys, NKEYS, &c);

	f = fopen(path, "w");
	tap_ok(f && fwrite("workers = 3\n[bus]\nname = a\0b\n", 1, 29, f) == 29 && fclose(f) == 0,
	       "write a file with a NUL byte");
	init(&c);
	tap_is_int(dew_conf_load_file(keys, NKEYS, &c, path, "bus", &err), -EINVAL, "a NUL byte is an error");
	cleanup_free char *want = xasprintf("%s:3: line is not valid UTF-8 text", path);
	tap_is_str(dew_error_msg(err), want, "NUL message names file and line");
	dew_error_clear(&err);
	dew_conf_free(keys, NKEYS, &c);
	unlink(path);
}

static void test_dump(void)
{
	struct testcfg c, d;
	struct dew_buf out = DEW_BUF_INIT;
	struct dew_error *err = NULL;

	init(&c);
	dew_conf_dump(keys, NKEYS, &c, &out);
	tap_is_str(out.data,
		   "bus = nats://127.0.0.1:4222\n"
		   "listen = 127.0.0.1:4222\n"
		   "status_listen = \"\"\n"
		   "log_format = text\n"
		   "log_level = info\n"
		   "workers = 4\n"
		   "offset = -5\n"
		   "verbose = false\n"
		   "max_payload = 1M\n"
		   "ping_interval = 2m\n"
		   "name = \"\"\n",
		   "dump of the defaults");

	/* Values that need quoting, odd units and extremes, set the way a user would. */
	static const char *const sets[][2] = {
		{ "bus", " lead # and trail\t" },
		{ "listen", "[::1]:0" },
		{ "log_format", "json" },
		{ "log_level", "debug" },
		{ "workers", "64" },
		{ "offset", "-9223372036854775808" },
		{ "verbose", "on" },
		{ "max_payload", "1025" },
		{ "ping_interval", "90s" },
		{ "name", "\"q\" \\ x\ny\tz #" },
		{ "status_listen", "h:1" },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(sets); i++) {
		if (dew_conf_set(keys, NKEYS, &c, sets[i][0], sets[i][1], NULL, &err) < 0) {
			tap_diag("%s", dew_error_msg(err));
			dew_error_clear(&err);
		}
	}
	dew_buf_reset(&out);
	dew_conf_dump(keys, NKEYS, &c, &out);
	tap_has_str(out.data, "ping_interval = 90s\n", "90 s stays in seconds");
	tap_has_str(out.data, "max_payload = 1025\n", "an inexact size stays in bytes");
	tap_has_str(out.data, "name = \"\\\"q\\\" \\\\ x\\ny\\tz #\"\n", "string with specials is quoted");

	init(&d);
	int r = dew_conf_load_string(keys, NKEYS, &d, out.data, "dump", "bus", &err);
	tap_is_int(r, 0, "the dump loads back");
	if (r < 0)
		tap_diag("%s\n%s", dew_error_msg(err), out.data);
	dew_error_clear(&err);
	tap_is_str(d.bus, c.bus, "round trip: string with blanks and #");
	tap_is_str(d.listen, c.listen, "round trip: hostport");
	tap_is_str(d.status_listen, c.status_listen, "round trip: second hostport");
	tap_is_int(d.log_format, c.log_format, "round trip: enum");
	tap_is_int(d.log_level, c.log_level, "round trip: enum 2");
	tap_is_int(d.workers, c.workers, "round trip: int");
	tap_ok(d.offset == c.offset, "round trip: INT64_MIN");
	tap_ok(d.verbose == c.verbose, "round trip: bool");
	tap_ok(d.max_payload == c.max_payload, "round trip: size");
	tap_ok(d.ping_interval == c.ping_interval, "round trip: duration");
	tap_is_str(d.name, c.name, "round trip: string with quotes, escapes and newline");

	/* A value starting with '#' would read as a comment after "name = " unless quoted. */
	dew_conf_set(keys, NKEYS, &c, "name", "#hash", NULL, &err);
	dew_buf_reset(&out);
	dew_conf_dump(keys, NKEYS, &c, &out);
	dew_conf_free(keys, NKEYS, &d);
	init(&d);
	tap_is_int(dew_conf_load_string(keys, NKEYS, &d, out.data, "dump", NULL, &err), 0,
		   "dump loads again");
	tap_is_str(d.name, "#hash", "round trip: string starting with #");

	dew_conf_free(keys, NKEYS, &c);
	dew_conf_free(keys, NKEYS, &d);
	dew_buf_close(&out);
}

static void test_dump_units(void)
{
	struct testcfg d;
	struct dew_buf out = DEW_BUF_INIT;
	struct dew_error *err = NULL;

	init(&d);
	/* Durations and sizes are written in the largest exact unit. */
	static const char *const units[][2] = {
		{ "ping_interval", "250ms" }, { "ping_interval", "3s" }, { "ping_interval", "2h" },
		{ "ping_interval", "2d" },    { "ping_interval", "0" },	 { "max_payload", "3G" },
		{ "max_payload", "64K" },
	};
	static const char *const want[] = {
		"ping_interval = 250ms\n", "ping_interval = 3s\n", "ping_interval = 2h\n",
		"ping_interval = 2d\n",	   "ping_interval = 0s\n", NULL,
		"max_payload = 64K\n",
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(units); i++) {
		int rs = dew_conf_set(keys, NKEYS, &d, units[i][0], units[i][1], NULL, &err);
		if (!want[i]) {
			tap_is_int(rs, -EINVAL, "3G is above the bound of max_payload");
			dew_error_clear(&err);
			continue;
		}
		dew_buf_reset(&out);
		dew_conf_dump(keys, NKEYS, &d, &out);
		tap_has_str(out.data, want[i], "dump of %s", units[i][1]);
	}
	dew_conf_free(keys, NKEYS, &d);
	dew_buf_close(&out);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	cleanup_free char *dir = xasprintf("%s/dew-test-config.XXXXXX", base && *base ? base : "/tmp");

	test_defaults();
	test_values();
	test_errors();
	test_sections();
	test_shared_keys();
	test_dump();
	test_dump_units();
	if (!mkdtemp(dir)) {
		tap_ok(false, "mkdtemp %s: %s", dir, strerror(errno));
		return tap_done();
	}
	test_limits(dir);
	test_file(dir);
	if (rmdir(dir) < 0)
		tap_diag("rmdir %s: %s", dir, strerror(errno));
	return tap_done();
}
