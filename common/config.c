// SPDX-License-Identifier: MIT
/*
 * dew.conf(5): the line parser of the file format, the conversion of values to the typed
 * fields of a daemon's config struct through its key table, command-line overrides, and the
 * dump of the effective configuration back in file syntax.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "fs.h"
#include "parse.h"

static const char *const section_names[] = {
	"bus", "controller", "dea", "router", "healthd", "broker", "run", NULL,
};
static const char *const shared_key_names[] = { "bus", "bus_ping_interval", "log_level", "log_format", NULL };

enum { N_SHARED = DEW_ARRAY_SIZE(shared_key_names) - 1 };

#define FIELD(cfg, key, type) ((type *)(void *)((char *)(cfg) + (key)->offset))

/* The section names of dew.conf (see config.h). */
const char *const *dew_conf_sections(void)
{
	return section_names;
}

/* The tolerated keys of the global section (see config.h). */
const char *const *dew_conf_shared_keys(void)
{
	return shared_key_names;
}

/* Look a key up by name in the table. */
const struct dew_conf_key *dew_conf_find(const struct dew_conf_key *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

/* Write a byte count in the largest binary unit that divides it exactly: 1048576 -> "1M". */
static void format_size(uint64_t v, char *out, size_t size)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	while (v != 0 && v % 1024 == 0 && u < (int)sizeof units - 2) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, size, "%" PRIu64, v);
	else
		snprintf(out, size, "%" PRIu64 "%c", v, units[u]);
}

/* Write milliseconds in the largest unit that divides them exactly: 90000 -> "90s". */
static void format_duration(uint64_t ms, char *out, size_t size)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };

	if (ms == 0) {
		snprintf(out, size, "0s");
		return;
	}
	for (size_t i = 0; i < DEW_ARRAY_SIZE(units); i++) {
		if (ms % units[i].ms == 0) {
			snprintf(out, size, "%" PRIu64 "%s", ms / units[i].ms, units[i].suffix);
			return;
		}
	}
	snprintf(out, size, "%" PRIu64 "ms", ms);
}

/* Write v as the type of key would be written in the file (INT, SIZE, DURATION). */
static void format_number(const struct dew_conf_key *key, int64_t v, char *out, size_t size)
{
	if (key->type == DEW_CONF_INT)
		snprintf(out, size, "%" PRId64, v);
	else if (key->type == DEW_CONF_SIZE)
		format_size(v < 0 ? 0 : (uint64_t)v, out, size);
	else
		format_duration(v < 0 ? 0 : (uint64_t)v, out, size);
}

/* True when key is a number (INT, SIZE, DURATION) whose bounds are active. */
static bool has_bounds(const struct dew_conf_key *key)
{
	return key->max > key->min &&
	       (key->type == DEW_CONF_INT || key->type == DEW_CONF_SIZE || key->type == DEW_CONF_DURATION);
}

/* What a value of key must look like, for "expected ..., got `x`"; with its bounds when range. */
static char *expected_text(const struct dew_conf_key *key, bool range)
{
	char lo[32], hi[32];

	if (range && has_bounds(key)) {
		format_number(key, key->min, lo, sizeof lo);
		format_number(key, key->max, hi, sizeof hi);
		const char *what = key->type == DEW_CONF_INT	? "an integer"
				   : key->type == DEW_CONF_SIZE ? "a size"
								: "a duration";
		return xasprintf("%s between %s and %s", what, lo, hi);
	}
	switch (key->type) {
	case DEW_CONF_INT:
		return xstrdup("an integer");
	case DEW_CONF_BOOL:
		return xstrdup("a boolean (true/false, yes/no, on/off, 1/0)");
	case DEW_CONF_SIZE:
		return xstrdup("a size such as 512K or 1M");
	case DEW_CONF_DURATION:
		return xstrdup("a duration such as 250ms, 5s or 2m");
	case DEW_CONF_HOSTPORT:
		return xstrdup("HOST:PORT");
	case DEW_CONF_ENUM: {
		struct dew_buf b = DEW_BUF_INIT;
		dew_buf_puts(&b, "one of ");
		for (size_t i = 0; key->choices && key->choices[i]; i++)
			dew_buf_printf(&b, "%s%s", i ? "|" : "", key->choices[i]);
		return dew_buf_steal(&b);
	}
	case DEW_CONF_STRING:
		break;
	}
	return xstrdup("a string");
}

/*
 * Fail with "expected <what key takes>, got `value`". r is -EINVAL for a value that does not
 * parse, -ERANGE for one that breaks the bounds (then named) or does not fit at all.
 */
static int bad_value(const struct dew_conf_key *key, const char *value, int r, struct dew_error **err)
{
	bool range = r == -ERANGE;
	cleanup_free char *what = expected_text(key, range);

	return dew_error_set(err, 0, "expected %s, got `%s`%s", what, value,
			     range && !has_bounds(key) ? " (out of range)" : "");
}

/* True when the bounds of key are active and v (signed) breaks them. */
static bool out_of_bounds_signed(const struct dew_conf_key *key, int64_t v)
{
	return key->max > key->min && (v < key->min || v > key->max);
}

/* True when the bounds of key are active and v (unsigned) breaks them. */
static bool out_of_bounds_unsigned(const struct dew_conf_key *key, uint64_t v)
{
	if (key->max <= key->min)
		return false;
	if (key->max < 0)
		return true;
	return (key->min > 0 && v < (uint64_t)key->min) || v > (uint64_t)key->max;
}

/* Parse value as a number of the type of key (INT, SIZE, DURATION) and store it. */
static int store_number(const struct dew_conf_key *key, void *cfg, const char *value, struct dew_error **err)
{
	int64_t i = 0;
	uint64_t u = 0;
	int r;

	if (key->type == DEW_CONF_INT) {
		r = dew_parse_int64(value, &i);
		if (r == 0 && out_of_bounds_signed(key, i))
			r = -ERANGE;
		if (r < 0)
			return bad_value(key, value, r, err);
		*FIELD(cfg, key, int64_t) = i;
		return 0;
	}
	r = key->type == DEW_CONF_SIZE ? dew_parse_size(value, &u) : dew_parse_duration_ms(value, &u);
	if (r == 0 && out_of_bounds_unsigned(key, u))
		r = -ERANGE;
	if (r < 0)
		return bad_value(key, value, r, err);
	*FIELD(cfg, key, uint64_t) = u;
	return 0;
}

/* Replace an owned string field. */
static void store_string(char **field, const char *value)
{
	free(*field);
	*field = *value ? xstrdup(value) : NULL;
}

/*
 * Convert value for key and store it in cfg. On a bad value *err says what was expected
 * ("expected HOST:PORT, got `x`") without naming the key: callers add their own context.
 */
static int conf_store(const struct dew_conf_key *key, void *cfg, const char *value, struct dew_error **err)
{
	switch (key->type) {
	case DEW_CONF_STRING:
		store_string(FIELD(cfg, key, char *), value);
		return 0;
	case DEW_CONF_HOSTPORT: {
		cleanup_free char *host = NULL;
		int port;
		if (*value && dew_parse_hostport(value, &host, &port) < 0)
			return bad_value(key, value, -EINVAL, err);
		store_string(FIELD(cfg, key, char *), value);
		return 0;
	}
	case DEW_CONF_BOOL:
		if (dew_parse_bool(value, FIELD(cfg, key, bool)) < 0)
			return bad_value(key, value, -EINVAL, err);
		return 0;
	case DEW_CONF_ENUM:
		for (int i = 0; key->choices && key->choices[i]; i++) {
			if (strcasecmp(value, key->choices[i]) == 0) {
				*FIELD(cfg, key, int) = i;
				return 0;
			}
		}
		return bad_value(key, value, -EINVAL, err);
	case DEW_CONF_INT:
	case DEW_CONF_SIZE:
	case DEW_CONF_DURATION:
		return store_number(key, cfg, value, err);
	}
	return dew_error_set(err, 0, "unsupported type %d", (int)key->type);
}

/* Set the field of key to its zero value (NULL, 0, false, the first choice). */
static void zero_field(const struct dew_conf_key *key, void *cfg)
{
	switch (key->type) {
	case DEW_CONF_STRING:
	case DEW_CONF_HOSTPORT:
		*FIELD(cfg, key, char *) = NULL;
		return;
	case DEW_CONF_INT:
		*FIELD(cfg, key, int64_t) = 0;
		return;
	case DEW_CONF_BOOL:
		*FIELD(cfg, key, bool) = false;
		return;
	case DEW_CONF_SIZE:
	case DEW_CONF_DURATION:
		*FIELD(cfg, key, uint64_t) = 0;
		return;
	case DEW_CONF_ENUM:
		*FIELD(cfg, key, int) = 0;
		return;
	}
}

/* Apply every default of the table (see config.h). */
int dew_conf_init(const struct dew_conf_key *keys, size_t n, void *cfg, struct dew_error **err)
{
	/* Zero everything first, so dew_conf_free() is safe even after a bad default. */
	for (size_t i = 0; i < n; i++)
		zero_field(&keys[i], cfg);
	for (size_t i = 0; i < n; i++) {
		int r = keys[i].def ? conf_store(&keys[i], cfg, keys[i].def, err) : 0;
		if (r < 0) {
			dew_error_prefix(err, "built-in default of key `%s`", keys[i].name);
			return r;
		}
	}
	return 0;
}

/* The state of one pass over a file. */
struct conf_parser {
	const struct dew_conf_key *keys;
	size_t n;
	void *cfg;
	const char *origin;  /* file name for messages */
	const char *own;     /* the daemon's section, or NULL */
	const char *section; /* the current section, NULL before the first header */
	bool checked;	     /* the current section is the global one or the daemon's own */
	unsigned line;
	unsigned *seen; /* line of the first assignment of each key: global, then own section */
};

/* Fail with "origin:line: message". */
static int parse_error(const struct conf_parser *p, struct dew_error **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int parse_error(const struct conf_parser *p, struct dew_error **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return dew_error_set(err, 0, "%s:%u: %s", p->origin, p->line, msg);
}

/* Skip blanks (spaces and tabs). */
static char *skip_ws(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Key and section names: [a-z0-9_]+. */
static bool valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	}
	return true;
}

/* The section name as stored in the table (or the daemon's own), or NULL when unknown. */
static const char *known_section(const struct conf_parser *p, const char *name)
{
	for (size_t i = 0; section_names[i]; i++) {
		if (strcmp(section_names[i], name) == 0)
			return section_names[i];
	}
	if (p->own && strcmp(p->own, name) == 0)
		return p->own;
	return NULL;
}

/* Handle a "[name]" line. */
static int parse_section(struct conf_parser *p, char *s, struct dew_error **err)
{
	char *close = strchr(s, ']');

	if (!close)
		return parse_error(p, err, "malformed section header `%s` (expected [name])", s);
	char *rest = skip_ws(close + 1);
	if (*rest != '\0' && *rest != '#')
		return parse_error(p, err, "unexpected text after section header: `%s`", rest);
	*close = '\0';
	if (!valid_name(s + 1))
		return parse_error(p, err, "malformed section header `%s]` (names use a-z, 0-9 and _)", s);

	const char *name = known_section(p, s + 1);
	if (!name) {
		struct dew_buf known = DEW_BUF_INIT;
		for (size_t i = 0; section_names[i]; i++)
			dew_buf_printf(&known, "%s%s", i ? ", " : "", section_names[i]);
		int r = parse_error(p, err, "unknown section [%s] (known: %s)", s + 1, known.data);
		dew_buf_close(&known);
		return r;
	}
	p->section = name;
	p->checked = p->own && strcmp(name, p->own) == 0;
	return 0;
}

/* Decode a double-quoted value; s points past the opening quote. */
static int parse_quoted(const struct conf_parser *p, const char *s, char **out, struct dew_error **err)
{
	cleanup_free char *v = xmalloc(strlen(s) + 1);
	char *o = v;

	for (;;) {
		char c = *s++;
		if (c == '\0')
			return parse_error(p, err, "unterminated quoted value");
		if (c == '"')
			break;
		if (c == '\\') {
			c = *s++;
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == '\0')
				return parse_error(p, err, "unterminated quoted value");
			else if (c != '"' && c != '\\')
				return parse_error(p, err,
						   "unknown escape sequence in quoted value "
						   "(use \\\" \\\\ \\n \\t)");
		}
		*o++ = c;
	}
	*o = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0' && *s != '#')
		return parse_error(p, err, "unexpected text after quoted value: `%s`", s);
	*out = steal_pointer(&v);
	return 0;
}

/* Extract the value of an assignment; s is the text after '='. */
static int parse_value(const struct conf_parser *p, char *s, char **out, struct dew_error **err)
{
	char *v = skip_ws(s);

	if (*v == '"')
		return parse_quoted(p, v + 1, out, err);
	/* Outside quotes, whitespace followed by '#' starts a comment (so "a#b" keeps its '#'). */
	for (char *q = s; *q; q++) {
		if ((*q == ' ' || *q == '\t') && q[1] == '#') {
			*q = '\0';
			break;
		}
	}
	/* Again: the comment may have started in the blanks before the value. */
	v = skip_ws(s);
	char *end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*out = xstrndup(v, (size_t)(end - v));
	return 0;
}

/* Fail on an unknown key, naming the current section. */
static int unknown_key(const struct conf_parser *p, const char *name, struct dew_error **err)
{
	if (p->section)
		return parse_error(p, err, "unknown key `%s` in section [%s]", name, p->section);
	return parse_error(p, err, "unknown key `%s` in the global section", name);
}

/* The index of name among the shared keys, or -1. */
static int shared_index(const char *name)
{
	for (int i = 0; shared_key_names[i]; i++) {
		if (strcmp(shared_key_names[i], name) == 0)
			return i;
	}
	return -1;
}

/* Check and apply "name = value" in the global section or the daemon's own one. */
static int assign(struct conf_parser *p, const char *name, const char *value, struct dew_error **err)
{
	const struct dew_conf_key *key = dew_conf_find(p->keys, p->n, name);
	size_t idx;

	if (key) {
		idx = (size_t)(key - p->keys);
	} else {
		int shared = p->section ? -1 : shared_index(name);
		if (shared < 0)
			return unknown_key(p, name, err);
		/* A shared global key this daemon does not use: tolerated, not applied. */
		idx = p->n + (size_t)shared;
	}

	unsigned *seen = &p->seen[(p->section ? p->n + N_SHARED : 0) + idx];
	if (*seen && p->section)
		return parse_error(p, err, "key `%s` is given twice in section [%s] (first on line %u)", name,
				   p->section, *seen);
	if (*seen)
		return parse_error(p, err, "key `%s` is given twice in the global section (first on line %u)",
				   name, *seen);
	*seen = p->line;
	if (!key)
		return 0;

	int r = conf_store(key, p->cfg, value, err);
	if (r < 0)
		dew_error_prefix(err, "%s:%u: key `%s`", p->origin, p->line, name);
	return r;
}

/* Handle a "key = value" line. */
static int parse_assignment(struct conf_parser *p, char *s, struct dew_error **err)
{
	size_t klen = strcspn(s, " \t=");
	char *eq = skip_ws(s + klen);

	if (klen == 0 || *eq != '=')
		return parse_error(p, err, "expected `key = value` or `[section]`, got `%s`", s);
	s[klen] = '\0';
	if (!valid_name(s))
		return parse_error(p, err, "invalid key name `%s` (keys use a-z, 0-9 and _)", s);

	cleanup_free char *value = NULL;
	int r = parse_value(p, eq + 1, &value, err);
	if (r < 0)
		return r;
	/* Sections of other daemons are well-formed but not ours to judge. */
	if (!p->checked)
		return 0;
	return assign(p, s, value, err);
}

/* True when s[0..len) is valid UTF-8 (no overlong forms or surrogates) without NUL bytes. */
static bool valid_utf8(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned c = s[i], min;
		size_t more;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			more = 1, min = 0x80, c &= 0x1f;
		else if ((c & 0xf0) == 0xe0)
			more = 2, min = 0x800, c &= 0x0f;
		else if ((c & 0xf8) == 0xf0)
			more = 3, min = 0x10000, c &= 0x07;
		else
			return false;
		if (len - i <= more)
			return false;
		for (size_t k = 1; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (s[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += more + 1;
	}
	return true;
}

/* Split text into lines and handle each. */
static int parse_text(struct conf_parser *p, const char *text, size_t len, struct dew_error **err)
{
	char line[DEW_CONF_MAX_LINE + 1];
	const char *s = text, *end = text + len;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t l = (size_t)((nl ? nl : end) - s);

		p->line++;
		if (l > 0 && s[l - 1] == '\r')
			l--;
		if (l > DEW_CONF_MAX_LINE)
			return parse_error(p, err, "line is longer than %d bytes", DEW_CONF_MAX_LINE);
		if (!valid_utf8((const unsigned char *)s, l))
			return parse_error(p, err, "line is not valid UTF-8 text");
		memcpy(line, s, l);
		line[l] = '\0';

		char *t = skip_ws(line);
		int r = 0;
		if (*t == '[')
			r = parse_section(p, t, err);
		else if (*t != '\0' && *t != '#')
			r = parse_assignment(p, t, err);
		if (r < 0)
			return r;
		s = nl ? nl + 1 : end;
	}
	return 0;
}

/* Parse len bytes of text for the daemon of section. */
static int load(const struct dew_conf_key *keys, size_t n, void *cfg, const char *text, size_t len,
		const char *origin, const char *section, struct dew_error **err)
{
	cleanup_free unsigned *seen = xcalloc(2 * (n + N_SHARED), sizeof *seen);
	struct conf_parser p = {
		.keys = keys,
		.n = n,
		.cfg = cfg,
		.origin = origin,
		.own = section,
		.section = NULL,
		.checked = true,
		.line = 0,
		.seen = seen,
	};

	if (len > DEW_CONF_MAX_FILE)
		return dew_error_set(err, 0, "%s: file is larger than %d bytes", origin, DEW_CONF_MAX_FILE);
	return parse_text(&p, text, len, err);
}

/* Load a dew.conf file (see config.h). */
int dew_conf_load_file(const struct dew_conf_key *keys, size_t n, void *cfg, const char *path,
		       const char *section, struct dew_error **err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r = dew_read_file(path, DEW_CONF_MAX_FILE, &text, &len, err);

	if (r < 0)
		return r;
	return load(keys, n, cfg, text, len, path, section, err);
}

/* Load dew.conf text (see config.h). */
int dew_conf_load_string(const struct dew_conf_key *keys, size_t n, void *cfg, const char *text,
			 const char *origin, const char *section, struct dew_error **err)
{
	return load(keys, n, cfg, text, strlen(text), origin, section, err);
}

/* Apply one command-line override (see config.h). */
int dew_conf_set(const struct dew_conf_key *keys, size_t n, void *cfg, const char *name, const char *value,
		 const char *origin, struct dew_error **err)
{
	const struct dew_conf_key *key = dew_conf_find(keys, n, name);
	int r;

	if (!key) {
		if (origin)
			return dew_error_set(err, 0, "%s: unknown key `%s`", origin, name);
		return dew_error_set(err, 0, "unknown key `%s`", name);
	}
	r = conf_store(key, cfg, value, err);
	if (r < 0) {
		if (origin)
			dew_error_prefix(err, "%s", origin);
		else
			dew_error_prefix(err, "key `%s`", name);
	}
	return r;
}

/* Apply "-o KEY=VALUE" (see config.h). */
int dew_conf_set_assignment(const struct dew_conf_key *keys, size_t n, void *cfg, const char *assignment,
			    struct dew_error **err)
{
	const char *eq = strchr(assignment, '=');

	if (!eq || eq == assignment)
		return dew_error_set(err, 0, "-o: expected KEY=VALUE, got `%s`", assignment);

	cleanup_free char *name = xstrndup(assignment, (size_t)(eq - assignment));
	if (!dew_conf_find(keys, n, name))
		return dew_error_set(err, 0, "-o: unknown key `%s`", name);
	cleanup_free char *origin = xasprintf("-o %s", name);
	return dew_conf_set(keys, n, cfg, name, eq + 1, origin, err);
}

/* True when s must be quoted to read back as itself. */
static bool needs_quotes(const char *s)
{
	size_t len = strlen(s);

	/* A leading '#' follows the blank of "key = ", so it would start a comment. */
	if (len == 0 || *s == '"' || *s == '#' || *s == ' ' || *s == '\t' || s[len - 1] == ' ' ||
	    s[len - 1] == '\t')
		return true;
	for (const char *q = s; *q; q++) {
		if (*q == '\n' || *q == '\r' || ((*q == ' ' || *q == '\t') && q[1] == '#'))
			return true;
	}
	return false;
}

/* Append a string value in file syntax; NULL (unset) is written as "". */
static void dump_string(struct dew_buf *out, const char *s)
{
	if (!s)
		s = "";
	if (!needs_quotes(s)) {
		dew_buf_puts(out, s);
		return;
	}
	dew_buf_putc(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			dew_buf_printf(out, "\\%c", *s);
		else if (*s == '\n')
			dew_buf_puts(out, "\\n");
		else if (*s == '\t')
			dew_buf_puts(out, "\\t");
		else
			dew_buf_putc(out, *s);
	}
	dew_buf_putc(out, '"');
}

/* Append the value of one key in file syntax. */
static void dump_value(const struct dew_conf_key *key, const void *cfg, struct dew_buf *out)
{
	char num[32];
	const char *field = (const char *)cfg + key->offset;

	switch (key->type) {
	case DEW_CONF_STRING:
	case DEW_CONF_HOSTPORT:
		dump_string(out, *(char *const *)(const void *)field);
		return;
	case DEW_CONF_INT:
		dew_buf_printf(out, "%" PRId64, *(const int64_t *)(const void *)field);
		return;
	case DEW_CONF_BOOL:
		dew_buf_puts(out, *(const bool *)field ? "true" : "false");
		return;
	case DEW_CONF_SIZE:
		format_size(*(const uint64_t *)(const void *)field, num, sizeof num);
		dew_buf_puts(out, num);
		return;
	case DEW_CONF_DURATION:
		format_duration(*(const uint64_t *)(const void *)field, num, sizeof num);
		dew_buf_puts(out, num);
		return;
	case DEW_CONF_ENUM: {
		int i = *(const int *)(const void *)field;
		/* An index past the choices is a bug of the caller; show it rather than crash. */
		size_t count = 0;
		while (key->choices && key->choices[count])
			count++;
		if (i >= 0 && (size_t)i < count)
			dew_buf_puts(out, key->choices[i]);
		else
			dew_buf_printf(out, "%d", i);
		return;
	}
	}
}

/* Write the effective configuration in file syntax (see config.h). */
void dew_conf_dump(const struct dew_conf_key *keys, size_t n, const void *cfg, struct dew_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		dew_buf_printf(out, "%s = ", keys[i].name);
		dump_value(&keys[i], cfg, out);
		dew_buf_putc(out, '\n');
	}
}

/* Release the owned strings of cfg (see config.h). */
void dew_conf_free(const struct dew_conf_key *keys, size_t n, void *cfg)
{
	for (size_t i = 0; i < n; i++) {
		if (keys[i].type != DEW_CONF_STRING && keys[i].type != DEW_CONF_HOSTPORT)
			continue;
		char **field = FIELD(cfg, &keys[i], char *);
		free(*field);
		*field = NULL;
	}
}
