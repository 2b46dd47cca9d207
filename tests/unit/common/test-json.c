// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/json.c: parsing (errors with line and column, duplicates, unterminated
 * buffers) and each typed getter on found, absent, optional, null, wrong type and bounds, with
 * the exact messages clients see.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "json.h"
#include "tap.h"

static json_t *parse(const char *text)
{
	struct dew_error *err = NULL;
	json_t *v = dew_json_parse(text, strlen(text), &err);

	if (!v)
		tap_diag("parse `%s`: %s", text, dew_error_msg(err));
	dew_error_free(err);
	return v;
}

static void test_parse(void)
{
	struct dew_error *err = NULL;
	json_t *v;

	/* Not NUL-terminated: the byte after the object must not be read as part of it. */
	char buf[] = { '{', '"', 'a', '"', ':', '1', '}', 'x' };
	v = dew_json_parse(buf, 7, &err);
	tap_ok(v && json_integer_value(json_object_get(v, "a")) == 1, "parse honours len");
	json_decref(v);

	v = dew_json_parse("{\"a\": tru}", 10, &err);
	tap_ok(v == NULL, "bad JSON is refused");
	tap_ok(err && strncmp(err->msg, "invalid JSON at line 1, column ", 31) == 0,
	       "message has line and column: %s", dew_error_msg(err));
	tap_is_int(err ? err->code : 0, EINVAL, "code EINVAL");
	dew_error_clear(&err);

	v = dew_json_parse("{\n  \"a\": 1,\n  \"b\": }", 20, &err);
	tap_has_str(dew_error_msg(err), "invalid JSON at line 3, column ", "error on line 3");
	dew_error_clear(&err);

	v = dew_json_parse("{\"a\": 1, \"a\": 2}", 16, &err);
	tap_ok(v == NULL, "duplicate keys are refused");
	tap_has_str(dew_error_msg(err), "duplicate object key", "message says duplicate");
	dew_error_clear(&err);

	v = dew_json_parse("{\"a\": \"x\\u0000y\"}", 17, &err);
	tap_ok(v == NULL, "NUL escape in a string is refused");
	dew_error_clear(&err);

	v = dew_json_parse("{} []", 5, &err);
	tap_ok(v == NULL, "trailing data is refused");
	dew_error_clear(&err);

	v = dew_json_parse("", 0, &err);
	tap_ok(v == NULL && err, "empty input is refused");
	dew_error_clear(&err);
}

/* Run getter-independent checks: obj that is not an object. */
static void test_not_object(void)
{
	json_auto_t *arr = parse("[1]");
	struct dew_error *err = NULL;
	const char *s = NULL;

	tap_is_int(dew_json_get_string(arr, "name", DEW_JSON_OPTIONAL, 0, &s, &err), -EINVAL,
		   "array is not an object");
	tap_is_str(dew_error_msg(err), "cannot read field `name`: not a JSON object", "not-object message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_string(NULL, "name", 0, 0, &s, &err), -EINVAL, "NULL is not an object");
	dew_error_clear(&err);
}

static void test_string(void)
{
	json_auto_t *o = parse("{\"name\": \"web\", \"memory\": 5, \"nul\": null}");
	struct dew_error *err = NULL;
	const char *s = "untouched";

	tap_is_int(dew_json_get_string(o, "name", DEW_JSON_REQUIRED, 64, &s, &err), 0, "string found");
	tap_is_str(s, "web", "string value");
	s = "untouched";
	tap_is_int(dew_json_get_string(o, "other", DEW_JSON_OPTIONAL, 64, &s, &err), 1,
		   "optional absent -> 1");
	tap_is_str(s, "untouched", "optional absent leaves out");
	tap_is_int(dew_json_get_string(o, "nul", DEW_JSON_OPTIONAL, 64, &s, &err), 1,
		   "null counts as absent");
	tap_ok(err == NULL, "no error for an absent optional field");

	tap_is_int(dew_json_get_string(o, "other", DEW_JSON_REQUIRED, 64, &s, &err), -EINVAL,
		   "required absent");
	tap_is_str(dew_error_msg(err), "field `other` is required", "required message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_string(o, "nul", DEW_JSON_REQUIRED, 64, &s, &err), -EINVAL, "required null");
	tap_is_str(dew_error_msg(err), "field `nul` is required", "required null message");
	dew_error_clear(&err);

	tap_is_int(dew_json_get_string(o, "memory", 0, 64, &s, &err), -EINVAL, "wrong type");
	tap_is_str(dew_error_msg(err), "field `memory` must be a string", "wrong type message");
	dew_error_clear(&err);

	tap_is_int(dew_json_get_string(o, "name", 0, 2, &s, &err), -EINVAL, "too long");
	tap_is_str(dew_error_msg(err), "field `name` is longer than 2 bytes", "too long message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_string(o, "name", 0, 3, &s, &err), 0, "exactly max_len is fine");
	tap_is_int(dew_json_get_string(o, "name", 0, 0, &s, &err), 0, "max_len 0 means no limit");

	/* Built by code rather than parsed: a NUL inside the string. */
	json_auto_t *n = json_object();
	json_object_set_new(n, "name", json_stringn("a\0b", 3));
	tap_is_int(dew_json_get_string(n, "name", 0, 0, &s, &err), -EINVAL, "NUL inside is refused");
	tap_is_str(dew_error_msg(err), "field `name` contains a NUL byte", "NUL message");
	dew_error_clear(&err);
}

static void test_int(void)
{
	json_auto_t *o =
		parse("{\"memory\": 256, \"big\": 70000, \"real\": 1.5, \"str\": \"1\", \"neg\": -3}");
	struct dew_error *err = NULL;
	json_int_t v = -1;

	tap_is_int(dew_json_get_int(o, "memory", 0, 1, 65536, &v, &err), 0, "int found");
	tap_is_int(v, 256, "int value");
	v = -1;
	tap_is_int(dew_json_get_int(o, "absent", DEW_JSON_OPTIONAL, 1, 65536, &v, &err), 1,
		   "optional absent");
	tap_is_int(v, -1, "optional absent leaves out");
	tap_is_int(dew_json_get_int(o, "absent", 0, 1, 65536, &v, &err), -EINVAL, "required absent");
	tap_is_str(dew_error_msg(err), "field `absent` is required", "required message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_int(o, "real", 0, 1, 65536, &v, &err), -EINVAL, "real is not an integer");
	tap_is_str(dew_error_msg(err), "field `real` must be an integer", "integer message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_int(o, "str", 0, 1, 65536, &v, &err), -EINVAL, "string is not an integer");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_int(o, "big", 0, 1, 65536, &v, &err), -EINVAL, "above max");
	tap_is_str(dew_error_msg(err), "field `big` must be between 1 and 65536", "range message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_int(o, "neg", 0, 0, 10, &v, &err), -EINVAL, "below min");
	tap_is_str(dew_error_msg(err), "field `neg` must be between 0 and 10", "range message (min)");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_int(o, "neg", 0, -3, -3, &v, &err), 0, "bounds are inclusive");
	tap_is_int(v, -3, "negative value");
}

static void test_bool(void)
{
	json_auto_t *o = parse("{\"t\": true, \"f\": false, \"one\": 1}");
	struct dew_error *err = NULL;
	bool b = false;

	tap_is_int(dew_json_get_bool(o, "t", 0, &b, &err), 0, "true found");
	tap_ok(b, "true value");
	tap_is_int(dew_json_get_bool(o, "f", 0, &b, &err), 0, "false found");
	tap_ok(!b, "false value");
	b = true;
	tap_is_int(dew_json_get_bool(o, "x", DEW_JSON_OPTIONAL, &b, &err), 1, "optional absent");
	tap_ok(b, "optional absent leaves out");
	tap_is_int(dew_json_get_bool(o, "x", 0, &b, &err), -EINVAL, "required absent");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_bool(o, "one", 0, &b, &err), -EINVAL, "1 is not a boolean");
	tap_is_str(dew_error_msg(err), "field `one` must be a boolean", "boolean message");
	dew_error_clear(&err);
}

static void test_object_array(void)
{
	json_auto_t *o = parse("{\"env\": {\"A\": \"1\"}, \"list\": [1, 2, 3], \"s\": \"x\"}");
	struct dew_error *err = NULL;
	json_t *v = NULL;

	tap_is_int(dew_json_get_object(o, "env", 0, &v, &err), 0, "object found");
	tap_ok(v && json_is_object(v) && json_object_size(v) == 1, "object value");
	v = NULL;
	tap_is_int(dew_json_get_object(o, "x", DEW_JSON_OPTIONAL, &v, &err), 1, "object optional absent");
	tap_ok(v == NULL, "object optional absent leaves out");
	tap_is_int(dew_json_get_object(o, "x", 0, &v, &err), -EINVAL, "object required absent");
	tap_is_str(dew_error_msg(err), "field `x` is required", "object required message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_object(o, "list", 0, &v, &err), -EINVAL, "array is not an object");
	tap_is_str(dew_error_msg(err), "field `list` must be an object", "object message");
	dew_error_clear(&err);

	tap_is_int(dew_json_get_array(o, "list", 0, 3, &v, &err), 0, "array found");
	tap_ok(v && json_array_size(v) == 3, "array value");
	tap_is_int(dew_json_get_array(o, "list", 0, 0, &v, &err), 0, "max_items 0 means no limit");
	tap_is_int(dew_json_get_array(o, "x", DEW_JSON_OPTIONAL, 3, &v, &err), 1, "array optional absent");
	tap_is_int(dew_json_get_array(o, "list", 0, 2, &v, &err), -EINVAL, "too many items");
	tap_is_str(dew_error_msg(err), "field `list` has more than 2 items", "items message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_array(o, "s", 0, 2, &v, &err), -EINVAL, "string is not an array");
	tap_is_str(dew_error_msg(err), "field `s` must be an array", "array message");
	dew_error_clear(&err);
}

static void test_string_array(void)
{
	json_auto_t *o =
		parse("{\"uris\": [\"a.example\", \"bb.example\"], \"empty\": [], \"mixed\": [\"a\", 1],"
		      " \"s\": \"a\"}");
	struct dew_error *err = NULL;
	char **v = NULL;

	tap_is_int(dew_json_get_string_array(o, "uris", 0, 100, 255, &v, &err), 0, "string array found");
	tap_ok(v && strcmp(v[0], "a.example") == 0 && strcmp(v[1], "bb.example") == 0 && v[2] == NULL,
	       "string array copied and NULL-terminated");
	dew_strv_free(v);
	v = NULL;
	tap_is_int(dew_json_get_string_array(o, "empty", 0, 100, 255, &v, &err), 0, "empty array");
	tap_ok(v && v[0] == NULL, "empty array gives an empty vector");
	dew_strv_free(v);
	v = NULL;
	tap_is_int(dew_json_get_string_array(o, "x", DEW_JSON_OPTIONAL, 100, 255, &v, &err), 1,
		   "optional absent");
	tap_ok(v == NULL, "optional absent leaves out");
	tap_is_int(dew_json_get_string_array(o, "x", 0, 100, 255, &v, &err), -EINVAL, "required absent");
	tap_is_str(dew_error_msg(err), "field `x` is required", "required message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_string_array(o, "mixed", 0, 100, 255, &v, &err), -EINVAL, "non-string item");
	tap_is_str(dew_error_msg(err), "field `mixed` must be an array of strings", "item type message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_string_array(o, "s", 0, 100, 255, &v, &err), -EINVAL, "not an array");
	tap_is_str(dew_error_msg(err), "field `s` must be an array of strings", "array type message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_string_array(o, "uris", 0, 1, 255, &v, &err), -EINVAL, "too many");
	tap_is_str(dew_error_msg(err), "field `uris` has more than 1 items", "too many message");
	dew_error_clear(&err);
	tap_is_int(dew_json_get_string_array(o, "uris", 0, 100, 9, &v, &err), -EINVAL, "item too long");
	tap_is_str(dew_error_msg(err), "field `uris[1]` is longer than 9 bytes", "item too long message");
	dew_error_clear(&err);
	tap_ok(v == NULL, "nothing handed out on error");
	tap_is_int(dew_json_get_string_array(o, "uris", 0, 0, 0, &v, &err), 0, "0 limits mean none");
	dew_strv_free(v);
	dew_strv_free(NULL);
}

static void test_dumps(void)
{
	json_auto_t *o = parse("{\"a\": [1, 2], \"b\": {\"c\": \"d\"}}");
	char *s = dew_json_dumps(o);

	tap_is_str(s, "{\"a\":[1,2],\"b\":{\"c\":\"d\"}}", "dumps is compact");
	free(s);
	json_auto_t *n = json_integer(42);
	s = dew_json_dumps(n);
	tap_is_str(s, "42", "dumps of a scalar");
	free(s);
}

int main(void)
{
	test_parse();
	test_not_object();
	test_string();
	test_int();
	test_bool();
	test_object_array();
	test_string_array();
	test_dumps();
	return tap_done();
}
