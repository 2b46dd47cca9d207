// SPDX-License-Identifier: MIT
/*
 * What a client says to dew-bus: the INFO greeting, reading, and one handler per operation
 * (a table indexed by operation). Error texts and which errors close the connection follow
 * nats-server 2.9 (docs/nats-compat.md).
 */
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "log.h"
#include "server.h"

static void send_info(struct bus_client *c)
{
	struct bus_server *srv = c->srv;
	cleanup_free char *line = xasprintf("INFO %s,\"client_id\":%llu,\"client_ip\":\"%s\"} \r\n",
					    srv->info_json, (unsigned long long)c->cid, c->ip);
	bus_client_send(c, line);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct bus_client *c = h->data;
	/* One shared buffer: a read is parsed completely before the next read happens. */
	*buf = uv_buf_init(c->srv->read_buf, (unsigned)c->srv->read_buf_len);
}

/* Bounded-time equality for secrets. */
static bool secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return diff == 0;
}

static bool authorized(const struct bus_config *cfg, json_t *opts)
{
	const char *token = json_string_value(json_object_get(opts, "auth_token"));
	const char *user = json_string_value(json_object_get(opts, "user"));
	const char *pass = json_string_value(json_object_get(opts, "pass"));

	if (cfg->auth_token && *cfg->auth_token)
		return token && secret_equal(token, cfg->auth_token);
	if (cfg->user && *cfg->user)
		return user && pass && secret_equal(user, cfg->user) &&
		       secret_equal(pass, cfg->password ? cfg->password : "");
	return true;
}

static bool opt_bool(json_t *opts, const char *key, bool def)
{
	json_t *v = json_object_get(opts, key);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

static int on_connect(struct bus_client *c, const struct dew_nats_frame *f)
{
	json_error_t jerr;
	json_t *opts = json_loadb(f->arg.p, f->arg.len, 0, &jerr);

	if (!json_is_object(opts)) {
		/* nats-server logs the JSON error and closes without an -ERR. */
		json_decref(opts);
		bus_client_close_after_flush(c, "CONNECT is not a JSON object");
		return 1;
	}
	if (c->srv->auth_required && !authorized(c->srv->cfg, opts)) {
		json_decref(opts);
		bus_client_send_err(c, "Authorization Violation", true);
		return 1;
	}
	c->verbose = opt_bool(opts, "verbose", c->verbose);
	c->pedantic = opt_bool(opts, "pedantic", c->pedantic);
	c->echo = opt_bool(opts, "echo", c->echo);
	c->headers = opt_bool(opts, "headers", c->headers);
	c->no_responders = opt_bool(opts, "no_responders", c->no_responders);
	if (c->no_responders && !c->headers) {
		json_decref(opts);
		bus_client_send_err(c, "no responders requires headers support", true);
		return 1;
	}
	const char *name = json_string_value(json_object_get(opts, "name"));
	if (name) {
		free(c->name);
		c->name = xstrndup(name, 128);
	}
	c->connected = true;
	json_decref(opts);
	if (c->verbose)
		bus_client_send(c, "+OK\r\n");
	return 0;
}

static int on_pub(struct bus_client *c, const struct dew_nats_frame *f)
{
	if (f->op == DEW_NATS_OP_HPUB && !c->headers) {
		bus_client_close_after_flush(c, "message headers not supported");
		return 1;
	}
	/* Pedantic mode only warns: nats-server still delivers the message. */
	if (c->pedantic && !dew_nats_subject_literal(f->subject.p, f->subject.len))
		bus_client_send_err(c, "Invalid Publish Subject", false);
	/* The acknowledgement goes out before any delivery to this same connection. */
	if (c->verbose)
		bus_client_send(c, "+OK\r\n");
	route_publish(c, f);
	return 0;
}

static int on_sub(struct bus_client *c, const struct dew_nats_frame *f)
{
	/* Queue names are not validated: nats-server accepts any token there. */
	if (!dew_nats_subject_valid(f->subject.p, f->subject.len)) {
		bus_client_send_err(c, "Invalid Subject", false);
		return 0;
	}
	/* A second SUB with a sid already in use is ignored, as nats-server does. */
	if (!sidmap_get(c, f->sid.p, f->sid.len)) {
		struct bus_sub *sub = xzalloc(sizeof *sub);
		sub->client = c;
		sub->subject = xstrndup(f->subject.p, f->subject.len);
		sub->queue = f->queue.len ? xstrndup(f->queue.p, f->queue.len) : NULL;
		sub->sid = xstrndup(f->sid.p, f->sid.len);
		sidmap_put(c, sub);
		sublist_insert(c->srv->subs, f->subject.p, f->subject.len, f->queue.p, f->queue.len, sub);
	}
	if (c->verbose)
		bus_client_send(c, "+OK\r\n");
	return 0;
}

static int on_unsub(struct bus_client *c, const struct dew_nats_frame *f)
{
	struct bus_sub *sub = sidmap_get(c, f->sid.p, f->sid.len);
	if (sub) {
		if (f->max_msgs > 0 && sub->delivered < (uint64_t)f->max_msgs)
			sub->max = (uint64_t)f->max_msgs;
		else
			bus_sub_remove(c, sub);
	}
	if (c->verbose)
		bus_client_send(c, "+OK\r\n");
	return 0;
}

static int on_ping(struct bus_client *c, const struct dew_nats_frame *f)
{
	bus_client_send(c, "PONG\r\n");
	return 0;
}

static int on_pong(struct bus_client *c, const struct dew_nats_frame *f)
{
	c->pings_out = 0;
	return 0;
}

/* INFO and +OK from a client are ignored, as nats-server does. */
static int on_ignored(struct bus_client *c, const struct dew_nats_frame *f)
{
	return 0;
}

/* A client sending -ERR is closed without an answer. */
static int on_client_err(struct bus_client *c, const struct dew_nats_frame *f)
{
	bus_client_close_after_flush(c, "client sent -ERR");
	return 1;
}

typedef int (*op_fn)(struct bus_client *c, const struct dew_nats_frame *f);

/* The server side of the protocol: everything else is refused by the parser. */
static const op_fn op_table[] = {
	[DEW_NATS_OP_CONNECT] = on_connect, [DEW_NATS_OP_PUB] = on_pub,	     [DEW_NATS_OP_HPUB] = on_pub,
	[DEW_NATS_OP_SUB] = on_sub,	    [DEW_NATS_OP_UNSUB] = on_unsub,  [DEW_NATS_OP_PING] = on_ping,
	[DEW_NATS_OP_PONG] = on_pong,	    [DEW_NATS_OP_INFO] = on_ignored, [DEW_NATS_OP_OK] = on_ignored,
	[DEW_NATS_OP_ERR] = on_client_err,
};

static int on_frame(void *data, const struct dew_nats_frame *f)
{
	struct bus_client *c = data;
	if (c->closing)
		return 1;
	if ((size_t)f->op >= DEW_ARRAY_SIZE(op_table) || !op_table[f->op]) {
		bus_client_send_err(c, "Unknown Protocol Operation", true);
		return 1;
	}
	return op_table[f->op](c, f);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct bus_client *c = s->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		bus_client_close(c);
		return;
	}
	if (c->closing)
		return;
	int r = dew_nats_parse(&c->parser, buf->base, (size_t)nread, on_frame, c);
	/* Malformed arguments get no -ERR from nats-server, only a close. */
	if (r < 0 && dew_nats_error_has_reply(r))
		bus_client_send_err(c, dew_nats_strerror(r), true);
	else if (r < 0)
		bus_client_close_after_flush(c, dew_nats_strerror(r));
	if (c->closing)
		uv_read_stop(s);
}

void bus_client_start(struct bus_client *c)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	char host[INET6_ADDRSTRLEN] = "?";

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
		else
			uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
	}
	snprintf(c->ip, sizeof c->ip, "%s", host);
	uv_tcp_nodelay(&c->tcp, 1);
	c->accepted_ms = uv_now(c->srv->loop);
	c->next_ping_ms = c->accepted_ms + c->srv->cfg->ping_interval_ms;
	send_info(c);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}
