// SPDX-License-Identifier: MIT
/*
 * Answers and request accessors: each response is built into one buffer (status line, framing
 * headers, the handler's headers, the body) and handed to the connection as a single write.
 * Framing headers (Content-Length, Transfer-Encoding, Connection, Date) belong to this file only.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "http-conn.h"
#include "log.h"

static const struct {
	int status;
	const char *text;
} status_texts[] = {
	{ 100, "Continue" },
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 204, "No Content" },
	{ 206, "Partial Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 303, "See Other" },
	{ 304, "Not Modified" },
	{ 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 408, "Request Timeout" },
	{ 409, "Conflict" },
	{ 410, "Gone" },
	{ 411, "Length Required" },
	{ 412, "Precondition Failed" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 416, "Range Not Satisfiable" },
	{ 417, "Expectation Failed" },
	{ 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 507, "Insufficient Storage" },
};

/* Headers a handler may not set: the framing is ours, and a wrong one would desync the client. */
static const char *const reserved_headers[] = {
	"Content-Length", "Transfer-Encoding", "Connection", "Date", "Keep-Alive", "Upgrade",
};

/* The reason phrase of status, "Unknown" for codes not in the table. */
const char *dew_http_status_text(int status)
{
	for (size_t i = 0; i < DEW_ARRAY_SIZE(status_texts); i++) {
		if (status_texts[i].status == status)
			return status_texts[i].text;
	}
	return "Unknown";
}

/* IMF-fixdate by hand: strftime's %a and %b follow the locale. */
static void format_date(char *out, size_t cap, time_t now)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (!gmtime_r(&now, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) {
		snprintf(out, cap, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Status line and framing headers of a response. */
void dew__http_format_head(struct dew_buf *b, int status, const char *content_type, uint64_t length,
			   bool chunked, bool close, bool keep_alive_10, const struct dew_buf *extra,
			   time_t now)
{
	char date[64];

	format_date(date, sizeof date, now);
	dew_buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, dew_http_status_text(status), date);
	if (content_type)
		dew_buf_printf(b, "Content-Type: %s\r\n", content_type);
	if (length != UINT64_MAX)
		dew_buf_printf(b, "Content-Length: %llu\r\n", (unsigned long long)length);
	else if (chunked)
		dew_buf_puts(b, "Transfer-Encoding: chunked\r\n");
	if (close)
		dew_buf_puts(b, "Connection: close\r\n");
	else if (keep_alive_10)
		/* An HTTP/1.0 client keeps the connection only when told so. */
		dew_buf_puts(b, "Connection: keep-alive\r\n");
	if (extra && extra->len)
		dew_buf_append(b, extra->data, extra->len);
	dew_buf_puts(b, "\r\n");
}

static char *error_body(int code, const char *text)
{
	json_t *o = json_pack("{s:i, s:s}", "code", code, "description", text);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!s) {
		/* text is not UTF-8 (a path echoed back): keep its ASCII, mark the rest. */
		cleanup_free char *ascii = xstrdup(text);
		for (char *c = ascii; *c; c++)
			if ((unsigned char)*c >= 0x80)
				*c = '?';
		o = json_pack("{s:i, s:s}", "code", code, "description", ascii);
		s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	}
	return s ? s : xasprintf("{\"code\":%d}", code);
}

/* A whole error response, ready to write. */
char *dew__http_error_response(int status, const char *text, bool head, time_t now, size_t *len)
{
	struct dew_buf b = DEW_BUF_INIT;
	cleanup_free char *body = error_body(status, text);
	size_t body_len = strlen(body);

	dew__http_format_head(&b, status, "application/json", body_len, false, true, false, NULL, now);
	if (!head)
		dew_buf_append(&b, body, body_len);
	*len = b.len;
	return dew_buf_steal(&b);
}

/* Free a request and everything it owns. */
void dew__http_request_free(struct dew__http_request *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	for (size_t i = 0; i < r->n_params; i++)
		free(r->params[i]);
	free(r->headers);
	free(r->params);
	free(r->target);
	free(r->path);
	free(r->query);
	dew_buf_close(&r->body);
	dew_buf_close(&r->resp_headers);
	free(r);
}

/* First request header named name (case-insensitive), or NULL. */
const char *dew_http_header(const struct dew_http_req *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	}
	return NULL;
}

/* The route parameter name, decoded, or NULL. */
const char *dew_http_param(const struct dew_http_req *req, const char *name)
{
	const struct dew__http_request *r = (const struct dew__http_request *)req;

	for (size_t i = 0; i + 1 < r->n_params; i += 2) {
		if (strcmp(r->params[i], name) == 0)
			return r->params[i + 1];
	}
	return NULL;
}

/* The first query parameter name, decoded (caller frees), or NULL. */
char *dew_http_query(const struct dew_http_req *req, const char *name)
{
	size_t name_len = strlen(name);

	for (const char *p = req->query; *p;) {
		const char *end = p + strcspn(p, "&");
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *key_end = eq ? eq : end;
		cleanup_free char *key = dew__http_pct_decode(p, (size_t)(key_end - p), true, false, NULL);

		if (strlen(key) == name_len && memcmp(key, name, name_len) == 0) {
			size_t len;
			const char *v = eq ? eq + 1 : end;
			char *value = dew__http_pct_decode(v, (size_t)(end - v), true, false, &len);
			/* "%00" would cut the C string short: such a value counts as absent. */
			if (strlen(value) == len)
				return value;
			free(value);
			return NULL;
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s <= ' ' || *s >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *s))
			return false;
	}
	return true;
}

/* Queue a response header; malformed and framing headers are dropped with a warning. */
void dew_http_add_header(struct dew_http_req *req, const char *name, const char *value)
{
	struct dew__http_request *r = dew__http_request_of(req);

	/* CR or LF in a value would let its author inject headers or a whole response. */
	if (!is_token(name) || strpbrk(value, "\r\n")) {
		dew_warn("http: dropping malformed response header `%s`", name);
		return;
	}
	for (size_t i = 0; i < DEW_ARRAY_SIZE(reserved_headers); i++) {
		if (strcasecmp(name, reserved_headers[i]) == 0) {
			dew_warn("http: dropping response header `%s`: the server sets it", name);
			return;
		}
	}
	if (r->started) {
		dew_warn("http: response header `%s` added after the response started", name);
		return;
	}
	dew_buf_printf(&r->resp_headers, "%s: %s\r\n", name, value);
}

/* Answer with status and a complete body in one write. */
void dew_http_respond(struct dew_http_req *req, int status, const char *content_type, const void *body,
		      size_t len)
{
	struct dew__http_request *r = dew__http_request_of(req);
	struct dew_buf b = DEW_BUF_INIT;

	if (r->started) {
		/* Still release the request (and the connection waiting for it). */
		dew_err("http: %s %s: answered after its streamed response started", req->method,
			req->target);
		dew_http_stream_end(req);
		return;
	}
	r->started = true;
	if (!req->conn) {
		/* Aborted: the answer only releases the request. */
		dew__http_request_done(r);
		return;
	}
	if (req->conn->limits.on_response)
		req->conn->limits.on_response(req, status);
	bool close = dew__http_request_closes(r);
	bool ka10 = req->http_major == 1 && req->http_minor == 0;
	/* 204 and 304 must not announce a length (RFC 9110 8.6). */
	uint64_t length = status == 204 || status == 304 ? UINT64_MAX : len;
	dew__http_format_head(&b, status, content_type, length, false, close, ka10, &r->resp_headers,
			      dew__http_request_now(r));
	/* 1xx, 204 and 304 have no body by definition; HEAD only announces its length. */
	if (!r->is_head && status != 204 && status != 304 && len)
		dew_buf_append(&b, body, len);
	size_t out_len = b.len;
	dew__http_request_write(r, dew_buf_steal(&b), out_len);
	dew__http_request_done(r);
}

/* Answer with body serialised as compact JSON (reference taken). */
void dew_http_respond_json(struct dew_http_req *req, int status, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(body);
	if (!s) {
		dew_http_respond_error(req, 500, 500, "response is not valid JSON");
		return;
	}
	dew_http_respond(req, status, "application/json", s, strlen(s));
	free(s);
}

/* Answer {"code": code, "description": text}. */
void dew_http_respond_error(struct dew_http_req *req, int status, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cleanup_free char *text = xvasprintf(fmt, ap);
	va_end(ap);
	cleanup_free char *body = error_body(code, text);
	dew_http_respond(req, status, "application/json", body, strlen(body));
}

/* Send the head of a streamed (chunked, or close-delimited for HTTP/1.0) response. */
void dew_http_stream_start(struct dew_http_req *req, int status, const char *content_type)
{
	struct dew__http_request *r = dew__http_request_of(req);
	struct dew_buf b = DEW_BUF_INIT;

	if (r->started) {
		dew_err("http: %s %s answered twice", req->method, req->target);
		return;
	}
	r->started = true;
	if (!req->conn)
		return;
	if (req->conn->limits.on_response)
		req->conn->limits.on_response(req, status);
	/* HTTP/1.0 has no chunked encoding: the body ends when the connection does. */
	r->chunked_out = !(req->http_major == 1 && req->http_minor == 0);
	bool close = dew__http_request_closes(r);
	if (!r->chunked_out)
		close = r->close_after = true;
	dew__http_format_head(&b, status, content_type, UINT64_MAX, r->chunked_out, close, false,
			      &r->resp_headers, dew__http_request_now(r));
	size_t out_len = b.len;
	dew__http_request_write(r, dew_buf_steal(&b), out_len);
}

/* Send one chunk of a streamed response. */
void dew_http_stream_write(struct dew_http_req *req, const void *data, size_t len)
{
	struct dew__http_request *r = dew__http_request_of(req);
	struct dew_buf b = DEW_BUF_INIT;

	/* A zero-length chunk would end the body: skip it. */
	if (!req->conn || !r->started || r->is_head || len == 0)
		return;
	if (r->chunked_out)
		dew_buf_printf(&b, "%zx\r\n", len);
	dew_buf_append(&b, data, len);
	if (r->chunked_out)
		dew_buf_puts(&b, "\r\n");
	size_t out_len = b.len;
	dew__http_request_write(r, dew_buf_steal(&b), out_len);
}

/* Finish a streamed response and release the request. */
void dew_http_stream_end(struct dew_http_req *req)
{
	struct dew__http_request *r = dew__http_request_of(req);

	if (!r->started) {
		dew_err("http: %s %s: stream ended before it started", req->method, req->target);
		dew_http_respond(req, 500, NULL, NULL, 0);
		return;
	}
	if (req->conn && r->chunked_out && !r->is_head)
		dew__http_request_write(r, xstrdup("0\r\n\r\n"), 5);
	dew__http_request_done(r);
}
