/* SPDX-License-Identifier: MIT */
/*
 * Archives for the unit tests of code that reads them (the runtime's extraction, the
 * controller's upload), written with libarchive's writer so that hostile entries (traversal,
 * devices, hard links, odd modes) can be built. Its own object in libtap.a: only the tests that
 * use it need libarchive.
 */
#ifndef DEW_TESTARCHIVE_H
#define DEW_TESTARCHIVE_H

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* One archive entry. */
struct test_ent {
	const char *name;
	mode_t type;	  /* AE_IF*; 0 for a regular file */
	mode_t perm;	  /* 0 for 0644 */
	const char *data; /* NUL-terminated content of a regular file, or NULL */
	const char *link; /* symlink target */
	const char *hard; /* hard link target */
	dev_t rdev;
};

/*
 * A new writer of a zip, or of a tar (pax where a name needs it) through filter (a libarchive
 * filter name such as "gzip", or NULL); the last block is not padded. The caller sets filter
 * options and opens it.
 */
struct archive *test_archive_writer(bool zip, const char *filter);

/* The bytes of x's content: those of data for a regular file (not a hard link), else 0. */
size_t test_ent_size(const struct test_ent *x);

/*
 * Write the header of x to a, using e as scratch, with this mtime and an owner (uid 1000,
 * `someone`) that readers must ignore, and a size of size (0 for a hard link); then size bytes
 * of data unless data is NULL. Failures are TAP diagnostics: the test sees them in its results.
 */
void test_archive_add(struct archive *a, struct archive_entry *e, const struct test_ent *x, time_t mtime,
		      const char *data, size_t size);

#endif
