// SPDX-License-Identifier: MIT
/*
 * /v1/routes (issue #7): a route is a host name under the controller's domain, unique across all
 * users, mapped to one app of its owner.
 *
 *   GET    /v1/routes          {routes: [{host, app}]}: the caller's (an admin's: everyone's,
 *                              with `owner`)
 *   POST   /v1/routes          {host, app} -> 201 {host, app}; 409 when the host is taken
 *   DELETE /v1/routes/:host    204; 404 for a route the caller does not own
 *
 * The app's running instances take the change at once (dea.update).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "controller.h"
#include "json.h"
#include "log.h"
#include "store.h"

enum { ROUTE_HOST_MAX = 253, ROUTE_LABEL_MAX = 63 };

bool api_dns_label_ok(const char *s, size_t n)
{
	if (n == 0 || n > ROUTE_LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") >= n;
}

char *api_route_refusal(struct cc *cc, const char *host)
{
	size_t hl = strlen(host), dl = strlen(cc->cfg.domain);
	if (hl == 0 || hl > ROUTE_HOST_MAX)
		return xasprintf("must be a lowercase host name of at most %d bytes", ROUTE_HOST_MAX);
	for (const char *p = host; *p;) {
		size_t len = strcspn(p, ".");
		if (!api_dns_label_ok(p, len) || (p[len] == '.' && !p[len + 1]))
			return xstrdup("must be a lowercase host name (labels of a-z, 0-9 and '-')");
		p += len + (p[len] == '.');
	}
	if (hl <= dl + 1 || host[hl - dl - 1] != '.' || strcmp(host + hl - dl, cc->cfg.domain) != 0)
		return xasprintf("`%s` is not a host of the domain `%s`", host, cc->cfg.domain);
	if (hl == dl + 4 && !strncmp(host, "api.", 4))
		return xasprintf("`%s` is the controller's own", host);
	return NULL;
}

void api_routes_list(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	if (!api_auth(req, &u))
		return;
	struct store_route *rs = NULL;
	struct store_app *apps = NULL;
	size_t n = 0, n_apps = 0;
	cleanup_error struct dew_error *err = NULL;
	int64_t owner = u.admin ? -1 : u.id;
	if (store_route_list(cc->store, -1, owner, &rs, &n, &err) < 0 ||
	    store_app_list(cc->store, owner, &apps, &n_apps, &err) < 0) {
		store_route_list_free(rs, n);
		cc_user_clear(&u);
		api_store_error(req, -EIO, err, "routes");
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_pack("{s:s}", "host", rs[i].host);
		for (size_t k = 0; k < n_apps; k++)
			if (apps[k].id == rs[i].app_id)
				json_object_set_new(r, "app", json_string(apps[k].name));
		if (u.admin) {
			struct store_user o = { 0 };
			if (store_user_get(cc->store, rs[i].owner_id, &o, NULL) == 0)
				json_object_set_new(r, "owner", json_string(o.name));
			store_user_clear(&o);
		}
		json_array_append_new(list, r);
	}
	store_route_list_free(rs, n);
	store_app_list_free(apps, n_apps);
	cc_user_clear(&u);
	dew_http_respond_json(req, 200, json_pack("{s:o}", "routes", list));
}

void api_routes_create(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	if (!api_auth(req, &u))
		return;
	json_auto_t *body = api_body_object(req);
	const char *host = NULL, *app = NULL;
	struct store_app a = { 0 };
	cleanup_error struct dew_error *err = NULL;
	cleanup_free char *why = NULL;
	if (!body)
		goto out;
	if (dew_json_get_string(body, "host", DEW_JSON_REQUIRED, 1024, &host, &err) < 0 ||
	    dew_json_get_string(body, "app", DEW_JSON_REQUIRED, 1024, &app, &err) < 0) {
		api_error(req, 422, "%s", dew_error_msg(err));
		goto out;
	}
	if ((why = api_route_refusal(cc, host))) {
		api_error(req, 422, "field `host`: %s", why);
		goto out;
	}
	int r = store_app_get_by_name(cc->store, u.id, app, &a, &err);
	if (r < 0) {
		api_store_error(req, r, err, "app");
		goto out;
	}
	int64_t id = 0;
	r = store_route_create(cc->store, host, a.id, u.id, &id, &err);
	if (r == -EEXIST) {
		api_error(req, 409, "route `%s` is taken", host);
		goto out;
	}
	if (r < 0) {
		api_store_error(req, r, err, "route");
		goto out;
	}
	dew_info("route %s mapped to app %s (%s) by %s", host, a.name, a.guid, u.name);
	lifecycle_routes_changed(cc, &a);
	dew_http_respond_json(req, 201, json_pack("{s:s, s:s}", "host", host, "app", a.name));
out:
	store_app_clear(&a);
	cc_user_clear(&u);
}

void api_routes_delete(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	struct cc_user u;
	if (!api_auth(req, &u))
		return;
	struct store_route r = { 0 };
	struct store_app a = { 0 };
	cleanup_error struct dew_error *err = NULL;
	const char *host = dew_http_param(req, "host");
	int rc = store_route_get_by_host(cc->store, host, &r, &err);
	if (rc == 0 && r.owner_id != u.id && !u.admin)
		rc = -ENOENT; /* another user's route: exactly as if there were none */
	if (rc == 0)
		rc = store_route_delete(cc->store, r.id, &err);
	if (rc < 0) {
		api_store_error(req, rc, err, "route");
	} else {
		if (store_app_get(cc->store, r.app_id, &a, NULL) == 0)
			lifecycle_routes_changed(cc, &a);
		dew_info("route %s unmapped by %s", host, u.name);
		dew_http_respond(req, 204, NULL, NULL, 0);
	}
	store_app_clear(&a);
	store_route_clear(&r);
	cc_user_clear(&u);
}
