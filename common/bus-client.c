// SPDX-License-Identifier: MIT
/*
 * The bus client's connection (DESIGN.md section 5): the server URL list, connecting (TCP, INFO,
 * CONNECT, then PING answered by PONG), reconnecting with backoff and jitter, coalesced writes,
 * keepalive PINGs and close. What travels over the connection (subscriptions, publishes,
 * requests, flush) is in bus-request.c.
 */
#include "bus-client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "nats-proto.h"
#include "parse.h"
#include "random.h"

enum {
	BUS_DEFAULT_PORT = 4222,
	BUS_MAX_SERVERS = 64,
	BUS_MAX_URL_LIST = 8192,
	BUS_PING_INTERVAL_MS = 120 * 1000,
	BUS_MAX_PINGS_OUT = 2,
	BUS_READ_SIZE = 64 * 1024,
	BUS_MAX_CONTROL_LINE = 64 * 1024,	  /* INFO grows with a cluster's connect_urls */
	BUS_MAX_PAYLOAD_LIMIT = 64 * 1024 * 1024, /* nats-server's own upper bound */
	BUS_STOP = 1,				  /* on_frame: stop parsing, nothing wrong */
	BUS_BAD_INPUT = 2,			  /* on_frame: the server sent nonsense */
};

enum bus_state {
	BUS_WAITING,	/* the reconnect timer is armed */
	BUS_RESOLVING,	/* uv_getaddrinfo in flight */
	BUS_CONNECTING, /* TCP connect in flight */
	BUS_WAIT_INFO,	/* TCP up, waiting for the server's INFO */
	BUS_HANDSHAKE,	/* CONNECT and PING sent, waiting for the PONG */
	BUS_CONNECTED,
	BUS_CLOSING,
};

struct bus_server {
	char *host; /* without brackets */
	int port;
	char *user, *pass, *token; /* owned; NULL when absent */
	char *display;		   /* "nats://host:port", no credentials */
};

/* One connection attempt; freed in its close callback, so libuv never sees freed memory. */
struct bus_conn {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	struct dew_bus *bus;
	struct dew_nats_parser parser;
	struct dew_buf out; /* frames not yet handed to uv_write */
	bool writing;	    /* a uv_write is in flight: new frames coalesce in out meanwhile */
	bool tcp_up;
	char rbuf[BUS_READ_SIZE];
};

struct bus_write {
	uv_write_t req;
	struct bus_conn *conn;
	char *data; /* owned until the write callback */
};

struct bus_resolve {
	uv_getaddrinfo_t req;
	struct dew_bus *bus;
};

struct dew_bus {
	uv_loop_t *loop;
	struct dew_bus_options opts; /* servers and name are not kept */
	char *name;
	struct bus_server *servers;
	size_t n_servers, cur;
	enum bus_state state;
	bool closing, ever_connected, auth_failed;
	unsigned refs;
	unsigned attempts; /* failed attempts since the last established connection */
	uv_timer_t reconnect_timer, connect_timer, ping_timer;
	struct bus_conn *conn;	   /* the current connection or attempt */
	struct bus_conn *draining; /* the connection flushed at close */
	struct bus_resolve *resolve;
	size_t max_payload;
	bool srv_headers;
	unsigned pings_out;
	uint64_t *tags; /* one per PING in flight, in order; 0 for keepalives */
	size_t tag_head, n_tags, cap_tags;
	struct dew__bus_msgs *msgs;
	struct dew_bus_stats stats;
};

static void bus_fail(struct dew_bus *bus, int status);
static void start_attempt(struct dew_bus *bus);

/* --- server list ------------------------------------------------------------------------- */

static void server_free(struct bus_server *s)
{
	free(s->host);
	free(s->user);
	free(s->pass);
	free(s->token);
	free(s->display);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Decode %XX escapes (a user name or password may hold ':' or '@' that way). */
static char *pct_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
			*o++ = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* Fill srv from one "[nats://][user:pass@|token@]host[:port]"; the reason of a failure in *why. */
static int parse_server(const char *s, size_t len, struct bus_server *srv, const char **why)
{
	const char *end = s + len, *sep = memmem(s, len, "://", 3);
	if (sep) {
		if (sep - s != 4 || strncasecmp(s, "nats", 4) != 0)
			return *why = "unsupported scheme (only nats:// is supported)", -1;
		s = sep + 3;
	}
	if (end > s && end[-1] == '/')
		end--;
	if (memchr(s, '/', end - s) || memchr(s, '?', end - s) || memchr(s, '#', end - s))
		return *why = "unexpected path or query after host:port", -1;
	const char *at = memrchr(s, '@', end - s);
	if (at) {
		const char *colon = memchr(s, ':', at - s);
		if (at == s || colon == s)
			return *why = "empty user name or token before `@`", -1;
		if (colon) {
			srv->user = pct_decode(s, colon - s);
			srv->pass = pct_decode(colon + 1, at - colon - 1);
		} else {
			srv->token = pct_decode(s, at - s);
		}
		s = at + 1;
	}
	const char *rb = memrchr(s, ']', end - s), *from = rb ? rb : s;
	bool has_port = memchr(from, ':', end - from) != NULL;
	cleanup_free char *hp =
		has_port ? xstrndup(s, end - s) : xasprintf("%.*s:%d", (int)(end - s), s, BUS_DEFAULT_PORT);
	if (dew_parse_hostport(hp, &srv->host, &srv->port) < 0 || srv->port == 0)
		return *why = "expected host[:port] with a port between 1 and 65535 ([::1]:4222 for IPv6)",
		       -1;
	bool v6 = strchr(srv->host, ':') != NULL;
	srv->display = xasprintf("nats://%s%s%s:%d", v6 ? "[" : "", srv->host, v6 ? "]" : "", srv->port);
	return 0;
}

/* The URL for an error message, with the password or token replaced by "***". */
static char *redact(const char *s, size_t len)
{
	const char *at = memrchr(s, '@', len);
	if (!at)
		return xstrndup(s, len);
	const char *sep = memmem(s, at - s, "://", 3);
	const char *ui = sep ? sep + 3 : s;
	const char *colon = memchr(ui, ':', at - ui);
	if (!colon)
		return xasprintf("%.*s***%.*s", (int)(ui - s), s, (int)(s + len - at), at);
	return xasprintf("%.*s:***%.*s", (int)(colon - s), s, (int)(s + len - at), at);
}

static int parse_servers(struct dew_bus *bus, const char *list, struct dew_error **err)
{
	if (strlen(list) > BUS_MAX_URL_LIST)
		return dew_error_set(err, 0, "bus URL list longer than %d bytes", BUS_MAX_URL_LIST);
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		const char *s = p, *why = NULL;
		p += len;
		while (len > 0 && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (bus->n_servers == BUS_MAX_SERVERS)
			return dew_error_set(err, 0, "bus URL list: more than %d servers", BUS_MAX_SERVERS);
		bus->servers = xreallocarray(bus->servers, bus->n_servers + 1, sizeof *bus->servers);
		struct bus_server *srv = &bus->servers[bus->n_servers++];
		memset(srv, 0, sizeof *srv);
		if (len == 0)
			return dew_error_set(err, 0, "bus URL list: empty server address (a stray comma?)");
		if (parse_server(s, len, srv, &why) < 0) {
			cleanup_free char *shown = redact(s, len);
			return dew_error_set(err, 0, "bus URL `%s`: %s", shown, why);
		}
		if (*p == '\0')
			return 0;
	}
}

/* --- lifetime ------------------------------------------------------------------------------ */

static void emit(struct dew_bus *bus, enum dew_bus_event ev, const char *detail)
{
	if (bus->opts.on_event)
		bus->opts.on_event(bus, ev, detail, bus->opts.data);
}

static const char *where(const struct dew_bus *bus)
{
	return bus->servers[bus->cur].display;
}

static void bus_free(struct dew_bus *bus)
{
	for (size_t i = 0; i < bus->n_servers; i++)
		server_free(&bus->servers[i]);
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
	emit(bus, DEW_BUS_CLOSED, NULL);
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

/* --- writing ------------------------------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h);
static void on_written(uv_write_t *req, int status);

/* Hand everything in conn->out to one uv_write; the request owns the bytes until its callback. */
static void conn_write(struct bus_conn *conn)
{
	struct bus_write *w = xmalloc(sizeof *w);
	size_t len = conn->out.len;
	w->conn = conn;
	w->data = dew_buf_steal(&conn->out);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
	int rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &b, 1, on_written);
	if (rc < 0) {
		/* Only a broken handle gets here; its close callback starts the reconnect. */
		dew_err("bus: write to %s: %s", where(conn->bus), uv_strerror(rc));
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
static void conn_kick(struct bus_conn *conn)
{
	if (conn->writing || conn->out.len == 0 || !conn->tcp_up || conn->bus->conn != conn)
		return;
	conn_write(conn);
}

static void on_written(uv_write_t *req, int status)
{
	struct bus_write *w = (struct bus_write *)req;
	struct bus_conn *conn = w->conn;
	struct dew_bus *bus = conn->bus;
	free(w->data);
	free(w);
	conn->writing = false;
	if (bus->conn != conn) /* dropped, or draining at close */
		return;
	dew__bus_ref(bus);
	if (status < 0)
		bus_fail(bus, status);
	else
		conn_kick(conn);
	dew__bus_unref(bus);
}

/* The output buffer of the established connection (see bus-client.h). */
struct dew_buf *dew__bus_out(struct dew_bus *bus)
{
	return bus->state == BUS_CONNECTED ? &bus->conn->out : NULL;
}

/* Write what was appended to dew__bus_out. */
void dew__bus_kick(struct dew_bus *bus)
{
	if (bus->state == BUS_CONNECTED)
		conn_kick(bus->conn);
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

/* Send a PING and remember tag for its PONG (see bus-client.h). */
bool dew__bus_ping(struct dew_bus *bus, uint64_t tag)
{
	if (bus->state != BUS_CONNECTED)
		return false;
	push_tag(bus, tag);
	dew_buf_puts(&bus->conn->out, "PING\r\n");
	conn_kick(bus->conn);
	return true;
}

/* --- connection state ------------------------------------------------------------------------ */

static void conn_drop(struct dew_bus *bus)
{
	struct bus_conn *conn = bus->conn;
	if (!conn)
		return;
	bus->conn = NULL;
	if (!uv_is_closing((uv_handle_t *)&conn->tcp))
		uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
}

static void on_reconnect_timer(uv_timer_t *t)
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
	bus->state = BUS_WAITING;
	uv_timer_start(&bus->reconnect_timer, on_reconnect_timer, delay, 0);
}

/* The connection or the attempt failed with status: drop it, tell the user, try again later. */
static void bus_fail(struct dew_bus *bus, int status)
{
	bool was_connected = bus->state == BUS_CONNECTED;
	conn_drop(bus);
	bus->resolve = NULL; /* a late answer is ignored */
	uv_timer_stop(&bus->connect_timer);
	uv_timer_stop(&bus->ping_timer);
	bus->n_tags = bus->tag_head = 0;
	bus->pings_out = 0;
	if (bus->closing)
		return;
	bus->state = BUS_WAITING;
	if (was_connected) {
		dew_warn("bus: lost the connection to %s (%s); reconnecting", where(bus),
			 uv_strerror(status));
		emit(bus, DEW_BUS_DISCONNECTED, where(bus));
		if (bus->closing)
			return;
	} else if (bus->attempts == 0 && !bus->auth_failed) {
		dew_warn("bus: cannot connect to %s (%s); retrying", where(bus), uv_strerror(status));
	} else {
		dew_debug("bus: cannot connect to %s (%s); retrying", where(bus), uv_strerror(status));
	}
	schedule_reconnect(bus);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct bus_conn *conn = h->data;
	struct dew_bus *bus = conn->bus;
	if (bus->conn == conn) /* closed after a failed uv_write */
		bus_fail(bus, UV_EPIPE);
	if (bus->draining == conn) {
		bus->draining = NULL;
		uv_close((uv_handle_t *)&bus->connect_timer, on_handle_closed);
	}
	dew_nats_parser_close(&conn->parser);
	dew_buf_close(&conn->out);
	free(conn);
	dew__bus_unref(bus);
}

static void on_connect_timeout(uv_timer_t *t)
{
	struct dew_bus *bus = t->data;
	dew__bus_ref(bus);
	bus_fail(bus, UV_ETIMEDOUT);
	dew__bus_unref(bus);
}

static void on_ping_timer(uv_timer_t *t)
{
	struct dew_bus *bus = t->data;
	if (bus->state != BUS_CONNECTED)
		return;
	dew__bus_ref(bus);
	if (bus->pings_out >= BUS_MAX_PINGS_OUT) { /* the last two went unanswered: a dead peer */
		bus_fail(bus, UV_ETIMEDOUT);
	} else {
		bus->pings_out++;
		dew__bus_ping(bus, 0);
	}
	dew__bus_unref(bus);
}

/* --- reading ------------------------------------------------------------------------------- */

static void send_connect(struct dew_bus *bus, struct bus_conn *conn)
{
	const struct bus_server *srv = &bus->servers[bus->cur];
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
	conn_kick(conn);
}

static int on_info(struct dew_bus *bus, struct bus_conn *conn, const struct dew_nats_frame *f)
{
	json_error_t jerr;
	json_t *info = json_loadb(f->arg.p, f->arg.len, 0, &jerr);
	if (!json_is_object(info)) {
		dew_err("bus: %s sent an INFO that is not a JSON object; reconnecting", where(bus));
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
		dew_err("bus: %s requires TLS, which this client does not speak", where(bus));
		return BUS_BAD_INPUT;
	}
	/* What the server delivers is bounded by what it accepts from publishers. */
	conn->parser.max_payload =
		bus->max_payload > DEW_NATS_MAX_PAYLOAD ? bus->max_payload : DEW_NATS_MAX_PAYLOAD;
	if (bus->state == BUS_WAIT_INFO) { /* later INFOs only update the limits */
		bus->state = BUS_HANDSHAKE;
		send_connect(bus, conn);
	}
	return 0;
}

/* CONNECT accepted: replay subscriptions, flush the buffered publishes, re-send pending flushes. */
static void established(struct dew_bus *bus)
{
	bool first = !bus->ever_connected;
	uv_timer_stop(&bus->connect_timer);
	bus->state = BUS_CONNECTED;
	bus->attempts = 0;
	bus->auth_failed = false;
	bus->ever_connected = true;
	if (!first)
		bus->stats.reconnects++;
	dew__bus_msgs_connected(bus->msgs, &bus->conn->out);
	conn_kick(bus->conn);
	uv_timer_start(&bus->ping_timer, on_ping_timer, BUS_PING_INTERVAL_MS, BUS_PING_INTERVAL_MS);
	dew_info("bus: %s %s", first ? "connected to" : "reconnected to", where(bus));
	emit(bus, first ? DEW_BUS_CONNECTED : DEW_BUS_RECONNECTED, where(bus));
}

static void on_pong(struct dew_bus *bus)
{
	bus->pings_out = 0;
	if (bus->state == BUS_HANDSHAKE) {
		established(bus);
		return;
	}
	if (bus->state != BUS_CONNECTED || bus->tag_head == bus->n_tags)
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
				where(bus), text, bus->opts.reconnect_max_ms);
		bus->auth_failed = true;
	} else {
		dew_err("bus: %s: server error '%s'", where(bus), text);
	}
	emit(bus, DEW_BUS_SERVER_ERROR, text);
}

static int on_frame(void *data, const struct dew_nats_frame *f)
{
	struct bus_conn *conn = data;
	struct dew_bus *bus = conn->bus;
	int rc = 0;
	switch (f->op) {
	case DEW_NATS_OP_INFO:
		rc = on_info(bus, conn, f);
		break;
	case DEW_NATS_OP_MSG:
	case DEW_NATS_OP_HMSG:
		if (bus->state == BUS_CONNECTED)
			dew__bus_msgs_deliver(bus->msgs, f);
		break;
	case DEW_NATS_OP_PING:
		dew_buf_puts(&conn->out, "PONG\r\n");
		conn_kick(conn);
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
		dew_err("bus: %s sent an operation only clients send; reconnecting", where(bus));
		rc = BUS_BAD_INPUT;
	}
	if (rc == 0 && (bus->closing || bus->conn != conn))
		rc = BUS_STOP;
	return rc;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct bus_conn *conn = h->data;
	*buf = uv_buf_init(conn->rbuf, sizeof conn->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct bus_conn *conn = s->data;
	struct dew_bus *bus = conn->bus;
	if (nread == 0 || bus->conn != conn)
		return;
	dew__bus_ref(bus);
	if (nread < 0) {
		bus_fail(bus, (int)nread);
	} else {
		int rc = dew_nats_parse(&conn->parser, buf->base, (size_t)nread, on_frame, conn);
		if (rc < 0 && bus->conn == conn)
			dew_err("bus: %s sent bad protocol data (%s); reconnecting", where(bus),
				dew_nats_strerror(rc));
		if ((rc < 0 || rc == BUS_BAD_INPUT) && bus->conn == conn)
			bus_fail(bus, UV_EPROTO);
	}
	dew__bus_unref(bus);
}

/* --- connecting ---------------------------------------------------------------------------- */

static void on_connected(uv_connect_t *req, int status)
{
	struct bus_conn *conn = req->data;
	struct dew_bus *bus = conn->bus;
	if (bus->conn != conn) /* dropped meanwhile; status is UV_ECANCELED */
		return;
	dew__bus_ref(bus);
	if (status == 0)
		status = uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read);
	if (status < 0) {
		bus_fail(bus, status);
	} else {
		conn->tcp_up = true;
		uv_tcp_nodelay(&conn->tcp, 1);
		bus->state = BUS_WAIT_INFO;
	}
	dew__bus_unref(bus);
}

static void start_connect(struct dew_bus *bus, const struct sockaddr *addr)
{
	struct bus_conn *conn = xzalloc(sizeof *conn);
	int rc = uv_tcp_init(bus->loop, &conn->tcp);
	if (rc < 0) {
		free(conn);
		bus_fail(bus, rc);
		return;
	}
	conn->bus = bus;
	conn->tcp.data = conn;
	conn->connect_req.data = conn;
	conn->shutdown_req.data = conn;
	dew__bus_ref(bus);
	dew_nats_parser_init(&conn->parser, DEW_NATS_CLIENT_SIDE, BUS_MAX_CONTROL_LINE, DEW_NATS_MAX_PAYLOAD);
	bus->conn = conn;
	bus->state = BUS_CONNECTING;
	rc = uv_tcp_connect(&conn->connect_req, &conn->tcp, addr, on_connected);
	if (rc < 0)
		bus_fail(bus, rc);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct bus_resolve *r = (struct bus_resolve *)req;
	struct dew_bus *bus = r->bus;
	if (bus->resolve == r) {
		bus->resolve = NULL;
		if (status == 0 && !res)
			status = UV_EAI_NONAME;
		if (status < 0) {
			bus_fail(bus, status);
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
	const struct bus_server *srv = &bus->servers[bus->cur];
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
	struct bus_resolve *r = xzalloc(sizeof *r);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	char port[8];
	snprintf(port, sizeof port, "%d", srv->port);
	r->bus = bus;
	bus->state = BUS_RESOLVING;
	int rc = uv_getaddrinfo(bus->loop, &r->req, on_resolved, srv->host, port, &hints);
	if (rc < 0) {
		free(r);
		bus_fail(bus, rc);
		return;
	}
	dew__bus_ref(bus);
	bus->resolve = r;
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
	if (parse_servers(bus, opts->servers ? opts->servers : "nats://127.0.0.1:4222", err) < 0) {
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
	uv_timer_start(&bus->reconnect_timer, on_reconnect_timer, 0, 0);
	*out = bus;
	return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct bus_conn *conn = req->data;
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
	struct bus_conn *conn = bus->conn;
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
	struct bus_conn *conn = bus->conn;
	if (conn && bus->state == BUS_CONNECTED && (conn->out.len > 0 || conn->writing)) {
		drain(bus);
	} else {
		conn_drop(bus);
		uv_close((uv_handle_t *)&bus->connect_timer, on_handle_closed);
	}
	bus->state = BUS_CLOSING;
	dew__bus_unref(bus); /* ours */
	dew__bus_unref(bus); /* the one from dew_bus_new */
}

/* True while a connection is established (CONNECT answered). */
bool dew_bus_is_connected(const struct dew_bus *bus)
{
	return bus->state == BUS_CONNECTED;
}

/* Copy the counters into *out. */
void dew_bus_get_stats(const struct dew_bus *bus, struct dew_bus_stats *out)
{
	*out = bus->stats;
}

/* The current server's URL without credentials, or NULL when not connected. */
const char *dew_bus_server(const struct dew_bus *bus)
{
	return bus->state == BUS_CONNECTED ? where(bus) : NULL;
}
