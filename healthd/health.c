// SPDX-License-Identifier: MIT
/*
 * healthmanager.health (DESIGN.md section 5.1, as the 2013 VCAP health manager answered it): a
 * request {droplets: [{droplet, version}]} gets one reply per entry, {droplet, version, healthy},
 * healthy being how many indices of that version have a RUNNING instance (below the app's
 * instance count when healthd knows the app). An instance its DEA reported as DEA_EVACUATION is
 * not counted: it is going away. Every healthd answers, in the queue group `healthmanager` so
 * that one answers each request: a standby's view is as current as the leader's, and the
 * answers keep coming while a new leader is chosen. A healthd joins the group only once its view
 * is whole (a full round of heartbeats after its first connection), so a healthd just started
 * never answers 0 for what runs.
 */
#include <stdlib.h>
#include <string.h>

#include "actual.h"
#include "alloc.h"
#include "healthd.h"
#include "json.h"
#include "log.h"

enum {
	HEALTH_MSG_MAX = 1 << 20,
	HEALTH_DROPLETS_MAX = 10000,
	HEALTH_INDEX_MAX = 10000,
};

struct health_count {
	const char *version;
	int64_t below;	     /* count indices below this (-1: all) */
	unsigned char *seen; /* [HEALTH_INDEX_MAX] */
	int64_t healthy;
};

static void health_one(const struct actual_instance *i, void *data)
{
	struct health_count *c = data;
	if (i->state != ACTUAL_RUNNING || strcmp(i->version, c->version) != 0 ||
	    i->index >= HEALTH_INDEX_MAX || (c->below >= 0 && i->index >= c->below) || c->seen[i->index])
		return;
	c->seen[i->index] = 1;
	c->healthy++;
}

static int64_t health_count(struct hm *hm, const char *guid, const char *version, unsigned char *seen)
{
	const json_t *app = json_object_get(hm->desired, guid);
	struct health_count c = {
		.version = version,
		.below = app ? json_integer_value(json_object_get(app, "instances")) : -1,
		.seen = seen,
	};
	memset(seen, 0, HEALTH_INDEX_MAX);
	actual_each(hm->actual, guid, health_one, &c);
	return c.healthy;
}

static void health_on_request(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct hm *hm = data;
	(void)bus;
	json_auto_t *j = msg->len <= HEALTH_MSG_MAX ? dew_json_parse(msg->data, msg->len, NULL) : NULL;
	json_t *droplets = json_object_get(j, "droplets"), *d;
	if (!msg->reply || !json_is_array(droplets) || json_array_size(droplets) > HEALTH_DROPLETS_MAX) {
		if (hm->n.bad_messages++ % 100 == 0)
			dew_warn("healthmanager.health: not {droplets: [...]} with a reply subject: dropped");
		return;
	}
	hm->n.health_requests++;
	cleanup_free char *reply = xstrndup(msg->reply, msg->reply_len);
	unsigned char *seen = xmalloc(HEALTH_INDEX_MAX);
	size_t k;
	json_array_foreach (droplets, k, d) {
		const char *guid = json_string_value(json_object_get(d, "droplet"));
		const char *version = json_string_value(json_object_get(d, "version"));
		if (!actual_id_ok(guid) || !actual_id_ok(version)) {
			hm->n.bad_messages++;
			continue;
		}
		json_auto_t *r = json_pack("{s:s, s:s, s:I}", "droplet", guid, "version", version, "healthy",
					   (json_int_t)health_count(hm, guid, version, seen));
		if (r && dew_bus_publish_json(hm->bus, reply, NULL, r) == 0)
			hm->n.health_replies++;
	}
	free(seen);
}

void health_start(struct hm *hm)
{
	if (hm->health_on)
		return;
	/* The bus client replays the subscription after a reconnection. */
	if (dew_bus_subscribe(hm->bus, "healthmanager.health", "healthmanager", health_on_request, hm) == 0)
		abort();
	hm->health_on = true;
	dew_info("answering healthmanager.health");
}
