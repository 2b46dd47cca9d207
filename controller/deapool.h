/* SPDX-License-Identifier: MIT */
/*
 * The controller's view of the DEAs (DESIGN.md section 5.1) and placement. Fed by dea.advertise
 * {id, stacks[], available_memory, available_disk, app_id_to_count{}, placement_tags[], buildpacks[]?}
 * (MB);
 * an entry expires when its DEA missed 3 advertise intervals. Placement picks, for one instance,
 * a DEA that offers the stack and has room for its memory and disk, preferring the fewest
 * instances of the same app, then the most free memory (so instances spread across DEAs), then
 * the id (deterministic). A placement reserves locally until that DEA's next advertisement, so
 * a burst of starts does not pile onto one DEA. Pure logic: no I/O, no loop.
 */
#ifndef DEW_CONTROLLER_DEAPOOL_H
#define DEW_CONTROLLER_DEAPOOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct dea_pool;

struct dea_pool *dea_pool_new(void);
void dea_pool_free(struct dea_pool *p);

/* Record an advertisement received at now_ms. A malformed one is -EINVAL with *err naming the
 * field, and changes nothing; a new DEA when the pool already holds 4096 is -ENOSPC. */
int dea_pool_advertise(struct dea_pool *p, const json_t *msg, uint64_t now_ms, struct dew_error **err);
/* Forget DEAs not heard from since now_ms - ttl_ms. */
void dea_pool_expire(struct dea_pool *p, uint64_t now_ms, uint64_t ttl_ms);
/* Forget one DEA (it said it is evacuating or shutting down). */
void dea_pool_remove(struct dea_pool *p, const char *dea_id);

/*
 * Place one instance of app_guid. avoid: NULL-terminated DEA ids not to use (may be NULL).
 * Returns the chosen DEA's id (valid until the pool changes) and reserves the instance on it,
 * or NULL with *why (caller frees) saying why in one line: "no DEA offers stack `x`", "no DEA has
 * 512 MB of memory free (most free: 256 MB)", "no DEA has 2048 MB of disk free (...)", or that
 * memory and disk are free only on different DEAs. Negative sizes count as 0.
 */
const char *dea_pool_place(struct dea_pool *p, const char *app_guid, const char *stack, int64_t memory_mb,
			   int64_t disk_mb, char *const *avoid, char **why);

/* Stacks any DEA offers, sorted, no duplicates (NULL-terminated; dew_strv_free). */
char **dea_pool_stacks(const struct dea_pool *p);
/* Buildpacks any DEA offers for staging, sorted, no duplicates (NULL-terminated; dew_strv_free). */
char **dea_pool_buildpacks(const struct dea_pool *p);
size_t dea_pool_count(const struct dea_pool *p);
/* [{id, stacks, available_memory, available_disk, instances, age_ms}] for /v1/info and admins. */
json_t *dea_pool_json(const struct dea_pool *p, uint64_t now_ms);

#endif
