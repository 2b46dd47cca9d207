// SPDX-License-Identifier: MIT
/*
 * dew-run commands that change containers or run programs in them: run, create, start, kill,
 * delete, exec.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "parse.h"
#include "run.h"

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },	  { "QUIT", SIGQUIT },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
	{ "TERM", SIGTERM }, { "STOP", SIGSTOP }, { "CONT", SIGCONT },
};

/* "TERM", "SIGTERM", "term" or "15". */
static int parse_signal(const char *s)
{
	int64_t n;
	if (dew_parse_int64(s, &n) == 0)
		return n > 0 && n < 65 ? (int)n : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(signals); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].sig;
	return -1;
}

/* The exit status `run` passes on, and what it says about it. */
static int exit_status(const struct dewrt_state *st)
{
	if (st->error) {
		fprintf(stderr, "dew-run: container `%s`: %s\n", st->id, st->error);
		return RUN_EXIT_NOEXEC;
	}
	if (st->oom_killed) {
		fprintf(stderr,
			"dew-run: container `%s` was killed by the OOM killer (memory limit %llu MB)\n",
			st->id, (unsigned long long)st->spec->limits.memory_mb);
		return RUN_EXIT_OOM;
	}
	return st->exit_code;
}

int run_cmd_run(struct run_opts *o, int argc, char **argv)
{
	struct dewrt_spec *spec = NULL;
	struct dewrt_state *st = NULL;
	struct dew_error *err = NULL;

	if (dewrt_spec_load(argv[0], &spec, &err) < 0) {
		run_fail(err);
		return RUN_EXIT_USAGE;
	}
	if (dewrt_create(&o->ctx, spec, &err) < 0 || dewrt_start(&o->ctx, spec->id, &err) < 0 ||
	    dewrt_wait(&o->ctx, spec->id, 0, &st, &err) < 0) {
		run_fail(err);
		dewrt_spec_free(spec);
		return RUN_EXIT_RUNTIME;
	}
	int code = exit_status(st);
	if (o->rm && dewrt_delete(&o->ctx, spec->id, false, &err) < 0)
		run_fail(err);
	dewrt_state_free(st);
	dewrt_spec_free(spec);
	return code;
}

int run_cmd_create(struct run_opts *o, int argc, char **argv)
{
	struct dewrt_spec *spec = NULL;
	struct dew_error *err = NULL;
	if (dewrt_spec_load(argv[0], &spec, &err) < 0)
		return run_fail(err);
	int r = dewrt_create(&o->ctx, spec, &err);
	if (r == 0)
		printf("%s\n", spec->id);
	dewrt_spec_free(spec);
	return r < 0 ? run_fail(err) : 0;
}

int run_cmd_start(struct run_opts *o, int argc, char **argv)
{
	struct dew_error *err = NULL;
	return dewrt_start(&o->ctx, argv[0], &err) < 0 ? run_fail(err) : 0;
}

int run_cmd_kill(struct run_opts *o, int argc, char **argv)
{
	struct dew_error *err = NULL;
	int sig = argc > 1 ? parse_signal(argv[1]) : SIGTERM;
	if (sig < 0) {
		fprintf(stderr, "dew-run: unknown signal `%s`\n", argv[1]);
		return RUN_EXIT_USAGE;
	}
	return dewrt_kill(&o->ctx, argv[0], sig, &err) < 0 ? run_fail(err) : 0;
}

int run_cmd_delete(struct run_opts *o, int argc, char **argv)
{
	struct dew_error *err = NULL;
	return dewrt_delete(&o->ctx, argv[0], o->force, &err) < 0 ? run_fail(err) : 0;
}

int run_cmd_exec(struct run_opts *o, int argc, char **argv)
{
	struct dew_error *err = NULL;
	int status;
	if (dewrt_exec(&o->ctx, argv[0], argv + 1, NULL, &status, &err) < 0) {
		run_fail(err);
		return status == 127 ? RUN_EXIT_NOEXEC : RUN_EXIT_RUNTIME;
	}
	return status;
}
