/* SPDX-License-Identifier: MIT */
/*
 * The checks every archive entry from a user passes, shared by the runtime's extraction (droplets,
 * app packages on a DEA) and the controller's upload (app bits): names normalised so that no
 * lexical trick leaves the tree, symlink targets that stay inside it, and the names of the file
 * types both refuse. The checks return a reason; dew_archive_refusal() words it as each caller
 * always has, all wordings side by side, so a new reason cannot be left unworded in one of them.
 */
#ifndef DEW_ARCHIVE_PATH_H
#define DEW_ARCHIVE_PATH_H

#include <stddef.h>
#include <sys/types.h>

/* Why a name or a symlink target was refused; DEW_PATH_OK (0) when it was not. */
enum dew_path_refusal {
	DEW_PATH_OK = 0,
	/* dew_archive_path_normalise() */
	DEW_PATH_EMPTY,		/* NULL or "" */
	DEW_PATH_ROOT,		/* only "." components and slashes ("./"): names the root itself */
	DEW_PATH_TOO_LONG,	/* more than max_len bytes */
	DEW_PATH_ABSOLUTE,	/* a leading "/" */
	DEW_PATH_DOTDOT,	/* a ".." component */
	DEW_PATH_NAME_TOO_LONG, /* a component of more than max_name bytes */
	DEW_PATH_TOO_DEEP,	/* more than max_depth components */
	/* dew_archive_symlink_check() */
	DEW_LINK_EMPTY,		    /* NULL or "" */
	DEW_LINK_TOO_LONG,	    /* more than max_len bytes */
	DEW_LINK_ABSOLUTE,	    /* a leading "/" */
	DEW_LINK_DOTDOT_AFTER_NAME, /* ".." after a name ("d/..") */
	DEW_LINK_ESCAPES,	    /* more leading ".." than the link has parents */
	DEW_PATH_REFUSAL_COUNT
};

struct dew_archive_path_limits {
	size_t max_len;	  /* bytes of the whole name */
	size_t max_name;  /* bytes of one component */
	size_t max_depth; /* components after normalising; 0 for no limit */
};

/*
 * Normalise an entry name into *out ("a/b/c": empty and "." components dropped; allocated, the
 * caller frees it) and the number of its components into *ncomp (which may be NULL). A ".."
 * anywhere, a leading "/" or a name over the limits is refused, so a normalised name never
 * leaves the tree however it is joined to it. A name of only "." components is DEW_PATH_ROOT:
 * the caller decides whether the root may appear (a "./" directory entry) or not. *out is
 * written only on DEW_PATH_OK.
 */
enum dew_path_refusal dew_archive_path_normalise(const char *raw, const struct dew_archive_path_limits *lim,
						 char **out, size_t *ncomp);

/*
 * Whether a symlink target, read from a link depth directories below the root (a link "a/b/l"
 * has depth 2), stays in the tree: DEW_PATH_OK or one of the DEW_LINK_ reasons. Only leading
 * ".." are allowed: the link's parents are real directories (nothing is ever created below a
 * symlink), so counting them is exact. A ".." after a name could climb out through another
 * symlink ("l/.." where l -> ".."), so it is refused. A target over max_len bytes is refused.
 */
enum dew_path_refusal dew_archive_symlink_check(const char *target, size_t depth, size_t max_len);

/*
 * Whose words a refusal is given in: the runtime's extraction speaks of names, PATH_MAX and the
 * target directory; the controller's upload of paths of the app and its byte limits (4096 for a
 * path or a symlink target, 255 for a component).
 */
enum dew_archive_wording { DEW_ARCHIVE_EXTRACT, DEW_ARCHIVE_UPLOAD };

/* Why a name or a target was refused, in the words of w ("absolute path", ...); never NULL. */
const char *dew_archive_refusal(enum dew_path_refusal why, enum dew_archive_wording w);

/*
 * The name of a file type ("character device", "fifo", ...) for messages; type is the S_IFMT
 * bits of a mode, or what libarchive's archive_entry_filetype() returns (its AE_IF* constants
 * are the POSIX values). "unknown file type" for anything else.
 */
const char *dew_archive_type_name(mode_t type);

#endif
