// SPDX-License-Identifier: MIT
/*
 * Output: errors on stderr, human lines and aligned tables on stdout (silent with --json),
 * JSON documents, sizes, and ANSI colour only on a terminal without NO_COLOR.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "utf8.h"

int cli_error(struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	fputs("dew: ", cli->err);
	va_start(ap, fmt);
	vfprintf(cli->err, fmt, ap);
	va_end(ap);
	fputc('\n', cli->err);
	return CLI_FAIL;
}

int cli_usage_error(struct cli *cli, const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(cli->err, "dew %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(cli->err, fmt, ap);
	va_end(ap);
	fprintf(cli->err, "\nusage: dew %s %s\nrun `dew help %s` for the options\n", cmd->name, cmd->usage,
		cmd->name);
	return CLI_USAGE;
}

void cli_say(struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	if (cli->json)
		return;
	va_start(ap, fmt);
	vfprintf(cli->out, fmt, ap);
	va_end(ap);
	fputc('\n', cli->out);
	fflush(cli->out);
}

int cli_print_json(struct cli *cli, const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fprintf(cli->out, "%s\n", s ? s : "null");
	free(s);
	return CLI_OK;
}

struct cli_table {
	size_t n_cols, n_rows, cap;
	char **cells; /* n_rows * n_cols, row 0 the headers */
};

struct cli_table *cli_table_new(size_t n_cols, const char *const *headers)
{
	struct cli_table *t = xzalloc(sizeof(*t));
	t->n_cols = n_cols;
	cli_table_add(t, headers);
	return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->n_rows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->cells = xreallocarray(t->cells, t->cap * t->n_cols, sizeof(char *));
	}
	for (size_t i = 0; i < t->n_cols; i++)
		t->cells[t->n_rows * t->n_cols + i] = xstrdup(cells[i] ? cells[i] : "-");
	t->n_rows++;
}

/* Display width: UTF-8 code points (good enough for names, states and numbers). */
static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

void cli_table_print(struct cli *cli, struct cli_table *t)
{
	size_t *w = xcalloc(t->n_cols, sizeof(*w));
	for (size_t r = 0; r < t->n_rows; r++)
		for (size_t c = 0; c < t->n_cols; c++) {
			size_t cw = width(t->cells[r * t->n_cols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r < t->n_rows; r++) {
		if (r == 0 && cli->color)
			fputs("\033[1m", cli->out);
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *cell = t->cells[r * t->n_cols + c];
			bool last = c + 1 == t->n_cols;
			fputs(cell, cli->out);
			for (size_t pad = width(cell); !last && pad < w[c] + 2; pad++)
				fputc(' ', cli->out);
		}
		if (r == 0 && cli->color)
			fputs("\033[0m", cli->out);
		fputc('\n', cli->out);
	}
	free(w);
}

void cli_table_free(struct cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void cli_human_size(uint64_t bytes, char out[32])
{
	static const char *const units[] = { "B", "KB", "MB", "GB", "TB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, 32, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, 32, "%.1f %s", v, units[u]);
}

char *cli_paint(const struct cli *cli, const char *colour, const char *s)
{
	static const struct {
		const char *name, *code;
	} codes[] = { { "green", "32" }, { "red", "31" }, { "yellow", "33" }, { "bold", "1" } };
	if (cli->color)
		for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
			if (!strcmp(codes[i].name, colour))
				return xasprintf("\033[%sm%s\033[0m", codes[i].code, s);
	return xstrdup(s);
}
