// SPDX-License-Identifier: MIT
/*
 * The DEA's capacity on the bus (DESIGN.md section 5.1): dea.advertise at boot, on every
 * (re)connect, every advertise_interval, after each change of its reservations and when asked
 * by dea.locate; answers to dea.status and vcap.component.discover. An evacuating DEA stops
 * advertising, so controllers place nothing more on it. A DEA that stages also advertises the
 * buildpacks of its stacks dir, read once at start.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "dea.h"
#include "json.h"
#include "log.h"
#include "start.h"
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

/* Instances that count for placement (starting or running) per app id. */
static json_t *advertise_app_counts(const struct dea *dea)
{
	json_t *counts = json_object();
	for (const struct instance *i = dea->instances; i; i = i->next) {
		if (i->state != INSTANCE_STARTING && i->state != INSTANCE_RUNNING)
			continue;
		json_t *c = json_object_get(counts, i->msg->droplet);
		json_object_set_new(counts, i->msg->droplet, json_integer(c ? json_integer_value(c) + 1 : 1));
	}
	return counts;
}

enum {
	ADVERTISE_BUILDPACKS_MAX = 64, /* what the controller accepts per DEA (deapool.c) */
	ADVERTISE_BUILDPACK_NAME_MAX = 64,
};

static int advertise_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A buildpack's directory name as the controller accepts it: 1-64 of [A-Za-z0-9._-], not
 * starting with a dot. */
static bool advertise_buildpack_name_ok(const char *name)
{
	size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
	return n > 0 && name[n] == '\0' && n <= ADVERTISE_BUILDPACK_NAME_MAX && name[0] != '.';
}

char **advertise_scan_buildpacks(const char *stacks_dir)
{
	cleanup_free char *dir = xasprintf("%s/buildpacks", stacks_dir);
	char **v = xcalloc(ADVERTISE_BUILDPACKS_MAX + 1, sizeof(*v));
	size_t n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		dew_warn("buildpacks: cannot read %s: %s; advertising none", dir, strerror(errno));
		return v;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (!advertise_buildpack_name_ok(e->d_name))
			continue;
		/* A buildpack is a directory with bin/detect (the driver `stage` next to them is not). */
		cleanup_free char *detect = xasprintf("%s/%s/bin/detect", dir, e->d_name);
		if (access(detect, R_OK) != 0)
			continue;
		if (n == ADVERTISE_BUILDPACKS_MAX) {
			dew_warn("buildpacks: more than %d in %s; advertising 64 of them",
				 ADVERTISE_BUILDPACKS_MAX, dir);
			break;
		}
		v[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), advertise_cmp);
	return v;
}

void advertise_publish(struct dea *dea)
{
	if (!dea->bus_connected || dea->evacuating || dea->shutting_down)
		return;
	json_auto_t *m = json_pack(
		"{s:s, s:o, s:I, s:I, s:o, s:o, s:o}", "id", dea->id, "stacks",
		advertise_strv_json(dea->stacks), "available_memory",
		advertise_mb(dea->cfg.max_memory) - (json_int_t)dea->reserved_mb, "available_disk",
		advertise_mb(dea->cfg.max_disk) - (json_int_t)dea->reserved_disk_mb, "app_id_to_count",
		advertise_app_counts(dea), "placement_tags", advertise_strv_json(dea->placement_tags),
		"buildpacks", advertise_strv_json(dea->buildpacks));
	int r = dew_bus_publish_json(dea->bus, "dea.advertise", NULL, m);
	if (r < 0)
		dew_warn("publish dea.advertise: %s", strerror(-r));
	else
		dea->n.advertisements++;
}

char *advertise_uptime(const struct dea *dea)
{
	uint64_t s = (uv_now(dea->loop) - dea->start_ms) / 1000;
	return xasprintf("%" PRIu64 "d:%" PRIu64 "h:%" PRIu64 "m:%" PRIu64 "s", s / 86400, s / 3600 % 24,
			 s / 60 % 60, s % 60);
}

/* A controller (re)connected: it learns the DEA's room and, from the heartbeat, its instances. */
void advertise_on_locate(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	advertise_publish(dea);
	heartbeat_publish(dea);
}

void advertise_on_status(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	cleanup_free char *uptime = advertise_uptime(dea);
	json_t *states = json_object();
	for (const struct instance *i = dea->instances; i; i = i->next) {
		const char *name = instance_state_name(i->state);
		json_t *c = json_object_get(states, name);
		json_object_set_new(states, name, json_integer(c ? json_integer_value(c) + 1 : 1));
	}
	/* Usage next to the reservations: what the running instances' containers use now. */
	uint64_t used = instance_used_memory(dea);
	json_auto_t *m =
		json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s, s:b}", "id", dea->id, "ip",
			  dea->cfg.ip, "stacks", advertise_strv_json(dea->stacks), "max_memory",
			  advertise_mb(dea->cfg.max_memory), "max_disk", advertise_mb(dea->cfg.max_disk),
			  "reserved_memory", (json_int_t)dea->reserved_mb, "reserved_disk",
			  (json_int_t)dea->reserved_disk_mb, "used_memory", advertise_mb(used),
			  "num_instances", (json_int_t)dea->n_instances, "instances_by_state", states,
			  "uptime", uptime, "evacuating", dea->evacuating);
	dea_reply(dea, msg, m);
}

void advertise_on_discover(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	cleanup_free char *uptime = advertise_uptime(dea);
	int port = dea->daemon.status ? dew_status_port(dea->daemon.status) : 0;
	cleanup_free char *host = xasprintf("%s:%d", dea->cfg.ip, port);
	json_auto_t *m = json_pack("{s:s, s:i, s:s, s:s, s:s}", "type", "DEA", "index", 0, "uuid", dea->id,
				   "host", host, "uptime", uptime);
	dea_reply(dea, msg, m);
}

static void advertise_on_timer(uv_timer_t *t)
{
	advertise_publish(t->data);
}

void advertise_start(struct dea *dea)
{
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
