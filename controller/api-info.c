// SPDX-License-Identifier: MIT
/*
 * GET /v1/info: what a client needs before it logs in (version, domain, stacks and buildpacks
 * offered by the DEAs heard from, limits), and with a token also the caller's usage against the quotas.
 */
#include <string.h>

#include "alloc.h"
#include "controller.h"
#include "deapool.h"
#include "json.h"
#include "store.h"

/* A JSON array of a NULL-terminated list, which it frees. */
static json_t *info_strv(char **v)
{
	json_t *a = json_array();
	for (size_t i = 0; v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	dew_strv_free(v);
	return a;
}

void api_info(struct dew_http_req *req)
{
	struct cc *cc = api_cc(req);
	json_t *js = info_strv(dea_pool_stacks(cc->deas));
	json_t *info = json_pack(
		"{s:s, s:s, s:[s], s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:b}", "name", "dew", "version",
		PACKAGE_VERSION, "domains", cc->cfg.domain, "stacks", js, "deas",
		(json_int_t)dea_pool_count(cc->deas), "limits", "memory", (json_int_t)cc->cfg.quota_memory_mb,
		"apps", (json_int_t)cc->cfg.quota_apps, "instances", (json_int_t)cc->cfg.max_instances,
		"app_memory", (json_int_t)cc->cfg.max_memory_mb, "app_disk", (json_int_t)cc->cfg.max_disk_mb,
		"open_registration", cc->cfg.open_registration);
	json_object_set_new(info, "buildpacks", info_strv(dea_pool_buildpacks(cc->deas)));
	/* With a valid token, the caller's usage too; without one, the public part only. */
	if (dew_http_header(req, "Authorization")) {
		struct cc_user u;
		if (!api_auth(req, &u)) {
			json_decref(info);
			return;
		}
		int64_t apps = 0, mem = 0;
		if (store_usage(cc->store, u.id, &apps, &mem, NULL) == 0)
			json_object_set_new(
				info, "usage",
				json_pack("{s:I, s:I}", "memory", (json_int_t)mem, "apps", (json_int_t)apps));
		json_object_set_new(info, "user", json_string(u.name));
		cc_user_clear(&u);
	}
	dew_http_respond_json(req, 200, info);
}
