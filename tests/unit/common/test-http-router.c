// SPDX-License-Identifier: MIT
/*
 * Table tests of the HTTP router: literal, :param and trailing * segments, the trailing slash
 * rule, per-segment percent-decoding, refusal of dot segments, encoded '/' and NUL, 404 vs 405.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "http-conn.h"
#include "tap.h"

static void handler(struct dew_http_req *req)
{
}

static const struct dew_http_route routes[] = {
	{ "GET", "/", handler, NULL, NULL, 0 },
	{ "GET", "/v1/info", handler, NULL, NULL, 0 },
	{ "GET", "/v1/apps", handler, NULL, NULL, 0 },
	{ "POST", "/v1/apps", handler, NULL, NULL, 0 },
	{ "GET", "/v1/apps/new", handler, NULL, NULL, 0 },
	{ "GET", "/v1/apps/:name", handler, NULL, NULL, 0 },
	{ "PUT", "/v1/apps/:name/bits", handler, NULL, NULL, 0 },
	{ "GET", "/v1/apps/:name/instances/:index/files/*", handler, NULL, NULL, 0 },
	{ "DELETE", "/v1/apps/:name", handler, NULL, NULL, 0 },
	{ NULL, "/any/:x", handler, NULL, NULL, 0 },
	{ "GET", "/dir/", handler, NULL, NULL, 0 },
};

/* Expected outcome: route index (or -1), status, then "name=value" parameters joined by ';'. */
static const struct {
	const char *method, *path;
	int route, status;
	const char *params; /* or, for 405, the Allow value */
} cases[] = {
	{ "GET", "/", 0, 0, "" },
	{ "GET", "/v1/info", 1, 0, "" },
	{ "HEAD", "/v1/info", 1, 0, "" },
	{ "POST", "/v1/apps", 3, 0, "" },
	{ "GET", "/v1/apps/new", 4, 0, "" }, /* table order: the literal comes first */
	{ "GET", "/v1/apps/web", 5, 0, "name=web" },
	{ "GET", "/v1/apps/my%20app", 5, 0, "name=my app" },
	{ "GET", "/v1/%61pps/web", 5, 0, "name=web" }, /* literals compare decoded */
	{ "PUT", "/v1/apps/web/bits", 6, 0, "name=web" },
	{ "GET", "/v1/apps/web/instances/0/files/logs/out.log", 7, 0, "name=web;index=0;*=logs/out.log" },
	{ "GET", "/v1/apps/web/instances/0/files", 7, 0, "name=web;index=0;*=" },
	{ "GET", "/v1/apps/web/instances/0/files/", 7, 0, "name=web;index=0;*=" },
	{ "GET", "/v1/apps/web/instances/0/files/a%20b/c", 7, 0, "name=web;index=0;*=a b/c" },
	{ "DELETE", "/v1/apps/web", 8, 0, "name=web" },
	{ "PATCH", "/any/1", 9, 0, "x=1" },
	{ "GET", "/dir/", 10, 0, "" },
	/* trailing slash is significant */
	{ "GET", "/v1/info/", -1, 404, "" },
	{ "GET", "/dir", -1, 404, "" },
	/* an empty segment is no :param */
	{ "GET", "/v1/apps//bits", -1, 404, "" },
	{ "PUT", "/v1/apps/", -1, 404, "" },
	{ "GET", "/nope", -1, 404, "" },
	{ "GET", "/v1", -1, 404, "" },
	/* 405 lists every method the path accepts */
	{ "DELETE", "/v1/apps", -1, 405, "GET, HEAD, POST" },
	{ "POST", "/v1/apps/web", -1, 405, "GET, HEAD, DELETE" },
	{ "GET", "/v1/apps/web/bits", -1, 405, "PUT" },
	/* refused paths */
	{ "GET", "/v1/apps/..", -1, 400, "" },
	{ "GET", "/v1/apps/%2e%2E/x", -1, 400, "" },
	{ "GET", "/v1/./info", -1, 400, "" },
	{ "GET", "/v1/apps/a%2Fb", -1, 400, "" },
	{ "GET", "/v1/apps/a%00b", -1, 400, "" },
	{ "GET", "/v1/apps/a%zz", -1, 400, "" },
	{ "GET", "/v1/apps/a%2", -1, 400, "" },
	{ "GET", "v1/apps", -1, 400, "" },
	{ "GET", "/v1/apps/web/instances/0/files/../../etc", -1, 400, "" },
	{ "GET", "/v1/apps/web/instances/0/files/..%2F..%2Fetc", -1, 400, "" },
	/* dots inside a segment are fine */
	{ "GET", "/v1/apps/.hidden", 5, 0, "name=.hidden" },
	{ "GET", "/v1/apps/a..b", 5, 0, "name=a..b" },
};

static char *params_str(const struct dew__http_match *m)
{
	struct dew_buf b = DEW_BUF_INIT;

	for (size_t i = 0; i + 1 < m->n_params; i += 2)
		dew_buf_printf(&b, "%s%s=%s", i ? ";" : "", m->params[i], m->params[i + 1]);
	return dew_buf_steal(&b);
}

static void test_table(void)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(cases); i++) {
		struct dew__http_match m;
		int status =
			dew__http_route(routes, DEW_ARRAY_SIZE(routes), cases[i].method, cases[i].path, &m);
		int route = m.route ? (int)(m.route - routes) : -1;
		cleanup_free char *params = params_str(&m);
		const char *got = status == 405 ? m.allow : params;

		bool ok = status == cases[i].status && route == cases[i].route &&
			  strcmp(got, cases[i].params) == 0;

		tap_ok(ok, "%s %s -> %d route %d [%s]", cases[i].method, cases[i].path, cases[i].status,
		       cases[i].route, cases[i].params);
		if (!ok)
			tap_diag("got %d route %d [%s] %s", status, route, got, m.error);
		dew__http_match_close(&m);
	}
}

static void test_decoded_path(void)
{
	struct dew__http_match m;

	dew__http_route(routes, DEW_ARRAY_SIZE(routes), "GET", "/v1/apps/my%20app", &m);
	tap_is_str(m.path, "/v1/apps/my app", "decoded path");
	dew__http_match_close(&m);
	dew__http_route(routes, DEW_ARRAY_SIZE(routes), "GET", "/v1/apps/..", &m);
	tap_has_str(m.error, "'..'", "400 explains the refusal");
	dew__http_match_close(&m);
	dew__http_route(routes, DEW_ARRAY_SIZE(routes), "GET", "/v1/apps/a%2Fb", &m);
	tap_has_str(m.error, "encoded '/'", "encoded slash explained");
	dew__http_match_close(&m);
}

static void test_pct_decode(void)
{
	size_t len;
	cleanup_free char *a = dew__http_pct_decode("a%20b+c%2b", 10, true, true, &len);
	cleanup_free char *b = dew__http_pct_decode("a+b", 3, false, true, NULL);
	cleanup_free char *c = dew__http_pct_decode("50%", 3, false, false, NULL);
	cleanup_free char *d = dew__http_pct_decode("50%", 3, false, true, NULL);
	cleanup_free char *e = dew__http_pct_decode("x%00y", 5, false, true, &len);

	tap_is_str(a, "a b c+", "query decoding: %%20, + and %%2b");
	tap_is_str(b, "a+b", "path decoding keeps +");
	tap_is_str(c, "50%", "lenient decoding keeps a bad escape");
	tap_ok(d == NULL, "strict decoding refuses a bad escape");
	tap_ok(e && len == 3 && e[1] == '\0', "decoded NUL kept and counted in the length");
}

static void test_empty_table(void)
{
	struct dew__http_match m;

	tap_is_int(dew__http_route(NULL, 0, "GET", "/", &m), 404, "empty table: 404");
	dew__http_match_close(&m);
}

int main(void)
{
	test_table();
	test_decoded_path();
	test_pct_decode();
	test_empty_table();
	return tap_done();
}
