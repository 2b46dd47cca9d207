// SPDX-License-Identifier: MIT
/*
 * App bits (see upload.h): resource_match, the two parts of `PUT /v1/apps/:name/bits` as they
 * stream in (multipart.c frames them), the archive read entry by entry into the resource pool
 * (never onto a directory tree), and upload_finish, which stores the package (package.c). A tar
 * (plain or gzip) is read while it arrives, by a thread of the upload's own fed through a
 * bounded queue, so its bytes are written once, straight into pool files; a zip needs its
 * central directory, so it goes to a temporary file first and is read at the end. Content
 * reaches the pool only through a blobs batch, which names it by the hash of the bytes it wrote.
 */
#include "upload.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "archive-path.h"
#include "buf.h"
#include "fs.h"
#include "json.h"
#include "multipart.h"
#include "package.h"
#include "sha256.h"
#include "upload-stream.h"

enum {
	MAX_RESOURCES_BYTES = 16 << 20, /* the `resources` JSON */
	MAX_MATCH_ENTRIES = 100000,	/* entries of one resource_match */
	READ_BLOCK = 1 << 20,		/* libarchive's reads of the archive */
	APP_WBUF = 256 << 10,		/* coalesces small pieces of the archive into fewer writes */
	DEFAULT_MAX_FILES = 65536,
};

#define DEFAULT_MAX_TOTAL (UINT64_C(1) << 30)
#define DEFAULT_MAX_FILE (UINT64_C(512) << 20)

enum part { PART_NONE, PART_RESOURCES, PART_APPLICATION };

/* How the `application` part is read: not known before its first bytes, to a file, or streamed. */
enum app_mode { APP_UNKNOWN, APP_FILE, APP_STREAM };

/* What the limits count: files and symlinks (max_files) and bytes (max_total). */
struct tally {
	uint64_t files, bytes;
};

/*
 * The loop (or whoever feeds the body) owns mp, part, the `resources` fields and the file of a
 * zip; the archive side (pkg, arc, ndirs, batch) belongs to the reader thread while a stream
 * runs and to upload_finish after it.
 */
struct upload {
	struct blobs *b;
	struct upload_limits lim;
	struct multipart *mp;
	enum part part;
	bool got_resources, got_application, done;

	struct dew_buf res;	  /* the `resources` part */
	struct package res_pkg;	  /* its entries */
	struct tally res_tally;	  /* what they count */
	struct tally res_at_read; /* the part of it the archive's count started from */

	enum app_mode mode;
	char head[2]; /* the first bytes of the `application` part, until the mode is known */
	size_t head_len;
	uint64_t app_bytes;
	char *app_path; /* APP_FILE: the part, in tmp/ */
	int app_fd;
	char *wbuf;
	size_t wlen;
	struct upload_stream *st; /* APP_STREAM: its reader */

	struct package pkg; /* the archive's entries */
	struct tally arc;   /* from res_at_read on */
	uint64_t ndirs;
	struct blobs_batch *batch;
};

/* A checked resource entry. */
struct resource {
	const char *sha256, *fn; /* borrowed from the JSON */
	char *path;		 /* fn normalised, owned */
	uint64_t size;
	unsigned mode;
};

/*
 * Check entry i of a resources array. A malformed entry is EBADMSG; an fn that is well formed
 * but refused as a path gets path_code (EBADMSG for resource_match, EINVAL for an upload).
 */
static int resource_check(const json_t *e, size_t i, int path_code, struct resource *out,
			  struct dew_error **err)
{
	cleanup_error struct dew_error *why = NULL;
	json_int_t size, mode = 0644;
	enum dew_path_refusal refusal;

	if (!json_is_object(e))
		return dew_error_set_code(err, EBADMSG, "resources entry %zu: not an object", i);
	if (dew_json_get_string(e, "fn", DEW_JSON_REQUIRED, 0, &out->fn, &why) < 0 ||
	    dew_json_get_string(e, "sha256", DEW_JSON_REQUIRED, 0, &out->sha256, &why) < 0 ||
	    dew_json_get_int(e, "size", DEW_JSON_REQUIRED, 0, INT64_MAX, &size, &why) < 0 ||
	    dew_json_get_int(e, "mode", DEW_JSON_OPTIONAL, 0, 07777, &mode, &why) < 0) {
		cleanup_free char *shown = package_printable(json_string_value(json_object_get(e, "fn")));
		return dew_error_set_code(err, EBADMSG, "resources entry %zu (`%s`): %s", i, shown, why->msg);
	}
	/* The printable name is made only for a message: resource_match checks 10,000 entries. */
	if (!dew_sha256_is_hex(out->sha256)) {
		cleanup_free char *shown = package_printable(out->fn);
		return dew_error_set_code(
			err, EBADMSG,
			"resources entry %zu (`%s`): field `sha256` must be 64 lowercase hex digits", i,
			shown);
	}
	refusal = package_path_normalise(out->fn, &out->path);
	if (refusal) {
		cleanup_free char *shown = package_printable(out->fn);
		return dew_error_set_code(err, path_code, "resource `%s`: %s", shown,
					  dew_archive_refusal(refusal, DEW_ARCHIVE_UPLOAD));
	}
	out->size = (uint64_t)size;
	out->mode = (unsigned)mode;
	return 0;
}

/* The pool's subset of a resource_match request (see upload.h). */
json_t *upload_resource_match(struct blobs *b, const json_t *body, struct dew_error **err)
{
	json_auto_t *out = NULL;
	const json_t *e;
	size_t i;

	if (!json_is_array(body)) {
		dew_error_set_code(err, EBADMSG, "resource_match: the body must be a JSON array");
		return NULL;
	}
	if (json_array_size(body) > MAX_MATCH_ENTRIES) {
		dew_error_set_code(err, EBADMSG, "resource_match: more than %d entries", MAX_MATCH_ENTRIES);
		return NULL;
	}
	out = json_array();
	json_array_foreach (body, i, e) {
		struct resource r = { 0 };
		int rc = resource_check(e, i, EBADMSG, &r, err);
		free(r.path);
		if (rc < 0)
			return NULL;
		if (!blobs_has(b, BLOB_POOL, r.sha256, r.size))
			continue;
		/* An entry of exactly the four fields is its own answer: no copy to build and free. */
		json_t *hit = json_object_size(e) == 4 && json_object_get(e, "mode")
				      ? json_incref((json_t *)e)
				      : json_pack("{s:s, s:I, s:s, s:i}", "sha256", r.sha256, "size",
						  (json_int_t)r.size, "fn", r.fn, "mode", (int)r.mode);
		if (!hit || json_array_append_new(out, hit) < 0)
			abort();
	}
	return json_incref(out);
}

/* Count one more file or symlink against max_files. */
static int count_file(const struct upload *u, struct tally *t, struct dew_error **err)
{
	if (++t->files > u->lim.max_files)
		return dew_error_set_code(err, EFBIG, "more than %" PRIu64 " files", u->lim.max_files);
	return 0;
}

/* Count n more bytes of the app against max_total. */
static int count_bytes(const struct upload *u, struct tally *t, uint64_t n, struct dew_error **err)
{
	if (n > u->lim.max_total - t->bytes)
		return dew_error_set_code(err, EFBIG, "the app is larger than %" PRIu64 " bytes",
					  u->lim.max_total);
	t->bytes += n;
	return 0;
}

/* Take a checked resource into the app (pool checks come at the end). */
static int resource_add(struct upload *u, struct resource *res, struct dew_error **err)
{
	struct package_file *f = package_add(&u->res_pkg, steal_pointer(&res->path), PACKAGE_FILE);
	cleanup_free char *shown = package_printable(res->fn);

	memcpy(f->sha256, res->sha256, sizeof(f->sha256));
	f->size = res->size;
	f->mode = res->mode & 0100 ? 0755 : 0644;
	f->matched = true;
	if (res->size > u->lim.max_file)
		return dew_error_set_code(err, EFBIG,
					  "resource `%s`: %" PRIu64 " bytes is over the limit of %" PRIu64
					  " per file",
					  shown, res->size, u->lim.max_file);
	if (count_file(u, &u->res_tally, err) < 0 || count_bytes(u, &u->res_tally, res->size, err) < 0)
		return dew_error_prefix(err, "resource `%s`", shown);
	return 0;
}

/* The `resources` part is complete: parse and check its entries. */
static int resources_end(struct upload *u, struct dew_error **err)
{
	cleanup_error struct dew_error *why = NULL;
	json_auto_t *arr = dew_json_parse(u->res.data ? u->res.data : "", u->res.len, &why);
	const json_t *e;
	size_t i;

	dew_buf_close(&u->res);
	if (!arr)
		return dew_error_set_code(err, EBADMSG, "part `resources`: %s", why->msg);
	if (!json_is_array(arr))
		return dew_error_set_code(err, EBADMSG, "part `resources`: not a JSON array");
	json_array_foreach (arr, i, e) {
		struct resource res = { 0 };
		int r = resource_check(e, i, EINVAL, &res, err);
		if (r == 0)
			r = resource_add(u, &res, err);
		free(res.path);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the archive, entry by entry into the pool ---- */

/* Account a file that now reaches end bytes (from start, the total before it) against the limits. */
static int count_extent(struct upload *u, uint64_t start, uint64_t end, struct dew_error **err)
{
	if (end > u->lim.max_file)
		return dew_error_set_code(err, EFBIG, "larger than the limit of %" PRIu64 " bytes per file",
					  u->lim.max_file);
	u->arc.bytes = start;
	return count_bytes(u, &u->arc, end, err);
}

/*
 * Stream the current entry's data into the batch's open file, accounting each block before
 * writing it, so a bomb stops within one block. Holes of sparse files count like data: no
 * loophole. *size gets the file's length.
 */
static int copy_entry(struct upload *u, struct archive *a, struct archive_entry *e, uint64_t *size,
		      struct dew_error **err)
{
	uint64_t end = 0, start = u->arc.bytes;
	la_int64_t declared = archive_entry_size(e);
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		if (off < 0 || (uint64_t)off > (uint64_t)INT64_MAX - len)
			return dew_error_set_code(err, EINVAL, "bad data offset");
		if ((uint64_t)off + len > end) {
			end = (uint64_t)off + len;
			r = count_extent(u, start, end, err);
			if (r < 0)
				return r;
		}
		r = blobs_batch_write(u->batch, buf, len, (uint64_t)off, err);
		if (r < 0)
			return r;
	}
	if (r != ARCHIVE_EOF)
		return dew_error_set_code(err, EINVAL, "read data: %s", archive_error_string(a));
	if (archive_entry_size_is_set(e) && declared > 0 && (uint64_t)declared > end) {
		/* A sparse file that ends in a hole. */
		end = (uint64_t)declared;
		r = count_extent(u, start, end, err);
		if (r < 0)
			return r;
	}
	*size = end;
	return 0;
}

/* A regular file of the archive: written into the batch and named by the hash of what was written. */
static int read_regular(struct upload *u, struct archive *a, struct archive_entry *e, char **path,
			struct dew_error **err)
{
	la_int64_t size = archive_entry_size(e);
	bool sized = archive_entry_size_is_set(e) && size > 0;
	char sha[DEW_SHA256_HEX_LEN + 1];
	uint64_t end = 0, stored = 0;
	int r = count_file(u, &u->arc, err);

	/* Refuse what cannot fit before reading any of it. */
	if (r == 0 && sized && (uint64_t)size > u->lim.max_file)
		return dew_error_set_code(err, EFBIG,
					  "%" PRId64 " bytes is over the limit of %" PRIu64 " per file",
					  (int64_t)size, u->lim.max_file);
	if (r == 0 && sized && (uint64_t)size > u->lim.max_total - u->arc.bytes)
		return dew_error_set_code(err, EFBIG,
					  "%" PRId64 " bytes do not fit in the app's limit of %" PRIu64,
					  (int64_t)size, u->lim.max_total);
	if (r == 0)
		r = blobs_batch_open(u->batch, err);
	if (r == 0)
		r = copy_entry(u, a, e, &end, err);
	if (r == 0)
		r = blobs_batch_close(u->batch, end, sha, &stored, err);
	if (r < 0)
		return r;
	struct package_file *f = package_add(&u->pkg, steal_pointer(path), PACKAGE_FILE);
	memcpy(f->sha256, sha, sizeof(sha));
	f->size = stored;
	f->mode = archive_entry_perm(e) & 0100 ? 0755 : 0644;
	return 0;
}

/* A symlink of the archive: kept (apps need them) when it resolves inside the app. */
static int read_symlink(struct upload *u, struct archive_entry *e, char **path, struct dew_error **err)
{
	const char *target = archive_entry_symlink(e);
	enum dew_path_refusal why = package_symlink_check(*path, target);
	int r = count_file(u, &u->arc, err);

	if (r < 0)
		return r;
	if (why) {
		cleanup_free char *shown = package_printable(target);
		return dew_error_set_code(err, EINVAL, "%s (`%s`)",
					  dew_archive_refusal(why, DEW_ARCHIVE_UPLOAD), shown);
	}
	package_add(&u->pkg, steal_pointer(path), PACKAGE_LINK)->target = xstrdup(target);
	return 0;
}

/* Check one archive entry and take it into the app. */
static int read_entry(struct upload *u, struct archive *a, struct archive_entry *e, const char *raw,
		      struct dew_error **err)
{
	mode_t type = archive_entry_filetype(e);
	cleanup_free char *path = NULL;
	enum dew_path_refusal why;
	int r;

	/* A hard link's content is another entry's: no app needs one, and it could alias a file. */
	if (archive_entry_hardlink(e))
		return dew_error_set_code(err, EINVAL, "hard links are not allowed");
	/* No device may reach a container through an app; fifos and sockets have no use there. */
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return dew_error_set_code(err, EINVAL, "%s not allowed", dew_archive_type_name(type));
	why = package_path_normalise(raw, &path);
	/* "./" (the root) is the only entry whose name may normalise to nothing. */
	if (why && !(why == DEW_PATH_ROOT && type == AE_IFDIR))
		return dew_error_set_code(err, EINVAL, "%s", dew_archive_refusal(why, DEW_ARCHIVE_UPLOAD));
	if (type == AE_IFREG)
		return read_regular(u, a, e, &path, err);
	/* Data that libarchive skips is still decompressed: it counts against the total. */
	r = archive_entry_size(e) > 0 ? count_bytes(u, &u->arc, (uint64_t)archive_entry_size(e), err) : 0;
	if (r < 0 || !path) /* no path: "./", the root */
		return r;
	if (type == AE_IFLNK)
		return read_symlink(u, e, &path, err);
	if (++u->ndirs > u->lim.max_files)
		return dew_error_set_code(err, EFBIG, "more than %" PRIu64 " directories", u->lim.max_files);
	package_add(&u->pkg, steal_pointer(&path), PACKAGE_DIR);
	return 0;
}

/* A reader for tar or zip, gzip or nothing, and never an external program; NULL with *err. */
static struct archive *reader_new(struct dew_error **err)
{
	struct archive *a = archive_read_new();

	if (!a)
		abort();
	/* ARCHIVE_WARN means no built-in gzip: libarchive would run a program on hostile input. */
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK)
		dew_error_set_code(err, ENOTSUP, "libarchive lacks built-in gzip support");
	else if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
		 archive_read_support_format_zip(a) != ARCHIVE_OK)
		dew_error_set_code(err, ENOTSUP, "archive formats: %s", archive_error_string(a));
	else
		return a;
	archive_read_free(a);
	return NULL;
}

/* Read every entry of the opened archive a into the batch and the app's list; frees a. */
static int read_archive(void *ctx, struct archive *a, struct dew_error **err)
{
	struct upload *u = ctx;
	cleanup_free char *prev = NULL;
	struct archive_entry *e;
	int r = 0;

	while (r == 0 && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		/* WARN covers names not convertible to the locale: we take their bytes as they are. */
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			if (prev)
				r = dew_error_set_code(err, EINVAL, "read archive after entry `%s`: %s", prev,
						       archive_error_string(a));
			else
				r = dew_error_set_code(err, EINVAL, "read archive: %s",
						       archive_error_string(a));
			break;
		}
		const char *raw = archive_entry_pathname(e);
		free(prev);
		prev = package_printable(raw);
		r = read_entry(u, a, e, raw, err);
		if (r < 0)
			r = dew_error_prefix(err, "entry `%s`", prev);
	}
	if (r == ARCHIVE_EOF)
		r = 0;
	if (r == 0 && archive_read_close(a) != ARCHIVE_OK)
		r = dew_error_set_code(err, EINVAL, "close archive: %s", archive_error_string(a));
	archive_read_free(a);
	return r;
}

/* The archive side starts counting from the resources counted so far (the rest come at the end). */
static void read_start(struct upload *u)
{
	u->res_at_read = u->res_tally;
	u->arc = u->res_tally;
}

/* Read the zip (or anything that began like one) from its temporary file. */
static int read_file(struct upload *u, struct dew_error **err)
{
	struct archive *a;

	if (lseek(u->app_fd, 0, SEEK_SET) < 0)
		return dew_error_set(err, errno, "rewind");
	a = reader_new(err);
	if (!a)
		return -ENOTSUP;
	/* A seekable fd lets the zip reader use the central directory rather than local headers. */
	if (archive_read_open_fd(a, u->app_fd, READ_BLOCK) != ARCHIVE_OK) {
		int r = dew_error_set_code(err, EINVAL, "read archive: %s", archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	return read_archive(u, a, err);
}

/* ---- the `application` part ---- */

/* Write the coalesced bytes of a zip to its file. */
static int app_flush(struct upload *u, struct dew_error **err)
{
	int r = dew_write_all(u->app_fd, u->wbuf, u->wlen);

	if (r < 0)
		return dew_error_set(err, -r, "write `%s`", u->app_path);
	u->wlen = 0;
	return 0;
}

/* Append to the zip's file. */
static int app_file_feed(struct upload *u, const char *p, size_t n, struct dew_error **err)
{
	while (n > 0) {
		size_t k = n < APP_WBUF - u->wlen ? n : APP_WBUF - u->wlen;
		memcpy(u->wbuf + u->wlen, p, k);
		u->wlen += k;
		p += k;
		n -= k;
		int r = u->wlen == APP_WBUF ? app_flush(u, err) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The first bytes decide: a zip ("PK") to a file, anything else streamed to a reader thread
 * (a tar that merely begins with "PK" takes the file's way, which reads it just as well).
 */
static int app_choose(struct upload *u, struct dew_error **err)
{
	if (u->head_len == 2 && memcmp(u->head, "PK", 2) == 0) {
		int fd = blobs_tmp(u->b, &u->app_path, err);
		if (fd < 0)
			return fd;
		u->app_fd = fd;
		u->wbuf = xmalloc(APP_WBUF);
		u->mode = APP_FILE;
		return app_file_feed(u, u->head, u->head_len, err);
	}
	struct archive *a = reader_new(err);
	if (!a)
		return -ENOTSUP;
	read_start(u);
	int r = upload_stream_start(a, read_archive, u, &u->st, err);
	u->mode = APP_STREAM;
	return r < 0 ? r : upload_stream_feed(u->st, u->head, u->head_len, err);
}

/* Content of the `application` part, bounded as it arrives. */
static int app_feed(struct upload *u, const char *p, size_t n, struct dew_error **err)
{
	if (n > u->lim.max_total - u->app_bytes)
		return dew_error_set_code(err, EFBIG, "part `application` is larger than %" PRIu64 " bytes",
					  u->lim.max_total);
	u->app_bytes += n;
	while (u->mode == APP_UNKNOWN && n > 0) {
		u->head[u->head_len++] = *p++;
		n--;
		int r = u->head_len == sizeof(u->head) ? app_choose(u, err) : 0;
		if (r < 0)
			return r;
	}
	if (n == 0)
		return 0;
	return u->mode == APP_FILE ? app_file_feed(u, p, n, err) : upload_stream_feed(u->st, p, n, err);
}

/* The `application` part ended. */
static int app_end(struct upload *u, struct dew_error **err)
{
	int r = u->mode == APP_UNKNOWN && u->head_len > 0 ? app_choose(u, err) : 0;

	if (r < 0 || u->mode == APP_UNKNOWN)
		return r;
	return u->mode == APP_FILE ? app_flush(u, err) : upload_stream_end(u->st, err);
}

/* ---- the multipart body ---- */

/* multipart: a part begins; only `resources` and `application`, once each. */
static int on_part_begin(void *ctx, const char *name, struct dew_error **err)
{
	struct upload *u = ctx;

	if (strcmp(name, "resources") == 0 && !u->got_resources) {
		u->got_resources = true;
		u->part = PART_RESOURCES;
		return 0;
	}
	if (strcmp(name, "application") == 0 && !u->got_application) {
		u->got_application = true;
		u->part = PART_APPLICATION;
		return 0;
	}
	cleanup_free char *shown = package_printable(name);
	bool dup = strcmp(name, "resources") == 0 || strcmp(name, "application") == 0;
	return dew_error_set_code(err, EBADMSG, "multipart: %s part `%s`", dup ? "a second" : "unknown",
				  shown);
}

/* multipart: content of the current part, bounded as it arrives. */
static int on_part_data(void *ctx, const char *p, size_t n, struct dew_error **err)
{
	struct upload *u = ctx;

	if (u->part == PART_APPLICATION)
		return app_feed(u, p, n, err);
	if (n > MAX_RESOURCES_BYTES - u->res.len)
		return dew_error_set_code(err, EFBIG, "part `resources` is larger than %d bytes",
					  MAX_RESOURCES_BYTES);
	dew_buf_append(&u->res, p, n);
	return 0;
}

/* multipart: the current part ended at a delimiter. */
static int on_part_end(void *ctx, struct dew_error **err)
{
	struct upload *u = ctx;
	enum part p = u->part;

	u->part = PART_NONE;
	return p == PART_RESOURCES ? resources_end(u, err) : app_end(u, err);
}

static const struct multipart_ops upload_parts = {
	.part_begin = on_part_begin,
	.part_data = on_part_data,
	.part_end = on_part_end,
};

/* Start an upload (see upload.h). */
int upload_new(struct blobs *b, const char *content_type, const struct upload_limits *lim,
	       struct upload **out, struct dew_error **err)
{
	struct upload *u = xzalloc(sizeof(*u));
	int r;

	u->b = b;
	u->lim.max_total = lim && lim->max_total ? lim->max_total : DEFAULT_MAX_TOTAL;
	u->lim.max_file = lim && lim->max_file ? lim->max_file : DEFAULT_MAX_FILE;
	u->lim.max_files = lim && lim->max_files ? lim->max_files : DEFAULT_MAX_FILES;
	u->app_fd = -1;
	u->batch = blobs_batch_new(b);
	dew_buf_init(&u->res);
	package_init(&u->res_pkg);
	package_init(&u->pkg);
	r = multipart_new(content_type, &upload_parts, u, &u->mp, err);
	if (r < 0) {
		upload_free(u);
		return r;
	}
	*out = u;
	return 0;
}

/* Feed body bytes (see upload.h). */
int upload_feed(struct upload *u, const char *data, size_t len, struct dew_error **err)
{
	if (u->done)
		return dew_error_set_code(err, EBADMSG, "multipart: the upload already finished");
	return multipart_feed(u->mp, data, len, err);
}

/* Check that every matched resource is in the pool with its size. */
static int check_pool(struct upload *u, struct dew_error **err)
{
	for (size_t i = 0; i < u->res_pkg.n; i++) {
		const struct package_file *f = &u->res_pkg.files[i];
		if (!blobs_has(u->b, BLOB_POOL, f->sha256, f->size)) {
			cleanup_free char *shown = package_printable(f->path);
			return dew_error_set_code(
				err, ENOENT, "resource `%s`: the pool has no file %s of %" PRIu64 " bytes",
				shown, f->sha256, f->size);
		}
	}
	return 0;
}

/* Resources that came after the archive began: they count on top of the archive's tally. */
static int count_late_resources(struct upload *u, struct dew_error **err)
{
	uint64_t files = u->res_tally.files - u->res_at_read.files;
	uint64_t bytes = u->res_tally.bytes - u->res_at_read.bytes;

	if (files > u->lim.max_files - u->arc.files)
		return dew_error_set_code(err, EFBIG, "more than %" PRIu64 " files", u->lim.max_files);
	if (bytes > u->lim.max_total - u->arc.bytes)
		return dew_error_set_code(err, EFBIG, "the app is larger than %" PRIu64 " bytes",
					  u->lim.max_total);
	return 0;
}

/* Move the matched resources into the package's list. */
static void take_resources(struct upload *u)
{
	for (size_t i = 0; i < u->res_pkg.n; i++) {
		struct package_file *r = &u->res_pkg.files[i];
		struct package_file *f = package_add(&u->pkg, steal_pointer(&r->path), r->type);
		memcpy(f->sha256, r->sha256, sizeof(f->sha256));
		f->size = r->size;
		f->mode = r->mode;
		f->matched = true;
	}
}

/* Check the framing, finish the archive, store its files and the package (see upload.h). */
int upload_finish(struct upload *u, char sha256[65], uint64_t *files, struct dew_error **err)
{
	int r;

	if (u->done)
		return dew_error_set_code(err, EBADMSG, "multipart: the upload already finished");
	u->done = true;
	r = multipart_finish(u->mp, err);
	if (r < 0)
		return r;
	if (!u->got_resources && !u->got_application)
		return dew_error_set_code(err, EBADMSG,
					  "multipart: neither a `resources` nor an `application` part");
	if (u->st)
		r = upload_stream_join(steal_pointer(&u->st), err);
	else
		read_start(u);
	/* Matched files are checked before any pool work of this upload. */
	if (r == 0)
		r = check_pool(u, err);
	if (r == 0 && u->mode == APP_FILE)
		r = read_file(u, err);
	if (r == 0)
		r = count_late_resources(u, err);
	if (r == 0)
		r = blobs_batch_commit(u->batch, err);
	if (r == 0) {
		take_resources(u);
		r = package_check(&u->pkg, err);
	}
	if (r == 0)
		r = package_store(&u->pkg, u->b, sha256, files, err);
	return r;
}

/* Free an upload and its temporary files (see upload.h). */
void upload_free(struct upload *u)
{
	if (!u)
		return;
	if (u->st)
		upload_stream_abort(u->st);
	if (u->app_fd >= 0)
		close(u->app_fd);
	if (u->app_path)
		unlink(u->app_path);
	free(u->app_path);
	free(u->wbuf);
	blobs_batch_free(u->batch);
	dew_buf_close(&u->res);
	package_close(&u->res_pkg);
	package_close(&u->pkg);
	multipart_free(u->mp);
	free(u);
}
