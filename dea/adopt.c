// SPDX-License-Identifier: MIT
/*
 * Re-adoption after a DEA restart (a crash, kill -9, an upgrade): instances outlive the DEA
 * because each container has its own monitor. At boot every <base_dir>/instances/<id>/
 * instance.json is read back:
 *   - container running (its monitor alive): watched again, its reservation and port taken
 *     back, routes re-registered (or the health check resumed when it was still STARTING);
 *   - container stopped or gone: it ended while no DEA watched; reported like any exit
 *     (CRASHED, or the reason of a stop that was under way);
 *   - a crash record (CRASHED): kept for another crash_retention, not reported again;
 *   - an unreadable record: logged, its container deleted and the directory removed.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "alloc.h"
#include "dea.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "logs.h"
#include "start.h"

enum { ADOPT_RECORD_MAX = 2 << 20 };

static void adopt_discard(struct dea *dea, const char *id, const char *dir, const char *why)
{
	dew_warn("instance %s: %s: removing it", id, why);
	if (strlen(id) <= START_ID_MAX)
		dewrt_delete(&dea->rt, id, true, NULL);
	cleanup_error struct dew_error *err = NULL;
	if (dew_remove_tree(dir, &err) < 0)
		dew_warn("%s", dew_error_msg(err));
}

static void adopt_running(struct instance *inst, const struct dewrt_state *st, enum instance_state was)
{
	instance_follow_logs(inst, false);
	if (exit_watch(inst, st->monitor_pid) < 0)
		return;
	dew_notice("re-adopted instance %s of %s (index %" PRId64 ", port %d, %s)", inst->msg->instance_id,
		   inst->msg->name, inst->msg->index, inst->port, instance_state_name(was));
	if (was == INSTANCE_RUNNING) {
		inst->state = INSTANCE_RUNNING;
		instance_persist(inst);
		routes_register(inst);
	} else if (was == INSTANCE_STOPPING) {
		inst->state = INSTANCE_RUNNING;
		stop_instance(inst, EXIT_STOPPED);
	} else {
		health_start(inst);
	}
}

static void adopt_one(struct dea *dea, const char *id)
{
	cleanup_free char *dir = xasprintf("%s/%s", dea->instances_dir, id);
	cleanup_free char *path = xasprintf("%s/instance.json", dir);
	cleanup_free char *text = NULL;
	size_t len = 0;
	cleanup_error struct dew_error *err = NULL;
	if (dew_read_file(path, ADOPT_RECORD_MAX, &text, &len, &err) < 0) {
		adopt_discard(dea, id, dir, dew_error_msg(err));
		return;
	}
	json_auto_t *rec = dew_json_parse(text, len, &err);
	json_t *start = NULL;
	const char *state = NULL;
	json_int_t port = 0, started_at = 0;
	if (!rec || dew_json_get_object(rec, "start", 0, &start, &err) < 0 ||
	    dew_json_get_string(rec, "state", 0, 16, &state, &err) < 0 ||
	    dew_json_get_int(rec, "port", 0, 0, 65535, &port, &err) < 0 ||
	    dew_json_get_int(rec, "started_at", 0, 0, INT64_MAX, &started_at, &err) < 0) {
		adopt_discard(dea, id, dir, dew_error_msg(err));
		return;
	}
	char *start_json = dew_json_dumps(start);
	struct start_msg *m = NULL;
	int was = instance_state_parse(state);
	if (start_msg_parse(start_json, strlen(start_json), &m, &err) < 0 ||
	    strcmp(m->instance_id, id) != 0 || was < 0 || instance_find(dea, id)) {
		free(start_json);
		start_msg_free(m);
		adopt_discard(dea, id, dir, err ? dew_error_msg(err) : "inconsistent instance.json");
		return;
	}
	struct instance *inst = instance_new(dea, m, start_json);
	inst->port = (int)port;
	inst->started_at = started_at;
	inst->adopted = true;
	json_t *ts = json_object_get(rec, "state_timestamp");
	if (json_is_number(ts))
		inst->state_ts = json_number_value(ts);
	if (was == INSTANCE_CRASHED) {
		/* Already reported by the DEA that saw it: keep the record, the retention starts over. */
		const char *desc = NULL;
		json_int_t status = -1;
		json_t *crash_ts = json_object_get(rec, "crash_timestamp");
		dew_json_get_string(rec, "exit_description", DEW_JSON_OPTIONAL, 4096, &desc, NULL);
		dew_json_get_int(rec, "exit_status", DEW_JSON_OPTIONAL, -1, 255, &status, NULL);
		inst->state = INSTANCE_CRASHED;
		inst->crash_ts = json_is_number(crash_ts) ? json_number_value(crash_ts) : inst->state_ts;
		inst->exit_status = (int)status;
		inst->exit_description = xstrdup(desc && *desc ? desc : "crashed before the DEA restarted");
		exit_retain(inst);
		return;
	}
	if (was == INSTANCE_STOPPED) {
		instance_destroy(inst, true);
		return;
	}
	instance_reserve(inst);
	struct dewrt_state *st = NULL;
	bool alive = dewrt_state_read(&dea->rt, launch_container_id(inst), &st, NULL) == 0 &&
		     (st->status == DEWRT_RUNNING || st->status == DEWRT_CREATED) && st->monitor_pid > 0 &&
		     kill(st->monitor_pid, 0) == 0;
	if (alive && st->status == DEWRT_CREATED) {
		/* The last DEA died between create and start: finish its start. */
		cleanup_error struct dew_error *serr = NULL;
		if (dewrt_start(&dea->rt, launch_container_id(inst), &serr) < 0) {
			dew_warn("instance %s: %s", id, dew_error_msg(serr));
			alive = false;
		}
	}
	if (alive) {
		adopt_running(inst, st, (enum instance_state)was);
	} else {
		if (was == INSTANCE_STOPPING)
			inst->stop_reason = EXIT_STOPPED;
		dew_notice("instance %s of %s ended while no DEA was watching it", id, m->name);
		exit_finish(inst, st && st->status == DEWRT_STOPPED ? st : NULL,
			    st && st->status == DEWRT_STOPPED ? NULL : "ended while the DEA was down");
	}
	dewrt_state_free(st);
}

void adopt_all(struct dea *dea)
{
	DIR *d = opendir(dea->instances_dir);
	if (!d) {
		if (errno != ENOENT)
			dew_warn("read %s: %m", dea->instances_dir);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			adopt_one(dea, e->d_name);
	closedir(d);
	if (dea->n_instances)
		dew_notice("%zu instance(s) found from before this start", dea->n_instances);
}
