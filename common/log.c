// SPDX-License-Identifier: MIT
/*
 * Line logger. Each line is formatted into a stack buffer and written with one write(2), so
 * lines from several threads or processes sharing stderr never interleave.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"

enum { LOG_LINE_MAX = 4096 };

/* The logger's configuration: the project's one global, set once in main. */
static struct {
	char ident[64];
	enum dew_log_format format;
	enum dew_log_level level;
	int fd;
	bool journal;
} logger = { "dew", DEW_LOG_TEXT, DEW_LOG_INFO, STDERR_FILENO, false };

static const struct {
	const char *name;
	enum dew_log_level level;
} level_names[] = {
	{ "err", DEW_LOG_ERR },	     { "error", DEW_LOG_ERR },	   { "warning", DEW_LOG_WARNING },
	{ "warn", DEW_LOG_WARNING }, { "notice", DEW_LOG_NOTICE }, { "info", DEW_LOG_INFO },
	{ "debug", DEW_LOG_DEBUG },
};

/* JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected; trust it only for that fd. */
static bool fd_is_journal(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(fd, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void dew_log_setup(const char *ident, enum dew_log_format format, enum dew_log_level level)
{
	snprintf(logger.ident, sizeof logger.ident, "%s", ident ? ident : "dew");
	logger.format = format;
	logger.level = level;
	logger.journal = fd_is_journal(logger.fd);
}

void dew_log_set_fd(int fd)
{
	logger.fd = fd;
	logger.journal = fd_is_journal(fd);
}

enum dew_log_level dew_log_get_level(void)
{
	return logger.level;
}

int dew_log_level_parse(const char *s, enum dew_log_level *out)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(s, level_names[i].name) == 0) {
			*out = level_names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

int dew_log_format_parse(const char *s, enum dew_log_format *out)
{
	if (strcasecmp(s, "text") == 0)
		*out = DEW_LOG_TEXT;
	else if (strcasecmp(s, "json") == 0)
		*out = DEW_LOG_JSON;
	else
		return -EINVAL;
	return 0;
}

const char *dew_log_level_name(enum dew_log_level level)
{
	switch (level) {
	case DEW_LOG_ERR:
		return "error";
	case DEW_LOG_WARNING:
		return "warning";
	case DEW_LOG_NOTICE:
		return "notice";
	case DEW_LOG_INFO:
		return "info";
	case DEW_LOG_DEBUG:
		return "debug";
	}
	return "info";
}

/* Append s to buf[*len..cap) as the inside of a JSON string. Stops early when full. */
static void json_escape(char *buf, size_t *len, size_t cap, const char *s)
{
	for (; *s && *len + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[(*len)++] = '\\';
			buf[(*len)++] = (char)c;
		} else if (c == '\n') {
			buf[(*len)++] = '\\';
			buf[(*len)++] = 'n';
		} else if (c == '\t') {
			buf[(*len)++] = '\\';
			buf[(*len)++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			*len += (size_t)snprintf(buf + *len, cap - *len, "\\u%04x", c);
		} else {
			buf[(*len)++] = (char)c;
		}
	}
}

static void append(char *buf, size_t *len, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t *len, size_t cap, const char *fmt, ...)
{
	if (*len >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

static void timestamp(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void dew_vlog(enum dew_log_level level, const char *fmt, va_list ap)
{
	if (level > logger.level)
		return;

	int saved_errno = errno;
	char msg[LOG_LINE_MAX];
	char line[LOG_LINE_MAX + 512];
	char ts[40];
	size_t len = 0;
	/* Leave room for the newline. */
	const size_t cap = sizeof line - 1;

	vsnprintf(msg, sizeof msg, fmt, ap);
	timestamp(ts, sizeof ts);

	if (logger.journal)
		append(line, &len, cap, "<%d>", (int)level);

	if (logger.format == DEW_LOG_JSON) {
		append(line, &len, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"", ts,
		       dew_log_level_name(level));
		json_escape(line, &len, cap - 3, logger.ident);
		append(line, &len, cap, "\",\"pid\":%d,\"msg\":\"", (int)getpid());
		json_escape(line, &len, cap - 3, msg);
		append(line, &len, cap, "\"}");
	} else if (logger.journal) {
		append(line, &len, cap, "%s", msg);
	} else {
		append(line, &len, cap, "%s %s[%d] %s: %s", ts, logger.ident, (int)getpid(),
		       dew_log_level_name(level), msg);
	}
	line[len++] = '\n';

	/* One write per line; a short write to a pipe of a line this size cannot happen. */
	if (write(logger.fd, line, len) < 0) {
		/* Nowhere left to report it. */
	}
	errno = saved_errno;
}

void dew_log(enum dew_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dew_vlog(level, fmt, ap);
	va_end(ap);
}
