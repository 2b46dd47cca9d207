/* SPDX-License-Identifier: MIT */
/*
 * The DEA's file server (DESIGN.md section 6, `/files/<path>` of an instance): on the DEA's main
 * HTTP listener, `GET /instances/:instance/files/<path>` lists a directory (JSON) or sends a
 * file under one instance's directory, whose top level offers exactly `app` and `logs`.
 *
 * Auth: a token bound to the instance and an expiry, HMAC-SHA256 with a secret shared by the
 * DEA and the controller: `token = hex(HMAC(secret, "<instance_id>\n<expires>"))`, expires in
 * Unix seconds, sent as `Authorization: Bearer <expires>.<token>` or `?token=<expires>.<token>`.
 * The DEA mints tokens for dea.find.droplet replies; a controller holding the secret can mint
 * its own.
 *
 * Safety: the path is resolved below the instance directory with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) (fallback: component by component with O_NOFOLLOW, following only
 * symlinks whose target stays inside), so `..`, absolute symlinks and symlinks that leave the
 * instance are refused with 403; device files, fifos and sockets with 403 too.
 */
#ifndef DEW_DEA_FILES_H
#define DEW_DEA_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

enum { FILES_TOKEN_HEX = 64, FILES_SECRET_MIN = 16 };

struct files_ctx {
	const char *secret; /* at least FILES_SECRET_MIN bytes */
	/* The host directory whose `app` and `logs` entries are served for this instance id, or
	 * NULL when the DEA has no such instance (404). The string must live until the call returns. */
	const char *(*instance_dir)(void *data, const char *instance_id);
	void *data;
	int64_t (*now)(void); /* Unix seconds (tests inject a clock); NULL: time(NULL) */
	/* The HTTP server's loop: files over 64 KiB are streamed from it (dew_http_send_file). */
	uv_loop_t *loop;
};

/*
 * The routes of the file server, for the DEA's route table. The HTTP server's data
 * (req->server_data) must point to a struct files_ctx.
 */
extern const struct dew_http_route files_routes[];
extern const size_t files_n_routes;

/*
 * "<expires>.<hex hmac>" for instance_id, valid until expires (Unix seconds); caller frees.
 * NULL when secret is shorter than FILES_SECRET_MIN or expires is negative.
 */
char *files_token_mint(const char *secret, const char *instance_id, int64_t expires);
/* 0 when token is valid for instance_id at now; -EACCES (wrong) or -ETIMEDOUT (expired). */
int files_token_verify(const char *secret, const char *instance_id, const char *token, int64_t now);

#endif
