/* SPDX-License-Identifier: MIT */
/*
 * The DEA's HTTP transfers over libcurl: one set of settings for every transfer (http and https
 * only, redirects, timeouts), their failures as messages a user can act on, and downloads into a
 * file that hash the body while it streams and bound its size. Used by the droplet cache and by
 * staging (package download, droplet upload). Nothing here logs: the callers show URIs redacted.
 */
#ifndef DEW_DEA_FETCH_H
#define DEW_DEA_FETCH_H

#include <curl/curl.h>
#include <stdint.h>

#include "error.h"
#include "sha256.h"

/* Initialise libcurl once per process (later calls do nothing); call it at start-up. */
void fetch_init(void);

/* Make every transfer, running or future, fail with ECANCELED ("cancelled: the DEA is shutting
 * down") within a second: for a shutdown that must not wait for a slow download. */
void fetch_abort_all(void);

/*
 * A curl handle for uri with the settings every transfer shares: only http and https (redirects
 * too, at most 5), errors for HTTP statuses >= 400, timeout_ms for the whole transfer (0: none)
 * and for connecting (30 s at most), no signals. errbuf (CURL_ERROR_SIZE bytes, starting as "")
 * gets libcurl's message and must outlive the handle. Caller frees with curl_easy_cleanup; NULL on
 * out-of-memory.
 */
CURL *fetch_curl_new(const char *uri, uint64_t timeout_ms, char *errbuf);

/*
 * Set *err from a failed transfer (rc is not CURLE_OK): "HTTP 404", "timed out after N ms",
 * "protocol refused (only http and https): ..." or libcurl's message. Returns -errno.
 */
int fetch_curl_error(CURL *curl, CURLcode rc, uint64_t timeout_ms, const char *errbuf,
		     struct dew_error **err);

/*
 * GET uri (with the settings of fetch_curl_new) and write the body to fd; path names fd in
 * messages. Bodies over max_bytes are refused from Content-Length and again while streaming. On
 * success sha256 gets the body's hash; *size always gets the bytes written. Blocking; safe on any
 * thread after fetch_init. Returns 0, or -errno with *err "larger than N bytes", "write `path`"
 * or one of fetch_curl_error's; fd is left open either way.
 */
int fetch_to_fd(const char *uri, int fd, const char *path, uint64_t max_bytes, uint64_t timeout_ms,
		char sha256[DEW_SHA256_HEX_LEN + 1], uint64_t *size, struct dew_error **err);

#endif
