/* SPDX-License-Identifier: MIT */
/*
 * The container init's entry point (init.c), called by the monitor in the cloned child.
 */
#ifndef DEWRT_INIT_H
#define DEWRT_INIT_H

#include "dewrt.h"

struct dewrt_seccomp;

struct dewrt_init_args {
	const struct dewrt_spec *spec;
	const struct dewrt_seccomp *seccomp;
	int sync_fd; /* to the monitor: reads 'G', writes 'R' or "E<message>" */
	int fifo_fd; /* O_PATH fd of the exec fifo */
};

/* Never returns: execs the app or exits 127 after reporting why. */
void dewrt__init_main(const struct dewrt_init_args *a) __attribute__((noreturn));

#endif
