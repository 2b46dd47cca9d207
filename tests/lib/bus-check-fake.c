// SPDX-License-Identifier: MIT
/*
 * bus-check's fake servers (bus-check.h): the bus client against servers no real one would be,
 * on 127.0.0.1 and a free port, run on the check's loop.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "bus-check.h"
#include "tap.h"

/*
 * A scripted server on 127.0.0.1:0: its first connection ends in garbage after the handshake,
 * its second sends an INFO that is not JSON, its third behaves (and PINGs the client, and sends
 * a non-fatal -ERR). The client must survive all of it and end up connected.
 */
struct fake {
	uv_tcp_t server;
	uv_tcp_t conns[4];
	int n_conns;
	bool got_pong;
	char rbuf[4096];
};

static void fake_send(uv_tcp_t *t, const char *s)
{
	uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
	uv_try_write((uv_stream_t *)t, &b, 1); /* a few bytes on loopback always fit */
}

static void fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fake *f = h->data;
	*buf = uv_buf_init(f->rbuf, sizeof f->rbuf);
}

static void fake_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct fake *f = s->data;
	int n = (int)((uv_tcp_t *)s - f->conns) + 1;
	if (nread <= 0) {
		if (nread < 0)
			uv_read_stop(s);
		return;
	}
	if (n >= 3 && memmem(buf->base, (size_t)nread, "PONG\r\n", 6))
		f->got_pong = true;
	if (!memmem(buf->base, (size_t)nread, "PING\r\n", 6))
		return;
	if (n == 1)
		fake_send((uv_tcp_t *)s, "PONG\r\nMSG any.subject 99 5\r\nhello\r\nXYZZY\r\n");
	else if (n >= 3)
		fake_send((uv_tcp_t *)s,
			  "PONG\r\nPING\r\n-ERR 'Permissions Violation for Publish to \"x\"'\r\n");
}

static void fake_accept(uv_stream_t *server, int status)
{
	struct fake *f = server->data;
	static const char info[] =
		"INFO {\"server_id\":\"fake\",\"max_payload\":1048576,\"headers\":true}\r\n";
	if (status < 0 || f->n_conns == (int)DEW_ARRAY_SIZE(f->conns))
		return;
	uv_tcp_t *t = &f->conns[f->n_conns++];
	uv_tcp_init(server->loop, t);
	t->data = f;
	if (uv_accept(server, (uv_stream_t *)t) < 0)
		return;
	fake_send(t, f->n_conns == 2 ? "INFO this is not json\r\n" : info);
	uv_read_start((uv_stream_t *)t, fake_alloc, fake_read);
}

/* Listen on 127.0.0.1, a free port, with on_accept (server->data = data); url gets "host:port". */
static void fake_listen(struct check *ck, uv_tcp_t *server, void *data, uv_connection_cb on_accept,
			char url[64])
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	int len = sizeof ss;
	uv_ip4_addr("127.0.0.1", 0, &sin);
	uv_tcp_init(ck->loop, server);
	server->data = data;
	uv_tcp_bind(server, (const struct sockaddr *)&sin, 0);
	uv_listen((uv_stream_t *)server, 8, on_accept);
	uv_tcp_getsockname(server, (struct sockaddr *)&ss, &len);
	snprintf(url, 64, "127.0.0.1:%d", ntohs(((struct sockaddr_in *)&ss)->sin_port));
}

void check_hostile_server(struct check *ck)
{
	struct fake f = { 0 };
	struct client cl;
	char url[64];
	fake_listen(ck, &f.server, &f, fake_accept, url);
	client_start(ck, &cl, url, "bus-check-fake");
	tap_ok(RUN_UNTIL(ck, cl.reconnected > 0 && cl.server_errors > 0 && f.got_pong, WAIT_MS),
	       "a server sending garbage: the client reconnects until it gets a sane one");
	tap_is_int(f.n_conns, 3, "after a protocol error and a bad INFO (3 connections)");
	tap_ok(cl.connected == 1 && cl.disconnected == 1 && cl.reconnected == 1,
	       "CONNECTED, DISCONNECTED, RECONNECTED");
	tap_ok(f.got_pong, "the client answers the server's PING");
	tap_has_str(cl.last_error, "Permissions Violation", "a non-fatal -ERR is reported");
	tap_ok(dew_bus_is_connected(cl.bus), "and the client stays connected");
	dew_bus_close(cl.bus);
	RUN_UNTIL(ck, cl.closed > 0, WAIT_MS);
	for (int i = 0; i < f.n_conns; i++)
		uv_close((uv_handle_t *)&f.conns[i], NULL);
	uv_close((uv_handle_t *)&f.server, NULL);
	RUN_UNTIL(ck, false, 50); /* let the close callbacks run before f goes away */
}

/*
 * A mute server: it completes the handshake (INFO, the PONG to the client's first PING) and then
 * never answers again, though the connection stays open, as a server does that lost power or
 * sits behind a partition. The client must notice from its keepalive alone.
 */
struct mute {
	uv_tcp_t server, conn;
	bool accepted, answered;
	char rbuf[4096];
};

static void mute_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mute *m = h->data;
	*buf = uv_buf_init(m->rbuf, sizeof m->rbuf);
}

static void mute_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct mute *m = s->data;
	if (nread < 0)
		uv_read_stop(s);
	if (nread <= 0 || m->answered || !memmem(buf->base, (size_t)nread, "PING\r\n", 6))
		return;
	m->answered = true;
	fake_send(&m->conn, "PONG\r\n");
}

static void mute_accept(uv_stream_t *server, int status)
{
	struct mute *m = server->data;
	if (status < 0 || m->accepted)
		return;
	uv_tcp_init(server->loop, &m->conn);
	m->conn.data = m;
	if (uv_accept(server, (uv_stream_t *)&m->conn) < 0)
		return;
	m->accepted = true;
	fake_send(&m->conn, "INFO {\"server_id\":\"mute\",\"max_payload\":1048576}\r\n");
	uv_read_start((uv_stream_t *)&m->conn, mute_alloc, mute_read);
}

void check_mute_server(struct check *ck)
{
	struct mute m = { 0 };
	struct client cl;
	char url[64];
	fake_listen(ck, &m.server, &m, mute_accept, url);
	ck->ping_ms = 100;
	client_start(ck, &cl, url, "bus-check-mute");
	ck->ping_ms = 0;
	tap_ok(RUN_UNTIL(ck, cl.connected > 0, WAIT_MS), "a mute server: the handshake completes");
	uint64_t t0 = uv_now(ck->loop);
	tap_ok(RUN_UNTIL(ck, cl.disconnected > 0, WAIT_MS),
	       "with ping_interval_ms 100, the client gives the mute server up");
	uint64_t took = uv_now(ck->loop) - t0;
	tap_diag("the mute server was given up after %llu ms (2 unanswered PINGs, 100 ms apart)",
		 (unsigned long long)took);
	tap_ok(took >= 200, "not before two PINGs went unanswered (%llu ms)", (unsigned long long)took);
	dew_bus_close(cl.bus);
	RUN_UNTIL(ck, cl.closed > 0, WAIT_MS);
	if (m.accepted)
		uv_close((uv_handle_t *)&m.conn, NULL);
	uv_close((uv_handle_t *)&m.server, NULL);
	RUN_UNTIL(ck, false, 50); /* let the close callbacks run before m goes away */
}
