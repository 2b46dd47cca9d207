// SPDX-License-Identifier: MIT
/*
 * Small helpers shared by the unit tests (see testutil.h).
 */
#include "testutil.h"

#include <dirent.h>
#include <string.h>

int test_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}
