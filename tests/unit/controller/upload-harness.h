/* SPDX-License-Identifier: MIT */
/*
 * What the upload tests share (test-upload*.c): a blob store in a private directory, archives
 * built with libarchive's writer, multipart bodies, an upload fed whole, byte by byte or in
 * random chunks, the listing of a package's tar, and the app most tests upload.
 */
#ifndef DEW_TEST_UPLOAD_HARNESS_H
#define DEW_TEST_UPLOAD_HARNESS_H

#include <archive.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blobs.h"
#include "buf.h"
#include "testarchive.h"
#include "upload.h"

#define BOUNDARY "----dewBoundary7MA4YWxkTrZu0gW"
#define CT "multipart/form-data; boundary=" BOUNDARY
#define SHA_ZERO "0000000000000000000000000000000000000000000000000000000000000000"

enum fmt { TAR, TAR_GZ, ZIP };
extern const char *const fmt_names[];

enum chunking { WHOLE, BYTES, RANDOM };

/* What an upload gave. */
struct result {
	int rc;
	char sha[65];
	uint64_t files;
	char *msg;
};

/* One part of a multipart body. */
struct part {
	const char *name;
	const char *data;
	size_t len;
	const char *headers; /* extra header lines, each ending in CRLF */
};

extern const char *tmp; /* the private temporary directory */
extern char *dir;	/* the blob store */
extern struct blobs *blobs;
extern char *big;	       /* 300 KiB of noise: spans many blocks and reads */
extern char *tricky;	       /* content full of near-delimiters */
extern struct test_ent app[8]; /* nested files, an executable, a symlink, directories, an empty file */
extern const size_t app_n;
extern char *app_sha; /* its package */
extern char *app_listing;

/* Open the store in a private directory named after the test, make the contents: false on failure. */
bool harness_setup(const char *name);
/* Upload the app (tar) and set app_sha and app_listing (one assertion). */
void harness_first_upload(void);
/* Close the store, free the contents, print the plan: main's return value. */
int harness_done(void);

/* Entries of the directory rel of the store; blobs in the pool. */
int count_in(const char *rel);
int count_pool(void);
/* The SHA-256 of a C string, in hex; caller frees. */
char *hex_of(const char *data);
/* n bytes of fast pseudo-random noise (xorshift64 from *s). */
void noise_fill(char *buf, size_t n, uint64_t *s);

/* A writer for fmt appending to out (or writing to path when out is NULL). */
struct archive *writer(enum fmt f, struct dew_buf *out, const char *path);
/* An archive of ents in format f, in a buffer. */
struct dew_buf build(enum fmt f, const struct test_ent *ents, size_t n);
/* A multipart body with these parts; preamble and epilogue may be NULL. */
struct dew_buf body_of(const char *boundary, const char *preamble, const struct part *parts, size_t n,
		       const char *epilogue);
/* The usual body: resources JSON (or NULL for no part) and an archive (or NULL). */
struct dew_buf app_body(const char *resources, const struct dew_buf *arc);
/* Upload body with content type ct, fed as chunking says. */
struct result run(const char *ct, const char *body, size_t len, enum chunking c, unsigned seed,
		  const struct upload_limits *lim);
struct result run_body(const struct dew_buf *body, enum chunking c, const struct upload_limits *lim);
/* Upload ents as an archive of format f, with resources (NULL: no part). */
struct result upload_ents(enum fmt f, const struct test_ent *ents, size_t n, const char *resources,
			  const struct upload_limits *lim);
void result_free(struct result *r);

/* One line per entry of package sha's tar (written from its manifest first). */
char *package_listing(const char *sha);
/* name without empty and "." components, as the package holds it. */
char *norm(const char *name);
/* The listing the package of ents must have: files and links sorted, fixed metadata. */
char *expected_listing(const struct test_ent *ents, size_t n);
/* A resources JSON array for some of ents (by index). */
char *resources_for(const struct test_ent *ents, const size_t *idx, size_t n);

/* An upload refused with code and a message containing needle; no package, nothing in tmp/. */
void refused(const char *what, const struct dew_buf *body, const struct upload_limits *lim, int code,
	     const char *needle);
void refuse_ents(const char *what, enum fmt f, const struct test_ent *ents, size_t n, const char *resources,
		 const struct upload_limits *lim, int code, const char *needle);

#define REFUSE(what, f, code, needle, ...)                                                                   \
	do {                                                                                                 \
		const struct test_ent ents_[] = { __VA_ARGS__ };                                             \
		refuse_ents(what, f, ents_, DEW_ARRAY_SIZE(ents_), NULL, NULL, code, needle);                \
	} while (0)

#endif
