/* SPDX-License-Identifier: MIT */
/*
 * The container init's entry point (init.c), called by the monitor in the cloned child, and the
 * privilege drop it shares with dewrt_exec (exec.c).
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

/*
 * In a process about to exec into the container (the init, or dewrt_exec's): RLIMIT_NOFILE as
 * the spec says, then dewrt__caps_apply, setgroups/setresgid/setresuid to the spec's ids and
 * no_new_privs, in that order (internal.h explains it). Shared so that an exec'd process can
 * never hold more than the app. 0 or -errno with *err set.
 */
int dewrt__drop_privileges(const struct dewrt_spec *spec, struct dew_error **err);

/* Never returns: execs the app or exits 127 after reporting why. */
void dewrt__init_main(const struct dewrt_init_args *a) __attribute__((noreturn));

#endif
