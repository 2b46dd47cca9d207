/* SPDX-License-Identifier: MIT */
/*
 * The routing table (pure logic, no I/O): routes keyed by a lowercased host (exact or
 * "*.example.com") plus an optional path prefix, each holding endpoints that the bus feed
 * registers and refreshes; stale endpoints are pruned; endpoint selection by round-robin (random
 * start) or least-connection, with sticky instances, benching and a per-backend in-flight limit.
 * Backends (host:port) are shared by all routes that name them, so their idle connection pool
 * and in-flight count are per backend. Times are milliseconds of a monotonic clock given by the
 * caller. Runs on one loop thread; nothing here locks.
 */
#ifndef ROUTER_TABLE_H
#define ROUTER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"

enum {
	TABLE_MAX_HOST = 253,	/* a DNS name */
	TABLE_MAX_PATH = 1024,	/* a route's path prefix */
	TABLE_MAX_ID = 128,	/* app and instance ids */
	TABLE_MAX_ADDR = 64,	/* "host:port" of a backend (IPv6 literal included) */
	TABLE_MAX_ATTEMPTS = 8, /* backends one request may have tried */
};

enum table_lb {
	TABLE_LB_DEFAULT = 0, /* the router's own setting */
	TABLE_LB_ROUND_ROBIN,
	TABLE_LB_LEAST_CONN,
};

/* One app instance listening at host:port. */
struct backend {
	struct hmap_node node;	   /* keyed by addr */
	char addr[TABLE_MAX_ADDR]; /* "10.0.0.5:61001" (IPv6 as "[::1]:80") */
	char ip[TABLE_MAX_ADDR];   /* the literal host */
	int port;
	char *app_id;		/* owned; "" when unknown */
	char *instance_id;	/* owned; "" when unknown */
	int64_t instance_index; /* -1 when unknown */
	unsigned n_routes;	/* routes holding it */
	unsigned holds;		/* table_backend_hold() by users (requests, pooled conns) */
	unsigned in_flight;	/* requests being served */
	uint64_t benched_until; /* skip it before this time */
	bool indexed;		/* still in the backend index */
	void *pool;		/* the proxy's idle connections (opaque here) */
	size_t n_idle;
};

/* A backend as one route knows it. */
struct route_ep {
	struct backend *be;
	uint64_t last_seen;
	uint64_t threshold_ms;
};

struct route {
	char *path; /* "" or "/api/v1": no trailing slash */
	size_t path_len;
	struct route_ep *eps;
	size_t n_eps, cap_eps;
	uint64_t rr; /* round-robin cursor */
	enum table_lb lb;
};

/* All routes of one host key, longest path first. */
struct host_entry {
	struct hmap_node node;
	char *host; /* lowercased, "*.example.com" for a wildcard */
	struct route **routes;
	size_t n_routes;
};

struct table_stats {
	uint64_t routes, endpoints, backends, hosts;
};

struct table {
	struct hmap hosts;
	struct hmap backends;
	size_t n_routes, n_eps;
	uint64_t default_threshold_ms;
	enum table_lb default_lb;
	/* Called when a backend leaves the index (no route names it any more): close its pool. */
	void (*on_unused)(struct backend *be, void *data);
	void *data;
	uint64_t (*random)(void *data); /* the random start of round-robin; NULL: a fixed 0 */
};

/* What a registration says about the endpoint. */
struct table_ep_info {
	const char *ip; /* an IPv4 or IPv6 literal */
	int port;
	const char *app_id;	 /* may be NULL */
	const char *instance_id; /* may be NULL */
	int64_t instance_index;	 /* -1: unknown */
	uint64_t threshold_ms;	 /* 0: the table's default */
	enum table_lb lb;	 /* TABLE_LB_DEFAULT keeps the route's */
};

void table_init(struct table *t, uint64_t default_threshold_ms, enum table_lb default_lb);
/* Free everything (on_unused is called for each backend still indexed). */
void table_close(struct table *t);

/*
 * Split and normalise a route "Host[/path]": the host lowercased (a leading "*." allowed),
 * letters, digits, '-' and '.' only; the path without trailing slashes and without '?', '#',
 * spaces or control characters. Writes host (TABLE_MAX_HOST + 1) and path (TABLE_MAX_PATH + 1).
 * Returns 0 or -EINVAL.
 */
int table_parse_uri(const char *uri, char *host, char *path);

/*
 * Add or refresh the endpoint info->ip:port under uri at time now. Returns 1 when the endpoint
 * is new for that route, 0 when refreshed, -EINVAL for a bad uri or address.
 */
int table_register(struct table *t, const char *uri, const struct table_ep_info *info, uint64_t now);

/* Remove ip:port from uri. Returns 1 when removed, 0 when it was not there, -EINVAL. */
int table_unregister(struct table *t, const char *uri, const char *ip, int port);

/*
 * The route for a request: host lowercased already, without port; path is the raw request path
 * (query excluded, len given). The exact host first, then wildcards from the most specific
 * ("a.b.c" tries "*.b.c", then "*.c"); within a host, the longest path prefix that ends at a
 * segment boundary. NULL when nothing matches.
 */
struct route *table_lookup(struct table *t, const char *host, size_t host_len, const char *path,
			   size_t path_len);

enum table_pick_status {
	TABLE_PICK_OK,
	TABLE_PICK_NONE,  /* no endpoint left to try */
	TABLE_PICK_LIMIT, /* every candidate is at max_in_flight */
};

struct table_pick {
	const char *sticky;		/* instance id from __VCAP_ID__, or NULL */
	struct backend *const *exclude; /* backends already tried */
	size_t n_exclude;
	unsigned max_in_flight; /* 0: no limit */
	uint64_t now;
};

/*
 * Choose an endpoint of r: the sticky instance when present and usable, else by the route's
 * balancing. Excluded backends are never chosen; benched ones only when nothing else is left.
 */
enum table_pick_status table_pick(struct table *t, struct route *r, const struct table_pick *p,
				  struct backend **out);

/* Remove endpoints not seen within their threshold. Returns how many were removed. */
size_t table_prune(struct table *t, uint64_t now);
/* Mark every endpoint seen now (the bus came back: registrants get a full threshold). */
void table_touch_all(struct table *t, uint64_t now);

/* Keep be alive past its removal from the table (a request or a pooled connection uses it). */
void table_backend_hold(struct backend *be);
/* Drop a hold; frees be when nothing holds it and no route names it. */
void table_backend_release(struct backend *be);

void table_get_stats(const struct table *t, struct table_stats *out);

#endif
