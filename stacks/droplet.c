// SPDX-License-Identifier: MIT
/*
 * Packing a droplet: a tar of app/ (the staged app, symlinks kept as links, modes kept,
 * owners dropped) plus droplet.json, compressed with zstd where libarchive has it and gzip
 * otherwise, written to a temporary file and renamed into place, with its SHA-256.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "droplet.h"
#include "sha256.h"

enum { PACK_MAX_DEPTH = 64, PACK_CHUNK = 64 * 1024 };

struct pack {
	struct archive *a;
	uint64_t bytes, limit;
	struct dew_error **err;
};

static int pack_file(struct pack *p, int dfd, const char *name, const char *arcname, const struct stat *sb)
{
	struct archive_entry *e = archive_entry_new();
	char target[4096];
	int r = 0;

	archive_entry_set_pathname(e, arcname);
	archive_entry_set_mode(e, sb->st_mode & (S_IFMT | 0777));
	archive_entry_set_mtime(e, sb->st_mtime, 0);
	if (S_ISLNK(sb->st_mode)) {
		ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
		if (n < 0) {
			archive_entry_free(e);
			return dew_error_set(p->err, errno, "read link `%s`", arcname);
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	} else if (S_ISREG(sb->st_mode)) {
		archive_entry_set_size(e, sb->st_size);
		p->bytes += (uint64_t)sb->st_size;
		if (p->bytes > p->limit) {
			archive_entry_free(e);
			return dew_error_set_code(p->err, EFBIG, "the staged app is larger than %llu MB",
						  (unsigned long long)(p->limit >> 20));
		}
	}
	if (archive_write_header(p->a, e) != ARCHIVE_OK)
		r = dew_error_set(p->err, 0, "pack `%s`: %s", arcname, archive_error_string(p->a));
	archive_entry_free(e);
	if (r < 0 || !S_ISREG(sb->st_mode))
		return r;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return dew_error_set(p->err, errno, "open `%s`", arcname);
	char *buf = xmalloc(PACK_CHUNK);
	ssize_t n;
	while ((n = read(fd, buf, PACK_CHUNK)) > 0)
		if (archive_write_data(p->a, buf, (size_t)n) != n) {
			r = dew_error_set(p->err, 0, "pack `%s`: %s", arcname, archive_error_string(p->a));
			break;
		}
	if (n < 0)
		r = dew_error_set(p->err, errno, "read `%s`", arcname);
	free(buf);
	close(fd);
	return r;
}

/* Add the directory dfd (consumed) as prefix/ and everything below it. */
static int pack_dir(struct pack *p, int dfd, const char *prefix, int depth)
{
	DIR *d = fdopendir(dfd);
	int r = 0;
	if (!d) {
		close(dfd);
		return dew_error_set(p->err, errno, "open `%s`", prefix);
	}
	for (struct dirent *de; r == 0 && (de = readdir(d));) {
		struct stat sb;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		cleanup_free char *arcname = xasprintf("%s/%s", prefix, de->d_name);
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			r = dew_error_set(p->err, errno, "stat `%s`", arcname);
			break;
		}
		if (S_ISDIR(sb.st_mode)) {
			if (depth >= PACK_MAX_DEPTH) {
				r = dew_error_set_code(p->err, ELOOP, "`%s` is nested too deeply", arcname);
				break;
			}
			struct archive_entry *e = archive_entry_new();
			archive_entry_set_pathname(e, arcname);
			archive_entry_set_mode(e, S_IFDIR | (sb.st_mode & 0777));
			archive_entry_set_mtime(e, sb.st_mtime, 0);
			if (archive_write_header(p->a, e) != ARCHIVE_OK)
				r = dew_error_set(p->err, 0, "pack `%s`: %s", arcname,
						  archive_error_string(p->a));
			archive_entry_free(e);
			int sub =
				openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (r == 0)
				r = sub < 0 ? dew_error_set(p->err, errno, "open `%s`", arcname)
					    : pack_dir(p, sub, arcname, depth + 1);
			else if (sub >= 0)
				close(sub);
		} else if (S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode)) {
			r = pack_file(p, dirfd(d), de->d_name, arcname, &sb);
		}
		/* Sockets, fifos and devices a build left behind are not part of a droplet. */
	}
	closedir(d);
	return r;
}

static int add_manifest(struct archive *a, const char *json, struct dew_error **err)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = strlen(json);
	archive_entry_set_pathname(e, "droplet.json");
	archive_entry_set_mode(e, S_IFREG | 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	int r = archive_write_header(a, e) == ARCHIVE_OK &&
				archive_write_data(a, json, len) == (la_ssize_t)len
			? 0
			: dew_error_set(err, 0, "pack droplet.json: %s", archive_error_string(a));
	archive_entry_free(e);
	return r;
}

int dew_droplet_pack(const char *app_dir, const char *manifest_json, uint64_t max_bytes, const char *out,
		     char sha256[65], uint64_t *size, struct dew_error **err)
{
	cleanup_free char *tmp = xasprintf("%s.tmp.%d", out, (int)getpid());
	struct pack p = { archive_write_new(), 0, max_bytes, err };
	int r = 0;

	archive_write_set_format_pax_restricted(p.a);
	/* zstd unpacks several times faster than gzip; fall back where libarchive lacks it. */
	if (archive_write_add_filter_zstd(p.a) != ARCHIVE_OK)
		archive_write_add_filter_gzip(p.a);
	if (archive_write_open_filename(p.a, tmp) != ARCHIVE_OK)
		r = dew_error_set(err, 0, "create `%s`: %s", tmp, archive_error_string(p.a));
	int dfd = r == 0 ? open(app_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (r == 0 && dfd < 0)
		r = dew_error_set(err, errno, "open `%s`", app_dir);
	if (r == 0)
		r = pack_dir(&p, dfd, "app", 0);
	if (r == 0)
		r = add_manifest(p.a, manifest_json, err);
	if (archive_write_close(p.a) != ARCHIVE_OK && r == 0)
		r = dew_error_set(err, 0, "finish `%s`: %s", tmp, archive_error_string(p.a));
	archive_write_free(p.a);
	if (r == 0 && (r = dew_sha256_file(tmp, sha256, size, err)) == 0 && rename(tmp, out) < 0)
		r = dew_error_set(err, errno, "rename `%s` to `%s`", tmp, out);
	if (r < 0)
		unlink(tmp);
	return r;
}
