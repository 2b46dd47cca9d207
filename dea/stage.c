// SPDX-License-Identifier: MIT
/*
 * Staging requests on the DEA (stage.h). The loop thread bounds and parses each request and
 * starts a thread of its own for it (staging takes minutes: never the loop, nor libuv's small
 * threadpool); the thread downloads the package, runs dew_stage and uploads the droplet. Its log
 * lines and its end come back to the loop thread through one ordered, mutex-protected queue and
 * a uv_async_t, so the lines are published in order and always before the reply.
 */
#include "stage-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "fetch.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "nats-proto.h"
#include "sha256.h"
#include "stack.h"
#include "staging.h"
#include "start.h"
#include "utf8.h"

static int64_t stage_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the task's thread ----------------------------------------------------------------------- */

/* Append ev to the queue for the loop thread and wake it (any thread). */
static void stager_post(struct stager *s, struct stage_event *ev)
{
	pthread_mutex_lock(&s->lock);
	*s->tail = ev;
	s->tail = &ev->next;
	pthread_mutex_unlock(&s->lock);
	uv_async_send(&s->async);
}

/*
 * Queue one log line of t for its log_subject. Over STAGE_PENDING_LINES_MAX lines waiting (a
 * loop that cannot keep up) the line is counted and dropped, unless force: memory stays bounded.
 */
static void stage_log_line(struct stage_task *t, const char *line, bool force)
{
	struct stager *s = t->s;
	struct stage_event *ev;

	if (!t->log_subject)
		return;
	ev = xzalloc(sizeof *ev);
	ev->task = t;
	ev->line = xstrdup(line);
	ev->ts_ms = stage_now_ms();
	pthread_mutex_lock(&s->lock);
	if (s->pending_lines >= STAGE_PENDING_LINES_MAX && !force) {
		t->dropped_lines++;
		pthread_mutex_unlock(&s->lock);
		free(ev->line);
		free(ev);
		return;
	}
	s->pending_lines++;
	*s->tail = ev;
	s->tail = &ev->next;
	pthread_mutex_unlock(&s->lock);
	uv_async_send(&s->async);
}

static void stage_on_log(const char *line, void *data)
{
	stage_log_line(data, line, false);
}

/* The DEA's own lines in the staging log ("-----> Uploading droplet (12 KiB)"). */
__attribute__((format(printf, 2, 3))) static void stage_logf(struct stage_task *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *line = xvasprintf(fmt, ap);
	va_end(ap);
	stage_log_line(t, line, false);
}

/* The runtime's own messages, into the DEA's log. */
static void stage_rt_log(int level, const char *msg, void *data)
{
	const struct stage_task *t = data;
	enum dew_log_level l = DEW_LOG_DEBUG;

	if (level <= DEW_LOG_ERR)
		l = DEW_LOG_ERR;
	else if (level < DEW_LOG_DEBUG)
		l = (enum dew_log_level)level;
	dew_log(l, "staging %s: %s", t->app_id, msg);
}

/* uri without credentials, query or fragment (signed URLs carry their secrets there). */
static char *stage_uri_shown(const char *uri)
{
	const char *auth = strstr(uri, "://");
	if (!auth)
		return xstrdup("(invalid URI)");
	auth += 3;
	const char *host_end = auth + strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', (size_t)(host_end - auth));
	const char *host = at ? at + 1 : auth;
	size_t path = strcspn(host_end, "?#");
	return xasprintf("%.*s%.*s%.*s", (int)(auth - uri), uri, (int)(host_end - host), host, (int)path,
			 host_end);
}

/* GET t's package into path, checking its size and SHA-256 while it streams. */
static int stage_download(struct stage_task *t, const char *path, uint64_t *size, struct dew_error **err)
{
	char got[DEW_SHA256_HEX_LEN + 1];
	cleanup_free char *shown = stage_uri_shown(t->package_uri);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int r;

	if (fd < 0)
		return dew_error_set(err, errno, "create `%s`", path);
	r = fetch_to_fd(t->package_uri, fd, path, STAGE_MAX_PACKAGE, t->s->transfer_timeout_ms, got, size,
			err);
	if (r == 0 && strcmp(got, t->package_sha256) != 0)
		r = dew_error_set_code(err, EBADMSG, "SHA-256 mismatch: expected %s, got %s",
				       t->package_sha256, got);
	if (close(fd) < 0 && r == 0)
		r = dew_error_set(err, errno, "write `%s`", path);
	return r < 0 ? dew_error_prefix(err, "download the package from %s", shown) : 0;
}

/* The upload's answer is not ours to print. */
static size_t stage_discard(char *data, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/* PUT the droplet at path to t's upload URI with its hash in X-Droplet-Sha256; 2xx or an error. */
static int stage_upload(struct stage_task *t, const char *path, struct dew_error **err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	cleanup_free char *shown = stage_uri_shown(t->upload_uri);
	cleanup_free char *hash = xasprintf("X-Droplet-Sha256: %s", t->res.sha256);
	cleanup_fclose FILE *f = fopen(path, "rbe");
	struct curl_slist *headers = NULL;
	long status = 0;
	int r = 0;

	if (!f)
		return dew_error_set(err, errno, "open `%s`", path);
	CURL *c = fetch_curl_new(t->upload_uri, t->s->transfer_timeout_ms, errbuf);
	if (!c)
		return dew_error_set_code(err, ENOMEM, "cannot create a curl handle");
	headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
	headers = curl_slist_append(headers, hash);
	if (!headers)
		abort();
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READDATA, f); /* libcurl's own read callback: fread */
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->res.size);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stage_discard);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		r = fetch_curl_error(c, rc, t->s->transfer_timeout_ms, errbuf, err);
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status < 200 || status > 299)
			r = dew_error_set_code(err, EIO, "HTTP %ld", status);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	return r < 0 ? dew_error_prefix(err, "upload the droplet to %s", shown) : 0;
}

/* Run the staging executor on the downloaded package with the request's stack and limits. */
static int stage_execute(struct stage_task *t, const char *package, const char *work, const char *droplet,
			 struct dew_error **err)
{
	struct stager *s = t->s;
	struct dew_stack *stack = NULL;
	struct dewrt_context rt;
	int r;

	/* Loaded per task, not cached: stack.json is small, and a rebuilt stack applies at once. */
	if (dew_stack_load(s->stacks_dir, t->stack, false, &stack, err) < 0)
		return -EINVAL;
	/* libdewrt contexts are not shared across threads: each task has its own. */
	if ((r = dewrt_context_init(&rt, s->runtime_root, err)) < 0) {
		dew_stack_free(stack);
		return r;
	}
	rt.log = stage_rt_log;
	rt.log_data = t;
	cleanup_free char *buildpacks = xasprintf("%s/buildpacks", s->stacks_dir);
	struct dew_stage_request req = {
		.package = package,
		.stack = stack,
		.buildpacks_dir = buildpacks,
		.buildpack = t->buildpack,
		.start_command = t->start_command,
		.env = t->env,
		.services_json = t->services_json,
		.memory_mb = t->memory_mb,
		.disk_mb = t->disk_mb,
		.timeout_ms = s->timeout_ms,
		.work_dir = work,
		.droplet = droplet,
		.on_log = stage_on_log,
		.log_data = t,
	};
	r = dew_stage(&rt, &req, &t->res, err);
	if (r < 0)
		t->failure = dew_stage_failure_name(t->res.failure);
	dewrt_context_close(&rt);
	dew_stack_free(stack);
	return r;
}

/* The size for a log line: "512 bytes", "12.3 KiB", "4.0 MiB". */
static void stage_human_size(uint64_t n, char buf[32])
{
	if (n < 1024)
		snprintf(buf, 32, "%" PRIu64 " bytes", n);
	else if (n < 1024 * 1024)
		snprintf(buf, 32, "%.1f KiB", (double)n / 1024);
	else
		snprintf(buf, 32, "%.1f MiB", (double)n / (1024 * 1024));
}

/* Download, stage, upload in scratch; t->failure names the step that failed. */
static int stage_task_run(struct stage_task *t, const char *scratch, struct dew_error **err)
{
	cleanup_free char *package = xasprintf("%s/package", scratch);
	cleanup_free char *work = xasprintf("%s/work", scratch);
	cleanup_free char *droplet = xasprintf("%s/droplet", scratch);
	char size[32];
	uint64_t n = 0;

	t->failure = "download";
	if (stage_download(t, package, &n, err) < 0)
		return -1;
	stage_human_size(n, size);
	stage_logf(t, "-----> Downloaded app package (%s)", size);
	/* dew_stage wants an empty work dir the container's user can traverse. */
	t->failure = dew_stage_failure_name(DEW_STAGE_ERROR);
	if (mkdir(work, 0755) < 0 || chmod(work, 0755) < 0)
		return dew_error_set(err, errno, "create `%s`", work);
	if (stage_execute(t, package, work, droplet, err) < 0)
		return -1;
	stage_human_size(t->res.size, size);
	stage_logf(t, "-----> Uploading droplet (%s)", size);
	t->failure = "upload";
	if (stage_upload(t, droplet, err) < 0)
		return -1;
	stage_logf(t, "-----> Uploaded droplet");
	t->failure = NULL;
	return 0;
}

/* err's message as one line of bounded length, for a reply. */
static char *stage_one_line(const struct dew_error *err)
{
	char *line = xstrndup(dew_error_msg(err), STAGE_ERROR_MAX);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return line;
}

/* The task's thread: a scratch dir under work_dir, the work, its removal, then the end event. */
static void *stage_task_main(void *arg)
{
	struct stage_task *t = arg;
	struct stager *s = t->s;
	struct dew_error *err = NULL;
	cleanup_free char *scratch = xasprintf("%s/stage-XXXXXX", s->work_dir);

	if (!mkdtemp(scratch)) {
		t->failure = dew_stage_failure_name(DEW_STAGE_ERROR);
		dew_error_set(&err, errno, "create a scratch directory in `%s`", s->work_dir);
	} else {
		/* The container's user must traverse it to reach the app dir. */
		if (chmod(scratch, 0755) < 0) {
			t->failure = dew_stage_failure_name(DEW_STAGE_ERROR);
			dew_error_set(&err, errno, "chmod `%s`", scratch);
		} else {
			stage_task_run(t, scratch, &err);
		}
		struct dew_error *rerr = NULL;
		if (dew_remove_tree(scratch, &rerr) < 0) {
			dew_err("staging %s: %s", t->app_id, dew_error_msg(rerr));
			dew_error_free(rerr);
		}
	}
	if (t->failure)
		t->error = stage_one_line(err);
	dew_error_free(err);
	pthread_mutex_lock(&s->lock);
	uint64_t dropped = t->dropped_lines;
	pthread_mutex_unlock(&s->lock);
	if (dropped > 0) {
		cleanup_free char *line =
			xasprintf("dew-dea: %" PRIu64 " staging log lines dropped", dropped);
		stage_log_line(t, line, true);
	}
	struct stage_event *end = xzalloc(sizeof *end);
	end->task = t;
	stager_post(s, end);
	return NULL;
}

/* ---- the loop thread ------------------------------------------------------------------------- */

/* s as valid UTF-8 (each stray byte becomes U+FFFD): JSON on the bus takes nothing else. */
static char *stage_utf8(const char *s)
{
	struct dew_buf b = DEW_BUF_INIT;

	dew_utf8_append(&b, s, strlen(s));
	return dew_buf_steal(&b);
}

static void stager_publish_line(struct stager *s, const struct stage_event *ev)
{
	const struct stage_task *t = ev->task;
	cleanup_free char *text = stage_utf8(ev->line);
	json_auto_t *m = json_pack("{s:s, s:s, s:s, s:f, s:s}", "app", t->app_id, "source", "STG", "stream",
				   "out", "ts", (double)ev->ts_ms / 1000.0, "line", text);
	int r = m ? dew_bus_publish_json(s->bus, t->log_subject, NULL, m) : -EINVAL;
	if (r < 0)
		dew_debug("staging %s: publish a log line on %s: %s", t->app_id, t->log_subject,
			  strerror(-r));
}

static void stager_reply(struct stager *s, const char *subject, json_t *m)
{
	int r = dew_bus_publish_json(s->bus, subject, NULL, m);
	if (r < 0)
		dew_warn("staging: reply on %s: %s", subject, strerror(-r));
}

static void stager_reply_error(struct stager *s, const char *subject, const char *error, const char *failure)
{
	/* Errors quote libcurl, the buildpack's last line, or a cut made at a byte count. */
	cleanup_free char *text = stage_utf8(error);
	json_auto_t *m = json_pack("{s:s, s:s}", "error", text, "failure", failure);
	stager_reply(s, subject, m);
}

/* A task's end on the loop: join its thread, reply, count it, free it. */
static void stager_finish(struct stager *s, struct stage_task *t)
{
	pthread_join(t->thread, NULL); /* it has posted its end: it returns at once */
	for (struct stage_task **p = &s->tasks; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	s->stats.running--;
	if (t->failure) {
		s->stats.failed++;
		dew_info("staging %s: failed (%s): %s", t->app_id, t->failure, t->error);
		stager_reply_error(s, t->reply, t->error, t->failure);
	} else {
		s->stats.succeeded++;
		dew_info("staging %s: staged with %s, droplet %s (%" PRIu64 " bytes)", t->app_id,
			 t->res.buildpack, t->res.sha256, t->res.size);
		json_t *pt = json_loads(t->res.process_types, 0, NULL);
		if (!json_is_object(pt)) {
			json_decref(pt);
			pt = json_object();
		}
		json_auto_t *m =
			json_pack("{s:s, s:I, s:s, s:s, s:o}", "droplet_sha256", t->res.sha256,
				  "droplet_size", (json_int_t)t->res.size, "buildpack", t->res.buildpack,
				  "start_command", t->res.start_command, "process_types", pt);
		if (m)
			stager_reply(s, t->reply, m);
		else
			stager_reply_error(s, t->reply, "the staging result is not valid UTF-8",
					   "staging error");
	}
	stage_task_free(t);
}

static void stager_free(struct stager *s)
{
	pthread_mutex_destroy(&s->lock);
	free(s->stacks_dir);
	free(s->runtime_root);
	free(s->work_dir);
	dew_strv_free(s->stacks);
	free(s);
}

static void stager_on_async_closed(uv_handle_t *h)
{
	struct stager *s = h->data;
	void (*done)(void *arg) = s->done;
	void *arg = s->done_arg;

	stager_free(s);
	if (done)
		done(arg);
}

/* Closing and no task left: close the async handle last; it frees the stager. */
static void stager_maybe_done(struct stager *s)
{
	if (s->closing && !s->tasks && !s->async_closed) {
		s->async_closed = true;
		uv_close((uv_handle_t *)&s->async, stager_on_async_closed);
	}
}

/* Everything the task threads posted, in order: log lines, then each task's end. */
static void stager_on_async(uv_async_t *a)
{
	struct stager *s = a->data;

	pthread_mutex_lock(&s->lock);
	struct stage_event *ev = s->head;
	s->head = NULL;
	s->tail = &s->head;
	s->pending_lines = 0;
	pthread_mutex_unlock(&s->lock);
	while (ev) {
		struct stage_event *next = ev->next;
		if (ev->line)
			stager_publish_line(s, ev);
		else
			stager_finish(s, ev->task);
		free(ev->line);
		free(ev);
		ev = next;
	}
	stager_maybe_done(s);
}

/* Start t on a thread of its own, or answer why not. Takes t. */
static void stager_start_task(struct stager *s, struct stage_task *t)
{
	if (s->stats.running >= s->max_concurrent) {
		cleanup_free char *why =
			xasprintf("this DEA is busy: %" PRIu64 " stagings running (at most %u)",
				  s->stats.running, s->max_concurrent);
		s->stats.busy++;
		dew_info("staging %s: %s", t->app_id, why);
		stager_reply_error(s, t->reply, why, "busy");
		stage_task_free(t);
		return;
	}
	int e = pthread_create(&t->thread, NULL, stage_task_main, t);
	if (e != 0) {
		cleanup_free char *why = xasprintf("cannot start a staging thread: %s", strerror(e));
		s->stats.failed++;
		dew_err("staging %s: %s", t->app_id, why);
		stager_reply_error(s, t->reply, why, dew_stage_failure_name(DEW_STAGE_ERROR));
		stage_task_free(t);
		return;
	}
	t->next = s->tasks;
	s->tasks = t;
	s->stats.running++;
	dew_info("staging %s on stack %s: started", t->app_id, t->stack);
}

/* A `staging` request: bound it, parse it, start it or answer why not. */
static void stager_on_msg(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct stager *s = data;
	cleanup_error struct dew_error *err = NULL;

	if (s->closing)
		return;
	if (msg->len > STAGE_MAX_REQUEST) {
		dew_warn("staging: payload of %zu bytes is over %d: dropped", msg->len, STAGE_MAX_REQUEST);
		return;
	}
	if (!msg->reply) {
		dew_warn("staging: request without a reply subject: dropped");
		return;
	}
	s->stats.requests++;
	struct stage_task *t = xzalloc(sizeof *t);
	t->s = s;
	t->reply = xstrndup(msg->reply, msg->reply_len);
	if (stage_parse(s, msg->data, msg->len, t, &err) < 0) {
		s->stats.failed++;
		dew_warn("staging: invalid request: %s", dew_error_msg(err));
		stager_reply_error(s, t->reply, dew_error_msg(err), "invalid request");
		stage_task_free(t);
		return;
	}
	stager_start_task(s, t);
}

int stager_new(uv_loop_t *loop, struct dew_bus *bus, const struct stager_config *cfg, struct stager **out,
	       struct dew_error **err)
{
	size_t n = 0;

	if (!cfg->stacks_dir || !cfg->work_dir || !cfg->stacks)
		return dew_error_set(err, 0, "staging: stacks_dir, work_dir and stacks are required");
	/* Both end up in container specs, which take absolute paths only. */
	if (cfg->stacks_dir[0] != '/' || cfg->work_dir[0] != '/')
		return dew_error_set(err, 0,
				     "staging: the stacks and work directories must be absolute paths");
	fetch_init();
	struct stager *s = xzalloc(sizeof *s);
	s->loop = loop;
	s->bus = bus;
	s->stacks_dir = xstrdup(cfg->stacks_dir);
	s->runtime_root = cfg->runtime_root ? xstrdup(cfg->runtime_root) : NULL;
	s->work_dir = xstrdup(cfg->work_dir);
	while (cfg->stacks[n])
		n++;
	s->stacks = xcalloc(n + 1, sizeof *s->stacks);
	for (size_t i = 0; i < n; i++)
		s->stacks[i] = xstrdup(cfg->stacks[i]);
	s->timeout_ms = cfg->timeout_ms;
	s->transfer_timeout_ms =
		cfg->download_timeout_ms ? cfg->download_timeout_ms : STAGE_TRANSFER_TIMEOUT_DEFAULT;
	s->max_concurrent = cfg->max_concurrent ? cfg->max_concurrent : STAGE_CONCURRENT_DEFAULT;
	s->tail = &s->head;
	pthread_mutex_init(&s->lock, NULL);
	int r = dew_mkdir_p(s->work_dir, 0755, err);
	if (r < 0) {
		stager_free(s);
		return dew_error_prefix(err, "staging work directory");
	}
	r = uv_async_init(loop, &s->async, stager_on_async);
	if (r < 0) {
		stager_free(s);
		return dew_error_set(err, -r, "staging: create the async handle");
	}
	s->async.data = s;
	s->sid = dew_bus_subscribe(bus, "staging", "staging", stager_on_msg, s);
	if (s->sid == 0)
		abort(); /* constant subject and queue: invalid means a broken build */
	*out = s;
	return 0;
}

void stager_close(struct stager *s, void (*done)(void *arg), void *arg)
{
	s->closing = true;
	s->done = done;
	s->done_arg = arg;
	dew_bus_unsubscribe(s->bus, s->sid, 0);
	if (s->tasks)
		dew_info("staging: waiting for %" PRIu64 " stagings to finish", s->stats.running);
	stager_maybe_done(s);
}

void stager_get_stats(const struct stager *s, struct stager_stats *out)
{
	*out = s->stats;
}
