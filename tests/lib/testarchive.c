// SPDX-License-Identifier: MIT
/*
 * Archives for the unit tests (see testarchive.h).
 */
#include "testarchive.h"

#include <string.h>

#include "tap.h"

struct archive *test_archive_writer(bool zip, const char *filter)
{
	struct archive *a = archive_write_new();

	if (zip)
		archive_write_set_format_zip(a);
	else
		archive_write_set_format_pax_restricted(a);
	if (filter && archive_write_add_filter_by_name(a, filter) != ARCHIVE_OK)
		tap_diag("filter %s: %s", filter, archive_error_string(a));
	archive_write_set_bytes_in_last_block(a, 1);
	return a;
}

size_t test_ent_size(const struct test_ent *x)
{
	return x->data && !x->type && !x->hard ? strlen(x->data) : 0;
}

void test_archive_add(struct archive *a, struct archive_entry *e, const struct test_ent *x, time_t mtime,
		      const char *data, size_t size)
{
	archive_entry_clear(e);
	archive_entry_set_pathname(e, x->name);
	archive_entry_set_filetype(e, x->type ? x->type : AE_IFREG);
	archive_entry_set_perm(e, x->perm ? x->perm : 0644);
	archive_entry_set_mtime(e, mtime, 0);
	archive_entry_set_uid(e, 1000);
	archive_entry_set_uname(e, "someone");
	archive_entry_set_size(e, (la_int64_t)size);
	if (x->link)
		archive_entry_set_symlink(e, x->link);
	if (x->hard) {
		archive_entry_set_hardlink(e, x->hard);
		archive_entry_set_size(e, 0);
	}
	if (x->rdev)
		archive_entry_set_rdev(e, x->rdev);
	if (archive_write_header(a, e) < ARCHIVE_WARN)
		tap_diag("write header `%s`: %s", x->name, archive_error_string(a));
	if (data && size && archive_write_data(a, data, size) < 0)
		tap_diag("write data `%s`: %s", x->name, archive_error_string(a));
}
