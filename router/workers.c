// SPDX-License-Identifier: MIT
/*
 * Worker threads (router.h): worker 0 is the main thread; the others are set up on the main
 * thread (so start-up errors are reported the usual way), then each runs its own loop on its own
 * thread. They share nothing on the request path: each has its listener (SO_REUSEPORT), bus
 * connection and table. Worker 0 tells them to drain or stop through a uv_async handle; cmd_lock
 * makes sure nobody sends to a handle that its worker has closed.
 */
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "proxy.h"

static void workers_on_command(uv_async_t *a)
{
	struct router *rt = a->data;
	uv_mutex_lock(&rt->cmd_lock);
	int cmd = rt->cmd;
	rt->cmd = 0;
	uv_mutex_unlock(&rt->cmd_lock);
	if (cmd & WORKER_STOP)
		router_shutdown(rt);
	else if (cmd & WORKER_DRAIN)
		ops_drain_start(rt);
}

static void workers_run(void *arg)
{
	struct router *rt = arg;
	uv_run(rt->loop, UV_RUN_DEFAULT);
	__atomic_store_n(&rt->finished, true, __ATOMIC_RELEASE);
}

int workers_start(struct router *rt0, const struct sockaddr *addr, struct dew_error **err)
{
	for (size_t i = 1; i < rt0->n_workers; i++) {
		struct router *w = xzalloc(sizeof(*w));
		rt0->workers[i] = w;
		w->cfg = rt0->cfg; /* strings shared, read-only */
		w->main = rt0;
		w->index = (unsigned)i;
		memcpy(w->id, rt0->id, sizeof(w->id));
		w->loop = xmalloc(sizeof(*w->loop));
		uv_loop_init(w->loop);
		uv_mutex_init(&w->cmd_lock);
		uv_async_init(w->loop, &w->cmd_async, workers_on_command);
		w->cmd_async.data = w;
		w->cmd_open = true;
		if (router_setup(w, addr, err) < 0)
			return -1;
	}
	for (size_t i = 1; i < rt0->n_workers; i++) {
		int r = uv_thread_create(&rt0->workers[i]->thread, workers_run, rt0->workers[i]);
		if (r < 0)
			return dew_error_set(err, -r, "worker %zu: %s", i, uv_strerror(r));
	}
	return 0;
}

void workers_command(struct router *rt0, enum worker_command cmd)
{
	for (size_t i = 1; i < rt0->n_workers; i++) {
		struct router *w = rt0->workers[i];
		uv_mutex_lock(&w->cmd_lock);
		if (w->cmd_open) {
			w->cmd |= cmd;
			uv_async_send(&w->cmd_async);
		}
		uv_mutex_unlock(&w->cmd_lock);
	}
}

void workers_close_command(struct router *rt)
{
	uv_mutex_lock(&rt->cmd_lock);
	if (rt->cmd_open) {
		rt->cmd_open = false;
		uv_close((uv_handle_t *)&rt->cmd_async, NULL);
	}
	uv_mutex_unlock(&rt->cmd_lock);
}

bool workers_finished(const struct router *rt0)
{
	for (size_t i = 1; i < rt0->n_workers; i++)
		if (!__atomic_load_n(&rt0->workers[i]->finished, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

void workers_join(struct router *rt0)
{
	for (size_t i = 1; i < rt0->n_workers; i++) {
		struct router *w = rt0->workers[i];
		uv_thread_join(&w->thread);
		router_free(w);
		uv_mutex_destroy(&w->cmd_lock);
		free(w->loop);
		free(w);
	}
	free(rt0->workers);
	rt0->workers = NULL;
}
