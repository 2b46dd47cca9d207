// SPDX-License-Identifier: MIT
/*
 * The health manager's channel (issue #7, DESIGN.md sections 5.1 and 10): requests on
 * cloudcontrollers.hm.requests (queue group `cc`, so one controller acts on each)
 * {droplet, op: START|STOP, version, last_updated, revision?, indices?[], instances?[]} are
 * honoured only while the app's version and last update time (and, when given, its revision,
 * which unlike the time in seconds changes with every update) are still the ones healthd
 * decided on (GET /v1/internal/desired gives all three); a START
 * starts the listed indices that have no live instance and none being started; a STOP stops the
 * listed instances (or indices of that version). For an app that no longer exists, a STOP is
 * honoured whatever its version: its instances have no business running.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "actual.h"
#include "controller.h"
#include "json.h"
#include "log.h"
#include "store.h"

enum {
	HM_MAX = 64 * 1024,
	HM_LIST_MAX = 10000,
};

static void hm_stop(struct cc *cc, const char *droplet, const char *version, json_t *indices,
		    json_t *instances)
{
	json_auto_t *m = json_pack("{s:s}", "droplet", droplet);
	if (json_array_size(instances))
		json_object_set(m, "instances", instances);
	else if (json_array_size(indices))
		json_object_set(m, "indices", indices);
	else
		return; /* a STOP that names nothing stops nothing */
	if (version && !json_array_size(instances))
		json_object_set_new(m, "version", json_string(version));
	dew_bus_publish_json(cc->bus, "dea.stop", NULL, m);
	cc->n.hm_stops++;
}

/* Check a request into its parts: NULL, or what is wrong with it. */
static const char *hm_parse(const json_t *j, const char **droplet, const char **op, const char **version,
			    json_int_t *last_updated, json_t **indices, json_t **instances)
{
	if (dew_json_get_string(j, "droplet", DEW_JSON_REQUIRED, 64, droplet, NULL) < 0)
		return "field `droplet` is required";
	if (dew_json_get_string(j, "op", DEW_JSON_REQUIRED, 8, op, NULL) < 0 ||
	    (strcmp(*op, "START") != 0 && strcmp(*op, "STOP") != 0))
		return "field `op` must be START or STOP";
	if (dew_json_get_string(j, "version", DEW_JSON_OPTIONAL, 64, version, NULL) < 0)
		return "field `version` must be a string";
	if (dew_json_get_int(j, "last_updated", DEW_JSON_OPTIONAL, 0, INT64_MAX, last_updated, NULL) < 0)
		return "field `last_updated` must be an integer";
	if (dew_json_get_array(j, "indices", DEW_JSON_OPTIONAL, HM_LIST_MAX, indices, NULL) < 0 ||
	    dew_json_get_array(j, "instances", DEW_JSON_OPTIONAL, HM_LIST_MAX, instances, NULL) < 0)
		return "fields `indices` and `instances` must be arrays";
	size_t k;
	json_t *v;
	json_array_foreach (*indices, k, v)
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000)
			return "field `indices` must hold integers 0-10000";
	json_array_foreach (*instances, k, v)
		if (!json_is_string(v) || json_string_length(v) > 64)
			return "field `instances` must hold instance ids";
	return NULL;
}

/* Does the request's view of the app (version, last_updated, revision when given) still hold? */
static bool hm_current(const json_t *j, const struct store_app *a, const char *version,
		       json_int_t last_updated)
{
	json_t *rev = json_object_get(j, "revision");
	if (rev && (!json_is_integer(rev) || json_integer_value(rev) != a->revision))
		return false;
	return version && !strcmp(version, a->version) && last_updated == a->updated;
}

static void hm_on_request(struct dew_bus *bus, const struct dew_bus_msg *msg, void *data)
{
	struct cc *cc = data;
	(void)bus;
	json_auto_t *j = msg->len <= HM_MAX ? dew_json_parse(msg->data, msg->len, NULL) : NULL;
	const char *droplet = NULL, *op = NULL, *version = NULL, *bad = NULL;
	json_int_t last_updated = -1;
	json_t *indices = NULL, *instances = NULL;
	if (!j || !json_is_object(j))
		bad = "not a JSON object of at most 64 KiB";
	else
		bad = hm_parse(j, &droplet, &op, &version, &last_updated, &indices, &instances);
	if (bad) {
		if (cc->n.hm_malformed++ % 100 == 0)
			dew_warn("cloudcontrollers.hm.requests: %s: dropped", bad);
		return;
	}
	cc->n.hm_requests++;
	struct store_app a = { 0 };
	int r = store_app_get_by_guid(cc->store, droplet, &a, NULL);
	if (r == -ENOENT) {
		if (!strcmp(op, "STOP"))
			hm_stop(cc, droplet, NULL, indices, instances);
		return;
	}
	if (r < 0)
		return;
	if (!hm_current(j, &a, version, last_updated)) {
		cc->n.hm_stale++;
		dew_info("health manager's %s of %s ignored: it was decided on version %s, updated %" PRId64
			 "; the app is at version %s, updated %" PRId64,
			 op, droplet, version ? version : "?", (int64_t)last_updated, a.version, a.updated);
	} else if (!strcmp(op, "STOP")) {
		hm_stop(cc, droplet, version, indices, instances);
	} else if (a.state == STORE_APP_STARTED && a.package_state == STORE_PACKAGE_STAGED) {
		size_t k;
		json_t *v;
		json_array_foreach (indices, k, v) {
			int64_t i = json_integer_value(v);
			if (i < a.instances && !actual_index_live(cc->actual, a.guid, a.version, i)) {
				lifecycle_start_index(cc, &a, i);
				cc->n.hm_starts++;
			}
		}
	}
	store_app_clear(&a);
}

void hm_start(struct cc *cc)
{
	if (dew_bus_subscribe(cc->bus, "cloudcontrollers.hm.requests", "cc", hm_on_request, cc) == 0)
		abort();
}
