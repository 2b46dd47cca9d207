// SPDX-License-Identifier: MIT
/*
 * dew-stage(8): stage an app package into a droplet by hand, with the same executor the DEA
 * uses: the staging log streams to standard error, the result goes to standard output. A tool
 * of its own so dew-run (and every container monitor it forks) does not carry libarchive.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "fs.h"
#include "json.h"
#include "parse.h"
#include "log.h"
#include "staging.h"

#ifndef DEW_STACKS_DIR
#define DEW_STACKS_DIR "/usr/share/dew/stacks"
#endif

static void print_log(const char *line, void *data)
{
	fprintf(stderr, "%s\n", line);
}

enum {
	STAGE_EXIT_OK = 0,
	STAGE_EXIT_FAILED = 1, /* the app could not be staged: its reason is the last line */
	STAGE_EXIT_USAGE = 2,
	STAGE_EXIT_PLATFORM = 125, /* dew could not stage it (not the app's fault) */
};

static int stage_usage(FILE *f, int code)
{
	fprintf(f, "usage: dew-stage [--root DIR] [--stack NAME] [--stacks-dir DIR] [--buildpack NAME]\n"
		   "                 [--start-command CMD] [--memory MB] [--timeout SECONDS] [--json]\n"
		   "                 PACKAGE DROPLET\n\nSee dew-stage(8).\n");
	return code;
}

struct stage_opts {
	const char *root, *stack, *stacks_dir, *buildpack, *start_command;
	uint64_t memory_mb, timeout_s;
	bool json, help;
};

/* Options into so; the index of PACKAGE, or -1 on a usage error. */
static int parse_stage_opts(int argc, char **argv, struct stage_opts *so)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "stack", required_argument, NULL, 's' },
		{ "stacks-dir", required_argument, NULL, 'd' },
		{ "buildpack", required_argument, NULL, 'b' },
		{ "start-command", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "hs:d:b:c:m:t:", opts, NULL)) != -1) {
		if (c == 'h') {
			so->help = true;
			return 0;
		}
		if (c == 'V') {
			printf("dew-stage (dew) %s\n", PACKAGE_VERSION);
			exit(0);
		}
		if (c == 'r')
			so->root = optarg;
		else if (c == 's')
			so->stack = optarg;
		else if (c == 'd')
			so->stacks_dir = optarg;
		else if (c == 'b')
			so->buildpack = optarg;
		else if (c == 'c')
			so->start_command = optarg;
		else if (c == 'j')
			so->json = true;
		else if ((c == 'm' && dew_parse_uint64(optarg, &so->memory_mb) == 0) ||
			 (c == 't' && dew_parse_uint64(optarg, &so->timeout_s) == 0))
			continue;
		else
			return -1;
	}
	return argc - optind == 2 ? optind : -1;
}

static void print_result(bool json, const struct dew_stage_result *res, const char *droplet)
{
	if (json) {
		json_t *pt = json_loads(res->process_types, 0, NULL);
		json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:s, s:I}", "droplet", droplet, "buildpack",
				      res->buildpack, "start_command", res->start_command, "process_types",
				      pt ? pt : json_object(), "sha256", res->sha256, "size",
				      (json_int_t)res->size);
		char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(text);
		free(text);
		json_decref(j);
		return;
	}
	printf("buildpack:     %s\nstart command: %s\ndroplet:       %s (%llu bytes)\nsha256:        %s\n",
	       res->buildpack, res->start_command, droplet, (unsigned long long)res->size, res->sha256);
}

static int fail(struct dew_error *err, int code)
{
	fprintf(stderr, "dew-stage: %s\n", dew_error_msg(err));
	dew_error_free(err);
	return code;
}

int main(int argc, char **argv)
{
	struct stage_opts so = { .stack = "host" };
	struct dewrt_context rt;
	struct dew_error *err = NULL;
	struct dew_stack *stack = NULL;
	struct dew_stage_result res = { 0 };

	dew_log_setup("dew-stage", DEW_LOG_TEXT, DEW_LOG_WARNING);
	int first = parse_stage_opts(argc, argv, &so);
	if (so.help)
		return stage_usage(stdout, STAGE_EXIT_OK);
	if (first < 0)
		return stage_usage(stderr, STAGE_EXIT_USAGE);
	const char *stacks_dir = so.stacks_dir ? so.stacks_dir : getenv("DEW_STACKS_DIR");
	if (!stacks_dir)
		stacks_dir = DEW_STACKS_DIR;
	if (dew_stack_load(stacks_dir, so.stack, false, &stack, &err) < 0)
		return fail(err, STAGE_EXIT_USAGE);
	if (dewrt_context_init(&rt, so.root, &err) < 0) {
		dew_stack_free(stack);
		return fail(err, STAGE_EXIT_PLATFORM);
	}
	cleanup_free char *buildpacks = xasprintf("%s/buildpacks", stacks_dir);
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	cleanup_free char *work = xasprintf("%s/dew-stage-XXXXXX", tmp);
	int code = STAGE_EXIT_PLATFORM;
	if (!mkdtemp(work)) {
		fprintf(stderr, "dew-stage: create a work directory in %s: %m\n", tmp);
		goto out;
	}
	/* The app user must reach the app dir below it. */
	chmod(work, 0755);
	struct dew_stage_request req = {
		.package = argv[first],
		.stack = stack,
		.buildpacks_dir = buildpacks,
		.buildpack = so.buildpack,
		.start_command = so.start_command,
		.memory_mb = so.memory_mb,
		.timeout_ms = so.timeout_s * 1000,
		.work_dir = work,
		.droplet = argv[first + 1],
		.on_log = print_log,
	};
	if (dew_stage(&rt, &req, &res, &err) == 0) {
		print_result(so.json, &res, argv[first + 1]);
		code = STAGE_EXIT_OK;
	} else {
		code = fail(err, res.failure == DEW_STAGE_ERROR ? STAGE_EXIT_PLATFORM : STAGE_EXIT_FAILED);
	}
	dew_stage_result_close(&res);
	if (dew_remove_tree(work, &err) < 0)
		fail(err, 0);
out:
	dew_stack_free(stack);
	dewrt_context_close(&rt);
	return code;
}
