// SPDX-License-Identifier: MIT
/*
 * One client connection of dew-bus: INFO on accept, the parser's frames (CONNECT, PUB, HPUB,
 * SUB, UNSUB, PING, PONG), authentication, -ERR answers with nats-server's texts, coalesced
 * output with a pending-bytes limit and a write deadline, pings and auth timeouts.
 * A connection is never closed from inside frame handling: it is flagged, and the end-of-turn
 * flusher (or the write callback) closes it, so no match result or parser state is freed
 * under a caller.
 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "log.h"
#include "server.h"

static void on_close(uv_handle_t *h)
{
	struct bus_client *c = h->data;
	struct bus_server *srv = c->srv;
	dew_nats_parser_close(&c->parser);
	dew_buf_close(&c->out);
	dew_buf_close(&c->inflight);
	free(c->name);
	free(c);
	bus_server_release(srv);
}

struct bus_client *bus_client_new(struct bus_server *srv)
{
	struct bus_client *c = xzalloc(sizeof *c);
	c->srv = srv;
	c->cid = ++srv->next_cid;
	/* nats-server's options until CONNECT says otherwise (CONNECT merges into them). */
	c->verbose = true;
	c->pedantic = true;
	c->echo = true;
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	dew_nats_parser_init(&c->parser, DEW_NATS_SERVER_SIDE, (size_t)srv->cfg->max_control_line,
			     (size_t)srv->cfg->max_payload);
	/* The parser refuses anything but CONNECT first, at the byte nats-server does. */
	c->parser.auth_pending = srv->auth_required;
	/* Linked first so a failed accept is still released by bus_client_close. */
	c->next = srv->clients;
	if (srv->clients)
		srv->clients->prev = c;
	srv->clients = c;
	srv->n_clients++;
	srv->pending_closes++;
	return c;
}

void bus_client_close(struct bus_client *c)
{
	struct bus_server *srv = c->srv;
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	c->closing = true;
	sidmap_clear(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_clients--;
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

void bus_client_queued(struct bus_client *c)
{
	struct bus_server *srv = c->srv;
	if (c->out.len + c->inflight.len > srv->cfg->max_pending && !c->closing) {
		/* A consumer that cannot keep up is cut off so it cannot hold the others back. */
		dew_warn("client %llu (%s%s%s): slow consumer, %zu bytes pending; closing",
			 (unsigned long long)c->cid, c->ip, c->name ? " " : "", c->name ? c->name : "",
			 c->out.len + c->inflight.len);
		srv->stats.slow_consumers++;
		c->closing = true;
		c->close_after_flush = false;
		dew_buf_close(&c->out);
	}
	bus_server_mark_dirty(srv, c);
}

void bus_client_send(struct bus_client *c, const char *text)
{
	if (c->closing && !c->close_after_flush)
		return;
	dew_buf_puts(&c->out, text);
	bus_client_queued(c);
}

void bus_client_send_err(struct bus_client *c, const char *text, bool fatal)
{
	cleanup_free char *line = xasprintf("-ERR '%s'\r\n", text);
	c->srv->stats.errors_sent++;
	bus_client_send(c, line);
	if (fatal)
		bus_client_close_after_flush(c, text);
}

void bus_client_close_after_flush(struct bus_client *c, const char *why)
{
	if (c->closing)
		return;
	dew_info("client %llu (%s): %s; closing", (unsigned long long)c->cid, c->ip, why);
	c->closing = true;
	c->close_after_flush = true;
	bus_server_mark_dirty(c->srv, c);
}

static void on_write(uv_write_t *req, int status)
{
	struct bus_client *c = req->data;
	c->writing = false;
	dew_buf_reset(&c->inflight);
	if (status < 0) {
		bus_client_close(c);
		return;
	}
	if (c->out.len || c->closing)
		bus_server_mark_dirty(c->srv, c);
}

void bus_client_flush(struct bus_client *c)
{
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	/* Cut off now, even with a write in flight: a slow consumer's write may never finish. */
	if (c->closing && !c->close_after_flush) {
		bus_client_close(c);
		return;
	}
	if (c->writing)
		return;
	if (c->closing && c->out.len == 0) {
		bus_client_close(c);
		return;
	}
	if (c->out.len == 0)
		return;

	/* Swap buffers: `out` keeps collecting while `inflight` is written. */
	struct dew_buf tmp = c->inflight;
	c->inflight = c->out;
	c->out = tmp;
	dew_buf_reset(&c->out);

	uv_buf_t b = uv_buf_init(c->inflight.data, (unsigned)c->inflight.len);
	int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n == (int)c->inflight.len) {
		dew_buf_reset(&c->inflight);
		if (c->closing)
			bus_client_close(c);
		return;
	}
	if (n < 0 && n != UV_EAGAIN) {
		bus_client_close(c);
		return;
	}
	if (n > 0)
		dew_buf_consume(&c->inflight, (size_t)n);
	b = uv_buf_init(c->inflight.data, (unsigned)c->inflight.len);
	c->write_req.data = c;
	c->writing = true;
	c->write_started_ms = uv_now(c->srv->loop);
	if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
		c->writing = false;
		bus_client_close(c);
	}
}

void bus_client_sweep(struct bus_client *c, uint64_t now)
{
	const struct bus_config *cfg = c->srv->cfg;
	/* A stuck write ends the connection even when it was already closing after an error. */
	if (c->writing && now - c->write_started_ms >= cfg->write_deadline_ms) {
		dew_warn("client %llu (%s): slow consumer, no write progress for %llu ms; closing",
			 (unsigned long long)c->cid, c->ip, (unsigned long long)(now - c->write_started_ms));
		if (!c->closing)
			c->srv->stats.slow_consumers++;
		c->closing = true;
		bus_client_close(c);
		return;
	}
	if (c->closing)
		return;
	if (c->srv->auth_required && !c->connected) {
		if (now - c->accepted_ms >= cfg->auth_timeout_ms)
			bus_client_send_err(c, "Authentication Timeout", true);
		return;
	}
	if (now >= c->next_ping_ms) {
		if (c->pings_out + 1 > cfg->max_pings_out) {
			bus_client_send_err(c, "Stale Connection", true);
			return;
		}
		c->pings_out++;
		c->next_ping_ms = now + cfg->ping_interval_ms;
		bus_client_send(c, "PING\r\n");
	}
}
