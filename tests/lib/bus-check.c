// SPDX-License-Identifier: MIT
/*
 * bus-check: drives the bus client (common/bus-client.h) against the server in DEW_BUS_URL —
 * dew-bus or nats-server, the same checks for both — and prints TAP. DEW_BUS_RESTART_CMD (a shell
 * command restarting that server on the same port), DEW_BUS_AUTH_URL and DEW_BUS_BADAUTH_URL
 * enable the reconnect and authentication checks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "bus-client.h"
#include "log.h"
#include "nats-proto.h"
#include "random.h"
#include "bus-check.h"
#include "tap.h"

/* What a subscription saw. */
struct got {
	int n;
	char subject[160];
	char data[256];
	char hdr[256];
	size_t len;
	bool has_hdr;
};

struct reply_state {
	int replies;
	int status; /* the final status; 1 while pending */
	bool done;
	char data[256];
	uint64_t t_start, t_end;
	struct check *ck;
};

/* "<prefix>.<suffix>" in one of a few rotating buffers. */
static const char *subj(struct check *ck, const char *suffix)
{
	char *s = ck->subjects[ck->next_subject++ % DEW_ARRAY_SIZE(ck->subjects)];
	snprintf(s, sizeof ck->subjects[0], "%s.%s", ck->prefix, suffix);
	return s;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void on_event(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data)
{
	struct client *cl = data;
	switch (ev) {
	case DEW_BUS_CONNECTED:
		cl->connected++;
		if (cl->close_on_connect)
			dew_bus_close(bus);
		break;
	case DEW_BUS_DISCONNECTED:
		cl->disconnected++;
		for (int i = 0; cl->down_subject && i < DOWN_MSGS; i++)
			cl->down_ok += dew_bus_publish(bus, cl->down_subject, NULL, "down", 4) == 0;
		cl->down_subject = NULL;
		break;
	case DEW_BUS_RECONNECTED:
		cl->reconnected++;
		break;
	case DEW_BUS_SERVER_ERROR:
		cl->server_errors++;
		snprintf(cl->last_error, sizeof cl->last_error, "%s", detail ? detail : "");
		break;
	case DEW_BUS_CLOSED:
		cl->closed++;
		/* Every call is safe here and fails cleanly: the client is going away. */
		if (dew_bus_publish(bus, "late", NULL, "x", 1) != -ECANCELED)
			cl->closed += 100;
		break;
	}
}

int client_start(struct check *ck, struct client *cl, const char *url, const char *name)
{
	struct dew_error *err = NULL;
	struct dew_bus_options o = {
		.servers = url,
		.name = name,
		.on_event = on_event,
		.data = cl,
		.reconnect_min_ms = 20,
		.reconnect_max_ms = 500,
		.ping_interval_ms = ck->ping_ms,
	};
	memset(cl, 0, sizeof *cl);
	cl->ck = ck;
	int rc = dew_bus_new(&cl->bus, ck->loop, &o, &err);
	if (rc < 0) {
		tap_diag("dew_bus_new(%s): %s", url, dew_error_msg(err));
		dew_error_free(err);
	}
	return rc;
}

static bool client_connect(struct check *ck, struct client *cl, const char *url, const char *name)
{
	return client_start(ck, cl, url, name) == 0 && RUN_UNTIL(ck, cl->connected > 0, WAIT_MS);
}

static void on_flushed(struct dew_bus *bus, int status, void *data)
{
	int *out = data;
	*out = status;
}

/* A PING/PONG round trip: the server has processed everything this client sent before. */
static int flush_wait(struct check *ck, struct client *cl)
{
	int status = 1;
	int rc = dew_bus_flush(cl->bus, WAIT_MS, on_flushed, &status);
	if (rc < 0)
		return rc;
	RUN_UNTIL(ck, status != 1, WAIT_MS + 1000);
	return status;
}

static void collect(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct got *g = data;
	g->n++;
	copy_str(g->subject, sizeof g->subject, msg->subject, msg->subject_len);
	copy_str(g->data, sizeof g->data, msg->data, msg->len);
	g->len = msg->len;
	g->has_hdr = msg->hdr != NULL;
	if (msg->hdr)
		copy_str(g->hdr, sizeof g->hdr, msg->hdr, msg->hdr_len);
}

/* Answers "re:<data>" to the reply subject. */
static void respond(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	char reply[256], body[300];
	int *count = data;
	(*count)++;
	if (!msg->reply)
		return;
	copy_str(reply, sizeof reply, msg->reply, msg->reply_len);
	int n = snprintf(body, sizeof body, "re:%.*s", (int)(msg->len < 200 ? msg->len : 200), msg->data);
	dew_bus_publish(bus, reply, NULL, body, (size_t)n);
}

static void on_reply(struct dew_bus *bus, int status, const struct dew_bus_msg *msg, void *data)
{
	struct reply_state *r = data;
	if (msg) {
		r->replies++;
		copy_str(r->data, sizeof r->data, msg->data, msg->len);
	}
	if (status != 0 || !msg || r->status == 2) { /* 2: single request, done at the first reply */
		r->status = status;
		r->done = true;
		r->t_end = uv_now(r->ck->loop);
	}
}

static int request_wait(struct check *ck, struct client *cl, const char *subject, const char *data,
			uint64_t timeout_ms, bool many, struct reply_state *r)
{
	memset(r, 0, sizeof *r);
	r->status = many ? 1 : 2;
	r->ck = ck;
	r->t_start = uv_now(ck->loop);
	int64_t id = dew_bus_request(cl->bus, subject, data, strlen(data), timeout_ms, many, on_reply, r);
	if (id <= 0)
		return (int)id;
	RUN_UNTIL(ck, r->done, timeout_ms + WAIT_MS);
	return r->done ? r->status : 1;
}

/* --- without a server ---------------------------------------------------------------------- */

static void check_bad_urls(struct check *ck)
{
	static const char *const bad[] = {
		"http://127.0.0.1:4222",  "nats://127.0.0.1:99999", "nats://user:s3cret@", "",
		"nats://127.0.0.1:4222,", "nats://::1:4222",	    "nats://host:42/path",
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(bad); i++) {
		struct dew_error *err = NULL;
		struct dew_bus *bus = NULL;
		struct dew_bus_options o = { .servers = bad[i] };
		int rc = dew_bus_new(&bus, ck->loop, &o, &err);
		tap_ok(rc < 0 && !bus, "bad bus URL `%s` is refused", bad[i]);
		tap_has_str(dew_error_msg(err), "bus URL", "the error names the bus URL (%s)",
			    dew_error_msg(err));
		if (strstr(bad[i], "s3cret"))
			tap_ok(!strstr(dew_error_msg(err), "s3cret"), "the error hides the password");
		dew_error_free(err);
	}
}

/* Nothing listens on the port: publishes are buffered up to max_buffered_bytes, then refused. */
static void check_offline(struct check *ck, const char *dead_url)
{
	struct client cl = { .ck = ck };
	struct dew_error *err = NULL;
	struct dew_bus_options o = { .servers = dead_url,
				     .on_event = on_event,
				     .data = &cl,
				     .max_buffered_bytes = 1024,
				     .connect_timeout_ms = 500 };
	if (!tap_ok(dew_bus_new(&cl.bus, ck->loop, &o, &err) == 0,
		    "client for an unreachable server created")) {
		dew_error_free(err);
		return;
	}
	char big[2000] = { 0 };
	tap_is_int(dew_bus_publish(cl.bus, "offline.a", NULL, "hello", 5), 0,
		   "publish while down is buffered");
	tap_is_int(dew_bus_publish(cl.bus, "offline.b", NULL, big, sizeof big), -ENOBUFS,
		   "publish past max_buffered_bytes is -ENOBUFS");
	struct dew_bus_stats st;
	dew_bus_get_stats(cl.bus, &st);
	tap_is_int((intmax_t)st.dropped, 1, "the refused publish is counted in stats.dropped");
	struct reply_state r;
	tap_is_int(request_wait(ck, &cl, "offline.req", "q", 300, false, &r), DEW_BUS_ETIMEDOUT,
		   "a request while down times out");
	RUN_UNTIL(ck, false, 300); /* let it fail a connection attempt or two */
	tap_ok(!dew_bus_is_connected(cl.bus) && dew_bus_server(cl.bus) == NULL, "not connected");
	int fstatus = 1;
	memset(&r, 0, sizeof r);
	r.status = 2;
	r.ck = ck;
	dew_bus_request(cl.bus, "offline.req", "q", 1, 60000, false, on_reply, &r);
	dew_bus_flush(cl.bus, 60000, on_flushed, &fstatus);
	dew_bus_close(cl.bus);
	tap_is_int(r.status, DEW_BUS_ECANCELED, "close cancels a pending request");
	tap_is_int(fstatus, DEW_BUS_ECANCELED, "close cancels a pending flush");
	tap_ok(RUN_UNTIL(ck, cl.closed > 0, WAIT_MS), "CLOSED is reported");
	tap_is_int(cl.closed, 1, "CLOSED once, and calls from its handler fail cleanly");
}

/* --- with a server ------------------------------------------------------------------------- */

static void check_roundtrip(struct check *ck, struct client *a)
{
	struct got g = { 0 };
	const char *s = subj(ck, "rt");
	uint64_t sid = dew_bus_subscribe(a->bus, s, NULL, collect, &g);
	tap_ok(sid > 0, "subscribe returns a sid");
	tap_is_int(dew_bus_publish(a->bus, s, NULL, "hello bus", 9), 0, "publish returns 0");
	tap_ok(RUN_UNTIL(ck, g.n == 1, WAIT_MS), "the subscriber gets the message");
	tap_is_str(g.data, "hello bus", "payload intact");
	tap_is_str(g.subject, s, "subject intact");
	tap_ok(!g.has_hdr, "no header block on a plain publish");
	dew_bus_unsubscribe(a->bus, sid, 0);

	/* Big enough to straddle many reads, below the default max_payload. */
	size_t big_len = 600 * 1024;
	char *big = xmalloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	memset(&g, 0, sizeof g);
	sid = dew_bus_subscribe(a->bus, subj(ck, "big"), NULL, collect, &g);
	tap_is_int(dew_bus_publish(a->bus, subj(ck, "big"), NULL, big, big_len), 0, "publish of 600 KiB");
	tap_ok(RUN_UNTIL(ck, g.n == 1, WAIT_MS) && g.len == big_len, "600 KiB arrive whole");
	dew_bus_unsubscribe(a->bus, sid, 0);
	free(big);
	big = xzalloc(DEW_NATS_MAX_PAYLOAD + 1);
	tap_is_int(dew_bus_publish(a->bus, subj(ck, "big"), NULL, big, DEW_NATS_MAX_PAYLOAD + 1), -EMSGSIZE,
		   "publish over the server's max_payload is -EMSGSIZE");
	free(big);
}

static void check_wildcards(struct check *ck, struct client *a, struct client *b)
{
	struct got star = { 0 }, tail = { 0 };
	uint64_t s1 = dew_bus_subscribe(b->bus, subj(ck, "w.*"), NULL, collect, &star);
	uint64_t s2 = dew_bus_subscribe(b->bus, subj(ck, "w.>"), NULL, collect, &tail);
	tap_is_int(flush_wait(ck, b), 0, "flush after subscribing");
	dew_bus_publish(a->bus, subj(ck, "w.one"), NULL, "1", 1);
	dew_bus_publish(a->bus, subj(ck, "w.one.two"), NULL, "2", 1);
	dew_bus_publish(a->bus, subj(ck, "x.one"), NULL, "3", 1);
	flush_wait(ck, a);
	RUN_UNTIL(ck, star.n >= 1 && tail.n >= 2, WAIT_MS);
	flush_wait(ck, b);
	tap_is_int(star.n, 1, "`*` matches exactly one token");
	tap_is_int(tail.n, 2, "`>` matches one or more tokens");
	dew_bus_unsubscribe(b->bus, s1, 0);
	dew_bus_unsubscribe(b->bus, s2, 0);
}

struct queue_member {
	int n;
	int *counts; /* per message index, shared by the group */
};

static void queue_cb(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct queue_member *qm = data;
	char buf[16];
	copy_str(buf, sizeof buf, msg->data, msg->len);
	int i = atoi(buf);
	qm->n++;
	if (i >= 0 && i < QUEUE_MSGS)
		qm->counts[i]++;
}

static void check_queue_group(struct check *ck, struct client *a, struct client *b)
{
	int counts[QUEUE_MSGS] = { 0 };
	struct queue_member m[3] = { { 0, counts }, { 0, counts }, { 0, counts } };
	struct got plain = { 0 };
	const char *s = subj(ck, "q");
	uint64_t sids[4] = {
		dew_bus_subscribe(a->bus, s, "workers", queue_cb, &m[0]),
		dew_bus_subscribe(b->bus, s, "workers", queue_cb, &m[1]),
		dew_bus_subscribe(a->bus, s, "workers", queue_cb, &m[2]),
		dew_bus_subscribe(b->bus, s, NULL, collect, &plain),
	};
	tap_ok(sids[0] && sids[1] && sids[2] && sids[3], "three queue subscribers and a plain one");
	flush_wait(ck, a);
	flush_wait(ck, b);
	for (int i = 0; i < QUEUE_MSGS; i++) {
		char buf[16];
		int n = snprintf(buf, sizeof buf, "%d", i);
		dew_bus_publish(a->bus, s, NULL, buf, (size_t)n);
	}
	RUN_UNTIL(ck, m[0].n + m[1].n + m[2].n >= QUEUE_MSGS && plain.n >= QUEUE_MSGS, WAIT_MS);
	flush_wait(ck, a); /* anything duplicated would have arrived by now */
	flush_wait(ck, b);
	int once = 0, members = 0;
	for (int i = 0; i < QUEUE_MSGS; i++)
		once += counts[i] == 1;
	for (int i = 0; i < 3; i++)
		members += m[i].n > 0;
	tap_is_int(once, QUEUE_MSGS, "the queue group got each of %d messages exactly once", QUEUE_MSGS);
	tap_is_int(m[0].n + m[1].n + m[2].n, QUEUE_MSGS, "and nothing more");
	tap_ok(members > 1, "spread over %d members (%d/%d/%d)", members, m[0].n, m[1].n, m[2].n);
	tap_is_int(plain.n, QUEUE_MSGS, "a plain subscriber on the same subject gets every message");
	dew_bus_unsubscribe(a->bus, sids[0], 0);
	dew_bus_unsubscribe(b->bus, sids[1], 0);
	dew_bus_unsubscribe(a->bus, sids[2], 0);
	dew_bus_unsubscribe(b->bus, sids[3], 0);
}

static void check_requests(struct check *ck, struct client *a, struct client *b)
{
	struct reply_state r;
	struct got quiet = { 0 };
	int on_a = 0, on_b = 0, many[3] = { 0 };
	uint64_t sids[6] = {
		dew_bus_subscribe(a->bus, subj(ck, "svc.a"), NULL, respond, &on_a),
		dew_bus_subscribe(b->bus, subj(ck, "svc.b"), NULL, respond, &on_b),
		dew_bus_subscribe(b->bus, subj(ck, "silent"), NULL, collect, &quiet),
		dew_bus_subscribe(a->bus, subj(ck, "many"), NULL, respond, &many[0]),
		dew_bus_subscribe(b->bus, subj(ck, "many"), NULL, respond, &many[1]),
		dew_bus_subscribe(a->bus, subj(ck, "many"), NULL, respond, &many[2]),
	};
	flush_wait(ck, a);
	flush_wait(ck, b);
	tap_is_int(request_wait(ck, a, subj(ck, "svc.a"), "ping", WAIT_MS, false, &r), 0,
		   "request answered by a responder on the same client");
	tap_is_str(r.data, "re:ping", "the reply carries the responder's payload");
	tap_is_int(request_wait(ck, a, subj(ck, "svc.b"), "hi", WAIT_MS, false, &r), 0,
		   "request answered by a responder on another client");
	tap_is_str(r.data, "re:hi", "that reply is intact too");
	tap_is_int(r.replies, 1, "a single request ends at the first reply");

	int st = request_wait(ck, a, subj(ck, "nobody"), "x", 5000, false, &r);
	tap_is_int(st, DEW_BUS_ENORESPONDERS, "request to a subject nobody subscribes: ENORESPONDERS");
	tap_ok(r.t_end - r.t_start < 5000, "no_responders came before the 5 s timeout (%" PRIu64 " ms)",
	       r.t_end - r.t_start);
	st = request_wait(ck, a, subj(ck, "nobody"), "x", 5000, true, &r);
	tap_is_int(st, DEW_BUS_ENORESPONDERS, "a many-request to nobody ends with ENORESPONDERS too");

	tap_is_int(request_wait(ck, a, subj(ck, "silent"), "x", 400, false, &r), DEW_BUS_ETIMEDOUT,
		   "a request the subscriber never answers times out");
	tap_ok(r.replies == 0 && quiet.n == 1, "the subscriber got it and no reply came");

	st = request_wait(ck, a, subj(ck, "many"), "all", 1500, true, &r);
	tap_is_int(r.replies, 3, "a many-request gathers the 3 replies");
	tap_is_int(st, DEW_BUS_ETIMEDOUT, "then ends with ETIMEDOUT");

	int64_t id = dew_bus_request(a->bus, subj(ck, "svc.b"), "c", 1, WAIT_MS, false, on_reply, &r);
	memset(&r, 0, sizeof r);
	dew_bus_request_cancel(a->bus, id);
	flush_wait(ck, b);
	flush_wait(ck, a);
	tap_ok(id > 0 && r.replies == 0 && !r.done, "a cancelled request never calls back");
	tap_is_int(dew_bus_request(a->bus, "bad..subject", "x", 1, 100, false, on_reply, &r), -EINVAL,
		   "a request to an invalid subject is -EINVAL");
	for (int i = 0; i < 6; i++)
		dew_bus_unsubscribe(i == 1 || i == 2 || i == 4 ? b->bus : a->bus, sids[i], 0);
}

static void check_headers_max_flush(struct check *ck, struct client *a, struct client *b)
{
	static const char hdr[] = "NATS/1.0\r\nX-Dew: yes\r\n\r\n";
	struct got g = { 0 };
	uint64_t sid = dew_bus_subscribe(b->bus, subj(ck, "hdr"), NULL, collect, &g);
	flush_wait(ck, b);
	tap_is_int(dew_bus_publish_hdr(a->bus, subj(ck, "hdr"), NULL, hdr, sizeof hdr - 1, "body", 4), 0,
		   "publish with headers");
	tap_ok(RUN_UNTIL(ck, g.n == 1, WAIT_MS), "the headed message arrives");
	tap_ok(g.has_hdr && strncmp(g.hdr, "NATS/1.0", 8) == 0, "the subscriber sees the header block");
	tap_has_str(g.hdr, "X-Dew: yes", "with our header in it");
	tap_is_str(g.data, "body", "and the payload after it");
	dew_bus_unsubscribe(b->bus, sid, 0);

	memset(&g, 0, sizeof g);
	sid = dew_bus_subscribe(b->bus, subj(ck, "max"), NULL, collect, &g);
	tap_is_int(dew_bus_unsubscribe(b->bus, sid, 3), 0, "unsubscribe after 3");
	flush_wait(ck, b);
	for (int i = 0; i < 10; i++)
		dew_bus_publish(a->bus, subj(ck, "max"), NULL, "m", 1);
	flush_wait(ck, a);
	RUN_UNTIL(ck, g.n >= 3, WAIT_MS);
	flush_wait(ck, b);
	tap_is_int(g.n, 3, "exactly 3 of 10 delivered");
	tap_is_int(dew_bus_unsubscribe(b->bus, sid, 0), -ENOENT, "the subscription removed itself");

	int st[3] = { 1, 1, 1 };
	for (int i = 0; i < 3; i++)
		dew_bus_flush(a->bus, WAIT_MS, on_flushed, &st[i]);
	tap_ok(RUN_UNTIL(ck, st[0] != 1 && st[1] != 1 && st[2] != 1, WAIT_MS), "three flushes complete");
	tap_ok(st[0] == 0 && st[1] == 0 && st[2] == 0, "each with status 0");
}

static void check_bad_input(struct check *ck, struct client *a)
{
	static const char *const bad_pub[] = { "a..b", "x.*", "x.>", "", "has space", ".a", "a." };
	static const char *const bad_sub[] = { "a..b", "", "has space", "a.>.b", ".a" };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(bad_pub); i++)
		tap_is_int(dew_bus_publish(a->bus, bad_pub[i], NULL, "x", 1), -EINVAL,
			   "publish to `%s` is -EINVAL", bad_pub[i]);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(bad_sub); i++)
		tap_ok(dew_bus_subscribe(a->bus, bad_sub[i], NULL, collect, NULL) == 0,
		       "subscribe to `%s` fails", bad_sub[i]);
	tap_ok(dew_bus_subscribe(a->bus, "ok.subject", "bad queue", collect, NULL) == 0,
	       "a queue name with a space fails");
	tap_is_int(dew_bus_publish(a->bus, "ok.subject", "bad reply", "x", 1), -EINVAL,
		   "a bad reply subject fails");
	tap_is_int(dew_bus_publish_hdr(a->bus, "ok.subject", NULL, "X: y\r\n", 6, "x", 1), -EINVAL,
		   "a header block not starting with NATS/1.0 fails");
	tap_is_int(dew_bus_unsubscribe(a->bus, 999999, 0), -ENOENT,
		   "unsubscribe of an unknown sid is -ENOENT");
	tap_is_int(flush_wait(ck, a), 0, "the connection is still fine after all that");
}

static void close_in_msg(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	int *n = data;
	(*n)++;
	dew_bus_close(bus);
	dew_bus_close(bus); /* twice is harmless */
}

/* dew_bus_close from inside the client's own callbacks. */
static void check_close_in_callback(struct check *ck, const char *url, struct client *a)
{
	struct client d, e;
	struct reply_state r = { .status = 2, .ck = ck };
	struct got sink = { 0 };
	int calls = 0;
	if (!tap_ok(client_connect(ck, &d, url, "bus-check-d"), "client d connected"))
		return;
	uint64_t sink_sid = dew_bus_subscribe(a->bus, subj(ck, "sink"), NULL, collect, &sink);
	flush_wait(ck, a);
	dew_bus_subscribe(d.bus, subj(ck, "close"), NULL, close_in_msg, &calls);
	dew_bus_request(d.bus, subj(ck, "sink"), "x", 1, 60000, false, on_reply, &r);
	dew_bus_publish(d.bus, subj(ck, "close"), NULL, "bye", 3);
	tap_ok(RUN_UNTIL(ck, d.closed > 0, WAIT_MS), "closing from a message callback finishes");
	tap_is_int(calls, 1, "the callback ran once");
	tap_ok(r.done && r.status == DEW_BUS_ECANCELED, "the pending request ended with ECANCELED");
	tap_is_int(d.closed, 1, "CLOSED reported once");
	dew_bus_unsubscribe(a->bus, sink_sid, 0);

	client_start(ck, &e, url, "bus-check-e");
	e.close_on_connect = true;
	tap_ok(RUN_UNTIL(ck, e.closed > 0, WAIT_MS), "closing from the CONNECTED handler finishes");
	tap_is_int(e.connected, 1, "after one CONNECTED");
}

/* A host name goes through the resolver. */
static void check_dns(struct check *ck, const char *url)
{
	const char *ip = strstr(url, "127.0.0.1");
	struct client cl;
	char name_url[256];
	if (!ip) {
		tap_skip(NULL, "DEW_BUS_URL does not use 127.0.0.1", "connect through a host name");
		return;
	}
	snprintf(name_url, sizeof name_url, "%.*slocalhost%s", (int)(ip - url), url,
		 ip + strlen("127.0.0.1"));
	tap_ok(client_connect(ck, &cl, name_url, "bus-check-dns"), "connects to %s", name_url);
	dew_bus_close(cl.bus);
	RUN_UNTIL(ck, cl.closed > 0, WAIT_MS);
}

/* Publishes made right before dew_bus_close still reach the server. */
static void check_close_drains(struct check *ck, const char *url, struct client *a)
{
	struct client g;
	struct got drained = { 0 };
	uint64_t sid = dew_bus_subscribe(a->bus, subj(ck, "drain"), NULL, collect, &drained);
	flush_wait(ck, a);
	if (tap_ok(client_connect(ck, &g, url, "bus-check-g"), "client g connected")) {
		for (int i = 0; i < 100; i++)
			dew_bus_publish(g.bus, subj(ck, "drain"), NULL, "last words", 10);
		dew_bus_close(g.bus);
		tap_ok(RUN_UNTIL(ck, g.closed > 0, WAIT_MS), "close with publishes in flight finishes");
		tap_ok(RUN_UNTIL(ck, drained.n == 100, WAIT_MS),
		       "the 100 publishes made just before close arrive");
	}
	dew_bus_unsubscribe(a->bus, sid, 0);
}

/* The server restarts: both clients reconnect, replay their subscriptions, flush their buffers. */
static void check_reconnect(struct check *ck, struct client *a, struct client *b)
{
	const char *cmd = getenv("DEW_BUS_RESTART_CMD");
	if (!cmd || !*cmd) {
		tap_skip("bus-env", "DEW_BUS_RESTART_CMD is not set", "reconnect after a server restart");
		return;
	}
	struct got on_a = { 0 }, on_b = { 0 };
	struct reply_state r;
	int answered = 0;
	char down[160];
	snprintf(down, sizeof down, "%s", subj(ck, "rc.down"));
	uint64_t sids[3] = {
		dew_bus_subscribe(a->bus, down, NULL, collect, &on_a),
		dew_bus_subscribe(b->bus, subj(ck, "rc.after"), NULL, collect, &on_b),
		dew_bus_subscribe(b->bus, subj(ck, "rc.svc"), NULL, respond, &answered),
	};
	flush_wait(ck, a);
	flush_wait(ck, b);
	a->down_subject = down;
	int rc = system(cmd);
	tap_ok(rc == 0, "the restart command succeeded (status %d)", rc);
	tap_ok(RUN_UNTIL(ck, a->disconnected > 0 && b->disconnected > 0, WAIT_MS),
	       "both clients saw DISCONNECTED");
	tap_is_int(a->down_ok, DOWN_MSGS, "publishes while disconnected are accepted (buffered)");
	tap_ok(!dew_bus_is_connected(a->bus) || a->reconnected > 0, "a is not connected until it reconnects");
	tap_ok(RUN_UNTIL(ck, a->reconnected > 0 && b->reconnected > 0, 3 * WAIT_MS),
	       "both clients RECONNECTED");
	tap_ok(RUN_UNTIL(ck, on_a.n >= DOWN_MSGS, WAIT_MS),
	       "the buffered publishes were delivered after reconnect");
	flush_wait(ck, a);
	tap_is_int(on_a.n, DOWN_MSGS, "each once (%d)", on_a.n);
	flush_wait(ck, b); /* RECONNECTED means the SUBs were sent, not yet that the server has them */
	dew_bus_publish(a->bus, subj(ck, "rc.after"), NULL, "after", 5);
	tap_ok(RUN_UNTIL(ck, on_b.n == 1, WAIT_MS), "the other client's subscription was replayed");
	tap_is_int(request_wait(ck, a, subj(ck, "rc.svc"), "again", WAIT_MS, false, &r), 0,
		   "requests work after reconnect (inbox and responder replayed)");
	struct dew_bus_stats st;
	dew_bus_get_stats(a->bus, &st);
	tap_ok(st.reconnects >= 1, "stats count the reconnect (%" PRIu64 ")", st.reconnects);
	dew_bus_unsubscribe(a->bus, sids[0], 0);
	dew_bus_unsubscribe(b->bus, sids[1], 0);
	dew_bus_unsubscribe(b->bus, sids[2], 0);
}

static void check_auth(struct check *ck)
{
	const char *good = getenv("DEW_BUS_AUTH_URL"), *bad = getenv("DEW_BUS_BADAUTH_URL");
	struct client cl;
	if (!good || !*good || !bad || !*bad) {
		tap_skip("bus-env", "DEW_BUS_AUTH_URL or DEW_BUS_BADAUTH_URL is not set", "authentication");
		return;
	}
	if (tap_ok(client_connect(ck, &cl, good, "bus-check-auth"),
		   "connects with the credentials in the URL")) {
		struct got g = { 0 };
		dew_bus_subscribe(cl.bus, subj(ck, "auth"), NULL, collect, &g);
		dew_bus_publish(cl.bus, subj(ck, "auth"), NULL, "in", 2);
		tap_ok(RUN_UNTIL(ck, g.n == 1, WAIT_MS), "and can talk");
		tap_ok(dew_bus_server(cl.bus) && !strchr(dew_bus_server(cl.bus), '@'),
		       "dew_bus_server shows no credentials (%s)", dew_bus_server(cl.bus));
	}
	dew_bus_close(cl.bus);
	RUN_UNTIL(ck, cl.closed > 0, WAIT_MS);

	client_start(ck, &cl, bad, "bus-check-badauth");
	tap_ok(RUN_UNTIL(ck, cl.server_errors > 0, WAIT_MS), "wrong credentials: SERVER_ERROR");
	tap_has_str(cl.last_error, "Authorization Violation", "the error is the server's text");
	tap_ok(cl.connected == 0 && !dew_bus_is_connected(cl.bus), "and never CONNECTED");
	dew_bus_close(cl.bus);
	tap_ok(RUN_UNTIL(ck, cl.closed > 0, WAIT_MS), "closes cleanly while retrying");
}

static void on_tick(uv_timer_t *t)
{
}

int main(void)
{
	const char *url = getenv("DEW_BUS_URL");
	struct check ck = { 0 };
	struct client a = { 0 }, b = { 0 };
	char hex[9];

	dew_log_setup("bus-check", DEW_LOG_TEXT, getenv("DEW_BUS_DEBUG") ? DEW_LOG_DEBUG : DEW_LOG_WARNING);
	ck.loop = uv_default_loop();
	dew_random_hex(hex, 4);
	snprintf(ck.prefix, sizeof ck.prefix, "chk%s", hex);
	uv_timer_init(ck.loop, &ck.tick);
	uv_timer_start(&ck.tick, on_tick, 10, 10);

	check_bad_urls(&ck);
	check_offline(&ck, "nats://127.0.0.1:1");
	check_hostile_server(&ck);
	check_mute_server(&ck);
	if (!url || !*url) {
		tap_skip("bus-env", "DEW_BUS_URL is not set", "checks against a server");
	} else if (tap_ok(client_connect(&ck, &a, url, "bus-check-a"), "client a: CONNECTED event") &&
		   tap_ok(client_connect(&ck, &b, url, "bus-check-b"), "client b: CONNECTED event")) {
		tap_ok(dew_bus_is_connected(a.bus), "dew_bus_is_connected");
		tap_has_str(dew_bus_server(a.bus), "nats://", "dew_bus_server names the server");
		check_dns(&ck, url);
		check_roundtrip(&ck, &a);
		check_wildcards(&ck, &a, &b);
		check_queue_group(&ck, &a, &b);
		check_requests(&ck, &a, &b);
		check_headers_max_flush(&ck, &a, &b);
		check_bad_input(&ck, &a);
		check_close_in_callback(&ck, url, &a);
		check_close_drains(&ck, url, &a);
		check_reconnect(&ck, &a, &b);
		check_auth(&ck);
	}
	if (a.bus || b.bus) {
		dew_bus_close(a.bus);
		dew_bus_close(b.bus);
		tap_ok(RUN_UNTIL(&ck, (!a.bus || a.closed) && (!b.bus || b.closed), WAIT_MS),
		       "clients closed");
	}
	uv_close((uv_handle_t *)&ck.tick, NULL);
	uv_run(ck.loop, UV_RUN_DEFAULT);
	tap_is_int(uv_loop_close(ck.loop), 0, "no handle left open on the loop");
	return tap_done();
}
