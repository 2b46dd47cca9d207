// SPDX-License-Identifier: MIT
/* Unit tests of common/log.h: levels, text and JSON lines, journal priority prefixes. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "tap.h"

/* Log through fn into a pipe and return what was written (caller frees). */
static char *capture(void (*fn)(void))
{
	int p[2];
	if (pipe(p) < 0)
		abort();
	dew_log_set_fd(p[1]);
	fn();
	close(p[1]);
	char *out = xzalloc(65536);
	size_t len = 0;
	ssize_t n;
	while (len < 65535 && (n = read(p[0], out + len, 65535 - len)) > 0)
		len += (size_t)n;
	close(p[0]);
	dew_log_set_fd(STDERR_FILENO);
	return out;
}

static void log_some(void)
{
	dew_info("started %d workers", 4);
	dew_debug("invisible at info");
	dew_err("failed: %s", "disk full");
}

static void log_tricky(void)
{
	dew_warn("quote \" backslash \\ newline\n tab\t bell\a end");
}

static void log_huge(void)
{
	char *big = xmalloc(10000);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	dew_info("%s", big);
	free(big);
}

int main(void)
{
	enum dew_log_level lvl;
	enum dew_log_format fmt;
	tap_ok(dew_log_level_parse("warning", &lvl) == 0 && lvl == DEW_LOG_WARNING, "parse level warning");
	tap_ok(dew_log_level_parse("DEBUG", &lvl) == 0 && lvl == DEW_LOG_DEBUG,
	       "level names are case-insensitive");
	tap_ok(dew_log_level_parse("loud", &lvl) < 0, "unknown level refused");
	tap_ok(dew_log_format_parse("json", &fmt) == 0 && fmt == DEW_LOG_JSON, "parse format json");
	tap_ok(dew_log_format_parse("xml", &fmt) < 0, "unknown format refused");

	unsetenv("JOURNAL_STREAM");
	dew_log_setup("dew-test", DEW_LOG_TEXT, DEW_LOG_INFO);
	char *out = capture(log_some);
	tap_has_str(out, "dew-test[", "text lines carry the ident and pid");
	tap_has_str(out, " info: started 4 workers\n", "text line has level and message");
	tap_has_str(out, " error: failed: disk full\n", "error line");
	tap_ok(strstr(out, "invisible") == NULL, "debug is dropped at level info");
	tap_ok(out[0] >= '2' && out[4] == '-' && strchr(out, 'Z'),
	       "text lines start with an ISO-8601 UTC time");
	free(out);

	dew_log_setup("dew-test", DEW_LOG_JSON, DEW_LOG_DEBUG);
	out = capture(log_tricky);
	json_error_t jerr;
	json_t *rec = json_loads(out, 0, &jerr);
	tap_ok(rec != NULL, "a JSON line with quotes, backslashes and control characters parses");
	tap_is_str(json_string_value(json_object_get(rec, "msg")),
		   "quote \" backslash \\ newline\n tab\t bell\a end",
		   "the message survives escaping exactly");
	tap_is_str(json_string_value(json_object_get(rec, "level")), "warning", "JSON level name");
	tap_is_str(json_string_value(json_object_get(rec, "component")), "dew-test", "JSON component");
	tap_ok(json_is_integer(json_object_get(rec, "pid")), "JSON pid");
	json_decref(rec);
	free(out);

	out = capture(log_huge);
	rec = json_loads(out, 0, &jerr);
	tap_ok(rec != NULL, "an oversized message is truncated into a still-valid JSON line");
	json_decref(rec);
	tap_ok(strchr(out, '\n') == out + strlen(out) - 1, "exactly one line");
	free(out);

	/* Journal mode: JOURNAL_STREAM must name the device:inode of the log fd. */
	char path[] = "/tmp/dew-test-log-XXXXXX";
	int fd = mkstemp(path);
	struct stat st;
	fstat(fd, &st);
	char js[64];
	snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	dew_log_set_fd(fd);
	dew_log_setup("dew-test", DEW_LOG_TEXT, DEW_LOG_INFO);
	dew_err("to the journal");
	dew_notice("noted");
	setenv("JOURNAL_STREAM", "1:2", 1);
	dew_log_set_fd(fd);
	dew_info("not a journal fd");
	char text[512] = { 0 };
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	tap_ok(n > 0, "journal lines written");
	tap_ok(strncmp(text, "<3>to the journal\n<5>noted\n", 27) == 0, "journal lines are <N>message");
	tap_has_str(text, " info: not a journal fd", "a JOURNAL_STREAM naming another file is ignored");
	close(fd);
	unlink(path);
	unsetenv("JOURNAL_STREAM");
	dew_log_set_fd(STDERR_FILENO);
	return tap_done();
}
