/* SPDX-License-Identifier: MIT */
/*
 * Typed getters over jansson for messages from outside (bus payloads, REST bodies, state
 * files): each checks presence, type, range and size and says exactly what was wrong, in the
 * words a client sees ("field `memory` must be between 1 and 65536").
 */
#ifndef DEW_JSON_H
#define DEW_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Flags of the getters. */
enum {
	DEW_JSON_REQUIRED = 0,
	DEW_JSON_OPTIONAL = 1,
};

/*
 * Parse len bytes of buf (need not be NUL-terminated) as a JSON object or array. Duplicate keys
 * and NUL bytes in strings are rejected. Returns a new reference, or NULL with *err set to
 * "invalid JSON at line L, column C: <reason>" (EINVAL). The caller bounds len.
 */
json_t *dew_json_parse(const char *buf, size_t len, struct dew_error **err);

/*
 * The getters below share one contract. They look up key in obj and return:
 *   0   found and valid; *out is set,
 *   1   absent (or JSON null) and flags has DEW_JSON_OPTIONAL; *out is untouched,
 *   <0  a negative errno (EINVAL) with *err set: obj is not an object, the field is required
 *       and absent or null, has the wrong type, or breaks a bound.
 * Pointers stored in *out are borrowed from obj (valid while obj lives), except for
 * dew_json_get_string_array(), which hands out an owned copy.
 */

/* A string of at most max_len bytes (0: no limit) with no NUL inside. */
int dew_json_get_string(const json_t *obj, const char *key, unsigned flags, size_t max_len, const char **out,
			struct dew_error **err);

/* An integer (not a real) with min <= value <= max. */
int dew_json_get_int(const json_t *obj, const char *key, unsigned flags, json_int_t min, json_int_t max,
		     json_int_t *out, struct dew_error **err);

/* A boolean (true or false). */
int dew_json_get_bool(const json_t *obj, const char *key, unsigned flags, bool *out, struct dew_error **err);

/* An object; *out is a borrowed reference. */
int dew_json_get_object(const json_t *obj, const char *key, unsigned flags, json_t **out,
			struct dew_error **err);

/* An array of at most max_items items (0: no limit); *out is a borrowed reference. */
int dew_json_get_array(const json_t *obj, const char *key, unsigned flags, size_t max_items, json_t **out,
		       struct dew_error **err);

/*
 * An array of at most max_items (0: no limit) strings of at most max_len bytes each (0: no
 * limit). *out receives a NULL-terminated copy that the caller frees with dew_strv_free().
 */
int dew_json_get_string_array(const json_t *obj, const char *key, unsigned flags, size_t max_items,
			      size_t max_len, char ***out, struct dew_error **err);

/* Free a NULL-terminated array of strings and the strings; NULL is fine. */
void dew_strv_free(char **v);

/* Compact text of any JSON value; the caller frees it. Never NULL (aborts on out-of-memory). */
char *dew_json_dumps(const json_t *v);

static inline void dew__strv_freep(char ***v)
{
	dew_strv_free(*v);
}
#define cleanup_strv __attribute__((cleanup(dew__strv_freep)))

#endif
