/* SPDX-License-Identifier: MIT */
/*
 * The staging executor (DESIGN.md section 8): unpack an app package, run the buildpacks'
 * detect/compile/release inside a dew container with memory and time limits and no network,
 * stream the staging log line by line, and pack the droplet (app/ plus droplet.json) with its
 * SHA-256. The DEA calls it for `staging` requests; `dew-run stage` drives it by hand.
 */
#ifndef DEW_STAGING_H
#define DEW_STAGING_H

#include <stdint.h>

#include "dewrt.h"
#include "error.h"
#include "stack.h"

struct dew_stage_request {
	const char *package; /* the app package: tar (gz, zstd) or zip */
	const struct dew_stack *stack;
	const char *buildpacks_dir; /* holds <name>/bin/{detect,compile,release} and `stage` */
	const char *buildpack;	    /* NULL: detect */
	const char *start_command;  /* NULL: the Procfile's or the buildpack's */
	char *const *env;	    /* the app's own "K=V" (NULL-terminated; may be NULL) */
	const char *services_json;  /* VCAP_SERVICES; NULL: "{}" */
	uint64_t memory_mb;	    /* 0: 1024 */
	uint64_t disk_mb;	    /* size limit of the app dir after compile; 0: 4096 */
	uint64_t timeout_ms;	    /* 0: 15 minutes */
	const char *work_dir;	    /* an empty scratch directory the caller removes afterwards */
	const char *droplet;	    /* where to write the droplet */
	void (*on_log)(const char *line, void *data); /* each staging log line, without newline */
	void *log_data;
};

enum dew_stage_failure {
	DEW_STAGE_OK,
	DEW_STAGE_NO_BUILDPACK, /* no buildpack detected the app */
	DEW_STAGE_UNKNOWN_BUILDPACK,
	DEW_STAGE_COMPILE_FAILED,
	DEW_STAGE_RELEASE_INVALID,
	DEW_STAGE_TIMEOUT,
	DEW_STAGE_OOM,	       /* the memory limit ended staging */
	DEW_STAGE_TOO_BIG,     /* the compiled app exceeds disk_mb */
	DEW_STAGE_BAD_PACKAGE, /* the package could not be unpacked safely */
	DEW_STAGE_ERROR,       /* the platform failed (not the app) */
};

struct dew_stage_result {
	enum dew_stage_failure failure;
	char *buildpack;     /* owned */
	char *start_command; /* owned */
	char *process_types; /* JSON object text, owned */
	char sha256[65];     /* of the droplet file */
	uint64_t size;	     /* bytes of the droplet file */
};

/* A short name of a failure ("no buildpack detected", "compile failed", …). */
const char *dew_stage_failure_name(enum dew_stage_failure f);

/*
 * Stage req with the runtime rt. Returns 0 (res filled, the droplet written) or a negative
 * errno with *err saying why in one line and res->failure telling which kind of failure.
 */
int dew_stage(struct dewrt_context *rt, const struct dew_stage_request *req, struct dew_stage_result *res,
	      struct dew_error **err);
void dew_stage_result_close(struct dew_stage_result *res);

#endif
