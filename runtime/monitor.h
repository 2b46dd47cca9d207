/* SPDX-License-Identifier: MIT */
/*
 * The per-container monitor (monitor.c), started by dewrt_create in a detached process.
 */
#ifndef DEWRT_MONITOR_H
#define DEWRT_MONITOR_H

#include "dewrt.h"

struct dewrt_cgroup;

struct dewrt_monitor_args {
	struct dewrt_context *ctx;
	const struct dewrt_spec *spec;
	struct dewrt_cgroup *cg;
	char *dir;      /* the state directory */
	int fifo_fd;    /* O_PATH fd of the exec fifo (handed to the init) */
	int report_fd;  /* to the creator: "OK" once CREATED, or "E<message>" */
};

/* Never returns. */
void dewrt__monitor_main(const struct dewrt_monitor_args *m) __attribute__((noreturn));
/* Send "OK" (error NULL) or "E<error>" on fd and close it. */
void dewrt__report(int fd, const char *error);

#endif
