// SPDX-License-Identifier: MIT
/*
 * Extraction of droplets and app packages (tar, tar.gz, tar.zst, zip) from untrusted users:
 * the archive side. A dry run reads the whole archive first and refuses bad names, device
 * nodes, escaping links and entry, size and ratio bombs before anything touches the disk; the
 * second pass checks everything again and writes through extract-tree.c, which never follows
 * a symlink. On any error the target is emptied again.
 */
#include "dewrt.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "archive-path.h"
#include "extract-tree.h"
#include "fs.h"

enum {
	DEFAULT_MAX_ENTRIES = 100000,
	DEFAULT_MAX_RATIO = 200,
	READ_BLOCK = 65536,
	/* Expanding to this much is harmless whatever the ratio, so tiny archives are never refused. */
	RATIO_GRACE = 1 << 20,
};

#define DEFAULT_MAX_BYTES (UINT64_C(4) << 30)

struct extract {
	struct archive *a;
	struct dewrt__tree *tree; /* NULL in the dry run */
	struct dewrt_extract_limits lim;
	uint64_t entries;
	uint64_t bytes; /* uncompressed bytes so far, holes of sparse files included */
};

/*
 * The tree never sees "..", a leading "/" or a name that does not fit in PATH_MAX (with its NUL),
 * so no lexical trick moves a path out of it.
 */
static const struct dew_archive_path_limits name_limits = {
	.max_len = PATH_MAX - 1,
	.max_name = NAME_MAX,
	.max_depth = DEWRT__DEPTH_MAX,
};

/* Count n more uncompressed bytes against the size budget and the compression ratio. */
static int account(struct extract *x, uint64_t n, struct dew_error **err)
{
	/* Compressed bytes consumed so far: grows as the data is decompressed, not read ahead. */
	uint64_t raw = (uint64_t)archive_filter_bytes(x->a, -1);
	uint64_t ratio = x->lim.max_ratio;

	if (n > x->lim.max_bytes - x->bytes)
		return dew_error_set_code(err, EFBIG, "archive expands to more than %" PRIu64 " bytes",
					  x->lim.max_bytes);
	x->bytes += n;
	if (x->bytes > RATIO_GRACE && raw <= UINT64_MAX / ratio && x->bytes > raw * ratio)
		return dew_error_set_code(err, EFBIG,
					  "compression ratio over %" PRIu64 ":1 (%" PRIu64
					  " bytes from %" PRIu64 ")",
					  ratio, x->bytes, raw);
	return 0;
}

/*
 * Stream the entry's data block by block into fd (nowhere when fd < 0, in the dry run),
 * accounting each block before it is written, so a bomb is stopped after at most one block.
 */
static int copy_data(struct extract *x, int fd, struct archive_entry *e, struct dew_error **err)
{
	uint64_t end = 0; /* the furthest byte so far: holes count, a sparse file is no loophole */
	const void *buf;
	size_t len;
	la_int64_t off, size = archive_entry_size(e);
	int r;

	while ((r = archive_read_data_block(x->a, &buf, &len, &off)) == ARCHIVE_OK) {
		if (off < 0 || (uint64_t)off > (uint64_t)INT64_MAX - len)
			return dew_error_set_code(err, EINVAL, "bad data offset");
		if ((uint64_t)off + len > end) {
			r = account(x, (uint64_t)off + len - end, err);
			if (r < 0)
				return r;
			end = (uint64_t)off + len;
		}
		r = fd < 0 ? 0 : dew_pwrite_all(fd, buf, len, off);
		if (r < 0)
			return dew_error_set(err, -r, "write");
	}
	if (r != ARCHIVE_EOF)
		return dew_error_set_code(err, EINVAL, "read data: %s", archive_error_string(x->a));
	/* A sparse file that ends in a hole. */
	if (archive_entry_size_is_set(e) && size > 0 && (uint64_t)size > end) {
		r = account(x, (uint64_t)size - end, err);
		if (r < 0)
			return r;
		if (fd >= 0 && ftruncate(fd, size) < 0)
			return dew_error_set(err, errno, "truncate");
	}
	return 0;
}

/* Extract a regular file: its data, its permission bits without setuid/setgid/sticky, its mtime. */
static int extract_file(struct extract *x, const char *path, struct archive_entry *e, struct dew_error **err)
{
	la_int64_t size = archive_entry_size(e);
	int r;

	/* Refuse a file that cannot fit before writing any of it. */
	if (archive_entry_size_is_set(e) && size > 0 && (uint64_t)size > x->lim.max_bytes - x->bytes)
		return dew_error_set_code(
			err, EFBIG, "%" PRId64 " bytes do not fit in the remaining %" PRIu64 " of %" PRIu64,
			(int64_t)size, x->lim.max_bytes - x->bytes, x->lim.max_bytes);
	if (!x->tree)
		return copy_data(x, -1, e, err);
	cleanup_close int fd = dewrt__tree_create(x->tree, path, err);
	if (fd < 0)
		return fd;
	r = copy_data(x, fd, e, err);
	if (r < 0)
		return r;
	/* Ownership, xattrs and ACLs in the archive are ignored; files belong to the caller. */
	if (fchmod(fd, archive_entry_perm(e) & 0777) < 0)
		return dew_error_set(err, errno, "chmod");
	if (archive_entry_mtime_is_set(e)) {
		long ns = archive_entry_mtime_nsec(e);
		struct timespec ts = { .tv_sec = archive_entry_mtime(e),
				       .tv_nsec = ns >= 0 && ns < 1000000000 ? ns : 0 };
		if (futimens(fd, (struct timespec[2]){ ts, ts }) < 0)
			return dew_error_set(err, errno, "set mtime");
	}
	if (close(steal_fd(&fd)) < 0)
		return dew_error_set(err, errno, "close");
	return 0;
}

/* Check one entry, and in the second pass create it. */
static int extract_entry(struct extract *x, struct archive_entry *e, const char *raw, struct dew_error **err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *target = NULL;
	const char *hardlink = archive_entry_hardlink(e);
	const char *symlink = archive_entry_symlink(e);
	mode_t type = archive_entry_filetype(e);
	size_t n;
	enum dew_path_refusal why = dew_archive_path_normalise(raw, &name_limits, &path, &n);

	if (why == DEW_PATH_ROOT && type == AE_IFDIR && !hardlink)
		return 0; /* "./": the root, which keeps its own mode */
	if (why)
		return dew_error_set_code(err, EINVAL, "%s", dew_archive_refusal(why, DEW_ARCHIVE_EXTRACT));
	/* No device may reach a container through an app; fifos and sockets have no use there. */
	if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return dew_error_set_code(err, EINVAL, "%s not allowed", dew_archive_type_name(type));
	if (!hardlink && type == AE_IFREG)
		return extract_file(x, path, e, err);
	/* Data that libarchive will skip must still be decompressed: it counts against the budget. */
	if (archive_entry_size(e) > 0) {
		int r = account(x, (uint64_t)archive_entry_size(e), err);
		if (r < 0)
			return r;
	}
	if (hardlink) {
		cleanup_free char *shown = dewrt__printable(hardlink);
		why = dew_archive_path_normalise(hardlink, &name_limits, &target, NULL);
		if (why)
			return dew_error_set_code(err, EINVAL, "hard link target `%s`: %s", shown,
						  dew_archive_refusal(why, DEW_ARCHIVE_EXTRACT));
		return x->tree ? dewrt__tree_link(x->tree, path, target, err) : 0;
	}
	if (type == AE_IFDIR)
		return x->tree ? dewrt__tree_mkdir(x->tree, path, archive_entry_perm(e), err) : 0;
	/*
	 * Symlinks are created (apps need them) but must resolve inside the tree: the container
	 * and the DEA will follow them later. The controller refuses the same on upload.
	 */
	why = dew_archive_symlink_check(symlink, n - 1, PATH_MAX - 1);
	if (why) {
		cleanup_free char *shown = dewrt__printable(symlink);
		return dew_error_set_code(err, EINVAL, "%s (`%s`)",
					  dew_archive_refusal(why, DEW_ARCHIVE_EXTRACT), shown);
	}
	return x->tree ? dewrt__tree_symlink(x->tree, path, symlink, err) : 0;
}

/* Read every header of the open archive and check or extract its entry. */
static int extract_all(struct extract *x, struct dew_error **err)
{
	cleanup_free char *prev = NULL;
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(x->a, &e)) != ARCHIVE_EOF) {
		/* WARN covers names not convertible to the locale: we take their bytes as they are. */
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			if (prev)
				return dew_error_set_code(err, EINVAL, "read archive after entry `%s`: %s",
							  prev, archive_error_string(x->a));
			return dew_error_set_code(err, EINVAL, "read archive: %s",
						  archive_error_string(x->a));
		}
		const char *raw = archive_entry_pathname(e);
		free(prev);
		prev = dewrt__printable(raw);
		if (++x->entries > x->lim.max_entries)
			return dew_error_set_code(err, EFBIG, "entry `%s`: more than %" PRIu64 " entries",
						  prev, x->lim.max_entries);
		r = extract_entry(x, e, raw, err);
		if (r < 0)
			return dew_error_prefix(err, "entry `%s`", prev);
	}
	return 0;
}

/* Open a reader on fd from its start: tar and zip only, gzip and zstd only, no external programs. */
static int open_reader(struct extract *x, int fd, struct dew_error **err)
{
	if (lseek(fd, 0, SEEK_SET) < 0)
		return dew_error_set(err, errno, "rewind");
	x->a = archive_read_new();
	if (!x->a)
		return dew_error_set(err, ENOMEM, "archive_read_new");
	/* ARCHIVE_WARN means no built-in support: libarchive would run an external program on hostile input.
	 */
	if (archive_read_support_filter_gzip(x->a) != ARCHIVE_OK)
		return dew_error_set_code(err, ENOTSUP, "libarchive lacks built-in gzip support");
	if (archive_read_support_filter_zstd(x->a) != ARCHIVE_OK)
		return dew_error_set_code(err, ENOTSUP, "libarchive lacks built-in zstd support");
	if (archive_read_support_format_tar(x->a) != ARCHIVE_OK ||
	    archive_read_support_format_zip(x->a) != ARCHIVE_OK)
		return dew_error_set_code(err, ENOTSUP, "archive formats: %s", archive_error_string(x->a));
	/* A seekable fd lets the zip reader use the central directory rather than local headers. */
	if (archive_read_open_fd(x->a, fd, READ_BLOCK) != ARCHIVE_OK)
		return dew_error_set_code(err, EINVAL, "read archive: %s", archive_error_string(x->a));
	return 0;
}

/* One pass over the archive in fd: a dry run when x->tree is NULL. */
static int run_pass(struct extract *x, int fd, struct dew_error **err)
{
	int r = open_reader(x, fd, err);

	x->entries = x->bytes = 0;
	if (r == 0)
		r = extract_all(x, err);
	if (r == 0 && archive_read_close(x->a) != ARCHIVE_OK)
		r = dew_error_set_code(err, EINVAL, "close archive: %s", archive_error_string(x->a));
	archive_read_free(x->a);
	x->a = NULL;
	return r;
}

/* Extract archive into dir under lim (see dewrt.h). On error dir is emptied, and removed if we made it. */
int dewrt_extract(const char *archive, const char *dir, const struct dewrt_extract_limits *lim,
		  struct dew_error **err)
{
	struct extract x = { 0 };
	struct stat st;
	int r;

	x.lim.max_entries = lim && lim->max_entries ? lim->max_entries : DEFAULT_MAX_ENTRIES;
	x.lim.max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEFAULT_MAX_BYTES;
	x.lim.max_ratio = lim && lim->max_ratio ? lim->max_ratio : DEFAULT_MAX_RATIO;

	/* O_NONBLOCK: a fifo planted at the path must not hang us before fstat refuses it. */
	cleanup_close int fd = open(archive, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return dew_error_set(err, errno, "extract `%s`: open", archive);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return dew_error_set_code(err, EINVAL, "extract `%s`: not a regular file", archive);
	/*
	 * The dry run costs a second decompression but means that an entry bomb, a ratio bomb or a
	 * bad name is refused before a single file is created (creating 100,000 files only to
	 * delete them again takes seconds to minutes).
	 */
	r = run_pass(&x, fd, err);
	if (r == 0)
		r = dewrt__tree_open(dir, &x.tree, err);
	if (r == 0)
		r = run_pass(&x, fd, err);
	int rb = dewrt__tree_close(x.tree, r < 0);
	if (r < 0 && rb < 0 && err && *err) {
		char *msg = xasprintf("%s (and removing the partial extraction failed: %s)", (*err)->msg,
				      strerror(-rb));
		free((*err)->msg);
		(*err)->msg = msg;
	}
	if (r < 0)
		return dew_error_prefix(err, "extract `%s` into `%s`", archive, dir);
	return 0;
}
