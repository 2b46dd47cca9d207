/* SPDX-License-Identifier: MIT */
/*
 * Droplet packing (droplet.c): app/ plus droplet.json in one compressed tar.
 */
#ifndef DEW_DROPLET_H
#define DEW_DROPLET_H

#include <stdint.h>

#include "error.h"

/*
 * Pack app_dir as app/ and manifest_json as droplet.json into out (replaced atomically);
 * more than max_bytes of file data is -EFBIG. The SHA-256 and size of the file written are
 * returned.
 */
int dew_droplet_pack(const char *app_dir, const char *manifest_json, uint64_t max_bytes, const char *out,
		     char sha256[65], uint64_t *size, struct dew_error **err);

#endif
