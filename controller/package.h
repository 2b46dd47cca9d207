/* SPDX-License-Identifier: MIT */
/*
 * An app's package (internal to upload.c and the package download): the list of its paths, the
 * rules every path and symlink must pass, and the reproducible tar of its files. The same files
 * always give the same tar bytes, so the tar's hash names the package and says whether an app
 * changed. An upload stores the package as a manifest (the list, naming pool files by hash), not
 * as a second copy of every file: the tar is written from the pool when it is first downloaded.
 */
#ifndef DEW_CONTROLLER_PACKAGE_H
#define DEW_CONTROLLER_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archive-path.h"
#include "blobs.h"
#include "error.h"

enum {
	PACKAGE_MAX_PATH = 4096, /* bytes of a path or a symlink target */
	PACKAGE_MAX_NAME = 255,	 /* bytes of one path component */
};

enum package_type { PACKAGE_FILE, PACKAGE_LINK, PACKAGE_DIR };

/* One path of the app: a pooled file (uploaded or matched), a symlink, or a directory entry. */
struct package_file {
	char *path;   /* normalised ("a/b"), owned */
	char *target; /* PACKAGE_LINK: the symlink's target, owned */
	char sha256[65];
	uint64_t size;
	unsigned mode; /* PACKAGE_FILE: 0644 or 0755 */
	enum package_type type;
	bool matched; /* from `resources` rather than the archive */
};

struct package {
	struct package_file *files;
	size_t n, cap;
};

void package_init(struct package *p);
void package_close(struct package *p);
/* Append an entry for path (taken over) and return it, zeroed but for path and type. */
struct package_file *package_add(struct package *p, char *path, enum package_type type);

/*
 * Normalise an app path into *out ("a/b/c": a leading "./", empty and "." components dropped;
 * caller frees) and return DEW_PATH_OK, or return why it is refused: empty, only "." components
 * (DEW_PATH_ROOT), over 4096 bytes, absolute, "..", a component over 255 bytes.
 */
enum dew_path_refusal package_path_normalise(const char *raw, char **out);
/*
 * DEW_PATH_OK when the symlink at path (normalised) with this target stays in the app, else why
 * not. dew_archive_refusal(why, DEW_ARCHIVE_UPLOAD) words the reasons of both.
 */
enum dew_path_refusal package_symlink_check(const char *path, const char *target);
/* s as shown in messages: printable ASCII with \xNN escapes, cut after 256 bytes; caller frees. */
char *package_printable(const char *s);

/*
 * Sort the entries by path and refuse (EINVAL, naming the entry) the same path twice, a path
 * both matched and uploaded, and a path below a file or a symlink.
 */
int package_check(struct package *p, struct dew_error **err);
/*
 * Store the package: hash the tar of its files and symlinks (directories are implied) as read
 * from the pool blobs of b, without writing it, and commit the manifest under that hash:
 * sha256 gets it, *count the tar's entries. Call after package_check, with every file pooled.
 */
int package_store(struct package *p, struct blobs *b, char sha256[65], uint64_t *count,
		  struct dew_error **err);
/*
 * Make the tar of package sha256 a BLOB_PACKAGE (nothing to do when it is one already): written
 * from its manifest and the pool, and committed only when it hashes to sha256 (EIO otherwise).
 * -ENOENT when there is no such package. Blocking.
 */
int package_materialize(struct blobs *b, const char *sha256, struct dew_error **err);
/* The manifest: one line per file ("f <mode> <size> <sha256> <len> <path>") or symlink ("l <len>
 * <path> <len> <target>") in tar order, after a "dew-package 1" line. Store p's (sorted, checked)
 * under sha256; load sha256's into p (each entry checked again; EIO when malformed). */
int package_manifest_store(struct package *p, struct blobs *b, const char *sha256, struct dew_error **err);
int package_manifest_load(struct blobs *b, const char *sha256, struct package *p, struct dew_error **err);

#endif
