// SPDX-License-Identifier: MIT
/*
 * The REST API's route table and what every handler shares: bearer-token authentication,
 * {code, description} error answers, store errors mapped to statuses, and body parsing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "auth.h"
#include "controller.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

const struct dew_http_route api_routes[] = {
	{ "GET", "/v1/info", api_info, NULL, NULL, 0 },
	{ "POST", "/v1/users", api_users_create, NULL, NULL, 0 },
	{ "POST", "/v1/tokens", api_tokens_create, NULL, NULL, 0 },
	{ "DELETE", "/v1/tokens/current", api_tokens_delete, NULL, NULL, 0 },
	{ "GET", "/v1/apps", api_apps_list, NULL, NULL, 0 },
	{ "POST", "/v1/apps", api_apps_create, NULL, NULL, 0 },
	{ "GET", "/v1/apps/:name", api_apps_get, NULL, NULL, 0 },
	{ "PUT", "/v1/apps/:name", api_apps_update, NULL, NULL, 0 },
	{ "DELETE", "/v1/apps/:name", api_apps_delete, NULL, NULL, 0 },
	{ "POST", "/v1/resource_match", api_resource_match, NULL, NULL, API_MATCH_MAX_BODY },
	{ "GET", "/v1/apps/:name/staging_log", api_apps_staging_log, NULL, NULL, 0 },
	{ "GET", "/v1/routes", api_routes_list, NULL, NULL, 0 },
	{ "POST", "/v1/routes", api_routes_create, NULL, NULL, 0 },
	{ "DELETE", "/v1/routes/:host", api_routes_delete, NULL, NULL, 0 },
	{ "GET", "/v1/apps/:name/instances", api_apps_instances, NULL, NULL, 0 },
	{ "GET", "/v1/apps/:name/stats", api_apps_stats, NULL, NULL, 0 },
	{ "GET", "/v1/apps/:name/crashes", api_apps_crashes, NULL, NULL, 0 },
	{ "GET", "/v1/apps/:name/logs", api_apps_logs, NULL, NULL, 0 },
	{ "GET", "/v1/apps/:name/files/*", api_apps_files, NULL, NULL, 0 },
	{ "PUT", "/v1/apps/:name/package", api_apps_package, NULL, NULL, 0 },
	{ "PUT", "/v1/apps/:name/bits", api_bits_begin, api_bits_body, api_bits_end, API_BITS_MAX_BODY },
	{ "GET", "/v1/internal/desired", api_internal_desired, NULL, NULL, 0 },
	{ "GET", "/v1/internal/desired/:guid", api_internal_desired_app, NULL, NULL, 0 },
	{ "GET", "/v1/internal/packages/:sha256", api_internal_package_get, NULL, NULL, 0 },
	{ "GET", "/v1/internal/droplets/:sha256", api_internal_droplet_get, NULL, NULL, 0 },
	{ "PUT", "/v1/internal/droplets/:guid", api_internal_droplet_put, api_internal_droplet_body,
	  api_internal_droplet_end, API_DROPLET_MAX_BODY },
};
const size_t api_n_routes = DEW_ARRAY_SIZE(api_routes);

struct cc *api_cc(struct dew_http_req *req)
{
	return req->server_data;
}

void cc_user_clear(struct cc_user *u)
{
	free(u->name);
	memset(u, 0, sizeof(*u));
}

void api_error(struct dew_http_req *req, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	dew_http_respond_error(req, status, status, "%s", msg);
}

void api_store_error(struct dew_http_req *req, int r, const struct dew_error *err, const char *what)
{
	switch (r) {
	case -ENOENT:
		api_error(req, 404, "%s not found", what);
		break;
	case -EEXIST:
		api_error(req, 409, "%s exists already", what);
		break;
	case -ESTALE:
		api_error(req, 412, "%s was changed by someone else: read it again and retry", what);
		break;
	default:
		dew_err("%s %s: %s", req->method, req->path,
			err ? dew_error_msg((struct dew_error *)err) : strerror(-r));
		api_error(req, 500, "the controller could not complete the request (see its log)");
	}
}

json_t *api_body_object(struct dew_http_req *req)
{
	cleanup_error struct dew_error *err = NULL;
	json_t *j = req->body_len ? dew_json_parse(req->body, req->body_len, &err) : NULL;
	if (!j) {
		api_error(req, 400, "the body must be a JSON object: %s",
			  err ? dew_error_msg(err) : "it is empty");
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		api_error(req, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

bool api_auth(struct dew_http_req *req, struct cc_user *u)
{
	struct cc *cc = api_cc(req);
	const char *h = dew_http_header(req, "Authorization");
	memset(u, 0, sizeof(*u));
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !auth_token_valid(h + 7)) {
		cc->n.auth_failures++;
		dew_http_add_header(req, "WWW-Authenticate", "Bearer");
		api_error(req, 401, "not logged in: run `dew login`");
		return false;
	}
	char digest[65];
	auth_token_digest(h + 7, digest);
	int64_t user_id = 0, expires = 0;
	cleanup_error struct dew_error *err = NULL;
	int r = store_token_lookup(cc->store, digest, &user_id, &expires, &err);
	if (r == 0 && expires < (int64_t)time(NULL))
		r = -ETIMEDOUT;
	struct store_user su = { 0 };
	if (r == 0)
		r = store_user_get(cc->store, user_id, &su, &err);
	if (r == -ENOENT || r == -ETIMEDOUT) {
		cc->n.auth_failures++;
		dew_http_add_header(req, "WWW-Authenticate", "Bearer");
		api_error(req, 401, "%s: run `dew login`",
			  r == -ETIMEDOUT ? "token expired" : "not logged in");
		return false;
	}
	if (r < 0) {
		api_store_error(req, r, err, "user");
		return false;
	}
	u->id = su.id;
	u->name = steal_pointer(&su.name);
	u->admin = su.admin;
	store_user_clear(&su);
	return true;
}

void api_count_response(const struct dew_http_req *req, int status)
{
	struct cc *cc = api_cc((struct dew_http_req *)req);
	char key[160];
	/* The route's pattern, never the path: the label set stays as small as the route table. */
	snprintf(key, sizeof key, "%.16s\t%s\t%d", req->method, req->route ? req->route->pattern : "(none)",
		 status);
	json_t *n = json_object_get(cc->requests, key);
	if (n)
		json_integer_set(n, json_integer_value(n) + 1);
	else
		json_object_set_new(cc->requests, key, json_integer(1));
}

void api_write_metrics(struct cc *cc, struct dew_buf *out)
{
	const char *key;
	json_t *n;
	dew_metrics_header(out, "dew_controller_requests_total", DEW_METRIC_COUNTER,
			   "API requests answered, by route pattern, method and status.");
	json_object_foreach (cc->requests, key, n) {
		char copy[160];
		snprintf(copy, sizeof copy, "%s", key);
		char *route = strchr(copy, '\t');
		char *status = route ? strchr(route + 1, '\t') : NULL;
		if (!status)
			continue;
		*route++ = '\0';
		*status++ = '\0';
		const char *labels[] = { "method", copy, "route", route, "status", status, NULL };
		dew_metrics_sample(out, "dew_controller_requests_total", labels,
				   (double)json_integer_value(n));
	}
}
