// SPDX-License-Identifier: MIT
/*
 * The package of an app (see package.h): path rules shared by uploaded entries and matched
 * resources, collision checks over the sorted list, and a tar with fixed metadata written from
 * the pool, so the package's hash depends on the files alone.
 */
#include "package.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "archive-path.h"
#include "fs.h"
#include "sha256.h"

enum {
	IO_BLOCK = 1 << 20,
	SHOWN_MAX = 256,
	MANIFEST_MAX_ENTRIES = 1 << 22, /* far above any max_upload_files */
};

/* The first line of a manifest: its format and version. */
#define MANIFEST_MAGIC "dew-package 1"

void package_init(struct package *p)
{
	*p = (struct package){ 0 };
}

void package_close(struct package *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->files[i].path);
		free(p->files[i].target);
	}
	free(p->files);
	package_init(p);
}

/* Append an entry (see package.h). */
struct package_file *package_add(struct package *p, char *path, enum package_type type)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->files = xreallocarray(p->files, p->cap, sizeof(*p->files));
	}
	struct package_file *f = &p->files[p->n++];
	*f = (struct package_file){ .path = path, .type = type };
	return f;
}

/* Printable form of a name for messages (see package.h). */
char *package_printable(const char *s)
{
	size_t n = 0;

	if (!s)
		return xstrdup("(none)");
	char *out = xmalloc(SHOWN_MAX * 4 + 4);
	char *p = out;
	for (; *s && n < SHOWN_MAX; s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '`' || c == '\\')
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = (char)c;
	}
	strcpy(p, *s ? "..." : "");
	return out;
}

/*
 * Normalise an app path (see package.h). The pool and the package never hold "..", a leading "/"
 * or an over-long name, so no lexical trick moves a file out of the app when the package is
 * extracted on a DEA.
 */
enum dew_path_refusal package_path_normalise(const char *raw, char **out)
{
	/* The byte counts that dew_archive_refusal's DEW_ARCHIVE_UPLOAD wording names. */
	_Static_assert(PACKAGE_MAX_PATH == 4096 && PACKAGE_MAX_NAME == 255, "the messages name the limits");
	static const struct dew_archive_path_limits lim = {
		.max_len = PACKAGE_MAX_PATH,
		.max_name = PACKAGE_MAX_NAME,
	};

	return dew_archive_path_normalise(raw, &lim, out, NULL);
}

/*
 * Whether a symlink stays in the app, resolved from its own directory (see package.h): its
 * depth is the number of directories above it in the app. package_check refuses anything below
 * a symlink, so those directories are real and dew_archive_symlink_check can count on them.
 */
enum dew_path_refusal package_symlink_check(const char *path, const char *target)
{
	size_t depth = 0;

	for (const char *s = path; (s = strchr(s, '/')); s++)
		depth++;
	return dew_archive_symlink_check(target, depth, PACKAGE_MAX_PATH);
}

static int file_cmp(const void *x, const void *y)
{
	return strcmp(((const struct package_file *)x)->path, ((const struct package_file *)y)->path);
}

/* How an entry is called in messages: "entry `x`" from the archive, "resource `x`" if matched. */
static char *file_name(const struct package_file *f)
{
	cleanup_free char *shown = package_printable(f->path);
	return xasprintf("%s `%s`", f->matched ? "resource" : "entry", shown);
}

/* The first entry at or after from whose path starts with f's path and a slash, if any. */
static const struct package_file *first_below(const struct package *p, size_t from,
					      const struct package_file *f)
{
	size_t n = strlen(f->path), lo = from, hi = p->n;
	cleanup_free char *key = xasprintf("%s/", f->path);

	/* Paths below f sort at or after f + "/", though not necessarily right after f ("a-b" < "a/"). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(p->files[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->n && strncmp(p->files[lo].path, key, n + 1) == 0 ? &p->files[lo] : NULL;
}

/* Sort and check for collisions (see package.h). */
int package_check(struct package *p, struct dew_error **err)
{
	if (p->n > 1)
		qsort(p->files, p->n, sizeof(*p->files), file_cmp);
	for (size_t i = 0; i < p->n; i++) {
		const struct package_file *f = &p->files[i], *g = i > 0 ? f - 1 : NULL;
		if (g && strcmp(f->path, g->path) == 0 &&
		    !(f->type == PACKAGE_DIR && g->type == PACKAGE_DIR)) {
			cleanup_free char *name = file_name(f->matched ? f : g);
			if (f->matched != g->matched)
				return dew_error_set_code(
					err, EINVAL, "%s is both in `resources` and in the archive", name);
			return dew_error_set_code(err, EINVAL, "%s: duplicate path", name);
		}
		const struct package_file *below = f->type == PACKAGE_DIR ? NULL : first_below(p, i + 1, f);
		if (below) {
			cleanup_free char *name = file_name(below);
			cleanup_free char *parent = package_printable(f->path);
			return dew_error_set_code(err, EINVAL, "%s is below `%s`, which is a %s", name,
						  parent, f->type == PACKAGE_LINK ? "symlink" : "file");
		}
	}
	return 0;
}

/* Copy the pool blob of f into the writer, checking it still has the size we recorded. */
static int write_blob(struct blobs *b, struct archive *a, const struct package_file *f, char *buf,
		      struct dew_error **err)
{
	cleanup_free char *path = blobs_path(b, BLOB_POOL, f->sha256);
	cleanup_close int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY) : -1;
	uint64_t done = 0;

	if (fd < 0)
		return dew_error_set(err, errno, "open pool file %s", f->sha256);
	while (done < f->size) {
		size_t want = f->size - done < IO_BLOCK ? (size_t)(f->size - done) : IO_BLOCK;
		ssize_t k = read(fd, buf, want);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return dew_error_set(err, errno, "read pool file %s", f->sha256);
		if (k == 0)
			return dew_error_set_code(err, EIO, "pool file %s is shorter than %" PRIu64 " bytes",
						  f->sha256, f->size);
		if (archive_write_data(a, buf, (size_t)k) != k)
			return dew_error_set_code(err, EIO, "write package: %s", archive_error_string(a));
		done += (uint64_t)k;
	}
	return 0;
}

/* Write one header with the fixed metadata: uid and gid 0, no user or group names, mtime 0. */
static int write_header(struct archive *a, struct archive_entry *e, const struct package_file *f,
			struct dew_error **err)
{
	bool link = f->type == PACKAGE_LINK;

	archive_entry_clear(e);
	archive_entry_set_pathname(e, f->path);
	archive_entry_set_filetype(e, link ? AE_IFLNK : AE_IFREG);
	archive_entry_set_perm(e, link ? 0777 : f->mode);
	archive_entry_set_size(e, link ? 0 : (la_int64_t)f->size);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
	if (link)
		archive_entry_set_symlink(e, f->target);
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		cleanup_free char *shown = package_printable(f->path);
		return dew_error_set_code(err, EIO, "write package entry `%s`: %s", shown,
					  archive_error_string(a));
	}
	return 0;
}

/* Where the tar goes: always into the hash, and into fd unless it is -1. */
struct tar_sink {
	struct dew_sha256 hash;
	int fd;
	int error; /* errno of a failed write */
};

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *data, size_t n)
{
	struct tar_sink *s = ctx;
	int r = s->fd >= 0 ? dew_write_all(s->fd, data, n) : 0;

	if (r < 0) {
		s->error = -r;
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	dew_sha256_update(&s->hash, data, n);
	return (la_ssize_t)n;
}

/* Write the tar of every file and symlink, in the sorted order, into the sink. */
static int write_tar(struct package *p, struct blobs *b, struct tar_sink *sink, uint64_t *count,
		     struct dew_error **err)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	cleanup_free char *buf = xmalloc(IO_BLOCK);
	int r = 0;

	if (!a || !e)
		abort();
	*count = 0;
	/*
	 * pax_restricted is plain ustar unless a name or size needs an extended header. Large blocks
	 * make few writes; the last one is not padded (the tar ends after its two zero records), so
	 * the block size never shows in the bytes. Names are bytes (hdrcharset=BINARY): no locale
	 * conversion can fail on them or change them.
	 */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, IO_BLOCK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, sink, NULL, sink_write, NULL) != ARCHIVE_OK)
		r = dew_error_set_code(err, EIO, "write package: %s", archive_error_string(a));
	for (size_t i = 0; r == 0 && i < p->n; i++) {
		const struct package_file *f = &p->files[i];
		if (f->type == PACKAGE_DIR)
			continue;
		r = write_header(a, e, f, err);
		if (r == 0 && f->type == PACKAGE_FILE)
			r = write_blob(b, a, f, buf, err);
		++*count;
	}
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = dew_error_set_code(err, EIO, "write package: %s", archive_error_string(a));
	archive_entry_free(e);
	archive_write_free(a);
	return r;
}

/* The tar's hash (and its bytes into fd unless -1). */
static int tar_hash(struct package *p, struct blobs *b, int fd, char sha256[65], uint64_t *count,
		    struct dew_error **err)
{
	struct tar_sink sink = { .fd = fd };
	int r;

	dew_sha256_init(&sink.hash);
	r = write_tar(p, b, &sink, count, err);
	if (r < 0) {
		dew_sha256_close(&sink.hash);
		return r;
	}
	dew_sha256_final(&sink.hash, sha256);
	return 0;
}

/* Write the manifest of p, whose tar hashes to sha256 (see package.h). */
int package_manifest_store(struct package *p, struct blobs *b, const char *sha256, struct dew_error **err)
{
	cleanup_free char *tmp = NULL;
	int fd = blobs_tmp(b, &tmp, err);
	FILE *out = fd < 0 ? NULL : fdopen(fd, "w");

	if (fd < 0)
		return fd;
	if (!out) {
		int r = dew_error_set(err, errno, "open `%s`", tmp);
		close(fd);
		unlink(tmp);
		return r;
	}
	fputs(MANIFEST_MAGIC "\n", out);
	for (size_t i = 0; i < p->n; i++) {
		const struct package_file *f = &p->files[i];
		if (f->type == PACKAGE_FILE)
			fprintf(out, "f %o %" PRIu64 " %s %zu ", f->mode, f->size, f->sha256,
				strlen(f->path));
		else if (f->type == PACKAGE_LINK)
			fprintf(out, "l %zu ", strlen(f->path));
		else
			continue;
		fputs(f->path, out);
		if (f->type == PACKAGE_LINK)
			fprintf(out, " %zu %s", strlen(f->target), f->target);
		fputc('\n', out);
	}
	if (fflush(out) != 0 || ferror(out)) {
		int r = dew_error_set(err, errno ? errno : EIO, "write `%s`", tmp);
		fclose(out);
		unlink(tmp);
		return r;
	}
	fclose(out);
	return blobs_commit_manifest(b, tmp, sha256, err);
}

/* Read " <n> <n bytes>" (a length-prefixed name of at most PACKAGE_MAX_PATH bytes); caller frees. */
static char *manifest_name(FILE *in)
{
	size_t n;
	char *s;

	if (fscanf(in, " %zu", &n) != 1 || n == 0 || n > PACKAGE_MAX_PATH || fgetc(in) != ' ')
		return NULL;
	s = xmalloc(n + 1);
	if (fread(s, 1, n, in) != n || memchr(s, '\0', n)) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

/* Read one manifest line after its type letter into p: false when it is malformed. */
static bool manifest_entry(FILE *in, int type, struct package *p)
{
	cleanup_free char *path = NULL, *norm = NULL;
	char sha[65];
	unsigned mode = 0;
	uint64_t size = 0;

	if (type == 'f' && (fscanf(in, " %o %" SCNu64 " %64s", &mode, &size, sha) != 3 ||
			    !dew_sha256_is_hex(sha) || (mode != 0644 && mode != 0755)))
		return false;
	path = manifest_name(in);
	/* Written by package_manifest_store, but a path is checked again before it reaches a tar. */
	if (!path || package_path_normalise(path, &norm) != DEW_PATH_OK || strcmp(norm, path) != 0)
		return false;
	char *target = type == 'l' ? manifest_name(in) : NULL;
	if ((type == 'l' && (!target || package_symlink_check(path, target) != DEW_PATH_OK)) ||
	    fgetc(in) != '\n') {
		free(target);
		return false;
	}
	struct package_file *f =
		package_add(p, steal_pointer(&path), type == 'f' ? PACKAGE_FILE : PACKAGE_LINK);
	f->target = target;
	if (type == 'f') {
		memcpy(f->sha256, sha, sizeof(sha));
		f->size = size;
		f->mode = mode;
	}
	return true;
}

/* Read the manifest of the package sha256 into p (see package.h). */
int package_manifest_load(struct blobs *b, const char *sha256, struct package *p, struct dew_error **err)
{
	cleanup_free char *path = blobs_path(b, BLOB_MANIFEST, sha256);
	FILE *in = path ? fopen(path, "re") : NULL;
	char magic[sizeof(MANIFEST_MAGIC) + 1];
	int c, r = 0;

	if (!in)
		return dew_error_set_code(err, path ? errno : EINVAL, "no manifest for package `%s`", sha256);
	if (!fgets(magic, sizeof(magic), in) || strcmp(magic, MANIFEST_MAGIC "\n") != 0)
		r = dew_error_set_code(err, EIO, "manifest `%s`: not a package manifest", path);
	while (r == 0 && (c = fgetc(in)) != EOF) {
		if ((c != 'f' && c != 'l') || p->n >= MANIFEST_MAX_ENTRIES || !manifest_entry(in, c, p))
			r = dew_error_set_code(err, EIO, "manifest `%s`: entry %zu is malformed", path,
					       p->n + 1);
	}
	if (r == 0 && ferror(in))
		r = dew_error_set(err, errno ? errno : EIO, "read `%s`", path);
	fclose(in);
	return r;
}

/* Hash the package and store its manifest (see package.h). */
int package_store(struct package *p, struct blobs *b, char sha256[65], uint64_t *count,
		  struct dew_error **err)
{
	int r = tar_hash(p, b, -1, sha256, count, err);

	return r < 0 ? r : package_manifest_store(p, b, sha256, err);
}

/* Write the tar of the package sha256 from its manifest, unless it is there (see package.h). */
int package_materialize(struct blobs *b, const char *sha256, struct dew_error **err)
{
	struct package p;
	cleanup_free char *tmp = NULL;
	char got[65], stored[65];
	uint64_t count;
	int r;

	if (blobs_has(b, BLOB_PACKAGE, sha256, UINT64_MAX))
		return 0;
	package_init(&p);
	r = package_manifest_load(b, sha256, &p, err);
	cleanup_close int fd = r < 0 ? -1 : blobs_tmp(b, &tmp, err);
	if (r == 0 && fd < 0)
		r = fd;
	if (r == 0)
		r = tar_hash(&p, b, fd, got, &count, err);
	package_close(&p);
	if (r == 0 && strcmp(got, sha256) != 0)
		r = dew_error_set_code(err, EIO, "its pool files give a tar of hash %s", got);
	if (r == 0 && close(steal_fd(&fd)) < 0)
		r = dew_error_set(err, errno, "close `%s`", tmp);
	if (r < 0 && tmp)
		unlink(tmp);
	if (r == 0)
		r = blobs_commit(b, BLOB_PACKAGE, tmp, stored, NULL, err);
	return r < 0 ? dew_error_prefix(err, "package %s", sha256) : 0;
}
