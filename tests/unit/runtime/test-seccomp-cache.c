// SPDX-License-Identifier: MIT
/*
 * Unit tests of the seccomp filter cache (runtime/seccomp-cache.c): a second compile loads
 * the same BPF from disk, and a cache file that is not trustworthy or not well-formed is
 * ignored (the filter is compiled again) rather than installed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fs.h"
#include "internal.h"
#include "seccomp-profile.h"
#include "tap.h"

static char *cache_file(const char *dir)
{
	DIR *d = opendir(dir);
	char *found = NULL;
	for (struct dirent *e; d && (e = readdir(d));)
		if (strncmp(e->d_name, ".seccomp-", 9) == 0)
			found = xasprintf("%s/%s", dir, e->d_name);
	if (d)
		closedir(d);
	return found;
}

static bool same_bpf(const struct dewrt_seccomp *a, const struct dewrt_seccomp *b)
{
	for (size_t i = 0; i < FILTER_COUNT; i++)
		if (a->prog[i].len != b->prog[i].len ||
		    memcmp(a->prog[i].filter, b->prog[i].filter,
			   a->prog[i].len * sizeof(struct sock_filter)) != 0)
			return false;
	return true;
}

int main(void)
{
	char dir[] = "/tmp/dew-test-sccache-XXXXXX";
	struct dewrt_seccomp *fresh = NULL, *first = NULL, *second = NULL, *again = NULL;
	struct dew_error *err = NULL;

	if (!mkdtemp(dir) || dewrt__seccomp_compile(&fresh, NULL, &err) < 0) {
		tap_ok(false, "set-up: %s", dew_error_msg(err));
		return tap_done();
	}
	tap_ok(dewrt__seccomp_compile(&first, dir, &err) == 0, "compile with a cache directory");
	char *path = cache_file(dir);
	tap_ok(path != NULL, "the compiled filter was stored");
	struct stat sb;
	tap_ok(path && stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	       "the cache file is private (0600)");
	tap_ok(dewrt__seccomp_compile(&second, dir, &err) == 0, "compile again");
	tap_ok(same_bpf(fresh, first) && same_bpf(fresh, second), "cached and fresh filters are identical");

	/* Tamper: a group-writable file must not be trusted; a truncated one must not be loaded. */
	if (path) {
		chmod(path, 0666);
		FILE *f = fopen(path, "r+");
		if (f) {
			fseek(f, 20, SEEK_SET);
			fputc(0xff, f);
			fclose(f);
		}
		tap_ok(dewrt__seccomp_compile(&again, dir, &err) == 0 && same_bpf(fresh, again),
		       "a group-writable, altered cache file is ignored (the filter is recompiled)");
		dewrt__seccomp_free(again);
		again = NULL;
		tap_ok(truncate(path, 30) == 0 && chmod(path, 0600) == 0, "truncate the cache file");
		tap_ok(dewrt__seccomp_compile(&again, dir, &err) == 0 && same_bpf(fresh, again),
		       "a truncated cache file is ignored");
		unlink(path);
	}
	dewrt__seccomp_free(fresh);
	dewrt__seccomp_free(first);
	dewrt__seccomp_free(second);
	dewrt__seccomp_free(again);
	free(path);
	rmdir(dir);
	return tap_done();
}
