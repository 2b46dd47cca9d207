// SPDX-License-Identifier: MIT
/*
 * dew push [NAME]: which apps (manifest.yml and the flags, which win), then for each one: walk
 * and fingerprint its directory (walk.c, fingerprint.c) before anything is sent, create the app
 * or update the fields that differ, upload what the pool lacks (push-upload.c), start or
 * restart it when needed and wait until every instance runs (wait.c). docs/cli.md tells the
 * user's side.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"
#include "manifest.h"
#include "push.h"

/* The command line of a push. */
struct push_flags {
	const char *name, *path, *manifest, *hostname;
	const char *buildpack, *command, *stack;
	int64_t instances, memory, disk;
	bool no_start, no_route, no_cache;
	bool overrides; /* a flag that sets a field of the app (all but -f and --no-start) */
};

static double push_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int push_flags_parse(struct cli *cli, const struct cli_args *a, struct push_flags *f)
{
	*f = (struct push_flags){ .instances = -1, .memory = -1, .disk = -1 };
	f->name = a->n_pos ? a->pos[0] : NULL;
	if (cli_opt_int(cli, a, "instances", 0, 10000, &f->instances) < 0 ||
	    cli_opt_mb(cli, a, "memory", &f->memory) < 0 || cli_opt_mb(cli, a, "disk", &f->disk) < 0)
		return CLI_USAGE;
	f->path = cli_opt(a, "path");
	f->manifest = cli_opt(a, "manifest");
	f->hostname = cli_opt(a, "hostname");
	f->buildpack = cli_opt(a, "buildpack");
	f->command = cli_opt(a, "command");
	f->stack = cli_opt(a, "stack");
	f->no_start = cli_flag(a, "no-start");
	f->no_route = cli_flag(a, "no-route");
	f->no_cache = cli_flag(a, "no-cache");
	f->overrides = f->path || f->hostname || f->buildpack || f->command || f->stack ||
		       f->instances >= 0 || f->memory >= 0 || f->disk >= 0 || f->no_route;
	if (f->no_route && f->hostname)
		return cli_usage_error(cli, cli_command_find("push"),
				       "--no-route and --hostname exclude each other");
	return 0;
}

static void push_set(char **field, const char *v)
{
	if (!v)
		return;
	free(*field);
	*field = xstrdup(v);
}

/* The flags over the one app to push. */
static void push_override(struct manifest_app *app, const struct push_flags *f)
{
	push_set(&app->path, f->path);
	push_set(&app->buildpack, f->buildpack);
	push_set(&app->command, f->command);
	push_set(&app->stack, f->stack);
	if (f->instances >= 0)
		app->instances = f->instances;
	if (f->memory >= 0)
		app->memory = f->memory;
	if (f->disk >= 0)
		app->disk = f->disk;
	if (f->no_route) {
		app->no_route = 1;
		json_decref(app->routes);
		app->routes = NULL;
	}
}

/* The apps to push, in m: from the manifest (-f, or manifest.yml of the app's directory) or the
 * command line alone. CLI_OK, CLI_USAGE or CLI_FAIL after saying why. */
static int push_plan(struct cli *cli, const struct push_flags *f, struct manifest *m)
{
	const struct cli_command *cmd = cli_command_find("push");
	cleanup_free char *found = xasprintf("%s/manifest.yml", f->path ? f->path : ".");
	const char *file = f->manifest;
	struct stat st;
	if (!file && stat(found, &st) == 0)
		file = found;
	*m = (struct manifest){ 0 };
	if (!file) {
		if (!f->name)
			return cli_usage_error(
				cli, cmd,
				"give the app's NAME, or push from a directory with a manifest.yml");
		m->apps = xcalloc(1, sizeof(*m->apps));
		m->n = 1;
		m->apps[0] = (struct manifest_app){ .name = xstrdup(f->name),
						    .path = xstrdup("."),
						    .memory = -1,
						    .disk = -1,
						    .instances = -1,
						    .no_route = -1 };
	} else {
		cleanup_error struct dew_error *err = NULL;
		if (manifest_load(file, m, cli->err, &err) < 0)
			return cli_error(cli, "%s", dew_error_msg(err));
		if (f->name && m->n == 1) {
			push_set(&m->apps[0].name, f->name); /* NAME names the manifest's only app */
		} else if (f->name) {
			size_t i = 0;
			while (i < m->n && strcmp(m->apps[i].name, f->name) != 0)
				i++;
			if (i == m->n)
				return cli_error(cli, "%s has no application named `%s`", file, f->name);
			manifest_select(m, i);
		} else if (m->n > 1 && f->overrides) {
			return cli_usage_error(cli, cmd,
					       "%s has %zu applications: name the one the flags are for "
					       "(flags other than -f and --no-start cannot apply to all)",
					       file, m->n);
		}
	}
	if (m->n == 1)
		push_override(&m->apps[0], f);
	return CLI_OK;
}

/* The fields of the app the manifest or the flags give (the others stay as they are). */
static json_t *push_fields(const struct manifest_app *app)
{
	json_t *o = json_object();
	if (app->instances >= 0)
		json_object_set_new(o, "instances", json_integer(app->instances));
	if (app->memory >= 0)
		json_object_set_new(o, "memory", json_integer(app->memory));
	if (app->disk >= 0)
		json_object_set_new(o, "disk", json_integer(app->disk));
	if (app->stack)
		json_object_set_new(o, "stack", json_string(app->stack));
	if (app->buildpack)
		json_object_set_new(o, "buildpack", json_string(app->buildpack));
	if (app->command)
		json_object_set_new(o, "command", json_string(app->command));
	if (app->env)
		json_object_set(o, "env", app->env);
	return o;
}

/* The routes asked for (a new reference), or NULL to leave them as they are. */
static json_t *push_routes(struct cli *cli, const struct push_flags *f, const struct manifest_app *app,
			   int *rc)
{
	*rc = CLI_OK;
	if (app->no_route == 1)
		return json_array();
	if (f->hostname) {
		json_auto_t *info = NULL;
		if (cli_call(cli, "GET", "/v1/info", NULL, &info) < 0) {
			*rc = CLI_FAIL;
			return NULL;
		}
		const char *domain = json_string_value(json_array_get(json_object_get(info, "domains"), 0));
		if (!domain) {
			*rc = cli_error(cli, "the controller names no domain for --hostname");
			return NULL;
		}
		return json_pack("[s++]", f->hostname, ".", domain);
	}
	return app->routes ? json_incref(app->routes) : NULL;
}

static int push_host_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Do two arrays of host names hold the same hosts? */
static bool push_same_hosts(const json_t *a, const json_t *b)
{
	size_t n = json_array_size(a);
	if (n != json_array_size(b))
		return false;
	cleanup_free const char **x = xcalloc(n + 1, sizeof(char *));
	cleanup_free const char **y = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		x[i] = json_string_value(json_array_get(a, i)) ?: "";
		y[i] = json_string_value(json_array_get(b, i)) ?: "";
	}
	qsort(x, n, sizeof(*x), push_host_cmp);
	qsort(y, n, sizeof(*y), push_host_cmp);
	for (size_t i = 0; i < n; i++)
		if (strcmp(x[i], y[i]) != 0)
			return false;
	return true;
}

/* What the update of an existing app changed, to know whether to restage or restart. */
struct push_change {
	bool created;
	bool restage; /* the buildpack or the stack changed */
	bool restart; /* memory, disk, command or env changed */
};

/* Create the app, or PUT the fields that differ: *app gets it. CLI_OK or CLI_FAIL. */
static int push_ensure_app(struct cli *cli, const struct push_flags *f, const struct manifest_app *ma,
			   json_t **app, struct push_change *ch)
{
	int rc;
	json_auto_t *routes = push_routes(cli, f, ma, &rc);
	if (rc != CLI_OK)
		return rc;
	json_auto_t *fields = push_fields(ma);
	cleanup_free char *path = cli_app_path(ma->name, NULL);
	struct cli_response r;
	if (cli_request(cli, "GET", path, NULL, &r) < 0)
		return CLI_FAIL;
	if (r.status == 404) {
		cli_response_free(&r);
		json_object_set_new(fields, "name", json_string(ma->name));
		if (routes)
			json_object_set(fields, "routes", routes);
		ch->created = true;
		cli_say(cli, "creating %s", ma->name);
		return cli_call(cli, "POST", "/v1/apps", fields, app) < 0 ? CLI_FAIL : CLI_OK;
	}
	if (r.status < 200 || r.status > 299) {
		cli_print_http_error(cli, &r);
		cli_response_free(&r);
		return CLI_FAIL;
	}
	json_auto_t *old = json_incref(r.json);
	cli_response_free(&r);
	json_auto_t *put = json_object();
	const char *key;
	json_t *v;
	json_object_foreach (fields, key, v) {
		if (json_equal(v, json_object_get(old, key)))
			continue;
		json_object_set(put, key, v);
		if (!strcmp(key, "buildpack") || !strcmp(key, "stack"))
			ch->restage = true;
		else if (strcmp(key, "instances") != 0)
			ch->restart = true;
	}
	if (routes && !push_same_hosts(routes, json_object_get(old, "routes")))
		json_object_set(put, "routes", routes);
	bool started = !strcmp(json_string_value(json_object_get(old, "state")) ?: "", "STARTED");
	if (f->no_start && started)
		json_object_set_new(put, "state", json_string("STOPPED"));
	if (!json_object_size(put)) {
		*app = steal_pointer(&old);
		return CLI_OK;
	}
	cli_say(cli, "updating %s", ma->name);
	return cli_call(cli, "PUT", path, put, app) < 0 ? CLI_FAIL : CLI_OK;
}

/* cli_wait_running; with --json its document is taken into *waited instead of printed, so that
 * push prints one document of its own. */
static int push_wait(struct cli *cli, const char *name, const json_t *app, json_t **waited)
{
	*waited = NULL;
	if (!cli->json)
		return cli_wait_running(cli, name, app);
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem)
		return cli_error(cli, "open_memstream: %s", strerror(errno));
	FILE *out = cli->out;
	cli->out = mem;
	int rc = cli_wait_running(cli, name, app);
	cli->out = out;
	fclose(mem);
	*waited = len ? json_loadb(buf, len, 0, NULL) : NULL;
	free(buf);
	return rc;
}

/* Start, restage or restart the app as its change needs, then wait for it. */
static int push_start(struct cli *cli, const char *name, json_t **app, const struct push_change *ch,
		      const struct push_stats *st, json_t **waited)
{
	cleanup_free char *path = cli_app_path(name, NULL);
	bool started = !strcmp(json_string_value(json_object_get(*app, "state")) ?: "", "STARTED");
	json_auto_t *body = NULL;
	if (!started)
		body = json_pack("{s:s}", "state", "STARTED");
	else if (!st->changed && ch->restage)
		body = json_pack("{s:b}", "restage", 1);
	else if (!st->changed && ch->restart)
		body = json_pack("{s:b}", "restart", 1);
	if (body && ch->restage)
		json_object_set_new(body, "restage", json_true());
	json_t *now = NULL;
	/* Without a PUT, a new package of a STARTED app is being staged already: read it again. */
	if (cli_call(cli, body ? "PUT" : "GET", path, body, &now) < 0)
		return CLI_FAIL;
	json_decref(*app);
	*app = now;
	cli_say(cli, "%s %s ...", !body ? "waiting for" : started ? "restarting" : "starting", name);
	return push_wait(cli, name, *app, waited);
}

/* The --json document of one app. */
static json_t *push_result(const char *name, const json_t *app, const json_t *waited,
			   const struct push_stats *st)
{
	json_t *w_app = json_object_get(waited, "app"), *w_inst = json_object_get(waited, "instances");
	return json_pack("{s:s, s:O, s:o, s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:b}}", "name",
			 name, "app", w_app ? w_app : (app ? app : json_null()), "instances",
			 w_inst ? json_incref(w_inst) : json_array(), "uploaded", "files",
			 (json_int_t)st->upload_files, "bytes", (json_int_t)st->upload_bytes, "matched",
			 "files", (json_int_t)st->matched_files, "bytes", (json_int_t)st->matched_bytes,
			 "sent", "bits", (json_int_t)st->sent, "resource_match", (json_int_t)st->match_sent,
			 "cache", "hashes", (json_int_t)st->cached, "package", st->reused);
}

/* The files' hashes: those of unchanged files from the push cache, the others computed. */
static int push_hash(struct cli *cli, const struct manifest_app *ma, struct walk_list *l,
		     const struct push_cache *cache, struct push_stats *st, struct push_progress *prog)
{
	cleanup_error struct dew_error *err = NULL;
	double t0 = push_now();
	st->cached = push_cache_fill(cache, l);
	prog->total_files = prog->total_bytes = 0; /* what is left to hash */
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].type == WALK_FILE && !l->v[i].sha256[0]) {
			prog->total_files++;
			prog->total_bytes += l->v[i].size;
		}
	if (fingerprint_all(ma->path, l, 0, push_progress_hashed, prog, &err) < 0)
		return cli_error(cli, "%s", dew_error_msg(err));
	push_progress_hashed_done(prog, st->cached, push_now() - t0);
	return CLI_OK;
}

/* Remember what this push learnt; a cache that cannot be written only costs the next push time. */
static void push_remember(struct cli *cli, struct push_cache *cache, const struct walk_list *l,
			  const char *digest, const struct push_stats *st)
{
	cleanup_error struct dew_error *err = NULL;
	if (push_cache_save(cache, l, digest, st->package[0] ? st->package : NULL, &err) < 0 && cli->verbose)
		fprintf(cli->err, "dew: could not save the push cache: %s\n", dew_error_msg(err));
}

/*
 * Hash the app's files, then the app and its bits: the package the push cache names when the
 * file list is the one pushed last time and the controller still holds it, else resource_match
 * and the upload of what the pool lacks. The start follows in push_one.
 */
static int push_bits(struct cli *cli, const struct push_flags *f, const struct manifest_app *ma,
		     struct walk_list *l, struct push_stats *st, json_t **app, struct push_change *ch)
{
	struct push_progress prog;
	*st = (struct push_stats){ .files = l->files, .links = l->links, .bytes = l->bytes };
	push_progress_init(&prog, cli, l);
	struct push_cache *cache = f->no_cache ? NULL : push_cache_open(cli, ma->name, ma->path);
	char digest[DEW_SHA256_HEX_LEN + 1];
	int rc = push_hash(cli, ma, l, cache, st, &prog);
	if (rc == CLI_OK)
		rc = push_ensure_app(cli, f, ma, app, ch);
	if (rc != CLI_OK)
		goto out;
	push_cache_digest(l, digest);
	const char *known = push_cache_package(cache, digest);
	int r = known ? push_package(cli, ma->name, known, st) : 1;
	if (r == 0) {
		push_progress_reused(&prog, st);
	} else if (r < 0 || push_match(cli, l, st) < 0) {
		rc = CLI_FAIL;
	} else {
		push_progress_matched(&prog, st);
		double t0 = push_now();
		if (push_upload(cli, ma->name, ma->path, l, st, &prog) < 0)
			rc = CLI_FAIL;
		else
			push_progress_uploaded(&prog, st, push_now() - t0);
	}
	if (rc == CLI_OK)
		push_remember(cli, cache, l, digest, st);
out:
	push_cache_free(cache);
	return rc;
}

/* Push one app; its --json document is appended to results. */
static int push_one(struct cli *cli, const struct push_flags *f, const struct manifest_app *ma,
		    json_t *results)
{
	cleanup_error struct dew_error *err = NULL;
	struct walk_list l;
	cli_say(cli, "pushing %s from %s", ma->name, ma->path);
	if (walk_app(ma->path, &l, &err) < 0)
		return cli_error(cli, "%s: %s", ma->name, dew_error_msg(err));
	if (l.n == 0) {
		walk_list_free(&l);
		return cli_error(cli, "%s: nothing to push in %s (every file is ignored, or there is none)",
				 ma->name, ma->path);
	}
	struct push_stats st = { 0 };
	struct push_change ch = { 0 };
	json_auto_t *app = NULL, *waited = NULL;
	int rc = push_bits(cli, f, ma, &l, &st, &app, &ch);
	walk_list_free(&l);
	if (rc != CLI_OK)
		return rc;
	if (f->no_start) {
		cli_say(cli, "%s pushed, not started (--no-start): `dew start %s` runs it", ma->name,
			ma->name);
	} else {
		rc = push_start(cli, ma->name, &app, &ch, &st, &waited);
	}
	json_array_append_new(results, push_result(ma->name, app, waited, &st));
	return rc;
}

int cmd_push(struct cli *cli, const struct cli_args *a)
{
	struct push_flags f;
	struct manifest m;
	int rc = push_flags_parse(cli, a, &f);
	if (rc != CLI_OK)
		return rc;
	rc = push_plan(cli, &f, &m);
	json_auto_t *results = json_array();
	for (size_t i = 0; rc == CLI_OK && i < m.n; i++)
		rc = push_one(cli, &f, &m.apps[i], results);
	/* One document: the app's for one app, a list of them for several. */
	if (cli->json && json_array_size(results))
		cli_print_json(cli, m.n == 1 ? json_array_get(results, 0) : results);
	manifest_free(&m);
	return rc;
}
