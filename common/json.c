// SPDX-License-Identifier: MIT
/*
 * JSON parsing and typed field getters over jansson. JSON null counts as absent, since
 * clients commonly send `"version": null` for "not given".
 */
#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Parse bounded JSON text into a new reference (see json.h). */
json_t *dew_json_parse(const char *buf, size_t len, struct dew_error **err)
{
	json_error_t jerr;
	/* json_loadb() takes a length, so buf need not be NUL-terminated; without JSON_ALLOW_NUL
	 * a \u0000 escape is rejected, so every string can be used as a C string. */
	json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!v)
		dew_error_set(err, 0, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
			      jerr.text);
	return v;
}

/*
 * Look key up in obj. Returns 0 with *v set when present and not null, 1 when absent and
 * optional, or a negative errno with *err set.
 */
static int lookup(const json_t *obj, const char *key, unsigned flags, json_t **v, struct dew_error **err)
{
	if (!json_is_object(obj))
		return dew_error_set(err, 0, "cannot read field `%s`: not a JSON object", key);
	json_t *f = json_object_get(obj, key);
	if (!f || json_is_null(f)) {
		if (flags & DEW_JSON_OPTIONAL)
			return 1;
		return dew_error_set(err, 0, "field `%s` is required", key);
	}
	*v = f;
	return 0;
}

/* Check one string value against NUL bytes and max_len; name is how messages call it. */
static int check_string(const json_t *v, const char *name, size_t max_len, struct dew_error **err)
{
	size_t len = json_string_length(v);

	if (strlen(json_string_value(v)) != len)
		return dew_error_set(err, 0, "field `%s` contains a NUL byte", name);
	if (max_len && len > max_len)
		return dew_error_set(err, 0, "field `%s` is longer than %zu bytes", name, max_len);
	return 0;
}

/* Get a bounded string field (see json.h). */
int dew_json_get_string(const json_t *obj, const char *key, unsigned flags, size_t max_len, const char **out,
			struct dew_error **err)
{
	json_t *v = NULL;
	int r = lookup(obj, key, flags, &v, err);

	if (r != 0)
		return r;
	if (!json_is_string(v))
		return dew_error_set(err, 0, "field `%s` must be a string", key);
	r = check_string(v, key, max_len, err);
	if (r < 0)
		return r;
	*out = json_string_value(v);
	return 0;
}

/* Get an integer field within [min, max] (see json.h). */
int dew_json_get_int(const json_t *obj, const char *key, unsigned flags, json_int_t min, json_int_t max,
		     json_int_t *out, struct dew_error **err)
{
	json_t *v = NULL;
	int r = lookup(obj, key, flags, &v, err);

	if (r != 0)
		return r;
	if (!json_is_integer(v))
		return dew_error_set(err, 0, "field `%s` must be an integer", key);
	json_int_t i = json_integer_value(v);
	if (i < min || i > max)
		return dew_error_set(err, 0,
				     "field `%s` must be between %" JSON_INTEGER_FORMAT
				     " and %" JSON_INTEGER_FORMAT,
				     key, min, max);
	*out = i;
	return 0;
}

/* Get a boolean field (see json.h). */
int dew_json_get_bool(const json_t *obj, const char *key, unsigned flags, bool *out, struct dew_error **err)
{
	json_t *v = NULL;
	int r = lookup(obj, key, flags, &v, err);

	if (r != 0)
		return r;
	if (!json_is_boolean(v))
		return dew_error_set(err, 0, "field `%s` must be a boolean", key);
	*out = json_is_true(v);
	return 0;
}

/* Get an object field as a borrowed reference (see json.h). */
int dew_json_get_object(const json_t *obj, const char *key, unsigned flags, json_t **out,
			struct dew_error **err)
{
	json_t *v = NULL;
	int r = lookup(obj, key, flags, &v, err);

	if (r != 0)
		return r;
	if (!json_is_object(v))
		return dew_error_set(err, 0, "field `%s` must be an object", key);
	*out = v;
	return 0;
}

/* Get a bounded array field as a borrowed reference (see json.h). */
int dew_json_get_array(const json_t *obj, const char *key, unsigned flags, size_t max_items, json_t **out,
		       struct dew_error **err)
{
	json_t *v = NULL;
	int r = lookup(obj, key, flags, &v, err);

	if (r != 0)
		return r;
	if (!json_is_array(v))
		return dew_error_set(err, 0, "field `%s` must be an array", key);
	if (max_items && json_array_size(v) > max_items)
		return dew_error_set(err, 0, "field `%s` has more than %zu items", key, max_items);
	*out = v;
	return 0;
}

/* Copy a bounded array of bounded strings (see json.h). */
int dew_json_get_string_array(const json_t *obj, const char *key, unsigned flags, size_t max_items,
			      size_t max_len, char ***out, struct dew_error **err)
{
	json_t *arr = NULL, *item;
	size_t i;
	int r = lookup(obj, key, flags, &arr, err);

	if (r != 0)
		return r;
	if (!json_is_array(arr))
		return dew_error_set(err, 0, "field `%s` must be an array of strings", key);
	if (max_items && json_array_size(arr) > max_items)
		return dew_error_set(err, 0, "field `%s` has more than %zu items", key, max_items);

	/* Validate everything before allocating, so an error leaves nothing to free. */
	json_array_foreach (arr, i, item) {
		if (!json_is_string(item))
			return dew_error_set(err, 0, "field `%s` must be an array of strings", key);
		cleanup_free char *name = xasprintf("%s[%zu]", key, i);
		r = check_string(item, name, max_len, err);
		if (r < 0)
			return r;
	}
	char **v = xcalloc(json_array_size(arr) + 1, sizeof *v);
	json_array_foreach (arr, i, item)
		v[i] = xstrdup(json_string_value(item));
	*out = v;
	return 0;
}

/* Free a NULL-terminated string vector. */
void dew_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* Serialise any value compactly (see json.h). */
char *dew_json_dumps(const json_t *v)
{
	/* JSON_ENCODE_ANY: scalars too. jansson returns NULL only when allocation fails or v is
	 * NULL or holds an invalid value (NaN is refused at creation), both broken invariants. */
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		abort();
	return s;
}
