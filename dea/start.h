/* SPDX-License-Identifier: MIT */
/*
 * The DEA's view of a `dea.<id>.start` message (DESIGN.md section 5.1): parsed and bounded into
 * struct start_msg, and the instance environment Cloud Foundry apps expect (section 8): PORT,
 * VCAP_APP_PORT, VCAP_APP_HOST, MEMORY_LIMIT, VCAP_APPLICATION, VCAP_SERVICES and the user's env.
 */
#ifndef DEW_DEA_START_H
#define DEW_DEA_START_H

#include <stdint.h>
#include <jansson.h>

#include "error.h"

/* Bounds of a start message (DESIGN.md section 5.1). */
enum {
	START_MSG_MAX = 1 << 20, /* bytes of the whole message */
	START_ID_MAX = 64,	 /* droplet, version, instance_id, stack: [A-Za-z0-9_.-] */
	START_NAME_MAX = 255,
	START_URI_MAX = 4096, /* droplet_uri */
	START_COMMAND_MAX = 4096,
	START_INDEX_MAX = 10000,
	START_MEMORY_MAX = 65536,  /* MB */
	START_DISK_DEFAULT = 1024, /* MB */
	START_DISK_MAX = 1048576,  /* MB */
	START_FDS_MIN = 16,
	START_FDS_DEFAULT = 16384,
	START_FDS_MAX = 1048576,
	START_ENV_MAX = 256, /* variables in env */
	START_ENV_NAME_MAX = 255,
	START_ENV_VALUE_MAX = 32 * 1024,
	START_SERVICES_MAX = 64,
	START_TAGS_MAX = 64,
	START_ROUTES_MAX = 64, /* uris */
	START_ROUTE_MAX = 255, /* one of uris: hostname[/path] */
};

/* The PATH an instance gets unless its env sets one. */
#define START_PATH "/home/vcap/app/bin:/usr/local/bin:/usr/bin:/bin"

struct start_msg {
	char *droplet; /* the app id */
	char *name;    /* the app name */
	char *version;
	char *instance_id;
	int64_t index;
	char *droplet_uri;
	char *droplet_sha256; /* 64 lowercase hex */
	char *stack;
	char *start_command; /* may be NULL: the droplet's own */
	int64_t memory_mb, disk_mb, fds;
	char **env;	    /* NULL-terminated "K=V" (from the message's env object) */
	json_t *services;   /* array as sent (owned reference) */
	char **uris;	    /* NULL-terminated */
	char *health_check; /* "port" (default) or "none" */
};

/*
 * Parse and validate a start message: len bytes of JSON text (need not be NUL-terminated).
 * Returns 0 with *out set (the caller frees it with start_msg_free), or a negative errno with
 * *err set and naming the field: -EFBIG for a message over START_MSG_MAX, -EINVAL otherwise.
 * uris come back lowercased; a missing disk, fds or health_check takes its default, and an empty
 * start_command counts as absent.
 */
int start_msg_parse(const char *json, size_t len, struct start_msg **out, struct dew_error **err);
/* Free m and everything it owns; NULL is fine. */
void start_msg_free(struct start_msg *m);

/*
 * Check one route as start messages' uris are checked (hostname[/path], gorouter's rules) and
 * lowercase it in place; i is its position, for the message. 0 or -EINVAL with *err set.
 */
int start_route_check(char *route, size_t i, struct dew_error **err);

/* What the DEA knows about the instance beyond the message. */
struct start_ctx {
	int port;	    /* the port the app must listen on */
	const char *host;   /* the DEA's advertised IP */
	int64_t started_at; /* Unix seconds */
};

/*
 * The instance's environment: NULL-terminated "K=V" strings (caller frees with dew_strv_free).
 * The platform's variables come first, then TMPDIR=/tmp, LANG=C.UTF-8 and PATH=START_PATH unless
 * the user set them, then the user's variables, which never override the platform's: names starting with
 * VCAP_ and PORT, MEMORY_LIMIT and HOME are skipped from the user's env. Never NULL.
 */
char **start_env(const struct start_msg *m, const struct start_ctx *c);

/*
 * VCAP_APPLICATION as a JSON object (new reference); start_env embeds it. Shaped like dea_ng's:
 * `start` and `started_at` are Ruby's Time#to_s in UTC ("2026-11-25 02:30:00 +0000"),
 * `started_at_timestamp` and `state_timestamp` Unix seconds, limits in MB, and `host` the DEA's
 * address as the VCAP DEA set it ("0.0.0.0" when c->host is NULL).
 */
json_t *start_vcap_application(const struct start_msg *m, const struct start_ctx *c);
/*
 * VCAP_SERVICES as a JSON object grouped by label, in the message's order (new reference): each
 * entry {name, label, plan, tags, credentials}, plan only when the message gave one, tags and
 * credentials [] and {} when it did not. Other keys of a service are not passed on.
 */
json_t *start_vcap_services(const struct start_msg *m);

#endif
