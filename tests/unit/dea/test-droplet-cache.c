// SPDX-License-Identifier: MIT
/*
 * Unit tests of dea/droplet-cache.c against a tiny HTTP server in a thread of this test (on
 * 127.0.0.1, port 0) that serves droplets from a table and counts requests: download and hit,
 * hash mismatch, 404, timeout, refused protocols, LRU eviction, in-use pinning, reopening, and
 * two threads sharing one download.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "droplet-cache.h"
#include "error.h"
#include "fs.h"
#include "sha256.h"
#include "tap.h"
#include "testutil.h"

enum { DROPLET_SIZE = 1000, TIMEOUT_MS = 5000 };

enum route_kind { ROUTE_SERVE, ROUTE_STALL, ROUTE_REDIRECT, ROUTE_HUGE, ROUTE_404 };

struct route {
	const char *name;
	enum route_kind kind;
	int delay_ms;
	char body[DROPLET_SIZE];
	char sha[DEW_SHA256_HEX_LEN + 1];
	int requests;
};

static struct route routes[] = {
	{ .name = "a" },
	{ .name = "b" },
	{ .name = "c" },
	{ .name = "d" },
	{ .name = "e" },
	{ .name = "slow-a", .delay_ms = 300 },
	{ .name = "slow-404", .delay_ms = 300, .kind = ROUTE_404 },
	{ .name = "stall", .kind = ROUTE_STALL },
	{ .name = "to-file", .kind = ROUTE_REDIRECT },
	{ .name = "huge", .kind = ROUTE_HUGE },
};

static struct {
	int fd, stop[2], port, requests;
	pthread_t thread;
	pthread_mutex_t lock;
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The route called name, or NULL. */
static struct route *route_lookup(const char *name)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(routes); i++)
		if (strcmp(routes[i].name, name) == 0)
			return &routes[i];
	return NULL;
}

/* The route called name, which the test knows exists. */
static struct route *route_find(const char *name)
{
	struct route *r = route_lookup(name);

	if (!r)
		abort();
	return r;
}

static void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		p += k;
		len -= (size_t)k;
	}
}

/* Read one request head (bounded) and answer it from the route table. */
static void serve_one(int fd)
{
	char req[4096] = "", head[256], name[128];
	size_t used = 0;
	struct route *r;

	while (used < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) <= 0)
			return;
		ssize_t k = recv(fd, req + used, sizeof req - 1 - used, 0);
		if (k <= 0)
			return;
		used += (size_t)k;
		req[used] = '\0';
	}
	if (sscanf(req, "GET /%127s ", name) != 1)
		return;
	pthread_mutex_lock(&srv.lock);
	srv.requests++;
	r = route_lookup(name);
	if (r)
		r->requests++;
	pthread_mutex_unlock(&srv.lock);
	if (r && r->delay_ms)
		usleep((useconds_t)r->delay_ms * 1000);
	if (!r || r->kind == ROUTE_404) {
		const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		send_all(fd, nf, strlen(nf));
		return;
	}
	switch (r->kind) {
	case ROUTE_SERVE:
		snprintf(head, sizeof head,
			 "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", DROPLET_SIZE);
		send_all(fd, head, strlen(head));
		send_all(fd, r->body, DROPLET_SIZE);
		break;
	case ROUTE_STALL: {
		/* Part of the body, then silence until the client gives up. */
		snprintf(head, sizeof head,
			 "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n");
		send_all(fd, head, strlen(head));
		send_all(fd, "0123456789", 10);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 10000);
		break;
	}
	case ROUTE_REDIRECT:
		snprintf(head, sizeof head,
			 "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\n"
			 "Content-Length: 0\r\nConnection: close\r\n\r\n");
		send_all(fd, head, strlen(head));
		break;
	case ROUTE_404:
		break;
	case ROUTE_HUGE:
		snprintf(head, sizeof head,
			 "HTTP/1.1 200 OK\r\nContent-Length: 5368709120\r\nConnection: close\r\n\r\n");
		send_all(fd, head, strlen(head));
		break;
	}
}

static void *server_main(void *arg)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = srv.fd, .events = POLLIN },
				       { .fd = srv.stop[0], .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept(srv.fd, NULL, NULL);
		if (fd < 0)
			continue;
		serve_one(fd);
		close(fd);
	}
	return NULL;
}

static bool server_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;

	srv.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(srv.fd, 16) < 0 ||
	    getsockname(srv.fd, (struct sockaddr *)&sa, &len) < 0 || pipe(srv.stop) < 0)
		return false;
	srv.port = ntohs(sa.sin_port);
	return pthread_create(&srv.thread, NULL, server_main, NULL) == 0;
}

static void server_stop(void)
{
	if (write(srv.stop[1], "x", 1) != 1)
		tap_diag("cannot stop the server");
	pthread_join(srv.thread, NULL);
	close(srv.fd);
	close(srv.stop[0]);
	close(srv.stop[1]);
}

static int requests(void)
{
	pthread_mutex_lock(&srv.lock);
	int n = srv.requests;
	pthread_mutex_unlock(&srv.lock);
	return n;
}

static char *uri(const char *name)
{
	return xasprintf("http://127.0.0.1:%d/%s", srv.port, name);
}

static bool exists(const char *dir, const char *name)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	struct stat st;

	return lstat(p, &st) == 0;
}

/* Get the droplet of route name (its own hash unless sha is given); 0 or -errno, *err set. */
static int get(struct droplet_cache *c, const char *name, const char *sha, bool *hit, char **path,
	       struct dew_error **err)
{
	cleanup_free char *u = uri(name);
	struct route *r = route_find(name);
	cleanup_free char *p = NULL;
	bool h = false;

	int ret = droplet_cache_get(c, sha ? sha : r->sha, u, TIMEOUT_MS, &p, &h, err);
	if (hit)
		*hit = h;
	if (path)
		*path = steal_pointer(&p);
	return ret;
}

/* Get and release name, expecting success. */
static void use(struct droplet_cache *c, const char *name)
{
	struct dew_error *err = NULL;

	if (get(c, name, NULL, NULL, NULL, &err) < 0) {
		tap_ok(false, "get %s: %s", name, dew_error_msg(err));
		dew_error_free(err);
		return;
	}
	droplet_cache_release(c, route_find(name)->sha);
}

static struct droplet_cache *open_cache(const char *dir, uint64_t max)
{
	struct droplet_cache *c = NULL;
	struct dew_error *err = NULL;

	if (!tap_ok(droplet_cache_open(dir, max, &c, &err) == 0, "open a cache of %" PRIu64 " bytes", max)) {
		tap_diag("%s", dew_error_msg(err));
		abort();
	}
	return c;
}

static void test_download_and_hit(const char *dir)
{
	struct droplet_cache *c = open_cache(dir, 10 * DROPLET_SIZE);
	struct dew_error *err = NULL;
	struct droplet_cache_stats st;
	char *path = NULL, *data = NULL;
	size_t len = 0;
	bool hit = true;
	int before = requests();

	tap_is_int(get(c, "a", NULL, &hit, &path, &err), 0, "first get succeeds");
	tap_ok(!hit, "first get is a miss");
	tap_is_int(requests() - before, 1, "first get made one request");
	cleanup_free char *want = xasprintf("%s/%s", dir, routes[0].sha);
	tap_is_str(path, want, "path is <dir>/<sha256>");
	tap_ok(dew_read_file(path, 1 << 20, &data, &len, &err) == 0 && len == DROPLET_SIZE &&
		       memcmp(data, routes[0].body, DROPLET_SIZE) == 0,
	       "file holds the served bytes");
	free(data);
	free(path);
	path = NULL;
	droplet_cache_release(c, routes[0].sha);

	tap_is_int(get(c, "a", NULL, &hit, &path, &err), 0, "second get succeeds");
	tap_ok(hit, "second get is a hit");
	tap_is_int(requests() - before, 1, "a hit makes no request");
	droplet_cache_release(c, routes[0].sha);
	free(path);
	droplet_cache_get_stats(c, &st);
	tap_ok(st.hits == 1 && st.misses == 1 && st.entries == 1 && st.bytes == DROPLET_SIZE,
	       "stats: 1 hit, 1 miss, 1 entry of %d bytes", DROPLET_SIZE);
	droplet_cache_close(c);
}

/* A get that must fail with a message containing want and leave dir as it was. */
static void expect_failure(struct droplet_cache *c, const char *dir, const char *u, const char *sha,
			   uint64_t timeout_ms, const char *want, const char *what)
{
	struct dew_error *err = NULL;
	char *path = NULL;
	bool hit = false;
	int n = test_count_entries(dir);

	int r = droplet_cache_get(c, sha, u, timeout_ms, &path, &hit, &err);
	tap_ok(r < 0 && path == NULL, "%s: get fails", what);
	tap_has_str(dew_error_msg(err), want, "%s: error says so", what);
	tap_has_str(dew_error_msg(err), "download droplet ", "%s: error names the download", what);
	tap_is_int(test_count_entries(dir), n, "%s: nothing stored, no temporary file left", what);
	tap_diag("%s", dew_error_msg(err));
	dew_error_free(err);
	free(path);
}

static void test_failures(const char *dir)
{
	struct droplet_cache *c = open_cache(dir, 10 * DROPLET_SIZE);
	cleanup_free char *u_b = uri("b"), *u_missing = uri("missing"), *u_stall = uri("stall");
	cleanup_free char *u_redir = uri("to-file"), *u_huge = uri("huge");
	cleanup_free char *ftp = xasprintf("ftp://127.0.0.1:%d/b", srv.port);
	const char *sha_c = route_find("c")->sha;
	struct timespec t0, t1;
	int before = requests();

	expect_failure(c, dir, u_b, sha_c, TIMEOUT_MS, "SHA-256 mismatch (got ", "wrong content");
	tap_ok(!exists(dir, sha_c), "wrong content: no file under the claimed hash");
	expect_failure(c, dir, u_missing, sha_c, TIMEOUT_MS, "HTTP 404", "404");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_failure(c, dir, u_stall, sha_c, 300, "timed out after 300 ms", "stalled server");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_ok(secs < 3, "timeout honoured (%.2f s)", secs);
	expect_failure(c, dir, u_huge, sha_c, TIMEOUT_MS, "larger than 4294967296 bytes",
		       "5 GiB Content-Length");
	int mid = requests();
	expect_failure(c, dir, "file:///etc/passwd", sha_c, TIMEOUT_MS, "only http and https", "file URI");
	expect_failure(c, dir, ftp, sha_c, TIMEOUT_MS, "only http and https", "ftp URI");
	tap_is_int(requests(), mid, "refused URIs made no request");
	expect_failure(c, dir, u_redir, sha_c, TIMEOUT_MS, "protocol refused", "redirect to file://");
	expect_failure(c, dir, u_b, "not-a-hash", TIMEOUT_MS, "not a SHA-256 in lowercase hex",
		       "malformed hash");
	tap_is_int(requests() - before, 5, "one request per fetched failure");

	struct droplet_cache_stats st;
	droplet_cache_get_stats(c, &st);
	tap_ok(st.entries == 0 && st.bytes == 0, "failures leave the cache empty");
	/* A failure is not remembered: the right content under the same hash then succeeds. */
	cleanup_free char *u_c = uri("c");
	char *path = NULL;
	bool hit = true;
	struct dew_error *err = NULL;
	tap_is_int(droplet_cache_get(c, sha_c, u_c, TIMEOUT_MS, &path, &hit, &err), 0,
		   "get after failures succeeds");
	droplet_cache_release(c, sha_c);
	free(path);
	droplet_cache_close(c);
}

static void test_lru(const char *dir)
{
	struct droplet_cache *c = open_cache(dir, 3 * DROPLET_SIZE);
	struct droplet_cache_stats st;

	use(c, "a");
	use(c, "b");
	use(c, "c");
	use(c, "d");
	tap_ok(!exists(dir, route_find("a")->sha), "LRU: a (least recently used) evicted by d");
	tap_ok(exists(dir, route_find("b")->sha) && exists(dir, route_find("c")->sha) &&
		       exists(dir, route_find("d")->sha),
	       "LRU: b, c, d kept");
	/* Touch b, then add a back: c is now the least recently used. */
	use(c, "b");
	use(c, "a");
	tap_ok(!exists(dir, route_find("c")->sha) && exists(dir, route_find("b")->sha),
	       "LRU: touching b before adding a evicts c, not b");
	droplet_cache_get_stats(c, &st);
	tap_ok(st.evictions == 2 && st.entries == 3 && st.bytes == 3 * DROPLET_SIZE,
	       "LRU: 2 evictions, 3 entries, at the limit");
	droplet_cache_close(c);
}

static void test_in_use(const char *dir)
{
	struct droplet_cache *c = open_cache(dir, 2 * DROPLET_SIZE);
	const char *names[] = { "a", "b", "c", "d" };
	struct dew_error *err = NULL;
	struct droplet_cache_stats st;
	bool ok = true;

	for (size_t i = 0; i < DEW_ARRAY_SIZE(names); i++)
		ok &= get(c, names[i], NULL, NULL, NULL, &err) == 0;
	tap_ok(ok, "in use: four gets over a two-droplet limit succeed");
	ok = true;
	for (size_t i = 0; i < DEW_ARRAY_SIZE(names); i++)
		ok &= exists(dir, route_find(names[i])->sha);
	tap_ok(ok, "in use: no droplet in use was evicted");
	droplet_cache_release(c, route_find("b")->sha);
	tap_ok(!exists(dir, route_find("b")->sha),
	       "in use: released b evicted as the cache is over the limit");
	droplet_cache_release(c, route_find("a")->sha);
	tap_ok(!exists(dir, route_find("a")->sha), "in use: then released a evicted too");
	droplet_cache_release(c, route_find("c")->sha);
	tap_ok(exists(dir, route_find("c")->sha), "in use: c kept once under the limit");
	droplet_cache_release(c, route_find("d")->sha);
	droplet_cache_get_stats(c, &st);
	tap_ok(st.entries == 2 && st.bytes == 2 * DROPLET_SIZE, "in use: back at the limit");
	droplet_cache_close(c);

	/* A droplet larger than the whole cache is returned, then evicted as soon as released. */
	c = open_cache(dir, DROPLET_SIZE / 2);
	tap_ok(!exists(dir, route_find("c")->sha), "opening with a smaller limit evicts");
	tap_ok(get(c, "e", NULL, NULL, NULL, &err) == 0 && exists(dir, route_find("e")->sha),
	       "oversized droplet is returned and present");
	droplet_cache_release(c, route_find("e")->sha);
	tap_ok(!exists(dir, route_find("e")->sha), "oversized droplet evicted on release");
	droplet_cache_close(c);
}

static void test_reopen(const char *dir)
{
	struct droplet_cache *c = open_cache(dir, 10 * DROPLET_SIZE);
	struct droplet_cache_stats st;
	struct dew_error *err = NULL;
	bool hit = false;

	use(c, "a");
	use(c, "b");
	droplet_cache_close(c);
	cleanup_free char *tmp = xasprintf("%s/.tmp-%s-0123456789abcdef", dir, route_find("c")->sha);
	cleanup_free char *other = xasprintf("%s/README", dir);
	tap_ok(dew_write_file_replace(tmp, "partial", 7, 0644, &err) == 0 &&
		       dew_write_file_replace(other, "x", 1, 0644, &err) == 0,
	       "reopen: leftover temporary file and a stranger planted");
	c = open_cache(dir, 10 * DROPLET_SIZE);
	tap_ok(access(tmp, F_OK) < 0, "reopen: temporary file removed");
	tap_ok(access(other, F_OK) == 0, "reopen: unrelated file left alone");
	droplet_cache_get_stats(c, &st);
	tap_ok(st.entries == 2 && st.bytes == 2 * DROPLET_SIZE, "reopen: 2 entries adopted");
	int before = requests();
	tap_ok(get(c, "b", NULL, &hit, NULL, &err) == 0 && hit, "reopen: adopted droplet is a hit");
	tap_is_int(requests(), before, "reopen: without a request");
	droplet_cache_release(c, route_find("b")->sha);
	droplet_cache_close(c);
}

struct racer {
	struct droplet_cache *c;
	const char *name;
	int r;
	bool hit;
	char *path;
	struct dew_error *err;
};

static void *racer_main(void *arg)
{
	struct racer *x = arg;
	cleanup_free char *u = uri(x->name);

	x->r = droplet_cache_get(x->c, route_find(x->name)->sha, u, TIMEOUT_MS, &x->path, &x->hit, &x->err);
	return NULL;
}

/* Four threads get name at once; returns how many requests the server saw for it. */
static int race(struct droplet_cache *c, const char *name, struct racer x[4])
{
	pthread_t t[4];
	int before = route_find(name)->requests;

	for (int i = 0; i < 4; i++) {
		x[i] = (struct racer){ .c = c, .name = name };
		pthread_create(&t[i], NULL, racer_main, &x[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_lock(&srv.lock);
	int n = route_find(name)->requests - before;
	pthread_mutex_unlock(&srv.lock);
	return n;
}

static void test_concurrent(const char *dir)
{
	struct droplet_cache *c = open_cache(dir, 10 * DROPLET_SIZE);
	struct droplet_cache_stats st;
	struct racer x[4];
	int hits = 0;
	bool ok = true;

	tap_is_int(race(c, "slow-a", x), 1, "concurrent: exactly one HTTP request");
	for (int i = 0; i < 4; i++) {
		ok &= x[i].r == 0 && x[i].path && strcmp(x[i].path, x[0].path ? x[0].path : "") == 0;
		hits += x[i].hit;
	}
	tap_ok(ok, "concurrent: four threads get the same droplet");
	tap_is_int(hits, 0, "concurrent: none was a hit (it was missing when asked for)");
	for (int i = 0; i < 4; i++) {
		droplet_cache_release(c, route_find("slow-a")->sha);
		free(x[i].path);
	}
	droplet_cache_get_stats(c, &st);
	tap_ok(st.entries == 1 && st.bytes == DROPLET_SIZE, "concurrent: one entry");

	/* The waiters share the downloader's failure. */
	tap_is_int(race(c, "slow-404", x), 1, "concurrent failure: exactly one HTTP request");
	ok = true;
	for (int i = 0; i < 4; i++) {
		ok &= x[i].r < 0 && !x[i].path && x[i].err && strstr(x[i].err->msg, "HTTP 404");
		dew_error_free(x[i].err);
	}
	tap_ok(ok, "concurrent failure: all four get the 404");
	droplet_cache_get_stats(c, &st);
	tap_ok(st.entries == 1 && test_count_entries(dir) == 1, "concurrent failure: nothing stored");
	droplet_cache_close(c);
}

static char *subdir(const char *base, const char *name)
{
	return xasprintf("%s/%s", base, name);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	cleanup_free char *dir = xasprintf("%s/dew-test-droplet-cache.XXXXXX", base && *base ? base : "/tmp");
	struct dew_error *err = NULL;

	for (size_t i = 0; i < DEW_ARRAY_SIZE(routes); i++) {
		for (int j = 0; j < DROPLET_SIZE; j++)
			routes[i].body[j] = (char)(i * 31 + (size_t)j * 7 + (j >> 5));
		dew_sha256_hex(routes[i].body, DROPLET_SIZE, routes[i].sha);
	}
	if (!mkdtemp(dir)) {
		tap_ok(false, "mkdtemp %s: %s", dir, strerror(errno));
		return tap_done();
	}
	if (!tap_ok(server_start(), "HTTP server on 127.0.0.1"))
		return tap_done();
	const struct {
		const char *name;
		void (*fn)(const char *dir);
	} tests[] = {
		{ "hit", test_download_and_hit },
		{ "fail", test_failures },
		{ "lru", test_lru },
		{ "in-use", test_in_use },
		{ "reopen", test_reopen },
		{ "concurrent", test_concurrent },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(tests); i++) {
		cleanup_free char *d = subdir(dir, tests[i].name);
		tests[i].fn(d);
	}
	server_stop();
	if (dew_remove_tree(dir, &err) < 0)
		tap_diag("remove %s: %s", dir, dew_error_msg(err));
	dew_error_free(err);
	return tap_done();
}
