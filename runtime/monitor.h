/* SPDX-License-Identifier: MIT */
/*
 * The per-container monitor (monitor.c), started by dewrt_create in a detached process, and the
 * protocol between the two.
 */
#ifndef DEWRT_MONITOR_H
#define DEWRT_MONITOR_H

#include "dewrt.h"

/*
 * The monitor never uses libcgroup: libcgroup's state (the ~800 KiB of its .bss that cgroup_init
 * fills) would become private memory of every monitor once the creator exits. So the creator
 * forks the monitor before its first libcgroup call and does the cgroup work itself, over
 * creator_fd (a SOCK_SEQPACKET socket, one message each):
 *
 *   creator -> monitor  "S"        the group exists: clone the init now (not before: on cgroup
 *                                  v2 creating it may move every process of the creator's group,
 *                                  the monitor included, into a leaf, and would miss, or fail on,
 *                                  a process cloned meanwhile)
 *   monitor -> creator  "P<pid>"   the init is cloned (id maps written) and waits for 'G'
 *   creator -> monitor  "C<cgroup path>\0<oom file>\0" with the OOM event fd (SCM_RIGHTS): the
 *                       init is in the group and the event registered; anything else (or the
 *                       socket closing) means give up: the monitor kills the init and exits
 *   monitor -> creator  "OK" once the container is CREATED, or "E<message>" at any point
 *
 * Only on "C" does the monitor send the init its 'G', so no code of the container runs outside
 * its cgroup or before the OOM event is registered. On failure the creator waits for the socket
 * to close (the monitor has then reaped the init) before removing the group and the state.
 */
struct dewrt_monitor_args {
	struct dewrt_context *ctx;
	const struct dewrt_spec *spec;
	char *dir;	/* the state directory */
	int fifo_fd;	/* O_PATH fd of the exec fifo (handed to the init) */
	int creator_fd; /* the monitor's end of the socket to the creator (protocol above) */
};

/* Never returns. */
void dewrt__monitor_main(const struct dewrt_monitor_args *m) __attribute__((noreturn));
/* Send "OK" (error NULL) or "E<error>" on fd and close it. */
void dewrt__report(int fd, const char *error);

#endif
