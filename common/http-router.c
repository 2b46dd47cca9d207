// SPDX-License-Identifier: MIT
/*
 * The router: `method + path pattern -> route`, tried in table order. Patterns have literal
 * segments, `:name` segments and a trailing `*`; the request path is split on '/' first and then
 * decoded segment by segment, so an encoded "%2F" can never create or hide a separator. Also
 * splits a request target into its raw path and query.
 */
#include <http_parser.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "http-conn.h"
#include "parse.h"

/* The decoded segments of a request path. */
struct segments {
	char **v;
	size_t n;
};

/* Percent-decode s; see http-conn.h. */
char *dew__http_pct_decode(const char *s, size_t len, bool plus_space, bool strict, size_t *out_len)
{
	/* Decoding never grows the text, so len + 1 bytes always suffice. */
	char *out = xmalloc(len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi = i + 1 < len ? dew_hex_digit(s[i + 1]) : -1;
			int lo = i + 2 < len ? dew_hex_digit(s[i + 2]) : -1;
			if (hi >= 0 && lo >= 0) {
				out[n++] = (char)(hi * 16 + lo);
				i += 2;
				continue;
			}
			if (strict) {
				free(out);
				return NULL;
			}
		}
		out[n++] = plus_space && s[i] == '+' ? ' ' : s[i];
	}
	out[n] = '\0';
	if (out_len)
		*out_len = n;
	return out;
}

/* Split a request target into raw path and raw query. */
const char *dew__http_split_target(const char *target, char **raw_path, char **query)
{
	struct http_parser_url u;
	size_t len = strlen(target);

	if (target[0] == '/') {
		size_t plen = strcspn(target, "?#");
		const char *q = target + plen + (target[plen] == '?');
		*raw_path = xstrndup(target, plen);
		*query = target[plen] == '?' ? xstrndup(q, strcspn(q, "#")) : xstrdup("");
		return NULL;
	}
	/* Absolute form ("http://host/p?q"), which servers must accept (RFC 9112 3.2.2). */
	http_parser_url_init(&u);
	if (len > UINT16_MAX || http_parser_parse_url(target, len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_HOST)))
		return "unsupported request target (expected a path starting with '/')";
	if (u.field_set & (1 << UF_PATH))
		*raw_path = xstrndup(target + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
	else
		*raw_path = xstrdup("/");
	if (u.field_set & (1 << UF_QUERY))
		*query = xstrndup(target + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
	else
		*query = xstrdup("");
	return NULL;
}

static void segments_close(struct segments *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/*
 * Split raw ("/a/b%20c") into decoded segments. Refuse what could let a handler that maps the
 * path onto a file system walk out of its directory: "." and ".." segments (also when encoded),
 * and segments whose decoding holds a '/' or a NUL (which would truncate the C string).
 */
static int split_path(const char *raw, struct segments *out, char *err, size_t errlen)
{
	size_t n = 0;

	if (raw[0] != '/') {
		snprintf(err, errlen, "request path must start with '/'");
		return -1;
	}
	for (const char *p = raw; *p; p++)
		n += *p == '/';
	out->v = xcalloc(n, sizeof *out->v);
	out->n = 0;

	for (const char *seg = raw + 1;; seg++) {
		const char *end = seg + strcspn(seg, "/");
		size_t len;
		char *d = dew__http_pct_decode(seg, (size_t)(end - seg), false, true, &len);
		if (!d) {
			snprintf(err, errlen, "malformed percent-encoding in the request path");
			return -1;
		}
		out->v[out->n++] = d;
		if (memchr(d, '\0', len) || strchr(d, '/')) {
			snprintf(err, errlen, "request path segment with an encoded '/' or NUL");
			return -1;
		}
		if (strcmp(d, ".") == 0 || strcmp(d, "..") == 0) {
			snprintf(err, errlen, "request path with a '.' or '..' segment");
			return -1;
		}
		if (!*end)
			break;
		seg = end;
	}
	return 0;
}

static char *join(char *const *v, size_t n, const char *lead)
{
	struct dew_buf b = DEW_BUF_INIT;

	dew_buf_puts(&b, lead);
	for (size_t i = 0; i < n; i++) {
		if (i)
			dew_buf_putc(&b, '/');
		dew_buf_puts(&b, v[i]);
	}
	return dew_buf_steal(&b);
}

static void add_param(struct dew__http_match *m, const char *name, size_t name_len, char *value)
{
	m->params = xreallocarray(m->params, m->n_params + 2, sizeof *m->params);
	m->params[m->n_params++] = xstrndup(name, name_len);
	m->params[m->n_params++] = value;
}

static void drop_params(struct dew__http_match *m)
{
	for (size_t i = 0; i < m->n_params; i++)
		free(m->params[i]);
	free(m->params);
	m->params = NULL;
	m->n_params = 0;
}

/* Match pattern against the path; with m, collect the parameters into it. */
static bool match_pattern(const char *pattern, const struct segments *s, struct dew__http_match *m)
{
	const char *p = pattern;
	size_t i = 0;

	if (*p++ != '/')
		return false;
	for (;;) {
		const char *end = p + strcspn(p, "/");
		size_t len = (size_t)(end - p);

		if (len == 1 && *p == '*' && !*end) {
			/* The tail: zero or more segments, joined again ("a/b"). */
			if (m)
				add_param(m, "*", 1, join(s->v + i, s->n - i, ""));
			return true;
		}
		if (i >= s->n)
			return false;
		if (len > 1 && *p == ':') {
			if (!*s->v[i])
				return false;
			if (m)
				add_param(m, p + 1, len - 1, xstrdup(s->v[i]));
		} else if (strlen(s->v[i]) != len || memcmp(s->v[i], p, len) != 0) {
			return false;
		}
		i++;
		if (!*end)
			break;
		p = end + 1;
	}
	return i == s->n;
}

static bool method_matches(const char *route_method, const char *method)
{
	if (!route_method || strcmp(route_method, method) == 0)
		return true;
	/* HEAD is GET without the body; the response code drops the body. */
	return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

static void allow_add(char *allow, size_t cap, const char *method)
{
	size_t len = strlen(method);

	for (const char *p = allow; (p = strstr(p, method)) != NULL; p += len) {
		if ((p == allow || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0'))
			return;
	}
	size_t used = strlen(allow);
	if (used + len + 3 > cap)
		return;
	snprintf(allow + used, cap - used, "%s%s", used ? ", " : "", method);
}

/* Find the route of method + raw_path, or why there is none. */
int dew__http_route(const struct dew_http_route *routes, size_t n_routes, const char *method,
		    const char *raw_path, struct dew__http_match *m)
{
	struct segments s = { NULL, 0 };

	memset(m, 0, sizeof *m);
	if (split_path(raw_path, &s, m->error, sizeof m->error) < 0) {
		segments_close(&s);
		return m->status = 400;
	}
	m->path = join(s.v, s.n, "/");

	for (size_t r = 0; r < n_routes; r++) {
		if (!method_matches(routes[r].method, method)) {
			if (match_pattern(routes[r].pattern, &s, NULL)) {
				allow_add(m->allow, sizeof m->allow, routes[r].method);
				if (strcmp(routes[r].method, "GET") == 0)
					allow_add(m->allow, sizeof m->allow, "HEAD");
			}
			continue;
		}
		if (match_pattern(routes[r].pattern, &s, m)) {
			m->route = &routes[r];
			segments_close(&s);
			return m->status = 0;
		}
		drop_params(m);
	}
	segments_close(&s);
	return m->status = m->allow[0] ? 405 : 404;
}

/* Release a match. */
void dew__http_match_close(struct dew__http_match *m)
{
	drop_params(m);
	free(m->path);
	m->path = NULL;
}
