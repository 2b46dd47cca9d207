/* SPDX-License-Identifier: MIT */
/*
 * The parts of `dew push` (cmd-push.c) that talk about bits: what the controller's pool has
 * (push-upload.c, resource_match), the streamed upload of the rest, and the progress shown on
 * a terminal (push-progress.c).
 */
#ifndef DEW_CLI_PUSH_H
#define DEW_CLI_PUSH_H

#include <stdint.h>

#include "cli.h"
#include "walk.h"

/* What a push sent and what it did not need to. */
struct push_stats {
	uint64_t files, links, bytes;	       /* of the app */
	uint64_t matched_files, matched_bytes; /* already in the controller's pool */
	uint64_t upload_files, upload_bytes;   /* files (and symlinks) in the archive, their bytes */
	uint64_t sent;			       /* bytes of the bits request body */
	uint64_t match_sent;		       /* bytes of the resource_match request bodies */
	bool changed;			       /* the controller says the package changed */
};

/* Ask the controller which files of l its pool holds; sets their matched and fills st. 0, or -1
 * after printing why. */
int push_match(struct cli *cli, struct walk_list *l, struct push_stats *st);

struct push_progress;

/*
 * PUT the bits of app name: the matched files as the `resources` part, the others (and every
 * symlink) as an uncompressed tar in the `application` part, produced from root by a thread
 * while it is sent, never held in memory; the part is left out when every file matched. Sets
 * st->sent and st->changed; prog (may be NULL) sees the bytes sent. 0, or -1 after printing why.
 */
int push_upload(struct cli *cli, const char *name, const char *root, const struct walk_list *l,
		struct push_stats *st, struct push_progress *prog);

/* ---- progress (push-progress.c): on a terminal, redrawn with \r; else plain lines ---- */

struct push_progress {
	struct cli *cli;
	uint64_t total_files, total_bytes;
	uint64_t upload_total; /* bytes expected in the upload body (an estimate) */
	double last;	       /* when the line was last drawn */
	bool drawn;	       /* a \r line is on the screen */
};

void push_progress_init(struct push_progress *p, struct cli *cli, const struct walk_list *l);
/* A fingerprint_progress_fn. */
void push_progress_hashed(uint64_t files, uint64_t bytes, void *arg);
/* The hashing is done: a summary line. */
void push_progress_hashed_done(struct push_progress *p, double seconds);
/* The resource_match is done: "N files, X to upload, Y already on the controller". */
void push_progress_matched(struct push_progress *p, const struct push_stats *st);
/* A cli_progress_fn for the upload. */
void push_progress_upload(uint64_t sent, void *arg);
/* The upload is done. */
void push_progress_uploaded(struct push_progress *p, const struct push_stats *st, double seconds);

#endif
