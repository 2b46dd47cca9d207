/* SPDX-License-Identifier: MIT */
/*
 * router.register and router.unregister payloads (DESIGN.md section 5.1): {host, port, uris[],
 * app, private_instance_id, private_instance_index?, tags{}, stale_threshold_in_seconds?,
 * options{loadbalancing}?}. Every field is checked for type, size and characters before it is
 * used, since ids end up in HTTP headers and cookies.
 */
#ifndef ROUTER_REGMSG_H
#define ROUTER_REGMSG_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"
#include "table.h"

enum {
	REGMSG_MAX_BYTES = 64 * 1024,
	REGMSG_MAX_URIS = 256,
};

struct regmsg {
	json_t *root;		 /* owns the strings below */
	char **uris;		 /* owned, NULL-terminated */
	struct table_ep_info ep; /* ip, ids borrowed from root */
};

/*
 * Parse and check a payload of len bytes. Returns 0, or -EINVAL with *err saying which field is
 * wrong. Release m with regmsg_close() either way.
 */
int regmsg_parse(const char *data, size_t len, struct regmsg *m, struct dew_error **err);
void regmsg_close(struct regmsg *m);

#endif
