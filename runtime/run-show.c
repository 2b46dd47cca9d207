// SPDX-License-Identifier: MIT
/*
 * dew-run commands that read containers: list, inspect (every limit next to its live usage),
 * state (raw JSON) and ps. Tables for people, --json for programs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "alloc.h"
#include "fs.h"
#include "internal.h"
#include "json.h"
#include "run.h"

static void print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(text);
	free(text);
	json_decref(j);
}

static char *human_bytes(uint64_t b)
{
	if (b >= 1024ULL * 1024 * 1024)
		return xasprintf("%.1fG", (double)b / (1024.0 * 1024 * 1024));
	if (b >= 1024 * 1024)
		return xasprintf("%.1fM", (double)b / (1024.0 * 1024));
	if (b >= 1024)
		return xasprintf("%.1fK", (double)b / 1024.0);
	return xasprintf("%lluB", (unsigned long long)b);
}

static char *uptime(const struct dewrt_state *st)
{
	if (st->status != DEWRT_RUNNING || !st->started_ms)
		return xstrdup("-");
	int64_t s = (dewrt__now_ms() - st->started_ms) / 1000;
	if (s >= 3600)
		return xasprintf("%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	return xasprintf("%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
}

int run_cmd_list(struct run_opts *o, int argc, char **argv)
{
	char **ids = NULL;
	struct dew_error *err = NULL;
	if (dewrt_list(&o->ctx, &ids, &err) < 0)
		return run_fail(err);
	json_t *arr = json_array();
	if (!o->json)
		printf("%-24s %8s %-9s %-17s %s\n", "ID", "PID", "STATE", "MEMORY", "UPTIME");
	for (size_t i = 0; ids[i]; i++) {
		struct dewrt_state *st = NULL;
		struct dewrt_stats s = { 0 };
		if (dewrt_state_read(&o->ctx, ids[i], &st, &err) < 0) {
			dew_error_clear(&err);
			continue;
		}
		if (dewrt_stats(&o->ctx, ids[i], &s, &err) < 0)
			dew_error_clear(&err);
		if (o->json) {
			json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:I, s:I, s:I}", "id", st->id,
							     "pid", (int)st->init_pid, "state",
							     dewrt_status_name(st->status), "memory_usage",
							     (json_int_t)s.memory_usage, "memory_limit",
							     (json_int_t)s.memory_limit, "started_ms",
							     (json_int_t)st->started_ms));
		} else {
			cleanup_free char *used = human_bytes(s.memory_usage);
			cleanup_free char *lim = s.memory_limit && s.memory_limit < (1ULL << 60)
							 ? human_bytes(s.memory_limit)
							 : xstrdup("-");
			cleanup_free char *mem = xasprintf("%s/%s", used, lim);
			cleanup_free char *up = uptime(st);
			printf("%-24s %8d %-9s %-17s %s\n", st->id, (int)st->init_pid,
			       dewrt_status_name(st->status), mem, up);
		}
		dewrt_state_free(st);
	}
	dew_strv_free(ids);
	if (o->json)
		print_json(arr);
	else
		json_decref(arr);
	return 0;
}

static json_t *caps_json(void)
{
	size_t n;
	const int *caps = dewrt__caps_list(&n);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		char *name = cap_to_name(caps[i]);
		json_array_append_new(a, json_string(name));
		cap_free(name);
	}
	return a;
}

static json_t *namespaces_json(const struct dewrt_spec *spec)
{
	json_t *a = json_pack("[s, s, s, s, s]", "mount", "pid", "uts", "ipc", "cgroup");
	if (spec->net != DEWRT_NET_HOST)
		json_array_append_new(a, json_string("net"));
	if (spec->userns)
		json_array_append_new(a, json_string("user"));
	return a;
}

static json_t *inspect_json(const struct dewrt_state *st, const struct dewrt_stats *s)
{
	const struct dewrt_spec *sp = st->spec;
	return json_pack(
		"{s:s, s:s, s:i, s:i, s:{s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}, "
		"s:{s:I, s:I}, s:{s:I}}, s:o, s:o, s:s, s:s, s:i, s:b}",
		"id", st->id, "state", dewrt_status_name(st->status), "pid", (int)st->init_pid, "exit_code",
		st->exit_code, "resources", "memory", "usage", (json_int_t)s->memory_usage, "limit",
		(json_int_t)s->memory_limit, "max_usage", (json_int_t)s->memory_max_usage, "failcnt",
		(json_int_t)s->memory_failcnt, "oom_kills", (json_int_t)s->oom_kills, "pids", "current",
		(json_int_t)s->pids_current, "max", (json_int_t)s->pids_max, "cpu", "weight",
		(json_int_t)s->cpu_weight, "usage_ns", (json_int_t)s->cpu_usage_ns, "disk", "used",
		(json_int_t)s->disk_used, "quota", (json_int_t)s->disk_quota, "nofile", "limit",
		(json_int_t)(sp->limits.nofile ? sp->limits.nofile : 1024), "namespaces", namespaces_json(sp),
		"capabilities", caps_json(), "seccomp_profile", dewrt__seccomp_profile_name(), "network",
		sp->net == DEWRT_NET_HOST ? "host" : "none", "exit_signal", st->exit_signal, "oom_killed",
		st->oom_killed);
}

static void row(const char *what, const char *usage, const char *limit)
{
	printf("  %-14s %-16s %s\n", what, usage, limit);
}

static void inspect_table(const struct dewrt_state *st, const struct dewrt_stats *s)
{
	cleanup_free char *mu = human_bytes(s->memory_usage), *ml = human_bytes(s->memory_limit);
	cleanup_free char *mm = human_bytes(s->memory_max_usage), *du = human_bytes(s->disk_used);
	cleanup_free char *dq = s->disk_quota ? human_bytes(s->disk_quota) : xstrdup("none");
	cleanup_free char *fc = xasprintf("%llu", (unsigned long long)s->memory_failcnt);
	cleanup_free char *ok = xasprintf("%llu", (unsigned long long)s->oom_kills);
	cleanup_free char *pc = xasprintf("%llu", (unsigned long long)s->pids_current);
	cleanup_free char *pm = xasprintf("%llu", (unsigned long long)s->pids_max);
	cleanup_free char *cw = xasprintf("%llu", (unsigned long long)s->cpu_weight);
	cleanup_free char *cu = xasprintf("%.3fs", (double)s->cpu_usage_ns / 1e9);
	cleanup_free char *nf = xasprintf("%llu", (unsigned long long)(st->spec->limits.nofile ?: 1024));

	printf("container %s: %s, pid %d\n\n  %-14s %-16s %s\n", st->id, dewrt_status_name(st->status),
	       (int)st->init_pid, "RESOURCE", "USAGE", "LIMIT");
	row("memory", mu, ml);
	row("memory max", mm, "");
	row("memory failcnt", fc, "");
	row("oom kills", ok, "");
	row("pids", pc, pm);
	row("cpu", cu, cw);
	row("disk", du, dq);
	row("nofile", "", nf);
	json_t *ns = namespaces_json(st->spec), *caps = caps_json(), *v;
	size_t i;
	printf("\n  namespaces:   ");
	json_array_foreach (ns, i, v)
		printf("%s%s", i ? " " : "", json_string_value(v));
	printf("\n  capabilities: ");
	json_array_foreach (caps, i, v)
		printf("%s%s", i ? " " : "", json_string_value(v));
	printf("\n  seccomp:      %s\n  no_new_privs: yes\n  network:      %s\n",
	       dewrt__seccomp_profile_name(), st->spec->net == DEWRT_NET_HOST ? "host" : "none");
	json_decref(ns);
	json_decref(caps);
}

int run_cmd_inspect(struct run_opts *o, int argc, char **argv)
{
	struct dewrt_state *st = NULL;
	struct dewrt_stats s = { 0 };
	struct dew_error *err = NULL;
	if (dewrt_state_read(&o->ctx, argv[0], &st, &err) < 0)
		return run_fail(err);
	if (dewrt_stats(&o->ctx, argv[0], &s, &err) < 0) {
		dewrt_state_free(st);
		return run_fail(err);
	}
	if (o->json)
		print_json(inspect_json(st, &s));
	else
		inspect_table(st, &s);
	dewrt_state_free(st);
	return 0;
}

int run_cmd_state(struct run_opts *o, int argc, char **argv)
{
	struct dewrt_state *st = NULL;
	struct dew_error *err = NULL;
	if (dewrt_state_read(&o->ctx, argv[0], &st, &err) < 0)
		return run_fail(err);
	cleanup_free char *path = xasprintf("%s/state.json", st->dir);
	cleanup_free char *text = NULL;
	size_t len;
	dewrt_state_free(st);
	if (dew_read_file(path, 1 << 20, &text, &len, &err) < 0)
		return run_fail(err);
	fwrite(text, 1, len, stdout);
	return 0;
}

int run_cmd_ps(struct run_opts *o, int argc, char **argv)
{
	struct dewrt_state *st = NULL;
	struct dewrt_cgroup *cg = NULL;
	struct dew_error *err = NULL;
	pid_t *pids = NULL;
	size_t n = 0;
	if (dewrt_state_read(&o->ctx, argv[0], &st, &err) < 0)
		return run_fail(err);
	int r = dewrt__cgroup_open(st->cgroup, &cg, &err);
	if (r == 0)
		r = dewrt__cgroup_pids(cg, &pids, &n, &err);
	dewrt__cgroup_free(cg);
	dewrt_state_free(st);
	if (r < 0)
		return run_fail(err);
	printf("%8s  %s\n", "PID", "COMMAND");
	for (size_t i = 0; i < n; i++) {
		char path[64];
		cleanup_free char *cmd = NULL;
		size_t len = 0;
		snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pids[i]);
		if (dew_read_file(path, 4096, &cmd, &len, NULL) < 0)
			continue;
		for (size_t k = 0; k + 1 < len; k++)
			if (cmd[k] == '\0')
				cmd[k] = ' ';
		printf("%8d  %s\n", (int)pids[i], cmd);
	}
	free(pids);
	return 0;
}
