// SPDX-License-Identifier: MIT
/*
 * The bus client's server list (DESIGN.md section 5): parses the comma-separated
 * "[nats://][user:pass@|token@]host[:port]" URLs the connection (bus-conn.c) cycles through,
 * bounding the list before allocating and never echoing a password or token in an error.
 */
#include "bus-internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "parse.h"

enum {
	BUS_DEFAULT_PORT = 4222,
	BUS_MAX_SERVERS = 64,
	BUS_MAX_URL_LIST = 8192,
};

/* Free what s owns (not s itself, an element of bus->servers). */
void dew__bus_server_free(struct dew__bus_server *s)
{
	free(s->host);
	free(s->user);
	free(s->pass);
	free(s->token);
	free(s->display);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Decode %XX escapes (a user name or password may hold ':' or '@' that way). */
static char *pct_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
			*o++ = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* Fill srv from one "[nats://][user:pass@|token@]host[:port]"; the reason of a failure in *why. */
static int parse_server(const char *s, size_t len, struct dew__bus_server *srv, const char **why)
{
	const char *end = s + len, *sep = memmem(s, len, "://", 3);
	if (sep) {
		if (sep - s != 4 || strncasecmp(s, "nats", 4) != 0)
			return *why = "unsupported scheme (only nats:// is supported)", -1;
		s = sep + 3;
	}
	if (end > s && end[-1] == '/')
		end--;
	if (memchr(s, '/', end - s) || memchr(s, '?', end - s) || memchr(s, '#', end - s))
		return *why = "unexpected path or query after host:port", -1;
	const char *at = memrchr(s, '@', end - s);
	if (at) {
		const char *colon = memchr(s, ':', at - s);
		if (at == s || colon == s)
			return *why = "empty user name or token before `@`", -1;
		if (colon) {
			srv->user = pct_decode(s, colon - s);
			srv->pass = pct_decode(colon + 1, at - colon - 1);
		} else {
			srv->token = pct_decode(s, at - s);
		}
		s = at + 1;
	}
	const char *rb = memrchr(s, ']', end - s), *from = rb ? rb : s;
	bool has_port = memchr(from, ':', end - from) != NULL;
	cleanup_free char *hp =
		has_port ? xstrndup(s, end - s) : xasprintf("%.*s:%d", (int)(end - s), s, BUS_DEFAULT_PORT);
	if (dew_parse_hostport(hp, &srv->host, &srv->port) < 0 || srv->port == 0)
		return *why = "expected host[:port] with a port between 1 and 65535 ([::1]:4222 for IPv6)",
		       -1;
	bool v6 = strchr(srv->host, ':') != NULL;
	srv->display = xasprintf("nats://%s%s%s:%d", v6 ? "[" : "", srv->host, v6 ? "]" : "", srv->port);
	return 0;
}

/* The URL for an error message, with the password or token replaced by "***". */
static char *redact(const char *s, size_t len)
{
	const char *at = memrchr(s, '@', len);
	if (!at)
		return xstrndup(s, len);
	const char *sep = memmem(s, at - s, "://", 3);
	const char *ui = sep ? sep + 3 : s;
	const char *colon = memchr(ui, ':', at - ui);
	if (!colon)
		return xasprintf("%.*s***%.*s", (int)(ui - s), s, (int)(s + len - at), at);
	return xasprintf("%.*s:***%.*s", (int)(colon - s), s, (int)(s + len - at), at);
}

/* Append the servers of the comma-separated list to bus->servers: 0, or -EINVAL with *err set. */
int dew__bus_parse_servers(struct dew_bus *bus, const char *list, struct dew_error **err)
{
	if (strlen(list) > BUS_MAX_URL_LIST)
		return dew_error_set(err, 0, "bus URL list longer than %d bytes", BUS_MAX_URL_LIST);
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		const char *s = p, *why = NULL;
		p += len;
		while (len > 0 && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (bus->n_servers == BUS_MAX_SERVERS)
			return dew_error_set(err, 0, "bus URL list: more than %d servers", BUS_MAX_SERVERS);
		bus->servers = xreallocarray(bus->servers, bus->n_servers + 1, sizeof *bus->servers);
		struct dew__bus_server *srv = &bus->servers[bus->n_servers++];
		memset(srv, 0, sizeof *srv);
		if (len == 0)
			return dew_error_set(err, 0, "bus URL list: empty server address (a stray comma?)");
		if (parse_server(s, len, srv, &why) < 0) {
			cleanup_free char *shown = redact(s, len);
			return dew_error_set(err, 0, "bus URL `%s`: %s", shown, why);
		}
		if (*p == '\0')
			return 0;
	}
}
