// SPDX-License-Identifier: MIT
/*
 * The bits of a push (push.h): POST /v1/resource_match in batches, then PUT /v1/apps/:name/bits
 * as a multipart body that a producer thread writes into one end of a socket pair while
 * libcurl's read callback drains the other. The `application` part is an uncompressed tar
 * written by libarchive straight into the socket, file by file, so the app is never in memory
 * and a large file costs a 256 KiB buffer. A socket pair rather than a pipe: send() with
 * MSG_NOSIGNAL gives EPIPE instead of SIGPIPE when the request ends early.
 */
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "push.h"
#include "random.h"

enum {
	PUSH_MATCH_BATCH = 20000, /* entries of one resource_match (the controller takes 100000) */
	PUSH_READ_BUF = 256 << 10,
};

/* {sha256, size, fn[, mode]} of a file: mode only when it is not the default 0644. */
static json_t *push_resource(const struct walk_entry *e)
{
	json_t *r =
		json_pack("{s:s, s:I, s:s}", "sha256", e->sha256, "size", (json_int_t)e->size, "fn", e->path);
	if (e->mode != 0644)
		json_object_set_new(r, "mode", json_integer(e->mode));
	return r;
}

static int push_entry_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct walk_entry *)elem)->path);
}

/* Mark the entries of one resource_match answer as matched. */
static void push_mark(struct walk_list *l, const json_t *answer, struct push_stats *st)
{
	json_t *r;
	size_t i;
	json_array_foreach (answer, i, r) {
		const char *fn = json_string_value(json_object_get(r, "fn"));
		const char *sha = json_string_value(json_object_get(r, "sha256"));
		json_int_t size = json_integer_value(json_object_get(r, "size"));
		struct walk_entry *e = fn ? bsearch(fn, l->v, l->n, sizeof(*l->v), push_entry_cmp) : NULL;
		if (!e || e->matched || e->type != WALK_FILE || !sha || strcmp(sha, e->sha256) != 0 ||
		    (uint64_t)size != e->size)
			continue;
		e->matched = true;
		st->matched_files++;
		st->matched_bytes += e->size;
	}
}

int push_match(struct cli *cli, struct walk_list *l, struct push_stats *st)
{
	size_t i = 0;
	while (i < l->n) {
		json_auto_t *batch = json_array();
		for (; i < l->n && json_array_size(batch) < PUSH_MATCH_BATCH; i++)
			if (l->v[i].type == WALK_FILE)
				json_array_append_new(batch, push_resource(&l->v[i]));
		if (!json_array_size(batch))
			break;
		char *text = json_dumps(batch, JSON_COMPACT);
		st->match_sent += text ? strlen(text) : 0;
		free(text);
		json_auto_t *answer = NULL;
		if (cli_call(cli, "POST", "/v1/resource_match", batch, &answer) < 0)
			return -1;
		push_mark(l, answer, st);
	}
	st->upload_files = st->links;
	st->upload_bytes = 0;
	for (size_t k = 0; k < l->n; k++)
		if (l->v[k].type == WALK_FILE && !l->v[k].matched) {
			st->upload_files++;
			st->upload_bytes += l->v[k].size;
		}
	return 0;
}

/* The package_sha256 of the controller's answer, when it is a hash. */
static void push_answer_package(const json_t *answer, struct push_stats *st)
{
	const char *sha = json_string_value(json_object_get(answer, "package_sha256"));
	if (sha && dew_sha256_is_hex(sha))
		snprintf(st->package, sizeof(st->package), "%s", sha);
}

/* The producer's side. */
struct push_body {
	int fd; /* the producer's end of the socket pair */
	const char *root, *boundary;
	const struct walk_list *l;
	char *resources; /* JSON text of the matched files */
	bool application;
	atomic_bool failed;
	struct dew_error *err;
};

static int push_send(struct push_body *b, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = send(b->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static la_ssize_t push_archive_write(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct push_body *b = arg;
	int r = push_send(b, buf, len);
	if (r < 0) {
		archive_set_error(a, -r, "send the archive: %s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)len;
}

/* One file's data into the archive: exactly the size the walk saw, or an error. */
static int push_archive_file(struct push_body *b, struct archive *a, const struct walk_entry *e, char *buf)
{
	cleanup_free char *path = xasprintf("%s/%s", b->root, e->path);
	cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return dew_error_set(&b->err, errno, "open `%s`", e->path);
	uint64_t done = 0;
	while (done < e->size) {
		size_t want = e->size - done < PUSH_READ_BUF ? (size_t)(e->size - done) : PUSH_READ_BUF;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return dew_error_set(&b->err, errno, "read `%s`", e->path);
		if (n == 0)
			break;
		if (archive_write_data(a, buf, (size_t)n) != n)
			return dew_error_set(&b->err, 0, "%s", archive_error_string(a));
		done += (uint64_t)n;
	}
	char extra;
	if (done != e->size || read(fd, &extra, 1) != 0)
		return dew_error_set(&b->err, 0, "`%s` changed while it was sent: push again", e->path);
	return 0;
}

/* The tar of the files the pool lacks, and every symlink. */
static int push_archive(struct push_body *b)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ent = archive_entry_new();
	cleanup_free char *buf = xmalloc(PUSH_READ_BUF);
	int r = 0;
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_none(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, b, NULL, push_archive_write, NULL) != ARCHIVE_OK)
		r = dew_error_set(&b->err, 0, "start the archive: %s", archive_error_string(a));
	for (size_t i = 0; r == 0 && i < b->l->n; i++) {
		const struct walk_entry *e = &b->l->v[i];
		if (e->matched)
			continue;
		archive_entry_clear(ent);
		archive_entry_set_pathname(ent, e->path);
		archive_entry_set_filetype(ent, e->type == WALK_LINK ? AE_IFLNK : AE_IFREG);
		archive_entry_set_perm(ent, e->mode);
		archive_entry_set_size(ent, e->type == WALK_FILE ? (la_int64_t)e->size : 0);
		if (e->type == WALK_LINK)
			archive_entry_set_symlink(ent, e->target);
		if (archive_write_header(a, ent) != ARCHIVE_OK)
			r = dew_error_set(&b->err, 0, "archive `%s`: %s", e->path, archive_error_string(a));
		else if (e->type == WALK_FILE)
			r = push_archive_file(b, a, e, buf);
	}
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = dew_error_set(&b->err, 0, "end the archive: %s", archive_error_string(a));
	archive_entry_free(ent);
	archive_write_free(a);
	return r;
}

static void *push_produce(void *arg)
{
	struct push_body *b = arg;
	cleanup_free char *head = xasprintf("--%s\r\nContent-Disposition: form-data; name=\"resources\"\r\n"
					    "Content-Type: application/json\r\n\r\n%s\r\n",
					    b->boundary, b->resources);
	int r = push_send(b, head, strlen(head));
	if (r == 0 && b->application) {
		cleanup_free char *part =
			xasprintf("--%s\r\nContent-Disposition: form-data; name=\"application\"; "
				  "filename=\"app.tar\"\r\nContent-Type: application/x-tar\r\n\r\n",
				  b->boundary);
		r = push_send(b, part, strlen(part));
		if (r == 0)
			r = push_archive(b);
		if (r == 0)
			r = push_send(b, "\r\n", 2);
	}
	if (r == 0) {
		cleanup_free char *tail = xasprintf("--%s--\r\n", b->boundary);
		r = push_send(b, tail, strlen(tail));
	}
	if (r < 0) {
		if (!b->err)
			dew_error_set(&b->err, -r, "send the app");
		atomic_store(&b->failed, true); /* before the close: the reader then aborts */
	}
	close(b->fd);
	return NULL;
}

/* The consumer's side: libcurl's read callback. */
struct push_reader {
	int fd;
	struct push_body *body;
	uint64_t sent;
};

static size_t push_read(char *buf, size_t size, void *arg)
{
	struct push_reader *r = arg;
	for (;;) {
		ssize_t n = read(r->fd, buf, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n == 0 && atomic_load(&r->body->failed)))
			return CURL_READFUNC_ABORT;
		r->sent += (uint64_t)n;
		return (size_t)n;
	}
}

int push_upload(struct cli *cli, const char *name, const char *root, const struct walk_list *l,
		struct push_stats *st, struct push_progress *prog)
{
	char rnd[33];
	dew_random_hex(rnd, 16);
	cleanup_free char *boundary = xasprintf("dew-push-%s", rnd);
	cleanup_free char *ctype = xasprintf("multipart/form-data; boundary=%s", boundary);
	cleanup_free char *path = cli_app_path(name, "bits");
	json_auto_t *resources = json_array();
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].matched)
			json_array_append_new(resources, push_resource(&l->v[i]));
	struct push_body b = {
		.root = root, .boundary = boundary, .l = l, .application = st->upload_files > 0
	};
	b.resources = json_dumps(resources, JSON_COMPACT);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(b.resources);
		return cli_error(cli, "socketpair: %s", strerror(errno)), -1;
	}
	b.fd = sv[1];
	struct push_reader rd = { .fd = sv[0], .body = &b };
	pthread_t tid;
	if (pthread_create(&tid, NULL, push_produce, &b) != 0) {
		close(sv[0]);
		close(sv[1]);
		free(b.resources);
		return cli_error(cli, "could not start the upload thread"), -1;
	}
	json_auto_t *answer = NULL;
	int r = cli_upload(cli, path, ctype, push_read, &rd, prog ? push_progress_upload : NULL, prog,
			   &answer);
	close(sv[0]); /* a producer still sending gets EPIPE */
	pthread_join(tid, NULL);
	free(b.resources);
	st->sent = rd.sent;
	if (b.err) {
		/* A refusal the controller answered early ends the body with EPIPE: it said why. */
		if (r == 0 || b.err->code != EPIPE)
			cli_error(cli, "%s", dew_error_msg(b.err));
		dew_error_free(b.err);
		return -1;
	}
	if (r < 0)
		return -1;
	st->changed = json_is_true(json_object_get(answer, "changed"));
	push_answer_package(answer, st);
	return 0;
}

int push_package(struct cli *cli, const char *name, const char *package, struct push_stats *st)
{
	cleanup_free char *path = cli_app_path(name, "package");
	json_auto_t *body = json_pack("{s:s}", "sha256", package);
	cleanup_free char *text = json_dumps(body, JSON_COMPACT);
	struct cli_response r = { 0 };
	if (cli_request(cli, "PUT", path, body, &r) < 0)
		return -1;
	int rc = 0;
	if (r.status == 404) {
		rc = 1; /* the controller lost or never had it (an app gone meanwhile: the upload says so) */
	} else if (r.status < 200 || r.status > 299) {
		cli_print_http_error(cli, &r);
		rc = -1;
	} else {
		st->sent = strlen(text);
		st->changed = json_is_true(json_object_get(r.json, "changed"));
		st->reused = true;
		st->matched_files = st->files;
		st->matched_bytes = st->bytes;
		st->upload_files = st->upload_bytes = 0;
		push_answer_package(r.json, st);
	}
	cli_response_free(&r);
	return rc;
}
