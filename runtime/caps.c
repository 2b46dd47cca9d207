/* SPDX-License-Identifier: MIT */
/*
 * The container's capability set: nine of Docker's fourteen defaults (docs/container-spec.md
 * gives the reason for each). dewrt__caps_apply reduces the calling process to it with
 * prctl and capset only: no allocation, so it is safe in a child cloned from a threaded
 * daemon.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/prctl.h>

#include <sys/capability.h>

#include "internal.h"

/*
 * Kept, each because ordinary software run as root in a container expects it and it does
 * not reach beyond the container's own files, processes and namespaces:
 * - CHOWN, DAC_OVERRIDE, FOWNER, FSETID: package installs and unpacking as root in staging
 *   (dpkg, tar -p) change owners and modes of files in the container's writable tree.
 * - KILL: root's supervisor processes signal workers of another uid (within the pid
 *   namespace: nothing outside is visible).
 * - SETUID, SETGID: dropping from root to the app user (su, gosu, the runtime itself).
 * - SETPCAP: a root process can drop capabilities from its own bounding set before exec;
 *   it can only lower them, never add beyond the bounding set fixed here.
 * - NET_BIND_SERVICE: a root process binding a port below 1024 in its network namespace.
 * Dropped from Docker's fourteen: MKNOD (device nodes: /dev is ours), NET_RAW (raw and packet
 * sockets: spoofing and sniffing on the bridge), SETFCAP (file capabilities would let a file
 * grant capabilities at exec, and in a user namespace map root), AUDIT_WRITE (the host's
 * audit log) and SYS_CHROOT (no application needs it, and chroot is a step of several
 * escapes). SYS_ADMIN and SYS_PTRACE were never in Docker's set.
 */
/* clang-format off */
static const int caps_set[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL,
	CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
};
/* clang-format on */

enum { CAPS_MAX = 64 }; /* capability numbers fit the kernel's 2 x 32-bit sets */

static uint64_t caps_mask(void)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < sizeof(caps_set) / sizeof(caps_set[0]); i++)
		mask |= UINT64_C(1) << caps_set[i];
	return mask;
}

/*
 * Drop every other capability from the bounding set, so that no later execve (of a setuid
 * root binary were no_new_privs ever missing, or as uid 0) can bring one back. The loop asks
 * the kernel rather than libcap which capabilities exist, so one newer than libcap is
 * dropped as well.
 */
static int drop_bounding(uint64_t keep)
{
	for (int cap = 0; cap < CAPS_MAX; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (in < 0)
			return errno == EINVAL ? 0 : -errno; /* EINVAL: past the last capability */
		if (in == 1 && !(keep & (UINT64_C(1) << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	}
	return 0;
}

/* Reduce the calling process to the documented set (see internal.h for the ordering). */
int dewrt__caps_apply(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	uint64_t keep = caps_mask(), permitted;
	int rc;

	if ((rc = drop_bounding(keep)) < 0)
		return rc;
	/* Ambient capabilities survive execve for non-root users: none. EINVAL: kernel < 4.3. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (capget(&hdr, data) < 0)
		return -errno;
	/* A capability the caller does not hold cannot be granted: keep what is there. */
	permitted = (data[0].permitted | (uint64_t)data[1].permitted << 32) & keep;
	for (int i = 0; i < 2; i++) {
		data[i].permitted = data[i].effective = (uint32_t)(permitted >> (32 * i));
		/*
		 * Inheritable stays empty: with a non-empty inheritable set, execve of a file
		 * carrying inheritable file capabilities grants them (CVE-2022-24769, fixed in
		 * Docker the same way).
		 */
		data[i].inheritable = 0;
	}
	if (capset(&hdr, data) < 0)
		return -errno;
	return 0;
}

/* The documented set as capability numbers. */
const int *dewrt__caps_list(size_t *n)
{
	*n = sizeof(caps_set) / sizeof(caps_set[0]);
	return caps_set;
}
