// SPDX-License-Identifier: MIT
/*
 * SHA-256 of every file of a push (walk.h, fingerprint_all) on all cores: worker threads take
 * the next file from a shared index, so one large file does not hold up the small ones behind
 * it. The calling thread only waits and reports progress.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "walk.h"

enum { FINGERPRINT_MAX_THREADS = 64, FINGERPRINT_TICK_MS = 100 };

struct fingerprint_job {
	const char *root;
	struct walk_list *l;
	atomic_size_t next;
	atomic_uint_fast64_t files_done, bytes_done;
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned running;	 /* workers not finished (under lock) */
	struct dew_error *error; /* the first error (under lock) */
};

static void fingerprint_fail(struct fingerprint_job *j, struct dew_error *e)
{
	pthread_mutex_lock(&j->lock);
	if (!j->error)
		j->error = e;
	else
		dew_error_free(e);
	pthread_mutex_unlock(&j->lock);
	atomic_store(&j->next, j->l->n); /* the others stop at their next file */
}

static void *fingerprint_worker(void *arg)
{
	struct fingerprint_job *j = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&j->next, 1);
		if (i >= j->l->n)
			break;
		struct walk_entry *e = &j->l->v[i];
		if (e->type != WALK_FILE || e->sha256[0])
			continue; /* a link, or a file the push cache knew */
		cleanup_free char *path = xasprintf("%s/%s", j->root, e->path);
		struct dew_error *err = NULL;
		uint64_t size = 0;
		if (dew_sha256_file(path, e->sha256, &size, &err) < 0) {
			fingerprint_fail(j, err);
			break;
		}
		if (size != e->size) {
			dew_error_set(&err, 0,
				      "`%s` changed while it was read (%llu bytes, then %llu): push again",
				      e->path, (unsigned long long)e->size, (unsigned long long)size);
			fingerprint_fail(j, err);
			break;
		}
		atomic_fetch_add(&j->files_done, 1);
		atomic_fetch_add(&j->bytes_done, size);
	}
	pthread_mutex_lock(&j->lock);
	if (--j->running == 0)
		pthread_cond_signal(&j->done);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

static unsigned fingerprint_threads(unsigned asked, size_t files)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = asked ? asked : (cpus > 0 ? (unsigned)cpus : 1);
	if (n > FINGERPRINT_MAX_THREADS)
		n = FINGERPRINT_MAX_THREADS;
	if (n > files)
		n = files ? (unsigned)files : 1;
	return n;
}

int fingerprint_all(const char *root, struct walk_list *l, unsigned threads, fingerprint_progress_fn progress,
		    void *arg, struct dew_error **err)
{
	struct fingerprint_job j = { .root = root, .l = l };
	pthread_t tids[FINGERPRINT_MAX_THREADS];
	size_t unhashed = 0;
	for (size_t i = 0; i < l->n; i++)
		unhashed += l->v[i].type == WALK_FILE && !l->v[i].sha256[0];
	if (unhashed == 0)
		return 0; /* every hash came from the push cache */
	unsigned n = fingerprint_threads(threads, unhashed);
	pthread_mutex_init(&j.lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j.done, &ca);
	pthread_condattr_destroy(&ca);
	j.running = n;
	unsigned started = 0;
	for (; started < n; started++)
		if (pthread_create(&tids[started], NULL, fingerprint_worker, &j) != 0)
			break;
	if (started == 0) {
		/* No thread could start: hash on this one. */
		j.running = 1;
		fingerprint_worker(&j);
	}
	pthread_mutex_lock(&j.lock);
	if (started > 0)
		j.running -= n - started; /* the threads that could not start */
	while (j.running > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += FINGERPRINT_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&j.done, &j.lock, &ts);
		if (progress && j.running > 0) {
			pthread_mutex_unlock(&j.lock);
			progress(atomic_load(&j.files_done), atomic_load(&j.bytes_done), arg);
			pthread_mutex_lock(&j.lock);
		}
	}
	pthread_mutex_unlock(&j.lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_cond_destroy(&j.done);
	pthread_mutex_destroy(&j.lock);
	if (j.error) {
		int code = j.error->code;
		*err = j.error;
		return -code;
	}
	if (progress)
		progress(atomic_load(&j.files_done), atomic_load(&j.bytes_done), arg);
	return 0;
}
