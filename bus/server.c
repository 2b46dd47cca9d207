// SPDX-License-Identifier: MIT
/*
 * The dew-bus server: the listener, the connection list, the subscription index, the
 * end-of-turn flusher that gives each connection at most one write per loop turn, and the
 * sweep timer for pings, authentication timeouts and write deadlines.
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "random.h"
#include "server.h"

enum {
	SWEEP_INTERVAL_MS = 250,
	READ_BUF_SIZE = 256 * 1024,
	/* The nats-server release whose client protocol dew-bus follows, reported in INFO so
	 * clients that gate features on the server version enable them. */
};
#define NATS_COMPAT_VERSION "2.9.10"

void bus_server_mark_dirty(struct bus_server *srv, struct bus_client *c)
{
	if (c->is_dirty)
		return;
	c->is_dirty = true;
	c->next_dirty = srv->dirty;
	srv->dirty = c;
}

size_t bus_server_pick(struct bus_server *srv, size_t n)
{
	/* xorshift64*: quality is ample for spreading messages over queue members. */
	uint64_t x = srv->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	srv->rng = x;
	return (size_t)((x * 2685821657736338717ULL) % n);
}

static void on_flush(uv_check_t *h)
{
	struct bus_server *srv = h->data;
	/* Writes may mark clients dirty again (a finished write with more queued); those wait
	 * for the next turn, so detach the list first. */
	struct bus_client *c = srv->dirty;
	srv->dirty = NULL;
	while (c) {
		struct bus_client *next = c->next_dirty;
		c->is_dirty = false;
		c->next_dirty = NULL;
		bus_client_flush(c);
		c = next;
	}
}

static void on_sweep(uv_timer_t *t)
{
	struct bus_server *srv = t->data;
	uint64_t now = uv_now(srv->loop);
	struct bus_client *c = srv->clients, *next;
	for (; c; c = next) {
		next = c->next;
		bus_client_sweep(c, now);
	}
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct bus_server *srv = listener->data;
	if (status < 0) {
		dew_warn("accept: %s", uv_strerror(status));
		return;
	}
	bool full = (int64_t)srv->n_clients >= srv->cfg->max_connections;
	struct bus_client *c = bus_client_new(srv);
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
		bus_client_close(c);
		return;
	}
	srv->stats.connections_total++;
	bus_client_start(c);
	if (full) {
		dew_warn("connection from %s refused: %lld connections open", c->ip,
			 (long long)srv->cfg->max_connections);
		bus_client_send_err(c, "maximum connections exceeded", true);
	}
}

static void make_server_id(char out[57])
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char raw[55];
	dew_random_bytes(raw, sizeof raw);
	out[0] = 'N';
	for (size_t i = 0; i < sizeof raw; i++)
		out[i + 1] = alphabet[raw[i] & 31];
	out[56] = '\0';
}

static char *make_info(struct bus_server *srv, const char *host)
{
	const struct bus_config *cfg = srv->cfg;
	json_t *info = json_pack(
		"{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:b, s:I}", "server_id", srv->server_id,
		"server_name", cfg->server_name && *cfg->server_name ? cfg->server_name : srv->server_id,
		"version", NATS_COMPAT_VERSION, "dew_version", PACKAGE_VERSION, "proto", 1, "go", "dew",
		"host", host, "port", srv->port, "headers", 1, "max_payload", (json_int_t)cfg->max_payload);
	if (srv->auth_required)
		json_object_set_new(info, "auth_required", json_true());
	char *text = json_dumps(info, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(info);
	/* Drop the closing brace: each client's id and address are appended. */
	text[strlen(text) - 1] = '\0';
	return text;
}

static int bind_listener(struct bus_server *srv, const char *host, int port, struct dew_error **err)
{
	struct sockaddr_storage ss;
	int r = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
				  : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
	if (r < 0)
		return dew_error_set(err, 0, "listen address `%s` is not an IP address", host);
	uv_tcp_init(srv->loop, &srv->listener);
	srv->listener.data = srv;
	r = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
	if (r < 0)
		return dew_error_set(err, -r, "listen on %s:%d", host, port);
	int len = sizeof ss;
	uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len);
	srv->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

int bus_server_start(struct bus_server **out, uv_loop_t *loop, const struct bus_config *cfg,
		     struct dew_error **err)
{
	cleanup_free char *host = NULL;
	int port;

	if (dew_parse_hostport(cfg->core.listen, &host, &port) < 0)
		return dew_error_set(err, 0, "listen: expected HOST:PORT, got `%s`", cfg->core.listen);

	struct bus_server *srv = xzalloc(sizeof *srv);
	srv->loop = loop;
	srv->cfg = cfg;
	srv->auth_required = (cfg->auth_token && *cfg->auth_token) || (cfg->user && *cfg->user);
	srv->rng = dew_random_u64() | 1;
	make_server_id(srv->server_id);
	int r = bind_listener(srv, host, port, err);
	if (r < 0) {
		/* The handle is registered with the loop: free the server once it has closed. */
		uv_close((uv_handle_t *)&srv->listener, free_on_close);
		return r;
	}
	srv->subs = sublist_new();
	srv->read_buf_len = READ_BUF_SIZE;
	srv->read_buf = xmalloc(READ_BUF_SIZE);
	srv->info_json = make_info(srv, host);
	uv_timer_init(loop, &srv->sweep);
	srv->sweep.data = srv;
	uv_timer_start(&srv->sweep, on_sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
	uv_check_init(loop, &srv->flusher);
	srv->flusher.data = srv;
	uv_check_start(&srv->flusher, on_flush);
	/* The listener keeps the loop alive; the flusher alone must not. */
	uv_unref((uv_handle_t *)&srv->flusher);
	dew_info("listening on %s:%d (max_payload %llu, auth %s)", host, srv->port,
		 (unsigned long long)cfg->max_payload, srv->auth_required ? "required" : "off");
	*out = srv;
	return 0;
}

static void on_server_handle_closed(uv_handle_t *h)
{
	bus_server_release(h->data);
}

int bus_server_port(const struct bus_server *srv)
{
	return srv->port;
}

void bus_server_release(struct bus_server *srv)
{
	if (--srv->pending_closes > 0 || !srv->stopping)
		return;
	void (*done)(void *) = srv->stopped;
	void *arg = srv->stopped_arg;
	sublist_free(srv->subs);
	free(srv->read_buf);
	free(srv->info_json);
	free(srv);
	if (done)
		done(arg);
}

void bus_server_stop(struct bus_server *srv, void (*done)(void *arg), void *arg)
{
	srv->stopping = true;
	srv->stopped = done;
	srv->stopped_arg = arg;
	/* Every close callback (connections and our three handles) calls bus_server_release; the
	 * last one frees the server. */
	srv->pending_closes += 3;
	while (srv->clients)
		bus_client_close(srv->clients);
	uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
	uv_close((uv_handle_t *)&srv->sweep, on_server_handle_closed);
	uv_close((uv_handle_t *)&srv->flusher, on_server_handle_closed);
}

static const struct {
	const char *name;
	const char *help;
	size_t offset;
} counters[] = {
	{ "dew_bus_msgs_in_total", "Messages published to the bus.", offsetof(struct bus_stats, msgs_in) },
	{ "dew_bus_msgs_out_total", "Messages delivered to subscribers.",
	  offsetof(struct bus_stats, msgs_out) },
	{ "dew_bus_bytes_in_total", "Payload and header bytes published.",
	  offsetof(struct bus_stats, bytes_in) },
	{ "dew_bus_bytes_out_total", "Payload and header bytes delivered.",
	  offsetof(struct bus_stats, bytes_out) },
	{ "dew_bus_connections_total", "Connections accepted since start.",
	  offsetof(struct bus_stats, connections_total) },
	{ "dew_bus_slow_consumers_total", "Connections cut off as slow consumers.",
	  offsetof(struct bus_stats, slow_consumers) },
	{ "dew_bus_errors_sent_total", "-ERR messages sent to clients.",
	  offsetof(struct bus_stats, errors_sent) },
};

void bus_server_metrics(struct dew_buf *out, void *data)
{
	struct bus_server *srv = data;
	struct sublist_stats ss;

	dew_metrics_gauge(out, "dew_bus_connections", "Open client connections.", (double)srv->n_clients);
	dew_metrics_gauge(out, "dew_bus_subscriptions", "Active subscriptions.",
			  (double)sublist_count(srv->subs));
	for (size_t i = 0; i < DEW_ARRAY_SIZE(counters); i++)
		dew_metrics_counter(out, counters[i].name, counters[i].help,
				    *(const uint64_t *)((const char *)&srv->stats + counters[i].offset));
	sublist_stats(srv->subs, &ss);
	dew_metrics_counter(out, "dew_bus_sublist_matches_total",
			    "Subject lookups in the subscription index.", ss.matches);
	dew_metrics_counter(out, "dew_bus_sublist_cache_hits_total", "Lookups answered by the match cache.",
			    ss.cache_hits);
}
