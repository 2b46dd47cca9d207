// SPDX-License-Identifier: MIT
/*
 * dea.heartbeat (DESIGN.md section 5.1): every instance this DEA holds and its state, for the
 * health manager: every heartbeat_interval, on each state change, and at once when
 * healthmanager.start says the health manager has (re)started.
 */
#include <string.h>

#include "dea.h"
#include "log.h"

void heartbeat_publish(struct dea *dea)
{
	if (!dea->bus_connected)
		return;
	json_t *droplets = json_array();
	for (struct instance *i = dea->instances; i; i = i->next)
		json_array_append_new(droplets, instance_heartbeat_json(i));
	json_auto_t *m = json_pack("{s:s, s:o}", "dea", dea->id, "droplets", droplets);
	int r = dew_bus_publish_json(dea->bus, "dea.heartbeat", NULL, m);
	if (r < 0)
		dew_warn("publish dea.heartbeat: %s", strerror(-r));
	else
		dea->n.heartbeats++;
}

void heartbeat_on_hm_start(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	heartbeat_publish(dea);
}

static void heartbeat_on_timer(uv_timer_t *t)
{
	heartbeat_publish(t->data);
}

void heartbeat_start(struct dea *dea)
{
	uv_timer_init(dea->loop, &dea->heartbeat_timer);
	dea->heartbeat_timer.data = dea;
	uv_timer_start(&dea->heartbeat_timer, heartbeat_on_timer, dea->cfg.heartbeat_interval_ms,
		       dea->cfg.heartbeat_interval_ms);
}

void heartbeat_stop(struct dea *dea)
{
	if (!uv_is_closing((uv_handle_t *)&dea->heartbeat_timer))
		uv_close((uv_handle_t *)&dea->heartbeat_timer, NULL);
}
