// SPDX-License-Identifier: MIT
/* Unit tests of common/alloc.h: allocators, cleanup attributes, steal_pointer/steal_fd. */
#include <fcntl.h>
#include <string.h>

#include "alloc.h"
#include "tap.h"

static int freed_fd = -2;

static char *make_owned(void)
{
	cleanup_free char *s = xstrdup("kept");
	return steal_pointer(&s);
}

static int open_and_steal(void)
{
	cleanup_close int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return steal_fd(&fd);
}

static void scope_closes(void)
{
	cleanup_close int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	freed_fd = fd;
}

int main(void)
{
	char *p = xzalloc(64);
	bool zero = true;
	for (int i = 0; i < 64; i++)
		zero = zero && p[i] == 0;
	tap_ok(zero, "xzalloc returns zeroed memory");
	p = xrealloc(p, 4096);
	tap_ok(p != NULL, "xrealloc grows");
	free(p);

	char *s = xasprintf("%s-%d", "dew", 42);
	tap_is_str(s, "dew-42", "xasprintf formats");
	free(s);
	s = xstrndup("abcdef", 3);
	tap_is_str(s, "abc", "xstrndup truncates");
	free(s);

	char *owned = make_owned();
	tap_is_str(owned, "kept", "steal_pointer hands ownership out of a cleanup scope");
	free(owned);

	int fd = open_and_steal();
	tap_ok(fcntl(fd, F_GETFD) >= 0, "steal_fd keeps the descriptor open");
	close(fd);

	scope_closes();
	tap_ok(freed_fd >= 0 && fcntl(freed_fd, F_GETFD) < 0, "cleanup_close closes at end of scope");

	int *arr = xreallocarray(NULL, 1000, sizeof(int));
	arr[999] = 7;
	tap_is_int(arr[999], 7, "xreallocarray allocates n * size");
	free(arr);
	tap_is_int(DEW_ARRAY_SIZE(((int[]){ 1, 2, 3 })), 3, "DEW_ARRAY_SIZE counts elements");
	return tap_done();
}
