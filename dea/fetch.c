// SPDX-License-Identifier: MIT
/*
 * HTTP transfers with libcurl (fetch.h): the shared handle settings, failures as messages, and
 * streaming downloads into a file descriptor, hashed and size-bounded as they arrive.
 */
#include "fetch.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

enum {
	FETCH_CONNECT_TIMEOUT_MS = 30000,
	FETCH_MAX_REDIRS = 5,
};

/* The state of one download, handed to the write callback. */
struct fetch_download {
	int fd;
	struct dew_sha256 hash;
	uint64_t size, max_bytes;
	int write_errno; /* set when writing to fd failed */
	bool too_big;
};

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		abort(); /* only fails on out-of-memory */
}

/* Initialise libcurl once (see fetch.h). */
void fetch_init(void)
{
	pthread_once(&fetch_once, fetch_global_init);
}

/* Set once the process is shutting down: every transfer then ends at its next progress call. */
static atomic_bool fetch_aborted;

void fetch_abort_all(void)
{
	atomic_store(&fetch_aborted, true);
}

static int fetch_on_progress(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			     curl_off_t ulnow)
{
	return atomic_load(&fetch_aborted) ? 1 : 0;
}

/* A handle with the settings every transfer shares (see fetch.h). */
CURL *fetch_curl_new(const char *uri, uint64_t timeout_ms, char *errbuf)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, uri);
	/* The URIs come from bus messages: never let them read local files or speak other protocols. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRS);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for resolver timeouts */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms && timeout_ms < FETCH_CONNECT_TIMEOUT_MS
					? timeout_ms
					: FETCH_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "dew-dea");
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, fetch_on_progress);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	return c;
}

/* A failed transfer as one message naming what the user can act on (see fetch.h). */
int fetch_curl_error(CURL *curl, CURLcode rc, uint64_t timeout_ms, const char *errbuf, struct dew_error **err)
{
	long status = 0;

	switch (rc) {
	case CURLE_HTTP_RETURNED_ERROR:
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		return dew_error_set_code(err, EIO, "HTTP %ld", status);
	case CURLE_ABORTED_BY_CALLBACK:
		return dew_error_set(err, ECANCELED, "cancelled: the DEA is shutting down");
	case CURLE_OPERATION_TIMEDOUT:
		return dew_error_set_code(err, ETIMEDOUT, "timed out after %" PRIu64 " ms", timeout_ms);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return dew_error_set_code(err, EPROTONOSUPPORT, "protocol refused (only http and https): %s",
					  *errbuf ? errbuf : curl_easy_strerror(rc));
	default:
		return dew_error_set_code(err, EIO, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
	}
}

static size_t fetch_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct fetch_download *dl = userdata;
	size_t len = size * nmemb, off = 0;

	if (len > dl->max_bytes - dl->size) {
		dl->too_big = true;
		return 0; /* a short count makes curl fail with CURLE_WRITE_ERROR */
	}
	while (off < len) {
		ssize_t k = write(dl->fd, data + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			dl->write_errno = errno;
			return 0;
		}
		off += (size_t)k;
	}
	dew_sha256_update(&dl->hash, data, len);
	dl->size += len;
	return len;
}

/* Stream uri into fd, hashing it (see fetch.h). */
int fetch_to_fd(const char *uri, int fd, const char *path, uint64_t max_bytes, uint64_t timeout_ms,
		char sha256[DEW_SHA256_HEX_LEN + 1], uint64_t *size, struct dew_error **err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct fetch_download dl = { .fd = fd, .max_bytes = max_bytes };
	CURL *c = fetch_curl_new(uri, timeout_ms, errbuf);
	CURLcode rc;
	int r = 0;

	*size = 0;
	if (!c)
		return dew_error_set_code(err, ENOMEM, "cannot create a curl handle");
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &dl);
	dew_sha256_init(&dl.hash);
	rc = curl_easy_perform(c);
	/* CURLE_FILESIZE_EXCEEDED comes from Content-Length; too_big is the same while streaming. */
	if (rc != CURLE_OK && (dl.too_big || rc == CURLE_FILESIZE_EXCEEDED))
		r = dew_error_set_code(err, EFBIG, "larger than %" PRIu64 " bytes", max_bytes);
	else if (rc != CURLE_OK && dl.write_errno)
		r = dew_error_set(err, dl.write_errno, "write `%s`", path);
	else if (rc != CURLE_OK)
		r = fetch_curl_error(c, rc, timeout_ms, errbuf, err);
	if (r == 0)
		dew_sha256_final(&dl.hash, sha256);
	dew_sha256_close(&dl.hash);
	curl_easy_cleanup(c);
	*size = dl.size;
	return r;
}
