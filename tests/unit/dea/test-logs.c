// SPDX-License-Identifier: MIT
/*
 * Unit tests of dea/logs.h against a real dew-bus (spawned from the build tree on 127.0.0.1 port
 * 0): lines of both files reach `logs.<app>` with every field, from the start or the end, partial
 * and overlong lines, rotation without loss or repeat, a log dir that appears later, the rate
 * limit and its report, DEA lines, a bad subject, draining on free, and log_last_lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "bus-client.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "logs.h"
#include "tap.h"

enum {
	WAIT_MS = 20 * 1000, /* generous: a check fails by its condition, not by a slow machine */
	FAST = 1000000,	     /* a rate no test reaches */
};

#define ELLIPSIS "\xe2\x80\xa6"

struct harness {
	uv_loop_t loop;
	uv_timer_t tick; /* wakes uv_run(UV_RUN_ONCE) so waits can check their deadline */
	struct dew_bus *pub, *sub;
	pid_t bus_pid;
	char *tmp;
	json_t *msgs; /* every message seen on logs.> */
	int flushed;
};

static struct harness H;

#define RUN_UNTIL(cond, ms)                                                                                  \
	({                                                                                                   \
		uint64_t dl__ = uv_now(&H.loop) + (ms);                                                      \
		while (!(cond) && uv_now(&H.loop) < dl__)                                                    \
			uv_run(&H.loop, UV_RUN_ONCE);                                                        \
		(cond);                                                                                      \
	})

/* --- files ---------------------------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *data, int flags)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data)) {
		tap_diag("write `%s`: %s", path, strerror(errno));
		abort();
	}
	close(fd);
}

static void append(const char *dir, const char *name, const char *data)
{
	write_file(dir, name, data, O_APPEND);
}

/* A fresh log dir under the test's temporary dir (not created when create is false). */
static char *log_dir(const char *name, bool create)
{
	char *dir = xasprintf("%s/%s", H.tmp, name);

	if (create && mkdir(dir, 0755) < 0)
		abort();
	return dir;
}

/* --- the bus -------------------------------------------------------------------------------- */

static void on_msg(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct dew_error *err = NULL;
	json_t *j = dew_json_parse(msg->data, msg->len, &err);

	(void)bus;
	(void)data;
	if (!j) {
		tap_diag("unparsable message on %.*s: %s", (int)msg->subject_len, msg->subject, err->msg);
		dew_error_free(err);
		j = json_object();
	}
	json_object_set_new(j, "_subject", json_stringn(msg->subject, msg->subject_len));
	json_array_append_new(H.msgs, j);
}

static void on_flushed(struct dew_bus *bus, int status, void *data)
{
	(void)bus;
	(void)data;
	H.flushed = status == 0 ? 1 : -1;
}

static char *bus_binary(void)
{
	const char *top = getenv("top_builddir");
	char exe[PATH_MAX];
	ssize_t n;

	if (top)
		return xasprintf("%s/bus/dew-bus", top);
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n < 0)
		return xstrdup("bus/dew-bus");
	exe[n] = '\0';
	return xasprintf("%s/../../../bus/dew-bus", dirname(exe)); /* <top>/tests/unit/dea/test-logs */
}

/* Start dew-bus on 127.0.0.1 port 0; its port, or -1. */
static int bus_start(void)
{
	cleanup_free char *bin = bus_binary(), *conf = xasprintf("%s/bus.conf", H.tmp);
	cleanup_free char *port_file = xasprintf("%s/bus.port", H.tmp),
			  *ready = xasprintf("%s/bus.ready", H.tmp);
	cleanup_free char *log = xasprintf("%s/bus.log", H.tmp);

	if (access(bin, X_OK) < 0) {
		tap_diag("no dew-bus at `%s`", bin);
		return -1;
	}
	write_file(H.tmp, "bus.conf", "", O_TRUNC); /* not /etc/dew/dew.conf */
	H.bus_pid = fork();
	if (H.bus_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, "dew-bus", "-c", conf, "--listen", "127.0.0.1:0", "--port-file", port_file,
		      "--status-listen", "", "--ready-file", ready, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 2000 && access(ready, F_OK) < 0; i++) {
		if (waitpid(H.bus_pid, NULL, WNOHANG) == H.bus_pid) {
			H.bus_pid = 0;
			tap_diag("dew-bus exited before it was ready (see %s)", log);
			return -1;
		}
		usleep(10 * 1000);
	}
	cleanup_free char *text = NULL;
	if (dew_read_file(port_file, 64, &text, NULL, NULL) < 0)
		return -1;
	return atoi(text);
}

static void on_tick(uv_timer_t *timer)
{
	(void)timer;
}

static bool harness_start(void)
{
	struct dew_error *err = NULL;

	uv_loop_init(&H.loop);
	uv_timer_init(&H.loop, &H.tick);
	uv_timer_start(&H.tick, on_tick, 10, 10);
	H.msgs = json_array();
	int port = bus_start();
	if (port <= 0)
		return false;
	cleanup_free char *url = xasprintf("nats://127.0.0.1:%d", port);
	struct dew_bus_options o = { .servers = url, .name = "test-logs" };
	if (dew_bus_new(&H.pub, &H.loop, &o, &err) < 0 || dew_bus_new(&H.sub, &H.loop, &o, &err) < 0) {
		tap_diag("bus client: %s", err->msg);
		dew_error_free(err);
		return false;
	}
	if (!RUN_UNTIL(dew_bus_is_connected(H.pub) && dew_bus_is_connected(H.sub), WAIT_MS))
		return false;
	dew_bus_subscribe(H.sub, "logs.>", NULL, on_msg, NULL);
	dew_bus_flush(H.sub, WAIT_MS, on_flushed, NULL);
	return RUN_UNTIL(H.flushed != 0, WAIT_MS) && H.flushed == 1;
}

/* --- messages ------------------------------------------------------------------------------- */

/* The k-th message published for app (in order), or NULL. */
static json_t *msg_of(const char *app, size_t k)
{
	size_t i;
	json_t *m;

	json_array_foreach (H.msgs, i, m) {
		const char *a = json_string_value(json_object_get(m, "app"));
		if (a && !strcmp(a, app) && k-- == 0)
			return m;
	}
	return NULL;
}

static size_t count_of(const char *app)
{
	size_t n = 0;

	while (msg_of(app, n))
		n++;
	return n;
}

static const char *field(const json_t *m, const char *key)
{
	const char *s = json_string_value(json_object_get(m, key));
	return s ? s : "(none)";
}

/* Wait until app has n messages; then true. */
static bool wait_for(const char *app, size_t n)
{
	bool ok = RUN_UNTIL(count_of(app) >= n, WAIT_MS);

	if (!ok)
		tap_diag("%s: %zu of %zu messages arrived", app, count_of(app), n);
	return ok;
}

/* The lines of app's messages (from k on) joined by '|', for comparisons in one test. */
static char *lines_of(const char *app, size_t k)
{
	struct dew_buf b = DEW_BUF_INIT;
	json_t *m;

	dew_buf_puts(&b, "");
	for (; (m = msg_of(app, k)); k++)
		dew_buf_printf(&b, "%s%s:%s", b.len ? "|" : "", field(m, "stream"), field(m, "line"));
	return dew_buf_steal(&b);
}

static struct log_tail *tail_new(const char *dir, const char *app, uint32_t rate, bool from_start)
{
	struct log_tail_options o = {
		.log_dir = dir,
		.app_id = app,
		.index = 2,
		.instance_id = "inst-1",
		.rate = rate,
		.from_start = from_start,
	};
	struct log_tail *t = NULL;
	int r = log_tail_new(&H.loop, H.pub, &o, &t);

	if (r < 0 || !t) {
		tap_diag("log_tail_new: %s", strerror(-r));
		abort();
	}
	return t;
}

/* --- tail tests ----------------------------------------------------------------------------- */

static void test_fields_and_end(void)
{
	cleanup_free char *dir = log_dir("fields", true);
	append(dir, "stdout.log", "old out line\n");
	append(dir, "stderr.log", "old err line\n");
	struct log_tail *t = tail_new(dir, "app-fields", FAST, false);
	struct timespec now;

	append(dir, "stdout.log", "hello out\n");
	if (!tap_ok(wait_for("app-fields", 1), "a new stdout line is published"))
		goto out;
	append(dir, "stderr.log", "hello err\n");
	if (!tap_ok(wait_for("app-fields", 2), "a new stderr line is published"))
		goto out;
	json_t *m = msg_of("app-fields", 0);
	clock_gettime(CLOCK_REALTIME, &now);
	tap_is_str(field(m, "_subject"), "logs.app-fields", "subject logs.<app_id>");
	tap_is_str(field(m, "app"), "app-fields", "field app");
	tap_ok(json_is_integer(json_object_get(m, "index")) &&
		       json_integer_value(json_object_get(m, "index")) == 2,
	       "field index");
	tap_is_str(field(m, "instance"), "inst-1", "field instance");
	tap_is_str(field(m, "source"), "APP", "field source");
	tap_is_str(field(m, "stream"), "out", "stream out for stdout.log");
	tap_is_str(field(m, "line"), "hello out", "field line, without its newline");
	json_t *ts = json_object_get(m, "ts");
	tap_ok(json_is_real(ts) && json_real_value(ts) > (double)now.tv_sec - 3600 &&
		       json_real_value(ts) < (double)now.tv_sec + 3600,
	       "ts is a real holding the Unix time");
	m = msg_of("app-fields", 1);
	tap_is_str(field(m, "stream"), "err", "stream err for stderr.log");
	tap_is_str(field(m, "line"), "hello err", "the stderr line");
	tap_is_int((intmax_t)count_of("app-fields"), 2, "from_start=false skips what the files held");
	struct log_tail_stats st;
	log_tail_get_stats(t, &st);
	tap_ok(st.lines == 2 && st.dropped == 0, "stats: 2 lines, none dropped");
out:
	log_tail_free(t);
}

static void test_from_start(void)
{
	cleanup_free char *dir = log_dir("start", true);
	append(dir, "stdout.log", "first\nsecond\n");
	append(dir, "stderr.log", "oops\r\n");
	struct log_tail *t = tail_new(dir, "app-start", FAST, true);

	if (tap_ok(wait_for("app-start", 3), "from_start=true publishes what the files held")) {
		cleanup_free char *got = lines_of("app-start", 0);
		tap_is_str(got, "out:first|out:second|err:oops", "in order per file, CR of CRLF dropped");
	}
	log_tail_free(t);
}

static void test_partial(void)
{
	cleanup_free char *dir = log_dir("partial", true);
	struct log_tail *t = tail_new(dir, "app-partial", FAST, false);

	append(dir, "stdout.log", "par");
	append(dir, "stderr.log", "marker\n");
	/* Each read takes stdout.log before stderr.log, so "par" was read when marker arrives. */
	if (!tap_ok(wait_for("app-partial", 1), "marker published"))
		goto out;
	tap_is_str(field(msg_of("app-partial", 0), "line"), "marker", "a partial line is held back");
	append(dir, "stdout.log", "tial\n");
	if (tap_ok(wait_for("app-partial", 2), "the line is published once it ends"))
		tap_is_str(field(msg_of("app-partial", 1), "line"), "partial", "the held part joined");
out:
	log_tail_free(t);
}

static void test_long(void)
{
	cleanup_free char *dir = log_dir("long", true);
	struct log_tail *t = tail_new(dir, "app-long", FAST, false);

	/* An overlong line, written in pieces, and one whose cut falls inside a character. */
	struct dew_buf b = DEW_BUF_INIT;
	for (int i = 0; i < LOG_LINE_MAX + 100; i++)
		dew_buf_putc(&b, (char)('a' + i % 26));
	cleanup_free char *longline = dew_buf_steal(&b);
	char keep = longline[1000];
	longline[1000] = '\0';
	append(dir, "stdout.log", longline);
	longline[1000] = keep;
	append(dir, "stdout.log", longline + 1000);
	append(dir, "stdout.log", "\nafter\n");
	dew_buf_puts(&b, "");
	for (int i = 0; i < LOG_LINE_MAX - 1; i++)
		dew_buf_putc(&b, 'x');
	dew_buf_puts(&b, "\xc3\xa9tail\n"); /* "é" straddles the cut */
	cleanup_free char *utf = dew_buf_steal(&b);
	append(dir, "stderr.log", utf);
	if (!tap_ok(wait_for("app-long", 3), "overlong lines are published")) {
		log_tail_free(t);
		return;
	}
	const char *cut = field(msg_of("app-long", 0), "line");
	tap_ok(strlen(cut) == LOG_LINE_MAX + 3 && !strncmp(cut, longline, LOG_LINE_MAX) &&
		       !strcmp(cut + LOG_LINE_MAX, ELLIPSIS),
	       "a long line is cut at LOG_LINE_MAX with a trailing …");
	tap_is_str(field(msg_of("app-long", 1), "line"), "after", "its rest is dropped, the next line kept");
	cut = field(msg_of("app-long", 2), "line");
	tap_ok(strlen(cut) == LOG_LINE_MAX - 1 + 3 && !strcmp(cut + LOG_LINE_MAX - 1, ELLIPSIS),
	       "the cut does not split a UTF-8 character");
	append(dir, "stdout.log", "bad \xff\xfe utf8\n");
	if (tap_ok(wait_for("app-long", 4), "a line that is not UTF-8 is published"))
		tap_is_str(field(msg_of("app-long", 3), "line"), "bad \xef\xbf\xbd\xef\xbf\xbd utf8",
			   "its bad bytes become U+FFFD");
	log_tail_free(t);
}

/* Append lines n.. to the open file fd, and what the tail should publish for them to want. */
static void write_lines(int fd, int *n, int count, struct dew_buf *want)
{
	char line[32];

	for (int i = 0; i < count; i++, (*n)++) {
		int len = snprintf(line, sizeof line, "line-%03d\n", *n);
		if (write(fd, line, (size_t)len) != len)
			abort();
		dew_buf_printf(want, "%sout:line-%03d", want->len ? "|" : "", *n);
	}
}

/*
 * Rotate as the monitor does, a line cut in two by it: "spl" before the rename, "it-old" after it
 * (the monitor may write between our last read and its close), "-new" in the new file.
 */
static void rotate(const char *dir, int fd, struct dew_buf *want)
{
	cleanup_free char *cur = xasprintf("%s/stdout.log", dir), *old = xasprintf("%s/stdout.log.1", dir);

	if (write(fd, "spl", 3) != 3 || rename(cur, old) < 0 || write(fd, "it-old", 6) != 6)
		abort();
	close(fd);
	write_file(dir, "stdout.log", "-new\n", O_EXCL);
	dew_buf_printf(want, "|out:split-old-new");
}

static int open_log(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/stdout.log", dir);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

	if (fd < 0)
		abort();
	return fd;
}

static void test_rotation(void)
{
	cleanup_free char *dir = log_dir("rotate", true);
	write_file(dir, "stdout.log", "before\n", 0);
	write_file(dir, "stdout.log.1", "older\n", 0);
	struct log_tail *t = tail_new(dir, "app-rotate", FAST, false);
	struct dew_buf want = DEW_BUF_INIT;
	int n = 0, fd = open_log(dir);

	/* One rotation after the tail read part of the file. */
	write_lines(fd, &n, 20, &want);
	if (!tap_ok(wait_for("app-rotate", 20), "lines before the rotation"))
		goto out;
	rotate(dir, fd, &want);
	fd = open_log(dir);
	write_lines(fd, &n, 5, &want);
	if (!tap_ok(wait_for("app-rotate", 26), "lines after the rotation")) {
		close(fd);
		goto out;
	}
	/* Two rotations before the tail reads again: the file in between is now .1. */
	write_lines(fd, &n, 20, &want);
	rotate(dir, fd, &want);
	fd = open_log(dir);
	write_lines(fd, &n, 20, &want);
	rotate(dir, fd, &want);
	fd = open_log(dir);
	write_lines(fd, &n, 3, &want);
	close(fd);
	if (tap_ok(wait_for("app-rotate", 26 + 20 + 1 + 20 + 1 + 3), "lines of twice rotated files")) {
		RUN_UNTIL(false, 300); /* a repeated line would show up now */
		cleanup_free char *got = lines_of("app-rotate", 0);
		tap_is_str(got, want.data, "rotation loses no line and repeats none");
	}
out:
	dew_buf_close(&want);
	log_tail_free(t);
}

static void test_dir_later(void)
{
	cleanup_free char *dir = log_dir("later", false);
	struct log_tail *t = tail_new(dir, "app-later", FAST, false);

	RUN_UNTIL(false, 300); /* a retry or two find nothing */
	tap_is_int((intmax_t)count_of("app-later"), 0, "nothing while the log dir does not exist");
	if (mkdir(dir, 0755) < 0)
		abort();
	append(dir, "stdout.log", "early bird\n");
	if (tap_ok(wait_for("app-later", 1), "a log dir created later is followed"))
		tap_is_str(field(msg_of("app-later", 0), "line"), "early bird", "its files are read from 0");
	append(dir, "stderr.log", "err later\n");
	if (tap_ok(wait_for("app-later", 2), "a file created later in it is followed"))
		tap_is_str(field(msg_of("app-later", 1), "line"), "err later", "its first line");
	log_tail_free(t);
}

static void test_rate_limit(void)
{
	cleanup_free char *dir = log_dir("rate", true);
	write_file(dir, "stdout.log", "", 0);
	struct log_tail *t = tail_new(dir, "app-rate", 5, false);
	struct dew_buf b = DEW_BUF_INIT;
	struct log_tail_stats st;
	cleanup_free char *got = NULL;

	for (int i = 0; i < 20; i++)
		dew_buf_printf(&b, "burst-%d\n", i);
	append(dir, "stdout.log", b.data); /* one read takes all 20 lines at one loop time */
	dew_buf_close(&b);
	if (!tap_ok(wait_for("app-rate", 6), "the burst and the report are published"))
		goto out;
	got = lines_of("app-rate", 0);
	tap_is_str(got,
		   "out:burst-0|out:burst-1|out:burst-2|out:burst-3|out:burst-4|"
		   "out:dew-dea: 15 log lines dropped (rate limit 5/s)",
		   "a burst of `rate` lines passes, the rest is dropped and reported");
	json_t *report = msg_of("app-rate", 5);
	tap_ok(!strcmp(field(report, "source"), "DEA") && !strcmp(field(report, "stream"), "out"),
	       "the report is a DEA line on stream out");
	log_tail_get_stats(t, &st);
	tap_ok(st.lines == 5 && st.dropped == 15, "stats: 5 lines, 15 dropped (%llu, %llu)",
	       (unsigned long long)st.lines, (unsigned long long)st.dropped);
	append(dir, "stdout.log", "refilled\n");
	if (tap_ok(wait_for("app-rate", 7), "the bucket refills"))
		tap_is_str(field(msg_of("app-rate", 6), "line"), "refilled", "a later line passes");
	RUN_UNTIL(false, 1200); /* a report timer that fires now has nothing to say */
	tap_is_int((intmax_t)count_of("app-rate"), 7, "no report without new drops");
out:
	log_tail_free(t);
}

static void test_publish_dea(void)
{
	cleanup_free char *dir = log_dir("dea", true);
	struct log_tail *t = tail_new(dir, "app-dea", 1, false);

	log_tail_publish_dea(t, "started");
	log_tail_publish_dea(t, "crashed: out of memory");
	log_tail_publish_dea(t, "not rate-limited");
	if (tap_ok(wait_for("app-dea", 3), "DEA lines are published (past a rate of 1/s)")) {
		json_t *m = msg_of("app-dea", 0);
		tap_ok(!strcmp(field(m, "source"), "DEA") && !strcmp(field(m, "stream"), "out") &&
			       !strcmp(field(m, "line"), "started") &&
			       !strcmp(field(m, "instance"), "inst-1"),
		       "a DEA line: source DEA, stream out, the instance's fields");
		tap_is_str(field(msg_of("app-dea", 1), "line"), "crashed: out of memory", "in order");
	}
	struct log_tail_stats st;
	log_tail_get_stats(t, &st);
	tap_ok(st.lines == 0 && st.dropped == 0, "DEA lines are not counted as app lines");
	log_tail_free(t);
}

/* How often needle occurs in the file at path. */
static size_t count_in_file(const char *path, const char *needle)
{
	cleanup_free char *text = NULL;
	size_t n = 0;

	if (dew_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
		return 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_bad_subject(void)
{
	cleanup_free char *dir = log_dir("badsubj", true);
	cleanup_free char *logpath = xasprintf("%s/dew.log", H.tmp);
	int fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);

	dew_log_set_fd(fd);
	struct log_tail *t = tail_new(dir, "bad app", FAST, false);
	append(dir, "stdout.log", "one\ntwo\n");
	tap_ok(RUN_UNTIL(count_in_file(logpath, "logs.bad app") > 0, WAIT_MS),
	       "a bad subject is warned about");
	log_tail_publish_dea(t, "started");
	log_tail_publish_dea(t, "stopped");
	tap_is_int((intmax_t)count_in_file(logpath, "logs.bad app"), 1, "once");
	struct log_tail_stats st;
	log_tail_get_stats(t, &st);
	tap_is_int((intmax_t)st.lines, 0, "lines that could not be published are not counted");
	log_tail_free(t);
	dew_log_set_fd(2);
	close(fd);
}

static void test_free_drains(void)
{
	cleanup_free char *dir = log_dir("drain", true);
	write_file(dir, "stderr.log", "", 0);
	struct log_tail *t = tail_new(dir, "app-drain", FAST, false);

	append(dir, "stderr.log", "a\nb\nc\nlast words");
	log_tail_free(t); /* before the loop ran */
	if (tap_ok(wait_for("app-drain", 4), "free publishes what was left")) {
		cleanup_free char *got = lines_of("app-drain", 0);
		tap_is_str(got, "err:a|err:b|err:c|err:last words", "and the unfinished last line");
	}

	/* More than one read's worth: free while a continuation is pending. */
	cleanup_free char *dir2 = log_dir("drain2", true);
	write_file(dir2, "stdout.log", "", 0);
	t = tail_new(dir2, "app-drain2", FAST, false);
	struct dew_buf b = DEW_BUF_INIT;
	enum { LINES = 3000 };
	for (int i = 0; i < LINES; i++)
		dew_buf_printf(&b, "line-%05d %088d\n", i, 0); /* 100 bytes each */
	append(dir2, "stdout.log", b.data);
	dew_buf_close(&b);
	struct log_tail_stats st = { 0 };
	RUN_UNTIL((log_tail_get_stats(t, &st), st.lines > 0), WAIT_MS);
	tap_ok(st.lines > 0 && st.lines < LINES, "a bounded read leaves more pending (%llu lines read)",
	       (unsigned long long)st.lines);
	log_tail_free(t);
	if (tap_ok(wait_for("app-drain2", LINES), "free drains the rest")) {
		bool ordered = true;
		for (int i = 0; i < LINES && ordered; i++) {
			char want[16];
			snprintf(want, sizeof want, "line-%05d", i);
			ordered = !strncmp(field(msg_of("app-drain2", (size_t)i), "line"), want, 10);
		}
		tap_ok(ordered, "every line once, in order");
	}
}

/* --- log_last_lines ------------------------------------------------------------------------- */

static char *joined(char **v)
{
	struct dew_buf b = DEW_BUF_INIT;

	dew_buf_puts(&b, "");
	for (size_t i = 0; v && v[i]; i++)
		dew_buf_printf(&b, "%s%s", i ? "|" : "", v[i]);
	return dew_buf_steal(&b);
}

static void test_last_lines(void)
{
	cleanup_free char *dir = log_dir("last", true);
	cleanup_free char *missing = log_dir("last-missing", false);
	char **v = log_last_lines(missing, 10);

	tap_ok(v && !v[0], "a missing log dir: an empty vector");
	dew_strv_free(v);
	append(dir, "stdout.log", "o1\no2\no3\n");
	v = log_last_lines(dir, 10);
	cleanup_free char *got = joined(v);
	tap_is_str(got, "out: o1|out: o2|out: o3", "a missing stderr.log, n larger than the file");
	dew_strv_free(v);
	append(dir, "stderr.log", "e1\ne2\r\n\ne4 unfinished");
	v = log_last_lines(dir, 2);
	free(got);
	got = joined(v);
	tap_is_str(got, "err: |err: e4 unfinished|out: o2|out: o3",
		   "stderr first, then stdout; the last n lines of each in order");
	dew_strv_free(v);
	v = log_last_lines(dir, 0);
	tap_ok(v && !v[0], "n = 0: an empty vector");
	dew_strv_free(v);

	/* A big file: only its last 64 KiB, without the line cut in half; a long line bounded. */
	cleanup_free char *big = log_dir("last-big", true);
	struct dew_buf b = DEW_BUF_INIT;
	for (int i = 0; i < 2000; i++)
		dew_buf_printf(&b, "big-%04d %090d\n", i, 0); /* 100 bytes each */
	for (int i = 0; i < LOG_LINE_MAX + 10; i++)
		dew_buf_putc(&b, 'z');
	dew_buf_puts(&b, "\n");
	append(big, "stdout.log", b.data);
	dew_buf_close(&b);
	v = log_last_lines(big, 1000);
	size_t n = 0;
	while (v && v[n])
		n++;
	tap_ok(n > 500 && n < 700, "at most 64 KiB are read (%zu lines)", n);
	tap_ok(n > 1 && !strncmp(v[0], "out: big-", 9) && strlen(v[0]) == 5 + 99, "the first line is whole");
	tap_ok(n > 1 && strlen(v[n - 1]) == 5 + LOG_LINE_MAX + 3 &&
		       !strcmp(v[n - 1] + 5 + LOG_LINE_MAX, ELLIPSIS),
	       "a long line is bounded by LOG_LINE_MAX");
	dew_strv_free(v);
}

/* --- main ----------------------------------------------------------------------------------- */

static void harness_stop(void)
{
	if (H.pub)
		dew_bus_close(H.pub);
	if (H.sub)
		dew_bus_close(H.sub);
	uv_close((uv_handle_t *)&H.tick, NULL);
	uv_run(&H.loop, UV_RUN_DEFAULT);
	tap_is_int(uv_loop_close(&H.loop), 0, "every handle of the tails was closed");
	if (H.bus_pid > 0) {
		kill(H.bus_pid, SIGTERM);
		waitpid(H.bus_pid, NULL, 0);
	}
	json_decref(H.msgs);
	dew_remove_tree(H.tmp, NULL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	dew_log_setup("test-logs", DEW_LOG_TEXT, DEW_LOG_WARNING);
	cleanup_free char *tmpdir =
		xasprintf("%s/dew-test-logs-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	H.tmp = mkdtemp(tmpdir);
	if (!H.tmp) {
		tap_diag("mkdtemp: %s", strerror(errno));
		return 1;
	}
	test_last_lines();
	if (harness_start()) {
		test_fields_and_end();
		test_from_start();
		test_partial();
		test_long();
		test_rotation();
		test_dir_later();
		test_rate_limit();
		test_publish_dea();
		test_bad_subject();
		test_free_drains();
	} else {
		tap_skip("dew-bus", "no dew-bus server to publish to", "log tail tests");
	}
	harness_stop();
	return tap_done();
}
