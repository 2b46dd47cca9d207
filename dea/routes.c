// SPDX-License-Identifier: MIT
/*
 * Routes of running instances (DESIGN.md section 5.1): router.register when an instance
 * becomes RUNNING and again every register interval (routers prune endpoints not refreshed
 * within their prune threshold), router.unregister before a stop or after an exit, all of
 * them again at once when a router (re)starts (router.start) or answers router.greet, and
 * dea.update {droplet, uris[]}: the instance's changed routes are registered and the removed
 * ones unregistered.
 */
#include <string.h>
#include <inttypes.h>

#include "alloc.h"
#include "dea.h"
#include "json.h"
#include "log.h"
#include "start.h"

enum { ROUTES_INTERVAL_MIN_S = 1, ROUTES_INTERVAL_MAX_S = 3600 };

static json_t *routes_message(const struct instance *inst, char *const *uris)
{
	const struct start_msg *m = inst->msg;
	json_t *a = json_array();
	for (size_t i = 0; uris && uris[i]; i++)
		json_array_append_new(a, json_string(uris[i]));
	cleanup_free char *component = xasprintf("dea-%s", inst->dea->id);
	return json_pack("{s:s, s:i, s:o, s:s, s:s, s:I, s:{s:s}, s:i}", "host", inst->dea->cfg.ip, "port",
			 inst->port, "uris", a, "app", m->droplet, "private_instance_id", m->instance_id,
			 "private_instance_index", (json_int_t)m->index, "tags", "component", component,
			 "stale_threshold_in_seconds", (int)inst->dea->cfg.route_stale_s);
}

static void routes_publish(struct instance *inst, const char *subject, char *const *uris)
{
	if (!uris || !uris[0])
		return;
	json_auto_t *m = routes_message(inst, uris);
	int r = dew_bus_publish_json(inst->dea->bus, subject, NULL, m);
	if (r < 0)
		dew_warn("publish %s: %s", subject, strerror(-r));
}

void routes_register(struct instance *inst)
{
	if (inst->state != INSTANCE_RUNNING)
		return;
	routes_publish(inst, "router.register", inst->msg->uris);
	inst->routes_registered = inst->msg->uris[0] != NULL;
}

void routes_unregister(struct instance *inst)
{
	if (!inst->routes_registered)
		return;
	routes_publish(inst, "router.unregister", inst->msg->uris);
	inst->routes_registered = false;
}

static void routes_register_all(struct dea *dea)
{
	for (struct instance *i = dea->instances; i; i = i->next)
		routes_register(i);
}

static void routes_on_timer(uv_timer_t *t)
{
	routes_register_all(t->data);
}

/* router.start and router.greet replies: re-register now, then at the router's interval. */
void routes_on_router_start(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	json_int_t interval = 0;
	if (body && dew_json_get_int(body, "minimumRegisterIntervalInSeconds", DEW_JSON_OPTIONAL,
				     ROUTES_INTERVAL_MIN_S, ROUTES_INTERVAL_MAX_S, &interval, NULL) == 0) {
		uint64_t ms = (uint64_t)interval * 1000;
		if (ms != dea->register_interval_ms) {
			dea->register_interval_ms = ms;
			uv_timer_start(&dea->register_timer, routes_on_timer, ms, ms);
		}
	}
	routes_register_all(dea);
}

static void routes_on_greet(struct dew_bus *bus, int status, const struct dew_bus_msg *msg, void *data)
{
	struct dea *dea = data;
	if (status != 0 || !msg)
		return; /* no router yet: its router.start will come */
	cleanup_error struct dew_error *err = NULL;
	json_auto_t *body = dew_json_parse(msg->data, msg->len, &err);
	if (body && json_is_object(body))
		routes_on_router_start(dea, msg, body);
}

void routes_greet(struct dea *dea)
{
	int64_t r = dew_bus_request(dea->bus, "router.greet", "", 0, 2000, false, routes_on_greet, dea);
	if (r < 0)
		dew_debug("router.greet: %s", strerror((int)-r));
}

void routes_start(struct dea *dea)
{
	uv_timer_init(dea->loop, &dea->register_timer);
	dea->register_timer.data = dea;
	dea->register_interval_ms = dea->cfg.register_interval_ms;
	uv_timer_start(&dea->register_timer, routes_on_timer, dea->register_interval_ms,
		       dea->register_interval_ms);
}

void routes_stop(struct dea *dea)
{
	if (!uv_is_closing((uv_handle_t *)&dea->register_timer))
		uv_close((uv_handle_t *)&dea->register_timer, NULL);
}

static bool routes_has(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (!strcmp(*v, s))
			return true;
	return false;
}

/* The uris of `a` that are not in `b` (borrowed strings, NULL-terminated; caller frees the array). */
static char **routes_minus(char *const *a, char *const *b)
{
	size_t n = 0;
	while (a && a[n])
		n++;
	char **out = xcalloc(n + 1, sizeof(*out));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!routes_has(b, a[i]))
			out[k++] = a[i];
	return out;
}

void routes_on_update(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	const char *droplet = NULL;
	char **uris = NULL;
	cleanup_error struct dew_error *err = NULL;
	if (!body || dew_json_get_string(body, "droplet", 0, START_ID_MAX, &droplet, &err) < 0 ||
	    dew_json_get_string_array(body, "uris", 0, START_ROUTES_MAX, START_ROUTE_MAX, &uris, &err) < 0) {
		dea_drop(dea, msg, body ? dew_error_msg(err) : "empty message");
		return;
	}
	/* The same rules as the uris of a start message: they reach the routers and instance.json,
	 * which re-adoption parses as a start message again. */
	for (size_t i = 0; uris[i]; i++)
		if (start_route_check(uris[i], i, &err) < 0) {
			dea_drop(dea, msg, dew_error_msg(err));
			dew_strv_free(uris);
			return;
		}
	for (struct instance *i = dea->instances; i; i = i->next) {
		if (strcmp(i->msg->droplet, droplet) != 0)
			continue;
		bool was_registered = i->routes_registered;
		if (was_registered) {
			cleanup_free char **gone = routes_minus(i->msg->uris, uris);
			cleanup_free char **added = routes_minus(uris, i->msg->uris);
			routes_publish(i, "router.unregister", gone);
			routes_publish(i, "router.register", added);
		}
		/* The instance keeps the new list (and so does instance.json, for re-adoption). */
		char **copy = xcalloc(START_ROUTES_MAX + 1, sizeof(*copy));
		for (size_t k = 0; uris[k]; k++)
			copy[k] = xstrdup(uris[k]);
		dew_strv_free(i->msg->uris);
		i->msg->uris = copy;
		json_auto_t *j = json_loads(i->msg_json, 0, NULL);
		if (j) {
			json_t *a = json_array();
			for (size_t k = 0; uris[k]; k++)
				json_array_append_new(a, json_string(uris[k]));
			json_object_set_new(j, "uris", a);
			free(i->msg_json);
			i->msg_json = dew_json_dumps(j);
		}
		if (was_registered)
			i->routes_registered = uris[0] != NULL;
		else
			routes_register(i);
		instance_persist(i);
		dew_info("dea.update: instance %s of %s now has %zu route(s)", i->msg->instance_id,
			 i->msg->name, (size_t)json_array_size(json_object_get(body, "uris")));
	}
	dew_strv_free(uris);
}
