// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/archive-path.c: entry names normalised or refused for each reason (at the
 * limits and one past them), the root told apart from an empty name, symlink targets that stay
 * in the tree or leave it, both wordings of every refusal, and the names of file types.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "archive-path.h"
#include "tap.h"

static void test_normalise(void)
{
	static const struct dew_archive_path_limits lim = { .max_len = 64, .max_name = 8, .max_depth = 3 };
	static const struct {
		const char *in;
		enum dew_path_refusal want;
		const char *norm;
		size_t ncomp;
	} cases[] = {
		{ "a", DEW_PATH_OK, "a", 1 },
		{ "a/b/c", DEW_PATH_OK, "a/b/c", 3 },
		{ "./a//b/./", DEW_PATH_OK, "a/b", 2 },
		{ "...", DEW_PATH_OK, "...", 1 }, /* a name, not a climb */
		{ "..a/b..", DEW_PATH_OK, "..a/b..", 2 },
		{ "12345678", DEW_PATH_OK, "12345678", 1 }, /* max_name exactly */
		{ NULL, DEW_PATH_EMPTY, NULL, 0 },
		{ "", DEW_PATH_EMPTY, NULL, 0 },
		{ ".", DEW_PATH_ROOT, NULL, 0 },
		{ "./", DEW_PATH_ROOT, NULL, 0 },
		{ ".//./", DEW_PATH_ROOT, NULL, 0 },
		{ "/etc/passwd", DEW_PATH_ABSOLUTE, NULL, 0 },
		{ "..", DEW_PATH_DOTDOT, NULL, 0 },
		{ "../x", DEW_PATH_DOTDOT, NULL, 0 },
		{ "a/../b", DEW_PATH_DOTDOT, NULL, 0 },
		{ "a/..", DEW_PATH_DOTDOT, NULL, 0 },
		{ "./..", DEW_PATH_DOTDOT, NULL, 0 },
		{ "123456789", DEW_PATH_NAME_TOO_LONG, NULL, 0 },
		{ "a/b/c/d", DEW_PATH_TOO_DEEP, NULL, 0 },
	};

	for (size_t i = 0; i < DEW_ARRAY_SIZE(cases); i++) {
		const char *in = cases[i].in ? cases[i].in : "(null)";
		char *out = NULL;
		size_t n = 99;
		enum dew_path_refusal r = dew_archive_path_normalise(cases[i].in, &lim, &out, &n);
		tap_is_int(r, cases[i].want, "`%s` gives reason %d", in, cases[i].want);
		if (cases[i].norm)
			tap_is_str(out, cases[i].norm, "`%s` normalises to `%s`", in, cases[i].norm);
		else
			tap_ok(out == NULL, "`%s` leaves *out alone", in);
		tap_is_int(n, r == DEW_PATH_OK ? cases[i].ncomp : 0, "`%s` component count", in);
		free(out);
	}
}

static void test_limits(void)
{
	struct dew_archive_path_limits lim = { .max_len = 4096, .max_name = 255 };
	cleanup_free char *longest = xmalloc(4098);
	char *out = NULL;
	size_t n = 0;

	/* 4096 bytes of "a/a/.../a" (2048 components), then one byte more. */
	for (size_t i = 0; i < 4096; i++)
		longest[i] = i % 2 ? '/' : 'a';
	longest[4095] = 'a';
	longest[4096] = '\0';
	tap_is_int(dew_archive_path_normalise(longest, &lim, &out, &n), DEW_PATH_OK,
		   "a name of exactly max_len bytes is fine; max_depth 0 sets no depth limit");
	tap_is_int(n, 2048, "with all its components");
	free(out);
	longest[4096] = 'a';
	longest[4097] = '\0';
	out = NULL;
	tap_is_int(dew_archive_path_normalise(longest, &lim, &out, NULL), DEW_PATH_TOO_LONG,
		   "one byte over max_len is refused");
	tap_ok(out == NULL, "and nothing is returned");
	lim.max_depth = 2048;
	longest[4096] = '\0';
	tap_is_int(dew_archive_path_normalise(longest, &lim, &out, NULL), DEW_PATH_OK, "max_depth exactly");
	free(out);
	lim.max_depth = 2047;
	out = NULL;
	tap_is_int(dew_archive_path_normalise(longest, &lim, &out, NULL), DEW_PATH_TOO_DEEP,
		   "one component over max_depth is refused");
	tap_ok(out == NULL, "and nothing is returned");
}

static void test_symlinks(void)
{
	static const struct {
		const char *target;
		size_t depth;
		enum dew_path_refusal want;
	} cases[] = {
		{ "x", 0, DEW_PATH_OK },
		{ "./x/y", 0, DEW_PATH_OK },
		{ "..", 1, DEW_PATH_OK },
		{ "../../x", 2, DEW_PATH_OK },
		{ ".././../x", 2, DEW_PATH_OK },
		{ "...", 0, DEW_PATH_OK },
		{ "..", 0, DEW_LINK_ESCAPES },
		{ "../../x", 1, DEW_LINK_ESCAPES },
		{ "./../x", 0, DEW_LINK_ESCAPES },
		{ "d/..", 3, DEW_LINK_DOTDOT_AFTER_NAME },
		{ "../d/../x", 3, DEW_LINK_DOTDOT_AFTER_NAME },
		{ "/etc/passwd", 3, DEW_LINK_ABSOLUTE },
		{ "", 3, DEW_LINK_EMPTY },
		{ NULL, 3, DEW_LINK_EMPTY },
		{ "0123456789abcdefg", 3, DEW_LINK_TOO_LONG },
		{ "0123456789abcdef", 3, DEW_PATH_OK }, /* max_len exactly */
	};

	for (size_t i = 0; i < DEW_ARRAY_SIZE(cases); i++)
		tap_is_int(dew_archive_symlink_check(cases[i].target, cases[i].depth, 16), cases[i].want,
			   "symlink to `%s` at depth %zu gives reason %d",
			   cases[i].target ? cases[i].target : "(null)", cases[i].depth, cases[i].want);
}

static void test_wording(void)
{
	bool all = true;

	for (int why = DEW_PATH_OK + 1; why < DEW_PATH_REFUSAL_COUNT; why++)
		for (int w = DEW_ARCHIVE_EXTRACT; w <= DEW_ARCHIVE_UPLOAD; w++)
			all &= strcmp(dew_archive_refusal(why, w), "refused") != 0;
	tap_ok(all, "every reason is worded for both the runtime and the controller");
	tap_is_str(dew_archive_refusal(DEW_PATH_DOTDOT, DEW_ARCHIVE_EXTRACT),
		   "path escapes the target directory", "the runtime's words");
	tap_is_str(dew_archive_refusal(DEW_PATH_TOO_LONG, DEW_ARCHIVE_UPLOAD), "path longer than 4096 bytes",
		   "the controller's words");
	tap_is_str(dew_archive_refusal(DEW_PATH_OK, DEW_ARCHIVE_UPLOAD), "refused", "no reason");
	tap_is_str(dew_archive_refusal(DEW_PATH_REFUSAL_COUNT, DEW_ARCHIVE_EXTRACT), "refused",
		   "an unknown reason");
}

static void test_type_names(void)
{
	tap_is_str(dew_archive_type_name(S_IFCHR), "character device", "S_IFCHR");
	tap_is_str(dew_archive_type_name(S_IFBLK), "block device", "S_IFBLK");
	tap_is_str(dew_archive_type_name(S_IFIFO), "fifo", "S_IFIFO");
	tap_is_str(dew_archive_type_name(S_IFSOCK), "socket", "S_IFSOCK");
	tap_is_str(dew_archive_type_name(S_IFDIR), "directory", "S_IFDIR");
	tap_is_str(dew_archive_type_name(S_IFCHR | 0644), "character device", "permission bits are ignored");
	tap_is_str(dew_archive_type_name(0), "unknown file type", "no type");
}

int main(void)
{
	test_normalise();
	test_limits();
	test_symlinks();
	test_wording();
	test_type_names();
	return tap_done();
}
