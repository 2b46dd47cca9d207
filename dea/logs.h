/* SPDX-License-Identifier: MIT */
/*
 * An instance's logs on the bus (DESIGN.md section 5.1, `logs.<app_id>`): the runtime's monitor
 * writes the app's stdout and stderr into stdout.log and stderr.log of the instance's log dir
 * (rotated at 8 MiB to .1); a log tail follows both files (inotify through uv_fs_event, reading
 * from the end it found when it started) and publishes each complete line as
 * {app, index, instance, source: "APP", stream: "out"|"err", ts, line}. A token bucket per tail
 * bounds the lines per second; dropped lines are counted and reported once a second as one
 * source "DEA" line ("dew-dea: N log lines dropped (rate limit M/s)"). Runs on the loop thread.
 */
#ifndef DEW_DEA_LOGS_H
#define DEW_DEA_LOGS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus-client.h"

enum {
	LOG_LINE_MAX = 4096,	/* longer lines are cut here (and published with a trailing "…") */
	LOG_RATE_DEFAULT = 200, /* lines per second per instance */
};

struct log_tail;

struct log_tail_options {
	const char *log_dir; /* holds stdout.log and stderr.log (may not exist yet) */
	const char *app_id;  /* subject logs.<app_id>; the app field */
	int64_t index;
	const char *instance_id;
	uint32_t rate;	 /* lines per second (burst: the same); 0: LOG_RATE_DEFAULT */
	bool from_start; /* publish what the files already hold (else start at their end) */
};

/* Start following; *out is freed with log_tail_free. Returns 0 or -errno. */
int log_tail_new(uv_loop_t *loop, struct dew_bus *bus, const struct log_tail_options *opts,
		 struct log_tail **out);
/* Read and publish whatever is left, then stop and free (closing handles asynchronously). */
void log_tail_free(struct log_tail *t);

struct log_tail_stats {
	uint64_t lines, dropped;
};
void log_tail_get_stats(const struct log_tail *t, struct log_tail_stats *out);

/*
 * Publish one line on behalf of the DEA ({source: "DEA", stream: "out"}) about this instance
 * (state changes: "started", "crashed: out of memory", ...). Not rate-limited.
 */
void log_tail_publish_dea(struct log_tail *t, const char *line);

/*
 * The last n lines of an instance's logs (stderr.log, then stdout.log; each file's last lines in
 * order), for crash reports: a JSON-friendly NULL-terminated vector the caller frees with
 * dew_strv_free; each line is "<stream>: <text>" and bounded by LOG_LINE_MAX. Missing files are
 * fine (an empty vector). Reads at most the last 64 KiB of each file.
 */
char **log_last_lines(const char *log_dir, size_t n);

#endif
