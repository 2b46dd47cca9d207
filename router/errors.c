// SPDX-License-Identifier: MIT
/*
 * The router's own responses (gorouter's wording and X-Cf-Routererror codes): a short
 * plain-text body saying what went wrong, the request id when there is one.
 */
#include "proxy.h"

#include <stdio.h>

static const struct {
	int status;
	const char *reason;
	const char *code; /* X-Cf-Routererror */
	const char *text;
	const char *after_host; /* NULL: the text names no host */
} errors_table[] = {
	[RERR_UNKNOWN_ROUTE] = { 404, "Not Found", "unknown_route", "Requested route ('",
				 "') does not exist." },
	[RERR_NO_ENDPOINTS] = { 503, "Service Unavailable", "no_endpoints", "Requested route ('",
				"') has no available endpoints." },
	[RERR_CONN_LIMIT] = { 503, "Service Unavailable", "Connection Limit Reached",
			      "All endpoints of route ('", "') are at their connection limit." },
	[RERR_ENDPOINT_FAILURE] = { 502, "Bad Gateway", "endpoint_failure",
				    "Registered endpoint failed to handle the request.", NULL },
	[RERR_EMPTY_HOST] = { 400, "Bad Request", "empty_host", "Request had empty Host header.", NULL },
	[RERR_BAD_REQUEST] = { 400, "Bad Request", "invalid_request", "Malformed request.", NULL },
	[RERR_NOT_ALLOWED] = { 405, "Method Not Allowed", "invalid_request", "CONNECT is not supported.",
			       NULL },
	[RERR_HEAD_TOO_LARGE] = { 431, "Request Header Fields Too Large", "invalid_request",
				  "Request header fields too large.", NULL },
	[RERR_URI_TOO_LONG] = { 414, "URI Too Long", "invalid_request", "Request line too long.", NULL },
	[RERR_VERSION] = { 505, "HTTP Version Not Supported", "invalid_request",
			   "Only HTTP/1.0 and HTTP/1.1.", NULL },
	[RERR_TIMEOUT] = { 408, "Request Timeout", "invalid_request", "Request head not received in time.",
			   NULL },
};

int errors_status(enum router_error e)
{
	return errors_table[e].status;
}

void errors_respond(struct client *c, enum router_error e, bool close)
{
	struct exchange *ex = &c->ex;
	if (ex->resp_started) {
		client_close(c);
		return;
	}
	char text[512], msg[400];
	const char *host = ex->active && ex->req.host_len ? ex->req.host : "";
	if (errors_table[e].after_host)
		snprintf(msg, sizeof(msg), "%s%s%s", errors_table[e].text, host, errors_table[e].after_host);
	else
		snprintf(msg, sizeof(msg), "%s", errors_table[e].text);
	int body_len = snprintf(text, sizeof(text), "%d %s: %s\n", errors_table[e].status,
				errors_table[e].reason, msg);
	close |= c->close_after || c->eof;
	struct dew_buf *b = &c->rt->scratch;
	dew_buf_reset(b);
	dew_buf_printf(b,
		       "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
		       "X-Cf-Routererror: %s\r\n",
		       errors_table[e].status, errors_table[e].reason, body_len, errors_table[e].code);
	if (ex->active)
		dew_buf_printf(b, "X-Vcap-Request-Id: %s\r\n", ex->request_id);
	dew_buf_printf(b, "%s\r\n", close ? "Connection: close\r\n" : "");
	if (!(ex->active && ex->req.is_head))
		dew_buf_append(b, text, (size_t)body_len);
	ROUTER_INC(c->rt->n.router_errors);
	ex->status = errors_table[e].status;
	ex->resp_started = true;
	ex->bytes_out = (uint64_t)body_len;
	ex->router_error = errors_table[e].code;
	c->close_after = close;
	client_write(c, b->data, b->len);
	if (!ex->active)
		ROUTER_INC(c->rt->n.responses[ex->status / 100]);
	proxy_settle(c);
	ex->resp_started = false;
	client_exchange_done(c);
}
