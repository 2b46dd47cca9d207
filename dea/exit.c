// SPDX-License-Identifier: MIT
/*
 * The end of an instance. The runtime's monitor writes the container's final state and then
 * exits, so a pidfd of the monitor, polled on the loop, says when to read it (no polling, no
 * SIGCHLD: the monitor is not our child). The DEA then unregisters the routes and publishes
 * droplet.exited: CRASHED with the exit status and a description ("out of memory" when the OOM
 * killer ended it, the signal's name, "exited with status N", or why it could not start) and
 * the last log lines, or the reason of the requested stop. A crashed instance's directory,
 * logs included, is kept for crash_retention so they can be read; a stopped one is removed.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "dea.h"
#include "json.h"
#include "log.h"
#include "logs.h"
#include "start.h"

enum { EXIT_LOG_LINES = 20 };

/* "out of memory", "killed by SIGSEGV", "exited with status 3". */
static char *exit_describe(const struct dewrt_state *st)
{
	if (st->oom_killed || st->oom_kills > 0)
		return xstrdup("out of memory");
	if (st->error)
		return xstrdup(st->error);
	if (st->exit_signal > 0) {
		const char *name = sigabbrev_np(st->exit_signal);
		return name ? xasprintf("killed by SIG%s", name)
			    : xasprintf("killed by signal %d", st->exit_signal);
	}
	/* The wrapper (launch.c) exits 128+N when a signal ended the app. */
	int sig = st->exit_code - 128;
	if (sig > 0 && sig < 65 && sigabbrev_np(sig))
		return xasprintf("exited with status %d (killed by SIG%s)", st->exit_code, sigabbrev_np(sig));
	return xasprintf("exited with status %d", st->exit_code);
}

void exit_publish(struct instance *inst, enum instance_exit_reason reason)
{
	struct dea *dea = inst->dea;
	const struct start_msg *m = inst->msg;
	json_auto_t *e =
		json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:s, s:s}", "droplet", m->droplet, "version",
			  m->version, "instance", m->instance_id, "index", (json_int_t)m->index, "reason",
			  instance_reason_name(reason), "exit_status", inst->exit_status, "exit_description",
			  inst->exit_description ? inst->exit_description : "", "dea", dea->id);
	if (reason == EXIT_CRASHED) {
		json_object_set_new(e, "crash_timestamp", json_real(inst->crash_ts));
		cleanup_strv char **lines = log_last_lines(inst->log_dir, EXIT_LOG_LINES);
		json_t *a = json_array();
		for (size_t i = 0; lines && lines[i]; i++)
			json_array_append_new(a, json_string(lines[i]));
		json_object_set_new(e, "log_tail", a);
	}
	int r = dew_bus_publish_json(dea->bus, "droplet.exited", NULL, e);
	if (r < 0)
		dew_warn("publish droplet.exited: %s", strerror(-r));
}

static void exit_on_retention(uv_timer_t *t)
{
	struct instance *inst = t->data;
	dew_info("instance %s of %s: crash record expired, removing its directory", inst->msg->instance_id,
		 inst->msg->name);
	instance_destroy(inst, true);
}

void exit_retain(struct instance *inst)
{
	uv_timer_start(&inst->timer, exit_on_retention, inst->dea->cfg.crash_retention_ms, 0);
}

void exit_finish(struct instance *inst, const struct dewrt_state *st, const char *description)
{
	struct dea *dea = inst->dea;
	if (inst->state == INSTANCE_CRASHED || inst->state == INSTANCE_STOPPED ||
	    inst->state == INSTANCE_DELETED)
		return;
	health_cancel(inst);
	if (inst->exit_poll_on) {
		inst->exit_poll_on = false;
		uv_close((uv_handle_t *)&inst->exit_poll, instance_handle_closed);
	}
	enum instance_exit_reason reason = inst->stop_reason != EXIT_NONE ? inst->stop_reason : EXIT_CRASHED;
	inst->exit_status = st ? st->exit_code : -1;
	if (!inst->exit_description)
		inst->exit_description = description ? xstrdup(description)
					 : st	     ? exit_describe(st)
						     : xstrdup("the container's state is gone");
	if (st && (st->oom_killed || st->oom_kills > 0))
		dea->n.oom_kills++;
	routes_unregister(inst);
	if (inst->logs) {
		log_tail_publish_dea(inst->logs,
				     reason == EXIT_CRASHED ? "instance crashed" : "instance stopped");
		if (reason == EXIT_CRASHED) {
			cleanup_free char *line = xasprintf("crashed: %s", inst->exit_description);
			log_tail_publish_dea(inst->logs, line);
		}
		log_tail_free(inst->logs);
		inst->logs = NULL;
	}
	/* The container is gone but for its cgroup and state: remove those (its logs are ours). */
	cleanup_error struct dew_error *err = NULL;
	int r = dewrt_delete(&dea->rt, launch_container_id(inst), true, &err);
	if (r < 0 && r != -ENOENT)
		dew_warn("instance %s: %s", inst->msg->instance_id, dew_error_msg(err));
	instance_unreserve(inst);
	if (reason == EXIT_CRASHED) {
		dea->n.crashes++;
		inst->crash_ts = instance_now();
		dew_warn("instance %s of %s (index %" PRId64 ") crashed: %s", inst->msg->instance_id,
			 inst->msg->name, inst->msg->index, inst->exit_description);
		exit_publish(inst, reason);
		instance_set_state(inst, INSTANCE_CRASHED);
		exit_retain(inst);
		return;
	}
	dea->n.stops++;
	if (!(reason == EXIT_DEA_EVACUATION && inst->evacuation_reported))
		exit_publish(inst, reason);
	instance_set_state(inst, INSTANCE_STOPPED);
	instance_destroy(inst, true);
	dea_shutdown_check(dea);
}

static void exit_on_poll(uv_poll_t *p, int status, int events)
{
	struct instance *inst = p->data;
	struct dea *dea = inst->dea;
	struct dewrt_state *st = NULL;
	cleanup_error struct dew_error *err = NULL;
	uv_poll_stop(p);
	if (dewrt_state_read(&dea->rt, launch_container_id(inst), &st, &err) < 0)
		dew_warn("instance %s: %s", inst->msg->instance_id, dew_error_msg(err));
	else if (st->status != DEWRT_STOPPED)
		dew_warn("instance %s: the container's monitor died before recording an exit",
			 inst->msg->instance_id);
	exit_finish(inst, st && st->status == DEWRT_STOPPED ? st : NULL,
		    st && st->status == DEWRT_STOPPED ? NULL : "the container's monitor died");
	dewrt_state_free(st);
}

int exit_watch(struct instance *inst, pid_t monitor_pid)
{
	struct dea *dea = inst->dea;
	int fd = monitor_pid > 0 ? (int)syscall(SYS_pidfd_open, monitor_pid, 0) : -1;
	if (fd < 0) {
		/* Already gone: the final state is there to read. */
		struct dewrt_state *st = NULL;
		if (dewrt_state_read(&dea->rt, launch_container_id(inst), &st, NULL) == 0 &&
		    st->status == DEWRT_STOPPED)
			exit_finish(inst, st, NULL);
		else
			exit_finish(inst, NULL, "the container's monitor is gone");
		dewrt_state_free(st);
		return -ESRCH;
	}
	inst->pidfd = fd;
	uv_poll_init(dea->loop, &inst->exit_poll, fd);
	inst->exit_poll.data = inst;
	inst->exit_poll_on = true;
	instance_handle_opened(inst);
	uv_poll_start(&inst->exit_poll, UV_READABLE, exit_on_poll);
	/* The pid may have been recycled before the pidfd was opened: the state tells. */
	struct dewrt_state *st = NULL;
	if (dewrt_state_read(&dea->rt, launch_container_id(inst), &st, NULL) == 0 &&
	    st->status == DEWRT_STOPPED) {
		exit_finish(inst, st, NULL);
		dewrt_state_free(st);
		return -ESRCH;
	}
	dewrt_state_free(st);
	return 0;
}
