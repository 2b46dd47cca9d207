// SPDX-License-Identifier: MIT
/*
 * Socket writes for both sides of the proxy: try the write at once (most responses leave in
 * one syscall with no copy), queue what the kernel did not take. Reads land in the router's
 * one read buffer, since each read is handled before the loop reads again.
 */
#include "router.h"

#include <string.h>

#include "alloc.h"

struct conn_wreq {
	uv_write_t req;
	char data[];
};

size_t conn_queued(const uv_stream_t *s)
{
	return uv_stream_get_write_queue_size(s);
}

int conn_write(uv_stream_t *s, const char *p, size_t len, uv_write_cb cb)
{
	if (len == 0)
		return 0;
	if (conn_queued(s) == 0) {
		uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
		int n = uv_try_write(s, &b, 1);
		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			if (len == 0)
				return 0;
		} else if (n != UV_EAGAIN && n != UV_ENOSYS) {
			return n;
		}
	}
	struct conn_wreq *w = xmalloc(sizeof(*w) + len);
	memcpy(w->data, p, len);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
	int r = uv_write(&w->req, s, &b, 1, cb);
	if (r < 0)
		free(w);
	return r;
}

void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct router *rt = *(struct router **)h->data;
	*buf = uv_buf_init(rt->rbuf, sizeof(rt->rbuf));
}
