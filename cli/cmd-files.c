// SPDX-License-Identifier: MIT
/*
 * dew files NAME [PATH] [-i N] [--tail BYTES]: a directory of an instance (the top holds `app`
 * and `logs`) as a table of type, size and name, or a file's bytes to stdout as they arrive (a
 * large log is never held in memory). The controller answers a directory as JSON
 * {path, entries: [{name, type, size, mtime}], truncated} and a file as raw bytes; the
 * Content-Type tells them apart. --json prints a directory's JSON as the controller gave it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "commands.h"

enum { FILES_LISTING_MAX = 16 << 20 }; /* bytes of a directory listing (10,000 entries fit) */

const struct cli_option cli_files_options[] = {
	{ "instance", 'i', "N", "the instance index (default 0)" },
	{ "tail", 0, "BYTES", "only the last BYTES bytes of a file" },
	{ 0 },
};

struct files_read {
	struct cli *cli;
	char **content_type; /* set by the client before the first piece */
	bool listing;	     /* decided at the first piece */
	bool started;
	bool write_failed, too_big;
	struct dew_buf json;
};

static bool files_on_piece(const char *data, size_t len, void *arg)
{
	struct files_read *f = arg;
	if (!f->started) {
		f->started = true;
		f->listing = *f->content_type && !strncmp(*f->content_type, "application/json", 16);
	}
	if (f->listing) {
		if (f->json.len + len > FILES_LISTING_MAX) {
			f->too_big = true;
			return false;
		}
		dew_buf_append(&f->json, data, len);
		return true;
	}
	if (fwrite(data, 1, len, f->cli->out) != len) {
		f->write_failed = true;
		return false;
	}
	return true;
}

/* PATH percent-encoded for the URL, `/` kept, without leading slashes. */
static char *files_encode(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	struct dew_buf b = DEW_BUF_INIT;
	while (*path == '/')
		path++;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (strchr("/-._~", *p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9')) {
			dew_buf_putc(&b, (char)*p);
		} else {
			dew_buf_putc(&b, '%');
			dew_buf_putc(&b, hex[*p >> 4]);
			dew_buf_putc(&b, hex[*p & 15]);
		}
	}
	dew_buf_putc(&b, '\0');
	return dew_buf_steal(&b);
}

static int files_print_listing(struct cli *cli, const char *text, size_t len)
{
	json_auto_t *j = json_loadb(text, len, 0, NULL);
	json_t *entries = json_object_get(j, "entries"), *e;
	size_t i;
	if (!json_is_array(entries))
		return cli_error(cli, "the controller's directory listing is not the expected JSON");
	if (cli->json)
		return cli_print_json(cli, j);
	static const char *const head[] = { "type", "size", "name" };
	struct cli_table *t = cli_table_new(3, head);
	json_array_foreach (entries, i, e) {
		const char *type = json_string_value(json_object_get(e, "type")) ?: "?";
		const char *name = json_string_value(json_object_get(e, "name")) ?: "?";
		bool dir = !strcmp(type, "dir");
		char size[32];
		cli_human_size((uint64_t)json_integer_value(json_object_get(e, "size")), size);
		cleanup_free char *shown = xasprintf("%s%s", name, dir ? "/" : "");
		const char *row[] = { type, dir ? NULL : size, shown };
		cli_table_add(t, row);
	}
	cli_table_print(cli, t);
	cli_table_free(t);
	if (json_is_true(json_object_get(j, "truncated")))
		fprintf(cli->err, "dew: the listing was cut at %zu entries\n", json_array_size(entries));
	return CLI_OK;
}

int cmd_files(struct cli *cli, const struct cli_args *a)
{
	int64_t index = 0, tail = -1;
	if (cli_opt_int(cli, a, "instance", 0, 10000, &index) < 0 ||
	    cli_opt_int(cli, a, "tail", 0, INT64_MAX / 2, &tail) < 0)
		return CLI_USAGE;
	cleanup_free char *enc = files_encode(a->n_pos > 1 ? a->pos[1] : "");
	cleanup_free char *rest = xasprintf("files/%s?instance=%" PRId64, enc, index);
	if (tail >= 0) {
		char *with = xasprintf("%s&tail=%" PRId64, rest, tail);
		free(rest);
		rest = with;
	}
	cleanup_free char *path = cli_app_path(a->pos[0], rest);
	cleanup_free char *content_type = NULL;
	struct files_read f = { .cli = cli, .content_type = &content_type };
	int r = cli_stream_typed(cli, path, &content_type, files_on_piece, &f);
	fflush(cli->out);
	if (r == 0 && f.write_failed)
		r = cli_error(cli, "cannot write the file to standard output");
	else if (r == 0 && f.too_big)
		r = cli_error(cli, "the directory listing is over %d MB", FILES_LISTING_MAX >> 20);
	else if (r == 0 && f.listing)
		r = files_print_listing(cli, f.json.data, f.json.len);
	dew_buf_close(&f.json);
	return r < 0 ? CLI_FAIL : r;
}
