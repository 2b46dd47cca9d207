// SPDX-License-Identifier: MIT
/*
 * Parsing of router.register / router.unregister (regmsg.h).
 */
#include "regmsg.h"

#include <errno.h>
#include <string.h>

#include "json.h"

/* Ids travel in X-CF-* headers and the __VCAP_ID__ cookie: a conservative alphabet. */
static bool regmsg_id_ok(const char *s)
{
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == strlen(s);
}

static int regmsg_id(const json_t *o, const char *key, const char **out, struct dew_error **err)
{
	int r = dew_json_get_string(o, key, DEW_JSON_OPTIONAL, TABLE_MAX_ID, out, err);
	if (r == 0 && !regmsg_id_ok(*out))
		return dew_error_set(err, EINVAL,
				     "field `%s` may hold only letters, digits, '-', '_', '.', ':'", key);
	return r < 0 ? r : 0;
}

static int regmsg_options(const json_t *root, struct regmsg *m, struct dew_error **err)
{
	json_t *opts = NULL;
	const char *lb = NULL;
	int r = dew_json_get_object(root, "options", DEW_JSON_OPTIONAL, &opts, err);
	if (r != 0)
		return r < 0 ? r : 0;
	r = dew_json_get_string(opts, "loadbalancing", DEW_JSON_OPTIONAL, 32, &lb, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if (strcmp(lb, "round-robin") == 0)
		m->ep.lb = TABLE_LB_ROUND_ROBIN;
	else if (strcmp(lb, "least-connection") == 0)
		m->ep.lb = TABLE_LB_LEAST_CONN;
	else
		return dew_error_set(err, EINVAL,
				     "options.loadbalancing must be round-robin or least-connection");
	return 0;
}

int regmsg_parse(const char *data, size_t len, struct regmsg *m, struct dew_error **err)
{
	memset(m, 0, sizeof(*m));
	m->ep.instance_index = -1;
	if (len > REGMSG_MAX_BYTES)
		return dew_error_set(err, EINVAL, "message of %zu bytes (at most %d)", len, REGMSG_MAX_BYTES);
	m->root = dew_json_parse(data, len, err);
	if (!m->root)
		return -EINVAL;
	if (!json_is_object(m->root))
		return dew_error_set(err, EINVAL, "not a JSON object");
	json_int_t port = 0, index = -1, stale = 0;
	json_t *tags = NULL;
	int r;
	if ((r = dew_json_get_string(m->root, "host", 0, TABLE_MAX_ADDR - 8, &m->ep.ip, err)) < 0 ||
	    (r = dew_json_get_int(m->root, "port", 0, 1, 65535, &port, err)) < 0 ||
	    (r = dew_json_get_string_array(m->root, "uris", 0, REGMSG_MAX_URIS,
					   TABLE_MAX_HOST + TABLE_MAX_PATH + 1, &m->uris, err)) < 0 ||
	    (r = regmsg_id(m->root, "app", &m->ep.app_id, err)) < 0 ||
	    (r = regmsg_id(m->root, "private_instance_id", &m->ep.instance_id, err)) < 0 ||
	    (r = dew_json_get_int(m->root, "private_instance_index", DEW_JSON_OPTIONAL, 0, 1000000, &index,
				  err)) < 0 ||
	    (r = dew_json_get_int(m->root, "stale_threshold_in_seconds", DEW_JSON_OPTIONAL, 1, 86400, &stale,
				  err)) < 0 ||
	    (r = dew_json_get_object(m->root, "tags", DEW_JSON_OPTIONAL, &tags, err)) < 0 ||
	    (r = regmsg_options(m->root, m, err)) < 0)
		return r;
	if (!m->uris[0])
		return dew_error_set(err, EINVAL, "field `uris` is empty");
	char host[TABLE_MAX_HOST + 1], path[TABLE_MAX_PATH + 1];
	for (size_t i = 0; m->uris[i]; i++)
		if (table_parse_uri(m->uris[i], host, path) < 0)
			return dew_error_set(err, EINVAL, "uris[%zu] is not a valid route: `%.80s`", i,
					     m->uris[i]);
	m->ep.port = (int)port;
	m->ep.instance_index = index;
	m->ep.threshold_ms = (uint64_t)stale * 1000;
	return 0;
}

void regmsg_close(struct regmsg *m)
{
	dew_strv_free(m->uris);
	json_decref(m->root);
	m->uris = NULL;
	m->root = NULL;
}
