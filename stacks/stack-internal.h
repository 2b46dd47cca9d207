/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the files of stacks/ (not for other components): path resolution inside a
 * stack's root and the probing of its runtimes.
 */
#ifndef DEW_STACK_INTERNAL_H
#define DEW_STACK_INTERNAL_H

#include <stdbool.h>

#include "stack.h"

/*
 * Open path (absolute, as the container sees it) below the directory root with O_PATH,
 * symlinks resolved inside root (openat2 RESOLVE_IN_ROOT; plain openat where the kernel or a
 * filter refuses openat2). follow false: a final symlink is opened itself. Returns the
 * descriptor (the caller closes it) or a negative errno.
 */
int dew_stack__open_in_root(int root, const char *path, bool follow);

/*
 * Keep in stack->runtimes only the runtimes a container on the stack can run (stack-probe.c,
 * docs/stacks.md): run each once from the host where it comes through one of the stack's
 * mounts, else check it is an executable file in the root. Forks and reaps its own children,
 * so the caller must not ignore SIGCHLD.
 */
void dew_stack__probe(struct dew_stack *stack);

#endif
