// SPDX-License-Identifier: MIT
/* Unit tests of router/table.h: keys, wildcards, path prefixes, pruning, balancing, 100,000 routes. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "table.h"
#include "tap.h"

static struct table_ep_info ep(const char *ip, int port, const char *instance)
{
	return (struct table_ep_info){
		.ip = ip, .port = port, .app_id = "app", .instance_id = instance, .instance_index = 0
	};
}

static const char *lookup(struct table *t, const char *host, const char *path)
{
	struct route *r = table_lookup(t, host, strlen(host), path, strlen(path));
	if (!r || !r->n_eps)
		return NULL;
	return r->eps[0].be->addr;
}

static unsigned unused_calls;
static void on_unused(struct backend *be, void *data)
{
	(void)be;
	(void)data;
	unused_calls++;
}

static void test_keys(void)
{
	struct table t;
	table_init(&t, 120000, TABLE_LB_DEFAULT);
	struct table_ep_info a = ep("10.0.0.1", 80, "a"), b = ep("10.0.0.2", 80, "b"),
			     c = ep("10.0.0.3", 80, "c"), d = ep("::1", 8080, "d");
	tap_is_int(table_register(&t, "App.Example.COM", &a, 0), 1, "register a new endpoint");
	tap_is_int(table_register(&t, "app.example.com", &a, 5), 0, "the same again only refreshes");
	tap_is_int(table_register(&t, "app.example.com/api/", &b, 0), 1,
		   "a path route (trailing slash dropped)");
	tap_is_int(table_register(&t, "*.example.com", &c, 0), 1, "a wildcard route");
	tap_is_int(table_register(&t, "v6.example.org", &d, 0), 1, "an IPv6 endpoint");
	tap_is_int(table_register(&t, "bad host", &a, 0), -22, "a host with a space is refused");
	tap_is_int(table_register(&t, "a.*.com", &a, 0), -22, "a '*' inside the name is refused");
	struct table_ep_info name = ep("backend.local", 80, "x");
	tap_is_int(table_register(&t, "x.com", &name, 0), -22, "a host name as address is refused");
	tap_is_str(lookup(&t, "app.example.com", "/"), "10.0.0.1:80", "exact host, root path");
	tap_is_str(lookup(&t, "app.example.com", "/api"), "10.0.0.2:80", "path prefix, whole");
	tap_is_str(lookup(&t, "app.example.com", "/api/v1/x"), "10.0.0.2:80", "longest prefix wins");
	tap_is_str(lookup(&t, "app.example.com", "/apix"), "10.0.0.1:80",
		   "prefixes match whole segments only");
	tap_is_str(lookup(&t, "other.example.com", "/"), "10.0.0.3:80", "wildcard matches one label");
	tap_is_str(lookup(&t, "a.b.example.com", "/"), "10.0.0.3:80", "wildcard matches deeper names");
	tap_ok(lookup(&t, "example.com", "/") == NULL, "the wildcard does not match its base");
	tap_ok(lookup(&t, "nothing.org", "/") == NULL, "unknown host");
	tap_is_str(lookup(&t, "v6.example.org", "/"), "[::1]:8080", "IPv6 address form");
	struct table_stats st;
	table_get_stats(&t, &st);
	tap_is_int((int)st.routes, 4, "four routes");
	tap_is_int(table_unregister(&t, "app.example.com/api", "10.0.0.2", 80), 1, "unregister");
	tap_is_str(lookup(&t, "app.example.com", "/api"), "10.0.0.1:80",
		   "after unregister the shorter prefix");
	tap_is_int(table_unregister(&t, "app.example.com/api", "10.0.0.2", 80), 0,
		   "unregister twice: nothing");
	t.on_unused = on_unused;
	unused_calls = 0;
	tap_is_int(table_prune(&t, 60000), 0, "nothing stale at 60 s");
	struct table_ep_info e = ep("10.0.0.9", 80, "e");
	e.threshold_ms = 1000;
	table_register(&t, "short.example.com", &e, 100000);
	tap_is_int(table_prune(&t, 100500), 0, "a 1 s threshold: fresh at 0.5 s");
	tap_is_int((int)table_prune(&t, 121000), 4, "at 121 s every endpoint is stale");
	tap_is_int((int)unused_calls, 4, "each backend's pool is dropped");
	table_get_stats(&t, &st);
	tap_ok(st.routes == 0 && st.hosts == 0 && st.backends == 0, "the table is empty after pruning");
	table_close(&t);
}

static void test_balance(void)
{
	struct table t;
	table_init(&t, 120000, TABLE_LB_DEFAULT);
	struct table_ep_info e[3] = { ep("10.0.0.1", 1, "i1"), ep("10.0.0.2", 1, "i2"),
				      ep("10.0.0.3", 1, "i3") };
	for (int i = 0; i < 3; i++)
		table_register(&t, "rr.com", &e[i], 0);
	struct route *r = table_lookup(&t, "rr.com", 6, "/", 1);
	int counts[3] = { 0 };
	struct table_pick p = { .now = 0 };
	for (int i = 0; i < 300; i++) {
		struct backend *be;
		table_pick(&t, r, &p, &be);
		counts[be->addr[7] - '1']++;
	}
	tap_ok(counts[0] == 100 && counts[1] == 100 && counts[2] == 100,
	       "round-robin: 100/100/100 (%d/%d/%d)", counts[0], counts[1], counts[2]);
	struct backend *be = NULL;
	p.sticky = "i2";
	table_pick(&t, r, &p, &be);
	tap_is_str(be->instance_id, "i2", "sticky instance chosen");
	p.sticky = "gone";
	tap_is_int(table_pick(&t, r, &p, &be), TABLE_PICK_OK, "an unknown sticky id falls back");
	p.sticky = NULL;
	r->eps[0].be->benched_until = 1000;
	r->eps[1].be->benched_until = 1000;
	for (int i = 0; i < 5; i++) {
		table_pick(&t, r, &p, &be);
		tap_is_str(be->addr, r->eps[2].be->addr, "benched endpoints are skipped (%d)", i);
	}
	struct backend *ex[1] = { r->eps[2].be };
	p.exclude = ex;
	p.n_exclude = 1;
	tap_is_int(table_pick(&t, r, &p, &be), TABLE_PICK_OK,
		   "all benched or excluded: a benched one is used");
	tap_ok(be != ex[0], "never an excluded one");
	p.n_exclude = 0;
	r->eps[0].be->benched_until = r->eps[1].be->benched_until = 0;
	for (int i = 0; i < 3; i++)
		r->eps[i].be->in_flight = 2;
	p.max_in_flight = 2;
	tap_is_int(table_pick(&t, r, &p, &be), TABLE_PICK_LIMIT, "every endpoint at its limit");
	p.max_in_flight = 0;
	r->lb = TABLE_LB_LEAST_CONN;
	r->eps[1].be->in_flight = 0;
	for (int i = 0; i < 3; i++) {
		table_pick(&t, r, &p, &be);
		tap_ok(be == r->eps[1].be, "least-connection picks the idle one (%d)", i);
	}
	for (int i = 0; i < 3; i++)
		r->eps[i].be->in_flight = 0;
	/* A held backend survives its route. */
	struct backend *held = r->eps[0].be;
	table_backend_hold(held);
	table_unregister(&t, "rr.com", "10.0.0.1", 1);
	tap_ok(!held->indexed, "an unregistered backend leaves the index");
	tap_is_str(held->addr, "10.0.0.1:1", "but stays valid while held");
	table_backend_release(held);
	table_close(&t);
}

static void test_scale(void)
{
	struct table t;
	table_init(&t, 120000, TABLE_LB_DEFAULT);
	char uri[64], ip[32];
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 100000; i++) {
		snprintf(uri, sizeof(uri), "app-%d.example.com", i);
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		struct table_ep_info e = ep(ip, 8080, "x");
		table_register(&t, uri, &e, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	tap_diag("100,000 routes registered in %.3f s", secs);
	struct table_stats st;
	table_get_stats(&t, &st);
	tap_is_int((int)st.routes, 100000, "100,000 routes");
	tap_is_str(lookup(&t, "app-77777.example.com", "/x"), "10.1.47.209:8080", "lookup among 100,000");
	table_close(&t);
}

int main(void)
{
	test_keys();
	test_balance();
	test_scale();
	return tap_done();
}
