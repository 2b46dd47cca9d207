/* SPDX-License-Identifier: MIT */
/*
 * dew, the developer CLI (issue #8): the context every command gets, the command table, option
 * parsing, the controller client and the output helpers. One file per command (cmd-*.c); the
 * table in commands.c drives dispatch, `dew help` and the bash completion.
 *
 *   main.c        global options, dispatch, exit codes
 *   commands.c    the table of commands
 *   args.c        option parsing from a command's option table
 *   config.c      ~/.dew/config.json (DEW_HOME): target, token, user
 *   client.c      HTTP to the controller with libcurl: JSON requests, streams, uploads
 *   output.c      tables, --json, colour, sizes, progress lines
 *
 * Exit codes (dew(1)): 0 success, 1 failure, 2 usage error.
 */
#ifndef DEW_CLI_H
#define DEW_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	CLI_OK = 0,
	CLI_FAIL = 1,
	CLI_USAGE = 2,
};

/* ~/.dew/config.json */
struct cli_config {
	char *target; /* "http://api.example.com" (no trailing slash) */
	char *token;
	char *user;
};

struct cli {
	struct cli_config cfg;
	char *home; /* the directory of config.json: $DEW_HOME or ~/.dew */
	bool json;  /* --json: machine-readable output on stdout */
	bool tty;   /* stdout is a terminal */
	bool color; /* colour allowed: a terminal and NO_COLOR unset */
	bool verbose;
	FILE *out, *err;
};

/* ---- options ---- */

struct cli_option {
	const char *name; /* long name, "instances" */
	char short_name;  /* 'i', or 0 */
	const char *arg;  /* the argument's name in help ("N"), or NULL for a flag */
	const char *help;
};

/* A command line parsed against a command's options. */
struct cli_args {
	char **pos; /* positional arguments (borrowed from argv) */
	size_t n_pos;
	json_t *opts; /* option name -> string (with an argument) or true (a flag); repeated: last wins */
};

/* Option value by long name, or NULL. */
const char *cli_opt(const struct cli_args *a, const char *name);
bool cli_flag(const struct cli_args *a, const char *name);
/* Parse an option as a size in MB ("256", "256M", "1G", "512MB"): 0, or -1 after printing a
 * usage error naming the option. */
int cli_opt_mb(struct cli *cli, const struct cli_args *a, const char *name, int64_t *out);
/* Parse an option as an integer in [min, max]: 0, or -1 after printing a usage error. */
int cli_opt_int(struct cli *cli, const struct cli_args *a, const char *name, int64_t min, int64_t max,
		int64_t *out);

/* ---- commands ---- */

struct cli_command {
	const char *name;
	const char *usage;   /* after the name: "NAME [-i N] [-m MEM]" */
	const char *summary; /* one line */
	int (*run)(struct cli *cli, const struct cli_args *a);
	const struct cli_option *options; /* terminated by a zeroed entry; NULL: none */
	size_t min_pos, max_pos;	  /* positional arguments allowed */
	bool needs_target;		  /* the controller must be set (dew target) */
	bool needs_login;		  /* and a token must be held */
};

extern const struct cli_command cli_commands[];
extern const size_t cli_n_commands;
const struct cli_command *cli_command_find(const char *name);

/* Parse argv (after the command name) against cmd: 0, or CLI_USAGE after printing why. */
int cli_args_parse(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
		   struct cli_args *out);
void cli_args_free(struct cli_args *a);
/* Print "usage: dew NAME USAGE" and the options of cmd to f. */
void cli_usage(FILE *f, const struct cli_command *cmd);

/* ---- config ---- */

/* Load $DEW_HOME/config.json or ~/.dew/config.json (missing: empty). 0, or -1 after printing why. */
int cli_config_load(struct cli *cli);
/* Write it back (mode 0600, the directory 0700, atomically). 0, or -1 after printing why. */
int cli_config_save(struct cli *cli);
void cli_config_free(struct cli_config *c);

/* ---- the controller ---- */

struct cli_response {
	long status;  /* HTTP status; 0 when no answer came */
	json_t *json; /* the body when it is JSON, else NULL */
	char *body;   /* the body as received, NUL-terminated */
	size_t len;
};
void cli_response_free(struct cli_response *r);

/*
 * method path (under the target) with body (JSON, may be NULL) and the token. 0 with *r filled
 * for any HTTP answer; -1 after printing why no answer came ("cannot reach the controller at
 * URL: connection refused", "URL is not a dew controller").
 */
int cli_request(struct cli *cli, const char *method, const char *path, const json_t *body,
		struct cli_response *r);
/*
 * Like cli_request, but any answer other than 2xx is printed as an error ("not logged in or
 * token expired: run `dew login`" for 401, the controller's description otherwise) and gives -1.
 * On success *out (may be NULL) takes the JSON body.
 */
int cli_call(struct cli *cli, const char *method, const char *path, const json_t *body, json_t **out);
/* Print the error of a non-2xx answer as cli_call does. */
void cli_print_http_error(struct cli *cli, const struct cli_response *r);

/* Streamed GET: each piece of the body goes to fn as it arrives (fn returns false to stop). 0 when
 * the body ended or fn stopped; after printing the error, -1 when the controller answered with
 * an error status, -2 when no answer came or the connection broke. */
typedef bool (*cli_stream_fn)(const char *data, size_t len, void *arg);
int cli_stream(struct cli *cli, const char *path, cli_stream_fn fn, void *arg);
/* cli_stream that also hands out the answer's Content-Type in *content_type (caller frees; "" when
 * there was none), set before fn sees the first byte; NULL when no 2xx body came. */
int cli_stream_typed(struct cli *cli, const char *path, char **content_type, cli_stream_fn fn, void *arg);

/*
 * Upload: PUT path with a body produced by read (like curl's CURLOPT_READFUNCTION: fill up to
 * size bytes of buf, return how many, 0 at the end) sent chunked, with content_type. progress,
 * when not NULL, is called with the bytes sent so far. The answer as in cli_call.
 */
typedef size_t (*cli_read_fn)(char *buf, size_t size, void *arg);
typedef void (*cli_progress_fn)(uint64_t sent, void *arg);
int cli_upload(struct cli *cli, const char *path, const char *content_type, cli_read_fn read, void *arg,
	       cli_progress_fn progress, void *progress_arg, json_t **out);

/* "/v1/apps/<name>/<rest>" with name percent-encoded; rest may be NULL. Caller frees. */
char *cli_app_path(const char *name, const char *rest);

/* ---- waiting for an app (wait.c) ---- */

/*
 * After a start, restart, restage or scale of app name (its JSON in app): follow the staging log
 * when the package is PENDING, then poll the instances until every index of the current version
 * is RUNNING (CLI_OK), or staging failed, or an instance crashed (CLI_FAIL, with the reason and
 * the instance's last log lines), or DEW_WAIT_TIMEOUT seconds (default 180) passed. With --json
 * prints {app, instances} at the end. On a terminal the instance states are shown as they change.
 */
int cli_wait_running(struct cli *cli, const char *name, const json_t *app);

/* ---- output ---- */

/* Print an error line "dew: ..." to stderr. Returns CLI_FAIL. */
int cli_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a usage error "dew NAME: ..." plus "run `dew help NAME`". Returns CLI_USAGE. */
int cli_usage_error(struct cli *cli, const struct cli_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Print a line to stdout (suppressed with --json). */
void cli_say(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print j as JSON (pretty, one document) to stdout. Returns CLI_OK. */
int cli_print_json(struct cli *cli, const json_t *j);

/* An aligned table: columns separated by two spaces, header in bold on a colour terminal. */
struct cli_table;
struct cli_table *cli_table_new(size_t n_cols, const char *const *headers);
/* Add a row of n_cols cells (NULL prints as "-"). */
void cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli *cli, struct cli_table *t);
void cli_table_free(struct cli_table *t);

/* "1.5 MB", "300 B", "2.0 GB". */
void cli_human_size(uint64_t bytes, char out[32]);
/* Wrap s in an ANSI colour (when cli->color): "green", "red", "yellow", "bold"; caller frees. */
char *cli_paint(const struct cli *cli, const char *colour, const char *s);

#endif
