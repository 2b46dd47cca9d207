// SPDX-License-Identifier: MIT
/*
 * The DEA's bus subjects (DESIGN.md section 5.1) in one table: each subscription carries its
 * table entry, so a message goes straight to its handler. Payloads are bounded and parsed here;
 * a malformed one is logged once with the reason and dropped, and never reaches a handler.
 */
#include <string.h>

#include "alloc.h"
#include "dea.h"
#include "json.h"
#include "log.h"
#include "start.h"

/* Entry flags. */
enum {
	SUBJECT_REQUEST = 1 << 0, /* answered: ignored without a reply subject */
	SUBJECT_RAW = 1 << 1,	  /* the handler parses the payload itself (body is NULL) */
	SUBJECT_OWN = 1 << 2,	  /* the "*" of the subject is this DEA's id */
};

struct dispatch_entry {
	const char *subject;
	unsigned flags;
	size_t max; /* payload bytes; 0: DEA_MAX_REQUEST */
	void (*on_msg)(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);
};

static const struct dispatch_entry dispatch_table[] = {
	{ "dea.*.start", SUBJECT_OWN | SUBJECT_RAW, START_MSG_MAX, launch_on_start },
	{ "dea.stop", 0, 0, stop_on_stop },
	{ "dea.update", 0, 0, routes_on_update },
	{ "dea.find.droplet", SUBJECT_REQUEST, 0, find_on_find_droplet },
	{ "dea.locate", 0, 0, advertise_on_locate },
	{ "dea.status", SUBJECT_REQUEST, 0, advertise_on_status },
	{ "vcap.component.discover", SUBJECT_REQUEST, 0, advertise_on_discover },
	{ "healthmanager.start", 0, 0, heartbeat_on_hm_start },
	{ "router.start", 0, 0, routes_on_router_start },
};

struct dispatch_binding {
	struct dea *dea;
	const struct dispatch_entry *e;
};

static struct dispatch_binding dispatch_bindings[DEW_ARRAY_SIZE(dispatch_table)];

void dea_reply(struct dea *dea, const struct dew_bus_msg *msg, const json_t *reply)
{
	if (!msg->reply)
		return;
	cleanup_free char *subject = xstrndup(msg->reply, msg->reply_len);
	int r = dew_bus_publish_json(dea->bus, subject, NULL, reply);
	if (r < 0)
		dew_warn("reply to %.*s: %s", (int)msg->subject_len, msg->subject, strerror(-r));
}

/* A flood of garbage must not become a flood of log lines: at most one per DROP_LOG_MS. */
enum { DROP_LOG_MS = 1000 };

void dea_drop(struct dea *dea, const struct dew_bus_msg *msg, const char *why)
{
	uint64_t now = uv_now(dea->loop);
	dea->n.dropped_messages++;
	if (dea->drop_log_ms && now - dea->drop_log_ms < DROP_LOG_MS) {
		dea->drops_unlogged++;
		return;
	}
	if (dea->drops_unlogged)
		dew_warn("%.*s: %s: dropped (and %llu more malformed messages since the last report)",
			 (int)msg->subject_len, msg->subject, why, (unsigned long long)dea->drops_unlogged);
	else
		dew_warn("%.*s: %s: dropped", (int)msg->subject_len, msg->subject, why);
	dea->drop_log_ms = now;
	dea->drops_unlogged = 0;
}

static void dispatch_on_msg(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct dispatch_binding *b = data;
	struct dea *dea = b->dea;
	const struct dispatch_entry *e = b->e;
	if ((e->flags & SUBJECT_REQUEST) && !msg->reply) {
		dew_debug("%.*s without a reply subject: ignored", (int)msg->subject_len, msg->subject);
		return;
	}
	size_t max = e->max ? e->max : DEA_MAX_REQUEST;
	if (msg->len > max) {
		cleanup_free char *why = xasprintf("payload of %zu bytes is over %zu", msg->len, max);
		dea_drop(dea, msg, why);
		return;
	}
	json_auto_t *body = NULL;
	/* An empty payload is an empty request (dea.locate and healthmanager.start often are). */
	if (!(e->flags & SUBJECT_RAW) && msg->len > 0) {
		cleanup_error struct dew_error *err = NULL;
		body = dew_json_parse(msg->data, msg->len, &err);
		if (!body || !json_is_object(body)) {
			dea_drop(dea, msg, body ? "not a JSON object" : dew_error_msg(err));
			return;
		}
	}
	e->on_msg(dea, msg, body);
}

void dispatch_subscribe(struct dea *dea)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(dispatch_table); i++) {
		const struct dispatch_entry *e = &dispatch_table[i];
		cleanup_free char *subject = xstrdup(e->subject);
		if (e->flags & SUBJECT_OWN) {
			const char *star = strchr(e->subject, '*');
			free(subject);
			subject = xasprintf("%.*s%s%s", (int)(star - e->subject), e->subject, dea->id,
					    star + 1);
		}
		dispatch_bindings[i] = (struct dispatch_binding){ dea, e };
		if (dew_bus_subscribe(dea->bus, subject, NULL, dispatch_on_msg, &dispatch_bindings[i]) == 0)
			abort(); /* constants and a checked id: invalid means a broken build */
	}
}

void dispatch_on_bus_event(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data)
{
	struct dea *dea = data;
	/* The bus client logs connects and losses itself; here the DEA only reacts. */
	switch (ev) {
	case DEW_BUS_CONNECTED:
	case DEW_BUS_RECONNECTED:
		dea->bus_connected = true;
		advertise_publish(dea);
		heartbeat_publish(dea);
		routes_greet(dea);
		break;
	case DEW_BUS_DISCONNECTED:
	case DEW_BUS_CLOSED:
		dea->bus_connected = false;
		break;
	case DEW_BUS_SERVER_ERROR:
		dew_warn("bus server error: %s", detail ? detail : "?");
		break;
	}
}
