/* SPDX-License-Identifier: MIT */
/*
 * manifest.yml (dew-manifest(5)): the Cloud Foundry shape, read with libyaml.
 *
 *   applications:
 *   - name: web
 *     path: web            # relative to the manifest's directory
 *     memory: 256M         # or 1G, or a number of MB
 *     disk_quota: 1G
 *     instances: 2
 *     command: python3 app.py
 *     buildpack: python
 *     stack: host
 *     env: {GREETING: hello}
 *     routes: [{route: web.example.com}]
 *     no-route: false
 */
#ifndef DEW_CLI_MANIFEST_H
#define DEW_CLI_MANIFEST_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* One app of a manifest; what the manifest does not say is NULL or -1. */
struct manifest_app {
	char *name, *path; /* path: made absolute against the manifest's directory */
	char *command, *buildpack, *stack;
	int64_t memory, disk, instances; /* MB, MB, count */
	json_t *env;			 /* an object of strings */
	json_t *routes;			 /* an array of host names */
	int no_route;			 /* -1, 0 or 1 */
	size_t line;			 /* where the app starts in the file, from 1 */
};

struct manifest {
	struct manifest_app *apps;
	size_t n;
	char *file; /* as given, for messages */
};

/*
 * Parse the len bytes of text, read from file (named in errors) in the directory dir (relative
 * paths of the apps are joined to it). 0 with *m filled, or -EINVAL with *err naming the line:
 * "manifest.yml:4: `memory` must be a size such as 256M or 1G". Unknown keys of an app are
 * reported to warn (may be NULL), one line each, and otherwise ignored.
 */
int manifest_parse(const char *text, size_t len, const char *file, const char *dir, struct manifest *m,
		   FILE *warn, struct dew_error **err);
/* Read and parse the file at path (at most 1 MiB). */
int manifest_load(const char *path, struct manifest *m, FILE *warn, struct dew_error **err);
void manifest_free(struct manifest *m);
/* Keep only the app at index i (the others are freed). */
void manifest_select(struct manifest *m, size_t i);

/* A size in MB from "256", "256M", "256MB", "1G", "1GB" (case-insensitive): 0, or -1. */
int manifest_parse_mb(const char *s, int64_t *out);

#endif
