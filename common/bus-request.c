// SPDX-License-Identifier: MIT
/*
 * What the bus client sends and receives over its connection (bus-conn.c): subscriptions and
 * their replay after a reconnect, publishes (buffered while disconnected), requests over one
 * `_INBOX.<id>.*` wildcard subscription with a timer each, and flushes answered in order by PONGs.
 */
#include "bus-client.h"
#include "bus-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "nats-proto.h"
#include "random.h"

enum {
	INBOX_ID_LEN = 22,	       /* random alphanumerics: about 131 bits */
	INBOX_LEN = 7 + INBOX_ID_LEN,  /* "_INBOX." + id */
	FRAME_OVERHEAD = 64,	       /* "HPUB" line around subject and reply */
	NO_RESPONDERS_STATUS_LEN = 12, /* "NATS/1.0 503" */
};

/* Pointers to objects whose first member is a uint64_t id, sorted by it (ids only grow). */
struct idvec {
	void **v;
	size_t n, cap;
};

struct bus_sub {
	uint64_t sid; /* first: idvec key */
	char *subject;
	char *queue;	    /* NULL for a plain subscription */
	uint64_t max;	    /* remove after this many deliveries in total; 0: never */
	uint64_t delivered; /* in total, across reconnects */
	uint64_t base;	    /* delivered when the SUB went to the current server */
	dew_bus_msg_fn cb;
	void *data;
};

/* A request or flush lives until its timer's close callback, so callbacks may run after it ended. */
struct bus_req {
	uint64_t id; /* first: idvec key; also the last token of the reply subject */
	uv_timer_t timer;
	struct dew__bus_msgs *m;
	bool many, got_reply;
	dew_bus_reply_fn cb;
	void *data;
};

struct bus_flush {
	uint64_t id; /* first: idvec key; also the tag of its PING */
	uv_timer_t timer;
	struct dew__bus_msgs *m;
	void (*cb)(struct dew_bus *bus, int status, void *data);
	void *data;
};

struct dew__bus_msgs {
	struct dew_bus *bus;
	size_t max_buffered;
	struct dew_buf pending; /* PUB frames made while disconnected */
	struct idvec subs, reqs, flushes;
	uint64_t next_sid, next_req, next_flush;
	char inbox[INBOX_LEN + 1]; /* empty until the first request */
};

static size_t vec_find(const struct idvec *v, uint64_t id)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (*(const uint64_t *)v->v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n && *(const uint64_t *)v->v[lo] == id ? lo : v->n;
}

static void vec_push(struct idvec *v, void *item)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 8;
		v->v = xreallocarray(v->v, v->cap, sizeof *v->v);
	}
	v->v[v->n++] = item;
}

static void *vec_take(struct idvec *v, size_t i)
{
	void *item = v->v[i];
	memmove(v->v + i, v->v + i + 1, (v->n - i - 1) * sizeof *v->v);
	v->n--;
	return item;
}

/* The messaging state of a new client. */
struct dew__bus_msgs *dew__bus_msgs_new(struct dew_bus *bus, size_t max_buffered)
{
	struct dew__bus_msgs *m = xzalloc(sizeof *m);
	m->bus = bus;
	m->max_buffered = max_buffered;
	return m;
}

static void sub_free(struct bus_sub *sub)
{
	free(sub->subject);
	free(sub->queue);
	free(sub);
}

/* Free the state; requests and flushes are gone by now (their timers hold the client open). */
void dew__bus_msgs_free(struct dew__bus_msgs *m)
{
	for (size_t i = 0; i < m->subs.n; i++)
		sub_free(m->subs.v[i]);
	free(m->subs.v);
	free(m->reqs.v);
	free(m->flushes.v);
	dew_buf_close(&m->pending);
	free(m);
}

/* --- subscriptions ------------------------------------------------------------------------ */

static void write_sub(struct dew_buf *b, const struct bus_sub *s)
{
	dew_buf_printf(b, "SUB %s%s%s %" PRIu64 "\r\n", s->subject, s->queue ? " " : "",
		       s->queue ? s->queue : "", s->sid);
	if (s->max > s->base) /* the server counts deliveries from its own SUB */
		dew_buf_printf(b, "UNSUB %" PRIu64 " %" PRIu64 "\r\n", s->sid, s->max - s->base);
}

/* Subscribe (see bus-client.h); the SUB goes out now, or on connecting. */
uint64_t dew_bus_subscribe(struct dew_bus *bus, const char *subject, const char *queue, dew_bus_msg_fn cb,
			   void *data)
{
	struct dew__bus_msgs *m = dew__bus_msgs(bus);
	if (dew__bus_closing(bus) || !cb || !subject || !dew_nats_subject_valid(subject, strlen(subject)) ||
	    (queue && !dew_nats_queue_valid(queue, strlen(queue))))
		return 0;
	struct bus_sub *sub = xzalloc(sizeof *sub);
	sub->sid = ++m->next_sid;
	sub->subject = xstrdup(subject);
	sub->queue = queue ? xstrdup(queue) : NULL;
	sub->cb = cb;
	sub->data = data;
	vec_push(&m->subs, sub);
	struct dew_buf *out = dew__bus_out(bus);
	if (out) {
		write_sub(out, sub);
		dew__bus_kick(bus);
	}
	return sub->sid;
}

/* Unsubscribe now or after max_msgs deliveries in total (see bus-client.h). */
int dew_bus_unsubscribe(struct dew_bus *bus, uint64_t sid, uint64_t max_msgs)
{
	struct dew__bus_msgs *m = dew__bus_msgs(bus);
	size_t i = vec_find(&m->subs, sid);
	if (i == m->subs.n)
		return -ENOENT;
	struct bus_sub *sub = m->subs.v[i];
	struct dew_buf *out = dew__bus_out(bus);
	if (max_msgs == 0 || max_msgs <= sub->delivered) {
		if (out)
			dew_buf_printf(out, "UNSUB %" PRIu64 "\r\n", sid);
		sub_free(vec_take(&m->subs, i));
	} else {
		sub->max = max_msgs;
		if (out)
			dew_buf_printf(out, "UNSUB %" PRIu64 " %" PRIu64 "\r\n", sid, max_msgs - sub->base);
	}
	dew__bus_kick(bus);
	return 0;
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Call the callback of the subscription a MSG or HMSG is for; unknown sids are ignored. */
void dew__bus_msgs_deliver(struct dew__bus_msgs *m, const struct dew_nats_frame *f)
{
	struct dew_bus_stats *stats = dew__bus_stats(m->bus);
	uint64_t sid;
	stats->msgs_in++;
	stats->bytes_in += f->hdr.len + f->payload.len;
	if (parse_u64(f->sid.p, f->sid.len, &sid) < 0)
		return;
	size_t i = vec_find(&m->subs, sid);
	if (i == m->subs.n) /* unsubscribed meanwhile */
		return;
	struct bus_sub *sub = m->subs.v[i];
	bool last = ++sub->delivered == sub->max;
	if (last)
		vec_take(&m->subs, i);
	struct dew_bus_msg msg = {
		.subject = f->subject.p,
		.subject_len = f->subject.len,
		.reply = f->reply.len ? f->reply.p : NULL,
		.reply_len = f->reply.len,
		.hdr = f->op == DEW_NATS_OP_HMSG ? f->hdr.p : NULL,
		.hdr_len = f->op == DEW_NATS_OP_HMSG ? f->hdr.len : 0,
		.data = f->payload.p ? f->payload.p : "",
		.len = f->payload.len,
		.sid = sid,
	};
	/* The callback may unsubscribe (freeing sub) or close the client: sub is not used after it. */
	dew_bus_msg_fn cb = sub->cb;
	void *data = sub->data;
	if (last)
		sub_free(sub);
	cb(m->bus, &msg, data);
}

/* Connected: subscriptions, then what was published meanwhile, then the PINGs of pending flushes. */
void dew__bus_msgs_connected(struct dew__bus_msgs *m, struct dew_buf *out)
{
	for (size_t i = 0; i < m->subs.n; i++) {
		struct bus_sub *sub = m->subs.v[i];
		sub->base = sub->delivered;
		write_sub(out, sub);
	}
	if (m->pending.len > 0)
		dew_buf_append(out, m->pending.data, m->pending.len);
	dew_buf_close(&m->pending);
	for (size_t i = 0; i < m->flushes.n; i++)
		dew__bus_ping(m->bus, ((struct bus_flush *)m->flushes.v[i])->id);
}

/* --- publishing ---------------------------------------------------------------------------- */

static bool header_block_valid(const char *hdr, size_t len)
{
	return len >= 12 && memcmp(hdr, "NATS/1.0", 8) == 0 && memcmp(hdr + len - 4, "\r\n\r\n", 4) == 0;
}

/* Publish with an optional header block (see bus-client.h). */
int dew_bus_publish_hdr(struct dew_bus *bus, const char *subject, const char *reply, const void *hdr,
			size_t hdr_len, const void *data, size_t len)
{
	struct dew__bus_msgs *m = dew__bus_msgs(bus);
	if (dew__bus_closing(bus))
		return -ECANCELED;
	if (reply && !*reply)
		reply = NULL;
	if (!subject || !dew_nats_subject_literal(subject, strlen(subject)) ||
	    (reply && !dew_nats_subject_literal(reply, strlen(reply))) || (!data && len > 0) ||
	    (hdr && !header_block_valid(hdr, hdr_len)))
		return -EINVAL;
	if (hdr && !dew__bus_headers(bus))
		return -ENOTSUP;
	if ((hdr ? hdr_len : 0) + len > dew__bus_max_payload(bus))
		return -EMSGSIZE;
	struct dew_buf *out = dew__bus_out(bus);
	if (!out)
		out = &m->pending;
	size_t need =
		strlen(subject) + (reply ? strlen(reply) : 0) + (hdr ? hdr_len : 0) + len + FRAME_OVERHEAD;
	struct dew_bus_stats *stats = dew__bus_stats(bus);
	if (out->len + need > m->max_buffered) {
		stats->dropped++;
		return -ENOBUFS;
	}
	dew_nats_write_pub(out, subject, reply, hdr, hdr ? hdr_len : 0, data ? data : "", len);
	stats->msgs_out++;
	stats->bytes_out += (hdr ? hdr_len : 0) + len;
	dew__bus_kick(bus);
	return 0;
}

/* Publish a payload without headers. */
int dew_bus_publish(struct dew_bus *bus, const char *subject, const char *reply, const void *data, size_t len)
{
	return dew_bus_publish_hdr(bus, subject, reply, NULL, 0, data, len);
}

/* Publish json compactly encoded. */
int dew_bus_publish_json(struct dew_bus *bus, const char *subject, const char *reply, const json_t *json)
{
	cleanup_free char *text = dew_json_dumps(json);
	return dew_bus_publish(bus, subject, reply, text, strlen(text));
}

/* --- requests ------------------------------------------------------------------------------ */

static void on_req_closed(uv_handle_t *h)
{
	struct bus_req *req = h->data;
	struct dew_bus *bus = req->m->bus;
	free(req);
	dew__bus_unref(bus);
}

/* Take the request at index i out; its memory stays valid until the timer's close callback. */
static struct bus_req *req_end(struct dew__bus_msgs *m, size_t i)
{
	struct bus_req *req = vec_take(&m->reqs, i);
	uv_close((uv_handle_t *)&req->timer, on_req_closed);
	return req;
}

static void req_finish(struct dew__bus_msgs *m, size_t i, int status)
{
	struct bus_req *req = req_end(m, i);
	req->cb(m->bus, status, NULL, req->data);
}

static void on_req_timeout(uv_timer_t *t)
{
	struct bus_req *req = t->data;
	struct dew__bus_msgs *m = req->m;
	struct dew_bus *bus = m->bus;
	size_t i = vec_find(&m->reqs, req->id);
	if (i == m->reqs.n)
		return;
	dew__bus_ref(bus);
	req_finish(m, i, DEW_BUS_ETIMEDOUT);
	dew__bus_unref(bus);
}

/* A status-only HMSG "NATS/1.0 503": the server found no subscriber for the request. */
static bool is_no_responders(const struct dew_bus_msg *msg)
{
	const char *h = msg->hdr;
	return h && msg->hdr_len > NO_RESPONDERS_STATUS_LEN &&
	       memcmp(h, "NATS/1.0 503", NO_RESPONDERS_STATUS_LEN) == 0 &&
	       (h[NO_RESPONDERS_STATUS_LEN] == ' ' || h[NO_RESPONDERS_STATUS_LEN] == '\r');
}

static void on_inbox_msg(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct dew__bus_msgs *m = data;
	uint64_t id;
	if (msg->subject_len <= INBOX_LEN + 1 || memcmp(msg->subject, m->inbox, INBOX_LEN) != 0 ||
	    msg->subject[INBOX_LEN] != '.' ||
	    parse_u64(msg->subject + INBOX_LEN + 1, msg->subject_len - INBOX_LEN - 1, &id) < 0)
		return;
	size_t i = vec_find(&m->reqs, id);
	if (i == m->reqs.n) /* timed out, cancelled, or a late extra reply */
		return;
	struct bus_req *req = m->reqs.v[i];
	if (is_no_responders(msg)) {
		if (!req->got_reply)
			req_finish(m, i, DEW_BUS_ENORESPONDERS);
		return;
	}
	req->got_reply = true;
	if (!req->many)
		req_end(m, i);
	req->cb(bus, 0, msg, req->data);
}

/* The client's inbox subscription, made on the first request. */
static bool inbox_ready(struct dew__bus_msgs *m)
{
	static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char pattern[INBOX_LEN + 3];
	if (m->inbox[0])
		return true;
	memcpy(m->inbox, "_INBOX.", 7);
	for (size_t i = 0; i < INBOX_ID_LEN; i++)
		m->inbox[7 + i] = alnum[dew_random_below(sizeof alnum - 1)];
	m->inbox[INBOX_LEN] = '\0';
	snprintf(pattern, sizeof pattern, "%s.*", m->inbox);
	if (dew_bus_subscribe(m->bus, pattern, NULL, on_inbox_msg, m) == 0) {
		m->inbox[0] = '\0';
		return false;
	}
	return true;
}

/* Publish a request and wait for its reply or replies (see bus-client.h). */
int64_t dew_bus_request(struct dew_bus *bus, const char *subject, const void *data, size_t len,
			uint64_t timeout_ms, bool many, dew_bus_reply_fn cb, void *cbdata)
{
	struct dew__bus_msgs *m = dew__bus_msgs(bus);
	char reply[INBOX_LEN + 24];
	if (dew__bus_closing(bus))
		return -ECANCELED;
	if (!cb || timeout_ms == 0)
		return -EINVAL;
	if (!inbox_ready(m))
		return -ECANCELED;
	snprintf(reply, sizeof reply, "%s.%" PRIu64, m->inbox, m->next_req + 1);
	int rc = dew_bus_publish(bus, subject, reply, data, len);
	if (rc < 0)
		return rc;
	struct bus_req *req = xzalloc(sizeof *req);
	req->id = ++m->next_req;
	req->m = m;
	req->many = many;
	req->cb = cb;
	req->data = cbdata;
	uv_timer_init(dew__bus_loop(bus), &req->timer);
	req->timer.data = req;
	dew__bus_ref(bus);
	uv_timer_start(&req->timer, on_req_timeout, timeout_ms, 0);
	vec_push(&m->reqs, req);
	return (int64_t)req->id;
}

/* Forget a pending request without calling its callback. */
void dew_bus_request_cancel(struct dew_bus *bus, int64_t id)
{
	struct dew__bus_msgs *m = dew__bus_msgs(bus);
	size_t i = id > 0 ? vec_find(&m->reqs, (uint64_t)id) : m->reqs.n;
	if (i < m->reqs.n)
		req_end(m, i);
}

/* --- flush --------------------------------------------------------------------------------- */

static void on_flush_closed(uv_handle_t *h)
{
	struct bus_flush *f = h->data;
	struct dew_bus *bus = f->m->bus;
	free(f);
	dew__bus_unref(bus);
}

static void flush_finish(struct dew__bus_msgs *m, size_t i, int status)
{
	struct bus_flush *f = vec_take(&m->flushes, i);
	uv_close((uv_handle_t *)&f->timer, on_flush_closed);
	f->cb(m->bus, status, f->data);
}

static void on_flush_timeout(uv_timer_t *t)
{
	struct bus_flush *f = t->data;
	struct dew__bus_msgs *m = f->m;
	struct dew_bus *bus = m->bus;
	size_t i = vec_find(&m->flushes, f->id);
	if (i == m->flushes.n)
		return;
	dew__bus_ref(bus);
	flush_finish(m, i, DEW_BUS_ETIMEDOUT);
	dew__bus_unref(bus);
}

/* Flush: a PING now (or on connecting) whose PONG calls cb(0); DEW_BUS_ETIMEDOUT after timeout_ms. */
int dew_bus_flush(struct dew_bus *bus, uint64_t timeout_ms,
		  void (*cb)(struct dew_bus *bus, int status, void *data), void *data)
{
	struct dew__bus_msgs *m = dew__bus_msgs(bus);
	if (dew__bus_closing(bus))
		return -ECANCELED;
	if (!cb || timeout_ms == 0)
		return -EINVAL;
	struct bus_flush *f = xzalloc(sizeof *f);
	f->id = ++m->next_flush;
	f->m = m;
	f->cb = cb;
	f->data = data;
	uv_timer_init(dew__bus_loop(bus), &f->timer);
	f->timer.data = f;
	dew__bus_ref(bus);
	uv_timer_start(&f->timer, on_flush_timeout, timeout_ms, 0);
	vec_push(&m->flushes, f);
	dew__bus_ping(bus, f->id);
	return 0;
}

/* The PONG for the flush with id tag: PONGs come in PING order, so all before it were seen. */
void dew__bus_msgs_pong(struct dew__bus_msgs *m, uint64_t tag)
{
	size_t i = vec_find(&m->flushes, tag);
	if (i < m->flushes.n)
		flush_finish(m, i, 0);
}

/* Closing: end every request and flush with DEW_BUS_ECANCELED, oldest first. */
void dew__bus_msgs_cancel_all(struct dew__bus_msgs *m)
{
	while (m->reqs.n > 0)
		req_finish(m, 0, DEW_BUS_ECANCELED);
	while (m->flushes.n > 0)
		flush_finish(m, 0, DEW_BUS_ECANCELED);
}
