// SPDX-License-Identifier: MIT
/*
 * Unit tests of dea/files.c. Tokens first (mint, verify, every malformed form); then the file
 * server over real sockets: the HTTP server on a loop in a thread of its own, libcurl requests
 * from the main thread, against a fixture instance holding files, a subdirectory, symlinks that
 * stay inside and symlinks that leave, a fifo, a socket, a log and big files. The HTTP part runs
 * twice: with openat2, then with a seccomp filter making openat2 fail with ENOSYS, so that the
 * fallback walk meets the same cases.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "files.h"
#include "fs.h"
#include "tap.h"

#define SECRET "a-test-secret-of-enough-bytes"
#define INSTANCE "inst-1"
enum { BIG_SIZE = 5 << 20, SPARSE_SIZE = 40 << 20, HUGE_SIZE = 100 << 20 };
static const int64_t now_fixed = 1700000000;

static int64_t fixed_now(void)
{
	return now_fixed;
}

/* ---- tokens ---- */

static void test_tokens(void)
{
	cleanup_free char *good = files_token_mint(SECRET, INSTANCE, now_fixed + 60);
	cleanup_free char *at_now = files_token_mint(SECRET, INSTANCE, now_fixed);
	cleanup_free char *old = files_token_mint(SECRET, INSTANCE, now_fixed - 1);
	cleanup_free char *tampered = NULL, *upper = NULL;
	const char *dot = good ? strchr(good, '.') : NULL;

	if (!tap_ok(good && at_now && old && dot, "mint tokens"))
		return;
	tap_ok(dot - good == 10 && strlen(dot + 1) == FILES_TOKEN_HEX, "token is <expires>.<64 hex>: %s",
	       good);
	tap_is_int(files_token_verify(SECRET, INSTANCE, good, now_fixed), 0, "a good token verifies");
	tap_is_int(files_token_verify(SECRET, INSTANCE, at_now, now_fixed), 0, "valid up to its second");
	tap_is_int(files_token_verify(SECRET, INSTANCE, old, now_fixed), -ETIMEDOUT, "expired: -ETIMEDOUT");
	tap_is_int(files_token_verify(SECRET, "inst-2", good, now_fixed), -EACCES, "other instance: -EACCES");
	tap_is_int(files_token_verify(SECRET "x", INSTANCE, good, now_fixed), -EACCES,
		   "other secret: -EACCES");

	tampered = xstrdup(good);
	char *last = tampered + strlen(tampered) - 1;
	*last = *last == '0' ? '1' : '0';
	tap_is_int(files_token_verify(SECRET, INSTANCE, tampered, now_fixed), -EACCES,
		   "tampered hex: -EACCES");
	/* A later expiry with the old MAC: the expiry is signed too. */
	cleanup_free char *extended = xasprintf("%" PRId64 "%s", now_fixed + 61, dot);
	tap_is_int(files_token_verify(SECRET, INSTANCE, extended, now_fixed), -EACCES,
		   "changed expiry: -EACCES");
	/* An expired token whose MAC is wrong says nothing about the expiry. */
	cleanup_free char *old_bad = xstrdup(old);
	old_bad[strlen(old_bad) - 1] = old_bad[strlen(old_bad) - 1] == '0' ? '1' : '0';
	tap_is_int(files_token_verify(SECRET, INSTANCE, old_bad, now_fixed), -EACCES,
		   "expired and tampered: -EACCES");
	upper = xstrdup(good);
	for (char *c = upper; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	tap_is_int(files_token_verify(SECRET, INSTANCE, upper, now_fixed), -EACCES, "uppercase hex: -EACCES");

	const char *hex = dot + 1;
	cleanup_free char *lead0 = xasprintf("0%s", good);
	cleanup_free char *plus = xasprintf("+%s", good);
	cleanup_free char *space = xasprintf("%s ", good);
	cleanup_free char *short_hex = xstrndup(good, strlen(good) - 1);
	cleanup_free char *long_hex = xasprintf("%s0", good);
	cleanup_free char *no_exp = xasprintf(".%s", hex);
	cleanup_free char *huge = xasprintf("99999999999999999999.%s", hex);
	cleanup_free char *neg = xasprintf("-1.%s", hex);
	cleanup_free char *two_dots = xasprintf("1.2.%s", hex);
	const char *garbage[] = { "",	     ".",      "abc",  "123", "123.", lead0,	plus, space,
				  short_hex, long_hex, no_exp, huge,  neg,    two_dots, hex,  "Bearer x" };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(garbage); i++)
		tap_is_int(files_token_verify(SECRET, INSTANCE, garbage[i], now_fixed), -EACCES,
			   "malformed token %zu refused: `%.24s`", i, garbage[i]);
	tap_is_int(files_token_verify(SECRET, INSTANCE, NULL, now_fixed), -EACCES, "NULL token refused");

	tap_ok(files_token_mint("short", INSTANCE, now_fixed) == NULL, "mint refuses a short secret");
	tap_ok(files_token_mint(SECRET, INSTANCE, -1) == NULL, "mint refuses a negative expiry");
	tap_is_int(files_token_verify("short", INSTANCE, good, now_fixed), -EACCES,
		   "verify refuses a short secret");
}

/* ---- the fixture instance ---- */

struct fixture {
	char *tmp;  /* owned: removed at the end */
	char *inst; /* <tmp>/inst */
	char *big;  /* BIG_SIZE bytes of a pattern */
};

static void put(const char *dir, const char *name, const void *data, size_t len)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	cleanup_error struct dew_error *err = NULL;

	if (dew_write_file_replace(p, data, len, 0644, &err) < 0) {
		tap_diag("fixture: %s", dew_error_msg(err));
		abort();
	}
}

static void make_dir(const char *dir, const char *name)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);

	if (mkdir(p, 0755) < 0)
		abort();
}

static void make_link(const char *dir, const char *name, const char *target)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);

	if (symlink(target, p) < 0)
		abort();
}

/* A sparse file of size bytes whose last bytes are tail. */
static void make_sparse(const char *dir, const char *name, size_t size, const char *tail)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	cleanup_close int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t n = tail ? strlen(tail) : 0;

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    (n && pwrite(fd, tail, n, (off_t)(size - n)) != (ssize_t)n))
		abort();
}

static void make_socket(const char *dir, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, name);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		abort();
	close(fd);
}

static void fixture_make(struct fixture *f)
{
	char tmpl[] = "/tmp/dew-test-files-XXXXXX";

	if (!mkdtemp(tmpl))
		abort();
	f->tmp = xstrdup(tmpl);
	f->inst = xasprintf("%s/inst", f->tmp);
	cleanup_free char *app = xasprintf("%s/app", f->inst);
	cleanup_free char *sub = xasprintf("%s/sub", app);
	cleanup_free char *logs = xasprintf("%s/logs", f->inst);
	cleanup_free char *other = xasprintf("%s/other", f->inst);
	cleanup_free char *abs_target = xasprintf("%s/hello.txt", app);
	char deep[200];

	make_dir(f->tmp, "inst");
	make_dir(f->inst, "app");
	make_dir(f->inst, "logs");
	make_dir(f->inst, "other");
	make_dir(app, "sub");
	put(f->tmp, "outside", "outside secret\n", 15);
	put(other, "secret.txt", "not served\n", 11);
	put(logs, "stdout.log", "line 1\nline 2\nline 3\n", 21);
	put(app, "hello.txt", "hello, world\n", 13);
	for (size_t i = 0; i < sizeof deep; i++)
		deep[i] = (char)(255 - i);
	put(sub, "deep.bin", deep, sizeof deep);
	put(sub, "more.txt", "more\n", 5);
	f->big = xmalloc(BIG_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i++)
		f->big[i] = (char)((i * 7) ^ (i >> 16));
	put(app, "big.bin", f->big, BIG_SIZE);
	make_sparse(app, "sparse.bin", SPARSE_SIZE, NULL);
	make_sparse(app, "huge.bin", HUGE_SIZE, "the end\n");
	make_link(app, "link-inside", "sub/deep.bin");
	make_link(app, "link-dir", "sub");
	make_link(app, "up-inside", "../logs/stdout.log");
	make_link(app, "up-record", "../instance.json");
	make_link(app, "passwd", "/etc/passwd");
	make_link(app, "escape", "../../outside");
	make_link(app, "abs-inside", abs_target);
	make_link(app, "loop-a", "loop-b");
	make_link(app, "loop-b", "loop-a");
	cleanup_free char *fifo = xasprintf("%s/fifo", app);
	if (mkfifo(fifo, 0644) < 0)
		abort();
	make_socket(app, "sock");
}

static void fixture_free(struct fixture *f)
{
	cleanup_error struct dew_error *err = NULL;

	if (dew_remove_tree(f->tmp, &err) < 0)
		tap_diag("cleanup: %s", dew_error_msg(err));
	free(f->tmp);
	free(f->inst);
	free(f->big);
}

/* ---- the server, on a loop in its own thread ---- */

static struct {
	uv_loop_t loop;
	uv_async_t stop;
	struct dew_http_server *server;
	struct files_ctx ctx;
	pthread_t thread;
	int port;
} srv;

static const char *instance_dir(void *data, const char *id)
{
	return strcmp(id, INSTANCE) == 0 ? data : NULL;
}

static void on_stop(uv_async_t *a)
{
	dew_http_server_stop(srv.server, NULL, NULL);
	uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
	uv_run(&srv.loop, UV_RUN_DEFAULT);
	return NULL;
}

static bool server_start(const struct fixture *f)
{
	cleanup_error struct dew_error *err = NULL;

	memset(&srv, 0, sizeof srv);
	uv_loop_init(&srv.loop);
	uv_async_init(&srv.loop, &srv.stop, on_stop);
	srv.ctx = (struct files_ctx){
		.secret = SECRET,
		.instance_dir = instance_dir,
		.data = f->inst,
		.now = fixed_now,
		.loop = &srv.loop,
	};
	if (dew_http_server_start(&srv.server, &srv.loop, "127.0.0.1", 0, files_routes, files_n_routes, NULL,
				  &srv.ctx, &err) < 0) {
		tap_diag("%s", dew_error_msg(err));
		return false;
	}
	srv.port = dew_http_server_port(srv.server);
	return pthread_create(&srv.thread, NULL, loop_main, NULL) == 0;
}

static void server_stop(const char *mode)
{
	uv_async_send(&srv.stop);
	pthread_join(srv.thread, NULL);
	tap_is_int(uv_loop_close(&srv.loop), 0, "%s: the loop ends with every handle closed", mode);
}

/* ---- the client (main thread) ---- */

struct resp {
	long status;
	struct dew_buf body;
	char ctype[128];
	char www_auth[128];
	bool chunked;
	long long length; /* Content-Length, -1 when absent */
	json_t *json;	  /* the body when it is JSON */
};

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;
	cleanup_free char *line = xstrndup(data, len);

	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "Content-Type: ", 14) == 0)
		snprintf(r->ctype, sizeof r->ctype, "%s", line + 14);
	else if (strncasecmp(line, "WWW-Authenticate: ", 18) == 0)
		snprintf(r->www_auth, sizeof r->www_auth, "%s", line + 18);
	else if (strncasecmp(line, "Content-Length: ", 16) == 0)
		r->length = atoll(line + 16);
	else if (strcasecmp(line, "Transfer-Encoding: chunked") == 0)
		r->chunked = true;
	return len;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;

	dew_buf_append(&r->body, data, size * n);
	return size * n;
}

static void resp_close(struct resp *r)
{
	dew_buf_close(&r->body);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/*
 * method (GET or HEAD) of /instances/<instance>/files<rest> with the given Authorization
 * header (NULL: none). The previous answer in r is released first.
 */
static void request(struct resp *r, const char *method, const char *instance, const char *rest,
		    const char *auth)
{
	cleanup_free char *url =
		xasprintf("http://127.0.0.1:%d/instances/%s/files%s", srv.port, instance, rest);
	cleanup_free char *hdr = auth ? xasprintf("Authorization: %s", auth) : NULL;
	struct curl_slist *headers = hdr ? curl_slist_append(NULL, hdr) : NULL;
	CURL *c = curl_easy_init();

	resp_close(r);
	r->length = -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	/* A safety net against a wedged server, not a timing assertion. */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		tap_diag("GET %s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	if (strncmp(r->ctype, "application/json", 16) == 0 && r->body.len)
		r->json = json_loadb(r->body.data, r->body.len, 0, NULL);
}

static char *bearer;

/* GET with the good token. */
static void get(struct resp *r, const char *rest)
{
	request(r, "GET", INSTANCE, rest, bearer);
}

/* The description of an error answer, or "". */
static const char *description(const struct resp *r)
{
	const char *d = json_string_value(json_object_get(r->json, "description"));

	return d ? d : "";
}

/* "a,b,c": the names of a listing, in order. */
static char *names(const struct resp *r)
{
	struct dew_buf b = DEW_BUF_INIT;
	json_t *e;
	size_t i;

	json_array_foreach (json_object_get(r->json, "entries"), i, e) {
		if (i)
			dew_buf_putc(&b, ',');
		dew_buf_puts(&b, json_string_value(json_object_get(e, "name")));
	}
	return dew_buf_steal(&b);
}

/* The entry called name of a listing, or NULL. */
static json_t *entry(const struct resp *r, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach (json_object_get(r->json, "entries"), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
			return e;
	}
	return NULL;
}

static void expect_status(struct resp *r, const char *rest, long status, const char *what)
{
	get(r, rest);
	tap_is_int(r->status, status, "%s: %s", what, rest);
	if (status >= 400)
		tap_is_int(json_integer_value(json_object_get(r->json, "code")), status,
			   "%s: JSON error body", what);
}

/* ---- scenarios ---- */

static void test_auth(const char *mode)
{
	struct resp r = { 0 };
	cleanup_free char *expired = files_token_mint(SECRET, INSTANCE, now_fixed - 1);
	cleanup_free char *expired_hdr = xasprintf("Bearer %s", expired);
	cleanup_free char *wrong = xstrdup(bearer);
	cleanup_free char *ghost = files_token_mint(SECRET, "ghost", now_fixed + 60);
	cleanup_free char *ghost_hdr = xasprintf("Bearer %s", ghost);
	cleanup_free char *query = xasprintf("/app/hello.txt?token=%s", bearer + 7);

	wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == 'a' ? 'b' : 'a';

	request(&r, "GET", INSTANCE, "/app/hello.txt", NULL);
	tap_is_int(r.status, 401, "%s: no token: 401", mode);
	tap_is_str(r.www_auth, "Bearer", "%s: 401 carries WWW-Authenticate: Bearer", mode);
	request(&r, "GET", INSTANCE, "/app/hello.txt", "Basic dXNlcjpwYXNz");
	tap_is_int(r.status, 401, "%s: another scheme and no query token: 401", mode);
	request(&r, "GET", INSTANCE, "/app/hello.txt", wrong);
	tap_is_int(r.status, 403, "%s: wrong token: 403", mode);
	tap_has_str(description(&r), "invalid token", "%s: says the token is invalid", mode);
	request(&r, "GET", INSTANCE, "/app/hello.txt", expired_hdr);
	tap_is_int(r.status, 403, "%s: expired token: 403", mode);
	tap_has_str(description(&r), "expired", "%s: says it expired", mode);
	request(&r, "GET", INSTANCE, "/app/hello.txt", ghost_hdr);
	tap_is_int(r.status, 403, "%s: another instance's token: 403", mode);
	request(&r, "GET", INSTANCE, query, NULL);
	tap_is_int(r.status, 200, "%s: token in the query: 200", mode);
	/* Unknown instances: only a caller with a token for that very id learns it is absent. */
	request(&r, "GET", "ghost", "/app", NULL);
	tap_is_int(r.status, 401, "%s: unknown instance without a token: 401, not 404", mode);
	request(&r, "GET", "ghost", "/app", bearer);
	tap_is_int(r.status, 403, "%s: unknown instance with another instance's token: 403", mode);
	request(&r, "GET", "ghost", "/app", ghost_hdr);
	tap_is_int(r.status, 404, "%s: unknown instance with its own token: 404", mode);
	resp_close(&r);
}

static void test_listings(const char *mode)
{
	struct resp r = { 0 };
	cleanup_free char *n = NULL;

	get(&r, "");
	tap_is_int(r.status, 200, "%s: top: 200", mode);
	tap_is_str(n = names(&r), "app,logs", "%s: top lists exactly app and logs", mode);
	free(steal_pointer(&n));
	get(&r, "/");
	tap_is_str(n = names(&r), "app,logs", "%s: top with a trailing slash", mode);
	free(steal_pointer(&n));
	tap_is_str(json_string_value(json_object_get(entry(&r, "logs"), "type")), "dir", "%s: logs is a dir",
		   mode);
	expect_status(&r, "/other", 404, mode);
	expect_status(&r, "/other/secret.txt", 404, mode);

	get(&r, "/app");
	tap_is_int(r.status, 200, "%s: app: 200", mode);
	tap_is_str(json_string_value(json_object_get(r.json, "path")), "app", "%s: app: path", mode);
	tap_is_str(
		n = names(&r),
		"abs-inside,big.bin,escape,fifo,hello.txt,huge.bin,link-dir,link-inside,loop-a,loop-b,passwd,"
		"sock,sparse.bin,sub,up-inside,up-record",
		"%s: app: every entry, sorted", mode);
	free(steal_pointer(&n));
	json_t *hello = entry(&r, "hello.txt");
	tap_ok(json_is_string(json_object_get(hello, "type")) &&
		       strcmp(json_string_value(json_object_get(hello, "type")), "file") == 0 &&
		       json_integer_value(json_object_get(hello, "size")) == 13 &&
		       json_integer_value(json_object_get(hello, "mtime")) > 0,
	       "%s: app: hello.txt is a 13-byte file with an mtime", mode);
	tap_is_str(json_string_value(json_object_get(entry(&r, "sub"), "type")), "dir", "%s: sub is a dir",
		   mode);
	tap_is_str(json_string_value(json_object_get(entry(&r, "link-inside"), "type")), "link",
		   "%s: link-inside is a link", mode);
	tap_is_str(json_string_value(json_object_get(entry(&r, "fifo"), "type")), "other",
		   "%s: fifo is other", mode);
	tap_ok(json_is_false(json_object_get(r.json, "truncated")), "%s: app: not truncated", mode);

	get(&r, "/app/sub/");
	tap_is_str(json_string_value(json_object_get(r.json, "path")), "app/sub", "%s: app/sub/: path", mode);
	tap_is_str(n = names(&r), "deep.bin,more.txt", "%s: app/sub: entries", mode);
	free(steal_pointer(&n));
	get(&r, "/app/link-dir");
	tap_is_int(r.status, 200, "%s: a symlink to a directory inside: 200", mode);
	tap_is_str(n = names(&r), "deep.bin,more.txt", "%s: app/link-dir lists sub", mode);
	get(&r, "/logs");
	tap_is_str(json_string_value(json_object_get(entry(&r, "stdout.log"), "type")), "file",
		   "%s: logs lists stdout.log", mode);
	resp_close(&r);
}

/* A field of /proc/self/status in bytes ("VmRSS", "VmHWM"), 0 when unreadable. */
static uint64_t status_bytes(const char *field)
{
	cleanup_free char *line = NULL;
	size_t cap = 0, flen = strlen(field);
	uint64_t kib = 0;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && getline(&line, &cap, f) > 0) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kib = strtoull(line + flen + 1, NULL, 10);
			break;
		}
	}
	if (f)
		fclose(f);
	return kib << 10;
}

/* Give freed heap back to the kernel and restart the RSS high-water mark (Linux 4.0+). */
static bool rss_reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, "5", 1) == 1;

	if (fd >= 0)
		close(fd);
	malloc_trim(0);
	return ok;
}

/* What the huge download received: counted and checked on the fly, never kept. */
struct huge_sink {
	uint64_t len;
	bool zeros;	  /* every byte before the last 8 is zero */
	char last[8];	  /* the last 8 bytes */
	uint64_t rss_max; /* highest RSS seen while receiving */
};

static size_t on_huge_data(char *data, size_t size, size_t n, void *arg)
{
	struct huge_sink *h = arg;
	size_t len = size * n;

	/* Stall once at the start: a server without backpressure would queue the whole file now. */
	if (h->len == 0)
		usleep(500 * 1000);
	for (size_t i = 0; i < len; i++) {
		uint64_t at = h->len + i;
		if (at >= HUGE_SIZE - 8 && at < HUGE_SIZE)
			h->last[at - (HUGE_SIZE - 8)] = data[i];
		else if (data[i] != 0)
			h->zeros = false;
	}
	if ((h->len >> 20) != ((h->len + len) >> 20)) {
		uint64_t rss = status_bytes("VmRSS");
		if (rss > h->rss_max)
			h->rss_max = rss;
	}
	h->len += len;
	return len;
}

/* A 100 MiB file streams whole to a client that lags, and the server holds little of it. */
static void test_huge(const char *mode)
{
	cleanup_free char *url =
		xasprintf("http://127.0.0.1:%d/instances/" INSTANCE "/files/app/huge.bin", srv.port);
	cleanup_free char *auth = xasprintf("Authorization: %s", bearer);
	struct curl_slist *headers = curl_slist_append(NULL, auth);
	struct huge_sink h = { .zeros = true };
	bool peak = rss_reset_peak();
	uint64_t before = status_bytes("VmRSS");
	long status = 0;
	CURL *c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_huge_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK)
		tap_diag("GET %s: %s", url, curl_easy_strerror(rc));
	tap_ok(rc == CURLE_OK && status == 200 && h.len == HUGE_SIZE && h.zeros &&
		       memcmp(h.last, "the end\n", 8) == 0,
	       "%s: a 100 MiB file streams whole and intact (%" PRIu64 " bytes)", mode, h.len);
	uint64_t hwm = peak ? status_bytes("VmHWM") : 0;
	uint64_t top = hwm > h.rss_max ? hwm : h.rss_max;
	uint64_t grew = top > before ? top - before : 0;
#if defined(__SANITIZE_ADDRESS__)
	tap_skip("asan", "ASan's quarantine keeps freed chunks resident",
		 "the RSS bound (grew %" PRIu64 " KiB)", grew >> 10);
#else
	tap_ok(before && grew < 24 << 20,
	       "%s: memory stays bounded while a lagging client downloads it (RSS grew %" PRIu64 " KiB)",
	       mode, grew >> 10);
#endif
}

static void test_files(const char *mode, const struct fixture *f)
{
	struct resp r = { 0 };

	get(&r, "/app/hello.txt");
	tap_is_int(r.status, 200, "%s: hello.txt: 200", mode);
	tap_ok(r.body.len == 13 && memcmp(r.body.data, "hello, world\n", 13) == 0, "%s: hello.txt: body",
	       mode);
	tap_is_int(r.length, 13, "%s: hello.txt: Content-Length", mode);
	tap_is_str(r.ctype, "text/plain; charset=utf-8", "%s: hello.txt: text/plain", mode);

	get(&r, "/logs/stdout.log?tail=6");
	tap_ok(r.status == 200 && r.body.len == 6 && memcmp(r.body.data, "ine 3\n", 6) == 0,
	       "%s: tail=6: the last 6 bytes", mode);
	get(&r, "/logs/stdout.log?tail=1000");
	tap_is_int((intmax_t)r.body.len, 21, "%s: tail beyond the size: the whole file", mode);
	get(&r, "/logs/stdout.log?tail=0");
	tap_ok(r.status == 200 && r.body.len == 0, "%s: tail=0: empty", mode);
	expect_status(&r, "/logs/stdout.log?tail=abc", 400, mode);
	expect_status(&r, "/logs/stdout.log?tail=-5", 400, mode);

	get(&r, "/app/link-inside");
	tap_ok(r.status == 200 && r.body.len == 200 && (unsigned char)r.body.data[0] == 255 &&
		       (unsigned char)r.body.data[199] == 56,
	       "%s: a symlink inside is followed", mode);
	tap_is_str(r.ctype, "application/octet-stream", "%s: binary: application/octet-stream", mode);
	get(&r, "/app/up-inside");
	tap_is_int(r.status, 403, "%s: a symlink from app/ up into logs/ leaves app/: 403", mode);
	get(&r, "/app/up-record");
	tap_is_int(r.status, 403, "%s: a symlink from app/ to the DEA's record beside it: 403", mode);

	get(&r, "/app/big.bin");
	tap_is_int(r.status, 200, "%s: big.bin: 200", mode);
	tap_ok(r.body.len == BIG_SIZE && memcmp(r.body.data, f->big, BIG_SIZE) == 0,
	       "%s: a 5 MiB file streams intact (%zu bytes)", mode, r.body.len);
	tap_ok(r.chunked && r.length == -1, "%s: big.bin: chunked", mode);
	request(&r, "HEAD", INSTANCE, "/app/big.bin", bearer);
	tap_ok(r.status == 200 && r.body.len == 0, "%s: HEAD big.bin: 200, no body", mode);

	get(&r, "/app/sparse.bin");
	bool zeros = r.body.len == SPARSE_SIZE;
	for (size_t i = 0; zeros && i < r.body.len; i++)
		zeros = r.body.data[i] == 0;
	tap_ok(r.status == 200 && zeros, "%s: a 40 MiB file streams intact", mode);
	test_huge(mode);
	get(&r, "/app/huge.bin?tail=8");
	tap_ok(r.status == 200 && r.body.len == 8 && memcmp(r.body.data, "the end\n", 8) == 0,
	       "%s: ?tail=8 of a 100 MiB file", mode);
	resp_close(&r);
}

static void test_refusals(const char *mode)
{
	struct resp r = { 0 };

	expect_status(&r, "/app/passwd", 403, mode);
	tap_has_str(description(&r), "outside", "%s: passwd: says it leads outside", mode);
	expect_status(&r, "/app/escape", 403, mode);
	expect_status(&r, "/app/abs-inside", 403, mode);
	expect_status(&r, "/app/loop-a", 403, mode);
	expect_status(&r, "/app/fifo", 403, mode);
	expect_status(&r, "/app/sock", 403, mode);
	/* The router refuses these before the handler runs; files.c refuses them again. */
	expect_status(&r, "/app/../../outside", 400, mode);
	expect_status(&r, "/app/%2e%2e/other/secret.txt", 400, mode);
	expect_status(&r, "/app/missing", 404, mode);
	expect_status(&r, "/app/hello.txt/x", 404, mode);
	expect_status(&r, "/nope", 404, mode);
	resp_close(&r);
}

/* A client that goes away in the middle of a big file; the server must carry on. */
static void test_abort(const char *mode)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)srv.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	cleanup_free char *req = xasprintf("GET /instances/" INSTANCE "/files/app/sparse.bin HTTP/1.1\r\n"
					   "Host: x\r\nAuthorization: %s\r\n\r\n",
					   bearer);
	char buf[4096];
	struct resp r = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
		  send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req) &&
		  recv(fd, buf, sizeof buf, 0) > 0;
	tap_ok(ok, "%s: a client starts a big download", mode);
	if (fd >= 0) {
		/* A reset rather than a FIN: the server's next write fails at once. */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(fd);
	}
	get(&r, "/app/hello.txt");
	tap_is_int(r.status, 200, "%s: after the client went away, the server still answers", mode);
	resp_close(&r);
}

static void run_http(const char *mode, const struct fixture *f)
{
	if (!tap_ok(server_start(f), "%s: server started", mode))
		exit(tap_done());
	test_auth(mode);
	test_listings(mode);
	test_files(mode, f);
	test_refusals(mode);
	test_abort(mode);
	server_stop(mode);
}

/* Make openat2 fail with ENOSYS for this thread and the threads it starts from now on. */
static bool deny_openat2(void)
{
#if defined(__x86_64__) || defined(__aarch64__)
#if defined(__x86_64__)
	const unsigned arch = AUDIT_ARCH_X86_64;
#else
	const unsigned arch = AUDIT_ARCH_AARCH64;
#endif
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = DEW_ARRAY_SIZE(filter), .filter = filter };
	struct open_how how = { .flags = O_PATH | O_CLOEXEC };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return false;
	return syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how) < 0 && errno == ENOSYS;
#else
	return false;
#endif
}

int main(void)
{
	struct fixture f = { 0 };
	struct open_how how = { .flags = O_PATH | O_CLOEXEC };

	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		abort();
	test_tokens();

	cleanup_free char *token = files_token_mint(SECRET, INSTANCE, now_fixed + 3600);
	bearer = xasprintf("Bearer %s", token);
	fixture_make(&f);
	long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
	if (fd >= 0) {
		close((int)fd);
		run_http("openat2", &f);
	} else {
		tap_skip("openat2", "the kernel has no openat2", "the openat2 pass");
	}
	if (deny_openat2())
		run_http("walk", &f);
	else
		tap_skip("seccomp", "cannot install a seccomp filter", "the fallback walk pass");

	fixture_free(&f);
	free(bearer);
	curl_global_cleanup();
	return tap_done();
}
