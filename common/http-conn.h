/* SPDX-License-Identifier: MIT */
/*
 * Internal to the HTTP server: the transport-agnostic connection core (http-conn.c, with its
 * parser callbacks in http-parse.c: bytes in, response bytes out through an ops table), the
 * private part of a request, the response helpers and the router. http-server.c plugs a libuv
 * TCP socket under it; the unit tests and the fuzzer drive it with no socket at all.
 */
#ifndef DEW_HTTP_CONN_H
#define DEW_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <http_parser.h>

#include "buf.h"
#include "http.h"

/* Which timer the transport should run for the connection (see dew__http_conn_timeout). */
enum dew__http_timer {
	DEW__HTTP_TIMER_NONE,	/* a handler has the request: no deadline (long polls, streams) */
	DEW__HTTP_TIMER_HEADER, /* a request head is due: header_timeout_ms from the switch, not restarted */
	DEW__HTTP_TIMER_IDLE,	/* keep-alive idle or a body arriving: idle_timeout_ms, restarted by reads */
};

/*
 * What the transport provides. The conn calls these synchronously; none may call back into the
 * conn (feed, abort, free) from inside the call.
 */
struct dew__http_conn_ops {
	/* Send len bytes; the transport takes ownership of data (release with free()). */
	void (*write)(struct dew_http_conn *conn, char *data, size_t len);
	/* No more output will follow: close once the pending writes are flushed. Called once. */
	void (*close)(struct dew_http_conn *conn);
	/* Stop (false) or resume (true) reading: too many unparsed bytes are queued. May be NULL. */
	void (*set_reading)(struct dew_http_conn *conn, bool on);
	/* Switch to timer t (stopping any other). Not called after close. May be NULL. */
	void (*set_timer)(struct dew_http_conn *conn, enum dew__http_timer t);
	/* The wall clock for the Date header. NULL: time(NULL). */
	time_t (*now)(struct dew_http_conn *conn);
	/* Bytes written but not yet taken by the socket. NULL: 0 (everything goes out at once). */
	size_t (*queued)(struct dew_http_conn *conn);
};

struct dew__http_conn_config {
	const struct dew__http_conn_ops *ops;
	void *transport;		     /* returned by dew__http_conn_transport() */
	const struct dew_http_route *routes; /* not copied */
	size_t n_routes;
	const struct dew_http_limits *limits; /* copied; NULL or zero fields take the defaults */
	void *server_data;		      /* req->server_data */
	const char *remote_addr;	      /* req->remote_addr; may be NULL */
};

/* Bytes of unparsed input the conn queues before it asks the transport to stop reading. */
enum { DEW__HTTP_MAX_PENDING = 256 * 1024 };

/* Fill *out from in (may be NULL), replacing zero fields by the defaults documented in http.h. */
void dew__http_limits_resolve(struct dew_http_limits *out, const struct dew_http_limits *in);

/* A new connection. The initial timer is DEW__HTTP_TIMER_HEADER. Caller owns it (conn_free). */
struct dew_http_conn *dew__http_conn_new(const struct dew__http_conn_config *cfg);
/* The transport pointer given at creation. */
void *dew__http_conn_transport(const struct dew_http_conn *conn);
/*
 * Bytes from the client. Requests are parsed and answered strictly in order: while a handler
 * has not answered, further bytes are queued unparsed. Ignored once the conn is closing.
 */
void dew__http_conn_feed(struct dew_http_conn *conn, const char *data, size_t len);
/*
 * The timer last asked for by set_timer fired: a late head (or stalled body) gets 408 and the
 * connection closes; an idle keep-alive connection just closes.
 */
void dew__http_conn_timeout(struct dew_http_conn *conn);
/*
 * The client went away (EOF, read or write error, server stopping): a request still held by a
 * handler is detached and its on_abort called; nothing more is written and ops->close is not
 * called. Idempotent.
 */
void dew__http_conn_abort(struct dew_http_conn *conn);
/* The timer the conn currently wants. */
enum dew__http_timer dew__http_conn_timer(const struct dew_http_conn *conn);
/* True once the conn asked to close or was aborted: further input is ignored. */
bool dew__http_conn_closing(const struct dew_http_conn *conn);
/* Abort (see above) and free the conn. The transport calls it once its socket is closed. */
void dew__http_conn_free(struct dew_http_conn *conn);

/*
 * The private part of a request. Handlers see &pub; everything here is owned by the request,
 * never by the connection, so a request detached by an abort stays valid until its handler's
 * final answer releases it.
 */
struct dew__http_request {
	struct dew_http_req pub;
	char *target; /* pub.target */
	char *path;   /* pub.path */
	char *query;  /* pub.query */
	struct dew_http_header *headers;
	size_t n_headers, cap_headers;
	char **params; /* name, value, name, value… (route parameters, decoded) */
	size_t n_params;
	struct dew_buf body;	     /* buffered routes */
	struct dew_buf resp_headers; /* "Name: value\r\n" lines from dew_http_add_header */
	uint64_t body_limit, body_seen;
	bool head_done;	  /* headers complete (trailers follow a chunked body) */
	bool body_done;	  /* the whole body is read (or none was expected) */
	bool complete;	  /* message complete: the parser waits for the answer */
	bool handled;	  /* a handler has it: it must answer */
	bool started;	  /* the response head is written (streamed responses) */
	bool chunked_out; /* the streamed response uses chunked encoding */
	bool close_after; /* the connection closes after this response */
	bool is_head;	  /* HEAD: the response carries no body */
};

/* The private request behind a public one. */
static inline struct dew__http_request *dew__http_request_of(struct dew_http_req *req)
{
	return (struct dew__http_request *)req;
}

/*
 * The connection, shared by http-conn.c (its life) and http-parse.c (its parser callbacks);
 * nothing else looks inside.
 */
struct dew_http_conn {
	const struct dew__http_conn_ops *ops;
	void *transport;
	const struct dew_http_route *routes;
	size_t n_routes;
	struct dew_http_limits limits;
	void *server_data;
	char remote_addr[64];

	http_parser parser;
	struct dew_buf in;		  /* received but not parsed: a handler has not answered yet */
	struct dew__http_request *req;	  /* the request being read or waiting for its answer */
	struct dew_buf url, field, value; /* pieces of the head being read */
	bool in_value;			  /* the last piece was a header value */
	size_t head_bytes;		  /* counted against max_header_bytes (trailers included) */
	size_t n_trailers;
	size_t n_requests;
	enum dew__http_timer timer;
	bool closing;	  /* closed or closing: input is ignored, nothing more is written */
	bool in_run;	  /* inside the parse loop: answers must not re-enter it */
	bool reading_off; /* set_reading(false) was asked */
};

/*
 * Answer a protocol error (status, {code, description}) and close: the stream can no longer be
 * trusted. A request held by a handler is detached first (on_abort). Returns -1.
 */
int dew__http_conn_fail(struct dew_http_conn *conn, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Ask the transport to close (once); input is ignored from now on. */
void dew__http_conn_close(struct dew_http_conn *conn);

/* The current request is complete and its handler has not answered: parsing waits. */
static inline bool dew__http_conn_waiting(const struct dew_http_conn *conn)
{
	return conn->req && conn->req->complete;
}

/*
 * Parse data until it is used up, a handler holds a complete request, or the conn closes;
 * returns the bytes consumed (the rest must be fed again later). Not reentrant: answers given
 * from inside a handler only mark the request done.
 */
size_t dew__http_parse(struct dew_http_conn *conn, const char *data, size_t len);

/*
 * Response side (http-response.c calls these). dew__http_request_closes() decides whether the
 * connection closes after the response now starting; dew__http_request_write() sends bytes
 * (freed at once when the request is detached); dew__http_request_done() ends the response:
 * the request is freed and the conn resumes parsing or closes.
 */
bool dew__http_request_closes(struct dew__http_request *r);
void dew__http_request_write(struct dew__http_request *r, char *data, size_t len);
void dew__http_request_done(struct dew__http_request *r);
/* The wall clock of the request's connection (time(NULL) when detached). */
time_t dew__http_request_now(struct dew__http_request *r);
/* Free a request and everything it owns. */
void dew__http_request_free(struct dew__http_request *r);

/*
 * Append the status line and the framing headers of a response to b: Date, Content-Type (when
 * not NULL), Content-Length (or Transfer-Encoding: chunked when length is UINT64_MAX and chunked
 * is true; neither for a close-delimited body), Connection, then the extra lines, then CRLF.
 */
void dew__http_format_head(struct dew_buf *b, int status, const char *content_type, uint64_t length,
			   bool chunked, bool close, bool keep_alive_10, const struct dew_buf *extra,
			   time_t now);
/*
 * A complete error response {"code": status, "description": text} with Connection: close (no
 * body for a HEAD request). Caller frees.
 */
char *dew__http_error_response(int status, const char *text, bool head, time_t now, size_t *len);

/* Result of routing one request. */
struct dew__http_match {
	const struct dew_http_route *route; /* NULL unless status is 0 */
	int status;			    /* 0, or 400 (bad path), 404, 405 */
	char *path;			    /* the decoded path (owned), NULL on 400 */
	char **params;			    /* owned, as in struct dew__http_request */
	size_t n_params;
	char allow[128]; /* 405: "GET, HEAD, POST" */
	char error[96];	 /* 400: why the path was refused */
};

/*
 * Match method and raw_path (the request target's path, still percent-encoded) against the
 * table in order. Segments are percent-decoded one by one; a decoded segment that is "." or
 * "..", or contains '/' or NUL, refuses the path (400). A trailing slash is significant
 * ("/v1/apps/" does not match "/v1/apps"), except that a trailing "*" segment matches zero or
 * more segments: "/files" followed by a "*" segment matches "/files", "/files/" and
 * "/files/a/b" (param "*": "", "", "a/b"). A ":name" segment matches one non-empty segment.
 * HEAD requests also match GET routes. Returns m->status; release m with
 * dew__http_match_close().
 */
int dew__http_route(const struct dew_http_route *routes, size_t n_routes, const char *method,
		    const char *raw_path, struct dew__http_match *m);
/* Release what a match owns (path, params). */
void dew__http_match_close(struct dew__http_match *m);

/*
 * Split an origin-form ("/p?q#f") or absolute-form ("http://h/p?q") request target into the raw
 * path and the raw query (both allocated, "" when absent). Returns NULL, or why the target is
 * refused (other forms: "*", "host:port").
 */
const char *dew__http_split_target(const char *target, char **raw_path, char **query);

/*
 * Percent-decode len bytes of s (plus_space: '+' means ' ', as in query strings). An invalid
 * escape fails (NULL) when strict, stays literal otherwise. *out_len (may be NULL) gets the
 * decoded length, which may include NUL bytes. Caller frees.
 */
char *dew__http_pct_decode(const char *s, size_t len, bool plus_space, bool strict, size_t *out_len);

#endif
