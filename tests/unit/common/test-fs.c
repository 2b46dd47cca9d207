// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/fs.c in a private temporary directory: atomic replacement (content,
 * mode, no temporary files left, old file intact on failure), mkdir -p, bounded reads, whole
 * writes and directory fsync.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "fs.h"
#include "tap.h"
#include "testutil.h"

static void test_atomic(const char *tmp)
{
	cleanup_free char *dir = xasprintf("%s/atomic", tmp);
	cleanup_free char *path = xasprintf("%s/state.json", dir);
	struct dew_error *err = NULL;
	struct stat st;

	mkdir(dir, 0755);
	tap_is_int(dew_write_file_atomic(path, "old", 3, 0640, &err), 0, "atomic write creates a file");
	char *s = test_slurp(path, NULL);
	tap_is_str(s, "old", "content written");
	free(s);
	tap_ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640, "mode 0640 applied");

	tap_is_int(dew_write_file_atomic(path, "new content", 11, 0600, &err), 0, "atomic write replaces");
	s = test_slurp(path, NULL);
	tap_is_str(s, "new content", "content replaced");
	free(s);
	tap_ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "mode 0600 applied");
	tap_is_int(test_count_entries(dir), 1, "no temporary file left behind");

	tap_is_int(dew_write_file_atomic(path, "", 0, 0644, &err), 0, "empty content");
	tap_ok(stat(path, &st) == 0 && st.st_size == 0, "file is empty");

	/* Relative path: the temporary file goes in the current directory. */
	cleanup_free char *cwd = getcwd(NULL, 0);
	if (chdir(dir) == 0) {
		tap_is_int(dew_write_file_atomic("rel.txt", "r", 1, 0644, &err), 0, "relative path");
		tap_ok(chdir(cwd) == 0, "back to the old directory");
	}
	tap_is_int(test_count_entries(dir), 2, "relative write left only its file");
	dew_error_clear(&err);
}

/*
 * Try to replace path as an unprivileged user: as root, in a child that drops to nobody (root
 * would write anyway). Returns the result of dew_write_file_atomic(), or -EPERM when privileges
 * cannot be dropped.
 */
static int write_unprivileged(const char *path)
{
	struct dew_error *err = NULL;
	int status, r;

	if (geteuid() != 0) {
		r = dew_write_file_atomic(path, "clobbered", 9, 0644, &err);
		if (r < 0 && !strstr(dew_error_msg(err), "create temporary file"))
			tap_diag("unexpected message: %s", dew_error_msg(err));
		dew_error_free(err);
		return r;
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(100);
		r = dew_write_file_atomic(path, "clobbered", 9, 0644, &err);
		_exit(r == -EACCES ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -ECHILD;
	if (WEXITSTATUS(status) == 100)
		return -EPERM;
	return WEXITSTATUS(status) == 0 ? -EACCES : -EIO;
}

static void test_atomic_failures(const char *tmp)
{
	cleanup_free char *dir = xasprintf("%s/fail", tmp);
	cleanup_free char *path = xasprintf("%s/keep", dir);
	cleanup_free char *sub = xasprintf("%s/sub", dir);
	struct dew_error *err = NULL;

	mkdir(dir, 0755);
	tap_is_int(dew_write_file_atomic(path, "precious", 8, 0644, &err), 0, "write the old file");

	/* The target is a directory: rename(2) fails, the temporary file must go. */
	mkdir(sub, 0755);
	int r = dew_write_file_atomic(sub, "x", 1, 0644, &err);
	tap_ok(r < 0, "writing over a directory fails (%d)", r);
	tap_has_str(dew_error_msg(err), sub, "message names the path");
	dew_error_clear(&err);
	tap_is_int(test_count_entries(dir), 2, "no temporary file left after a failed rename");

	/* A write that fails half-way: the file size limit cuts it short (root included). */
	struct rlimit old_lim, lim;
	getrlimit(RLIMIT_FSIZE, &old_lim);
	lim = old_lim;
	lim.rlim_cur = 1024;
	signal(SIGXFSZ, SIG_IGN);
	cleanup_free char *big = xzalloc(8192);
	tap_ok(setrlimit(RLIMIT_FSIZE, &lim) == 0, "limit the file size to 1 KiB");
	r = dew_write_file_atomic(path, big, 8192, 0644, &err);
	setrlimit(RLIMIT_FSIZE, &old_lim);
	tap_is_int(r, -EFBIG, "a short write fails");
	tap_has_str(dew_error_msg(err), "write `", "message says what failed");
	dew_error_clear(&err);
	tap_is_int(test_count_entries(dir), 2, "no temporary file left after a failed write");

	/* A directory without write permission. */
	tap_ok(chmod(dir, 0555) == 0, "make the directory read-only");
	r = write_unprivileged(path);
	if (r == -EPERM)
		tap_skip("setuid", "cannot drop privileges to test permissions",
			 "read-only directory refuses");
	else
		tap_is_int(r, -EACCES, "read-only directory refuses");
	chmod(dir, 0755);
	char *s = test_slurp(path, NULL);
	tap_is_str(s, "precious", "old file intact after failures");
	free(s);
	tap_is_int(test_count_entries(dir), 2, "still no temporary files");

	cleanup_free char *missing = xasprintf("%s/no/such/dir/file", tmp);
	tap_is_int(dew_write_file_atomic(missing, "x", 1, 0644, &err), -ENOENT, "missing directory");
	dew_error_clear(&err);
	tap_ok(dew_write_file_atomic("/", "x", 1, 0644, &err) < 0, "path without a file name");
	dew_error_clear(&err);
}

static void test_mkdir(const char *tmp)
{
	cleanup_free char *deep = xasprintf("%s/m/a/b//c/", tmp);
	cleanup_free char *c = xasprintf("%s/m/a/b/c", tmp);
	cleanup_free char *file = xasprintf("%s/m/file", tmp);
	cleanup_free char *under = xasprintf("%s/m/file/x/y", tmp);
	struct dew_error *err = NULL;
	struct stat st;

	tap_is_int(dew_mkdir_p(deep, 0755, &err), 0, "nested directories created");
	tap_ok(stat(c, &st) == 0 && S_ISDIR(st.st_mode), "the deepest one exists");
	tap_is_int(dew_mkdir_p(c, 0755, &err), 0, "existing directories are fine");
	tap_is_int(dew_mkdir_p("/", 0755, &err), 0, "/ is fine");

	tap_is_int(dew_write_file_atomic(file, "", 0, 0644, &err), 0, "create a file in the way");
	tap_is_int(dew_mkdir_p(under, 0755, &err), -ENOTDIR, "a file in the way is ENOTDIR");
	cleanup_free char *want = xasprintf("`%s` is not a directory", file);
	tap_has_str(dew_error_msg(err), want, "message names the file in the way");
	dew_error_clear(&err);
	tap_is_int(dew_mkdir_p(file, 0755, &err), -ENOTDIR, "the path itself is a file");
	dew_error_clear(&err);
	tap_is_int(dew_mkdir_p("", 0755, &err), -EINVAL, "empty path");
	dew_error_clear(&err);
}

static void test_read(const char *tmp)
{
	cleanup_free char *path = xasprintf("%s/r", tmp);
	cleanup_free char *missing = xasprintf("%s/missing", tmp);
	struct dew_error *err = NULL;
	char *data = NULL;
	size_t len = 0;

	tap_is_int(dew_write_file_atomic(path, "0123456789", 10, 0644, &err), 0, "write a 10-byte file");
	tap_is_int(dew_read_file(path, 10, &data, &len, &err), 0, "read at exactly the limit");
	tap_is_int((int)len, 10, "length");
	tap_ok(data && data[10] == '\0' && memcmp(data, "0123456789", 10) == 0, "content, NUL-terminated");
	free(data);
	data = NULL;

	tap_is_int(dew_read_file(path, 9, &data, &len, &err), -EFBIG, "one byte over the limit is EFBIG");
	cleanup_free char *want = xasprintf("file `%s` is larger than 9 bytes", path);
	tap_is_str(dew_error_msg(err), want, "EFBIG message");
	tap_is_int(err ? err->code : 0, EFBIG, "error code EFBIG");
	dew_error_clear(&err);
	tap_ok(data == NULL, "nothing handed out");

	/* A file whose size stat does not know: /proc reports 0. */
	tap_is_int(dew_read_file("/proc/self/status", 1 << 20, &data, NULL, &err), 0, "read a /proc file");
	tap_has_str(data, "Name:", "proc content");
	free(data);
	data = NULL;
	tap_is_int(dew_read_file("/proc/self/status", 16, &data, NULL, &err), -EFBIG,
		   "proc file over the limit");
	dew_error_clear(&err);

	tap_is_int(dew_read_file(missing, 10, &data, NULL, &err), -ENOENT, "missing file");
	tap_has_str(dew_error_msg(err), missing, "message names the file");
	dew_error_clear(&err);
	tap_is_int(dew_read_file(tmp, 10, &data, NULL, &err), -EISDIR, "a directory cannot be read");
	dew_error_clear(&err);

	tap_is_int(dew_write_file_atomic(path, "", 0, 0644, &err), 0, "empty file");
	tap_is_int(dew_read_file(path, 0, &data, &len, &err), 0, "read an empty file with max 0");
	tap_ok(data && data[0] == '\0' && len == 0, "empty content");
	free(data);
}

static void test_write_all(const char *tmp)
{
	cleanup_free char *path = xasprintf("%s/writes", tmp);
	cleanup_free char *missing = xasprintf("%s/no-such-dir", tmp);
	struct dew_error *err = NULL;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	tap_is_int(dew_write_all(fd, "hello world", 11), 0, "write all");
	tap_is_int(dew_pwrite_all(fd, "W", 1, 6), 0, "pwrite all at an offset");
	tap_is_int(dew_pwrite_all(fd, "!", 1, 13), 0, "pwrite all past the end");
	tap_is_int(dew_pwrite_all(fd, "x", 1, -1), -EINVAL, "a negative offset is EINVAL");
	tap_is_int(dew_write_all(fd, "", 0), 0, "an empty write");
	close(fd);
	size_t len = 0;
	char *s = test_slurp(path, &len);
	tap_ok(s && len == 14 && memcmp(s, "hello World\0\0!", 14) == 0, "the file holds every write");
	free(s);
	tap_is_int(dew_write_all(fd, "x", 1), -EBADF, "a closed fd is EBADF");

	tap_is_int(dew_fsync_dir(tmp, &err), 0, "fsync a directory");
	tap_is_int(dew_fsync_dir(missing, &err), -ENOENT, "fsync a missing directory");
	tap_has_str(dew_error_msg(err), missing, "the message names it");
	dew_error_clear(&err);
}

int main(void)
{
	const char *tmp = test_tmpdir("fs");

	if (!tmp)
		return tap_done();
	/* Traversable by the unprivileged child of write_unprivileged(). */
	chmod(tmp, 0711);
	test_atomic(tmp);
	test_atomic_failures(tmp);
	test_mkdir(tmp);
	test_read(tmp);
	test_write_all(tmp);
	return tap_done();
}
