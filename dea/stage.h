/* SPDX-License-Identifier: MIT */
/*
 * Staging on the DEA (DESIGN.md sections 5.1 and 8): the DEA joins queue group `staging` on
 * subject `staging`, so each request reaches one DEA. For a request
 * {app_id, package_uri, package_sha256, droplet_upload_uri, stack, buildpack?, start_command?,
 *  env{}, services[], memory, disk, log_subject} with a reply subject it
 *   1. downloads the package over HTTP(S) with libcurl into a scratch directory, checking its
 *      SHA-256 while streaming;
 *   2. runs the staging executor (stacks/staging.h, dew_stage) with the request's stack,
 *      buildpack, env, services and memory/disk limits and the configured time limit;
 *   3. streams every staging log line on log_subject as
 *      {app, source: "STG", stream: "out", ts, line} (in order, from the loop thread);
 *   4. uploads the droplet with `PUT droplet_upload_uri` (body: the droplet file,
 *      Content-Type: application/octet-stream, header `X-Droplet-Sha256: <hex>`), expecting 2xx;
 *   5. replies {droplet_sha256, droplet_size, buildpack, start_command, process_types} or
 *      {error, failure} where failure is dew_stage_failure_name() or "download"/"upload"/
 *      "invalid request"/"busy".
 * The blocking steps run on a thread of their own per task (never the loop); at most
 * max_concurrent stagings run at once and further requests are answered {error, failure: "busy"}
 * at once so the controller can retry elsewhere. Malformed requests are answered with a clear
 * {error, failure: "invalid request"} naming the field when there is a reply subject, and only
 * logged when there is none. The scratch directory is always removed.
 */
#ifndef DEW_DEA_STAGE_H
#define DEW_DEA_STAGE_H

#include <stdint.h>
#include <uv.h>

#include "bus-client.h"
#include "error.h"

struct stager;

struct stager_config {
	const char *stacks_dir;	      /* holds <stack>/stack.json and buildpacks/ */
	char *const *stacks;	      /* stacks this DEA stages for (NULL-terminated) */
	const char *runtime_root;     /* libdewrt state root (the stager opens its own context) */
	const char *work_dir;	      /* scratch directories are made below it */
	uint64_t timeout_ms;	      /* staging time limit */
	uint64_t download_timeout_ms; /* package download and droplet upload, each */
	unsigned max_concurrent;      /* 0: 2 */
};

/*
 * Subscribe to `staging` in queue group `staging` on bus and get ready. Returns 0 or -errno with
 * *err set. The stager keeps pointers to cfg's strings: they must outlive it.
 */
int stager_new(uv_loop_t *loop, struct dew_bus *bus, const struct stager_config *cfg, struct stager **out,
	       struct dew_error **err);
/* Unsubscribe; tasks still running finish (their replies are still sent while the loop runs)
 * and then done(arg) is called; the stager frees itself. */
void stager_close(struct stager *s, void (*done)(void *arg), void *arg);

struct stager_stats {
	uint64_t requests, succeeded, failed, busy, running;
};
void stager_get_stats(const struct stager *s, struct stager_stats *out);

#endif
