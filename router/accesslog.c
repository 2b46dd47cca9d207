// SPDX-License-Identifier: MIT
/*
 * Access log lines (accesslog.h). Escaping is a table: a byte is copied, backslashed or written
 * as \xHH, so neither a quote nor a newline nor an invalid byte from a request can end a field
 * or a line early.
 */
#include "accesslog.h"

#include <inttypes.h>
#include <string.h>

enum { AL_COPY, AL_BACKSLASH, AL_HEX };

static const unsigned char al_class[256] = {
	[0x00 ... 0x1f] = AL_HEX,
	['"'] = AL_BACKSLASH,
	['\\'] = AL_BACKSLASH,
	[0x7f ... 0xff] = AL_HEX,
};

void accesslog_escape(struct dew_buf *out, const char *v, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = len > max ? max : len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		switch (al_class[c]) {
		case AL_COPY:
			dew_buf_putc(out, (char)c);
			break;
		case AL_BACKSLASH:
			dew_buf_putc(out, '\\');
			dew_buf_putc(out, (char)c);
			break;
		default:
			dew_buf_append(out, "\\x", 2);
			dew_buf_putc(out, hex[c >> 4]);
			dew_buf_putc(out, hex[c & 15]);
		}
	}
	if (len > max)
		dew_buf_append(out, "...", 3);
}

/* The value of the last field named lower (a lowercase literal), or NULL. */
static const struct h1_field *al_field(const struct h1_head *h, const char *lower, size_t len)
{
	const struct h1_field *found = NULL;
	for (size_t i = 0; i < h->n_fields; i++)
		if (h1_name_is(&h->fields[i], lower, len))
			found = &h->fields[i];
	return found;
}

/* name:"value" with a space before it; "-" for a missing value. */
static void al_quoted(struct dew_buf *out, const char *name, const char *v, size_t len)
{
	dew_buf_putc(out, ' ');
	dew_buf_puts(out, name);
	dew_buf_putc(out, '"');
	if (v && len)
		accesslog_escape(out, v, len, ACCESSLOG_MAX_VALUE);
	else
		dew_buf_putc(out, '-');
	dew_buf_putc(out, '"');
}

static void al_quoted_field(struct dew_buf *out, const char *name, const struct h1_head *h, const char *lower)
{
	const struct h1_field *f = al_field(h, lower, strlen(lower));
	al_quoted(out, name, f ? f->value : NULL, f ? f->value_len : 0);
}

/* X-Forwarded-For as the router sent it: the client's values in order, then the peer. */
static void al_forwarded_for(struct dew_buf *out, const struct accesslog_entry *e)
{
	dew_buf_puts(out, " x_forwarded_for:\"");
	for (size_t i = 0; i < e->h->n_fields; i++) {
		const struct h1_field *f = &e->h->fields[i];
		if (f->value_len && H1_NAME_IS(f, "x-forwarded-for")) {
			accesslog_escape(out, f->value, f->value_len, ACCESSLOG_MAX_VALUE);
			dew_buf_append(out, ", ", 2);
		}
	}
	accesslog_escape(out, e->remote_addr, strlen(e->remote_addr), ACCESSLOG_MAX_VALUE);
	dew_buf_putc(out, '"');
}

void accesslog_format(struct dew_buf *out, const struct accesslog_entry *e)
{
	const struct h1_head *h = e->h;
	char when[40];
	struct tm tm;
	gmtime_r(&e->when, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (e->host_len)
		accesslog_escape(out, e->host, e->host_len, ACCESSLOG_MAX_VALUE);
	else
		dew_buf_putc(out, '-');
	dew_buf_printf(out, " - [%s] \"", when);
	accesslog_escape(out, h->method, h->method_len, ACCESSLOG_MAX_VALUE);
	dew_buf_putc(out, ' ');
	if (e->target)
		accesslog_escape(out, e->target, e->target_len, ACCESSLOG_MAX_TARGET);
	else
		accesslog_escape(out, h->target, h->target_len, ACCESSLOG_MAX_TARGET);
	dew_buf_printf(out, " HTTP/1.%d\" %d %" PRIu64 " %" PRIu64, h->minor, e->status, e->bytes_received,
		       e->bytes_sent);
	al_quoted_field(out, "", h, "referer");
	al_quoted_field(out, "", h, "user-agent");
	al_quoted(out, "", e->remote_addr, strlen(e->remote_addr));
	al_quoted(out, "", e->backend_addr, e->backend_addr ? strlen(e->backend_addr) : 0);
	al_forwarded_for(out, e);
	const struct h1_field *xfp = al_field(h, "x-forwarded-proto", 17);
	if (xfp)
		al_quoted(out, "x_forwarded_proto:", xfp->value, xfp->value_len);
	else
		al_quoted(out, "x_forwarded_proto:", e->proto, strlen(e->proto));
	al_quoted(out, "vcap_request_id:", e->request_id, strlen(e->request_id));
	dew_buf_printf(out, " response_time:%.6f", e->response_time);
	al_quoted(out, "app_id:", e->app_id, e->app_id ? strlen(e->app_id) : 0);
	if (e->app_index >= 0)
		dew_buf_printf(out, " app_index:\"%" PRId64 "\"", e->app_index);
	else
		dew_buf_puts(out, " app_index:\"-\"");
	al_quoted(out, "instance_id:", e->instance_id, e->instance_id ? strlen(e->instance_id) : 0);
	al_quoted(out, "x_cf_routererror:", e->router_error, e->router_error ? strlen(e->router_error) : 0);
	dew_buf_putc(out, '\n');
}
