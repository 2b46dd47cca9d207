// SPDX-License-Identifier: MIT
/*
 * gitignore-syntax rules for `dew push` (ignore.h). A pattern without a slash (other than a
 * trailing one) matches a name at any depth, so it is kept as `**` + `/` + pattern; every
 * pattern is then matched against the whole relative path by one glob matcher that knows `**`.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fs.h"
#include "ignore.h"

enum { IGNORE_MAX_FILE = 1 << 20 };

struct ignore_rule {
	char *pattern; /* anchored at the app's directory */
	bool negate;
	bool dir_only;
};

struct ignore {
	struct ignore_rule *rules;
	size_t n, cap;
};

struct ignore *ignore_new(void)
{
	return xzalloc(sizeof(struct ignore));
}

void ignore_free(struct ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++)
		free(ig->rules[i].pattern);
	free(ig->rules);
	free(ig);
}

/* Does the bracket expression at p (after '[') match c? *end gets the byte after ']', or NULL
 * when the expression is not closed (the '[' is then a literal). */
static bool ignore_class(const char *p, char c, const char **end)
{
	bool neg = *p == '!' || *p == '^', hit = false;
	if (neg)
		p++;
	const char *start = p;
	while (*p && (*p != ']' || p == start)) {
		char lo = *p, hi = lo;
		if (lo == '\\' && p[1])
			lo = hi = *++p;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = p[2];
			p += 2;
		}
		if (c >= lo && c <= hi)
			hit = true;
		p++;
	}
	*end = *p == ']' ? p + 1 : NULL;
	return hit != neg;
}

/* Glob p against s: `*` and `?` stay within a component, `**` crosses them. */
static bool ignore_glob(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (p[0] == '*' && p[1] == '*' && (p[2] == '/' || !p[2])) {
			if (!p[2])
				return true; /* trailing `**`: everything below */
			/* `**` + `/`: zero or more whole directories */
			for (const char *t = s;; t++) {
				if ((t == s || t[-1] == '/') && ignore_glob(p + 3, t))
					return true;
				if (!*t)
					return false;
			}
		}
		if (*p == '*') {
			while (*p == '*')
				p++;
			for (const char *t = s;; t++) {
				if (ignore_glob(p, t))
					return true;
				if (!*t || *t == '/')
					return false;
			}
		}
		if (!*s)
			return false;
		if (*p == '?') {
			if (*s == '/')
				return false;
			continue;
		}
		if (*p == '[') {
			const char *end;
			bool hit = ignore_class(p + 1, *s, &end);
			if (end) {
				if (!hit || *s == '/')
					return false;
				p = end - 1;
				continue;
			}
		}
		if (*p == '\\' && p[1])
			p++;
		if (*p != *s)
			return false;
	}
	return !*s;
}

/* Add one line (without its newline) as a rule, unless it is blank or a comment. */
static void ignore_add_line(struct ignore *ig, const char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	/* Trailing blanks go unless escaped with a backslash. */
	while (len && line[len - 1] == ' ' && !(len >= 2 && line[len - 2] == '\\'))
		len--;
	if (!len || line[0] == '#')
		return;
	struct ignore_rule r = { 0 };
	if (line[0] == '!') {
		r.negate = true;
		line++;
		len--;
	}
	if (len && line[len - 1] == '/') {
		r.dir_only = true;
		len--;
	}
	if (!len)
		return;
	bool anchored = memchr(line, '/', len) != NULL;
	if (line[0] == '/') {
		line++;
		len--;
	}
	if (!len)
		return;
	r.pattern = xasprintf("%s%.*s", anchored ? "" : "**/", (int)len, line);
	if (ig->n == ig->cap) {
		ig->cap = ig->cap ? 2 * ig->cap : 16;
		ig->rules = xreallocarray(ig->rules, ig->cap, sizeof(*ig->rules));
	}
	ig->rules[ig->n++] = r;
}

void ignore_add_rules(struct ignore *ig, const char *text, size_t len)
{
	while (len) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		ignore_add_line(ig, text, n);
		text += n;
		len -= n;
		if (nl) {
			text++;
			len--;
		}
	}
}

int ignore_add_file(struct ignore *ig, const char *path, struct dew_error **err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	struct dew_error *e = NULL;
	int r = dew_read_file(path, IGNORE_MAX_FILE, &text, &len, &e);
	if (r == -ENOENT) {
		dew_error_free(e);
		return 0;
	}
	if (r < 0) {
		*err = e;
		return r;
	}
	ignore_add_rules(ig, text, len);
	return 0;
}

bool ignore_match(const struct ignore *ig, const char *path, bool is_dir)
{
	/* The last rule that matches decides. */
	for (size_t i = ig->n; i-- > 0;) {
		const struct ignore_rule *r = &ig->rules[i];
		if (r->dir_only && !is_dir)
			continue;
		if (ignore_glob(r->pattern, path))
			return !r->negate;
	}
	return false;
}
