// SPDX-License-Identifier: MIT
/*
 * dea.<id>.start: check that the instance fits (stack, memory, disk, a port), reserve it, then
 * on a worker thread fetch the droplet through the cache, unpack it into the instance's
 * directory and create and start its container with the stack, the limits and the instance
 * environment (start.h). Back on the loop the container's monitor is watched (exit.c), its logs
 * followed (logs.h) and the health check begins (health.c).
 *
 * The app does not run as the container's pid 1: a small shell wrapper is pid 1 and passes
 * SIGTERM and SIGINT on, because the kernel drops signals to a namespace's init that has no
 * handler for them, and most apps install none. The wrapper also sources the scripts in
 * .profile.d as Cloud Foundry's DEA did, and exits with the app's status.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "dea.h"
#include "droplet-cache.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "logs.h"
#include "start.h"

enum { LAUNCH_UID = 1000, LAUNCH_CHOWN_DEPTH = 64, LAUNCH_DROPLET_JSON_MAX = 1 << 20 };

/*
 * $1 is the start command. The app and its shell share the wrapper's process group (a
 * non-interactive shell has no job control), so the wrapper passes a stop on to the whole group
 * with `kill -TERM 0`, whether or not the inner shell replaced itself with the app; ignoring
 * TERM first keeps the wrapper out of its own broadcast. SIGINT is passed on as TERM, because a
 * background job starts with SIGINT ignored.
 */
static const char launch_wrapper[] =
	"for f in /home/vcap/app/.profile.d/*.sh; do [ -r \"$f\" ] && . \"$f\"; done\n"
	"/bin/sh -c \"$1\" &\n"
	"app=$!\n"
	"trap 'trap \"\" TERM INT; kill -TERM 0 2>/dev/null' TERM INT\n"
	"while :; do wait $app; s=$?; kill -0 $app 2>/dev/null || exit $s; done\n";

const char *launch_container_id(const struct instance *inst)
{
	return inst->msg->instance_id;
}

static bool launch_port_bindable(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

int launch_port(struct dea *dea)
{
	int64_t span = dea->cfg.port_max - dea->cfg.port_min + 1;
	for (int64_t tries = 0; tries < span; tries++) {
		if (dea->next_port < dea->cfg.port_min || dea->next_port > dea->cfg.port_max)
			dea->next_port = (int)dea->cfg.port_min;
		int port = dea->next_port++;
		bool taken = false;
		/* Crash records keep their port number but no longer hold the port. */
		for (struct instance *i = dea->instances; i && !taken; i = i->next)
			taken = i->port == port && i->state != INSTANCE_CRASHED &&
				i->state != INSTANCE_STOPPED;
		if (!taken && launch_port_bindable(port))
			return port;
	}
	return -1;
}

/* chown dir and everything below it to the app user, never following a symlink. */
static int launch_chown_tree(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	int r = fchown(dirfd(d), LAUNCH_UID, LAUNCH_UID) < 0 ? -errno : 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fchownat(dirfd(d), e->d_name, LAUNCH_UID, LAUNCH_UID, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
		else if (e->d_type == DT_DIR) {
			if (depth >= LAUNCH_CHOWN_DEPTH)
				r = -ELOOP;
			else {
				int sub = openat(dirfd(d), e->d_name,
						 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				r = sub < 0 ? -errno : launch_chown_tree(sub, depth + 1);
			}
		}
	}
	closedir(d);
	return r;
}

/* The start command: the message's, else the droplet's own (droplet.json). */
static char *launch_start_command(struct instance *inst, struct dew_error **err)
{
	if (inst->msg->start_command)
		return xstrdup(inst->msg->start_command);
	cleanup_free char *path = xasprintf("%s/droplet/droplet.json", inst->dir);
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (dew_read_file(path, LAUNCH_DROPLET_JSON_MAX, &text, &len, err) < 0)
		return NULL;
	json_auto_t *j = dew_json_parse(text, len, err);
	const char *cmd = NULL;
	if (!j || dew_json_get_string(j, "start_command", 0, START_COMMAND_MAX, &cmd, err) < 0)
		return NULL;
	if (!*cmd) {
		dew_error_set(err, 0, "the droplet has no start command and the start message gives none");
		return NULL;
	}
	return xstrdup(cmd);
}

static const struct dew_stack *launch_stack(const struct dea *dea, const char *name)
{
	for (size_t i = 0; dea->stacks[i]; i++)
		if (!strcmp(dea->stacks[i], name))
			return dea->stack_defs[i];
	return NULL;
}

/* Everything but the container: droplet, directories, ownership. */
static int launch_prepare(struct instance *inst, struct dew_error **err)
{
	struct dea *dea = inst->dea;
	const struct start_msg *m = inst->msg;
	cleanup_free char *droplet = NULL;
	cleanup_free char *droplet_dir = xasprintf("%s/droplet", inst->dir);
	int r = droplet_cache_get(dea->droplets, m->droplet_sha256, m->droplet_uri,
				  dea->cfg.download_timeout_ms, &droplet, &inst->droplet_hit, err);
	if (r < 0)
		return r;
	/* The dirs are traversable by the app user; the files server reads through them as root. */
	r = dew_mkdir_p(inst->log_dir, 0755, err);
	if (r == 0)
		r = dewrt_extract(droplet, droplet_dir, NULL, err);
	droplet_cache_release(dea->droplets, m->droplet_sha256);
	if (r < 0)
		return dew_error_prefix(err, "unpack droplet %.12s", m->droplet_sha256);
	/* app/ moves beside logs/: the file server offers exactly those two of the instance directory. */
	cleanup_free char *unpacked = xasprintf("%s/app", droplet_dir);
	struct stat sb;
	if (lstat(unpacked, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return dew_error_set(err, 0, "the droplet has no app/ directory");
	if (rename(unpacked, inst->app_dir) < 0)
		return dew_error_set(err, errno, "move the droplet's app/ into `%s`", inst->app_dir);
	int dfd = open(inst->app_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = dfd < 0 ? -errno : launch_chown_tree(dfd, 0);
	if (r < 0)
		return dew_error_set(err, -r, "chown the app directory");
	return 0;
}

static struct dewrt_spec *launch_spec(struct instance *inst, char *command)
{
	struct dea *dea = inst->dea;
	const struct start_msg *m = inst->msg;
	struct dewrt_spec *spec = xcalloc(1, sizeof(*spec));
	spec->id = xstrdup(launch_container_id(inst));
	dew_stack_apply(launch_stack(dea, m->stack), spec);
	spec->app_dir = xstrdup(inst->app_dir);
	spec->args = xcalloc(6, sizeof(char *));
	spec->args[0] = xstrdup("/bin/sh");
	spec->args[1] = xstrdup("-c");
	spec->args[2] = xstrdup(launch_wrapper);
	spec->args[3] = xstrdup("dew-app");
	spec->args[4] = command;
	const struct start_ctx c = { .port = inst->port,
				     .host = dea->cfg.ip,
				     .started_at = inst->started_at };
	spec->env = start_env(m, &c);
	spec->cwd = xstrdup("/home/vcap/app");
	spec->hostname = xstrndup(spec->id, 63);
	spec->uid = LAUNCH_UID;
	spec->gid = LAUNCH_UID;
	spec->net = DEWRT_NET_HOST; /* the seam for bridge: choose per config here */
	spec->limits.memory_mb = (uint64_t)m->memory_mb;
	spec->limits.disk_mb = 0; /* the droplet dir is the instance's own; see docs/dea.md */
	spec->limits.pids = (uint64_t)dea->cfg.pids_limit;
	spec->limits.nofile = (uint64_t)m->fds;
	spec->log_dir = xstrdup(inst->log_dir);
	return spec;
}

/* The worker thread's half. Touches only inst's own fields, the read-only config, the
 * thread-safe droplet cache and (locked) the runtime. */
static void launch_work(uv_work_t *w)
{
	struct instance *inst = w->data;
	struct dea *dea = inst->dea;
	struct dew_error **err = &inst->work_err;
	if (launch_prepare(inst, err) < 0)
		return;
	char *command = launch_start_command(inst, err);
	if (!command)
		return;
	struct dewrt_spec *spec = launch_spec(inst, command);
	struct dewrt_state *st = NULL;
	pthread_mutex_lock(&dea->rt_lock);
	int r = dewrt_create(&dea->rt, spec, err);
	if (r == 0) {
		r = dewrt_start(&dea->rt, spec->id, err);
		if (r == 0)
			r = dewrt_state_read(&dea->rt, spec->id, &st, err);
		/* Nothing of a failed start is kept but the logs. */
		if (r < 0)
			dewrt_delete(&dea->rt, spec->id, true, NULL);
	}
	pthread_mutex_unlock(&dea->rt_lock);
	if (st)
		inst->monitor_pid = st->monitor_pid;
	dewrt_state_free(st);
	dewrt_spec_free(spec);
}

static void launch_done(uv_work_t *w, int status)
{
	struct instance *inst = w->data;
	struct dea *dea = inst->dea;
	inst->working = false;
	if (inst->state == INSTANCE_DELETED) {
		/* The DEA closed meanwhile (on_shutdown=keep): the next one adopts the container. */
		instance_unref(inst);
		return;
	}
	instance_unref(inst);
	if (inst->work_err) {
		dea->n.start_failures++;
		cleanup_free char *why = xasprintf("start failed: %s", dew_error_msg(inst->work_err));
		dew_warn("instance %s of %s: %s", inst->msg->instance_id, inst->msg->name, why);
		exit_finish(inst, NULL, why);
		return;
	}
	instance_follow_logs(inst, true);
	dew_info("instance %s of %s: container started in %llu ms (droplet %s)", inst->msg->instance_id,
		 inst->msg->name, (unsigned long long)(uv_now(dea->loop) - inst->start_begin_ms),
		 inst->droplet_hit ? "cached" : "downloaded");
	if (exit_watch(inst, inst->monitor_pid) < 0)
		return; /* exit_watch reported it */
	if (inst->stop_reason != EXIT_NONE)
		stop_instance(inst, inst->stop_reason);
	else
		health_start(inst);
}

/* Refuse a start: log it and answer when the sender asked for an answer. */
static void launch_refuse(struct dea *dea, const struct dew_bus_msg *msg, const struct start_msg *m,
			  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void launch_refuse(struct dea *dea, const struct dew_bus_msg *msg, const struct start_msg *m,
			  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *why = xvasprintf(fmt, ap);
	va_end(ap);
	dea->n.refused++;
	dew_warn("start of %s/%" PRId64 " (instance %s) refused: %s", m->name, m->index, m->instance_id, why);
	json_auto_t *r =
		json_pack("{s:s, s:s, s:s}", "error", why, "dea", dea->id, "instance", m->instance_id);
	dea_reply(dea, msg, r);
}

void launch_on_start(struct dea *dea, const struct dew_bus_msg *msg, const json_t *body)
{
	struct start_msg *m = NULL;
	cleanup_error struct dew_error *err = NULL;
	if (start_msg_parse(msg->data, msg->len, &m, &err) < 0) {
		cleanup_free char *why = xasprintf("invalid start message: %s", dew_error_msg(err));
		dea_drop(dea, msg, why);
		json_auto_t *r = json_pack("{s:s, s:s}", "error", why, "dea", dea->id);
		dea_reply(dea, msg, r);
		return;
	}
	if (dea->evacuating || dea->shutting_down) {
		launch_refuse(dea, msg, m, "this DEA is %s",
			      dea->evacuating ? "evacuating" : "shutting down");
		start_msg_free(m);
		return;
	}
	if (!launch_stack(dea, m->stack)) {
		launch_refuse(dea, msg, m, "stack `%s` is not offered by this DEA", m->stack);
		start_msg_free(m);
		return;
	}
	if (instance_find(dea, m->instance_id)) {
		launch_refuse(dea, msg, m, "instance %s exists already", m->instance_id);
		start_msg_free(m);
		return;
	}
	uint64_t free_mem = (dea->cfg.max_memory >> 20) - dea->reserved_mb;
	uint64_t free_disk = (dea->cfg.max_disk >> 20) - dea->reserved_disk_mb;
	if ((uint64_t)m->memory_mb > free_mem || (uint64_t)m->disk_mb > free_disk) {
		launch_refuse(dea, msg, m,
			      "not enough room: asked for %" PRId64 " MB of memory and %" PRId64
			      " MB of disk, %llu MB and %llu MB are available",
			      m->memory_mb, m->disk_mb, (unsigned long long)free_mem,
			      (unsigned long long)free_disk);
		start_msg_free(m);
		advertise_publish(dea);
		return;
	}
	int port = launch_port(dea);
	if (port < 0) {
		launch_refuse(dea, msg, m, "no free port in %" PRId64 "-%" PRId64, dea->cfg.port_min,
			      dea->cfg.port_max);
		start_msg_free(m);
		return;
	}
	struct instance *inst = instance_new(dea, m, xstrndup(msg->data, msg->len));
	inst->port = port;
	inst->start_begin_ms = uv_now(dea->loop);
	instance_reserve(inst);
	dea->n.starts++;
	cleanup_error struct dew_error *merr = NULL;
	if (dew_mkdir_p(inst->dir, 0755, &merr) < 0) {
		exit_finish(inst, NULL, dew_error_msg(merr));
		return;
	}
	instance_persist(inst);
	heartbeat_publish(dea);
	dew_info("starting instance %s of %s (index %" PRId64 ", %" PRId64 " MB) on port %d", m->instance_id,
		 m->name, m->index, m->memory_mb, port);
	json_auto_t *reply =
		json_pack("{s:s, s:s, s:i}", "dea", dea->id, "instance", m->instance_id, "port", port);
	dea_reply(dea, msg, reply);
	inst->working = true;
	inst->work.data = inst;
	instance_handle_opened(inst); /* the worker holds the instance too */
	int r = uv_queue_work(dea->loop, &inst->work, launch_work, launch_done);
	if (r < 0) {
		inst->working = false;
		instance_unref(inst);
		exit_finish(inst, NULL, uv_strerror(r));
	}
}
