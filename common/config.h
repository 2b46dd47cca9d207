/* SPDX-License-Identifier: MIT */
/*
 * dew.conf(5): the configuration file every daemon reads, and a table-driven binding of its
 * keys to a daemon's config struct. A daemon describes its keys once (name, type, offset,
 * default, bounds, doc); defaults, the file, -o KEY=VALUE and its own flags all go through it.
 */
#ifndef DEW_CONFIG_H
#define DEW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

enum {
	DEW_CONF_MAX_LINE = 4096,	 /* bytes per line, without the newline */
	DEW_CONF_MAX_FILE = 1024 * 1024, /* bytes per file */
};

enum dew_conf_type {
	DEW_CONF_STRING,   /* char *, owned; an empty value means unset (NULL) */
	DEW_CONF_INT,	   /* int64_t */
	DEW_CONF_BOOL,	   /* bool: true/false yes/no on/off 1/0 */
	DEW_CONF_SIZE,	   /* uint64_t bytes: 512K, 1M, 2G */
	DEW_CONF_DURATION, /* uint64_t milliseconds: 250ms, 5s, 2m, 1h, 1d */
	DEW_CONF_ENUM,	   /* int: index into choices */
	DEW_CONF_HOSTPORT, /* char *, owned, checked with dew_parse_hostport(); empty means unset */
};

/*
 * One key of a daemon's table. offset is offsetof() the field in the daemon's struct, of the C
 * type noted at each dew_conf_type. def is the default in file syntax; NULL gives NULL, 0,
 * false or the first choice. min and max bound INT, SIZE (bytes) and DURATION (milliseconds)
 * when max > min. choices is the NULL-terminated list of an ENUM. doc is one line for --help.
 */
struct dew_conf_key {
	const char *name;
	enum dew_conf_type type;
	size_t offset;
	const char *def;
	int64_t min, max;
	const char *const *choices;
	const char *doc;
};

/*
 * The section names of dew.conf (one per daemon), NULL-terminated: bus, controller, dea,
 * router, healthd, broker, run.
 */
const char *const *dew_conf_sections(void);

/*
 * Keys of the global section shared by all daemons (bus, log_level, log_format),
 * NULL-terminated. A daemon whose table lacks one of them ignores it in the global section
 * instead of calling it unknown (dew-bus has no `bus` key, for instance).
 */
const char *const *dew_conf_shared_keys(void);

/*
 * Apply every default to cfg. The fields are overwritten without being freed, so call it
 * once on a zeroed or uninitialised struct. A default that does not parse or breaks its
 * bounds is a bug in the table: -EINVAL with *err naming the key. Either way, release cfg
 * with dew_conf_free() afterwards.
 */
int dew_conf_init(const struct dew_conf_key *keys, size_t n, void *cfg, struct dew_error **err);

/*
 * Read the file at path into cfg for the daemon whose section is section (NULL: the global
 * section only). The global section and [section] are checked against keys: unknown and
 * repeated keys and bad values are errors. Other known sections are skipped (their lines must
 * still be well-formed); an unknown section is an error. Every message starts with "path:line: ".
 * Returns 0 or a negative errno with *err set; cfg may be partly updated on error.
 */
int dew_conf_load_file(const struct dew_conf_key *keys, size_t n, void *cfg, const char *path,
		       const char *section, struct dew_error **err);

/* As dew_conf_load_file() with the text of a file; origin stands for the file name in messages. */
int dew_conf_load_string(const struct dew_conf_key *keys, size_t n, void *cfg, const char *text,
			 const char *origin, const char *section, struct dew_error **err);

/*
 * Set key name from value (raw, no quoting) as a command-line override. Messages start with
 * origin ("--listen: expected HOST:PORT, got `x`"), or "key `name`" when origin is NULL.
 */
int dew_conf_set(const struct dew_conf_key *keys, size_t n, void *cfg, const char *name, const char *value,
		 const char *origin, struct dew_error **err);

/* dew_conf_set() from "KEY=VALUE", the argument of -o; messages start with "-o KEY". */
int dew_conf_set_assignment(const struct dew_conf_key *keys, size_t n, void *cfg, const char *assignment,
			    struct dew_error **err);

/* The key called name, or NULL. */
const struct dew_conf_key *dew_conf_find(const struct dew_conf_key *keys, size_t n, const char *name);

/*
 * Append the effective configuration to out in file syntax, one "key = value" line per key
 * in table order, sizes and durations in the largest exact unit (1M, 90s); an unset string is
 * written as "". The text loads back to the same values.
 */
void dew_conf_dump(const struct dew_conf_key *keys, size_t n, const void *cfg, struct dew_buf *out);

/* Free the STRING and HOSTPORT fields of cfg and set them to NULL. */
void dew_conf_free(const struct dew_conf_key *keys, size_t n, void *cfg);

#endif
