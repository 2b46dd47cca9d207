/* SPDX-License-Identifier: MIT */
/*
 * Stacks (DESIGN.md section 8): a root filesystem plus metadata in stacks/<name>/stack.json.
 * A stack turns into the rootfs and bind mounts of a container spec; the host stack also
 * probes which language runtimes the host really has, as Cloud Foundry's DEA did.
 */
#ifndef DEW_STACK_H
#define DEW_STACK_H

#include <stdbool.h>
#include <stddef.h>

#include "dewrt.h"
#include "error.h"

struct dew_stack {
	char *name; /* "host" */
	char *description;
	char *rootfs;		    /* absolute path of the root directory (mount points only for host) */
	struct dewrt_mount *mounts; /* host directories bound read-only into it (host stack) */
	size_t n_mounts;
	char **runtimes; /* NULL-terminated: "python3", "node", … (those that really run) */
};

/*
 * Load stacks/<name>/stack.json from stacks_dir (e.g. /usr/share/dew/stacks or the source
 * tree's stacks/). `rootfs` in stack.json may be relative to the stack's directory. With
 * probe, each runtime listed is run once (`python3 --version`, …, bounded time) and only those
 * that answer are kept (docs/stacks.md): probing forks and reaps its own children for at most
 * 2 s, so the caller must not ignore SIGCHLD. Errors name the file and the field. On success
 * *out is the caller's, to free with dew_stack_free().
 */
int dew_stack_load(const char *stacks_dir, const char *name, bool probe, struct dew_stack **out,
		   struct dew_error **err);
void dew_stack_free(struct dew_stack *stack);

/* Copy the stack's rootfs and mounts into spec (which owns the copies). */
void dew_stack_apply(const struct dew_stack *stack, struct dewrt_spec *spec);

#endif
