// SPDX-License-Identifier: MIT
/*
 * App logs (issue #7): every line the DEAs publish on logs.<app id> is kept in a ring per app
 * (logs_recent lines; all rings together at most logs_memory bytes, the app written to least
 * recently losing its ring first) and passed to the live streams of that app.
 *
 *   GET /v1/apps/:name/logs?recent   {app, lines: [{app, index, instance, source, stream, ts, line}]}
 *   GET /v1/apps/:name/logs          server-sent events: one `data: <line as JSON>` event per
 *                                    line as it arrives, `: keep-alive` comments every 15 s.
 *
 * A live stream whose client reads too slowly (more than LOGS_STREAM_QUEUE bytes queued) skips
 * lines and is told how many with an event `: dropped N lines`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "controller.h"
#include "json.h"
#include "log.h"
#include "store.h"

enum {
	LOGS_LINE_MAX = 16 * 1024, /* bytes of one message (a DEA sends at most 4 KiB of line) */
	LOGS_STREAM_QUEUE = 1 << 20,
	LOGS_KEEPALIVE_MS = 15000,
	LOGS_STREAMS_MAX = 1024,
};

/* One live stream. */
struct logs_stream {
	struct logs_stream *next;
	struct cc *cc;
	struct dew_http_req *req;
	char *guid;
	uint64_t dropped;
};

/* The ring of one app in cc->logs: {"lines": [text...], "bytes": n}. */
static json_t *logs_ring(struct cc *cc, const char *guid, bool create)
{
	json_t *ring = json_object_get(cc->logs, guid);
	if (ring || !create)
		return ring;
	ring = json_pack("{s:[], s:I}", "lines", "bytes", (json_int_t)0);
	json_object_set_new(cc->logs, guid, ring);
	return ring;
}

static void logs_forget_ring(struct cc *cc, const char *guid)
{
	json_t *ring = json_object_get(cc->logs, guid);
	if (!ring)
		return;
	cc->logs_bytes -= (size_t)json_integer_value(json_object_get(ring, "bytes"));
	json_object_del(cc->logs, guid);
}

static void logs_keep(struct cc *cc, const char *guid, const char *text, size_t len)
{
	/* A ring is made for apps that exist only: the last lines of a deleted app's instances, or
	 * lines under made-up ids, are not kept. */
	struct store_app a = { 0 };
	if (!logs_ring(cc, guid, false)) {
		int r = store_app_get_by_guid(cc->store, guid, &a, NULL);
		store_app_clear(&a);
		if (r < 0)
			return;
	}
	/* Taken out and put back: the apps written to least recently come first. */
	json_t *ring = json_incref(logs_ring(cc, guid, true));
	json_object_del(cc->logs, guid);
	json_object_set_new(cc->logs, guid, ring);
	json_t *lines = json_object_get(ring, "lines");
	json_int_t bytes = json_integer_value(json_object_get(ring, "bytes"));
	json_array_append_new(lines, json_stringn(text, len));
	bytes += (json_int_t)len;
	cc->logs_bytes += len;
	while (json_array_size(lines) > (size_t)cc->cfg.logs_recent) {
		size_t gone = json_string_length(json_array_get(lines, 0));
		json_array_remove(lines, 0);
		bytes -= (json_int_t)gone;
		cc->logs_bytes -= gone;
	}
	json_object_set_new(ring, "bytes", json_integer(bytes));
	while (cc->logs_bytes > cc->cfg.logs_memory && json_object_size(cc->logs) > 1) {
		const char *oldest = json_object_iter_key(json_object_iter(cc->logs));
		cleanup_free char *key = xstrdup(oldest);
		logs_forget_ring(cc, key);
	}
}

static void logs_stream_write(struct logs_stream *s, const char *text, size_t len)
{
	if (dew_http_write_queue_size(s->req) > LOGS_STREAM_QUEUE) {
		s->dropped++;
		return;
	}
	struct dew_buf b = DEW_BUF_INIT;
	if (s->dropped) {
		dew_buf_printf(&b, ": dropped %" PRIu64 " lines\n\n", s->dropped);
		s->dropped = 0;
	}
	dew_buf_puts(&b, "data: ");
	dew_buf_append(&b, text, len);
	dew_buf_puts(&b, "\n\n");
	dew_http_stream_write(s->req, b.data, b.len);
	dew_buf_close(&b);
}

/* logs.<app id>: {app, index, instance, source, stream, ts, line}. */
static void logs_on_line(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct cc *cc = data;
	(void)bus;
	size_t glen = msg->subject_len > 5 ? msg->subject_len - 5 : 0;
	char guid[65];
	json_auto_t *j = msg->len <= LOGS_LINE_MAX && glen && glen < sizeof guid
				 ? dew_json_parse(msg->data, msg->len, NULL)
				 : NULL;
	const char *line = NULL;
	if (!j || !json_is_object(j) || dew_json_get_string(j, "line", 0, LOGS_LINE_MAX, &line, NULL) < 0) {
		cc->n.bad_log_lines++;
		return;
	}
	memcpy(guid, msg->subject + 5, glen);
	guid[glen] = '\0';
	/* Re-encoded compactly: one line of text, whatever the DEA sent. */
	cleanup_free char *text = dew_json_dumps(j);
	size_t len = strlen(text);
	cc->n.log_lines++;
	logs_keep(cc, guid, text, len);
	for (struct logs_stream *s = cc->log_streams; s; s = s->next)
		if (!strcmp(s->guid, guid))
			logs_stream_write(s, text, len);
}

static void logs_stream_end(struct logs_stream *s)
{
	struct cc *cc = s->cc;
	for (struct logs_stream **p = &cc->log_streams; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	cc->n_log_streams--;
	dew_http_stream_end(s->req);
	free(s->guid);
	free(s);
}

static void logs_on_abort(struct dew_http_req *req)
{
	logs_stream_end(req->data);
}

static void logs_on_keepalive(uv_timer_t *t)
{
	struct cc *cc = t->data;
	for (struct logs_stream *s = cc->log_streams; s; s = s->next)
		if (dew_http_write_queue_size(s->req) <= LOGS_STREAM_QUEUE)
			dew_http_stream_write(s->req, ": keep-alive\n\n", 14);
}

static void logs_recent(struct dew_http_req *req, struct cc *cc, const struct store_app *a)
{
	json_t *lines = json_array(), *text;
	size_t k;
	json_array_foreach (json_object_get(logs_ring(cc, a->guid, false), "lines"), k, text) {
		json_t *j = json_loads(json_string_value(text), 0, NULL);
		if (j)
			json_array_append_new(lines, j);
	}
	dew_http_respond_json(req, 200, json_pack("{s:s, s:o}", "app", a->name, "lines", lines));
}

void api_apps_logs(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	struct store_app a = { 0 };
	cleanup_free char *owner = NULL;
	cleanup_free char *recent = NULL;
	if (api_app_load(req, &u, &a, &owner) < 0)
		return;
	cc_user_clear(&u);
	if ((recent = dew_http_query(req, "recent")) && strcmp(recent, "false") != 0) {
		logs_recent(req, cc, &a);
	} else if (cc->n_log_streams >= LOGS_STREAMS_MAX) {
		api_error(req, 503, "too many live log streams (%d): try again later", LOGS_STREAMS_MAX);
	} else {
		struct logs_stream *s = xzalloc(sizeof(*s));
		s->cc = cc;
		s->req = req;
		s->guid = xstrdup(a.guid);
		s->next = cc->log_streams;
		cc->log_streams = s;
		cc->n_log_streams++;
		req->data = s;
		req->on_abort = logs_on_abort;
		dew_http_add_header(req, "Cache-Control", "no-cache");
		dew_http_stream_start(req, 200, "text/event-stream");
		dew_http_stream_write(req, ": streaming the logs of this app\n\n", 34);
	}
	store_app_clear(&a);
}

void logs_forget(struct cc *cc, const char *guid)
{
	logs_forget_ring(cc, guid);
	for (struct logs_stream *s = cc->log_streams, *next; s; s = next) {
		next = s->next;
		if (!strcmp(s->guid, guid))
			logs_stream_end(s);
	}
}

void logs_start(struct cc *cc)
{
	cc->logs = json_object();
	if (dew_bus_subscribe(cc->bus, "logs.*", NULL, logs_on_line, cc) == 0)
		abort();
	uv_timer_init(cc->loop, &cc->logs_timer);
	cc->logs_timer.data = cc;
	uv_timer_start(&cc->logs_timer, logs_on_keepalive, LOGS_KEEPALIVE_MS, LOGS_KEEPALIVE_MS);
}

void logs_stop(struct cc *cc)
{
	while (cc->log_streams)
		logs_stream_end(cc->log_streams);
	if (!uv_is_closing((uv_handle_t *)&cc->logs_timer))
		uv_close((uv_handle_t *)&cc->logs_timer, NULL);
}

void logs_free(struct cc *cc)
{
	json_decref(cc->logs);
	cc->logs = NULL;
}
