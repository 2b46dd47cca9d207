// SPDX-License-Identifier: MIT
/*
 * Client connections: accept on the main listener, read request heads under a header timeout
 * (slowloris) and an idle timeout between keep-alive requests, hand complete heads to the
 * exchange (proxy.c), and close cleanly (after the last response is flushed) or at once.
 */
#include "proxy.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "alloc.h"
#include "log.h"

static void client_on_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	if (--c->handles > 0)
		return;
	struct router *rt = c->rt;
	if (c->prev)
		c->prev->next = c->next;
	else
		rt->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ROUTER_DEC(rt->n_clients);
	dew_buf_close(&c->in);
	dew_buf_close(&c->cork);
	dew_buf_close(&c->ex.head_bytes);
	free(c->fields);
	free(c);
}

void client_close(struct client *c)
{
	if (c->state == CLIENT_CLOSING && uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	client_uncork(c); /* an error answer written while corked still leaves (best effort) */
	if (c->ex.active || c->ex.up)
		proxy_abort(c);
	c->state = CLIENT_CLOSING;
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, client_on_closed);
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, client_on_closed);
}

static void client_on_shutdown(uv_shutdown_t *req, int status)
{
	struct client *c = req->handle->data;
	(void)status;
	free(req);
	client_close(c);
}

/* Close once everything written so far has left. */
static void client_close_flushed(struct client *c)
{
	if (c->state == CLIENT_CLOSING)
		return;
	client_uncork(c);
	c->state = CLIENT_CLOSING;
	client_set_reading(c, false);
	uv_timer_stop(&c->timer);
	uv_shutdown_t *req = xmalloc(sizeof(*req));
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, client_on_shutdown) < 0) {
		free(req);
		c->state = CLIENT_FORWARD;
		client_close(c);
	}
}

static void client_on_write(uv_write_t *req, int status)
{
	struct client *c = req->handle->data;
	free(req);
	if (status < 0) {
		if (status != UV_ECANCELED)
			client_close(c);
		return;
	}
	if (c->state != CLIENT_CLOSING && conn_queued((uv_stream_t *)&c->tcp) < CONN_LOW_WATER)
		proxy_client_drained(c);
}

void client_write(struct client *c, const char *p, size_t len)
{
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	if (c->corked) {
		dew_buf_append(&c->cork, p, len);
		return;
	}
	int r = conn_write((uv_stream_t *)&c->tcp, p, len, client_on_write);
	if (r < 0)
		client_close(c);
}

void client_cork(struct client *c)
{
	c->corked = true;
}

void client_uncork(struct client *c)
{
	if (!c->corked)
		return;
	c->corked = false;
	if (c->cork.len)
		client_write(c, c->cork.data, c->cork.len);
	dew_buf_reset(&c->cork);
}

static void client_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

void client_set_reading(struct client *c, bool on)
{
	if (c->reading == on || c->eof || uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	c->reading = on;
	if (on)
		uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, client_on_read);
	else
		uv_read_stop((uv_stream_t *)&c->tcp);
}

static void client_on_timer(uv_timer_t *t)
{
	struct client *c = t->data;
	if (c->state == CLIENT_HEAD && c->in.len > 0) {
		errors_respond(c, RERR_TIMEOUT, true); /* slowloris: the head took too long */
		return;
	}
	if (c->state == CLIENT_FORWARD && c->ex.active && !c->ex.resp_started) {
		dew_notice("backend %s did not answer within endpoint_timeout",
			   c->ex.be ? c->ex.be->addr : "?");
		errors_respond(c, RERR_ENDPOINT_FAILURE, true);
		return;
	}
	client_close(c);
}

void client_response_timer(struct client *c, bool on)
{
	if (on)
		uv_timer_start(&c->timer, client_on_timer, c->rt->cfg.endpoint_timeout_ms, 0);
	else
		uv_timer_stop(&c->timer);
}

/* Waiting for a head: the idle timeout while nothing came, the header timeout once it started. */
static void client_head_timer(struct client *c)
{
	if (c->in.len == 0) {
		c->head_timer = false;
		uv_timer_start(&c->timer, client_on_timer, c->rt->cfg.client_idle_timeout_ms, 0);
	} else if (!c->head_timer) {
		c->head_timer = true;
		uv_timer_start(&c->timer, client_on_timer, c->rt->cfg.header_timeout_ms, 0);
	}
}

static const enum router_error client_parse_errors[] = {
	[-H1_BAD] = RERR_BAD_REQUEST,
	[-H1_HEAD_TOO_LARGE] = RERR_HEAD_TOO_LARGE,
	[-H1_LINE_TOO_LONG] = RERR_URI_TOO_LONG,
	[-H1_BAD_VERSION] = RERR_VERSION,
};

/* Start every complete request in c->in, one at a time. */
static void client_process(struct client *c)
{
	c->in_process = true;
	while (c->state == CLIENT_HEAD && !c->ex.active) {
		struct h1_head h = { .fields = c->fields };
		int r = h1_parse_request(c->in.data, c->in.len, &c->rt->limits, &h);
		if (r == H1_INCOMPLETE) {
			if (c->eof) {
				client_close(c);
				break;
			}
			client_head_timer(c);
			client_set_reading(c, true);
			break;
		}
		if (r < 0) {
			ROUTER_INC(c->rt->n.bad_requests);
			dew_debug("client %s: %s", c->ip, h.why);
			errors_respond(c, client_parse_errors[-r], true);
			break;
		}
		c->head_timer = false;
		uv_timer_stop(&c->timer);
		proxy_begin(c, &h, r);
	}
	c->in_process = false;
}

void client_exchange_done(struct client *c)
{
	if (c->close_after || c->eof || c->rt->stopping) {
		client_close_flushed(c);
		return;
	}
	c->state = CLIENT_HEAD;
	if (!c->in_process)
		client_process(c);
}

static void client_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct client *c = s->data;
	(void)buf;
	if (n == 0)
		return;
	if (n < 0) {
		c->reading = false;
		uv_read_stop(s);
		c->eof = true;
		/* A client that half-closes after its request still gets the answer. */
		if (n == UV_EOF && c->ex.active && c->ex.req_body.done && c->state == CLIENT_FORWARD)
			return;
		if (n == UV_EOF && c->state == CLIENT_HEAD && c->in.len > 0) {
			client_process(c);
			return;
		}
		client_close(c);
		return;
	}
	const char *p = c->rt->rbuf;
	size_t len = (size_t)n;
	if (c->state == CLIENT_FORWARD || c->state == CLIENT_TUNNEL) {
		/* Body bytes go straight through when nothing waits before them. */
		if (c->in.len == 0) {
			size_t used = proxy_client_data(c, p, len);
			p += used;
			len -= used;
		}
		if (len)
			dew_buf_append(&c->in, p, len);
		if (c->state == CLIENT_FORWARD && c->ex.req_body.done && c->in.len)
			client_set_reading(c, false); /* pipelined: wait for the response first */
		return;
	}
	dew_buf_append(&c->in, p, len);
	if (c->state == CLIENT_CONNECTING) {
		if (c->in.len > CONN_HIGH_WATER)
			client_set_reading(c, false);
		return;
	}
	if (c->state == CLIENT_HEAD)
		client_process(c);
}

static void client_on_rejected(uv_handle_t *h)
{
	free(h->data);
}

static void client_on_connection(uv_stream_t *server, int status)
{
	struct router *rt = server->data;
	if (status < 0)
		return;
	struct client *c = xzalloc(sizeof(*c));
	c->rt = rt;
	uv_tcp_init(rt->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
	    (rt->cfg.max_connections && rt->n_clients >= (size_t)rt->cfg.max_connections)) {
		uv_close((uv_handle_t *)&c->tcp, client_on_rejected);
		return;
	}
	uv_timer_init(rt->loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	c->fields = xcalloc(rt->limits.max_fields, sizeof(*c->fields));
	c->next = rt->clients;
	if (c->next)
		c->next->prev = c;
	rt->clients = c;
	ROUTER_INC(rt->n_clients);
	ROUTER_INC(rt->n.accepted);
	uv_tcp_nodelay(&c->tcp, 1);
	struct sockaddr_storage sa;
	int salen = sizeof(sa);
	snprintf(c->ip, sizeof(c->ip), "unknown");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0) {
		if (sa.ss_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)&sa, c->ip, sizeof(c->ip));
		else
			uv_ip4_name((struct sockaddr_in *)&sa, c->ip, sizeof(c->ip));
	}
	c->state = CLIENT_HEAD;
	client_head_timer(c);
	client_set_reading(c, true);
}

int client_listen(struct router *rt, const struct sockaddr *addr, bool reuseport, struct dew_error **err)
{
	char ip[64] = "?";
	int port = ntohs(addr->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)addr)->sin6_port
						     : ((const struct sockaddr_in *)addr)->sin_port);
	uv_ip_name(addr, ip, sizeof(ip));
	int r = uv_tcp_init_ex(rt->loop, &rt->listener, addr->sa_family);
	if (r < 0)
		return dew_error_set(err, -r, "listen on %s port %d: %s", ip, port, uv_strerror(r));
	rt->listener.data = rt;
	rt->listening = true;
	if (reuseport) {
		/* Every worker binds the same address; the kernel spreads connections over them. */
		uv_os_fd_t fd;
		int one = 1;
		r = uv_fileno((uv_handle_t *)&rt->listener, &fd);
		if (r == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
			r = -errno;
	}
	if (r == 0)
		r = uv_tcp_bind(&rt->listener, addr, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&rt->listener, 1024, client_on_connection);
	if (r < 0)
		return dew_error_set(err, -r, "listen on %s port %d: %s", ip, port, uv_strerror(r));
	return 0;
}

int client_port(struct router *rt)
{
	struct sockaddr_storage sa;
	int len = sizeof(sa);
	if (uv_tcp_getsockname(&rt->listener, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	return ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
					      : ((struct sockaddr_in *)&sa)->sin_port);
}

void client_stop_listening(struct router *rt)
{
	if (!rt->listening)
		return;
	rt->listening = false;
	uv_close((uv_handle_t *)&rt->listener, NULL);
}

void client_close_all(struct router *rt, bool idle_only)
{
	struct client *c = rt->clients, *next;
	for (; c; c = next) {
		next = c->next;
		if (!idle_only || (c->state == CLIENT_HEAD && c->in.len == 0 && !c->ex.active))
			client_close(c);
	}
}
