// SPDX-License-Identifier: MIT
/*
 * The bus client's connection (DESIGN.md section 5): connecting to the current server of the list
 * (address lookup, TCP, INFO, CONNECT, then PING answered by PONG), reading and dispatching what
 * the server sends, keepalive PINGs, and reconnecting with backoff and jitter after a failure.
 * Writing to and closing the connection are in bus-client.c.
 */
#include "bus-internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "nats-proto.h"
#include "random.h"

enum {
	BUS_PING_INTERVAL_MS = 120 * 1000,
	BUS_MAX_PINGS_OUT = 2,
	BUS_MAX_CONTROL_LINE = 64 * 1024,	  /* INFO grows with a cluster's connect_urls */
	BUS_MAX_PAYLOAD_LIMIT = 64 * 1024 * 1024, /* nats-server's own upper bound */
	BUS_STOP = 1,				  /* on_frame: stop parsing, nothing wrong */
	BUS_BAD_INPUT = 2,			  /* on_frame: the server sent nonsense */
};

static void start_attempt(struct dew_bus *bus);

/* --- connection state ------------------------------------------------------------------------ */

/* The reconnect timer fired (or dew_bus_new armed it): start the next connection attempt. */
void dew__bus_on_reconnect_timer(uv_timer_t *t)
{
	struct dew_bus *bus = t->data;
	dew__bus_ref(bus);
	start_attempt(bus);
	dew__bus_unref(bus);
}

/*
 * Exponential backoff from reconnect_min_ms to reconnect_max_ms plus up to half again as jitter,
 * so that every client of a restarted server does not come back in the same millisecond.
 */
static void schedule_reconnect(struct dew_bus *bus)
{
	uint64_t max = bus->opts.reconnect_max_ms, delay = max;
	if (!bus->auth_failed) {
		delay = bus->opts.reconnect_min_ms;
		for (unsigned i = 0; i < bus->attempts && delay < max; i++)
			delay *= 2;
		if (delay > max)
			delay = max;
	}
	delay += dew_random_below(delay / 2 + 1);
	bus->attempts++;
	bus->cur = (bus->cur + 1) % bus->n_servers;
	bus->state = DEW__BUS_STATE_WAITING;
	uv_timer_start(&bus->reconnect_timer, dew__bus_on_reconnect_timer, delay, 0);
}

/* The connection or the attempt failed with status: drop it, tell the user, try again later. */
void dew__bus_fail(struct dew_bus *bus, int status)
{
	bool was_connected = bus->state == DEW__BUS_STATE_CONNECTED;
	dew__bus_conn_drop(bus);
	bus->resolve = NULL; /* a late answer is ignored */
	uv_timer_stop(&bus->connect_timer);
	uv_timer_stop(&bus->ping_timer);
	bus->n_tags = bus->tag_head = 0;
	bus->pings_out = 0;
	if (bus->closing)
		return;
	bus->state = DEW__BUS_STATE_WAITING;
	if (was_connected) {
		dew_warn("bus: lost the connection to %s (%s); reconnecting", dew__bus_where(bus),
			 uv_strerror(status));
		dew__bus_emit(bus, DEW_BUS_DISCONNECTED, dew__bus_where(bus));
		if (bus->closing)
			return;
	} else if (bus->attempts == 0 && !bus->auth_failed) {
		dew_warn("bus: cannot connect to %s (%s); retrying", dew__bus_where(bus),
			 uv_strerror(status));
	} else {
		dew_debug("bus: cannot connect to %s (%s); retrying", dew__bus_where(bus),
			  uv_strerror(status));
	}
	schedule_reconnect(bus);
}

static void on_connect_timeout(uv_timer_t *t)
{
	struct dew_bus *bus = t->data;
	dew__bus_ref(bus);
	dew__bus_fail(bus, UV_ETIMEDOUT);
	dew__bus_unref(bus);
}

static void on_ping_timer(uv_timer_t *t)
{
	struct dew_bus *bus = t->data;
	if (bus->state != DEW__BUS_STATE_CONNECTED)
		return;
	dew__bus_ref(bus);
	if (bus->pings_out >= BUS_MAX_PINGS_OUT) { /* the last two went unanswered: a dead peer */
		dew__bus_fail(bus, UV_ETIMEDOUT);
	} else {
		bus->pings_out++;
		dew__bus_ping(bus, 0);
	}
	dew__bus_unref(bus);
}

/* --- reading ------------------------------------------------------------------------------- */

static void send_connect(struct dew_bus *bus, struct dew__bus_conn *conn)
{
	const struct dew__bus_server *srv = &bus->servers[bus->cur];
	json_t *c =
		json_pack("{s:b, s:b, s:b, s:s, s:s, s:i, s:b, s:b, s:b}", "verbose", 0, "pedantic", 0,
			  "echo", !bus->opts.no_echo, "lang", "c", "version", "dew", "protocol", 1, "headers",
			  bus->srv_headers, "no_responders", bus->srv_headers, "tls_required", 0);
	json_object_set_new(c, "name", json_string(bus->name)); /* NULL (not UTF-8) is skipped */
	if (srv->user) {
		json_object_set_new(c, "user", json_string(srv->user));
		json_object_set_new(c, "pass", json_string(srv->pass));
	}
	if (srv->token)
		json_object_set_new(c, "auth_token", json_string(srv->token));
	char *text = dew_json_dumps(c);
	/* The PONG to this PING proves the CONNECT was accepted: a refusal (-ERR) comes first. */
	dew_buf_printf(&conn->out, "CONNECT %s\r\nPING\r\n", text);
	free(text);
	json_decref(c);
	dew__bus_conn_kick(conn);
}

static int on_info(struct dew_bus *bus, struct dew__bus_conn *conn, const struct dew_nats_frame *f)
{
	json_error_t jerr;
	json_t *info = json_loadb(f->arg.p, f->arg.len, 0, &jerr);
	if (!json_is_object(info)) {
		dew_err("bus: %s sent an INFO that is not a JSON object; reconnecting", dew__bus_where(bus));
		json_decref(info);
		return BUS_BAD_INPUT;
	}
	json_t *mp = json_object_get(info, "max_payload");
	json_int_t v = json_is_integer(mp) ? json_integer_value(mp) : 0;
	bus->max_payload = v <= 0		       ? DEW_NATS_MAX_PAYLOAD
			   : v < BUS_MAX_PAYLOAD_LIMIT ? (size_t)v
						       : BUS_MAX_PAYLOAD_LIMIT;
	bus->srv_headers = json_is_true(json_object_get(info, "headers"));
	bool tls = json_is_true(json_object_get(info, "tls_required"));
	json_decref(info);
	if (tls) {
		dew_err("bus: %s requires TLS, which this client does not speak", dew__bus_where(bus));
		return BUS_BAD_INPUT;
	}
	/* What the server delivers is bounded by what it accepts from publishers. */
	conn->parser.max_payload =
		bus->max_payload > DEW_NATS_MAX_PAYLOAD ? bus->max_payload : DEW_NATS_MAX_PAYLOAD;
	if (bus->state == DEW__BUS_STATE_WAIT_INFO) { /* later INFOs only update the limits */
		bus->state = DEW__BUS_STATE_HANDSHAKE;
		send_connect(bus, conn);
	}
	return 0;
}

/* CONNECT accepted: replay subscriptions, flush the buffered publishes, re-send pending flushes. */
static void established(struct dew_bus *bus)
{
	bool first = !bus->ever_connected;
	uv_timer_stop(&bus->connect_timer);
	bus->state = DEW__BUS_STATE_CONNECTED;
	bus->attempts = 0;
	bus->auth_failed = false;
	bus->ever_connected = true;
	if (!first)
		bus->stats.reconnects++;
	dew__bus_msgs_connected(bus->msgs, &bus->conn->out);
	dew__bus_conn_kick(bus->conn);
	uint64_t every = bus->opts.ping_interval_ms ? bus->opts.ping_interval_ms : BUS_PING_INTERVAL_MS;
	uv_timer_start(&bus->ping_timer, on_ping_timer, every, every);
	dew_info("bus: %s %s", first ? "connected to" : "reconnected to", dew__bus_where(bus));
	dew__bus_emit(bus, first ? DEW_BUS_CONNECTED : DEW_BUS_RECONNECTED, dew__bus_where(bus));
}

static void on_pong(struct dew_bus *bus)
{
	bus->pings_out = 0;
	if (bus->state == DEW__BUS_STATE_HANDSHAKE) {
		established(bus);
		return;
	}
	if (bus->state != DEW__BUS_STATE_CONNECTED || bus->tag_head == bus->n_tags)
		return;
	uint64_t tag = bus->tags[bus->tag_head++];
	if (bus->tag_head == bus->n_tags)
		bus->tag_head = bus->n_tags = 0;
	if (tag)
		dew__bus_msgs_pong(bus->msgs, tag);
}

static void on_server_error(struct dew_bus *bus, const struct dew_nats_frame *f)
{
	size_t len = f->arg.len < 256 ? f->arg.len : 256;
	cleanup_free char *text = xstrndup(f->arg.p ? f->arg.p : "", len);
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?'; /* keep the log line one line */
	if (strcasestr(text, "Authorization Violation")) {
		/* Wrong credentials do not fix themselves: retry at the slowest pace and say so once. */
		if (!bus->auth_failed)
			dew_err("bus: %s refused our credentials ('%s'); retrying every %" PRIu64 " ms",
				dew__bus_where(bus), text, bus->opts.reconnect_max_ms);
		bus->auth_failed = true;
	} else {
		dew_err("bus: %s: server error '%s'", dew__bus_where(bus), text);
	}
	dew__bus_emit(bus, DEW_BUS_SERVER_ERROR, text);
}

static int on_frame(void *data, const struct dew_nats_frame *f)
{
	struct dew__bus_conn *conn = data;
	struct dew_bus *bus = conn->bus;
	int rc = 0;
	switch (f->op) {
	case DEW_NATS_OP_INFO:
		rc = on_info(bus, conn, f);
		break;
	case DEW_NATS_OP_MSG:
	case DEW_NATS_OP_HMSG:
		if (bus->state == DEW__BUS_STATE_CONNECTED)
			dew__bus_msgs_deliver(bus->msgs, f);
		break;
	case DEW_NATS_OP_PING:
		dew_buf_puts(&conn->out, "PONG\r\n");
		dew__bus_conn_kick(conn);
		break;
	case DEW_NATS_OP_PONG:
		on_pong(bus);
		break;
	case DEW_NATS_OP_ERR:
		on_server_error(bus, f);
		break;
	case DEW_NATS_OP_OK:
		break;
	default:
		dew_err("bus: %s sent an operation only clients send; reconnecting", dew__bus_where(bus));
		rc = BUS_BAD_INPUT;
	}
	if (rc == 0 && (bus->closing || bus->conn != conn))
		rc = BUS_STOP;
	return rc;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dew__bus_conn *conn = h->data;
	*buf = uv_buf_init(conn->rbuf, sizeof conn->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct dew__bus_conn *conn = s->data;
	struct dew_bus *bus = conn->bus;
	if (nread == 0 || bus->conn != conn)
		return;
	dew__bus_ref(bus);
	if (nread < 0) {
		dew__bus_fail(bus, (int)nread);
	} else {
		int rc = dew_nats_parse(&conn->parser, buf->base, (size_t)nread, on_frame, conn);
		if (rc < 0 && bus->conn == conn)
			dew_err("bus: %s sent bad protocol data (%s); reconnecting", dew__bus_where(bus),
				dew_nats_strerror(rc));
		if ((rc < 0 || rc == BUS_BAD_INPUT) && bus->conn == conn)
			dew__bus_fail(bus, UV_EPROTO);
	}
	dew__bus_unref(bus);
}

/* --- connecting ---------------------------------------------------------------------------- */

static void on_connected(uv_connect_t *req, int status)
{
	struct dew__bus_conn *conn = req->data;
	struct dew_bus *bus = conn->bus;
	if (bus->conn != conn) /* dropped meanwhile; status is UV_ECANCELED */
		return;
	dew__bus_ref(bus);
	if (status == 0)
		status = uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read);
	if (status < 0) {
		dew__bus_fail(bus, status);
	} else {
		conn->tcp_up = true;
		uv_tcp_nodelay(&conn->tcp, 1);
		bus->state = DEW__BUS_STATE_WAIT_INFO;
	}
	dew__bus_unref(bus);
}

static void start_connect(struct dew_bus *bus, const struct sockaddr *addr)
{
	struct dew__bus_conn *conn = xzalloc(sizeof *conn);
	int rc = uv_tcp_init(bus->loop, &conn->tcp);
	if (rc < 0) {
		free(conn);
		dew__bus_fail(bus, rc);
		return;
	}
	conn->bus = bus;
	conn->tcp.data = conn;
	conn->connect_req.data = conn;
	conn->shutdown_req.data = conn;
	dew__bus_ref(bus);
	dew_nats_parser_init(&conn->parser, DEW_NATS_CLIENT_SIDE, BUS_MAX_CONTROL_LINE, DEW_NATS_MAX_PAYLOAD);
	bus->conn = conn;
	bus->state = DEW__BUS_STATE_CONNECTING;
	rc = uv_tcp_connect(&conn->connect_req, &conn->tcp, addr, on_connected);
	if (rc < 0)
		dew__bus_fail(bus, rc);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct dew__bus_resolve *r = (struct dew__bus_resolve *)req;
	struct dew_bus *bus = r->bus;
	if (bus->resolve == r) {
		bus->resolve = NULL;
		if (status == 0 && !res)
			status = UV_EAI_NONAME;
		if (status < 0) {
			dew__bus_fail(bus, status);
		} else {
			/* One address is tried per attempt: IPv4 first, as "localhost" often means ::1 too.
			 */
			const struct addrinfo *ai = res;
			while (ai && ai->ai_family != AF_INET)
				ai = ai->ai_next;
			start_connect(bus, (ai ? ai : res)->ai_addr);
		}
	}
	uv_freeaddrinfo(res);
	free(r);
	dew__bus_unref(bus);
}

static void start_attempt(struct dew_bus *bus)
{
	const struct dew__bus_server *srv = &bus->servers[bus->cur];
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} addr;
	uv_timer_start(&bus->connect_timer, on_connect_timeout, bus->opts.connect_timeout_ms, 0);
	if (uv_ip4_addr(srv->host, srv->port, &addr.in) == 0 ||
	    uv_ip6_addr(srv->host, srv->port, &addr.in6) == 0) {
		start_connect(bus, &addr.sa);
		return;
	}
	struct dew__bus_resolve *r = xzalloc(sizeof *r);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	char port[8];
	snprintf(port, sizeof port, "%d", srv->port);
	r->bus = bus;
	bus->state = DEW__BUS_STATE_RESOLVING;
	int rc = uv_getaddrinfo(bus->loop, &r->req, on_resolved, srv->host, port, &hints);
	if (rc < 0) {
		free(r);
		dew__bus_fail(bus, rc);
		return;
	}
	dew__bus_ref(bus);
	bus->resolve = r;
}
