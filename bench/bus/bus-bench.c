/* SPDX-License-Identifier: MIT */
/*
 * bus-bench: drives one NATS-protocol server (dew-bus or nats-server) through throughput, fan-out,
 * queue-group, request/reply and memory runs and prints one `metric value` line per result. It is
 * a benchmark, not a test: it asserts only what it needs to trust its own numbers (every message
 * arrived, once), and fails loudly (exit 1) instead of hanging when the server stalls.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "nats-proto.h"

enum {
	TIMEOUT_S = 30,		 /* every read, write and wait on the server */
	PAYLOAD = 128,		 /* throughput, fan-out and queue payloads */
	REQ_PAYLOAD = 16,	 /* request and reply payloads */
	WRITE_BATCH = 64 * 1024, /* bytes per publisher write */
	WINDOW = 100000,	 /* messages in flight before the publisher waits (~15 MB) */
	STREAM_BUF = 256 * 1024, /* read buffer of a subscriber */
	SMALL_BUF = 4096,	 /* read buffer of an idle connection */
	FANOUT = 4,		 /* subscribers of the fan-out and queue runs */
	REQUESTS = 10000,	 /* timed requests */
	WARMUP = 200,		 /* untimed requests first */
	MEM_CONNS = 1000,	 /* idle connections of the memory run */
	MEM_SUBS = 100,		 /* subscriptions per idle connection */
};

struct conn;
typedef void (*msg_fn)(struct conn *c, const struct dew_nats_frame *f);

/* One client connection; the parser's frames update its counters. */
struct conn {
	int fd;
	struct dew_nats_parser parser;
	char *rbuf;
	size_t rcap;
	uint64_t msgs; /* complete MSG frames (read by other threads: __atomic) */
	uint64_t pongs;
	bool info;	    /* the server's INFO arrived */
	msg_fn on_msg;	    /* extra handling of each MSG, or NULL */
	struct dew_buf out; /* frames queued by on_msg, written after each read */
	void *data;	    /* on_msg's state */
};

/* The server under test. */
struct bench {
	struct addrinfo *addr;
	pid_t pid;
	uint64_t n; /* messages per stream run */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bus-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_all(struct conn *c, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(c->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			die("write to server timed out after %d s (server stalled?)", TIMEOUT_S);
		if (n < 0)
			die("write to server: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

static int on_frame(void *data, const struct dew_nats_frame *f)
{
	struct conn *c = data;
	switch (f->op) {
	case DEW_NATS_OP_MSG:
		__atomic_store_n(&c->msgs, c->msgs + 1, __ATOMIC_RELEASE);
		if (c->on_msg)
			c->on_msg(c, f);
		break;
	case DEW_NATS_OP_PING:
		dew_buf_puts(&c->out, "PONG\r\n");
		break;
	case DEW_NATS_OP_PONG:
		c->pongs++;
		break;
	case DEW_NATS_OP_INFO:
		c->info = true;
		break;
	case DEW_NATS_OP_ERR:
		die("server sent -ERR '%.*s'", (int)f->arg.len, f->arg.p);
	case DEW_NATS_OP_HMSG:
		die("unexpected HMSG (no headers were published)");
	default:
		break;
	}
	return 0;
}

/* Read what the server sent (waiting up to TIMEOUT_S), parse it and write any queued replies. */
static void conn_read(struct conn *c)
{
	ssize_t n;
	do
		n = read(c->fd, c->rbuf, c->rcap);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		die("server closed the connection");
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		die("read from server timed out after %d s (server stalled?)", TIMEOUT_S);
	if (n < 0)
		die("read from server: %s", strerror(errno));
	int r = dew_nats_parse(&c->parser, c->rbuf, (size_t)n, on_frame, c);
	if (r < 0)
		die("cannot parse what the server sent: %s", dew_nats_strerror(r));
	if (c->out.len > 0) {
		write_all(c, c->out.data, c->out.len);
		dew_buf_reset(&c->out);
	}
}

/* Round trip a PING: everything sent before it has been processed by the server. */
static void conn_flush(struct conn *c)
{
	uint64_t want = c->pongs + 1;
	write_all(c, "PING\r\n", 6);
	while (c->pongs < want)
		conn_read(c);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = TIMEOUT_S };
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("setsockopt: %s", strerror(errno));
}

/* Connect, wait for INFO and send CONNECT plus `extra` (SUBs, a PING); the caller reads the rest. */
static struct conn *conn_open(struct bench *b, size_t rcap, const char *extra)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		die("out of memory");
	c->fd = socket(b->addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	set_timeouts(c->fd);
	if (connect(c->fd, b->addr->ai_addr, b->addr->ai_addrlen) < 0)
		die("connect: %s", strerror(errno));
	c->rbuf = malloc(rcap);
	if (!c->rbuf)
		die("out of memory");
	c->rcap = rcap;
	dew_nats_parser_init(&c->parser, DEW_NATS_CLIENT_SIDE, 0, 0);
	while (!c->info)
		conn_read(c);
	struct dew_buf hello = DEW_BUF_INIT;
	dew_buf_puts(&hello,
		     "CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"c\",\"version\":\"bench\","
		     "\"protocol\":1,\"name\":\"bus-bench\"}\r\n");
	if (extra)
		dew_buf_puts(&hello, extra);
	write_all(c, hello.data, hello.len);
	dew_buf_close(&hello);
	return c;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	dew_nats_parser_close(&c->parser);
	dew_buf_close(&c->out);
	free(c->rbuf);
	free(c);
}

/* A connection subscribed to subject (in queue group `queue` unless NULL), confirmed by PING/PONG. */
static struct conn *conn_sub(struct bench *b, size_t rcap, const char *subject, const char *queue)
{
	char line[256];
	snprintf(line, sizeof(line), "SUB %s%s%s 1\r\n", subject, queue ? " " : "", queue ? queue : "");
	struct conn *c = conn_open(b, rcap, line);
	conn_flush(c);
	return c;
}

static double rss_mb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open %s: %s (is the server still running?)", path, strerror(errno));
	long kb = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	if (kb < 0)
		die("no VmRSS in %s", path);
	return (double)kb / 1024.0;
}

/* A publish run: its subscribers, how they share the messages, and when the last one arrived. */
struct stream {
	struct conn **subs;
	int nsubs;
	bool queue; /* each message goes to one subscriber (else to every one) */
	uint64_t n;
	double end;
};

/* Messages every subscriber has (fan-out), or the subscribers have together (queue group). */
static uint64_t stream_progress(const struct stream *s)
{
	uint64_t total = 0, min = UINT64_MAX;
	for (int i = 0; i < s->nsubs; i++) {
		uint64_t m = __atomic_load_n(&s->subs[i]->msgs, __ATOMIC_ACQUIRE);
		total += m;
		if (m < min)
			min = m;
	}
	return s->queue ? total : min;
}

static void *stream_receive(void *arg)
{
	struct stream *s = arg;
	struct pollfd pfd[FANOUT];
	for (int i = 0; i < s->nsubs; i++)
		pfd[i] = (struct pollfd){ .fd = s->subs[i]->fd, .events = POLLIN };
	while (stream_progress(s) < s->n) {
		int r = poll(pfd, (nfds_t)s->nsubs, TIMEOUT_S * 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("poll: %s", strerror(errno));
		if (r == 0)
			die("no message for %d s: %llu of %llu delivered", TIMEOUT_S,
			    (unsigned long long)stream_progress(s), (unsigned long long)s->n);
		for (int i = 0; i < s->nsubs; i++)
			if (pfd[i].revents)
				conn_read(s->subs[i]);
	}
	s->end = now();
	return NULL;
}

/* Publish s->n messages on subject from pub, never more than WINDOW ahead of the subscribers. */
static double stream_publish(struct conn *pub, struct stream *s, const char *subject)
{
	char head[128], payload[PAYLOAD];
	memset(payload, 'x', sizeof(payload));
	int hlen = snprintf(head, sizeof(head), "PUB %s %d\r\n", subject, PAYLOAD);
	size_t frame = (size_t)hlen + PAYLOAD + 2, per_batch = WRITE_BATCH / frame;
	char *batch = malloc(per_batch * frame);
	if (!batch)
		die("out of memory");
	for (size_t i = 0; i < per_batch; i++) {
		char *p = batch + i * frame;
		memcpy(p, head, (size_t)hlen);
		memcpy(p + hlen, payload, PAYLOAD);
		memcpy(p + hlen + PAYLOAD, "\r\n", 2);
	}
	pthread_t rx;
	if (pthread_create(&rx, NULL, stream_receive, s) != 0)
		die("pthread_create failed");
	double start = now();
	for (uint64_t sent = 0; sent < s->n;) {
		struct timespec pause = { .tv_nsec = 50000 };
		uint64_t done = stream_progress(s); /* can pass `sent` if the server duplicates */
		if (done < sent && sent - done > WINDOW) {
			nanosleep(&pause, NULL);
			continue;
		}
		size_t k = s->n - sent < per_batch ? (size_t)(s->n - sent) : per_batch;
		write_all(pub, batch, k * frame);
		sent += k;
	}
	pthread_join(rx, NULL);
	free(batch);
	return s->end - start;
}

/* Publish n messages to nsubs subscribers (each gets all, or one each in a queue group); msgs/s. */
static double run_stream(struct bench *b, int nsubs, bool queue)
{
	const char *subject = nsubs == 1 ? "bench.tp" : queue ? "bench.queue" : "bench.fanout";
	struct conn *subs[FANOUT];
	for (int i = 0; i < nsubs; i++)
		subs[i] = conn_sub(b, STREAM_BUF, subject, queue ? "workers" : NULL);
	struct conn *pub = conn_open(b, SMALL_BUF, NULL);
	conn_flush(pub);
	struct stream s = { .subs = subs, .nsubs = nsubs, .queue = queue, .n = b->n };
	double secs = stream_publish(pub, &s, subject);
	/* Anything duplicated would arrive before these PONGs. */
	conn_flush(pub);
	uint64_t total = 0;
	for (int i = 0; i < nsubs; i++) {
		conn_flush(subs[i]);
		if (!queue && subs[i]->msgs != b->n)
			die("%s: subscriber %d got %llu messages, %llu were sent", subject, i,
			    (unsigned long long)subs[i]->msgs, (unsigned long long)b->n);
		total += subs[i]->msgs;
		conn_close(subs[i]);
	}
	if (queue && total != b->n)
		die("%s: the queue group got %llu messages, %llu were sent", subject,
		    (unsigned long long)total, (unsigned long long)b->n);
	conn_close(pub);
	return (double)total / secs;
}

/* The responder: answer each request with a PUB to its reply subject; a request without one stops it. */
static void respond(struct conn *c, const struct dew_nats_frame *f)
{
	static const char reply_payload[REQ_PAYLOAD] = "0123456789abcdef";
	if (f->reply.len == 0) {
		*(bool *)c->data = true;
		return;
	}
	dew_buf_printf(&c->out, "PUB %.*s %d\r\n", (int)f->reply.len, f->reply.p, REQ_PAYLOAD);
	dew_buf_append(&c->out, reply_payload, REQ_PAYLOAD);
	dew_buf_puts(&c->out, "\r\n");
}

static void *responder_main(void *arg)
{
	struct conn *c = arg;
	bool stop = false;
	c->data = &stop;
	c->on_msg = respond;
	while (!stop)
		conn_read(c);
	return NULL;
}

/* What the requester waits for: the reply to its current request. */
struct waiting {
	char subject[64];
	bool got;
};

static void requester_check(struct conn *c, const struct dew_nats_frame *f)
{
	struct waiting *w = c->data;
	if (f->subject.len != strlen(w->subject) || memcmp(f->subject.p, w->subject, f->subject.len) != 0)
		die("reply on '%.*s' while waiting for '%s'", (int)f->subject.len, f->subject.p, w->subject);
	if (f->payload.len != REQ_PAYLOAD)
		die("reply of %zu bytes, %d expected", f->payload.len, REQ_PAYLOAD);
	w->got = true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One request from req (sequence number i), answered; its latency in microseconds. */
static double request_once(struct conn *req, struct waiting *w, int i)
{
	char frame[128];
	snprintf(w->subject, sizeof(w->subject), "_INBOX.x.%d", i);
	int len = snprintf(frame, sizeof(frame), "PUB bench.req %s %d\r\n0123456789abcdef\r\n", w->subject,
			   REQ_PAYLOAD);
	w->got = false;
	double t0 = now();
	write_all(req, frame, (size_t)len);
	while (!w->got)
		conn_read(req);
	return (now() - t0) * 1e6;
}

/* Sequential requests through a responder thread; sets p50 and p99 latency in microseconds. */
static void run_requests(struct bench *b, double *p50, double *p99)
{
	struct conn *resp = conn_sub(b, SMALL_BUF * 16, "bench.req", NULL);
	struct conn *req = conn_sub(b, SMALL_BUF * 16, "_INBOX.x.*", NULL);
	struct waiting w;
	req->data = &w;
	req->on_msg = requester_check;
	pthread_t th;
	if (pthread_create(&th, NULL, responder_main, resp) != 0)
		die("pthread_create failed");
	static double lat[REQUESTS];
	for (int i = 0; i < WARMUP; i++)
		request_once(req, &w, i);
	for (int i = 0; i < REQUESTS; i++)
		lat[i] = request_once(req, &w, WARMUP + i);
	write_all(req, "PUB bench.req 0\r\n\r\n", 19);
	pthread_join(th, NULL);
	conn_close(resp);
	conn_close(req);
	qsort(lat, REQUESTS, sizeof(lat[0]), cmp_double);
	*p50 = lat[(REQUESTS * 50 + 99) / 100 - 1];
	*p99 = lat[(REQUESTS * 99 + 99) / 100 - 1];
}

/* MEM_CONNS idle connections holding MEM_SUBS subscriptions each: the server's RSS in MB. */
static double run_memory(struct bench *b)
{
	static struct conn *conns[MEM_CONNS];
	struct dew_buf subs = DEW_BUF_INIT;
	for (int i = 0; i < MEM_CONNS; i++) {
		dew_buf_reset(&subs);
		for (int j = 0; j < MEM_SUBS; j++)
			dew_buf_printf(&subs, "SUB bench.mem.%d.%d %d\r\n", i, j, j + 1);
		dew_buf_puts(&subs, "PING\r\n");
		conns[i] = conn_open(b, SMALL_BUF, subs.data);
	}
	dew_buf_close(&subs);
	for (int i = 0; i < MEM_CONNS; i++)
		while (conns[i]->pongs < 1)
			conn_read(conns[i]);
	double mb = rss_mb(b->pid);
	for (int i = 0; i < MEM_CONNS; i++)
		conn_close(conns[i]);
	return mb;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = MEM_CONNS + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		die("RLIMIT_NOFILE hard limit %llu is below the %llu descriptors needed",
		    (unsigned long long)rl.rlim_max, (unsigned long long)want);
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit: %s", strerror(errno));
}

static void resolve(struct bench *b, const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host) || !colon[1])
		die("bad address '%s' (want HOST:PORT)", hostport);
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	int r = getaddrinfo(host, colon + 1, &hints, &b->addr);
	if (r != 0)
		die("cannot resolve '%s': %s", hostport, gai_strerror(r));
}

/* Run every measurement against the server at argv[1] and print one `metric value` line each. */
int main(int argc, char **argv)
{
	struct bench b = { .n = 1000000 };
	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--quick") != 0)) {
		fprintf(stderr, "usage: bus-bench HOST:PORT SERVER_PID [--quick]\n");
		return 2;
	}
	if (argc == 4)
		b.n = 100000;
	b.pid = (pid_t)atoi(argv[2]);
	if (b.pid <= 0)
		die("bad server pid '%s'", argv[2]);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_nofile();
	resolve(&b, argv[1]);

	/* Memory first, so the RSS is not inflated by the buffers of the stream runs. */
	printf("rss_idle_mb %.1f\n", rss_mb(b.pid));
	printf("rss_1000conn_100ksubs_mb %.1f\n", run_memory(&b));
	printf("throughput_msgs_per_s %.0f\n", run_stream(&b, 1, false));
	printf("fanout4_msgs_per_s %.0f\n", run_stream(&b, FANOUT, false));
	printf("queue4_msgs_per_s %.0f\n", run_stream(&b, FANOUT, true));
	double p50, p99;
	run_requests(&b, &p50, &p99);
	printf("req_p50_us %.1f\n", p50);
	printf("req_p99_us %.1f\n", p99);
	printf("rss_after_all_mb %.1f\n", rss_mb(b.pid));
	freeaddrinfo(b.addr);
	return 0;
}
