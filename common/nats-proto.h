/* SPDX-License-Identifier: MIT */
/*
 * The NATS client protocol, both directions, shared by dew-bus (server side) and the bus
 * client: a resumable byte-level parser that points into the caller's read buffer (copying
 * only what straddles two reads), subject and queue-name validation, and frame writers.
 */
#ifndef DEW_NATS_PROTO_H
#define DEW_NATS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum {
	DEW_NATS_MAX_CONTROL_LINE = 4096,   /* default limit of one control line's arguments (see below) */
	DEW_NATS_MAX_PAYLOAD = 1024 * 1024, /* default max_payload (headers + payload) */
};

/* Which side this parser is: a server parses what clients send, and the other way round. */
enum dew_nats_side {
	DEW_NATS_SERVER_SIDE, /* accepts CONNECT PUB HPUB SUB UNSUB PING PONG (INFO +OK -ERR: below) */
	DEW_NATS_CLIENT_SIDE, /* accepts INFO MSG HMSG +OK -ERR PING PONG */
};

enum dew_nats_op {
	DEW_NATS_OP_INFO = 1,
	DEW_NATS_OP_CONNECT,
	DEW_NATS_OP_PUB,
	DEW_NATS_OP_HPUB,
	DEW_NATS_OP_SUB,
	DEW_NATS_OP_UNSUB,
	DEW_NATS_OP_MSG,
	DEW_NATS_OP_HMSG,
	DEW_NATS_OP_PING,
	DEW_NATS_OP_PONG,
	DEW_NATS_OP_OK,
	DEW_NATS_OP_ERR,
};

/* A byte range (not NUL-terminated). */
struct dew_nats_str {
	const char *p;
	size_t len;
};

/*
 * One parsed operation. Every pointer is valid only during the callback: it points into the
 * data passed to dew_nats_parse or into the parser's scratch buffer.
 */
struct dew_nats_frame {
	enum dew_nats_op op;
	struct dew_nats_str subject; /* PUB HPUB SUB MSG HMSG */
	struct dew_nats_str reply;   /* PUB HPUB MSG HMSG: len 0 when absent */
	struct dew_nats_str queue;   /* SUB: len 0 when absent */
	struct dew_nats_str sid;     /* SUB UNSUB MSG HMSG */
	int64_t max_msgs;	     /* UNSUB: -1 when absent or not a number (both unsubscribe at once) */
	struct dew_nats_str arg;     /* INFO/CONNECT: the JSON; -ERR: the text inside the quotes */
	struct dew_nats_str hdr;     /* HPUB HMSG: the header block ("NATS/1.0…\r\n\r\n") */
	struct dew_nats_str payload; /* PUB HPUB MSG HMSG: the payload after the headers */
};

/* Parse errors, each mapped to the text nats-server sends (dew_nats_strerror). */
enum dew_nats_parse_error {
	DEW_NATS_EUNKNOWN_OP = -1,   /* unknown or misplaced operation, bad framing */
	DEW_NATS_ECONTROL_LINE = -2, /* control line longer than the limit */
	DEW_NATS_EPAYLOAD = -3,	     /* announced size over max_payload */
	DEW_NATS_EARGS = -4,	     /* wrong number or form of arguments */
	DEW_NATS_EAUTH = -5,	     /* auth_pending and an operation that is not CONNECT */
};

/*
 * Return 0 to go on parsing; any other value stops dew_nats_parse, which returns it. A callback
 * returning non-zero may also close or free the parser: dew_nats_parse does not touch it again.
 */
typedef int (*dew_nats_frame_fn)(void *data, const struct dew_nats_frame *frame);

struct dew_nats_parser {
	enum dew_nats_side side;
	size_t max_control_line;
	size_t max_payload;
	/*
	 * Server side, set by the caller while a CONNECT with credentials is awaited: until the
	 * parser hands out a CONNECT frame (it then clears the flag), the first byte of any other
	 * operation fails with DEW_NATS_EAUTH, as nats-server checks it.
	 */
	bool auth_pending;
	/* Resumable state (private). */
	int state;
	struct dew_nats_frame frame; /* control-line fields, pointing into scratch */
	struct dew_buf scratch;	     /* control line / payload that straddles reads */
	size_t need;		     /* payload bytes (headers included) still expected */
	size_t hdr_size;
	bool in_payload;
	bool dead; /* after an error every call fails */
};

/*
 * max_control_line / max_payload of 0 take the defaults above. Like nats-server's
 * max_control_line, the limit counts the arguments only (from the first byte after the
 * operation name and its blanks, up to but excluding the line end), and is enforced as soon as
 * a line grows past it, before its end arrives. max_payload limits the announced size (headers
 * included) and is enforced before any payload byte is read.
 *
 * On the server side INFO, +OK and -ERR are also handed out, because nats-server accepts them
 * from clients: it ignores +OK and INFO (closing silently when INFO's JSON is invalid) and
 * closes silently on -ERR. MSG and HMSG fail with DEW_NATS_EUNKNOWN_OP.
 */
void dew_nats_parser_init(struct dew_nats_parser *p, enum dew_nats_side side, size_t max_control_line,
			  size_t max_payload);
void dew_nats_parser_close(struct dew_nats_parser *p);

/*
 * Feed len bytes; cb is called once per complete operation, in order. Returns 0 when all bytes
 * were consumed (a partial operation is kept for the next call), the non-zero value cb
 * returned (parsing stopped right after that frame), or a negative dew_nats_parse_error (the
 * parser is dead; the connection must be closed, after sending -ERR when
 * dew_nats_error_has_reply() says nats-server does).
 */
int dew_nats_parse(struct dew_nats_parser *p, const char *data, size_t len, dew_nats_frame_fn cb,
		   void *cbdata);

/*
 * The -ERR text nats-server sends for a parse error ("Unknown Protocol Operation"). Never NULL:
 * for DEW_NATS_EARGS, where nats-server sends nothing, it is a text for logs only.
 */
const char *dew_nats_strerror(int err);
/*
 * Whether nats-server answers this parse error with -ERR '<dew_nats_strerror(err)>' before
 * closing; false for DEW_NATS_EARGS (malformed arguments close the connection silently).
 */
bool dew_nats_error_has_reply(int err);

/* Subjects: tokens separated by '.', no empty token, no whitespace or control bytes. */
bool dew_nats_subject_valid(const char *s, size_t len);	  /* '*' and a final '>' allowed */
bool dew_nats_subject_literal(const char *s, size_t len); /* valid and no wildcard token */
bool dew_nats_queue_valid(const char *s, size_t len);	  /* no whitespace, not empty */
/* Does literal subject s match pattern p (which may hold wildcards)? */
bool dew_nats_subject_match(const char *p, size_t plen, const char *s, size_t slen);

/*
 * Frame writers: append one operation to out. hdr may be NULL (then PUB/MSG, else HPUB/HMSG);
 * an empty header block (hdr_len 0) also gives PUB/MSG, as nats-server delivers "HPUB s 0 n".
 * reply may be NULL or empty when there is none.
 */
void dew_nats_write_pub(struct dew_buf *out, const char *subject, const char *reply, const void *hdr,
			size_t hdr_len, const void *payload, size_t len);
void dew_nats_write_msg(struct dew_buf *out, const char *subject, size_t subject_len, const char *sid,
			size_t sid_len, const char *reply, size_t reply_len, const void *hdr, size_t hdr_len,
			const void *payload, size_t len);

#endif
