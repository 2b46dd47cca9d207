/* SPDX-License-Identifier: MIT */
/*
 * dew-dea's context, shared by its files: the configuration, the bus client, the runtime, the
 * instance registry, the timers and counters. Everything here runs on the daemon's one loop
 * thread except the blocking half of a start (launch.c), which runs on libuv's thread pool and
 * touches only its own instance's private fields.
 *
 *   main.c         options, config, signals (stop, shutdown, evacuation), /metrics
 *   dispatch.c     the bus subjects, bounded and parsed, routed to their handlers
 *   advertise.c    dea.advertise, dea.locate, dea.status, vcap.component.discover
 *   heartbeat.c    dea.heartbeat
 *   instance.c     the registry, states, accounting, instance.json, JSON views
 *   launch.c       dea.<id>.start: reserve, download, unpack, create the container
 *   health.c       the TCP health check that makes an instance RUNNING
 *   exit.c         watching the container's monitor, droplet.exited, crash retention
 *   stop.c         dea.stop and stopping instances (requested, shutdown, evacuation)
 *   routes.c       router.register/unregister, router.start, router.greet, dea.update
 *   find.c         dea.find.droplet
 *   adopt.c        re-adopting running containers after a DEA restart
 * and libdea, each part with its own unit or integration test:
 *   start.c        start messages and the instance environment
 *   droplet-cache.c, fetch.c   droplets by hash over HTTP (libcurl)
 *   logs.c         an instance's log files onto logs.<app>
 *   files.c        the file server and its tokens
 *   stage.c        staging requests (queue group `staging`)
 */
#ifndef DEA_DEA_H
#define DEA_DEA_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus-client.h"
#include "daemon.h"
#include "dewrt.h"
#include "files.h"
#include "stack.h"

struct droplet_cache;
struct log_tail;
struct stager;
struct start_msg;

enum {
	DEA_MAX_ID_LEN = 64,	     /* the id is a subject token (dea.<id>.start) */
	DEA_MAX_REQUEST = 64 * 1024, /* larger request payloads are dropped unparsed */
};

/* What the DEA does with its instances when SIGTERM or SIGINT stops it. */
enum dea_shutdown_mode {
	DEA_SHUTDOWN_STOP, /* stop every instance (reason DEA_SHUTDOWN), then exit */
	DEA_SHUTDOWN_KEEP, /* exit and leave them running: the next DEA re-adopts them */
};

/* Section [dea] of dew.conf. */
struct dea_config {
	struct dew_daemon_core core;
	char *id;
	char *ip;
	uint64_t max_memory; /* bytes */
	uint64_t max_disk;   /* bytes */
	char *stacks;	     /* comma list */
	char *stacks_dir;
	char *placement_tags;
	char *base_dir;
	char *state_dir;
	char *runtime_root;
	uint64_t advertise_interval_ms;
	uint64_t heartbeat_interval_ms;
	uint64_t register_interval_ms;
	int64_t route_stale_s;
	int64_t port_min, port_max;
	uint64_t health_check_timeout_ms;
	uint64_t stop_timeout_ms;
	uint64_t crash_retention_ms;
	uint64_t droplet_cache_size; /* bytes */
	uint64_t download_timeout_ms;
	int64_t log_rate;
	int64_t pids_limit;
	int shutdown_mode; /* enum dea_shutdown_mode */
	uint64_t evacuation_delay_ms;
	char *files_secret;
	uint64_t files_token_ttl_ms;
	uint64_t staging_timeout_ms;
	int64_t staging_concurrency;
};

/* Cloud Foundry's DEA instance states. */
enum instance_state {
	INSTANCE_STARTING,
	INSTANCE_RUNNING,
	INSTANCE_STOPPING,
	INSTANCE_STOPPED,
	INSTANCE_CRASHED,
	INSTANCE_DELETED,
};

/* Why an instance ended: the droplet.exited reason. */
enum instance_exit_reason {
	EXIT_NONE,
	EXIT_STOPPED,	     /* dea.stop */
	EXIT_CRASHED,	     /* not requested */
	EXIT_DEA_SHUTDOWN,   /* the DEA stops */
	EXIT_DEA_EVACUATION, /* the DEA is being drained */
};

struct dea;

struct instance {
	struct dea *dea;
	struct instance *next; /* the registry's list */
	struct start_msg *msg; /* what the controller asked for */
	char *msg_json;	       /* its text, kept in instance.json for re-adoption */
	char *dir;	       /* <base_dir>/instances/<id> */
	char *app_dir;	       /* <dir>/app (the droplet's app/, beside logs/; the rest in <dir>/droplet) */
	char *log_dir;	       /* <dir>/logs */
	int port;
	enum instance_state state;
	double state_ts;	  /* Unix seconds of the last state change */
	int64_t started_at;	  /* Unix seconds */
	uint64_t mem_mb, disk_mb; /* reserved while it counts against capacity */
	bool reserved;
	bool routes_registered;
	bool working;			       /* the blocking half of the start is on a worker thread */
	bool adopted;			       /* found running when this DEA process started */
	enum instance_exit_reason stop_reason; /* set when a stop was requested */
	/* exit */
	int exit_status;
	char *exit_description;
	double crash_ts;
	uint64_t start_begin_ms; /* uv_now when the start message arrived (for the bench log) */
	/* handles; `handles` counts the open ones so the instance is freed after the last close */
	int pidfd;
	uv_poll_t exit_poll;
	bool exit_poll_on;
	uv_timer_t timer; /* health check backoff, stop grace, crash retention */
	uv_tcp_t probe;
	bool probe_on;
	uint64_t health_deadline;
	uint64_t health_delay;
	uint64_t health_started;
	int handles;
	struct log_tail *logs;
	/* launch.c's worker: inputs and results */
	uv_work_t work;
	struct dew_error *work_err;
	pid_t monitor_pid;
	bool droplet_hit;
	/* find.c: the previous CPU sample, for usage.cpu */
	uint64_t cpu_last_ns, cpu_last_ms;
	bool evacuation_reported;
	uv_connect_t probe_req;
};

struct dea_counters {
	uint64_t advertisements, heartbeats, dropped_messages;
	uint64_t starts, start_failures, refused, crashes, oom_kills, stops;
	uint64_t health_timeouts;
};

struct dea {
	struct dew_daemon daemon;
	struct dea_config cfg;
	uv_loop_t *loop;
	struct dew_bus *bus;
	struct dew_http_server *http; /* the file server */
	struct files_ctx files;
	char *files_secret;    /* owned */
	char *id;	       /* owned */
	char **stacks;	       /* NULL-terminated, owned */
	char **placement_tags; /* NULL-terminated, owned; may be empty */
	char **buildpacks;     /* offered for staging: NULL-terminated, owned; NULL when not staging */
	struct dew_stack **stack_defs; /* loaded, parallel to stacks */
	char *instances_dir;	       /* <base_dir>/instances */
	struct dewrt_context rt;
	pthread_mutex_t rt_lock; /* one create at a time: it compiles the context's seccomp filter once */
	struct droplet_cache *droplets;
	struct stager *stager;
	char *stage_work_dir;
	uint64_t start_ms; /* uv_now at start, for uptime */
	uv_timer_t advertise_timer;
	uv_timer_t heartbeat_timer;
	uv_timer_t shutdown_timer;
	uv_timer_t register_timer;
	uint64_t register_interval_ms;
	bool bus_connected;
	bool evacuating; /* SIGUSR2: no advertising, instances reported DEA_EVACUATION */
	bool shutting_down;
	bool handles_ready; /* main_start initialised every handle main_close closes */
	uv_signal_t sig_usr2;
	struct instance *instances;
	size_t n_instances;
	uint64_t reserved_mb, reserved_disk_mb;
	int next_port;
	struct dea_counters n;
	uint64_t drop_log_ms;	 /* when the last dropped message was logged */
	uint64_t drops_unlogged; /* dropped since then without a log line */
};

/* main.c */

/* While shutting down: exit once no instance is left. */
void dea_shutdown_check(struct dea *dea);

/* advertise.c */

/* Start the advertise timer. */
void advertise_start(struct dea *dea);
void advertise_stop(struct dea *dea);
/* Publish dea.advertise now (skipped while disconnected, evacuating or shutting down). */
void advertise_publish(struct dea *dea);
/* Uptime as Cloud Foundry's components report it: "<d>d:<h>h:<m>m:<s>s"; the caller frees it. */
char *advertise_uptime(const struct dea *dea);
/* The buildpacks of stacks_dir (<stacks_dir>/buildpacks/<name>/bin/detect), sorted, at most 64;
 * an unreadable directory is logged and gives none. NULL-terminated, the caller frees it
 * (dew_strv_free). */
char **advertise_scan_buildpacks(const char *stacks_dir);
void advertise_on_locate(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);
void advertise_on_status(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);
void advertise_on_discover(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);

/* dispatch.c */

/* Subscribe to every subject the DEA handles (dea.<id>.start included). */
void dispatch_subscribe(struct dea *dea);
/* The bus client's event callback: tracks the connection; advertises, heartbeats and greets
 * the routers on each (re)connect. */
void dispatch_on_bus_event(struct dew_bus *bus, enum dew_bus_event ev, const char *detail, void *data);
/* Publish reply on msg's reply subject (nothing without one). */
void dea_reply(struct dea *dea, const struct dew_bus_msg *msg, const json_t *reply);
/* Count and log a message dropped for a reason. */
void dea_drop(struct dea *dea, const struct dew_bus_msg *msg, const char *why);

/* heartbeat.c */

void heartbeat_start(struct dea *dea);
void heartbeat_stop(struct dea *dea);
/* Publish a full dea.heartbeat now (skipped while the bus is disconnected). */
void heartbeat_publish(struct dea *dea);
void heartbeat_on_hm_start(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);

/* instance.c */

const char *instance_state_name(enum instance_state s);
const char *instance_reason_name(enum instance_exit_reason r);
/* Parse a state name ("RUNNING"); -1 when unknown. */
int instance_state_parse(const char *name);
/* Unix time now, with milliseconds. */
double instance_now(void);
struct instance *instance_find(struct dea *dea, const char *instance_id);
/* A new instance for msg (taking msg and msg_json) in the registry, STARTING, not reserved. */
struct instance *instance_new(struct dea *dea, struct start_msg *msg, char *msg_json);
/* Change state, stamp it, persist it and publish a heartbeat. */
void instance_set_state(struct instance *inst, enum instance_state s);
/* Take / give back the instance's memory and disk from the DEA's capacity; advertises. */
bool instance_reserve(struct instance *inst);
void instance_unreserve(struct instance *inst);
/* Write <dir>/instance.json (start message, port, state); errors are logged. */
void instance_persist(struct instance *inst);
/* Remove from the registry, close its handles and free it once they are closed; removes the
 * instance directory when remove_dir. */
void instance_destroy(struct instance *inst, bool remove_dir);
/* The heartbeat entry {droplet, version, instance, index, state, state_timestamp}. */
json_t *instance_heartbeat_json(const struct instance *inst);
/* Bytes of memory the running instances' cgroups use now (no disk walk: cheap per scrape). */
uint64_t instance_used_memory(struct dea *dea);
/* Publish the instance's log lines on logs.<app> (from the files' start, or their end). */
void instance_follow_logs(struct instance *inst, bool from_start);
/* Count a handle as open (instance_destroy waits for each to close). */
void instance_handle_opened(struct instance *inst);
/* Drop what instance_handle_opened counted (a handle closed, a worker done). */
void instance_unref(struct instance *inst);
/* uv_close callback for the instance's handles. */
void instance_handle_closed(uv_handle_t *h);
/* The file server's lookup. */
const char *instance_dir_of(void *data, const char *instance_id);

/* launch.c */

void launch_on_start(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);
/* Allocate a port for a new instance (not used by another instance and bindable); -1 none. */
int launch_port(struct dea *dea);
/* The container (dewrt) id of an instance. */
const char *launch_container_id(const struct instance *inst);

/* health.c */

/* Start the health check: RUNNING on the first accepted TCP connection, or at once without
 * routes or with health_check "none"; on timeout the instance is stopped as CRASHED. */
void health_start(struct instance *inst);
void health_cancel(struct instance *inst);

/* exit.c */

/* Watch the container's monitor: its exit means the container stopped. 0 or -errno. */
int exit_watch(struct instance *inst, pid_t monitor_pid);
/* The instance ended (exit or failed start): classify, report, clean up. st may be NULL
 * (description then says why). */
void exit_finish(struct instance *inst, const struct dewrt_state *st, const char *description);
/* Keep a crashed instance's directory for crash_retention, then remove it. */
void exit_retain(struct instance *inst);
/* Publish droplet.exited for inst. */
void exit_publish(struct instance *inst, enum instance_exit_reason reason);

/* stop.c */

/* The filters of dea.stop and dea.find.droplet: droplet, version?, instances?[], indices?[],
 * states?[] (borrowed from the message); every filter given must match. */
struct stop_filter {
	const char *droplet, *version;
	json_t *instances, *indices, *states;
};
int stop_filter_parse(const json_t *body, struct stop_filter *f, struct dew_error **err);
bool stop_filter_match(const struct stop_filter *f, const struct instance *inst);

void stop_on_stop(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);
/* Stop an instance for reason: unregister routes, SIGTERM, SIGKILL after stop_timeout. */
void stop_instance(struct instance *inst, enum instance_exit_reason reason);
/* Stop every instance for reason. */
void stop_all(struct dea *dea, enum instance_exit_reason reason);

/* routes.c */

void routes_register(struct instance *inst);
void routes_unregister(struct instance *inst);
/* Start / close the periodic re-registration timer. */
void routes_start(struct dea *dea);
void routes_stop(struct dea *dea);
/* Ask routers for their register interval (router.greet); they answer like router.start. */
void routes_greet(struct dea *dea);
void routes_on_router_start(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);
void routes_on_update(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);

/* find.c */

void find_on_find_droplet(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body);

/* adopt.c */

/* Re-adopt the instances of <base_dir>/instances: running containers are watched and
 * re-registered; those that ended meanwhile are reported CRASHED. Called once at boot. */
void adopt_all(struct dea *dea);

#endif
