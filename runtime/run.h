/* SPDX-License-Identifier: MIT */
/*
 * dew-run: the container runtime's admin tool (dew-run(8)). One table of commands; each
 * command is a function of the parsed global options and its own arguments.
 */
#ifndef DEW_RUN_H
#define DEW_RUN_H

#include <stdbool.h>

#include "dewrt.h"

/* Exit codes of dew-run itself (the app's own code passes through `run`). */
enum {
	RUN_EXIT_OK = 0,
	RUN_EXIT_FAIL = 1,
	RUN_EXIT_USAGE = 2,
	RUN_EXIT_OOM = 137,	/* `run`: the OOM killer ended the app (documented in dew-run(8)) */
	RUN_EXIT_RUNTIME = 125, /* `run`, `exec`: dew-run could not create, start or enter the container */
	RUN_EXIT_NOEXEC = 127,	/* `run`, `exec`: the program could not be executed */
};

struct run_opts {
	struct dewrt_context ctx;
	bool json;
	bool force;
	bool rm;
};

struct run_cmd {
	const char *name;
	const char *usage;
	const char *summary;
	int min_args, max_args;
	int (*fn)(struct run_opts *o, int argc, char **argv);
	/* Arguments after the command's name are taken as they are, never as dew-run's options
	 * (`exec ID sh -c …`): dew-run's options go before the command. */
	bool raw_args;
};

/* run-lifecycle.c */
int run_cmd_run(struct run_opts *o, int argc, char **argv);
int run_cmd_create(struct run_opts *o, int argc, char **argv);
int run_cmd_start(struct run_opts *o, int argc, char **argv);
int run_cmd_kill(struct run_opts *o, int argc, char **argv);
int run_cmd_delete(struct run_opts *o, int argc, char **argv);
int run_cmd_exec(struct run_opts *o, int argc, char **argv);

/* run-show.c */
int run_cmd_list(struct run_opts *o, int argc, char **argv);
int run_cmd_inspect(struct run_opts *o, int argc, char **argv);
int run_cmd_state(struct run_opts *o, int argc, char **argv);
int run_cmd_ps(struct run_opts *o, int argc, char **argv);

/* Print "dew-run: <message>" on stderr and return RUN_EXIT_FAIL. */
int run_fail(struct dew_error *err);

#endif
