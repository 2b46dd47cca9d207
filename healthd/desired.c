// SPDX-License-Identifier: MIT
/*
 * The desired state, read from the controller: GET /v1/internal/desired (every app) at start,
 * every desired_interval and after a reconnect, and GET /v1/internal/desired/<guid> on each
 * droplet.updated. Both are signed with internal_secret like every internal URI (auth.h) and
 * run on libuv's thread pool (libcurl blocks); the answer is applied on the loop.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "auth.h"
#include "buf.h"
#include "healthd.h"
#include "json.h"
#include "log.h"

enum {
	DESIRED_TIMEOUT_S = 30,
	DESIRED_MAX = 256 << 20, /* bytes of an answer: 100,000 apps fit */
	DESIRED_VALIDITY_S = 300,
};

struct fetch {
	uv_work_t work;
	struct hm *hm;
	char *guid; /* NULL: every app */
	char *url;
	long status;
	struct dew_buf body;
	char error[CURL_ERROR_SIZE];
};

static size_t fetch_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	if (f->body.len + size * nmemb > DESIRED_MAX)
		return 0;
	dew_buf_append(&f->body, data, size * nmemb);
	return size * nmemb;
}

static void fetch_run(uv_work_t *w)
{
	struct fetch *f = w->data;
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(f->error, sizeof f->error, "curl_easy_init failed");
		return;
	}
	curl_easy_setopt(c, CURLOPT_URL, f->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)DESIRED_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->error);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
	curl_easy_cleanup(c);
}

/* Check one app entry: the fields decide.h reads. */
static bool desired_entry_ok(const json_t *a)
{
	return json_is_object(a) && json_is_string(json_object_get(a, "droplet")) &&
	       json_is_string(json_object_get(a, "version")) && json_is_string(json_object_get(a, "state")) &&
	       json_is_string(json_object_get(a, "package_state")) &&
	       json_is_integer(json_object_get(a, "instances"));
}

static void fetch_apply(struct hm *hm, struct fetch *f, json_t *j)
{
	if (f->guid) {
		if (f->status == 404) {
			json_object_del(hm->desired, f->guid);
		} else if (desired_entry_ok(j)) {
			json_object_set(hm->desired, f->guid, j);
		} else {
			hm->n.desired_failures++;
			return;
		}
		watch_act(hm, f->guid);
		return;
	}
	json_t *apps = json_object_get(j, "apps"), *a;
	size_t k;
	if (!json_is_array(apps)) {
		hm->n.desired_failures++;
		return;
	}
	json_t *all = json_object();
	json_array_foreach (apps, k, a)
		if (desired_entry_ok(a))
			json_object_set(all, json_string_value(json_object_get(a, "droplet")), a);
	/* Apps gone from the desired state leave healthd's memory too. */
	const char *guid;
	json_t *v, *tmp;
	json_object_foreach_safe (hm->flap_sent, tmp, guid, v)
		if (!json_object_get(all, guid))
			json_object_del(hm->flap_sent, guid);
	json_object_foreach_safe (hm->settle, tmp, guid, v)
		if (!json_object_get(all, guid))
			json_object_del(hm->settle, guid);
	json_object_foreach (hm->desired, guid, v)
		if (!json_object_get(all, guid))
			hm_history_forget(hm->history, guid);
	json_decref(hm->desired);
	hm->desired = all;
	if (!hm->have_desired)
		dew_info("desired state read: %zu apps", json_object_size(all));
	hm->have_desired = true;
}

static void fetch_done(uv_work_t *w, int status)
{
	struct fetch *f = w->data;
	struct hm *hm = f->hm;
	hm->fetches--;
	json_auto_t *j = NULL;
	if (status == 0 && (f->status == 200 || (f->guid && f->status == 404))) {
		hm->n.desired_reads++;
		j = f->status == 200 ? json_loadb(f->body.data ? f->body.data : "", f->body.len, 0, NULL)
				     : NULL;
		if (f->status == 404 || j) {
			fetch_apply(hm, f, j);
		} else {
			hm->n.desired_failures++;
			dew_warn("the desired state from %s is not JSON", hm->cfg.controller_url);
		}
	} else {
		hm->n.desired_failures++;
		dew_warn("read the desired state from %s: %s", hm->cfg.controller_url,
			 f->error[0] ? f->error
			 : f->status ? "an HTTP error"
				     : "no answer");
		if (f->status)
			dew_warn("the controller answered HTTP %ld (is internal_secret the controller's?)",
				 f->status);
	}
	dew_buf_close(&f->body);
	free(f->guid);
	free(f->url);
	free(f);
}

void desired_fetch(struct hm *hm, const char *guid)
{
	cleanup_free char *path =
		guid ? xasprintf("/v1/internal/desired/%s", guid) : xstrdup("/v1/internal/desired");
	cleanup_free char *signed_path = auth_sign_path(hm->cfg.internal_secret, "GET", path,
							(int64_t)time(NULL) + DESIRED_VALIDITY_S);
	if (!signed_path)
		return;
	struct fetch *f = xzalloc(sizeof(*f));
	f->hm = hm;
	f->guid = guid ? xstrdup(guid) : NULL;
	f->url = xasprintf("%s%s", hm->cfg.controller_url, signed_path);
	f->work.data = f;
	hm->fetches++;
	if (uv_queue_work(hm->loop, &f->work, fetch_run, fetch_done) < 0) {
		hm->fetches--;
		free(f->guid);
		free(f->url);
		free(f);
	}
}
