// SPDX-License-Identifier: MIT
/*
 * The libuv TCP transport under the HTTP connection core: listen and accept (within
 * max_connections), feed what each socket reads into its struct dew_http_conn, write what it
 * answers, run its header and idle timers, and close sockets so that nothing is freed before
 * libuv has released every handle (the server itself only after its last one).
 */
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "http-conn.h"
#include "log.h"

/* How long a closing connection may take to flush its last answer to a client that stalls. */
enum { LINGER_MS = 5000, READ_BUF_SIZE = 64 * 1024, LISTEN_BACKLOG = 511 };

struct server_conn {
	struct dew_http_server *server;
	struct server_conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	struct dew_http_conn *conn;
	int open_handles;    /* tcp and timer, until their close callbacks ran */
	bool closing;	     /* flushing the last writes before closing */
	bool handles_closed; /* uv_close() called */
};

struct write_req {
	uv_write_t req;
	uv_buf_t buf;
};

struct dew_http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	const struct dew_http_route *routes;
	size_t n_routes;
	struct dew_http_limits limits;
	void *data;
	int port;
	struct server_conn *conns;
	size_t n_conns;
	size_t open_handles; /* the listener, each connection, each refused socket */
	bool stopping;
	bool refusing; /* at max_connections (logged once until a connection closes) */
	void (*done)(void *arg);
	void *done_arg;
	/* Shared by every connection: a read is fed to its conn (which copies what it keeps)
	 * before the next one is allocated. */
	char read_buf[READ_BUF_SIZE];
};

static void server_handle_closed(struct dew_http_server *s)
{
	if (--s->open_handles > 0 || !s->stopping)
		return;
	void (*done)(void *) = s->done;
	void *arg = s->done_arg;
	free(s);
	if (done)
		done(arg);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct server_conn *sc = h->data;

	if (--sc->open_handles > 0)
		return;
	struct dew_http_server *s = sc->server;
	if (sc->prev)
		sc->prev->next = sc->next;
	else
		s->conns = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	s->n_conns--;
	s->refusing = false;
	dew__http_conn_free(sc->conn);
	free(sc);
	server_handle_closed(s);
}

/* Close at once: pending writes are cancelled, a request still with its handler is aborted. */
static void conn_close_now(struct server_conn *sc)
{
	if (sc->handles_closed)
		return;
	sc->handles_closed = true;
	if (sc->conn)
		dew__http_conn_abort(sc->conn);
	uv_close((uv_handle_t *)&sc->tcp, on_conn_handle_closed);
	uv_close((uv_handle_t *)&sc->timer, on_conn_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	conn_close_now(req->data);
}

static void on_linger_timeout(uv_timer_t *t)
{
	conn_close_now(t->data);
}

/* Close once the queued answers are written (bounded by LINGER_MS for clients that stall). */
static void conn_close_graceful(struct server_conn *sc)
{
	if (sc->closing || sc->handles_closed)
		return;
	sc->closing = true;
	uv_read_stop((uv_stream_t *)&sc->tcp);
	uv_timer_start(&sc->timer, on_linger_timeout, LINGER_MS, 0);
	sc->shutdown.data = sc;
	if (uv_shutdown(&sc->shutdown, (uv_stream_t *)&sc->tcp, on_shutdown) < 0)
		conn_close_now(sc);
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct server_conn *sc = req->data;

	free(wr->buf.base);
	free(wr);
	if (status < 0 && status != UV_ECANCELED) {
		dew_debug("http: write: %s", uv_strerror(status));
		conn_close_now(sc);
	}
}

static void ops_write(struct dew_http_conn *conn, char *data, size_t len)
{
	struct server_conn *sc = dew__http_conn_transport(conn);
	struct write_req *wr;

	/* uv_buf_t holds an unsigned int length; no single answer is built that large. */
	if (sc->handles_closed || len > UINT_MAX) {
		free(data);
		if (!sc->handles_closed)
			conn_close_now(sc);
		return;
	}
	wr = xmalloc(sizeof *wr);
	wr->req.data = sc;
	wr->buf = uv_buf_init(data, (unsigned int)len);
	int r = uv_write(&wr->req, (uv_stream_t *)&sc->tcp, &wr->buf, 1, on_write);
	if (r < 0) {
		dew_debug("http: write: %s", uv_strerror(r));
		free(data);
		free(wr);
		conn_close_now(sc);
	}
}

static size_t ops_queued(struct dew_http_conn *conn)
{
	struct server_conn *sc = dew__http_conn_transport(conn);

	return sc->handles_closed ? 0 : sc->tcp.write_queue_size;
}

static void ops_close(struct dew_http_conn *conn)
{
	conn_close_graceful(dew__http_conn_transport(conn));
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct server_conn *sc = h->data;

	*buf = uv_buf_init(sc->server->read_buf, sizeof sc->server->read_buf);
}

static void on_timer(uv_timer_t *t)
{
	struct server_conn *sc = t->data;

	dew__http_conn_timeout(sc->conn);
}

static void ops_set_timer(struct dew_http_conn *conn, enum dew__http_timer kind)
{
	struct server_conn *sc = dew__http_conn_transport(conn);
	const struct dew_http_limits *l = &sc->server->limits;

	if (sc->closing || sc->handles_closed)
		return;
	uv_timer_stop(&sc->timer);
	if (kind == DEW__HTTP_TIMER_HEADER)
		uv_timer_start(&sc->timer, on_timer, l->header_timeout_ms, 0);
	else if (kind == DEW__HTTP_TIMER_IDLE)
		uv_timer_start(&sc->timer, on_timer, l->idle_timeout_ms, 0);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct server_conn *sc = stream->data;

	if (nread == 0)
		return;
	if (nread > 0) {
		/* The idle timer measures silence; the header timer is a deadline for the head. */
		if (dew__http_conn_timer(sc->conn) == DEW__HTTP_TIMER_IDLE)
			ops_set_timer(sc->conn, DEW__HTTP_TIMER_IDLE);
		dew__http_conn_feed(sc->conn, buf->base, (size_t)nread);
		return;
	}
	/* The client went away, or half-closed: answers already queued still go out. */
	dew__http_conn_abort(sc->conn);
	if (nread == UV_EOF)
		conn_close_graceful(sc);
	else
		conn_close_now(sc);
}

static void ops_set_reading(struct dew_http_conn *conn, bool on)
{
	struct server_conn *sc = dew__http_conn_transport(conn);

	if (sc->closing || sc->handles_closed)
		return;
	if (on)
		uv_read_start((uv_stream_t *)&sc->tcp, on_alloc, on_read);
	else
		uv_read_stop((uv_stream_t *)&sc->tcp);
}

static const struct dew__http_conn_ops tcp_ops = {
	.write = ops_write,
	.close = ops_close,
	.set_reading = ops_set_reading,
	.set_timer = ops_set_timer,
	.now = NULL,
	.queued = ops_queued,
};

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[64] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		uv_ip6_name(a, ip, sizeof ip);
		snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		uv_ip4_name(a, ip, sizeof ip);
		snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
	}
}

static void on_refused_closed(uv_handle_t *h)
{
	struct dew_http_server *s = h->data;

	free(h);
	server_handle_closed(s);
}

/* Over max_connections: accept (libuv stops accepting until we do) and close at once. */
static void refuse(struct dew_http_server *s)
{
	uv_tcp_t *t = xmalloc(sizeof *t);

	uv_tcp_init(s->loop, t);
	t->data = s;
	s->open_handles++;
	uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t);
	/* Once per burst: a flood of refused connections must not flood the log too. */
	if (!s->refusing)
		dew_warn("http: refusing connections: %zu open (max_connections)", s->n_conns);
	s->refusing = true;
	uv_close((uv_handle_t *)t, on_refused_closed);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct dew_http_server *s = listener->data;
	struct sockaddr_storage ss;
	int len = sizeof ss;
	char addr[64] = "-";

	if (status < 0) {
		dew_warn("http: accept: %s", uv_strerror(status));
		return;
	}
	if (s->n_conns >= s->limits.max_connections) {
		refuse(s);
		return;
	}
	struct server_conn *sc = xzalloc(sizeof *sc);
	sc->server = s;
	uv_tcp_init(s->loop, &sc->tcp);
	uv_timer_init(s->loop, &sc->timer);
	sc->tcp.data = sc->timer.data = sc;
	sc->open_handles = 2;
	sc->next = s->conns;
	if (s->conns)
		s->conns->prev = sc;
	s->conns = sc;
	s->n_conns++;
	s->open_handles++;
	if (uv_accept(listener, (uv_stream_t *)&sc->tcp) < 0) {
		conn_close_now(sc);
		return;
	}
	uv_tcp_nodelay(&sc->tcp, 1);
	if (uv_tcp_getpeername(&sc->tcp, (struct sockaddr *)&ss, &len) == 0)
		format_addr(&ss, addr, sizeof addr);
	struct dew__http_conn_config cfg = {
		&tcp_ops, sc, s->routes, s->n_routes, &s->limits, s->data, addr,
	};
	sc->conn = dew__http_conn_new(&cfg);
	ops_set_timer(sc->conn, dew__http_conn_timer(sc->conn));
	uv_read_start((uv_stream_t *)&sc->tcp, on_alloc, on_read);
}

/* host: an IPv4 or IPv6 literal ("[::1]" too), a name, or NULL/"" for every IPv4 address. */
static int resolve(const char *host, int port, struct sockaddr_storage *out, struct dew_error **err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char buf[256];

	if (port < 0 || port > 65535)
		return dew_error_set(err, 0, "invalid port %d", port);
	if (!host || !*host)
		host = "0.0.0.0";
	snprintf(buf, sizeof buf, "%s", host);
	if (buf[0] == '[' && buf[strlen(buf) - 1] == ']') {
		buf[strlen(buf) - 1] = '\0';
		memmove(buf, buf + 1, strlen(buf));
	}
	memset(out, 0, sizeof *out);
	if (uv_ip4_addr(buf, port, (struct sockaddr_in *)out) == 0 ||
	    uv_ip6_addr(buf, port, (struct sockaddr_in6 *)out) == 0)
		return 0;
	int r = getaddrinfo(buf, NULL, &hints, &res);
	if (r != 0)
		return dew_error_set(err, 0, "resolve `%s`: %s", host, gai_strerror(r));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	if (out->ss_family == AF_INET6)
		((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	server_handle_closed(h->data);
}

/* Bind and listen; on failure the listener is closed (the server freed by the loop later). */
static int server_listen(struct dew_http_server *s, const char *host, int port, struct dew_error **err)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	int r = resolve(host, port, &ss, err);

	if (r < 0)
		return r;
	r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
	if (r == 0)
		r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
	if (r < 0)
		return dew_error_set(err, -r, "listen on %s:%d", host && *host ? host : "0.0.0.0", port);
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* Create a server listening on host:port. */
int dew_http_server_start(struct dew_http_server **out, uv_loop_t *loop, const char *host, int port,
			  const struct dew_http_route *routes, size_t n_routes,
			  const struct dew_http_limits *limits, void *data, struct dew_error **err)
{
	struct dew_http_server *s = xzalloc(sizeof *s);
	int r;

	s->loop = loop;
	s->routes = routes;
	s->n_routes = n_routes;
	s->data = data;
	dew__http_limits_resolve(&s->limits, limits);
	r = uv_tcp_init(loop, &s->listener);
	if (r < 0) {
		free(s);
		return dew_error_set(err, -r, "http server: create socket");
	}
	s->listener.data = s;
	s->open_handles = 1;
	r = server_listen(s, host, port, err);
	if (r < 0) {
		/* The handle is live until its close callback: the loop frees the server then. */
		s->stopping = true;
		uv_close((uv_handle_t *)&s->listener, on_listener_closed);
		return r;
	}
	*out = s;
	return 0;
}

/* The bound port. */
int dew_http_server_port(const struct dew_http_server *s)
{
	return s->port;
}

/* Open connections. */
size_t dew_http_server_connections(const struct dew_http_server *s)
{
	return s->n_conns;
}

/* Close the listener and every connection; free the server once libuv is done with it. */
void dew_http_server_stop(struct dew_http_server *s, void (*done)(void *arg), void *arg)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->done = done;
	s->done_arg = arg;
	uv_close((uv_handle_t *)&s->listener, on_listener_closed);
	/* Closing never unlinks at once (that waits for the close callbacks), so walking is safe. */
	for (struct server_conn *sc = s->conns; sc; sc = sc->next)
		conn_close_now(sc);
}
