/* SPDX-License-Identifier: MIT */
/*
 * The skeleton every daemon shares (DESIGN.md section 2): the core options and their dew.conf
 * keys, command-line parsing in which every config key is also a flag, logging set-up, signal
 * handling (SIGTERM/SIGINT stop, SIGHUP reload), the status listener, and readiness
 * (--port-file, --ready-file, sd_notify READY=1 and the watchdog).
 */
#ifndef DEW_DAEMON_H
#define DEW_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "error.h"
#include "status.h"

/* The core options; a daemon embeds this as the member `core` of its config struct. */
struct dew_daemon_core {
	char *bus;		       /* nats://host:port[,…] (not used by dew-bus) */
	uint64_t bus_ping_interval_ms; /* the bus client's keepalive (dew_bus_options) */
	char *listen;		       /* main listener HOST:PORT */
	char *status_listen;	       /* /health + /metrics HOST:PORT; "" disables it */
	int log_format;		       /* enum dew_log_format */
	int log_level;		       /* index into dew_daemon_log_levels */
	char *port_file;	       /* write the main port here once bound */
	char *status_port_file;	       /* write the status port here once bound */
	char *ready_file;	       /* created once the daemon serves */
};

extern const char *const dew_daemon_log_formats[];
extern const char *const dew_daemon_log_levels[];

/*
 * The core keys, to put at the top of a daemon's key table. type is the daemon's config
 * struct, which has a `struct dew_daemon_core core` member; listen and status are defaults.
 */
#define DEW_DAEMON_CORE_KEYS(type, def_listen, def_status)                                                   \
	{ "bus",                                                                                             \
	  DEW_CONF_STRING,                                                                                   \
	  offsetof(type, core.bus),                                                                          \
	  "nats://127.0.0.1:4222",                                                                           \
	  0,                                                                                                 \
	  0,                                                                                                 \
	  NULL,                                                                                              \
	  "bus server URLs, comma-separated" },                                                              \
		{ "bus_ping_interval",                                                                       \
		  DEW_CONF_DURATION,                                                                         \
		  offsetof(type, core.bus_ping_interval_ms),                                                 \
		  "2m",                                                                                      \
		  100,                                                                                       \
		  3600000,                                                                                   \
		  NULL,                                                                                      \
		  "bus keepalive PING interval; a server missing 2 is dead" },                               \
		{ "listen",                                                                                  \
		  DEW_CONF_HOSTPORT,                                                                         \
		  offsetof(type, core.listen),                                                               \
		  def_listen,                                                                                \
		  0,                                                                                         \
		  0,                                                                                         \
		  NULL,                                                                                      \
		  "main listener HOST:PORT (port 0 picks a free port)" },                                    \
		{ "status_listen",                                                                           \
		  DEW_CONF_STRING,                                                                           \
		  offsetof(type, core.status_listen),                                                        \
		  def_status,                                                                                \
		  0,                                                                                         \
		  0,                                                                                         \
		  NULL,                                                                                      \
		  "/health and /metrics listener HOST:PORT; empty disables it" },                            \
		{ "log_format",		  DEW_CONF_ENUM, offsetof(type, core.log_format), "text", 0, 0,      \
		  dew_daemon_log_formats, "text or json" },                                                  \
		{ "log_level", DEW_CONF_ENUM,	      offsetof(type, core.log_level),	      "info", 0,     \
		  0,	       dew_daemon_log_levels, "error, warning, notice, info or debug" },             \
		{ "port_file",                                                                               \
		  DEW_CONF_STRING,                                                                           \
		  offsetof(type, core.port_file),                                                            \
		  NULL,                                                                                      \
		  0,                                                                                         \
		  0,                                                                                         \
		  NULL,                                                                                      \
		  "write the bound main port to this file" },                                                \
		{ "status_port_file",                                                                        \
		  DEW_CONF_STRING,                                                                           \
		  offsetof(type, core.status_port_file),                                                     \
		  NULL,                                                                                      \
		  0,                                                                                         \
		  0,                                                                                         \
		  NULL,                                                                                      \
		  "write the bound status port to this file" },                                              \
	{                                                                                                    \
		"ready_file", DEW_CONF_STRING, offsetof(type, core.ready_file), NULL, 0, 0, NULL,            \
			"create this file once the daemon is ready"                                          \
	}

/* What a daemon tells the skeleton about itself. */
struct dew_daemon_info {
	const char *name;    /* "dew-bus" */
	const char *section; /* its dew.conf section: "bus" */
	const char *summary; /* one line for --help */
	const struct dew_conf_key *keys;
	size_t n_keys;
	bool uses_bus; /* false: the `bus` keys are not offered as --bus and --bus-ping-interval */
};

struct dew_daemon;

/* Called on SIGTERM/SIGINT: the daemon closes its handles so the loop ends. */
typedef void (*dew_daemon_stop_fn)(struct dew_daemon *d, int signum);
/* Called on SIGHUP; NULL means "nothing to reload" (logged). */
typedef void (*dew_daemon_reload_fn)(struct dew_daemon *d);

struct dew_daemon {
	const struct dew_daemon_info *info;
	void *cfg;		      /* the daemon's config struct */
	struct dew_daemon_core *core; /* inside cfg */
	uv_loop_t *loop;
	char *config_path; /* the file read, or NULL */
	dew_daemon_stop_fn on_stop;
	dew_daemon_reload_fn on_reload;
	void *data; /* the daemon's own context */
	struct dew_status *status;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t watchdog;
	bool watchdog_on;
	bool stopping;
	bool closed;
};

enum dew_daemon_parse_result {
	DEW_DAEMON_RUN = 0,  /* go on */
	DEW_DAEMON_EXIT = 1, /* --help, --version or --print-config handled: exit 0 */
};

/*
 * Apply defaults, then the config file (-c FILE, else /etc/dew/dew.conf when it exists), then
 * the command line: -o KEY=VALUE and --KEY VALUE for every key (underscores as dashes; --KEY
 * and --no-KEY for booleans); flags win over the file whatever their order. Also -h/--help,
 * --version, --print-config. Returns DEW_DAEMON_RUN, DEW_DAEMON_EXIT, or a negative errno with
 * *err set (a usage error: exit 2). cfg must be zeroed. On anything but DEW_DAEMON_RUN the
 * config is already released (dew_daemon_free), so the caller just exits.
 */
int dew_daemon_parse_args(struct dew_daemon *d, const struct dew_daemon_info *info, void *cfg,
			  struct dew_daemon_core *core, int argc, char **argv, struct dew_error **err);

/*
 * Set up logging from the core options, signal handlers on loop, the watchdog, and the status
 * listener (src may be NULL). Call after parse_args.
 */
int dew_daemon_start(struct dew_daemon *d, uv_loop_t *loop, const struct dew_status_source *src,
		     struct dew_error **err);

/* Announce readiness: write the port files (port < 0: none), the ready file, sd_notify READY=1. */
int dew_daemon_ready(struct dew_daemon *d, int port, struct dew_error **err);

/* Close the skeleton's handles (signals, watchdog, status listener); safe to call twice. */
void dew_daemon_close(struct dew_daemon *d);

/* Release the config (strings) and paths; after the loop has ended. */
void dew_daemon_free(struct dew_daemon *d);

#endif
