// SPDX-License-Identifier: MIT
/*
 * The routing table (table.h): host index -> routes by path prefix -> endpoints, a backend
 * index by address, pruning and endpoint selection.
 */
#include "table.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

void table_init(struct table *t, uint64_t default_threshold_ms, enum table_lb default_lb)
{
	memset(t, 0, sizeof(*t));
	t->default_threshold_ms = default_threshold_ms;
	t->default_lb = default_lb == TABLE_LB_DEFAULT ? TABLE_LB_ROUND_ROBIN : default_lb;
}

static void table_backend_free(struct backend *be)
{
	free(be->app_id);
	free(be->instance_id);
	free(be);
}

/* The last route let go of be: out of the index, pool closed, freed unless held. */
static void table_backend_unroute(struct table *t, struct backend *be)
{
	if (--be->n_routes > 0)
		return;
	hmap_remove(&t->backends, &be->node);
	be->indexed = false;
	if (t->on_unused)
		t->on_unused(be, t->data);
	if (be->holds == 0)
		table_backend_free(be);
}

void table_backend_hold(struct backend *be)
{
	be->holds++;
}

void table_backend_release(struct backend *be)
{
	if (--be->holds == 0 && !be->indexed)
		table_backend_free(be);
}

static void table_route_free(struct table *t, struct route *r)
{
	for (size_t i = 0; i < r->n_eps; i++)
		table_backend_unroute(t, r->eps[i].be);
	t->n_eps -= r->n_eps;
	t->n_routes--;
	free(r->eps);
	free(r->path);
	free(r);
}

static void table_host_free(struct table *t, struct host_entry *h)
{
	for (size_t i = 0; i < h->n_routes; i++)
		table_route_free(t, h->routes[i]);
	free(h->routes);
	free(h->host);
	free(h);
}

void table_close(struct table *t)
{
	struct hmap_node *n, *tmp;
	hmap_foreach(&t->hosts, n, tmp) table_host_free(t, (struct host_entry *)n);
	hmap_close(&t->hosts);
	hmap_close(&t->backends);
}

static bool table_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

int table_parse_uri(const char *uri, char *host, char *path)
{
	const char *slash = strchr(uri, '/');
	size_t hlen = slash ? (size_t)(slash - uri) : strlen(uri);
	if (hlen == 0 || hlen > TABLE_MAX_HOST)
		return -EINVAL;
	for (size_t i = 0; i < hlen; i++) {
		char c = uri[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		/* '*' only as the whole first label: "*.example.com". */
		if (!table_host_char(c) && !(c == '*' && i == 0 && hlen > 2 && uri[1] == '.'))
			return -EINVAL;
		host[i] = c;
	}
	host[hlen] = '\0';
	if (host[0] == '.' || host[hlen - 1] == '.' || strstr(host, ".."))
		return -EINVAL;
	size_t plen = slash ? strlen(slash) : 0;
	while (plen && slash[plen - 1] == '/')
		plen--;
	if (plen > TABLE_MAX_PATH)
		return -EINVAL;
	for (size_t i = 0; i < plen; i++) {
		unsigned char c = (unsigned char)slash[i];
		if (c <= ' ' || c == 0x7f || c == '?' || c == '#')
			return -EINVAL;
	}
	memcpy(path, slash ? slash : "", plen);
	path[plen] = '\0';
	return 0;
}

/* "ip:port" of a literal address, or -EINVAL. */
static int table_addr(const char *ip, int port, char *out)
{
	unsigned char bin[16];
	if (port < 1 || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, ip, bin) == 1)
		snprintf(out, TABLE_MAX_ADDR, "%s:%d", ip, port);
	else if (inet_pton(AF_INET6, ip, bin) == 1)
		snprintf(out, TABLE_MAX_ADDR, "[%s]:%d", ip, port);
	else
		return -EINVAL;
	return 0;
}

static void table_set_str(char **field, const char *value)
{
	if (!value)
		value = "";
	if (*field && strcmp(*field, value) == 0)
		return;
	free(*field);
	*field = xstrdup(value);
}

static struct backend *table_backend_get(struct table *t, const char *addr, const struct table_ep_info *info)
{
	struct backend *be = (struct backend *)hmap_find(&t->backends, addr, strlen(addr));
	if (!be) {
		be = xzalloc(sizeof(*be));
		snprintf(be->addr, sizeof(be->addr), "%s", addr);
		snprintf(be->ip, sizeof(be->ip), "%s", info->ip);
		be->port = info->port;
		be->node.key = be->addr;
		be->node.key_len = strlen(be->addr);
		be->indexed = true;
		hmap_insert(&t->backends, &be->node);
	}
	/* The latest registration describes the instance now behind this address. */
	table_set_str(&be->app_id, info->app_id);
	table_set_str(&be->instance_id, info->instance_id);
	be->instance_index = info->instance_index;
	return be;
}

static struct host_entry *table_host_get(struct table *t, const char *host, bool create)
{
	struct host_entry *h = (struct host_entry *)hmap_find(&t->hosts, host, strlen(host));
	if (h || !create)
		return h;
	h = xzalloc(sizeof(*h));
	h->host = xstrdup(host);
	h->node.key = h->host;
	h->node.key_len = strlen(h->host);
	hmap_insert(&t->hosts, &h->node);
	return h;
}

static struct route *table_route_get(struct table *t, struct host_entry *h, const char *path, bool create)
{
	size_t plen = strlen(path), i;
	for (i = 0; i < h->n_routes; i++) {
		if (h->routes[i]->path_len == plen && strcmp(h->routes[i]->path, path) == 0)
			return h->routes[i];
		if (h->routes[i]->path_len < plen)
			break;
	}
	if (!create)
		return NULL;
	struct route *r = xzalloc(sizeof(*r));
	r->path = xstrdup(path);
	r->path_len = plen;
	r->rr = t->random ? t->random(t->data) : 0;
	h->routes = xreallocarray(h->routes, h->n_routes + 1, sizeof(*h->routes));
	memmove(&h->routes[i + 1], &h->routes[i], (h->n_routes - i) * sizeof(*h->routes));
	h->routes[i] = r;
	h->n_routes++;
	t->n_routes++;
	return r;
}

int table_register(struct table *t, const char *uri, const struct table_ep_info *info, uint64_t now)
{
	char host[TABLE_MAX_HOST + 1], path[TABLE_MAX_PATH + 1], addr[TABLE_MAX_ADDR];
	if (table_parse_uri(uri, host, path) < 0 || table_addr(info->ip, info->port, addr) < 0)
		return -EINVAL;
	struct route *r = table_route_get(t, table_host_get(t, host, true), path, true);
	if (info->lb != TABLE_LB_DEFAULT)
		r->lb = info->lb;
	uint64_t threshold = info->threshold_ms ? info->threshold_ms : t->default_threshold_ms;
	struct backend *be = table_backend_get(t, addr, info);
	for (size_t i = 0; i < r->n_eps; i++)
		if (r->eps[i].be == be) {
			r->eps[i].last_seen = now;
			r->eps[i].threshold_ms = threshold;
			return 0;
		}
	if (r->n_eps == r->cap_eps) {
		r->cap_eps = r->cap_eps ? r->cap_eps * 2 : 2;
		r->eps = xreallocarray(r->eps, r->cap_eps, sizeof(*r->eps));
	}
	r->eps[r->n_eps++] = (struct route_ep){ .be = be, .last_seen = now, .threshold_ms = threshold };
	be->n_routes++;
	t->n_eps++;
	return 1;
}

/* Drop route i of h when it has no endpoint left, and h when it has no route left. */
static void table_tidy(struct table *t, struct host_entry *h, size_t i)
{
	if (h->routes[i]->n_eps > 0)
		return;
	table_route_free(t, h->routes[i]);
	memmove(&h->routes[i], &h->routes[i + 1], (h->n_routes - i - 1) * sizeof(*h->routes));
	if (--h->n_routes == 0) {
		hmap_remove(&t->hosts, &h->node);
		table_host_free(t, h);
	}
}

static void table_ep_remove(struct table *t, struct route *r, size_t i)
{
	struct backend *be = r->eps[i].be;
	r->eps[i] = r->eps[--r->n_eps];
	t->n_eps--;
	table_backend_unroute(t, be);
}

int table_unregister(struct table *t, const char *uri, const char *ip, int port)
{
	char host[TABLE_MAX_HOST + 1], path[TABLE_MAX_PATH + 1], addr[TABLE_MAX_ADDR];
	if (table_parse_uri(uri, host, path) < 0 || table_addr(ip, port, addr) < 0)
		return -EINVAL;
	struct host_entry *h = table_host_get(t, host, false);
	struct route *r = h ? table_route_get(t, h, path, false) : NULL;
	if (!r)
		return 0;
	for (size_t i = 0; i < r->n_eps; i++) {
		if (strcmp(r->eps[i].be->addr, addr) != 0)
			continue;
		table_ep_remove(t, r, i);
		for (size_t k = 0; k < h->n_routes; k++)
			if (h->routes[k] == r) {
				table_tidy(t, h, k);
				break;
			}
		return 1;
	}
	return 0;
}

/* The longest route of h whose path is a whole-segment prefix of path. */
static struct route *table_match_path(struct host_entry *h, const char *path, size_t len)
{
	for (size_t i = 0; i < h->n_routes; i++) {
		struct route *r = h->routes[i];
		if (r->path_len > len)
			continue;
		if (memcmp(r->path, path, r->path_len) == 0 &&
		    (r->path_len == len || path[r->path_len] == '/' || path[r->path_len] == '?'))
			return r;
	}
	return NULL;
}

struct route *table_lookup(struct table *t, const char *host, size_t host_len, const char *path,
			   size_t path_len)
{
	if (host_len == 0 || host_len > TABLE_MAX_HOST)
		return NULL;
	struct host_entry *h = (struct host_entry *)hmap_find(&t->hosts, host, host_len);
	struct route *r = h ? table_match_path(h, path, path_len) : NULL;
	if (r)
		return r;
	char key[TABLE_MAX_HOST + 2];
	for (size_t i = 0; i < host_len; i++) {
		if (host[i] != '.')
			continue;
		size_t rest = host_len - i;
		key[0] = '*';
		memcpy(key + 1, host + i, rest);
		h = (struct host_entry *)hmap_find(&t->hosts, key, rest + 1);
		if (h && (r = table_match_path(h, path, path_len)))
			return r;
	}
	return NULL;
}

static bool table_excluded(const struct table_pick *p, const struct backend *be)
{
	for (size_t i = 0; i < p->n_exclude; i++)
		if (p->exclude[i] == be)
			return true;
	return false;
}

/* Usable now: not excluded, under the in-flight limit, and (unless allow_benched) not benched. */
static bool table_usable(const struct table_pick *p, const struct backend *be, bool allow_benched,
			 bool *limited)
{
	if (table_excluded(p, be))
		return false;
	if (p->max_in_flight && be->in_flight >= p->max_in_flight) {
		*limited = true;
		return false;
	}
	return allow_benched || be->benched_until <= p->now;
}

static struct backend *table_pick_from(struct table *t, struct route *r, const struct table_pick *p,
				       bool allow_benched, bool *limited)
{
	size_t n = r->n_eps;
	enum table_lb lb = r->lb != TABLE_LB_DEFAULT ? r->lb : t->default_lb;
	struct backend *best = NULL;
	for (size_t k = 0; k < n; k++) {
		struct backend *be = r->eps[(r->rr + k) % n].be;
		if (!table_usable(p, be, allow_benched, limited))
			continue;
		if (lb == TABLE_LB_ROUND_ROBIN) {
			r->rr += k + 1;
			return be;
		}
		if (!best || be->in_flight < best->in_flight)
			best = be;
	}
	if (best)
		r->rr++; /* ties rotate too */
	return best;
}

enum table_pick_status table_pick(struct table *t, struct route *r, const struct table_pick *p,
				  struct backend **out)
{
	bool limited = false;
	if (p->sticky && *p->sticky) {
		for (size_t i = 0; i < r->n_eps; i++) {
			struct backend *be = r->eps[i].be;
			if (strcmp(be->instance_id, p->sticky) == 0 && table_usable(p, be, false, &limited)) {
				*out = be;
				return TABLE_PICK_OK;
			}
		}
	}
	struct backend *be = table_pick_from(t, r, p, false, &limited);
	if (!be)
		be = table_pick_from(t, r, p, true, &limited);
	if (be) {
		*out = be;
		return TABLE_PICK_OK;
	}
	return limited ? TABLE_PICK_LIMIT : TABLE_PICK_NONE;
}

size_t table_prune(struct table *t, uint64_t now)
{
	size_t pruned = 0;
	struct hmap_node *n, *tmp;
	hmap_foreach(&t->hosts, n, tmp)
	{
		struct host_entry *h = (struct host_entry *)n;
		for (size_t i = h->n_routes; i-- > 0;) {
			struct route *r = h->routes[i];
			for (size_t k = r->n_eps; k-- > 0;)
				if (now > r->eps[k].last_seen + r->eps[k].threshold_ms) {
					table_ep_remove(t, r, k);
					pruned++;
				}
			bool host_gone = r->n_eps == 0 && h->n_routes == 1;
			table_tidy(t, h, i);
			if (host_gone)
				break;
		}
	}
	return pruned;
}

void table_touch_all(struct table *t, uint64_t now)
{
	struct hmap_node *n, *tmp;
	hmap_foreach(&t->hosts, n, tmp)
	{
		struct host_entry *h = (struct host_entry *)n;
		for (size_t i = 0; i < h->n_routes; i++)
			for (size_t k = 0; k < h->routes[i]->n_eps; k++)
				h->routes[i]->eps[k].last_seen = now;
	}
}

void table_get_stats(const struct table *t, struct table_stats *out)
{
	out->routes = t->n_routes;
	out->endpoints = t->n_eps;
	out->backends = t->backends.count;
	out->hosts = t->hosts.count;
}
