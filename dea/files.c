// SPDX-License-Identifier: MIT
/*
 * The DEA's instance file server: the token check, the resolution of a requested path beneath
 * an instance's directory (openat2, or a careful walk on kernels without it), JSON directory
 * listings, and files sent from the loop by dew_http_send_file (with backpressure).
 */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "hmac.h"
#include "http-file.h"
#include "log.h"
#include "parse.h"
#include "sha256.h"

enum {
	FILES_MAX_ENTRIES = 10000,     /* per listing; the rest is cut off (truncated: true) */
	FILES_MAX_SYMLINKS = 40,       /* as the kernel's own limit */
	FILES_MAX_DEPTH = 256,	       /* directories the fallback walk holds open */
	FILES_MAX_WALK = 4 * PATH_MAX, /* the fallback walk's path after splicing in symlink targets */
	FILES_EAGAIN_RETRIES = 16,
};

/* ---- tokens ---- */

/* hex(HMAC-SHA256(secret, "<instance_id>\n<expires>")). */
static void files_token_hmac(const char *secret, const char *instance_id, int64_t expires,
			     char hex[FILES_TOKEN_HEX + 1])
{
	cleanup_free char *msg = xasprintf("%s\n%" PRId64, instance_id, expires);

	_Static_assert((int)FILES_TOKEN_HEX == (int)DEW_HMAC_SHA256_HEX_LEN,
		       "a token's MAC is an HMAC-SHA256");
	dew_hmac_sha256_hex(secret, strlen(secret), msg, strlen(msg), hex);
}

/* Mint a token for instance_id valid until expires. */
char *files_token_mint(const char *secret, const char *instance_id, int64_t expires)
{
	char hex[FILES_TOKEN_HEX + 1];

	if (!secret || strlen(secret) < FILES_SECRET_MIN || !instance_id || expires < 0)
		return NULL;
	files_token_hmac(secret, instance_id, expires, hex);
	return xasprintf("%" PRId64 ".%s", expires, hex);
}

/* Check token against instance_id and the clock. */
int files_token_verify(const char *secret, const char *instance_id, const char *token, int64_t now)
{
	char want[FILES_TOKEN_HEX + 1];
	uint64_t expires;

	if (!secret || strlen(secret) < FILES_SECRET_MIN || !instance_id || !token)
		return -EACCES;
	const char *dot = strchr(token, '.');
	if (!dot || dew_parse_digits(token, (size_t)(dot - token), INT64_MAX, &expires) < 0 ||
	    !dew_sha256_is_hex(dot + 1))
		return -EACCES;
	files_token_hmac(secret, instance_id, (int64_t)expires, want);
	/* Constant time: a byte-wise early exit would let a caller find the MAC a byte at a time. */
	if (!dew_hex_equal(want, dot + 1, FILES_TOKEN_HEX))
		return -EACCES;
	/* Checked after the MAC, so that an expiry is only reported to holders of a real token. */
	return (int64_t)expires < now ? -ETIMEDOUT : 0;
}

/* ---- resolving a path beneath the instance directory ---- */

/* openat2 beneath root, O_PATH: a descriptor, or -errno (-ENOSYS before Linux 5.6). */
static int files_resolve_openat2(int root, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	/* EAGAIN: a rename raced a ".." in a symlink's target; the kernel asks us to try again. */
	for (int i = 0; i < FILES_EAGAIN_RETRIES; i++) {
		int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
		if (fd >= 0)
			return fd;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

/*
 * Splice a symlink's target in front of what remains of the walk (rest, from *p). Absolute
 * targets are -EXDEV, as under RESOLVE_BENEATH: they name the host's root (or a container's),
 * never the instance.
 */
static int files_walk_splice(int link, char **rest, const char **p)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(link, "", target, sizeof target);

	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof target)
		return -ENAMETOOLONG;
	target[n] = '\0';
	if (n == 0)
		return -ENOENT;
	if (target[0] == '/')
		return -EXDEV;
	char *next = xasprintf("%s/%s", target, *p);
	if (strlen(next) > FILES_MAX_WALK) {
		free(next);
		return -ENAMETOOLONG;
	}
	free(*rest);
	*rest = next;
	*p = next;
	return 0;
}

/*
 * The resolution of openat2 without it (kernels before 5.6): one component at a time with
 * O_PATH|O_NOFOLLOW. Every directory passed stays open on a stack, so a ".." (only a symlink's
 * target can hold one) steps back to the descriptor we came through, never to whatever a
 * concurrent rename put above it, and a ".." at the top is -EXDEV. Symlinks are followed only
 * textually (their target spliced in front of the rest), never by the kernel, which is what
 * RESOLVE_NO_MAGICLINKS asks for; at most FILES_MAX_SYMLINKS of them (-ELOOP).
 */
static int files_resolve_walk(int root, const char *path)
{
	int stack[FILES_MAX_DEPTH];
	size_t depth = 0;
	int links = 0, r = 0;
	cleanup_free char *rest = xstrdup(path);
	const char *p = rest;

	for (;;) {
		p += strspn(p, "/");
		if (!*p)
			break;
		size_t len = strcspn(p, "/");
		char name[NAME_MAX + 1];
		if (len > NAME_MAX) {
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		bool more = p[strspn(p, "/")] != '\0';
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			if (depth == 0) {
				r = -EXDEV;
				break;
			}
			close(stack[--depth]);
			continue;
		}
		int fd = openat(depth ? stack[depth - 1] : root, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			r = -errno;
			if (fd >= 0)
				close(fd);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			r = ++links > FILES_MAX_SYMLINKS ? -ELOOP : files_walk_splice(fd, &rest, &p);
			close(fd);
			if (r < 0)
				break;
			continue;
		}
		if ((more && !S_ISDIR(st.st_mode)) || depth == FILES_MAX_DEPTH) {
			r = more && !S_ISDIR(st.st_mode) ? -ENOTDIR : -ENAMETOOLONG;
			close(fd);
			break;
		}
		stack[depth++] = fd;
	}
	if (r == 0 && depth == 0) {
		r = fcntl(root, F_DUPFD_CLOEXEC, 0);
		if (r < 0)
			r = -errno;
	} else if (r == 0) {
		r = stack[--depth];
	}
	while (depth > 0)
		close(stack[--depth]);
	return r;
}

/* An O_PATH descriptor of path beneath root, or -errno (-EXDEV: it leads outside). */
static int files_resolve(int root, const char *path)
{
	int fd = files_resolve_openat2(root, path);

	/* ENOSYS: a kernel before 5.6; EPERM: a seccomp profile that predates openat2. */
	if (fd == -ENOSYS || fd == -EPERM)
		fd = files_resolve_walk(root, path);
	return fd;
}

/*
 * Join the non-empty segments of rel with '/'. "." and ".." are refused here too, although
 * the router already answers 400 to them: this code must not depend on that for its safety.
 */
static int files_clean_path(const char *rel, char **out)
{
	struct dew_buf b = DEW_BUF_INIT;

	if (strlen(rel) > PATH_MAX)
		return -ENAMETOOLONG;
	for (const char *p = rel + strspn(rel, "/"); *p; p += strspn(p, "/")) {
		size_t len = strcspn(p, "/");
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
			dew_buf_close(&b);
			return -EINVAL;
		}
		if (b.len)
			dew_buf_putc(&b, '/');
		dew_buf_append(&b, p, len);
		p += len;
	}
	*out = dew_buf_steal(&b);
	return 0;
}

/* ---- answers ---- */

/* Answer a failed resolution or open of path (err a negative errno). */
static void files_respond_errno(struct dew_http_req *req, int err, const char *path)
{
	switch (-err) {
	case ENOENT:
	case ENOTDIR:
		dew_http_respond_error(req, 404, 404, "no such file or directory `%s`", path);
		break;
	case EXDEV:
		dew_http_respond_error(req, 403, 403, "`%s` leads outside the instance", path);
		break;
	case ELOOP:
		dew_http_respond_error(req, 403, 403, "`%s`: too many levels of symbolic links", path);
		break;
	case EACCES:
	case EPERM:
		dew_http_respond_error(req, 403, 403, "`%s`: permission denied", path);
		break;
	case ENAMETOOLONG:
		dew_http_respond_error(req, 400, 400, "path too long");
		break;
	default:
		dew_warn("files: %s: %s", path, strerror(-err));
		dew_http_respond_error(req, 500, 500, "`%s`: %s", path, strerror(-err));
		break;
	}
}

/* A JSON string of s; bytes of a name that is not UTF-8 are shown as '?'. */
static json_t *files_json_name(const char *s)
{
	json_t *j = json_string(s);

	if (j)
		return j;
	cleanup_free char *ascii = xstrdup(s);
	for (char *c = ascii; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	return json_string(ascii);
}

static json_t *files_entry_json(const char *name, const struct stat *st)
{
	const char *type = S_ISDIR(st->st_mode)	  ? "dir"
			   : S_ISREG(st->st_mode) ? "file"
			   : S_ISLNK(st->st_mode) ? "link"
						  : "other";

	return json_pack("{s:o, s:s, s:I, s:I}", "name", files_json_name(name), "type", type, "size",
			 (json_int_t)st->st_size, "mtime", (json_int_t)st->st_mtime);
}

static int files_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of directory fd (O_PATH), sorted by name, at most FILES_MAX_ENTRIES of them. */
static int files_list_dir(int fd, json_t *entries, bool *truncated)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;

	if (!d) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		return -e;
	}
	*truncated = false;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == FILES_MAX_ENTRIES) {
			*truncated = true;
			break;
		}
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	qsort(names, n, sizeof *names, files_name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		/* An entry removed since readdir is simply not listed. */
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			json_array_append_new(entries, files_entry_json(names[i], &st));
		free(names[i]);
	}
	free(names);
	closedir(d);
	return 0;
}

static void files_respond_listing(struct dew_http_req *req, const char *path, json_t *entries, bool truncated)
{
	dew_http_respond_json(req, 200,
			      json_pack("{s:o, s:o, s:b}", "path", files_json_name(path), "entries", entries,
					"truncated", truncated));
}

/* The top of an instance: only `app` and `logs`, whatever else its directory holds. */
static void files_respond_top(struct dew_http_req *req, int root)
{
	static const char *const tops[] = { "app", "logs" };
	json_t *entries = json_array();

	for (size_t i = 0; i < DEW_ARRAY_SIZE(tops); i++) {
		struct stat st;
		if (fstatat(root, tops[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			json_array_append_new(entries, files_entry_json(tops[i], &st));
	}
	files_respond_listing(req, "", entries, false);
}

/* ---- sending a file ---- */

static const char *files_content_type(const char *path)
{
	size_t len = strlen(path);

	if (len >= 4 && (strcmp(path + len - 4, ".log") == 0 || strcmp(path + len - 4, ".txt") == 0))
		return "text/plain; charset=utf-8";
	return "application/octet-stream";
}

/*
 * A regular file: the whole, or the last N bytes with ?tail=N. fd is the O_PATH descriptor;
 * the file is reopened for reading through /proc/self/fd, which reopens that very inode (a
 * second lookup by name could meet a fifo or a device swapped in since the check).
 */
static void files_respond_file(struct dew_http_req *req, int fd, const char *path)
{
	cleanup_free char *tail = dew_http_query(req, "tail");
	char proc[64];
	uint64_t n = UINT64_MAX;
	struct stat st;

	if (tail && dew_parse_digits(tail, strlen(tail), UINT64_MAX, &n) < 0) {
		dew_http_respond_error(req, 400, 400, "tail must be a number of bytes");
		return;
	}
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	int rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (rfd < 0 || fstat(rfd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = rfd < 0 ? errno : EACCES;
		if (rfd >= 0)
			close(rfd);
		/* ENOENT here is no missing file (we hold it) but a missing /proc. */
		files_respond_errno(req, e == ENOENT ? -EIO : -e, path);
		return;
	}
	uint64_t size = (uint64_t)st.st_size;
	const struct files_ctx *ctx = req->server_data;

	dew_http_add_header(req, "X-Content-Type-Options", "nosniff");
	dew_http_send_file(req, ctx->loop, rfd, n < size ? size - n : 0, size, files_content_type(path));
}

/* ---- the route ---- */

/* True when req carries a valid token for instance id; otherwise answers 401 or 403. */
static bool files_authorize(struct dew_http_req *req, const struct files_ctx *ctx, const char *id)
{
	const char *auth = dew_http_header(req, "Authorization");
	cleanup_free char *query = NULL;
	const char *token;

	if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
		token = auth + 7 + strspn(auth + 7, " ");
	} else {
		query = dew_http_query(req, "token");
		token = query;
	}
	if (!token || !*token) {
		dew_http_add_header(req, "WWW-Authenticate", "Bearer");
		dew_http_respond_error(req, 401, 401,
				       "a token is required (Authorization: Bearer <token> or ?token=)");
		return false;
	}
	int64_t now = ctx->now ? ctx->now() : (int64_t)time(NULL);
	int r = files_token_verify(ctx->secret, id, token, now);
	if (r == -ETIMEDOUT) {
		dew_http_respond_error(req, 403, 403, "the token has expired");
		return false;
	}
	if (r < 0) {
		dew_debug("files: %s: invalid token for instance `%s`", req->remote_addr, id);
		dew_http_respond_error(req, 403, 403, "invalid token");
		return false;
	}
	return true;
}

/* The first segment of path is `app` or `logs`. */
static bool files_top_allowed(const char *path)
{
	size_t len = strcspn(path, "/");

	return (len == 3 && strncmp(path, "app", 3) == 0) || (len == 4 && strncmp(path, "logs", 4) == 0);
}

/*
 * Serve path (clean, non-empty, starting with app or logs) beneath root. The rest of the path is
 * resolved beneath that top directory, not the instance's: an app's symlink cannot reach the
 * DEA's own records beside app/ and logs/ (instance.json holds the start message).
 */
static void files_serve(struct dew_http_req *req, int root, const char *path)
{
	size_t top_len = strcspn(path, "/");
	cleanup_free char *top_name = xstrndup(path, top_len);
	const char *rest = path[top_len] ? path + top_len + 1 : ".";
	cleanup_close int top = openat(root, top_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0) {
		files_respond_errno(req, errno == ELOOP || errno == ENOTDIR ? -EXDEV : -errno, path);
		return;
	}
	cleanup_close int fd = files_resolve(top, rest);
	struct stat st;

	if (fd < 0) {
		files_respond_errno(req, fd, path);
		return;
	}
	if (fstat(fd, &st) < 0) {
		files_respond_errno(req, -errno, path);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		json_t *entries = json_array();
		bool truncated = false;
		int r = files_list_dir(fd, entries, &truncated);
		if (r < 0) {
			json_decref(entries);
			files_respond_errno(req, r, path);
			return;
		}
		files_respond_listing(req, path, entries, truncated);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		/* A fifo would block the reader, a device could be anything, a socket is no file. */
		dew_http_respond_error(req, 403, 403, "`%s` is not a regular file or a directory", path);
		return;
	}
	files_respond_file(req, fd, path);
}

/* GET /instances/:instance/files/<path>. */
static void files_handle(struct dew_http_req *req)
{
	const struct files_ctx *ctx = req->server_data;
	const char *id = dew_http_param(req, "instance");
	const char *rel = dew_http_param(req, "*");
	cleanup_free char *path = NULL;

	/* The token first: without one, nobody learns which instances exist. */
	if (!files_authorize(req, ctx, id))
		return;
	int r = files_clean_path(rel ? rel : "", &path);
	if (r < 0) {
		dew_http_respond_error(req, 400, 400,
				       r == -EINVAL ? "a '.' or '..' segment in the path" : "path too long");
		return;
	}
	const char *dir = ctx->instance_dir(ctx->data, id);
	if (!dir) {
		dew_http_respond_error(req, 404, 404, "no instance `%s` on this DEA", id);
		return;
	}
	cleanup_close int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		int e = errno;
		if (e != ENOENT)
			dew_warn("files: open `%s`: %s", dir, strerror(e));
		dew_http_respond_error(req, e == ENOENT ? 404 : 500, e == ENOENT ? 404 : 500,
				       "no files for instance `%s`", id);
		return;
	}
	if (!*path) {
		files_respond_top(req, root);
		return;
	}
	if (!files_top_allowed(path)) {
		dew_http_respond_error(req, 404, 404, "no such file or directory `%s`", path);
		return;
	}
	files_serve(req, root, path);
}

const struct dew_http_route files_routes[] = {
	{ "GET", "/instances/:instance/files/*", files_handle, NULL, NULL, 0 },
};
const size_t files_n_routes = DEW_ARRAY_SIZE(files_routes);
