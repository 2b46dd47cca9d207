// SPDX-License-Identifier: MIT
/*
 * The log tail of one instance: follows stdout.log and stderr.log of its log dir (inotify through
 * uv_fs_event, a slow safety poll, rotation to .1 detected by inode), cuts what it reads into
 * lines and publishes each on `logs.<app_id>` through a token bucket. Also the last lines of an
 * instance's logs for crash reports. Everything but log_last_lines runs on the loop thread.
 */
#include "logs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "utf8.h"

enum {
	LOG_READ_CHUNK = 64 * 1024, /* bytes read per file per wake: a noisy file cannot starve the loop */
	LOG_DRAIN_MAX = 256 * 1024, /* bytes read per file by log_tail_free */
	LOG_POLL_MS = 1000,	    /* safety poll, in case an inotify event was missed */
	LOG_RETRY_MS = 250,	    /* while the log dir does not exist */
	LOG_REPORT_MS = 1000,	    /* the "lines dropped" report */
	LOG_LAST_BYTES = 64 * 1024, /* read by log_last_lines from the end of each file */
	LOG_REFILL_CAP_MS = 1000,   /* the bucket is full after a second: longer gaps add nothing */
	LOG_STREAMS = 2,
};

static const struct log_file {
	const char *name, *stream;
} log_files[LOG_STREAMS] = { { "stdout.log", "out" }, { "stderr.log", "err" } };

/* One followed file. */
struct log_stream {
	char *path;
	int fd; /* -1: not open (the file does not exist yet) */
	dev_t dev;
	ino_t ino;
	uint64_t off;		/* the next byte of fd to read */
	struct dew_buf partial; /* the start of a line whose newline has not come yet */
	bool old;		/* fd was rotated away: read it to EOF, then open the new file */
	bool skipping;		/* dropping the rest of an overlong line */
	bool warned;		/* about a failure to open or read it */
};

struct log_tail {
	uv_loop_t *loop;
	struct dew_bus *bus;
	char *dir, *app_id, *instance_id, *subject;
	int64_t index;
	uint32_t rate;
	uint64_t tokens;    /* thousandths of a line */
	uint64_t refill_ms; /* loop time of the last refill */
	uint64_t lines, dropped, reported;
	int publish_err; /* of the last failed publish (warned once), 0 after a success */
	struct log_stream streams[LOG_STREAMS];
	uv_fs_event_t watch;
	uv_timer_t wake;   /* the safety poll, or the retry while the dir does not exist */
	uv_idle_t more;	   /* the next read, one loop turn later, while more is pending */
	uv_timer_t report; /* the dropped-lines report, every second */
	dev_t dir_dev;
	ino_t dir_ino;
	bool watching;
	bool dir_exists;
	bool warned_watch;
	bool closing;
	int open_handles; /* freed when the last close callback has run */
};

/* Shared by every tail: reads happen on the loop thread, one at a time. */
static char log_read_buf[LOG_READ_CHUNK];

/* --- text ----------------------------------------------------------------------------------- */

/*
 * A line's text as sent: valid UTF-8 without NUL (apps write anything, and every JSON reader of the
 * bus takes only UTF-8), no trailing CR, at most LOG_LINE_MAX bytes of the input (cut lines end in
 * "…"; the cut never splits a character).
 */
static void line_text(struct dew_buf *out, const char *line, size_t len)
{
	if (len <= LOG_LINE_MAX && len > 0 && line[len - 1] == '\r')
		len--;
	dew_utf8_append_cut(out, line, len, LOG_LINE_MAX);
}

/* --- publishing ----------------------------------------------------------------------------- */

static double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) / 1000.0;
}

/* Publish one message; text is valid UTF-8. Failures are logged once until a publish works again. */
static bool tail_publish(struct log_tail *t, const char *source, const char *stream,
			 const struct dew_buf *text)
{
	json_auto_t *msg =
		json_pack("{s:s, s:I, s:s, s:s, s:s, s:f, s:s%}", "app", t->app_id, "index",
			  (json_int_t)t->index, "instance", t->instance_id, "source", source, "stream",
			  stream, "ts", wall_seconds(), "line", text->data ? text->data : "", text->len);
	int r = msg ? dew_bus_publish_json(t->bus, t->subject, NULL, msg) : -EINVAL;

	if (r < 0) {
		if (r != t->publish_err)
			dew_warn("logs of %s/%s: publish on `%s`: %s; log lines are lost", t->app_id,
				 t->instance_id, t->subject, strerror(-r));
		t->publish_err = r;
		return false;
	}
	t->publish_err = 0;
	return true;
}

/* Take one line's token from the bucket (refilled by the loop time since the last take). */
static bool tail_take_token(struct log_tail *t)
{
	uint64_t now = uv_now(t->loop), elapsed = now - t->refill_ms, cap = (uint64_t)t->rate * 1000;

	if (now < t->refill_ms)
		elapsed = 0;
	if (elapsed > LOG_REFILL_CAP_MS)
		elapsed = LOG_REFILL_CAP_MS;
	t->refill_ms = now;
	t->tokens += elapsed * t->rate;
	if (t->tokens > cap)
		t->tokens = cap;
	if (t->tokens < 1000)
		return false;
	t->tokens -= 1000;
	return true;
}

/* One line of the app (without its newline; more than LOG_LINE_MAX bytes are cut). */
static void tail_app_line(struct log_tail *t, int i, const char *line, size_t len)
{
	cleanup_buf struct dew_buf text = DEW_BUF_INIT;

	if (!tail_take_token(t)) {
		t->dropped++;
		return;
	}
	line_text(&text, line, len);
	if (tail_publish(t, "APP", log_files[i].stream, &text))
		t->lines++;
}

static void tail_report_dropped(struct log_tail *t)
{
	if (t->dropped == t->reported)
		return;
	cleanup_free char *line =
		xasprintf("dew-dea: %" PRIu64 " log lines dropped (rate limit %" PRIu32 "/s)",
			  t->dropped - t->reported, t->rate);
	t->reported = t->dropped;
	log_tail_publish_dea(t, line);
}

/* Publish one line about this instance on behalf of the DEA (not rate-limited). */
void log_tail_publish_dea(struct log_tail *t, const char *line)
{
	cleanup_buf struct dew_buf text = DEW_BUF_INIT;

	line_text(&text, line, strlen(line));
	tail_publish(t, "DEA", "out", &text);
}

/* --- reading -------------------------------------------------------------------------------- */

/*
 * Cut what was read into lines: complete lines are published, the start of an unfinished one is
 * kept in s->partial (at most LOG_LINE_MAX bytes; a longer line is published cut, its rest dropped).
 */
static void stream_feed(struct log_tail *t, int i, const char *p, size_t n)
{
	struct log_stream *s = &t->streams[i];

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p) : n, used = nl ? len + 1 : n;

		if (s->skipping) {
			s->skipping = !nl;
		} else if (s->partial.len + len > LOG_LINE_MAX) {
			/* One byte past the limit is enough for tail_app_line to see the line is long
			 * and where a character straddles the cut. */
			size_t room = LOG_LINE_MAX + 1 - s->partial.len;
			dew_buf_append(&s->partial, p, room);
			tail_app_line(t, i, s->partial.data, s->partial.len);
			dew_buf_close(&s->partial);
			s->skipping = !nl;
		} else if (nl && s->partial.len == 0) {
			tail_app_line(t, i, p, len);
		} else if (nl) {
			dew_buf_append(&s->partial, p, len);
			tail_app_line(t, i, s->partial.data, s->partial.len);
			dew_buf_close(&s->partial); /* rare: keep idle tails small */
		} else {
			dew_buf_append(&s->partial, p, len);
		}
		p += used;
		n -= used;
	}
}

/*
 * Open path (the file of stream i, or its .1); at_end: start reading at its current end. False
 * when it does not exist (or is not a regular file: O_NOFOLLOW and the type check keep the tail
 * on what the monitor writes).
 */
static bool stream_open_path(struct log_tail *t, int i, const char *path, bool at_end)
{
	struct log_stream *s = &t->streams[i];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = fd < 0 ? errno : EINVAL;
		if (fd >= 0)
			close(fd);
		if (e != ENOENT && e != ENOTDIR && !s->warned)
			dew_warn("logs of %s/%s: open `%s`: %s", t->app_id, t->instance_id, path,
				 e == EINVAL ? "not a regular file" : strerror(e));
		s->warned = e != ENOENT && e != ENOTDIR;
		return false;
	}
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->off = at_end ? (uint64_t)st.st_size : 0;
	s->old = false;
	s->warned = false;
	return true;
}

static bool stream_open(struct log_tail *t, int i, bool at_end)
{
	return stream_open_path(t, i, t->streams[i].path, at_end);
}

static void stream_close_fd(struct log_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/*
 * At the end of the open file: has the path been given to a new file (rotation: s->old is set, so
 * the old file is read once more to its end, since the monitor may have written to it after our
 * last read), or was the file truncated (read again from 0)? False when neither.
 */
static bool stream_rotated(struct log_stream *s)
{
	struct stat st;

	if (lstat(s->path, &st) < 0)
		return false; /* renamed away, the new file not created yet: keep reading the old */
	if (st.st_dev != s->dev || st.st_ino != s->ino) {
		s->old = true;
		return true;
	}
	if ((uint64_t)st.st_size < s->off) {
		s->off = 0;
		return true;
	}
	return false;
}

/*
 * The rotated-away file was read to its end: go on with the next one. That is the file at the
 * path, unless .1 is not the file just read: then the monitor rotated twice since our last read
 * and .1 is a file we never saw, to read from 0 first (rotated away as well).
 */
static bool stream_next(struct log_tail *t, int i)
{
	struct log_stream *s = &t->streams[i];
	cleanup_free char *prev = xasprintf("%s.1", s->path);
	struct stat st;
	bool unseen = lstat(prev, &st) == 0 && (st.st_dev != s->dev || st.st_ino != s->ino);

	stream_close_fd(s);
	if (unseen && stream_open_path(t, i, prev, false)) {
		s->old = true;
		return true;
	}
	return stream_open(t, i, false);
}

/* Read up to budget bytes of stream i (following a rotation). True when more may be pending. */
static bool stream_pump(struct log_tail *t, int i, size_t budget)
{
	struct log_stream *s = &t->streams[i];

	if (s->fd < 0 && !stream_open(t, i, false))
		return false;
	while (budget > 0) {
		size_t want = budget < sizeof log_read_buf ? budget : sizeof log_read_buf;
		ssize_t n = pread(s->fd, log_read_buf, want, (off_t)s->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (!s->warned)
				dew_warn("logs of %s/%s: read `%s`: %s", t->app_id, t->instance_id, s->path,
					 strerror(errno));
			s->warned = true;
			return false; /* tried again on the next wake */
		}
		if (n > 0) {
			s->off += (uint64_t)n;
			budget -= (size_t)n;
			stream_feed(t, i, log_read_buf, (size_t)n);
		} else if (s->old) {
			if (!stream_next(t, i))
				return false;
		} else if (!stream_rotated(s)) {
			return false;
		}
	}
	return true;
}

/* --- the loop ------------------------------------------------------------------------------- */

static void on_fs_event(uv_fs_event_t *handle, const char *filename, int events, int status);

/*
 * Watch the log dir once it exists; notice when it went away (or was replaced), since its inotify
 * watch then reports nothing more.
 */
static void tail_watch(struct log_tail *t)
{
	struct stat st;

	if (stat(t->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		t->dir_exists = false;
		if (t->watching)
			uv_fs_event_stop(&t->watch);
		t->watching = false;
		return;
	}
	t->dir_exists = true;
	if (t->watching && st.st_dev == t->dir_dev && st.st_ino == t->dir_ino)
		return;
	if (t->watching)
		uv_fs_event_stop(&t->watch);
	t->watching = false;
	t->dir_dev = st.st_dev;
	t->dir_ino = st.st_ino;
	int r = uv_fs_event_start(&t->watch, on_fs_event, t->dir, 0);
	if (r == 0) {
		t->watching = true;
	} else if (!t->warned_watch) {
		/* E.g. ENOSPC: out of inotify watches. The poll still reads, only later. */
		dew_warn("logs of %s/%s: watch `%s`: %s; polling every %d ms", t->app_id, t->instance_id,
			 t->dir, uv_strerror(r), LOG_POLL_MS);
		t->warned_watch = true;
	}
}

static void on_wake(uv_timer_t *timer);
static void on_more(uv_idle_t *idle);

/*
 * Read again on the next loop turn (an idle handle: a 0 ms timer re-armed in its own callback
 * runs again in the same turn in libuv before 1.45) or, with nothing pending, at the next poll.
 */
static void tail_schedule(struct log_tail *t, bool more)
{
	if (t->closing)
		return;
	if (more)
		uv_idle_start(&t->more, on_more);
	else
		uv_idle_stop(&t->more);
	uv_timer_start(&t->wake, on_wake, t->dir_exists ? LOG_POLL_MS : LOG_RETRY_MS, 0);
}

/* Read a bounded chunk of each file. */
static void tail_read(struct log_tail *t)
{
	bool more = false;

	tail_watch(t);
	for (int i = 0; i < LOG_STREAMS; i++)
		more |= stream_pump(t, i, LOG_READ_CHUNK);
	tail_schedule(t, more);
}

static void on_wake(uv_timer_t *timer)
{
	tail_read(timer->data);
}

static void on_more(uv_idle_t *idle)
{
	tail_read(idle->data);
}

/* Reading here would repeat for every event of a busy file: collapse them into one read a turn. */
static void on_fs_event(uv_fs_event_t *handle, const char *filename, int events, int status)
{
	struct log_tail *t = handle->data;

	(void)filename;
	(void)events;
	(void)status;
	if (!t->closing)
		uv_idle_start(&t->more, on_more);
}

static void on_report(uv_timer_t *timer)
{
	tail_report_dropped(timer->data);
}

/* Start following the log dir of opts (see logs.h). */
int log_tail_new(uv_loop_t *loop, struct dew_bus *bus, const struct log_tail_options *opts,
		 struct log_tail **out)
{
	*out = NULL;
	if (!opts->log_dir || !*opts->log_dir || !opts->app_id || !opts->instance_id)
		return -EINVAL;
	struct log_tail *t = xzalloc(sizeof *t);
	t->loop = loop;
	t->bus = bus;
	t->dir = xstrdup(opts->log_dir);
	t->app_id = xstrdup(opts->app_id);
	t->instance_id = xstrdup(opts->instance_id);
	t->subject = xasprintf("logs.%s", opts->app_id);
	t->index = opts->index;
	t->rate = opts->rate ? opts->rate : LOG_RATE_DEFAULT;
	t->tokens = (uint64_t)t->rate * 1000; /* burst: a second's worth */
	t->refill_ms = uv_now(loop);
	for (int i = 0; i < LOG_STREAMS; i++) {
		struct log_stream *s = &t->streams[i];
		s->fd = -1;
		s->path = xasprintf("%s/%s", t->dir, log_files[i].name);
		stream_open(t, i, !opts->from_start);
	}
	uv_fs_event_init(loop, &t->watch);
	uv_timer_init(loop, &t->wake);
	uv_timer_init(loop, &t->report);
	uv_idle_init(loop, &t->more);
	t->watch.data = t->wake.data = t->report.data = t->more.data = t;
	t->open_handles = 4;
	tail_watch(t);
	tail_schedule(t, true);
	uv_timer_start(&t->report, on_report, LOG_REPORT_MS, LOG_REPORT_MS);
	*out = t;
	return 0;
}

static void tail_destroy(struct log_tail *t)
{
	for (int i = 0; i < LOG_STREAMS; i++) {
		dew_buf_close(&t->streams[i].partial);
		free(t->streams[i].path);
	}
	free(t->dir);
	free(t->app_id);
	free(t->instance_id);
	free(t->subject);
	free(t);
}

static void on_closed(uv_handle_t *h)
{
	struct log_tail *t = h->data;

	if (--t->open_handles == 0)
		tail_destroy(t);
}

/* Publish what is left to read (bounded) and the unfinished last lines, then close and free. */
void log_tail_free(struct log_tail *t)
{
	if (!t)
		return;
	t->closing = true;
	for (int i = 0; i < LOG_STREAMS; i++) {
		struct log_stream *s = &t->streams[i];
		stream_pump(t, i, LOG_DRAIN_MAX);
		/* The instance is gone: its last words may lack a newline. */
		if (s->partial.len > 0 && !s->skipping)
			tail_app_line(t, i, s->partial.data, s->partial.len);
		stream_close_fd(s);
	}
	tail_report_dropped(t);
	uv_close((uv_handle_t *)&t->watch, on_closed);
	uv_close((uv_handle_t *)&t->wake, on_closed);
	uv_close((uv_handle_t *)&t->report, on_closed);
	uv_close((uv_handle_t *)&t->more, on_closed);
}

/* Lines published and dropped by the rate limit since the tail started. */
void log_tail_get_stats(const struct log_tail *t, struct log_tail_stats *out)
{
	out->lines = t->lines;
	out->dropped = t->dropped;
}

/* --- the last lines ------------------------------------------------------------------------- */

/* Read up to LOG_LAST_BYTES of the end of path into buf; its length, or 0 (missing, not a file). */
static size_t last_bytes(const char *path, char *buf, bool *from_start)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	uint64_t size = (uint64_t)st.st_size, start = size > LOG_LAST_BYTES ? size - LOG_LAST_BYTES : 0;
	size_t want = (size_t)(size - start);
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, (off_t)(start + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*from_start = start == 0;
	return got;
}

/* Append the last n lines of buf (len bytes) to *v as "<stream>: <text>". */
static void last_lines_add(char ***v, size_t *count, const char *stream, const char *buf, size_t len,
			   bool from_start, size_t n)
{
	const char *p = buf, *end = buf + len;

	if (!from_start) {
		/* The first line began before what was read: not a whole line. */
		const char *nl = memchr(p, '\n', len);
		if (nl)
			p = nl + 1;
	}
	if (p == end)
		return;
	if (end[-1] == '\n')
		end--; /* the last newline ends the last line; an unfinished line counts too */
	/* Walk back to the start of the n-th line from the end. */
	const char *first = end;
	size_t lines = 0;
	for (;;) {
		while (first > p && first[-1] != '\n')
			first--;
		if (++lines == n || first == p)
			break;
		first--; /* onto the newline that ends the line before */
	}
	*v = xreallocarray(*v, *count + lines + 1, sizeof **v);
	for (const char *q = first; lines > 0; lines--) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		const char *eol = nl ? nl : end;
		struct dew_buf text = DEW_BUF_INIT;
		dew_buf_printf(&text, "%s: ", stream);
		line_text(&text, q, (size_t)(eol - q));
		(*v)[(*count)++] = dew_buf_steal(&text);
		q = eol + 1;
	}
	(*v)[*count] = NULL;
}

/* The last n lines of stderr.log, then of stdout.log (see logs.h). */
char **log_last_lines(const char *log_dir, size_t n)
{
	char **v = xcalloc(1, sizeof *v);
	size_t count = 0;

	if (n == 0)
		return v;
	cleanup_free char *buf = xmalloc(LOG_LAST_BYTES);
	for (int i = LOG_STREAMS - 1; i >= 0; i--) {
		cleanup_free char *path = xasprintf("%s/%s", log_dir, log_files[i].name);
		bool from_start = true;
		size_t len = last_bytes(path, buf, &from_start);
		if (len > 0)
			last_lines_add(&v, &count, log_files[i].stream, buf, len, from_start, n);
	}
	return v;
}
