// SPDX-License-Identifier: MIT
/*
 * Unit tests of controller/store-sqlite.c in a private temporary directory: open migrates once
 * and reopening keeps the data; users, tokens, apps and routes with their uniqueness rules,
 * optimistic concurrency and cascades; what the file looks like to the sqlite3 shell; a write
 * acknowledged just before kill -9 is found after reopening; unusable paths fail clearly.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "fs.h"
#include "log.h"
#include "store.h"
#include "tap.h"
#include "testutil.h"

static struct store *open_store(const char *path)
{
	struct dew_error *err = NULL;
	struct store *s = NULL;
	int rc = store_open(path, &s, &err);

	if (!tap_is_int(rc, 0, "open %s", path))
		tap_diag("%s", dew_error_msg(err));
	dew_error_free(err);
	return s;
}

/* The message of a store_open expected to fail, or NULL when it succeeded. */
static char *open_fails(const char *path, int *rc)
{
	struct dew_error *err = NULL;
	struct store *s = NULL;
	char *msg;

	*rc = store_open(path, &s, &err);
	if (*rc == 0) {
		store_close(s);
		return NULL;
	}
	msg = xstrdup(dew_error_msg(err));
	dew_error_free(err);
	return msg;
}

/* One SQL statement through a separate connection, as an operator with the sqlite3 shell; the
 * first column of the first row as text (or "" / "(error: ...)"), freed by the caller. */
static char *raw_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *out;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		out = xstrdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
							 : "(null)");
	else if (rc == SQLITE_DONE)
		out = xstrdup("");
	else
		out = xasprintf("(error: %s)", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static struct store_app new_app(int64_t owner, const char *name)
{
	return (struct store_app){
		.owner_id = owner,
		.name = xstrdup(name),
		.instances = 2,
		.memory_mb = 256,
		.disk_mb = 1024,
		.stack = xstrdup("bookworm"),
		.env_json = xstrdup("{\"A\":\"b\"}"),
		.state = STORE_APP_STOPPED,
		.package_state = STORE_PACKAGE_PENDING,
	};
}

static int64_t make_user(struct store *s, const char *name)
{
	int64_t id = -1;
	struct dew_error *err = NULL;

	if (store_user_create(s, name, "$scrypt$hash", false, &id, &err) < 0)
		tap_diag("create user %s: %s", name, dew_error_msg(err));
	dew_error_free(err);
	return id;
}

static int64_t make_app(struct store *s, int64_t owner, const char *name, enum store_app_state state,
			int64_t instances, int64_t memory_mb)
{
	struct store_app a = new_app(owner, name);
	struct dew_error *err = NULL;

	a.state = state;
	a.instances = instances;
	a.memory_mb = memory_mb;
	if (store_app_create(s, &a, &err) < 0)
		tap_diag("create app %s: %s", name, dew_error_msg(err));
	dew_error_free(err);
	int64_t id = a.id;
	store_app_clear(&a);
	return id;
}

/* How often needle occurs in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
	cleanup_free char *data = test_slurp(path, NULL);
	int n = 0;

	for (const char *p = data ? strstr(data, needle) : NULL; p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_open(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/dew.db", dir);
	cleanup_free char *logpath = xasprintf("%s/log", dir);
	struct dew_error *err = NULL;
	struct store_user u;
	struct stat sb;
	int64_t n = -1;
	int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	dew_log_set_fd(logfd);
	struct store *s = open_store(path);
	if (!s) {
		dew_log_set_fd(STDERR_FILENO);
		close(logfd);
		return;
	}
	char *uv = raw_sql(path, "PRAGMA user_version");
	tap_ok(store_schema_version(s) >= 1, "schema version %d is at least 1", store_schema_version(s));
	tap_is_int(store_schema_version(s), atoi(uv), "schema version is the file's user_version");
	free(uv);
	tap_ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "the database is mode 0600");
	char *mode = raw_sql(path, "PRAGMA journal_mode");
	tap_is_str(mode, "wal", "journal mode is WAL");
	free(mode);
	tap_is_int(store_user_create(s, "alice", "h", true, NULL, &err), 0, "create a user before reopening");
	store_close(s);

	s = open_store(path);
	dew_log_set_fd(STDERR_FILENO);
	close(logfd);
	tap_is_int(count_in_file(logpath, "migrating"), 1, "the first open migrated, reopening did not");
	if (!s)
		return;
	tap_ok(store_schema_version(s) >= 1, "reopened at the same schema version");
	tap_is_int(store_user_get_by_name(s, "alice", &u, &err), 0, "the user survived reopening");
	tap_ok(u.admin, "and is still an admin");
	store_user_clear(&u);
	tap_ok(store_user_count(s, &n, &err) == 0 && n == 1, "one user");
	store_close(s);

	/* A database from a newer controller is refused, not downgraded. */
	free(raw_sql(path, "PRAGMA user_version = 1000"));
	int rc;
	char *msg = open_fails(path, &rc);
	tap_is_int(rc, -EIO, "a newer schema version is refused");
	tap_has_str(msg ? msg : "", "newer than this controller's", "the message says the schema is newer");
	tap_diag("%s", msg ? msg : "(opened)");
	free(msg);
	dew_error_free(err);
	/* The other tests' migrations need not be logged. */
	dew_log_setup("test-store", DEW_LOG_TEXT, DEW_LOG_WARNING);
}

static void test_bad_paths(const char *dir)
{
	cleanup_free char *garbage = xasprintf("%s/garbage.db", dir);
	cleanup_free char *file = xasprintf("%s/file", dir);
	cleanup_free char *under_file = xasprintf("%s/file/dew.db", dir);
	cleanup_free char *ro = xasprintf("%s/ro", dir);
	cleanup_free char *ro_db = xasprintf("%s/ro/dew.db", dir);
	static const char junk[] =
		"this is not an SQLite database, not at all, but long enough to have a header";
	struct dew_error *err = NULL;
	int rc;

	dew_write_file_atomic(garbage, junk, sizeof junk, 0600, &err);
	char *msg = open_fails(garbage, &rc);
	tap_is_int(rc, -EIO, "a file that is not a database is refused");
	tap_has_str(msg ? msg : "", "not a database", "the message says so");
	tap_has_str(msg ? msg : "", garbage, "and names the file");
	tap_diag("%s", msg ? msg : "(opened)");
	free(msg);

	dew_write_file_atomic(file, "x", 1, 0600, &err);
	msg = open_fails(under_file, &rc);
	tap_is_int(rc, -ENOTDIR, "a path under a regular file is refused");
	tap_has_str(msg ? msg : "", under_file, "the message names the path");
	tap_diag("%s", msg ? msg : "(opened)");
	free(msg);

	/* A read-only directory. Root ignores the mode, so the child drops to nobody first; the
	 * directories above must let nobody through, or the refusal would be for another reason. */
	cleanup_free char *top = xstrndup(dir, (size_t)(strrchr(dir, '/') - dir));
	mkdir(ro, 0555);
	chmod(dir, 0755);
	chmod(top, 0711);
	int p[2];
	if (pipe(p) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		/* The verdict goes through the pipe, not the exit status, which valgrind may change. */
		char line[600];
		close(p[0]);
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			snprintf(line, sizeof line, "skip");
		else {
			msg = open_fails(ro_db, &rc);
			snprintf(line, sizeof line, "%d %s", rc, msg ? msg : "(opened)");
		}
		if (write(p[1], line, strlen(line)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	char buf[600] = "";
	ssize_t len = 0, r;
	while (len < (ssize_t)sizeof buf - 1 && (r = read(p[0], buf + len, sizeof buf - 1 - (size_t)len)) > 0)
		len += r;
	buf[len] = '\0';
	close(p[0]);
	waitpid(pid, NULL, 0);
	if (strcmp(buf, "skip") == 0) {
		tap_skip("setuid", "cannot drop root to uid 65534", "a read-only directory is refused");
		tap_skip("setuid", "cannot drop root to uid 65534", "the message names the path");
		tap_skip("setuid", "cannot drop root to uid 65534", "and says why");
	} else {
		tap_is_int(atoi(buf), -EACCES, "a read-only directory is refused with -EACCES");
		tap_has_str(buf, ro_db, "the message names the path");
		tap_has_str(buf, "Permission denied", "and says why");
		tap_diag("%s", buf);
	}
	tap_ok(access(ro_db, F_OK) < 0, "nothing was created there");
	chmod(dir, 0700);
	chmod(top, 0700);
	dew_error_free(err);
}

static void test_users(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/dew.db", dir);
	struct store *s = open_store(path);
	struct dew_error *err = NULL;
	struct store_user u;
	int64_t a = -1, b = -1, n = -1;
	time_t before = time(NULL);

	if (!s)
		return;
	tap_ok(store_user_count(s, &n, &err) == 0 && n == 0, "no users in a new store");
	tap_is_int(store_user_create(s, "alice", "hash-a", true, &a, &err), 0, "create alice");
	tap_is_int(store_user_create(s, "bob", "hash-b", false, &b, &err), 0, "create bob");
	tap_ok(a > 0 && b > 0 && a != b, "distinct ids");
	tap_is_int(store_user_create(s, "alice", "other", false, NULL, &err), -EEXIST,
		   "a taken name is -EEXIST");
	tap_ok(err == NULL, "-EEXIST leaves *err unset");
	tap_is_int(store_user_get(s, b, &u, &err), 0, "get bob by id");
	tap_is_str(u.name, "bob", "name");
	tap_is_str(u.password_hash, "hash-b", "password hash");
	tap_ok(!u.admin, "bob is not an admin");
	tap_ok(u.created >= before && u.created <= time(NULL), "created is now");
	store_user_clear(&u);
	tap_is_int(store_user_get_by_name(s, "alice", &u, &err), 0, "get alice by name");
	tap_ok(u.id == a && u.admin, "alice's id and admin flag");
	store_user_clear(&u);
	tap_is_int(store_user_get(s, 9999, &u, &err), -ENOENT, "an unknown id is -ENOENT");
	tap_is_int(store_user_get_by_name(s, "carol", &u, &err), -ENOENT, "an unknown name is -ENOENT");
	tap_is_int(store_user_get_by_name(s, "ALICE", &u, &err), -ENOENT, "names are case-sensitive");
	tap_is_int(store_user_get_by_name(s, "alice' OR '1'='1", &u, &err), -ENOENT,
		   "a name with SQL in it is only a name");
	tap_ok(store_user_count(s, &n, &err) == 0 && n == 2, "two users");
	tap_is_int(store_user_create(s, NULL, "h", false, NULL, &err), -EINVAL, "a NULL name is -EINVAL");
	tap_has_str(dew_error_msg(err), "store: NOT NULL constraint failed", "with SQLite's reason");
	dew_error_clear(&err);
	store_close(s);
}

static void test_tokens(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/dew.db", dir);
	struct store *s = open_store(path);
	struct dew_error *err = NULL;
	int64_t uid = -1, exp = -1;

	if (!s)
		return;
	int64_t alice = make_user(s, "alice"), bob = make_user(s, "bob");
	tap_is_int(store_token_create(s, "aaaa", alice, 1000, &err), 0, "create a token");
	tap_is_int(store_token_create(s, "bbbb", alice, 3000, &err), 0, "create a second token");
	tap_is_int(store_token_create(s, "cccc", bob, 5000, &err), 0, "create bob's token");
	tap_is_int(store_token_create(s, "aaaa", bob, 1, &err), -EEXIST, "the same hash twice is -EEXIST");
	tap_is_int(store_token_create(s, "dddd", 4242, 1, &err), -ENOENT, "a token of no user is -ENOENT");
	tap_is_int(store_token_lookup(s, "aaaa", &uid, &exp, &err), 0, "look a token up");
	tap_ok(uid == alice && exp == 1000, "its user and expiry");
	tap_is_int(store_token_lookup(s, "zzzz", &uid, &exp, &err), -ENOENT, "an unknown token is -ENOENT");
	tap_is_int(store_token_delete(s, "bbbb", &err), 0, "delete a token");
	tap_is_int(store_token_lookup(s, "bbbb", &uid, &exp, &err), -ENOENT, "it is gone");
	tap_is_int(store_token_delete(s, "bbbb", &err), -ENOENT, "deleting it again is -ENOENT");
	tap_is_int(store_token_purge(s, 1000, &err), 0, "purge tokens expired before 1000");
	tap_is_int(store_token_lookup(s, "aaaa", &uid, &exp, &err), 0, "one expiring at 1000 stays");
	tap_is_int(store_token_purge(s, 1001, &err), 0, "purge tokens expired before 1001");
	tap_is_int(store_token_lookup(s, "aaaa", &uid, &exp, &err), -ENOENT, "now it is gone");
	tap_is_int(store_token_lookup(s, "cccc", &uid, &exp, &err), 0, "a later one stays");

	/* No API deletes users yet; the schema's cascade is checked the way an operator would. */
	cleanup_free char *del = xasprintf("DELETE FROM users WHERE id = %lld", (long long)bob);
	char *out = raw_sql(path, del);
	tap_is_str(out, "", "delete bob with the sqlite3 shell");
	free(out);
	tap_is_int(store_token_lookup(s, "cccc", &uid, &exp, &err), -ENOENT, "his tokens went with him");
	tap_ok(err == NULL, "no error message for -ENOENT");
	store_close(s);
}

static void test_apps(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/dew.db", dir);
	struct store *s = open_store(path);
	struct dew_error *err = NULL;
	struct store_app a, b, got;
	struct store_app *list;
	size_t n;
	int64_t apps = -1, mem = -1;
	time_t before = time(NULL);

	if (!s)
		return;
	int64_t alice = make_user(s, "alice"), bob = make_user(s, "bob");

	a = new_app(alice, "web");
	a.buildpack = xstrdup("python");
	tap_is_int(store_app_create(s, &a, &err), 0, "create an app");
	tap_ok(a.id > 0, "it has an id");
	tap_ok(a.guid && strlen(a.guid) == 36 && a.guid[14] == '4', "a UUID v4 guid");
	tap_ok(a.version && strlen(a.version) == 36 && strcmp(a.version, a.guid) != 0, "a UUID version");
	tap_is_int(a.revision, 1, "revision 1");
	tap_ok(a.created >= before && a.updated == a.created, "created = updated = now");

	tap_is_int(store_app_get(s, a.id, &got, &err), 0, "get it by id");
	tap_is_str(got.guid, a.guid, "guid");
	tap_is_str(got.name, "web", "name");
	tap_is_int(got.owner_id, alice, "owner");
	tap_ok(got.instances == 2 && got.memory_mb == 256 && got.disk_mb == 1024, "instances and limits");
	tap_is_str(got.stack, "bookworm", "stack");
	tap_is_str(got.buildpack, "python", "buildpack");
	tap_ok(got.command == NULL && got.package_sha256 == NULL && got.staging_error == NULL,
	       "unset strings stay NULL");
	tap_is_str(got.env_json, "{\"A\":\"b\"}", "env");
	tap_ok(got.state == STORE_APP_STOPPED && got.package_state == STORE_PACKAGE_PENDING, "states");
	tap_is_str(got.version, a.version, "version");
	store_app_clear(&got);
	tap_is_int(store_app_get_by_guid(s, a.guid, &got, &err), 0, "get it by guid");
	tap_is_int(got.id, a.id, "same app");
	store_app_clear(&got);
	tap_is_int(store_app_get_by_name(s, alice, "web", &got, &err), 0, "get it by owner and name");
	tap_is_int(got.id, a.id, "same app");
	store_app_clear(&got);
	tap_is_int(store_app_get_by_name(s, bob, "web", &got, &err), -ENOENT, "not by another owner's id");
	tap_is_int(store_app_get(s, 9999, &got, &err), -ENOENT, "an unknown id is -ENOENT");
	tap_is_int(store_app_get_by_guid(s, "nope", &got, &err), -ENOENT, "an unknown guid is -ENOENT");

	b = new_app(alice, "web");
	tap_is_int(store_app_create(s, &b, &err), -EEXIST, "the same name for the same owner is -EEXIST");
	tap_ok(b.guid == NULL && b.id == 0, "a refused create leaves the app untouched");
	b.owner_id = bob;
	tap_is_int(store_app_create(s, &b, &err), 0, "the same name for another owner is fine");
	b.owner_id = 4242;
	free(b.name);
	b.name = xstrdup("orphan");
	tap_is_int(store_app_create(s, &b, &err), -ENOENT, "an app of no user is -ENOENT");
	b.owner_id = bob;
	store_app_clear(&b);
	make_app(s, alice, "api", STORE_APP_STARTED, 3, 128);
	make_app(s, bob, "aaa", STORE_APP_STARTED, 1, 64);

	tap_is_int(store_app_list(s, alice, &list, &n, &err), 0, "list alice's apps");
	tap_ok(n == 2 && strcmp(list[0].name, "api") == 0 && strcmp(list[1].name, "web") == 0,
	       "two, by name");
	store_app_list_free(list, n);
	tap_is_int(store_app_list(s, -1, &list, &n, &err), 0, "list every app");
	tap_ok(n == 4 && strcmp(list[0].name, "aaa") == 0 && strcmp(list[1].name, "api") == 0 &&
		       strcmp(list[2].name, "web") == 0 && list[2].owner_id == alice &&
		       strcmp(list[3].name, "web") == 0 && list[3].owner_id == bob,
	       "four, by name then owner");
	store_app_list_free(list, n);
	tap_is_int(store_app_list(s, 4242, &list, &n, &err), 0, "list a user without apps");
	tap_ok(n == 0 && list == NULL, "none");

	/* Optimistic concurrency: two readers of revision 1, one writer wins. */
	struct store_app stale;
	tap_is_int(store_app_get(s, a.id, &stale, &err), 0, "a second copy of the app");
	a.state = STORE_APP_STARTED;
	a.instances = 4;
	free(a.command);
	a.command = xstrdup("python app.py");
	tap_is_int(store_app_update(s, &a, &err), 0, "update with the current revision");
	tap_is_int(a.revision, 2, "the revision is bumped");
	tap_ok(a.updated >= a.created, "updated is set");
	tap_is_int(store_app_get(s, a.id, &got, &err), 0, "read it back");
	tap_ok(got.revision == 2 && got.state == STORE_APP_STARTED && got.instances == 4,
	       "the update is stored");
	tap_is_str(got.command, "python app.py", "command");
	tap_is_str(got.guid, a.guid, "the guid did not change");
	store_app_clear(&got);
	stale.instances = 9;
	tap_is_int(store_app_update(s, &stale, &err), -ESTALE, "an update from a stale revision is -ESTALE");
	tap_is_int(stale.revision, 1, "and leaves the copy's revision alone");
	tap_ok(err == NULL, "-ESTALE leaves *err unset");
	tap_ok(store_app_get(s, a.id, &got, &err) == 0 && got.instances == 4,
	       "the stale write was not stored");
	store_app_clear(&got);
	store_app_clear(&stale);

	free(a.name);
	a.name = xstrdup("api");
	tap_is_int(store_app_update(s, &a, &err), -EEXIST, "a rename onto an existing name is -EEXIST");
	free(a.name);
	a.name = xstrdup("website");
	tap_is_int(store_app_update(s, &a, &err), 0, "a rename onto a free name works");
	tap_is_int(a.revision, 3, "revision 3");

	/* Enums are text for the sqlite3 shell. */
	cleanup_free char *q =
		xasprintf("SELECT state || ',' || package_state FROM apps WHERE id = %lld", (long long)a.id);
	char *out = raw_sql(path, q);
	tap_is_str(out, "STARTED,PENDING", "states are stored by name");
	free(out);

	tap_is_int(store_usage(s, alice, &apps, &mem, &err), 0, "alice's usage");
	tap_is_int(apps, 2, "two apps");
	tap_is_int(mem, 4 * 256 + 3 * 128, "memory of started instances");
	a.state = STORE_APP_STOPPED;
	tap_is_int(store_app_update(s, &a, &err), 0, "stop an app");
	tap_ok(store_usage(s, alice, &apps, &mem, &err) == 0 && apps == 2 && mem == 3 * 128,
	       "a stopped app counts as an app, not memory");
	tap_ok(store_usage(s, 4242, &apps, &mem, &err) == 0 && apps == 0 && mem == 0, "no usage for no apps");

	int64_t r1 = -1, r2 = -1;
	tap_ok(store_route_create(s, "web.example.com", a.id, alice, &r1, &err) == 0 &&
		       store_route_create(s, "www.example.com", a.id, alice, &r2, &err) == 0,
	       "two routes to the app");
	tap_is_int(store_app_delete(s, a.id, &err), 0, "delete the app");
	tap_is_int(store_app_get(s, a.id, &got, &err), -ENOENT, "it is gone");
	struct store_route *routes;
	tap_ok(store_route_list(s, a.id, -1, &routes, &n, &err) == 0 && n == 0, "its routes went with it");
	store_route_list_free(routes, n);
	tap_is_int(store_app_delete(s, a.id, &err), -ENOENT, "deleting it again is -ENOENT");
	tap_is_int(store_app_update(s, &a, &err), -ENOENT, "updating a deleted app is -ENOENT");
	a.state = 7;
	tap_is_int(store_app_create(s, &a, &err), -EINVAL, "an out-of-range state is -EINVAL");
	dew_error_clear(&err);
	store_app_clear(&a);
	store_close(s);
}

static void test_routes(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/dew.db", dir);
	struct store *s = open_store(path);
	struct dew_error *err = NULL;
	struct store_route r, *list;
	size_t n;
	int64_t id = -1, id2 = -1, id3 = -1;

	if (!s)
		return;
	int64_t alice = make_user(s, "alice"), bob = make_user(s, "bob");
	int64_t web = make_app(s, alice, "web", STORE_APP_STARTED, 1, 64);
	int64_t api = make_app(s, alice, "api", STORE_APP_STARTED, 1, 64);
	int64_t other = make_app(s, bob, "other", STORE_APP_STARTED, 1, 64);

	tap_is_int(store_route_create(s, "web.dew.example.com", web, alice, &id, &err), 0, "create a route");
	tap_is_int(store_route_create(s, "b.dew.example.com/v2", web, alice, &id2, &err), 0,
		   "create a route with a path");
	tap_is_int(store_route_create(s, "api.dew.example.com", api, alice, NULL, &err), 0,
		   "route another app");
	tap_is_int(store_route_create(s, "x.dew.example.com", other, bob, &id3, &err), 0, "bob's route");
	tap_is_int(store_route_create(s, "web.dew.example.com", other, bob, NULL, &err), -EEXIST,
		   "a host taken by another owner is -EEXIST");
	tap_is_int(store_route_create(s, "y.dew.example.com", 4242, bob, NULL, &err), -ENOENT,
		   "a route to no app is -ENOENT");
	tap_is_int(store_route_get_by_host(s, "web.dew.example.com", &r, &err), 0, "get a route by host");
	tap_ok(r.id == id && r.app_id == web && r.owner_id == alice, "its id, app and owner");
	store_route_clear(&r);
	tap_is_int(store_route_get_by_host(s, "nope.example.com", &r, &err), -ENOENT, "an unknown host");

	tap_is_int(store_route_list(s, web, -1, &list, &n, &err), 0, "list the routes of an app");
	tap_ok(n == 2 && strcmp(list[0].host, "b.dew.example.com/v2") == 0 &&
		       strcmp(list[1].host, "web.dew.example.com") == 0,
	       "two, by host");
	store_route_list_free(list, n);
	tap_is_int(store_route_list(s, -1, alice, &list, &n, &err), 0, "list the routes of an owner");
	tap_ok(n == 3 && strcmp(list[0].host, "api.dew.example.com") == 0, "three, by host");
	store_route_list_free(list, n);
	tap_is_int(store_route_list(s, -1, -1, &list, &n, &err), 0, "list every route");
	tap_ok(n == 4 && strcmp(list[3].host, "x.dew.example.com") == 0, "four");
	store_route_list_free(list, n);

	tap_is_int(store_route_delete(s, id, &err), 0, "delete a route");
	tap_is_int(store_route_get_by_host(s, "web.dew.example.com", &r, &err), -ENOENT, "it is gone");
	tap_is_int(store_route_delete(s, id, &err), -ENOENT, "deleting it again is -ENOENT");
	tap_is_int(store_route_create(s, "web.dew.example.com", other, bob, NULL, &err), 0,
		   "its host is free again");
	tap_ok(err == NULL, "no error message on the way");
	dew_error_free(err);
	store_close(s);
}

/* A child acknowledges a write and dies by SIGKILL without closing; the parent finds the write. */
static void test_crash(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/dew.db", dir);
	cleanup_free char *wal = xasprintf("%s/dew.db-wal", dir);
	struct dew_error *err = NULL;
	struct store *s = open_store(path);
	struct store_app got;
	int p[2];
	char guid[64] = "";

	if (!s)
		return;
	int64_t alice = make_user(s, "alice");
	store_close(s);
	if (pipe(p) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		struct store *cs = NULL;
		struct store_app a = new_app(alice, "survivor");
		close(p[0]);
		if (store_open(path, &cs, NULL) < 0 || store_app_create(cs, &a, NULL) < 0)
			_exit(1);
		/* The store acknowledged the write: tell the parent its guid, then die hard. */
		if (write(p[1], a.guid, strlen(a.guid)) < 0)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	close(p[1]);
	ssize_t len = read(p[0], guid, sizeof guid - 1);
	guid[len > 0 ? len : 0] = '\0';
	close(p[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && len == 36,
	       "the child wrote and was killed");
	struct stat sb;
	tap_ok(stat(wal, &sb) == 0 && sb.st_size > 0, "the write is still in the WAL (not checkpointed)");
	s = open_store(path);
	if (!s)
		return;
	tap_is_int(store_app_get_by_name(s, alice, "survivor", &got, &err), 0,
		   "the acknowledged app survived");
	tap_is_str(got.guid, guid, "with the guid the child was given");
	store_app_clear(&got);
	store_close(s);
	dew_error_free(err);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	cleanup_free char *dir = xasprintf("%s/dew-test-store.XXXXXX", base && *base ? base : "/tmp");
	struct dew_error *err = NULL;

	if (!mkdtemp(dir)) {
		tap_ok(false, "mkdtemp %s: %s", dir, strerror(errno));
		return tap_done();
	}
	const struct {
		const char *name;
		void (*fn)(const char *dir);
	} tests[] = {
		{ "open", test_open },	   { "bad", test_bad_paths }, { "users", test_users },
		{ "tokens", test_tokens }, { "apps", test_apps },     { "routes", test_routes },
		{ "crash", test_crash },
	};
	for (size_t i = 0; i < DEW_ARRAY_SIZE(tests); i++) {
		cleanup_free char *d = xasprintf("%s/%s", dir, tests[i].name);
		if (mkdir(d, 0700) < 0) {
			tap_ok(false, "mkdir %s: %s", d, strerror(errno));
			continue;
		}
		tests[i].fn(d);
	}
	if (dew_remove_tree(dir, &err) < 0)
		tap_diag("remove %s: %s", dir, dew_error_msg(err));
	dew_error_free(err);
	return tap_done();
}
