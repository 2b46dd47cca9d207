/* SPDX-License-Identifier: MIT */
/*
 * The logger every program uses: syslog-numbered levels, text or JSON lines on stderr, and
 * "<N>" priority prefixes when stderr is connected to the journal (JOURNAL_STREAM). Its
 * configuration is the one global of the project, set once in main.
 */
#ifndef DEW_LOG_H
#define DEW_LOG_H

#include <stdarg.h>
#include <stdbool.h>

/* The values are syslog's, so they double as journal priorities. */
enum dew_log_level {
	DEW_LOG_ERR = 3,
	DEW_LOG_WARNING = 4,
	DEW_LOG_NOTICE = 5,
	DEW_LOG_INFO = 6,
	DEW_LOG_DEBUG = 7,
};

enum dew_log_format {
	DEW_LOG_TEXT,
	DEW_LOG_JSON,
};

/*
 * Configure the logger: ident names the program in each line; lines above level are dropped.
 * Looks at JOURNAL_STREAM: when it names the device and inode of the output fd, each line gets
 * a "<N>" prefix and no timestamp (journald adds its own).
 */
void dew_log_setup(const char *ident, enum dew_log_format format, enum dew_log_level level);

/* Send log lines to fd instead of stderr (tests). Re-checks JOURNAL_STREAM against fd. */
void dew_log_set_fd(int fd);

enum dew_log_level dew_log_get_level(void);

/* Parse "err|error|warning|warn|notice|info|debug" and "text|json". 0, or -EINVAL. */
int dew_log_level_parse(const char *s, enum dew_log_level *out);
int dew_log_format_parse(const char *s, enum dew_log_format *out);
const char *dew_log_level_name(enum dew_log_level level);

/* Write one line (the message is truncated at 4 KiB). A single write(2) per line. */
void dew_log(enum dew_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dew_vlog(enum dew_log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define dew_err(...) dew_log(DEW_LOG_ERR, __VA_ARGS__)
#define dew_warn(...) dew_log(DEW_LOG_WARNING, __VA_ARGS__)
#define dew_notice(...) dew_log(DEW_LOG_NOTICE, __VA_ARGS__)
#define dew_info(...) dew_log(DEW_LOG_INFO, __VA_ARGS__)
#define dew_debug(...)                                                                                       \
	do {                                                                                                 \
		if (dew_log_get_level() >= DEW_LOG_DEBUG)                                                    \
			dew_log(DEW_LOG_DEBUG, __VA_ARGS__);                                                 \
	} while (0)

#endif
