// SPDX-License-Identifier: MIT
/*
 * cgroup v2 delegation: before containers can get memory, pids and cpu limits, their parent must
 * list those controllers in cgroup.subtree_control, and a non-root group that does so may not hold
 * processes itself ("no internal processes"). When the parent is the runtime's own group (under
 * systemd's Delegate=yes: the service's group), the runtime moves the group's processes into a
 * leaf of their own, DEWRT_CGROUP_SUPERVISOR, and puts containers beside it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "cgroup-util.h"
#include "error.h"
#include "log.h"

/* Tell whether the space-separated list text holds word. */
bool dewrt__cgroup_has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = text; (p = strstr(p, word)); p += n)
		if ((p == text || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

/* Move every process of the group at pdir into its supervisor leaf. */
static int evacuate(const char *pdir, struct dew_error **err)
{
	cleanup_free char *sdir = xasprintf("%s/%s", pdir, DEWRT_CGROUP_SUPERVISOR);
	cleanup_free char *text = NULL;
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	int ret;

	if (mkdir(sdir, 0755) < 0 && errno != EEXIST)
		return dew_error_set(err, errno, "create `%s`", sdir);
	if ((ret = dewrt__cgroup_read(pdir, "cgroup.procs", &text, err)) < 0)
		return ret;
	if (dewrt__cgroup_parse_pids(text, &pids, &n) < 0)
		return dew_error_set(err, EINVAL, "parse `%s/cgroup.procs`", pdir);
	for (size_t i = 0; i < n; i++) {
		char buf[16];
		struct dew_error *e = NULL;

		snprintf(buf, sizeof buf, "%d", (int)pids[i]);
		ret = dewrt__cgroup_write(sdir, "cgroup.procs", buf, &e);
		if (ret == -ESRCH) { /* exited meanwhile */
			dew_error_free(e);
			continue;
		}
		if (ret < 0) {
			*err = e;
			return ret;
		}
	}
	dew_info("moved %zu processes of `%s` into its `%s` leaf", n, pdir, DEWRT_CGROUP_SUPERVISOR);
	return 0;
}

/* Make the group at pdir hand memory, pids (and cpu) to its children. */
int dewrt__cgroup_v2_delegate(const char *pdir, bool own, bool cpu, struct dew_error **err)
{
	cleanup_free char *text = NULL;
	struct dew_error *e = NULL;
	char want[32] = "";
	int ret;

	if ((ret = dewrt__cgroup_read(pdir, "cgroup.subtree_control", &text, err)) < 0)
		return ret;
	if (!dewrt__cgroup_has_word(text, "memory"))
		strcat(want, "+memory ");
	if (!dewrt__cgroup_has_word(text, "pids"))
		strcat(want, "+pids ");
	if (cpu && !dewrt__cgroup_has_word(text, "cpu"))
		strcat(want, "+cpu ");
	if (!want[0])
		return 0;
	want[strlen(want) - 1] = '\0';
	ret = dewrt__cgroup_write(pdir, "cgroup.subtree_control", want, &e);
	if (ret == -EBUSY && own) {
		dew_error_clear(&e);
		if ((ret = evacuate(pdir, err)) < 0)
			return ret;
		ret = dewrt__cgroup_write(pdir, "cgroup.subtree_control", want, &e);
	}
	if (ret < 0) {
		*err = e;
		if (ret == -EBUSY)
			return dew_error_prefix(err,
						"the group has processes of its own, so cgroup v2 will not "
						"delegate controllers from it");
		return ret;
	}
	return 0;
}
