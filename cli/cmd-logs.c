// SPDX-License-Identifier: MIT
/*
 * dew logs NAME [--recent]: the lines the controller keeps of an app (--recent), or the live
 * stream of its lines (server-sent events, sse.h) until interrupted, reconnecting when the
 * stream ends. Each line as Cloud Foundry
 * prints it: `2026-11-25T07:00:00.12Z [APP/0] OUT hello`; with --json one JSON object per line
 * (JSON lines) with the controller's keys {app, index, instance, source, stream, ts, line}.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"
#include "sse.h"

const struct cli_option cli_logs_options[] = {
	{ "recent", 0, NULL, "print the lines the controller keeps and exit, instead of following" },
	{ 0 },
};

void cli_time_iso(double ts, char out[40])
{
	if (!isfinite(ts) || ts < 0)
		ts = 0;
	time_t sec = (time_t)ts;
	unsigned cs = (unsigned)((ts - (double)sec) * 100) % 100u;
	struct tm tm;
	char day[32];
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", gmtime_r(&sec, &tm));
	snprintf(out, 40, "%s.%02uZ", day, cs);
}

/* One line of the controller: {app, index, instance, source, stream, ts, line}. */
static void logs_print(struct cli *cli, const json_t *l)
{
	if (cli->json) {
		cleanup_free char *s = json_dumps(l, JSON_COMPACT | JSON_ENCODE_ANY);
		fprintf(cli->out, "%s\n", s ? s : "null");
		fflush(cli->out);
		return;
	}
	char when[40];
	cli_time_iso(json_number_value(json_object_get(l, "ts")), when);
	const char *source = json_string_value(json_object_get(l, "source")) ?: "?";
	json_t *index = json_object_get(l, "index");
	cleanup_free char *tag = json_is_integer(index) ? xasprintf("%s/%" JSON_INTEGER_FORMAT, source,
								    json_integer_value(index))
							: xstrdup(source);
	bool err = !strcmp(json_string_value(json_object_get(l, "stream")) ?: "", "err");
	cleanup_free char *stream = cli_paint(cli, err ? "red" : "bold", err ? "ERR" : "OUT");
	fprintf(cli->out, "%s [%s] %s %s\n", when, tag, stream,
		json_string_value(json_object_get(l, "line")) ?: "");
	fflush(cli->out);
}

static int logs_recent(struct cli *cli, const char *name)
{
	cleanup_free char *path = cli_app_path(name, "logs?recent");
	json_auto_t *j = NULL;
	if (cli_call(cli, "GET", path, NULL, &j) < 0)
		return CLI_FAIL;
	json_t *line;
	size_t i;
	json_array_foreach (json_object_get(j, "lines"), i, line)
		logs_print(cli, line);
	if (!json_array_size(json_object_get(j, "lines")) && !cli->json)
		fprintf(cli->err, "dew: no recent lines of %s\n", name);
	return CLI_OK;
}

/* A `data:` event of the live stream: one line as JSON. */
static void logs_on_event(const char *text, size_t len, void *arg)
{
	struct cli *cli = arg;
	json_auto_t *l = json_loadb(text, len, 0, NULL);
	if (!json_is_object(l)) {
		cli_error(cli, "the controller sent a log line that is not a JSON object; skipped");
		return;
	}
	logs_print(cli, l);
}

/* A comment: keep-alives are silent; the controller says so when it skipped lines for us. */
static void logs_on_comment(const char *text, size_t len, void *arg)
{
	struct cli *cli = arg;
	static const char dropped[] = " dropped "; /* ": dropped N lines" */
	size_t skip = sizeof dropped - 1;
	if (len > skip && !memcmp(text, dropped, skip))
		cli_error(cli, "the controller skipped %.*s (this side read too slowly)", (int)(len - skip),
			  text + skip);
}

/* One connection of the live stream. */
struct logs_stream {
	struct cli_sse sse;
	bool opened; /* a byte came */
};

static bool logs_on_piece(const char *data, size_t len, void *arg)
{
	struct logs_stream *ls = arg;
	ls->opened = true;
	cli_sse_feed(&ls->sse, data, len);
	return true;
}

/* One connection of the live stream: 0 when it ended, or broke after bytes came (*opened set
 * then), -1 when the controller refused it (its error printed), -2 when it could not be had. */
static int logs_stream_once(struct cli *cli, const char *path, bool *opened)
{
	struct logs_stream ls = { 0 };
	cli_sse_init(&ls.sse, logs_on_event, logs_on_comment, cli);
	int r = cli_stream(cli, path, logs_on_piece, &ls);
	if (ls.sse.dropped)
		cli_error(cli, "%" PRIu64 " over-long lines from the controller were skipped",
			  ls.sse.dropped);
	cli_sse_close(&ls.sse);
	*opened = ls.opened || r == 0;
	return r == -2 && ls.opened ? 0 : r;
}

/*
 * Follow until interrupted. A stream that ends or breaks (a controller restarting, a network
 * blip) is opened again after LOGS_RETRY_MIN_MS, doubling up to LOGS_RETRY_MAX_MS while no
 * stream opens; lines logged while no stream was open are not shown (`--recent` has them). An
 * error answer (the app deleted, the token expired) ends the command.
 */
static int logs_follow(struct cli *cli, const char *name)
{
	enum { LOGS_RETRY_MIN_MS = 250, LOGS_RETRY_MAX_MS = 5000 };
	cleanup_free char *path = cli_app_path(name, "logs");
	if (cli->tty && !cli->json)
		fprintf(cli->err, "following the logs of %s (Ctrl-C to stop)\n", name);
	unsigned delay = LOGS_RETRY_MIN_MS;
	for (;;) {
		bool opened = false;
		int r = logs_stream_once(cli, path, &opened);
		if (r == -1)
			return CLI_FAIL;
		if (opened)
			delay = LOGS_RETRY_MIN_MS;
		fprintf(cli->err, "dew: the log stream of %s %s; reconnecting in %.2g s\n", name,
			r == 0 ? "ended" : "could not be opened", delay / 1000.0);
		struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		delay = delay * 2 > LOGS_RETRY_MAX_MS ? LOGS_RETRY_MAX_MS : delay * 2;
	}
}

int cmd_logs(struct cli *cli, const struct cli_args *a)
{
	if (cli_flag(a, "recent"))
		return logs_recent(cli, a->pos[0]);
	return logs_follow(cli, a->pos[0]);
}
