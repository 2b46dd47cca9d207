// SPDX-License-Identifier: MIT
/*
 * Archive entry checks (see archive-path.h): one lexical normaliser of names and one check of
 * symlink targets, so the controller's upload and the runtime's extraction cannot drift apart
 * on what may reach a tree. Pure string work: no file system access, no libarchive.
 */
#include "archive-path.h"

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"

/* The wordings of each refusal: the runtime's and the controller's, as their users know them. */
static const char *const refusals[DEW_PATH_REFUSAL_COUNT][2] = {
	[DEW_PATH_EMPTY] = { "empty name", "empty path" },
	[DEW_PATH_ROOT] = { "empty name", "empty path" },
	[DEW_PATH_TOO_LONG] = { "name longer than PATH_MAX", "path longer than 4096 bytes" },
	[DEW_PATH_ABSOLUTE] = { "absolute path", "absolute path" },
	[DEW_PATH_DOTDOT] = { "path escapes the target directory", "path escapes the app (`..`)" },
	[DEW_PATH_NAME_TOO_LONG] = { "name component longer than NAME_MAX",
				     "name component longer than 255 bytes" },
	[DEW_PATH_TOO_DEEP] = { "path nested too deep", "path nested too deep" },
	[DEW_LINK_EMPTY] = { "empty symlink target", "empty symlink target" },
	[DEW_LINK_TOO_LONG] = { "symlink target longer than PATH_MAX",
				"symlink target longer than 4096 bytes" },
	[DEW_LINK_ABSOLUTE] = { "symlink target is absolute", "symlink target is absolute" },
	[DEW_LINK_DOTDOT_AFTER_NAME] = { "symlink target has `..` after a name",
					 "symlink target has `..` after a name" },
	[DEW_LINK_ESCAPES] = { "symlink target escapes the target directory",
			       "symlink target escapes the app" },
};

/* Word a refusal (see archive-path.h). */
const char *dew_archive_refusal(enum dew_path_refusal why, enum dew_archive_wording w)
{
	if ((unsigned)why >= DEW_ARRAY_SIZE(refusals) || why == DEW_PATH_OK ||
	    (unsigned)w > DEW_ARCHIVE_UPLOAD)
		return "refused";
	return refusals[why][w];
}

/* Normalise an entry name (see archive-path.h). */
enum dew_path_refusal dew_archive_path_normalise(const char *raw, const struct dew_archive_path_limits *lim,
						 char **out, size_t *ncomp)
{
	size_t len = raw ? strlen(raw) : 0, n_comp = 0;
	cleanup_free char *norm = NULL;
	char *o;

	if (ncomp)
		*ncomp = 0;
	if (len == 0)
		return DEW_PATH_EMPTY;
	if (len > lim->max_len)
		return DEW_PATH_TOO_LONG;
	if (raw[0] == '/')
		return DEW_PATH_ABSOLUTE;
	norm = xmalloc(len + 1);
	o = norm;
	/*
	 * An embedded NUL cannot reach us: names are C strings, so such a name is cut there and
	 * then checked like any other.
	 */
	for (const char *s = raw; *s; s += s[0] == '/') {
		size_t n = strcspn(s, "/");
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return DEW_PATH_DOTDOT;
		if (n > lim->max_name)
			return DEW_PATH_NAME_TOO_LONG;
		if (n > 0 && !(n == 1 && s[0] == '.')) {
			if (++n_comp > lim->max_depth && lim->max_depth != 0)
				return DEW_PATH_TOO_DEEP;
			if (o != norm)
				*o++ = '/';
			memcpy(o, s, n);
			o += n;
		}
		s += n;
	}
	*o = '\0';
	if (n_comp == 0)
		return DEW_PATH_ROOT;
	if (ncomp)
		*ncomp = n_comp;
	*out = steal_pointer(&norm);
	return DEW_PATH_OK;
}

/* Check where a symlink target leads (see archive-path.h). */
enum dew_path_refusal dew_archive_symlink_check(const char *target, size_t depth, size_t max_len)
{
	bool named = false;

	if (!target || !*target)
		return DEW_LINK_EMPTY;
	if (strlen(target) > max_len)
		return DEW_LINK_TOO_LONG;
	if (target[0] == '/')
		return DEW_LINK_ABSOLUTE;
	for (const char *s = target; *s; s += s[0] == '/') {
		size_t n = strcspn(s, "/");
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (named)
				return DEW_LINK_DOTDOT_AFTER_NAME;
			if (depth-- == 0)
				return DEW_LINK_ESCAPES;
		} else if (n > 0 && !(n == 1 && s[0] == '.')) {
			named = true;
		}
		s += n;
	}
	return DEW_PATH_OK;
}

/* Name a file type for messages (see archive-path.h). */
const char *dew_archive_type_name(mode_t type)
{
	switch (type & S_IFMT) {
	case S_IFREG:
		return "regular file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	default:
		return "unknown file type";
	}
}
