// SPDX-License-Identifier: MIT
/*
 * The bus client object (DESIGN.md section 5): its lifetime (references, handles, close after
 * draining the last publishes), writing to its connection (coalesced writes, PINGs matched to
 * their PONGs) and the public entry points. The server list is parsed in bus-url.c, the
 * connection is made and read in bus-conn.c, and what travels over it is in bus-request.c.
 */
#include "bus-client.h"
#include "bus-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "nats-proto.h"
#include "random.h"

struct bus_write {
	uv_write_t req;
	struct dew__bus_conn *conn;
	char *data; /* owned until the write callback */
};

/* --- lifetime ------------------------------------------------------------------------------ */

/* Report ev to the user's on_event, if any. */
void dew__bus_emit(struct dew_bus *bus, enum dew_bus_event ev, const char *detail)
{
	if (bus->opts.on_event)
		bus->opts.on_event(bus, ev, detail, bus->opts.data);
}

/* The current server's URL without credentials, for log lines and events. */
const char *dew__bus_where(const struct dew_bus *bus)
{
	return bus->servers[bus->cur].display;
}

static void bus_free(struct dew_bus *bus)
{
	for (size_t i = 0; i < bus->n_servers; i++)
		dew__bus_server_free(&bus->servers[i]);
	free(bus->servers);
	free(bus->tags);
	if (bus->msgs)
		dew__bus_msgs_free(bus->msgs);
	free(bus->name);
	free(bus);
}

/* Take a reference: every open handle holds one, and so does each callback of ours while it runs. */
void dew__bus_ref(struct dew_bus *bus)
{
	bus->refs++;
}

/* Drop a reference; the last one (only possible after dew_bus_close) reports CLOSED and frees. */
void dew__bus_unref(struct dew_bus *bus)
{
	if (--bus->refs > 0)
		return;
	/* Every handle is closed and no callback of ours is on the stack. */
	bus->refs = 1; /* an API call from the CLOSED handler must not free again */
	dew__bus_emit(bus, DEW_BUS_CLOSED, NULL);
	bus_free(bus);
}

static void on_handle_closed(uv_handle_t *h)
{
	dew__bus_unref(h->data);
}

/* The loop the client runs on. */
uv_loop_t *dew__bus_loop(const struct dew_bus *bus)
{
	return bus->loop;
}

/* True once dew_bus_close was called. */
bool dew__bus_closing(const struct dew_bus *bus)
{
	return bus->closing;
}

/* The subscriptions, publishes, requests and flushes kept by bus-request.c. */
struct dew__bus_msgs *dew__bus_msgs(const struct dew_bus *bus)
{
	return bus->msgs;
}

/* The counters, for bus-request.c to update. */
struct dew_bus_stats *dew__bus_stats(struct dew_bus *bus)
{
	return &bus->stats;
}

/* The max_payload of the last INFO. */
size_t dew__bus_max_payload(const struct dew_bus *bus)
{
	return bus->max_payload;
}

/* Whether the last INFO announced header support. */
bool dew__bus_headers(const struct dew_bus *bus)
{
	return bus->srv_headers;
}

/* --- the connection: writing and closing --------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h);
static void on_written(uv_write_t *req, int status);

/* Hand everything in conn->out to one uv_write; the request owns the bytes until its callback. */
static void conn_write(struct dew__bus_conn *conn)
{
	struct bus_write *w = xmalloc(sizeof *w);
	size_t len = conn->out.len;
	w->conn = conn;
	w->data = dew_buf_steal(&conn->out);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
	int rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &b, 1, on_written);
	if (rc < 0) {
		/* Only a broken handle gets here; its close callback starts the reconnect. */
		dew_err("bus: write to %s: %s", dew__bus_where(conn->bus), uv_strerror(rc));
		free(w->data);
		free(w);
		if (!uv_is_closing((uv_handle_t *)&conn->tcp))
			uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
		return;
	}
	conn->writing = true;
}

/*
 * Start a write unless one is in flight: frames appended meanwhile are coalesced and leave in
 * one uv_write from the callback of the current one.
 */
void dew__bus_conn_kick(struct dew__bus_conn *conn)
{
	if (conn->writing || conn->out.len == 0 || !conn->tcp_up || conn->bus->conn != conn)
		return;
	conn_write(conn);
}

static void on_written(uv_write_t *req, int status)
{
	struct bus_write *w = (struct bus_write *)req;
	struct dew__bus_conn *conn = w->conn;
	struct dew_bus *bus = conn->bus;
	free(w->data);
	free(w);
	conn->writing = false;
	if (bus->conn != conn) /* dropped, or draining at close */
		return;
	dew__bus_ref(bus);
	if (status < 0)
		dew__bus_fail(bus, status);
	else
		dew__bus_conn_kick(conn);
	dew__bus_unref(bus);
}

/* The output buffer of the established connection (see bus-internal.h). */
struct dew_buf *dew__bus_out(struct dew_bus *bus)
{
	return bus->state == DEW__BUS_STATE_CONNECTED ? &bus->conn->out : NULL;
}

/* Write what was appended to dew__bus_out. */
void dew__bus_kick(struct dew_bus *bus)
{
	if (bus->state == DEW__BUS_STATE_CONNECTED)
		dew__bus_conn_kick(bus->conn);
}

static void push_tag(struct dew_bus *bus, uint64_t tag)
{
	if (bus->n_tags == bus->cap_tags && bus->tag_head > 0) {
		memmove(bus->tags, bus->tags + bus->tag_head,
			(bus->n_tags - bus->tag_head) * sizeof *bus->tags);
		bus->n_tags -= bus->tag_head;
		bus->tag_head = 0;
	}
	if (bus->n_tags == bus->cap_tags) {
		bus->cap_tags = bus->cap_tags ? 2 * bus->cap_tags : 8;
		bus->tags = xreallocarray(bus->tags, bus->cap_tags, sizeof *bus->tags);
	}
	bus->tags[bus->n_tags++] = tag;
}

/* Send a PING and remember tag for its PONG (see bus-internal.h). */
bool dew__bus_ping(struct dew_bus *bus, uint64_t tag)
{
	if (bus->state != DEW__BUS_STATE_CONNECTED)
		return false;
	push_tag(bus, tag);
	dew_buf_puts(&bus->conn->out, "PING\r\n");
	dew__bus_conn_kick(bus->conn);
	return true;
}

/* Forget the current connection or attempt and close its handle (freed in on_conn_closed). */
void dew__bus_conn_drop(struct dew_bus *bus)
{
	struct dew__bus_conn *conn = bus->conn;
	if (!conn)
		return;
	bus->conn = NULL;
	if (!uv_is_closing((uv_handle_t *)&conn->tcp))
		uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct dew__bus_conn *conn = h->data;
	struct dew_bus *bus = conn->bus;
	if (bus->conn == conn) /* closed after a failed uv_write */
		dew__bus_fail(bus, UV_EPIPE);
	if (bus->draining == conn) {
		bus->draining = NULL;
		uv_close((uv_handle_t *)&bus->connect_timer, on_handle_closed);
	}
	dew_nats_parser_close(&conn->parser);
	dew_buf_close(&conn->out);
	free(conn);
	dew__bus_unref(bus);
}

/* --- the public face ------------------------------------------------------------------------ */

static void timer_init(struct dew_bus *bus, uv_timer_t *t)
{
	uv_timer_init(bus->loop, t);
	t->data = bus;
	dew__bus_ref(bus);
}

/* Create a client and start connecting on the next loop turn (see bus-client.h). */
int dew_bus_new(struct dew_bus **out, uv_loop_t *loop, const struct dew_bus_options *opts,
		struct dew_error **err)
{
	struct dew_bus *bus = xzalloc(sizeof *bus);
	*out = NULL;
	bus->opts = *opts;
	if (dew__bus_parse_servers(bus, opts->servers ? opts->servers : "nats://127.0.0.1:4222", err) < 0) {
		bus_free(bus);
		return -EINVAL;
	}
	bus->opts.servers = bus->opts.name = NULL;
	if (!bus->opts.connect_timeout_ms)
		bus->opts.connect_timeout_ms = 2000;
	if (!bus->opts.reconnect_min_ms)
		bus->opts.reconnect_min_ms = 50;
	if (!bus->opts.reconnect_max_ms)
		bus->opts.reconnect_max_ms = 2000;
	if (bus->opts.reconnect_max_ms < bus->opts.reconnect_min_ms)
		bus->opts.reconnect_max_ms = bus->opts.reconnect_min_ms;
	if (!bus->opts.max_buffered_bytes)
		bus->opts.max_buffered_bytes = 8 * 1024 * 1024;
	bus->name = xstrdup(opts->name ? opts->name : "dew");
	bus->loop = loop;
	bus->max_payload = DEW_NATS_MAX_PAYLOAD;
	bus->srv_headers = true;
	bus->cur = dew_random_below(bus->n_servers); /* spread a cluster's clients over its servers */
	bus->msgs = dew__bus_msgs_new(bus, bus->opts.max_buffered_bytes);
	bus->refs = 1; /* dropped by dew_bus_close */
	timer_init(bus, &bus->reconnect_timer);
	timer_init(bus, &bus->connect_timer);
	timer_init(bus, &bus->ping_timer);
	/* Not now: on_event must not run before the caller has the pointer. */
	uv_timer_start(&bus->reconnect_timer, dew__bus_on_reconnect_timer, 0, 0);
	*out = bus;
	return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct dew__bus_conn *conn = req->data;
	if (!uv_is_closing((uv_handle_t *)&conn->tcp))
		uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct dew_bus *bus = t->data;
	if (bus->draining && !uv_is_closing((uv_handle_t *)&bus->draining->tcp))
		uv_close((uv_handle_t *)&bus->draining->tcp, on_conn_closed);
}

/*
 * Publishes made just before close still go out: the connection is shut down after its
 * pending writes, or closed after connect_timeout_ms when the server does not take them.
 */
static void drain(struct dew_bus *bus)
{
	struct dew__bus_conn *conn = bus->conn;
	bus->conn = NULL;
	bus->draining = conn;
	uv_read_stop((uv_stream_t *)&conn->tcp);
	if (conn->out.len > 0)
		conn_write(conn); /* libuv queues it behind the one in flight */
	if (!uv_is_closing((uv_handle_t *)&conn->tcp) &&
	    uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp, on_shutdown) < 0)
		uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
	uv_timer_start(&bus->connect_timer, on_drain_timeout, bus->opts.connect_timeout_ms, 0);
}

/* Close the client (see bus-client.h); safe from inside any of its callbacks. */
void dew_bus_close(struct dew_bus *bus)
{
	if (!bus || bus->closing)
		return;
	bus->closing = true;
	dew__bus_ref(bus);
	if (bus->resolve) /* a lookup not yet started ends now; a running one is waited for */
		uv_cancel((uv_req_t *)&bus->resolve->req);
	bus->resolve = NULL;
	uv_close((uv_handle_t *)&bus->reconnect_timer, on_handle_closed);
	uv_close((uv_handle_t *)&bus->ping_timer, on_handle_closed);
	uv_timer_stop(&bus->connect_timer);
	dew__bus_msgs_cancel_all(bus->msgs);
	struct dew__bus_conn *conn = bus->conn;
	if (conn && bus->state == DEW__BUS_STATE_CONNECTED && (conn->out.len > 0 || conn->writing)) {
		drain(bus);
	} else {
		dew__bus_conn_drop(bus);
		uv_close((uv_handle_t *)&bus->connect_timer, on_handle_closed);
	}
	bus->state = DEW__BUS_STATE_CLOSING;
	dew__bus_unref(bus); /* ours */
	dew__bus_unref(bus); /* the one from dew_bus_new */
}

/* True while a connection is established (CONNECT answered). */
bool dew_bus_is_connected(const struct dew_bus *bus)
{
	return bus->state == DEW__BUS_STATE_CONNECTED;
}

/* Copy the counters into *out. */
void dew_bus_get_stats(const struct dew_bus *bus, struct dew_bus_stats *out)
{
	*out = bus->stats;
}

/* The current server's URL without credentials, or NULL when not connected. */
const char *dew_bus_server(const struct dew_bus *bus)
{
	return bus->state == DEW__BUS_STATE_CONNECTED ? dew__bus_where(bus) : NULL;
}
