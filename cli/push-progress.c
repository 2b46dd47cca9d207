// SPDX-License-Identifier: MIT
/*
 * What `dew push` shows while it works (push.h): on a terminal, one line redrawn with \r at
 * most every 100 ms (files hashed, then an upload bar); elsewhere only the summary lines, so a
 * log or a pipe gets no control characters. Nothing at all with --json.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "push.h"

enum { PROGRESS_BAR = 30 };

static double progress_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Redraw the \r line (terminal only); throttled unless force. */
static bool progress_due(struct push_progress *p, bool force)
{
	if (p->cli->json || !p->cli->tty)
		return false;
	double now = progress_now();
	if (!force && now - p->last < 0.1)
		return false;
	p->last = now;
	p->drawn = true;
	return true;
}

/* Erase the \r line before a plain line is printed. */
static void progress_clear(struct push_progress *p)
{
	if (!p->drawn)
		return;
	fputs("\r\033[K", p->cli->out);
	p->drawn = false;
}

void push_progress_init(struct push_progress *p, struct cli *cli, const struct walk_list *l)
{
	*p = (struct push_progress){ .cli = cli, .total_files = l->files, .total_bytes = l->bytes };
}

void push_progress_hashed(uint64_t files, uint64_t bytes, void *arg)
{
	struct push_progress *p = arg;
	if (!progress_due(p, false))
		return;
	char done[32], total[32];
	cli_human_size(bytes, done);
	cli_human_size(p->total_bytes, total);
	fprintf(p->cli->out, "\rhashing: %" PRIu64 " of %" PRIu64 " files (%s of %s)\033[K", files,
		p->total_files, done, total);
	fflush(p->cli->out);
}

void push_progress_hashed_done(struct push_progress *p, uint64_t cached, double seconds)
{
	char total[32];
	progress_clear(p);
	cli_human_size(p->total_bytes, total);
	if (cached)
		cli_say(p->cli,
			"hashed %" PRIu64 " files (%s) in %.2f s; %" PRIu64 " unchanged since the last push",
			p->total_files, total, seconds, cached);
	else
		cli_say(p->cli, "hashed %" PRIu64 " files (%s) in %.2f s", p->total_files, total, seconds);
}

void push_progress_reused(struct push_progress *p, const struct push_stats *st)
{
	char total[32];
	cli_human_size(st->bytes, total);
	cli_say(p->cli,
		"%" PRIu64
		" files (%s) as pushed last time: the controller has this package, nothing to upload",
		st->files + st->links, total);
}

void push_progress_matched(struct push_progress *p, const struct push_stats *st)
{
	char up[32], have[32];
	cli_human_size(st->upload_bytes, up);
	cli_human_size(st->matched_bytes, have);
	cli_say(p->cli,
		"%" PRIu64 " files, %" PRIu64 " to upload (%s), %" PRIu64 " already on the controller (%s)",
		st->files + st->links, st->upload_files, up, st->matched_files, have);
	/* The archive: a 512-byte header per entry, data in 512-byte blocks, the end records. */
	p->upload_total = st->upload_bytes + st->upload_files * 1024 + st->matched_files * 100 + 1024;
}

void push_progress_upload(uint64_t sent, void *arg)
{
	struct push_progress *p = arg;
	if (!p->upload_total || !progress_due(p, false))
		return;
	uint64_t total = sent > p->upload_total ? sent : p->upload_total;
	unsigned pct = (unsigned)(sent * 100 / total), fill = (unsigned)(sent * PROGRESS_BAR / total);
	char bar[PROGRESS_BAR + 1], done[32], all[32];
	memset(bar, '#', fill);
	memset(bar + fill, ' ', PROGRESS_BAR - fill);
	bar[PROGRESS_BAR] = '\0';
	cli_human_size(sent, done);
	cli_human_size(total, all);
	fprintf(p->cli->out, "\ruploading [%s] %3u%% %s of %s\033[K", bar, pct, done, all);
	fflush(p->cli->out);
}

void push_progress_uploaded(struct push_progress *p, const struct push_stats *st, double seconds)
{
	char sent[32];
	progress_clear(p);
	cli_human_size(st->sent, sent);
	cli_say(p->cli, "uploaded %" PRIu64 " bytes (%s) in %.2f s: %s", st->sent, sent, seconds,
		st->changed ? "a new package" : "the package is unchanged");
}
