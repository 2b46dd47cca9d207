// SPDX-License-Identifier: MIT
/*
 * The staging executor: unpack the package, run the buildpack driver (`stage`) in a container
 * of the stack (network none, memory and time limits, as the app user), follow its log, read
 * its result and pack the droplet. Every failure says what kind it is and why in one line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "droplet.h"
#include "fs.h"
#include "json.h"
#include "random.h"
#include "staging.h"

enum {
	STAGE_UID = 1000,
	STAGE_TAIL_LINES = 10,
	STAGE_LINE_MAX = 4096,
};

static const char *const failure_names[] = {
	[DEW_STAGE_OK] = "staged",
	[DEW_STAGE_NO_BUILDPACK] = "no buildpack detected",
	[DEW_STAGE_UNKNOWN_BUILDPACK] = "unknown buildpack",
	[DEW_STAGE_COMPILE_FAILED] = "compile failed",
	[DEW_STAGE_RELEASE_INVALID] = "invalid release output",
	[DEW_STAGE_TIMEOUT] = "staging timed out",
	[DEW_STAGE_OOM] = "staging ran out of memory",
	[DEW_STAGE_TOO_BIG] = "staged app too large",
	[DEW_STAGE_BAD_PACKAGE] = "invalid app package",
	[DEW_STAGE_ERROR] = "staging error",
};

/* The driver's exit codes (stacks/buildpacks/stage, docs/buildpacks.md). */
static const struct {
	int code;
	enum dew_stage_failure failure;
} driver_exits[] = {
	{ 10, DEW_STAGE_NO_BUILDPACK },
	{ 11, DEW_STAGE_COMPILE_FAILED },
	{ 12, DEW_STAGE_RELEASE_INVALID },
	{ 13, DEW_STAGE_UNKNOWN_BUILDPACK },
};

const char *dew_stage_failure_name(enum dew_stage_failure f)
{
	return (size_t)f < DEW_ARRAY_SIZE(failure_names) ? failure_names[f] : "staging error";
}

/* chown dir and everything below it to the app user, never following a symlink. */
static int chown_tree(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	int r = 0;
	if (!d) {
		close(dfd);
		return -errno;
	}
	if (fchown(dirfd(d), STAGE_UID, STAGE_UID) < 0)
		r = -errno;
	for (struct dirent *e; r == 0 && (e = readdir(d));) {
		struct stat sb;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchownat(dirfd(d), e->d_name, STAGE_UID, STAGE_UID, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
		} else if (S_ISDIR(sb.st_mode) && depth < 64) {
			int sub =
				openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = sub < 0 ? -errno : chown_tree(sub, depth + 1);
		}
	}
	closedir(d);
	return r;
}

/* work/app (the unpacked package), work/run/{cache,out,buildpacks} mounted at /run. */
static int prepare(const struct dew_stage_request *req, struct dew_error **err)
{
	static const char *const dirs[] = { "run", "run/cache", "run/out", "run/buildpacks" };
	cleanup_free char *app = xasprintf("%s/app", req->work_dir);
	for (size_t i = 0; i < DEW_ARRAY_SIZE(dirs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", req->work_dir, dirs[i]);
		if (mkdir(p, 0755) < 0 || (i == 1 || i == 2 ? chown(p, STAGE_UID, STAGE_UID) : 0) < 0)
			return dew_error_set(err, errno, "prepare `%s`", p);
	}
	int r = dewrt_extract(req->package, app, NULL, err);
	if (r < 0)
		return dew_error_prefix(err, "unpack the app package");
	int dfd = open(app, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = dfd < 0 ? -errno : chown_tree(dfd, 0);
	return r < 0 ? dew_error_set(err, -r, "give `%s` to the app user", app) : 0;
}

static char **stage_env(const struct dew_stage_request *req)
{
	size_t n = 0, cap = 8;
	for (char *const *e = req->env; e && *e; e++)
		cap++;
	char **env = xcalloc(cap + 1, sizeof *env);
	env[n++] = xstrdup("HOME=/home/vcap/app");
	env[n++] = xstrdup("PATH=/usr/local/bin:/usr/bin:/bin");
	env[n++] = xstrdup("LANG=C.UTF-8");
	env[n++] = xasprintf("CF_STACK=%s", req->stack->name);
	env[n++] =
		xasprintf("MEMORY_LIMIT=%llum", (unsigned long long)(req->memory_mb ? req->memory_mb : 1024));
	env[n++] = xasprintf("VCAP_SERVICES=%s", req->services_json ? req->services_json : "{}");
	if (req->start_command)
		env[n++] = xasprintf("DEW_START_COMMAND=%s", req->start_command);
	/* The app's own variables last; the platform's VCAP_* names are not theirs to set. */
	for (char *const *e = req->env; e && *e; e++)
		if (strncmp(*e, "VCAP_", 5) != 0)
			env[n++] = xstrdup(*e);
	return env;
}

static struct dewrt_spec *stage_spec(const struct dew_stage_request *req)
{
	struct dewrt_spec *spec = xzalloc(sizeof *spec);
	char rnd[9];
	dew_random_hex(rnd, 4);
	spec->id = xasprintf("stage-%s", rnd);
	spec->hostname = xstrdup("staging");
	spec->cwd = xstrdup("/home/vcap/app");
	spec->app_dir = xasprintf("%s/app", req->work_dir);
	spec->uid = STAGE_UID;
	spec->gid = STAGE_UID;
	spec->net = DEWRT_NET_NONE;
	spec->limits.memory_mb = req->memory_mb ? req->memory_mb : 1024;
	spec->limits.pids = 1024;
	spec->limits.nofile = 16384;
	dew_stack_apply(req->stack, spec);
	/* /run holds the cache and output dirs; the buildpacks are bound read-only into it. */
	spec->mounts = xreallocarray(spec->mounts, spec->n_mounts + 2, sizeof *spec->mounts);
	spec->mounts[spec->n_mounts++] =
		(struct dewrt_mount){ xasprintf("%s/run", req->work_dir), xstrdup("/run"), false };
	spec->mounts[spec->n_mounts++] =
		(struct dewrt_mount){ xstrdup(req->buildpacks_dir), xstrdup("/run/buildpacks"), true };
	char *args[] = { "/bin/sh",
			 "/run/buildpacks/stage",
			 "/home/vcap/app",
			 "/run/cache",
			 "/run/out",
			 (char *)req->buildpack,
			 NULL };
	size_t n = req->buildpack ? 6 : 5;
	spec->args = xcalloc(n + 1, sizeof *spec->args);
	for (size_t i = 0; i < n; i++)
		spec->args[i] = xstrdup(args[i]);
	spec->env = stage_env(req);
	return spec;
}

/* Follows stdout.log and stderr.log of the staging container, line by line. */
struct follow {
	int fd[2];
	struct dew_buf part[2];
	char *tail[STAGE_TAIL_LINES]; /* the last lines, for error messages */
	size_t n_tail;
	const struct dew_stage_request *req;
};

static void follow_line(struct follow *f, const char *line, size_t len)
{
	cleanup_free char *copy = xstrndup(line, len < STAGE_LINE_MAX ? len : STAGE_LINE_MAX);
	if (f->req->on_log)
		f->req->on_log(copy, f->req->log_data);
	free(f->tail[f->n_tail % STAGE_TAIL_LINES]);
	f->tail[f->n_tail++ % STAGE_TAIL_LINES] = steal_pointer(&copy);
}

static void follow_pump(struct follow *f, const char *dir, bool final)
{
	static const char *const names[] = { "stdout.log", "stderr.log" };
	char buf[16384];
	for (int i = 0; i < 2; i++) {
		if (f->fd[i] < 0) {
			cleanup_free char *p = xasprintf("%s/%s", dir, names[i]);
			f->fd[i] = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (f->fd[i] < 0)
				continue;
		}
		ssize_t n;
		while ((n = read(f->fd[i], buf, sizeof buf)) > 0)
			dew_buf_append(&f->part[i], buf, (size_t)n);
		char *nl;
		while (f->part[i].len && (nl = memchr(f->part[i].data, '\n', f->part[i].len))) {
			follow_line(f, f->part[i].data, (size_t)(nl - f->part[i].data));
			dew_buf_consume(&f->part[i], (size_t)(nl - f->part[i].data) + 1);
		}
		if (final && f->part[i].len) {
			follow_line(f, f->part[i].data, f->part[i].len);
			dew_buf_reset(&f->part[i]);
		}
	}
}

/* The last log line (most often the driver's reason), or "" when there is none. */
static const char *follow_last(const struct follow *f)
{
	return f->n_tail ? f->tail[(f->n_tail - 1) % STAGE_TAIL_LINES] : "";
}

static void follow_close(struct follow *f)
{
	for (int i = 0; i < 2; i++) {
		if (f->fd[i] >= 0)
			close(f->fd[i]);
		dew_buf_close(&f->part[i]);
	}
	for (size_t i = 0; i < STAGE_TAIL_LINES; i++)
		free(f->tail[i]);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the container to its end (or the time limit); its final state into *out. */
static int run_container(struct dewrt_context *rt, const struct dewrt_spec *spec, struct follow *f,
			 uint64_t timeout_ms, bool *timed_out, struct dewrt_state **out,
			 struct dew_error **err)
{
	cleanup_free char *dir = xasprintf("%s/%s", rt->state_root, spec->id);
	int64_t deadline = now_ms() + (int64_t)timeout_ms;
	int r = dewrt_create(rt, spec, err);
	if (r == 0)
		r = dewrt_start(rt, spec->id, err);
	if (r < 0)
		return r;
	for (;;) {
		struct dewrt_state *st = NULL;
		follow_pump(f, dir, false);
		if (dewrt_state_read(rt, spec->id, &st, err) < 0)
			return -EIO;
		if (st->status == DEWRT_STOPPED) {
			follow_pump(f, dir, true);
			*out = st;
			return 0;
		}
		dewrt_state_free(st);
		if (now_ms() >= deadline && !*timed_out) {
			*timed_out = true;
			struct dew_error *kerr = NULL;
			if (dewrt_kill(rt, spec->id, SIGKILL, &kerr) < 0)
				dew_error_free(kerr);
		}
		poll(NULL, 0, 50);
	}
}

/* The driver's result.json: buildpack, start_command, process_types. */
static int read_result(const struct dew_stage_request *req, struct dew_stage_result *res,
		       struct dew_error **err)
{
	cleanup_free char *path = xasprintf("%s/run/out/result.json", req->work_dir);
	cleanup_free char *text = NULL;
	const char *bp, *cmd;
	json_t *pt = NULL;
	size_t len;
	int r = dew_read_file(path, 64 * 1024, &text, &len, err);
	if (r < 0)
		return r;
	json_t *o = dew_json_parse(text, len, err);
	if (!o)
		return dew_error_prefix(err, "result of the buildpack driver");
	if ((r = dew_json_get_string(o, "buildpack", DEW_JSON_REQUIRED, 64, &bp, err)) == 0 &&
	    (r = dew_json_get_string(o, "start_command", DEW_JSON_REQUIRED, 4096, &cmd, err)) == 0 &&
	    (r = dew_json_get_object(o, "process_types", DEW_JSON_OPTIONAL, &pt, err)) >= 0) {
		res->buildpack = xstrdup(bp);
		res->start_command = xstrdup(cmd);
		if (pt) {
			res->process_types = dew_json_dumps(pt);
		} else {
			json_t *web = json_pack("{s:s}", "web", cmd);
			res->process_types = dew_json_dumps(web);
			json_decref(web);
		}
		r = 0;
	}
	json_decref(o);
	return r < 0 ? dew_error_prefix(err, "result of the buildpack driver") : 0;
}

/*
 * One line for a driver failure: its own last line when that already says what went wrong
 * ("stage: no buildpack detected; tried: …"), else the failure's name in front of it.
 */
static int driver_failure(enum dew_stage_failure failure, const char *last, struct dew_error **err)
{
	const char *name = dew_stage_failure_name(failure);
	if (strncmp(last, "stage: ", 7) == 0)
		last += 7;
	if (strstr(last, name) || strstr(last, "failed"))
		return dew_error_set(err, 0, "%s", last);
	return dew_error_set(err, 0, "%s: %s", name, last);
}

/* Turn the container's end into a result or a failure with its reason. */
static int judge(const struct dew_stage_request *req, const struct dewrt_state *st, const struct follow *f,
		 bool timed_out, struct dew_stage_result *res, struct dew_error **err)
{
	if (timed_out) {
		res->failure = DEW_STAGE_TIMEOUT;
		return dew_error_set_code(err, ETIMEDOUT, "staging timed out after %llu s",
					  (unsigned long long)(req->timeout_ms / 1000));
	}
	/* The OOM killer may end a compile step rather than the driver: the cgroup counts it. */
	if (st->oom_killed || (st->exit_code != 0 && st->oom_kills > 0)) {
		res->failure = DEW_STAGE_OOM;
		return dew_error_set_code(err, ENOMEM, "staging ran out of memory (limit %llu MB)",
					  (unsigned long long)st->spec->limits.memory_mb);
	}
	if (st->error) {
		res->failure = DEW_STAGE_ERROR;
		return dew_error_set(err, 0, "staging could not start: %s", st->error);
	}
	for (size_t i = 0; i < DEW_ARRAY_SIZE(driver_exits); i++) {
		if (st->exit_code == driver_exits[i].code) {
			res->failure = driver_exits[i].failure;
			return driver_failure(res->failure, follow_last(f), err);
		}
	}
	if (st->exit_code != 0) {
		res->failure = DEW_STAGE_ERROR;
		return dew_error_set(err, 0, "the buildpack driver exited with status %d: %s", st->exit_code,
				     follow_last(f));
	}
	if (read_result(req, res, err) < 0) {
		res->failure = DEW_STAGE_RELEASE_INVALID;
		return -EINVAL;
	}
	return 0;
}

static int pack(const struct dew_stage_request *req, struct dew_stage_result *res, struct dew_error **err)
{
	json_t *pt = json_loads(res->process_types, 0, NULL);
	json_t *m = json_pack("{s:s, s:s, s:s, s:o}", "start_command", res->start_command, "buildpack",
			      res->buildpack, "stack", req->stack->name, "process_types",
			      pt ? pt : json_object());
	cleanup_free char *manifest = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	cleanup_free char *app = xasprintf("%s/app", req->work_dir);
	uint64_t max = (req->disk_mb ? req->disk_mb : 4096) << 20;
	int r = dew_droplet_pack(app, manifest, max, req->droplet, res->sha256, &res->size, err);
	if (r == -EFBIG)
		res->failure = DEW_STAGE_TOO_BIG;
	else if (r < 0)
		res->failure = DEW_STAGE_ERROR;
	return r < 0 ? dew_error_prefix(err, "pack the droplet") : 0;
}

int dew_stage(struct dewrt_context *rt, const struct dew_stage_request *req, struct dew_stage_result *res,
	      struct dew_error **err)
{
	struct follow f = { .fd = { -1, -1 }, .req = req };
	struct dewrt_state *st = NULL;
	bool timed_out = false;
	int r;

	memset(res, 0, sizeof *res);
	if ((r = prepare(req, err)) < 0) {
		res->failure = r == -ENOMEM || r == -EIO ? DEW_STAGE_ERROR : DEW_STAGE_BAD_PACKAGE;
		return r;
	}
	struct dewrt_spec *spec = stage_spec(req);
	r = run_container(rt, spec, &f, req->timeout_ms ? req->timeout_ms : 15 * 60 * 1000, &timed_out, &st,
			  err);
	if (r < 0)
		res->failure = DEW_STAGE_ERROR;
	else
		r = judge(req, st, &f, timed_out, res, err);
	if (r == 0)
		r = pack(req, res, err);
	struct dew_error *derr = NULL;
	if (dewrt_delete(rt, spec->id, true, &derr) < 0)
		dew_error_free(derr);
	dewrt_state_free(st);
	dewrt_spec_free(spec);
	follow_close(&f);
	return r;
}

void dew_stage_result_close(struct dew_stage_result *res)
{
	free(res->buildpack);
	free(res->start_command);
	free(res->process_types);
	memset(res, 0, sizeof *res);
}
