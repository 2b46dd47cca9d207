// SPDX-License-Identifier: MIT
/*
 * Request and response heads through the proxy (head.h). Which field does what is one table;
 * framing fields are never dropped, whatever a Connection field names, so that a client cannot
 * make the backend read a body the router framed differently.
 */
#include "head.h"

#include <inttypes.h>
#include <string.h>

enum head_action {
	HA_KEEP,
	HA_DROP,    /* hop-by-hop, or replaced by the router */
	HA_XFF,	    /* X-Forwarded-For: merged, then the client's address appended */
	HA_FRAMING, /* Content-Length, Transfer-Encoding, Host: kept, never dropped by Connection */
};

static const struct {
	const char *name;
	size_t len;
	enum head_action request, response;
} head_fields[] = {
#define F(n, rq, rs)                                                                                         \
	{                                                                                                    \
		n, sizeof(n) - 1, rq, rs                                                                     \
	}
	F("connection", HA_DROP, HA_DROP),
	F("keep-alive", HA_DROP, HA_DROP),
	F("proxy-connection", HA_DROP, HA_DROP),
	F("te", HA_DROP, HA_DROP),
	F("upgrade", HA_DROP, HA_DROP),
	F("host", HA_DROP, HA_KEEP),
	F("content-length", HA_FRAMING, HA_FRAMING),
	F("transfer-encoding", HA_FRAMING, HA_FRAMING),
	F("x-forwarded-for", HA_XFF, HA_KEEP),
	F("x-vcap-request-id", HA_DROP, HA_DROP),
	F("x-request-start", HA_DROP, HA_KEEP),
	F("x-cf-applicationid", HA_DROP, HA_KEEP),
	F("x-cf-instanceid", HA_DROP, HA_KEEP),
	F("x-cf-instanceindex", HA_DROP, HA_KEEP),
#undef F
};

static int head_field_index(const struct h1_field *f)
{
	for (size_t i = 0; i < sizeof(head_fields) / sizeof(head_fields[0]); i++)
		if (h1_name_is(f, head_fields[i].name, head_fields[i].len))
			return (int)i;
	return -1;
}

/* Named in a Connection field (and so hop-by-hop), unless it frames the message. */
static bool head_conn_listed(const struct h1_field *f, const struct h1_field *const *conn, size_t n)
{
	char name[64];
	if (f->name_len >= sizeof(name))
		return false;
	for (size_t i = 0; i < f->name_len; i++)
		name[i] =
			(char)(f->name[i] >= 'A' && f->name[i] <= 'Z' ? f->name[i] - 'A' + 'a' : f->name[i]);
	name[f->name_len] = '\0';
	for (size_t i = 0; i < n; i++)
		if (h1_list_has(conn[i]->value, conn[i]->value_len, name))
			return true;
	return false;
}

static enum head_action head_action_of(const struct h1_field *f, bool request,
				       const struct h1_field *const *conn, size_t n_conn)
{
	int i = head_field_index(f);
	enum head_action a = i < 0 ? HA_KEEP : request ? head_fields[i].request : head_fields[i].response;
	if (a == HA_KEEP && n_conn && head_conn_listed(f, conn, n_conn))
		return HA_DROP;
	return a;
}

static int head_refuse(struct head_request *r, int status, const char *why)
{
	r->why = why;
	return status;
}

/* Lowercase host without port into r->host; 0, or -1 when it has characters a name cannot. */
static int head_set_host(struct head_request *r, const char *v, size_t len)
{
	size_t end = len;
	if (len && v[0] == '[') {
		const char *close = memchr(v, ']', len);
		if (!close)
			return -1;
		end = (size_t)(close - v) + 1;
	} else {
		const char *colon = memchr(v, ':', len);
		if (colon)
			end = (size_t)(colon - v);
	}
	for (size_t i = end; i < len; i++)
		if (i == end ? v[i] != ':' : (v[i] < '0' || v[i] > '9'))
			return -1;
	if (end > TABLE_MAX_HOST)
		return -1;
	for (size_t i = 0; i < end; i++) {
		char c = v[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-._~[]:", c)))
			return -1;
		r->host[i] = c;
	}
	r->host[end] = '\0';
	r->host_len = end;
	return 0;
}

/* Digits only, at most 18 of them. */
static int head_parse_length(const char *v, size_t len, uint64_t *out)
{
	uint64_t n = 0;
	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*out = n;
	return 0;
}

static int head_target(const struct h1_head *h, struct head_request *r)
{
	const char *t = h->target;
	size_t len = h->target_len;
	r->authority = NULL;
	if (len >= 7 &&
	    (strncasecmp(t, "http://", 7) == 0 || (len >= 8 && strncasecmp(t, "https://", 8) == 0))) {
		/* Absolute form: routed by its own host, never to an arbitrary origin. */
		size_t skip = t[4] == ':' ? 7 : 8;
		const char *a = t + skip;
		const char *slash = memchr(a, '/', len - skip);
		const char *q = memchr(a, '?', len - skip);
		const char *end = slash && (!q || slash < q) ? slash : q ? q : t + len;
		r->authority = a;
		r->authority_len = (size_t)(end - a);
		if (memchr(a, '@', r->authority_len))
			return head_refuse(r, 400, "userinfo in request target");
		r->target = end;
		r->target_len = (size_t)(t + len - end);
	} else if (t[0] == '/') {
		r->target = t;
		r->target_len = len;
	} else if (len == 1 && t[0] == '*' && h->method_len == 7 && memcmp(h->method, "OPTIONS", 7) == 0) {
		r->target = t;
		r->target_len = len;
	} else {
		return head_refuse(r, 400, "unsupported request target form");
	}
	const char *q = memchr(r->target, '?', r->target_len);
	r->path_len = q ? (size_t)(q - r->target) : r->target_len;
	return 0;
}

static bool head_method_is(const struct h1_head *h, const char *m)
{
	return h->method_len == strlen(m) && memcmp(h->method, m, h->method_len) == 0;
}

/* The value of cookie name in a Cookie field. */
static bool head_cookie(const char *v, size_t len, const char *name, const char **out, size_t *out_len)
{
	size_t nlen = strlen(name), i = 0;
	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == ';'))
			i++;
		size_t s = i;
		while (i < len && v[i] != ';')
			i++;
		if (i - s > nlen && memcmp(v + s, name, nlen) == 0 && v[s + nlen] == '=') {
			*out = v + s + nlen + 1;
			*out_len = i - s - nlen - 1;
			return true;
		}
	}
	return false;
}

/* One field of the request: framing, connection, host, upgrade, cookie. */
static int head_request_field(const struct h1_field *f, struct head_request *r, int *n_host, bool *has_cl,
			      bool *has_te)
{
	if (H1_NAME_IS(f, "host")) {
		if (++*n_host > 1)
			return head_refuse(r, 400, "more than one Host field");
		if (!r->authority) {
			r->authority = f->value;
			r->authority_len = f->value_len;
		}
	} else if (H1_NAME_IS(f, "content-length")) {
		uint64_t n;
		if (head_parse_length(f->value, f->value_len, &n) < 0)
			return head_refuse(r, 400, "invalid Content-Length");
		if (*has_cl && n != r->length)
			return head_refuse(r, 400, "conflicting Content-Length fields");
		*has_cl = true;
		r->length = n;
	} else if (H1_NAME_IS(f, "transfer-encoding")) {
		if (*has_te || f->value_len != 7 || strncasecmp(f->value, "chunked", 7) != 0)
			return head_refuse(r, 400, "Transfer-Encoding other than a single chunked");
		*has_te = true;
	} else if (H1_NAME_IS(f, "connection")) {
		if (r->n_conn_fields == HEAD_MAX_CONN_TOKENS)
			return head_refuse(r, 400, "too many Connection fields");
		r->conn_tokens[r->n_conn_fields++] = f;
	} else if (H1_NAME_IS(f, "upgrade")) {
		r->upgrade_value = f->value;
		r->upgrade_len = f->value_len;
	} else if (H1_NAME_IS(f, "cookie") && !r->sticky) {
		head_cookie(f->value, f->value_len, "__VCAP_ID__", &r->sticky, &r->sticky_len);
	}
	return 0;
}

int head_request_check(const struct h1_head *h, struct head_request *r)
{
	memset(r, 0, sizeof(*r));
	if (head_method_is(h, "CONNECT"))
		return head_refuse(r, 405, "CONNECT is not supported");
	int st = head_target(h, r);
	if (st)
		return st;
	int n_host = 0;
	bool has_cl = false, has_te = false;
	for (size_t i = 0; i < h->n_fields; i++)
		if ((st = head_request_field(&h->fields[i], r, &n_host, &has_cl, &has_te)))
			return st;
	if (has_cl && has_te)
		return head_refuse(r, 400, "both Content-Length and Transfer-Encoding");
	if (has_te && h->minor == 0)
		return head_refuse(r, 400, "Transfer-Encoding in an HTTP/1.0 request");
	r->body = has_te ? BODY_CHUNKED : has_cl && r->length ? BODY_LENGTH : BODY_NONE;
	bool close = false, keep = false, upgrade = false;
	for (size_t i = 0; i < r->n_conn_fields; i++) {
		const struct h1_field *c = r->conn_tokens[i];
		close |= h1_list_has(c->value, c->value_len, "close");
		keep |= h1_list_has(c->value, c->value_len, "keep-alive");
		upgrade |= h1_list_has(c->value, c->value_len, "upgrade");
	}
	r->keep_alive = h->minor == 1 ? !close : keep && !close;
	r->upgrade = upgrade && r->upgrade_value && r->upgrade_len && h->minor == 1;
	r->is_head = head_method_is(h, "HEAD");
	static const char *const idempotent[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };
	for (size_t i = 0; i < sizeof(idempotent) / sizeof(idempotent[0]); i++)
		r->idempotent |= head_method_is(h, idempotent[i]);
	if (!r->authority || !r->authority_len)
		return head_refuse(r, 400, "empty Host");
	if (head_set_host(r, r->authority, r->authority_len) < 0)
		return head_refuse(r, 400, "invalid Host");
	if (r->host_len == 0)
		return head_refuse(r, 400, "empty Host");
	return 0;
}

/* Decimal digits without printf: heads are written on every request. */
static void head_put_u64(struct dew_buf *out, uint64_t v)
{
	char d[20];
	size_t n = sizeof(d);
	do {
		d[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	dew_buf_append(out, d + n, sizeof(d) - n);
}

/* "Name: value\r\n" from a literal name (with ": ") and a NUL-terminated value. */
static void head_put_field(struct dew_buf *out, const char *name_colon, size_t len, const char *value)
{
	dew_buf_append(out, name_colon, len);
	dew_buf_puts(out, value);
	dew_buf_append(out, "\r\n", 2);
}
#define HEAD_PUT(out, lit, value) head_put_field((out), lit, sizeof(lit) - 1, (value))

static void head_field_out(struct dew_buf *out, const struct h1_field *f)
{
	dew_buf_append(out, f->name, f->name_len);
	dew_buf_append(out, ": ", 2);
	dew_buf_append(out, f->value, f->value_len);
	dew_buf_append(out, "\r\n", 2);
}

void head_request_write(struct dew_buf *out, const struct h1_head *h, const struct head_request *r,
			const struct head_forward *f)
{
	dew_buf_reserve(out, 512 + r->target_len);
	dew_buf_append(out, h->method, h->method_len);
	dew_buf_putc(out, ' ');
	/* An absolute-form target without a path ("http://a" or "http://a?q") has an empty path:
	 * origin-form needs its "/" (RFC 9112 section 3.2.1). */
	if (!r->target_len || (r->target[0] != '/' && r->target[0] != '*'))
		dew_buf_putc(out, '/');
	dew_buf_append(out, r->target, r->target_len);
	dew_buf_puts(out, h->minor ? " HTTP/1.1\r\nHost: " : " HTTP/1.0\r\nHost: ");
	dew_buf_append(out, r->authority, r->authority_len);
	dew_buf_append(out, "\r\n", 2);
	bool xfp = false;
	for (size_t i = 0; i < h->n_fields; i++) {
		const struct h1_field *fl = &h->fields[i];
		enum head_action a = head_action_of(fl, true, r->conn_tokens, r->n_conn_fields);
		if (a == HA_DROP || a == HA_XFF)
			continue;
		xfp |= H1_NAME_IS(fl, "x-forwarded-proto");
		head_field_out(out, fl);
	}
	/* One X-Forwarded-For: the client's values in order, then the peer's address last. */
	dew_buf_puts(out, "X-Forwarded-For: ");
	for (size_t i = 0; i < h->n_fields; i++) {
		const struct h1_field *fl = &h->fields[i];
		if (fl->value_len && H1_NAME_IS(fl, "x-forwarded-for")) {
			dew_buf_append(out, fl->value, fl->value_len);
			dew_buf_append(out, ", ", 2);
		}
	}
	dew_buf_puts(out, f->client_ip);
	dew_buf_append(out, "\r\n", 2);
	if (!xfp)
		HEAD_PUT(out, "X-Forwarded-Proto: ", f->proto);
	dew_buf_puts(out, "X-Request-Start: ");
	head_put_u64(out, f->start_ms);
	dew_buf_append(out, "\r\n", 2);
	HEAD_PUT(out, "X-Vcap-Request-Id: ", f->request_id);
	if (f->be) {
		HEAD_PUT(out, "X-CF-ApplicationID: ", f->be->app_id);
		HEAD_PUT(out, "X-CF-InstanceID: ", f->be->instance_id);
		if (f->be->instance_index >= 0) {
			dew_buf_puts(out, "X-CF-InstanceIndex: ");
			head_put_u64(out, (uint64_t)f->be->instance_index);
			dew_buf_append(out, "\r\n", 2);
		}
	}
	if (r->upgrade) {
		dew_buf_puts(out, "Connection: Upgrade\r\nUpgrade: ");
		dew_buf_append(out, r->upgrade_value, r->upgrade_len);
		dew_buf_append(out, "\r\n", 2);
	} else if (!h->minor) {
		dew_buf_puts(out, "Connection: keep-alive\r\n");
	}
	dew_buf_append(out, "\r\n", 2);
}

int head_response_check(const struct h1_head *h, const struct head_request *r, struct head_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	bool has_cl = false, has_te = false, chunked_last = false, close = false, keep = false;
	for (size_t i = 0; i < h->n_fields; i++) {
		const struct h1_field *f = &h->fields[i];
		if (H1_NAME_IS(f, "content-length")) {
			uint64_t n;
			if (head_parse_length(f->value, f->value_len, &n) < 0 ||
			    (has_cl && n != resp->length)) {
				resp->why = "invalid or conflicting Content-Length";
				return -1;
			}
			has_cl = true;
			resp->length = n;
		} else if (H1_NAME_IS(f, "transfer-encoding")) {
			has_te = true;
			/* The last coding decides: "gzip, chunked" is chunked, "gzip" is close-delimited. */
			size_t e = f->value_len;
			chunked_last = e >= 7 && strncasecmp(f->value + e - 7, "chunked", 7) == 0 &&
				       (e == 7 || f->value[e - 8] == ' ' || f->value[e - 8] == ',');
		} else if (H1_NAME_IS(f, "connection")) {
			close |= h1_list_has(f->value, f->value_len, "close");
			keep |= h1_list_has(f->value, f->value_len, "keep-alive");
		}
	}
	if (has_cl && has_te) {
		resp->why = "both Content-Length and Transfer-Encoding";
		return -1;
	}
	resp->keep_alive = h->minor == 1 ? !close : keep && !close;
	resp->upgraded = h->status == 101 && r->upgrade;
	resp->interim = h->status >= 100 && h->status < 200 && h->status != 101;
	if (h->status == 101 && !r->upgrade) {
		resp->why = "101 to a request that did not ask to upgrade";
		return -1;
	}
	if (r->is_head || h->status < 200 || h->status == 204 || h->status == 304)
		resp->body = BODY_NONE;
	else if (has_te)
		resp->body = chunked_last ? BODY_CHUNKED : BODY_CLOSE;
	else if (has_cl)
		resp->body = resp->length ? BODY_LENGTH : BODY_NONE;
	else
		resp->body = BODY_CLOSE;
	if (resp->body == BODY_CLOSE)
		resp->keep_alive = false;
	return 0;
}

/* The cookie name of a Set-Cookie value is one of names (a comma list). */
static bool head_sticky_cookie(const struct h1_field *f, const char *names)
{
	const char *eq = memchr(f->value, '=', f->value_len);
	if (!eq || eq == f->value)
		return false;
	size_t nlen = (size_t)(eq - f->value);
	for (const char *p = names; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t len = strcspn(p, ", ");
		if (len == nlen && memcmp(p, f->value, len) == 0)
			return true;
		p += len;
	}
	return false;
}

/* Set-Cookie: __VCAP_ID__ with the attributes of the app's cookie that matter across instances. */
static void head_sticky_out(struct dew_buf *out, const struct h1_field *f, const char *instance_id)
{
	static const char *const copied[] = { "secure", "samesite", "max-age", "expires" };
	dew_buf_printf(out, "Set-Cookie: __VCAP_ID__=%s; Path=/; HttpOnly", instance_id);
	const char *p = memchr(f->value, ';', f->value_len), *end = f->value + f->value_len;
	while (p && p < end) {
		p++;
		while (p < end && *p == ' ')
			p++;
		const char *next = memchr(p, ';', (size_t)(end - p));
		size_t len = (size_t)((next ? next : end) - p);
		/* The value is not NUL-terminated: the attribute name ends at '=' or at len. */
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;
		for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
			if (nlen == strlen(copied[i]) && strncasecmp(p, copied[i], nlen) == 0) {
				dew_buf_puts(out, "; ");
				dew_buf_append(out, p, len);
			}
		p = next;
	}
	dew_buf_append(out, "\r\n", 2);
}

void head_response_write(struct dew_buf *out, const struct h1_head *h, const struct head_response *resp,
			 const struct head_reply *rp)
{
	const struct h1_field *conn[HEAD_MAX_CONN_TOKENS];
	size_t n_conn = 0;
	for (size_t i = 0; i < h->n_fields && n_conn < HEAD_MAX_CONN_TOKENS; i++)
		if (H1_NAME_IS(&h->fields[i], "connection"))
			conn[n_conn++] = &h->fields[i];
	dew_buf_reserve(out, 256);
	char status[] = { 'H',
			  'T',
			  'T',
			  'P',
			  '/',
			  '1',
			  '.',
			  '1',
			  ' ',
			  (char)('0' + h->status / 100 % 10),
			  (char)('0' + h->status / 10 % 10),
			  (char)('0' + h->status % 10),
			  ' ' };
	dew_buf_append(out, status, sizeof(status));
	dew_buf_append(out, h->reason, h->reason_len);
	dew_buf_append(out, "\r\n", 2);
	const struct h1_field *sticky = NULL;
	for (size_t i = 0; i < h->n_fields; i++) {
		const struct h1_field *f = &h->fields[i];
		if (resp->upgraded && H1_NAME_IS(f, "upgrade")) {
			head_field_out(out, f);
			continue;
		}
		if (head_action_of(f, false, conn, n_conn) == HA_DROP)
			continue;
		if (rp->sticky_names && rp->instance_id && *rp->instance_id && !sticky &&
		    H1_NAME_IS(f, "set-cookie") && head_sticky_cookie(f, rp->sticky_names))
			sticky = f;
		head_field_out(out, f);
	}
	if (sticky)
		head_sticky_out(out, sticky, rp->instance_id);
	if (rp->request_id)
		HEAD_PUT(out, "X-Vcap-Request-Id: ", rp->request_id);
	if (resp->upgraded)
		dew_buf_puts(out, "Connection: Upgrade\r\n");
	else if (rp->close)
		dew_buf_puts(out, "Connection: close\r\n");
	else if (rp->keep_alive_10)
		dew_buf_puts(out, "Connection: keep-alive\r\n");
	dew_buf_append(out, "\r\n", 2);
}
