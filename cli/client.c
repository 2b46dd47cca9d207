// SPDX-License-Identifier: MIT
/*
 * The controller client (cli.h): libcurl easy handles, one per request. TLS is verified (curl's
 * default) when the target is https. Every request carries the token when the CLI holds one;
 * answers are read whole for JSON calls, passed through for streams, and uploads are sent
 * chunked from a read callback so an app is never held in memory.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "json.h"

enum {
	CLIENT_CONNECT_TIMEOUT = 10, /* seconds */
	CLIENT_TIMEOUT = 300,	     /* seconds of a whole JSON call */
	CLIENT_MAX_BODY = 64 << 20,  /* bytes of a JSON answer kept */
};

static size_t client_collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct dew_buf *b = arg;
	size_t n = size * nmemb;
	if (b->len + n > CLIENT_MAX_BODY)
		return 0; /* curl reports a write error */
	dew_buf_append(b, data, n);
	return n;
}

/* A handle for method url with the token and JSON headers; *headers to free after the call. */
static CURL *client_handle(struct cli *cli, const char *method, const char *path, struct curl_slist **headers)
{
	CURL *c = curl_easy_init();
	if (!c)
		abort();
	cleanup_free char *url = xasprintf("%s%s", cli->cfg.target ? cli->cfg.target : "", path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "dew/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form; the bit mask is deprecated */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	*headers = curl_slist_append(NULL, "Accept: application/json");
	if (cli->cfg.token) {
		cleanup_free char *auth = xasprintf("Authorization: Bearer %s", cli->cfg.token);
		*headers = curl_slist_append(*headers, auth);
	}
	return c;
}

/* Say why no answer came, in one line. */
static int client_no_answer(struct cli *cli, CURLcode rc, const char *errbuf)
{
	const char *why = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT)
		cli_error(cli, "cannot reach the controller at %s: %s (check `dew target`)", cli->cfg.target,
			  why);
	else
		cli_error(cli, "request to %s failed: %s", cli->cfg.target, why);
	return -1;
}

void cli_response_free(struct cli_response *r)
{
	json_decref(r->json);
	free(r->body);
	*r = (struct cli_response){ 0 };
}

int cli_request(struct cli *cli, const char *method, const char *path, const json_t *body,
		struct cli_response *r)
{
	struct curl_slist *headers = NULL;
	struct dew_buf in = DEW_BUF_INIT;
	char errbuf[CURL_ERROR_SIZE] = "";
	cleanup_free char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	CURL *c = client_handle(cli, method, path, &headers);
	*r = (struct cli_response){ 0 };
	if (text) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, client_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &in);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)CLIENT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		dew_buf_close(&in);
		return client_no_answer(cli, rc, errbuf);
	}
	r->len = in.len;
	r->body = xmalloc(in.len + 1);
	if (in.len)
		memcpy(r->body, in.data, in.len);
	r->body[in.len] = '\0';
	dew_buf_close(&in);
	r->json = r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	return 0;
}

void cli_print_http_error(struct cli *cli, const struct cli_response *r)
{
	const char *desc = json_string_value(json_object_get(r->json, "description"));
	if (r->status == 401)
		cli_error(cli, "not logged in or token expired: run `dew login`");
	else if (desc)
		cli_error(cli, "%s", desc);
	else
		cli_error(cli,
			  "%s answered HTTP %ld without a dew error: is it a dew controller? (check `dew "
			  "target`)",
			  cli->cfg.target, r->status);
}

int cli_call(struct cli *cli, const char *method, const char *path, const json_t *body, json_t **out)
{
	struct cli_response r;
	if (out)
		*out = NULL;
	if (cli_request(cli, method, path, body, &r) < 0)
		return -1;
	if (r.status < 200 || r.status > 299) {
		cli_print_http_error(cli, &r);
		cli_response_free(&r);
		return -1;
	}
	if (out)
		*out = json_incref(r.json);
	cli_response_free(&r);
	return 0;
}

/* A stream: the body goes to fn once the status is known to be 2xx; otherwise it is kept for
 * the error message. */
struct client_stream {
	CURL *c;
	cli_stream_fn fn;
	void *arg;
	struct dew_buf error_body;
	bool stopped;
	char **content_type; /* NULL: not asked for */
};

static size_t client_stream_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct client_stream *s = arg;
	size_t n = size * nmemb;
	long status = 0;
	curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return client_collect(data, size, nmemb, &s->error_body);
	if (s->content_type && !*s->content_type) {
		const char *ct = NULL;
		curl_easy_getinfo(s->c, CURLINFO_CONTENT_TYPE, &ct);
		*s->content_type = xstrdup(ct ? ct : "");
	}
	if (!s->fn(data, n, s->arg)) {
		s->stopped = true;
		return 0;
	}
	return n;
}

int cli_stream(struct cli *cli, const char *path, cli_stream_fn fn, void *arg)
{
	return cli_stream_typed(cli, path, NULL, fn, arg);
}

int cli_stream_typed(struct cli *cli, const char *path, char **content_type, cli_stream_fn fn, void *arg)
{
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct client_stream s = { .fn = fn, .arg = arg, .content_type = content_type };
	if (content_type)
		*content_type = NULL;
	s.c = client_handle(cli, "GET", path, &headers);
	curl_easy_setopt(s.c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(s.c, CURLOPT_WRITEFUNCTION, client_stream_write);
	curl_easy_setopt(s.c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(s.c, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(s.c);
	struct cli_response r = { 0 };
	curl_easy_getinfo(s.c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(s.c);
	curl_slist_free_all(headers);
	int ret = 0;
	if (r.status && (r.status < 200 || r.status > 299)) {
		r.json = s.error_body.len ? json_loadb(s.error_body.data, s.error_body.len, 0, NULL) : NULL;
		cli_print_http_error(cli, &r);
		json_decref(r.json);
		ret = -1;
	} else if (rc != CURLE_OK && !s.stopped) {
		client_no_answer(cli, rc, errbuf);
		ret = -2;
	}
	dew_buf_close(&s.error_body);
	return ret;
}

struct client_upload {
	cli_read_fn read;
	void *arg;
	cli_progress_fn progress;
	void *progress_arg;
};

static size_t client_upload_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct client_upload *u = arg;
	return u->read(buf, size * nmemb, u->arg);
}

static int client_upload_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
				  curl_off_t ulnow)
{
	struct client_upload *u = arg;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	u->progress((uint64_t)ulnow, u->progress_arg);
	return 0;
}

int cli_upload(struct cli *cli, const char *path, const char *content_type, cli_read_fn read, void *arg,
	       cli_progress_fn progress, void *progress_arg, json_t **out)
{
	struct curl_slist *headers = NULL;
	struct dew_buf in = DEW_BUF_INIT;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct client_upload u = { read, arg, progress, progress_arg };
	CURL *c = client_handle(cli, "PUT", path, &headers);
	cleanup_free char *ct = xasprintf("Content-Type: %s", content_type);
	headers = curl_slist_append(headers, ct);
	headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, client_upload_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, client_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &in);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (progress) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, client_upload_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &u);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	CURLcode rc = curl_easy_perform(c);
	struct cli_response r = { 0 };
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	if (out)
		*out = NULL;
	if (rc != CURLE_OK && !r.status) {
		dew_buf_close(&in);
		return client_no_answer(cli, rc, errbuf);
	}
	r.json = in.len ? json_loadb(in.data, in.len, 0, NULL) : NULL;
	dew_buf_close(&in);
	int ret = 0;
	if (r.status < 200 || r.status > 299) {
		cli_print_http_error(cli, &r);
		ret = -1;
	} else if (out) {
		*out = json_incref(r.json);
	}
	json_decref(r.json);
	return ret;
}

char *cli_app_path(const char *name, const char *rest)
{
	CURL *c = curl_easy_init();
	char *enc = c ? curl_easy_escape(c, name, 0) : NULL;
	char *path = xasprintf("/v1/apps/%s%s%s", enc ? enc : name, rest ? "/" : "", rest ? rest : "");
	curl_free(enc);
	if (c)
		curl_easy_cleanup(c);
	return path;
}
