/* SPDX-License-Identifier: MIT */
/*
 * Ignore rules of `dew push` (.dewignore, .cfignore): gitignore syntax, matched against paths
 * relative to the app's directory. See docs/cli.md, "Ignore files".
 */
#ifndef DEW_CLI_IGNORE_H
#define DEW_CLI_IGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct ignore;

/* An empty rule set (matches nothing). Free with ignore_free. */
struct ignore *ignore_new(void);
void ignore_free(struct ignore *ig);

/*
 * Add the rules of text (len bytes, one pattern a line, gitignore syntax: `#` comments, `!`
 * negation, `*`, `?`, `[...]`, `**`, a leading or inner `/` anchors to the app's directory, a
 * trailing `/` matches directories only). Later rules win over earlier ones.
 */
void ignore_add_rules(struct ignore *ig, const char *text, size_t len);

/* Add the rules of the file at path; a missing file adds nothing. 0, or a negative errno with
 * *err naming the file. */
int ignore_add_file(struct ignore *ig, const char *path, struct dew_error **err);

/* Is path (relative, '/'-separated, no leading '/') ignored? is_dir: path is a directory. */
bool ignore_match(const struct ignore *ig, const char *path, bool is_dir);

#endif
