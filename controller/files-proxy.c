// SPDX-License-Identifier: MIT
/*
 * GET /v1/apps/:name/files/<path>?instance=N[&tail=B] (issue #7): the controller fetches the file
 * or directory listing from the file server of the DEA that holds the instance, with the token
 * that DEA minted in its dea.find.droplet reply, and streams the answer through: status,
 * Content-Type and body (chunked or not upstream; chunked to the client). Reading from the DEA
 * pauses while more than FILES_MAX_QUEUED bytes wait for a slow client, so a large log file
 * never sits in the controller's memory. The user never sees the DEA's address or token.
 */
#include <errno.h>
#include <http_parser.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "buf.h"
#include "controller.h"
#include "log.h"

enum {
	FILES_MAX_QUEUED = 4 << 20,
	FILES_WAIT_MS = 2,
	FILES_TIMEOUT_MS = 30000, /* connect, and every silence of the DEA after it */
	FILES_TYPE_MAX = 256,
	FILES_URI_MAX = 4096,
};

struct files_proxy {
	struct dew_http_req *req; /* NULL once answered */
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t connect;
	uv_write_t write;
	http_parser parser;
	struct dew_buf request;
	char field[32]; /* the header being read, lowercased, cut */
	char content_type[FILES_TYPE_MAX];
	bool type_field; /* the value being read belongs to Content-Type */
	bool streaming;	 /* the client's answer has started */
	bool reading;	 /* uv_read_start in effect */
	bool paused;	 /* waiting for the client to take what is queued */
	int handles;	 /* open handles: freed when 0 */
};

static void files_closed(uv_handle_t *h)
{
	struct files_proxy *p = h->data;
	if (--p->handles == 0) {
		dew_buf_close(&p->request);
		free(p);
	}
}

/* Answer the client (once) and close everything. An error before the answer started is a
 * 502 naming what failed; after it, the body simply ends early. */
static void files_end(struct files_proxy *p, const char *error)
{
	struct dew_http_req *req = steal_pointer(&p->req);
	if (req) {
		req->on_abort = NULL;
		if (p->streaming)
			dew_http_stream_end(req);
		else
			api_error(req, 502, "the DEA's file server: %s", error ? error : "no answer");
	}
	if (!uv_is_closing((uv_handle_t *)&p->tcp))
		uv_close((uv_handle_t *)&p->tcp, files_closed);
	if (!uv_is_closing((uv_handle_t *)&p->timer))
		uv_close((uv_handle_t *)&p->timer, files_closed);
}

static void files_on_abort(struct dew_http_req *req)
{
	struct files_proxy *p = req->data;
	files_end(p, "the client went away");
}

static int files_on_field(http_parser *hp, const char *at, size_t len)
{
	struct files_proxy *p = hp->data;
	size_t n = len < sizeof p->field - 1 ? len : sizeof p->field - 1;
	memcpy(p->field, at, n);
	p->field[n] = '\0';
	p->type_field = !strcasecmp(p->field, "content-type");
	if (p->type_field)
		p->content_type[0] = '\0';
	return 0;
}

static int files_on_value(http_parser *hp, const char *at, size_t len)
{
	struct files_proxy *p = hp->data;
	size_t have = strlen(p->content_type);
	if (!p->type_field || have + len >= sizeof p->content_type)
		return 0;
	memcpy(p->content_type + have, at, len);
	p->content_type[have + len] = '\0';
	return 0;
}

static int files_on_headers(http_parser *hp)
{
	struct files_proxy *p = hp->data;
	if (!p->req)
		return 1;
	int status = hp->status_code;
	if (status < 200 || status > 599)
		status = 502;
	dew_http_add_header(p->req, "X-Content-Type-Options", "nosniff");
	dew_http_stream_start(p->req, status,
			      p->content_type[0] ? p->content_type : "application/octet-stream");
	p->streaming = true;
	return 0;
}

static int files_on_body(http_parser *hp, const char *at, size_t len)
{
	struct files_proxy *p = hp->data;
	if (p->req)
		dew_http_stream_write(p->req, at, len);
	return 0;
}

static int files_on_complete(http_parser *hp)
{
	files_end(hp->data, NULL);
	return 1; /* stop parsing: nothing after the answer matters */
}

static const http_parser_settings files_settings = {
	.on_header_field = files_on_field,
	.on_header_value = files_on_value,
	.on_headers_complete = files_on_headers,
	.on_body = files_on_body,
	.on_message_complete = files_on_complete,
};

static void files_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = xmalloc(suggested);
	buf->len = suggested;
}

static void files_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void files_on_timer(uv_timer_t *t)
{
	struct files_proxy *p = t->data;
	if (!p->paused) {
		files_end(p, "timed out");
		return;
	}
	if (p->req && dew_http_write_queue_size(p->req) > FILES_MAX_QUEUED) {
		uv_timer_start(&p->timer, files_on_timer, FILES_WAIT_MS, 0);
		return;
	}
	p->paused = false;
	uv_read_start((uv_stream_t *)&p->tcp, files_alloc, files_on_read);
	uv_timer_start(&p->timer, files_on_timer, FILES_TIMEOUT_MS, 0);
}

static void files_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct files_proxy *p = s->data;
	if (n > 0 && p->req) {
		size_t done = http_parser_execute(&p->parser, &files_settings, buf->base, (size_t)n);
		enum http_errno e = HTTP_PARSER_ERRNO(&p->parser);
		if (done != (size_t)n && e != HPE_CB_message_complete && e != HPE_OK && p->req)
			files_end(p, http_errno_description(e));
	} else if (n < 0 && p->req) {
		/* EOF ends a body without a length; otherwise the answer was cut. */
		http_parser_execute(&p->parser, &files_settings, NULL, 0);
		if (p->req)
			files_end(p, n == UV_EOF ? "closed the connection early" : uv_strerror((int)n));
	}
	free(buf->base);
	if (!p->req || uv_is_closing((uv_handle_t *)&p->tcp))
		return;
	if (dew_http_write_queue_size(p->req) > FILES_MAX_QUEUED) {
		uv_read_stop(s);
		p->paused = true;
		uv_timer_start(&p->timer, files_on_timer, FILES_WAIT_MS, 0);
	} else {
		uv_timer_start(&p->timer, files_on_timer, FILES_TIMEOUT_MS, 0);
	}
}

static void files_on_written(uv_write_t *w, int status)
{
	struct files_proxy *p = w->data;
	if (status < 0) {
		if (status != UV_ECANCELED)
			files_end(p, uv_strerror(status));
		return;
	}
	uv_read_start((uv_stream_t *)&p->tcp, files_alloc, files_on_read);
}

static void files_on_connect(uv_connect_t *c, int status)
{
	struct files_proxy *p = c->data;
	if (status < 0) {
		if (status != UV_ECANCELED)
			files_end(p, uv_strerror(status));
		return;
	}
	uv_buf_t b = uv_buf_init(p->request.data, (unsigned)p->request.len);
	p->write.data = p;
	int r = uv_write(&p->write, (uv_stream_t *)&p->tcp, &b, 1, files_on_written);
	if (r < 0)
		files_end(p, uv_strerror(r));
}

/* "http://<ipv4 or [ipv6]>:<port><path>" into an address and the path; false when not that. */
static bool files_parse_uri(const char *uri, struct sockaddr_storage *addr, const char **path)
{
	if (strncmp(uri, "http://", 7) != 0 || strlen(uri) > FILES_URI_MAX)
		return false;
	const char *h = uri + 7, *end;
	char host[64];
	bool v6 = *h == '[';
	if (v6) {
		h++;
		end = strchr(h, ']');
	} else {
		end = strchr(h, ':');
	}
	if (!end || (size_t)(end - h) >= sizeof host)
		return false;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	const char *port = end + (v6 ? 2 : 1);
	if (v6 && end[1] != ':')
		return false;
	char *rest;
	long pn = strtol(port, &rest, 10);
	if (rest == port || pn <= 0 || pn > 65535 || *rest != '/')
		return false;
	*path = rest;
	return v6 ? uv_ip6_addr(host, (int)pn, (struct sockaddr_in6 *)addr) == 0
		  : uv_ip4_addr(host, (int)pn, (struct sockaddr_in *)addr) == 0;
}

/* Append s percent-encoded, '/' kept. */
static void files_encode(struct dew_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    strchr("-._~/", *c))
			dew_buf_putc(b, (char)*c);
		else
			dew_buf_printf(b, "%%%c%c", hex[*c >> 4], hex[*c & 15]);
	}
}

void files_proxy_start(struct dew_http_req *req, struct cc *cc, const char *file_uri, const char *token,
		       const char *path, const char *tail)
{
	struct sockaddr_storage addr;
	const char *base = NULL;
	if (!files_parse_uri(file_uri, &addr, &base) || strpbrk(base, " \r\n?#") || strpbrk(token, "\r\n ")) {
		api_error(req, 502, "the DEA gave a file URI the controller cannot use");
		return;
	}
	struct files_proxy *p = xzalloc(sizeof(*p));
	p->req = req;
	dew_buf_init(&p->request);
	dew_buf_puts(&p->request, "GET ");
	dew_buf_puts(&p->request, base); /* the DEA's own, checked above to be printable */
	files_encode(&p->request, path);
	if (tail)
		dew_buf_printf(&p->request, "?tail=%" PRIu64, (uint64_t)strtoull(tail, NULL, 10));
	dew_buf_printf(&p->request,
		       " HTTP/1.1\r\nHost: dea\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n",
		       token);
	http_parser_init(&p->parser, HTTP_RESPONSE);
	p->parser.data = p;
	uv_tcp_init(cc->loop, &p->tcp);
	uv_timer_init(cc->loop, &p->timer);
	p->tcp.data = p->timer.data = p->connect.data = p;
	p->handles = 2;
	req->data = p;
	req->on_abort = files_on_abort;
	uv_timer_start(&p->timer, files_on_timer, FILES_TIMEOUT_MS, 0);
	int r = uv_tcp_connect(&p->connect, &p->tcp, (const struct sockaddr *)&addr, files_on_connect);
	if (r < 0)
		files_end(p, uv_strerror(r));
}
