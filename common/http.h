/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.1 server core every daemon uses (status listener, controller API, DEA files).
 * Transport-agnostic protocol handling (struct dew_http_conn: bytes in, bytes out) sits under a
 * libuv TCP server (struct dew_http_server) and a router of `method + path pattern -> handler`.
 * All functions run on the loop thread that owns the server.
 */
#ifndef DEW_HTTP_H
#define DEW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <jansson.h>

#include "error.h"

struct dew_http_req;
struct dew_http_server;
struct dew_http_conn;

/* Limits applied to every request; a zero field takes the default in brackets. */
struct dew_http_limits {
	size_t max_header_bytes;    /* request line + headers [16384] -> 431 (414 for the line alone) */
	size_t max_headers;	    /* header count [100] -> 431 */
	size_t max_body;	    /* body bytes [1 MiB] -> 413; a route may raise it */
	uint64_t header_timeout_ms; /* whole head must arrive in time [10000] -> 408 + close */
	uint64_t idle_timeout_ms;   /* keep-alive idle [60000] -> close */
	size_t max_connections;	    /* [4096] further connections are closed at accept */
	/* Not a limit: called once per answered request as its status line is written, the
	 * router's 404 and 405 included (req->route NULL for a 404); not for protocol errors
	 * answered before a request was complete, nor for requests whose client went away first.
	 * For metrics by route and status. NULL: none. */
	void (*on_response)(const struct dew_http_req *req, int status);
};

/*
 * How the limits apply: max_header_bytes counts the request target, header names and values
 * (plus 4 bytes per header), trailers of a chunked body included. A new connection must send
 * its first head within header_timeout_ms of the accept; later heads within header_timeout_ms
 * of their first byte. idle_timeout_ms bounds both the silence between keep-alive requests and
 * a stalled request body (408). No timer runs while a handler holds a request.
 */

struct dew_http_header {
	char *name; /* as received */
	char *value;
};

/*
 * One route. Buffered routes (on_body NULL) get on_request once the whole body is in
 * req->body. Streaming routes set on_body: on_request is called when the headers are complete
 * (req->body empty), then on_body for each chunk, then on_end. A handler may answer at any time,
 * also later from another callback on the same loop; it must answer exactly once.
 *
 * Lifetime: the request stays valid until the handler's answer ends (dew_http_respond*,
 * or dew_http_stream_end after dew_http_stream_start); after that it must not be touched, and no
 * further callback (on_body, on_end, on_abort) comes for it. Answering before the whole body
 * was read closes the connection after the response. When the client goes away first, req->conn
 * becomes NULL and on_abort (if set) is called; the handler must STILL answer exactly once
 * (possibly from on_abort itself): that answer writes nothing and only releases the request.
 * Until then, dew_http_stream_write and dew_http_add_header on it are harmless no-ops.
 *
 * Routing: routes are tried in table order; HEAD also matches GET routes. A trailing slash is
 * significant ("/v1/apps/" is not "/v1/apps"); a trailing "*" segment matches zero or more
 * segments (param "*", decoded, "a/b"). Paths with a "." or ".." segment, or a segment decoding
 * to '/' or NUL, get 400; no match 404; a path matched only under other methods 405 + Allow.
 */
struct dew_http_route {
	const char *method;  /* "GET", "POST", …; NULL matches any method */
	const char *pattern; /* "/v1/apps/:name/bits": literal segments, :param, trailing "*" */
	void (*on_request)(struct dew_http_req *req);
	/* Streaming body chunk; return 0, or an HTTP status (4xx/5xx) to answer it and stop: the
	 * server then answers {code, description} itself (or closes the connection when a streamed
	 * response had started) and releases the request, which the handler must not use again. */
	int (*on_body)(struct dew_http_req *req, const char *data, size_t len);
	void (*on_end)(struct dew_http_req *req);
	size_t max_body; /* 0: the server's limit */
};

struct dew_http_req {
	const char *method; /* "GET" */
	const char *target; /* the raw request target, "/v1/apps?x=1" */
	const char *path;   /* decoded path, "/v1/apps" */
	const char *query;  /* raw query after '?', "" when none */
	struct dew_http_header *headers;
	size_t n_headers;
	int http_major, http_minor;
	bool keep_alive;	 /* the connection stays open after the response */
	uint64_t content_length; /* UINT64_MAX when unknown (chunked) */
	const char *body;	 /* buffered routes: the whole body, NUL-terminated */
	size_t body_len;
	const struct dew_http_route *route;
	void *server_data; /* the data given to the server */
	void *data;	   /* free for the handler */
	/* Called when the client goes away before the handler answered (streams, long polls);
	 * the handler must still answer once to release req (see struct dew_http_route). */
	void (*on_abort)(struct dew_http_req *req);
	struct dew_http_conn *conn;
	char remote_addr[64]; /* "127.0.0.1:5555" */
};

/* Header value by case-insensitive name, or NULL. */
const char *dew_http_header(const struct dew_http_req *req, const char *name);
/* Path parameter :name of the matched route (percent-decoded), or NULL. */
const char *dew_http_param(const struct dew_http_req *req, const char *name);
/* Query parameter (percent-decoded, caller frees) or NULL when absent. */
char *dew_http_query(const struct dew_http_req *req, const char *name);

/* Add a header to the response (before the response starts). */
void dew_http_add_header(struct dew_http_req *req, const char *name, const char *value);
/* Answer with a complete body (Content-Length). */
void dew_http_respond(struct dew_http_req *req, int status, const char *content_type, const void *body,
		      size_t len);
/* Answer with JSON; takes the reference to body. */
void dew_http_respond_json(struct dew_http_req *req, int status, json_t *body);
/* Answer {"code": code, "description": "..."} with the given status. */
void dew_http_respond_error(struct dew_http_req *req, int status, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Streamed response: status line and headers now, then chunks (chunked encoding), then end. */
void dew_http_stream_start(struct dew_http_req *req, int status, const char *content_type);
void dew_http_stream_write(struct dew_http_req *req, const void *data, size_t len);
void dew_http_stream_end(struct dew_http_req *req);

/*
 * Bytes of response the request's connection has queued but the socket has not taken yet (0 once
 * the client went away). The server has no write backpressure of its own: a handler writing a
 * large body checks this and waits while it is high (dew_http_send_file does).
 */
size_t dew_http_write_queue_size(const struct dew_http_req *req);

/* The reason phrase of a status code ("Not Found"). */
const char *dew_http_status_text(int status);

/*
 * Start listening on host:port (port 0 picks a free one) with the given route table (not
 * copied: it must outlive the server). limits may be NULL. data is passed to handlers as
 * req->server_data. On success *out owns the server.
 *
 * The process must ignore SIGPIPE (daemons do in main): a write to a peer that went away then
 * fails with EPIPE instead of killing it. A client that closes its side (EOF) counts as gone:
 * answers already given are still flushed, a request its handler still holds is aborted.
 * Requests are answered one at a time and in order; a handler answering before the whole body
 * was read makes the connection close after the response.
 */
int dew_http_server_start(struct dew_http_server **out, uv_loop_t *loop, const char *host, int port,
			  const struct dew_http_route *routes, size_t n_routes,
			  const struct dew_http_limits *limits, void *data, struct dew_error **err);
/* The port actually bound. */
int dew_http_server_port(const struct dew_http_server *s);
/* Stop accepting, close every connection (in-flight handlers see on_abort), free the server
 * once its handles are closed; done (may be NULL) is called then. */
void dew_http_server_stop(struct dew_http_server *s, void (*done)(void *arg), void *arg);

/* Number of open connections (for metrics). */
size_t dew_http_server_connections(const struct dew_http_server *s);

#endif
