// SPDX-License-Identifier: MIT
/*
 * The DEAs as the controller hears them: dea.advertise feeds the pool (deapool.h), dea.heartbeat
 * and droplet.exited the instances they run and the crashes (actual.h); a DEA that missed
 * advertise_ttl worth of advertisements or heartbeats is dropped, and so is one the health
 * manager says is lost (healthmanager.dea_lost: its heartbeats stopped for 3 intervals), so the
 * restarts healthd asks for next are not placed on it; at start and on every reconnect the
 * controller asks every DEA to advertise at once (dea.locate), so placement need not wait.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actual.h"
#include "controller.h"
#include "deapool.h"
#include "json.h"
#include "log.h"

enum { DEAS_ADVERTISE_MAX = 1 << 20 };

static void deas_on_advertise(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct cc *cc = data;
	cleanup_error struct dew_error *err = NULL;
	/* Up to the bus's own payload limit: a DEA running thousands of apps advertises ~0.5 MB. */
	json_auto_t *body = msg->len <= DEAS_ADVERTISE_MAX ? dew_json_parse(msg->data, msg->len, &err) : NULL;
	if (!body || dea_pool_advertise(cc->deas, body, uv_now(cc->loop), &err) < 0) {
		if (cc->n.bad_advertisements++ % 100 == 0)
			dew_warn("dea.advertise: %s: dropped",
				 err ? dew_error_msg(err) : "payload over 1 MiB");
		return;
	}
	cc->n.advertisements++;
}

/* Parse a message of at most DEAS_ADVERTISE_MAX bytes and hand it to take; a refusal is counted
 * and logged (the first of every 100). */
static void deas_take(struct cc *cc, const struct dew_bus_msg *msg, const char *subject,
		      int (*take)(struct cc *cc, const json_t *body, struct dew_error **err))
{
	cleanup_error struct dew_error *err = NULL;
	json_auto_t *body = msg->len <= DEAS_ADVERTISE_MAX ? dew_json_parse(msg->data, msg->len, &err) : NULL;
	if (!body || take(cc, body, &err) < 0) {
		if (cc->n.bad_dea_messages++ % 100 == 0)
			dew_warn("%s: %s: dropped", subject, err ? dew_error_msg(err) : "payload over 1 MiB");
	}
}

static int deas_heartbeat(struct cc *cc, const json_t *body, struct dew_error **err)
{
	json_auto_t *risen = json_object();
	int r = actual_heartbeat(cc->actual, body, uv_now(cc->loop), risen, err);
	cc->n.heartbeats += r == 0;
	const char *guid;
	json_t *v;
	json_object_foreach (risen, guid, v)
		lifecycle_risen(cc, guid); /* an old version's instance may go now */
	return r;
}

static void deas_on_heartbeat(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	(void)bus;
	deas_take(data, msg, "dea.heartbeat", deas_heartbeat);
}

static int deas_exited(struct cc *cc, const json_t *body, struct dew_error **err)
{
	int r = actual_exited(cc->actual, body, err);
	if (r == 0) {
		/* Ended now, whatever the DEA's next heartbeat is late to say. */
		const char *instance = json_string_value(json_object_get(body, "instance"));
		const char *reason = json_string_value(json_object_get(body, "reason"));
		if (instance && reason)
			actual_set_state(cc->actual, instance,
					 !strcmp(reason, "CRASHED") ? ACTUAL_CRASHED : ACTUAL_STOPPED);
		cc->n.exits++;
	}
	return r;
}

static void deas_on_exited(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	(void)bus;
	deas_take(data, msg, "droplet.exited", deas_exited);
}

/* healthmanager.dea_lost {dea}: out of placement and out of the view of what runs at once, rather
 * than after advertise_ttl. A DEA that is in fact alive comes back with its next advertisement
 * and heartbeat. */
static int deas_lost(struct cc *cc, const json_t *body, struct dew_error **err)
{
	const char *dea;
	if (dew_json_get_string(body, "dea", DEW_JSON_REQUIRED, 64, &dea, err) < 0)
		return -EINVAL;
	dea_pool_remove(cc->deas, dea);
	actual_forget_dea(cc->actual, dea);
	cc->n.deas_lost++;
	dew_notice("the health manager found DEA %s lost: no more placements on it", dea);
	return 0;
}

static void deas_on_lost(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	(void)bus;
	deas_take(data, msg, "healthmanager.dea_lost", deas_lost);
}

static void deas_on_expire(uv_timer_t *t)
{
	struct cc *cc = t->data;
	dea_pool_expire(cc->deas, uv_now(cc->loop), cc->cfg.advertise_ttl_ms);
	actual_expire(cc->actual, uv_now(cc->loop), cc->cfg.advertise_ttl_ms, NULL);
}

void deas_start(struct cc *cc)
{
	if (dew_bus_subscribe(cc->bus, "dea.advertise", NULL, deas_on_advertise, cc) == 0 ||
	    dew_bus_subscribe(cc->bus, "dea.heartbeat", NULL, deas_on_heartbeat, cc) == 0 ||
	    dew_bus_subscribe(cc->bus, "droplet.exited", NULL, deas_on_exited, cc) == 0 ||
	    dew_bus_subscribe(cc->bus, "healthmanager.dea_lost", NULL, deas_on_lost, cc) == 0)
		abort();
	uv_timer_init(cc->loop, &cc->expire_timer);
	cc->expire_timer.data = cc;
	uint64_t every = cc->cfg.advertise_ttl_ms / 3 ? cc->cfg.advertise_ttl_ms / 3 : 1;
	uv_timer_start(&cc->expire_timer, deas_on_expire, every, every);
}

void deas_stop(struct cc *cc)
{
	if (!uv_is_closing((uv_handle_t *)&cc->expire_timer))
		uv_close((uv_handle_t *)&cc->expire_timer, NULL);
}
