// SPDX-License-Identifier: MIT
/*
 * The DEA's presence on the bus (DESIGN.md section 5.1): dea.advertise at boot, on every
 * (re)connect, every advertise_interval and when asked by dea.locate; answers to dea.status and
 * vcap.component.discover; and the table that routes each subscribed subject to its handler.
 */
#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "dea.h"
#include "json.h"
#include "log.h"
#include "status.h"

static json_t *advertise_strv_json(char **v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_int_t advertise_mb(uint64_t bytes)
{
	return (json_int_t)(bytes / (1024 * 1024));
}

void advertise_publish(struct dea *dea)
{
	if (!dea->bus_connected)
		return;
	/* No instances run yet, so all of the capacity is available. */
	json_auto_t *m = json_pack("{s:s, s:o, s:I, s:I, s:o, s:o}", "id", dea->id, "stacks",
				   advertise_strv_json(dea->stacks), "available_memory",
				   advertise_mb(dea->cfg.max_memory), "available_disk",
				   advertise_mb(dea->cfg.max_disk), "app_id_to_count", json_object(),
				   "placement_tags", advertise_strv_json(dea->placement_tags));
	int r = dew_bus_publish_json(dea->bus, "dea.advertise", NULL, m);
	if (r < 0)
		dew_warn("publish dea.advertise: %s", strerror(-r));
	else
		dea->advertisements++;
}

char *advertise_uptime(const struct dea *dea)
{
	uint64_t s = (uv_now(dea->loop) - dea->start_ms) / 1000;
	return xasprintf("%" PRIu64 "d:%" PRIu64 "h:%" PRIu64 "m:%" PRIu64 "s", s / 86400, s / 3600 % 24,
			 s / 60 % 60, s % 60);
}

static void advertise_reply(struct dea *dea, const struct dew_bus_msg *msg, json_t *reply)
{
	cleanup_free char *subject = xstrndup(msg->reply, msg->reply_len);
	int r = dew_bus_publish_json(dea->bus, subject, NULL, reply);
	if (r < 0)
		dew_warn("reply to %.*s: %s", (int)msg->subject_len, msg->subject, strerror(-r));
}

static void advertise_on_locate(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	advertise_publish(dea);
}

static void advertise_on_status(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	cleanup_free char *uptime = advertise_uptime(dea);
	json_auto_t *m =
		json_pack("{s:s, s:s, s:o, s:I, s:I, s:i, s:i, s:i, s:s}", "id", dea->id, "ip", dea->cfg.ip,
			  "stacks", advertise_strv_json(dea->stacks), "max_memory",
			  advertise_mb(dea->cfg.max_memory), "max_disk", advertise_mb(dea->cfg.max_disk),
			  "reserved_memory", 0, "used_memory", 0, "num_instances", 0, "uptime", uptime);
	advertise_reply(dea, msg, m);
}

static void advertise_on_discover(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	cleanup_free char *uptime = advertise_uptime(dea);
	int port = dea->daemon.status ? dew_status_port(dea->daemon.status) : 0;
	cleanup_free char *host = xasprintf("%s:%d", dea->cfg.ip, port);
	json_auto_t *m = json_pack("{s:s, s:i, s:s, s:s, s:s}", "type", "DEA", "index", 0, "uuid", dea->id,
				   "host", host, "uptime", uptime);
	advertise_reply(dea, msg, m);
}

static const struct dea_subject advertise_subjects[] = {
	{ "dea.locate", false, advertise_on_locate },
	{ "dea.status", true, advertise_on_status },
	{ "vcap.component.discover", true, advertise_on_discover },
	{ "healthmanager.start", false, heartbeat_on_hm_start },
};

static const struct dea_subject *advertise_lookup(const char *subject, size_t len)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(advertise_subjects); i++)
		if (strlen(advertise_subjects[i].subject) == len &&
		    memcmp(advertise_subjects[i].subject, subject, len) == 0)
			return &advertise_subjects[i];
	return NULL;
}

/* Bound, parse and route one message; a malformed one is logged here once and dropped. */
static void advertise_on_msg(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct dea *dea = data;
	const struct dea_subject *s = advertise_lookup(msg->subject, msg->subject_len);
	if (!s)
		return;
	if (s->request && !msg->reply) {
		dew_debug("%s without a reply subject: ignored", s->subject);
		return;
	}
	json_auto_t *body = NULL;
	if (msg->len > DEA_MAX_REQUEST) {
		dea->dropped_messages++;
		dew_warn("%s: payload of %zu bytes is over %d: dropped", s->subject, msg->len,
			 DEA_MAX_REQUEST);
		return;
	}
	/* An empty payload is an empty request (dea.locate and healthmanager.start often are). */
	if (msg->len > 0) {
		cleanup_error struct dew_error *err = NULL;
		body = dew_json_parse(msg->data, msg->len, &err);
		if (!body || !json_is_object(body)) {
			dea->dropped_messages++;
			dew_warn("%s: %s: dropped", s->subject,
				 body ? "not a JSON object" : dew_error_msg(err));
			return;
		}
	}
	s->on_msg(dea, msg, body);
}

static void advertise_on_timer(uv_timer_t *t)
{
	advertise_publish(t->data);
}

void advertise_start(struct dea *dea)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(advertise_subjects); i++)
		if (dew_bus_subscribe(dea->bus, advertise_subjects[i].subject, NULL, advertise_on_msg, dea) ==
		    0)
			abort(); /* the table's subjects are constants: invalid means a broken build */
	uv_timer_init(dea->loop, &dea->advertise_timer);
	dea->advertise_timer.data = dea;
	uv_timer_start(&dea->advertise_timer, advertise_on_timer, dea->cfg.advertise_interval_ms,
		       dea->cfg.advertise_interval_ms);
}

void advertise_stop(struct dea *dea)
{
	if (!uv_is_closing((uv_handle_t *)&dea->advertise_timer))
		uv_close((uv_handle_t *)&dea->advertise_timer, NULL);
}

void advertise_on_bus_event(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data)
{
	struct dea *dea = data;
	/* The bus client logs connects and losses itself; here the DEA only reacts. */
	switch (ev) {
	case DEW_BUS_CONNECTED:
	case DEW_BUS_RECONNECTED:
		dea->bus_connected = true;
		advertise_publish(dea);
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
