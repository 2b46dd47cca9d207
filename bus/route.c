// SPDX-License-Identifier: MIT
/*
 * Delivery of one publish: every plain subscriber gets it, each queue group once (a random
 * eligible member). Nothing here closes a connection or changes the index while the match
 * result is in use: slow consumers are only flagged, and subscriptions that reached their
 * UNSUB maximum are removed after the loop.
 */
#include <string.h>

#include "alloc.h"
#include "server.h"

/* Header block nats-server sends to a requester when nobody subscribes (no_responders). */
static const char no_responders_hdr[] = "NATS/1.0 503\r\n\r\n";

static bool eligible(const struct bus_client *from, const struct bus_sub *sub)
{
	if (sub->client->closing)
		return false;
	if (sub->max && sub->delivered >= sub->max)
		return false;
	return from->echo || sub->client != from;
}

/* Append MSG/HMSG for sub. Returns true when the sub has now reached its UNSUB maximum. */
static bool deliver(struct bus_sub *sub, const struct dew_nats_frame *f, const char *hdr, size_t hdr_len)
{
	struct bus_client *c = sub->client;
	struct bus_server *srv = c->srv;

	/* Clients that did not announce header support get the payload alone, as nats-server does. */
	if (!c->headers) {
		hdr = NULL;
		hdr_len = 0;
	}
	dew_nats_write_msg(&c->out, f->subject.p, f->subject.len, sub->sid, strlen(sub->sid), f->reply.p,
			   f->reply.len, hdr, hdr_len, f->payload.p, f->payload.len);
	sub->delivered++;
	srv->stats.msgs_out++;
	srv->stats.bytes_out += hdr_len + f->payload.len;
	bus_client_queued(c);
	return sub->max && sub->delivered >= sub->max;
}

static void remember(struct bus_sub ***list, size_t *n, struct bus_sub *sub)
{
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[(*n)++] = sub;
}

static void no_responders(struct bus_client *from, const struct dew_nats_frame *f)
{
	struct bus_server *srv = from->srv;
	const struct sublist_result *r = sublist_match(srv->subs, f->reply.p, f->reply.len);
	for (size_t i = 0; i < r->n_psubs; i++) {
		struct bus_sub *sub = r->psubs[i];
		if (sub->client != from || from->closing)
			continue;
		dew_nats_write_msg(&from->out, f->reply.p, f->reply.len, sub->sid, strlen(sub->sid), NULL, 0,
				   no_responders_hdr, sizeof no_responders_hdr - 1, "", 0);
		bus_client_queued(from);
		return;
	}
}

void route_publish(struct bus_client *from, const struct dew_nats_frame *f)
{
	struct bus_server *srv = from->srv;
	const struct sublist_result *r = sublist_match(srv->subs, f->subject.p, f->subject.len);
	struct bus_sub **expired = NULL;
	size_t n_expired = 0;
	bool delivered = false;

	srv->stats.msgs_in++;
	srv->stats.bytes_in += f->hdr.len + f->payload.len;

	for (size_t i = 0; i < r->n_psubs; i++) {
		struct bus_sub *sub = r->psubs[i];
		if (!eligible(from, sub))
			continue;
		delivered = true;
		if (deliver(sub, f, f->hdr.p, f->hdr.len))
			remember(&expired, &n_expired, sub);
	}
	for (size_t g = 0; g < r->n_qgroups; g++) {
		const struct sublist_qgroup *q = &r->qgroups[g];
		/* Start at a random member and take the first eligible one. */
		size_t start = bus_server_pick(srv, q->n);
		for (size_t k = 0; k < q->n; k++) {
			struct bus_sub *sub = q->subs[(start + k) % q->n];
			if (!eligible(from, sub))
				continue;
			delivered = true;
			if (deliver(sub, f, f->hdr.p, f->hdr.len))
				remember(&expired, &n_expired, sub);
			break;
		}
	}

	/* The match result is no longer used: the index may change now. */
	for (size_t i = 0; i < n_expired; i++)
		bus_sub_remove(expired[i]->client, expired[i]);
	free(expired);

	if (!delivered && from->headers && from->no_responders && f->reply.len)
		no_responders(from, f);
}
