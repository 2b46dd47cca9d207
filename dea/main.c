// SPDX-License-Identifier: MIT
/*
 * dew-dea: the droplet execution agent (dew-dea(8)). Options, config, the loop and signals;
 * the bus presence is in advertise.c and heartbeat.c. Starting instances and staging are not
 * wired in yet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dea.h"
#include "fs.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "random.h"

static const struct dew_conf_key dea_keys[] = {
	DEW_DAEMON_CORE_KEYS(struct dea_config, "127.0.0.1:0", "127.0.0.1:9023"),
	{ "id", DEW_CONF_STRING, offsetof(struct dea_config, id), NULL, 0, 0, NULL,
	  "this DEA's id (default: generated once, kept in <state_dir>/dea-id)" },
	{ "ip", DEW_CONF_STRING, offsetof(struct dea_config, ip), "127.0.0.1", 0, 0, NULL,
	  "host IP advertised for this DEA's instances and status" },
	{ "max_memory", DEW_CONF_SIZE, offsetof(struct dea_config, max_memory), "4G", 1 << 20, INT64_MAX,
	  NULL, "memory offered to instances (advertised in MB)" },
	{ "max_disk", DEW_CONF_SIZE, offsetof(struct dea_config, max_disk), "16G", 1 << 20, INT64_MAX, NULL,
	  "disk offered to instances (advertised in MB)" },
	{ "stacks", DEW_CONF_STRING, offsetof(struct dea_config, stacks), "host", 0, 0, NULL,
	  "stacks this DEA runs, comma-separated" },
	{ "placement_tags", DEW_CONF_STRING, offsetof(struct dea_config, placement_tags), NULL, 0, 0, NULL,
	  "placement tags, comma-separated" },
	{ "base_dir", DEW_CONF_STRING, offsetof(struct dea_config, base_dir), "/var/lib/dew/dea", 0, 0, NULL,
	  "droplets and instance directories" },
	{ "state_dir", DEW_CONF_STRING, offsetof(struct dea_config, state_dir), "/run/dew/dea", 0, 0, NULL,
	  "the DEA's state (its id)" },
	{ "advertise_interval", DEW_CONF_DURATION, offsetof(struct dea_config, advertise_interval_ms), "5s",
	  10, 3600000, NULL, "interval of dea.advertise" },
	{ "heartbeat_interval", DEW_CONF_DURATION, offsetof(struct dea_config, heartbeat_interval_ms), "5s",
	  10, 3600000, NULL, "interval of dea.heartbeat" },
};

static const struct dew_daemon_info dea_info = {
	.name = "dew-dea",
	.section = "dea",
	.summary = "The dew droplet execution agent (so far: its presence on the bus).",
	.keys = dea_keys,
	.n_keys = DEW_ARRAY_SIZE(dea_keys),
	.uses_bus = true,
};

/* A comma list as a NULL-terminated vector, blanks around items and empty items dropped. */
static char **main_split(const char *list)
{
	size_t n = 0;
	char **v = xcalloc(1, sizeof(*v));
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *s = p;
		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len) {
			v = xreallocarray(v, n + 2, sizeof(*v));
			v[n++] = xstrndup(s, len);
			v[n] = NULL;
		}
		p = end ? end + 1 : p + strlen(p);
	}
	return v;
}

/* The id becomes a subject token (dea.<id>.start): letters, digits, '-' and '_' only. */
static bool main_id_valid(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > DEA_MAX_ID_LEN)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == len;
}

/* The explicit id, else the one in <state_dir>/dea-id, else a new one stored there. */
static int main_resolve_id(struct dea *dea, struct dew_error **err)
{
	if (dea->cfg.id) {
		if (!main_id_valid(dea->cfg.id))
			return dew_error_set(err, 0, "id `%s`: use up to %d letters, digits, '-' or '_'",
					     dea->cfg.id, DEA_MAX_ID_LEN);
		dea->id = xstrdup(dea->cfg.id);
		return 0;
	}
	if (dew_mkdir_p(dea->cfg.state_dir, 0755, err) < 0)
		return dew_error_prefix(err, "state_dir");
	cleanup_free char *path = xasprintf("%s/dea-id", dea->cfg.state_dir);
	cleanup_free char *data = NULL;
	size_t len = 0;
	cleanup_error struct dew_error *rerr = NULL;
	if (dew_read_file(path, 4096, &data, &len, &rerr) == 0) {
		while (len && (data[len - 1] == '\n' || data[len - 1] == ' '))
			data[--len] = '\0';
		if (!main_id_valid(data))
			return dew_error_set(err, 0, "%s holds no valid id; remove it to get a new one",
					     path);
		dea->id = steal_pointer(&data);
		return 0;
	}
	char uuid[DEW_UUID_LEN + 1];
	dew_uuid4(uuid);
	cleanup_free char *text = xasprintf("%s\n", uuid);
	if (dew_write_file_atomic(path, text, strlen(text), 0644, err) < 0)
		return -EIO;
	dew_notice("new DEA id %s stored in %s", uuid, path);
	dea->id = xstrdup(uuid);
	return 0;
}

static void main_metrics(struct dew_buf *out, void *data)
{
	struct dea *dea = data;
	dew_metrics_gauge(out, "dew_dea_instances", "Instances on this DEA.", 0);
	dew_metrics_counter(out, "dew_dea_advertisements_total", "dea.advertise messages published.",
			    dea->advertisements);
	dew_metrics_counter(out, "dew_dea_heartbeats_total", "dea.heartbeat messages published.",
			    dea->heartbeats);
	dew_metrics_counter(out, "dew_dea_dropped_messages_total", "Malformed bus messages dropped.",
			    dea->dropped_messages);
	dew_metrics_gauge(out, "dew_dea_bus_connected", "1 while connected to the bus.", dea->bus_connected);
}

static void main_stop(struct dew_daemon *d, int signum)
{
	struct dea *dea = d->data;
	advertise_stop(dea);
	heartbeat_stop(dea);
	dew_bus_close(dea->bus);
	dew_http_server_stop(dea->http, NULL, NULL);
	dew_daemon_close(d);
}

static int main_start(struct dea *dea, struct dew_error **err)
{
	cleanup_free char *host = NULL;
	int port;
	if (dew_parse_hostport(dea->cfg.core.listen, &host, &port) < 0)
		return dew_error_set(err, 0, "listen: expected HOST:PORT, got `%s`", dea->cfg.core.listen);
	if (dew_mkdir_p(dea->cfg.base_dir, 0755, err) < 0)
		return dew_error_prefix(err, "base_dir");
	/* The main listener will be the file server; for now every path answers 404. */
	if (dew_http_server_start(&dea->http, dea->loop, host, port, NULL, 0, NULL, dea, err) < 0)
		return -EIO;
	const struct dew_bus_options bo = {
		.servers = dea->cfg.core.bus,
		.name = "dew-dea",
		.on_event = advertise_on_bus_event,
		.data = dea,
	};
	if (dew_bus_new(&dea->bus, dea->loop, &bo, err) < 0)
		return -EIO;
	advertise_start(dea);
	heartbeat_start(dea);
	return dew_daemon_ready(&dea->daemon, dew_http_server_port(dea->http), err);
}

int main(int argc, char **argv)
{
	struct dea dea = { 0 };
	cleanup_error struct dew_error *err = NULL;

	int r = dew_daemon_parse_args(&dea.daemon, &dea_info, &dea.cfg, &dea.cfg.core, argc, argv, &err);
	if (r == DEW_DAEMON_EXIT)
		return 0;
	if (r < 0) {
		fprintf(stderr, "dew-dea: %s\n", dew_error_msg(err));
		return 2;
	}
	dea.stacks = main_split(dea.cfg.stacks);
	dea.placement_tags = main_split(dea.cfg.placement_tags);
	if (!dea.stacks[0]) {
		fprintf(stderr, "dew-dea: stacks: name at least one stack\n");
		r = 2;
		goto out;
	}
	if (!dea.cfg.ip) {
		fprintf(stderr, "dew-dea: ip: must not be empty\n");
		r = 2;
		goto out;
	}
	dea.daemon.data = &dea;
	dea.daemon.on_stop = main_stop;
	dea.loop = uv_default_loop();
	dea.start_ms = uv_now(dea.loop);

	const struct dew_status_source src = { .metrics = main_metrics, .data = &dea };
	if (dew_daemon_start(&dea.daemon, dea.loop, &src, &err) < 0 || main_resolve_id(&dea, &err) < 0 ||
	    main_start(&dea, &err) < 0) {
		dew_err("%s", dew_error_msg(err));
		r = 1;
		goto out;
	}
	dew_notice("DEA %s at %s: stacks %s, %llu MB of memory", dea.id, dea.cfg.ip, dea.cfg.stacks,
		   (unsigned long long)(dea.cfg.max_memory >> 20));
	uv_run(dea.loop, UV_RUN_DEFAULT);
	uv_loop_close(dea.loop);
	dew_info("stopped");
	r = 0;
out:
	dew_strv_free(dea.stacks);
	dew_strv_free(dea.placement_tags);
	free(dea.id);
	dew_daemon_free(&dea.daemon);
	return r;
}
