/* SPDX-License-Identifier: MIT */
/*
 * What stage.c (the stager: loop thread and task threads) and stage-request.c (parsing and
 * checking a staging request) share. Internal to dea/stage*.c.
 */
#ifndef DEW_DEA_STAGE_INTERNAL_H
#define DEW_DEA_STAGE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"
#include "stage.h"
#include "staging.h"

enum {
	STAGE_MAX_REQUEST = 1024 * 1024, /* the bus's max_payload: larger is dropped unparsed */
	STAGE_NAME_MAX = 64,		 /* app_id, stack, buildpack */
	STAGE_URI_MAX = 4096,
	STAGE_COMMAND_MAX = 4096,
	STAGE_SUBJECT_MAX = 255,
	STAGE_MEMORY_DEFAULT = 1024, /* MB */
	STAGE_MEMORY_MAX = 65536,
	STAGE_DISK_DEFAULT = 4096,
	STAGE_DISK_MAX = 1048576,
	STAGE_CONCURRENT_DEFAULT = 2,
	STAGE_PENDING_LINES_MAX = 10000, /* log lines queued for the loop, over all tasks */
	STAGE_ERROR_MAX = 1024,		 /* bytes of the error line of a reply */
};
/* No package is bigger than this: refused from Content-Length and again while streaming. */
#define STAGE_MAX_PACKAGE (1ULL << 30)
#define STAGE_TRANSFER_TIMEOUT_DEFAULT ((uint64_t)10 * 60 * 1000)

/* One staging request, from its acceptance on the loop to its reply. */
struct stage_task {
	struct stager *s;
	struct stage_task *next; /* the stager's running tasks (loop thread) */
	pthread_t thread;
	char *reply; /* the request's reply subject */
	/* The request, validated; owned. */
	char *app_id, *package_uri, *package_sha256, *upload_uri, *stack, *buildpack, *start_command;
	char *log_subject; /* NULL: no log streaming */
	char *services_json;
	char **env;
	uint64_t memory_mb, disk_mb;
	/* The outcome, written by the task's thread before it posts its end. */
	const char *failure; /* NULL: staged */
	char *error;
	struct dew_stage_result res;
	uint64_t dropped_lines; /* under s->lock */
};

/* A log line of a task, or (line NULL) the task's end, on its way to the loop thread. */
struct stage_event {
	struct stage_event *next;
	struct stage_task *task;
	char *line;
	int64_t ts_ms;
};

struct stager {
	uv_loop_t *loop;
	struct dew_bus *bus;
	char *stacks_dir, *runtime_root, *work_dir;
	char **stacks;
	uint64_t timeout_ms, transfer_timeout_ms;
	unsigned max_concurrent;
	uint64_t sid;
	uv_async_t async;
	pthread_mutex_t lock; /* guards the event queue and pending_lines */
	struct stage_event *head, **tail;
	size_t pending_lines;
	struct stage_task *tasks; /* running (loop thread only, as are stats) */
	struct stager_stats stats;
	bool closing, async_closed;
	void (*done)(void *arg);
	void *done_arg;
};

/* Free a task and everything it owns. */
void stage_task_free(struct stage_task *t);
/* Parse and check len bytes of a request into t for stager s; errors name the field. */
int stage_parse(const struct stager *s, const char *data, size_t len, struct stage_task *t,
		struct dew_error **err);

#endif
