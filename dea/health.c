// SPDX-License-Identifier: MIT
/*
 * The health check: an instance with routes is RUNNING once its app accepts a TCP connection
 * on its port. Attempts come every HEALTH_DELAY_FAST ms for the first HEALTH_FAST_SPAN ms (a
 * refused loopback connect costs microseconds, and a fast app is then RUNNING within a few ms
 * of listening), then back off to HEALTH_DELAY_MAX until health_check_timeout; then the instance
 * is stopped and reported CRASHED with "health check timed out". Workers (no routes) and
 * health_check "none" are RUNNING as soon as their container runs.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>

#include "alloc.h"
#include "dea.h"
#include "log.h"
#include "logs.h"
#include "start.h"

enum { HEALTH_DELAY_FAST = 3, HEALTH_FAST_SPAN = 1000, HEALTH_DELAY_MAX = 100 };

static void health_attempt(struct instance *inst);

static void health_running(struct instance *inst)
{
	struct dea *dea = inst->dea;
	dew_info("instance %s of %s: RUNNING on port %d, %llu ms after its start message",
		 inst->msg->instance_id, inst->msg->name, inst->port,
		 (unsigned long long)(uv_now(dea->loop) - inst->start_begin_ms));
	instance_set_state(inst, INSTANCE_RUNNING);
	routes_register(inst);
	if (inst->logs)
		log_tail_publish_dea(inst->logs, "instance is running");
}

static void health_on_timer(uv_timer_t *t)
{
	health_attempt(t->data);
}

static void health_on_close(uv_handle_t *h)
{
	struct instance *inst = h->data;
	inst->probe_on = false;
	instance_handle_closed(h);
}

static void health_on_connect(uv_connect_t *req, int status)
{
	struct instance *inst = req->data;
	struct dea *dea = inst->dea;
	if (!uv_is_closing((uv_handle_t *)&inst->probe))
		uv_close((uv_handle_t *)&inst->probe, health_on_close);
	if (status == UV_ECANCELED || inst->state != INSTANCE_STARTING || inst->stop_reason != EXIT_NONE)
		return;
	if (status == 0) {
		health_running(inst);
		return;
	}
	if (uv_now(dea->loop) >= inst->health_deadline) {
		dea->n.health_timeouts++;
		free(inst->exit_description);
		inst->exit_description =
			xasprintf("health check timed out: nothing accepted connections on "
				  "port %d within %llu ms",
				  inst->port, (unsigned long long)dea->cfg.health_check_timeout_ms);
		dew_warn("instance %s of %s: %s", inst->msg->instance_id, inst->msg->name,
			 inst->exit_description);
		stop_instance(inst, EXIT_CRASHED);
		return;
	}
	uint64_t delay = HEALTH_DELAY_FAST;
	if (uv_now(dea->loop) - inst->health_started > HEALTH_FAST_SPAN) {
		delay = inst->health_delay;
		inst->health_delay = delay * 2 > HEALTH_DELAY_MAX ? HEALTH_DELAY_MAX : delay * 2;
	}
	uv_timer_start(&inst->timer, health_on_timer, delay, 0);
}

static void health_attempt(struct instance *inst)
{
	struct dea *dea = inst->dea;
	/* Host network: the app listens on the node's addresses, loopback included. */
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)inst->port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	uv_tcp_init(dea->loop, &inst->probe);
	inst->probe.data = inst;
	inst->probe_on = true;
	instance_handle_opened(inst);
	inst->probe_req.data = inst;
	int r = uv_tcp_connect(&inst->probe_req, &inst->probe, (const struct sockaddr *)&a,
			       health_on_connect);
	if (r < 0) {
		/* Could not even try (descriptors exhausted?): count it as a failed attempt. */
		uv_close((uv_handle_t *)&inst->probe, health_on_close);
		uv_timer_start(&inst->timer, health_on_timer, HEALTH_DELAY_MAX, 0);
	}
}

void health_start(struct instance *inst)
{
	struct dea *dea = inst->dea;
	const char *hc = inst->msg->health_check;
	if (!inst->msg->uris[0] || (hc && !strcmp(hc, "none"))) {
		health_running(inst);
		return;
	}
	inst->health_deadline = uv_now(dea->loop) + dea->cfg.health_check_timeout_ms;
	inst->health_started = uv_now(dea->loop);
	inst->health_delay = HEALTH_DELAY_FAST;
	health_attempt(inst);
}

void health_cancel(struct instance *inst)
{
	uv_timer_stop(&inst->timer);
	if (inst->probe_on && !uv_is_closing((uv_handle_t *)&inst->probe))
		uv_close((uv_handle_t *)&inst->probe, health_on_close);
}
