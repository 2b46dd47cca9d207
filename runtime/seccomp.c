/* SPDX-License-Identifier: MIT */
/*
 * The container's seccomp filter: the profile of seccomp-profile.c compiled with libseccomp,
 * once per process, into two classic-BPF programs (the allow-list, then the argument
 * denials), for every syscall entry point of the machine. Installing them in the container's
 * init is two prctl calls on memory prepared in advance: no allocation, no libseccomp.
 */
#include <errno.h>
#include <stdbool.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <seccomp.h>

#include "alloc.h"
#include "error.h"
#include "internal.h"
#include "seccomp-profile.h"

/*
 * The entry points of each supported machine. On x86_64 a process can also enter the
 * kernel through int 0x80 (i386 numbers, AUDIT_ARCH_I386) and with the x32 bit set in the
 * syscall number; a filter that covers only x86_64 would let `int 0x80; unshare` through.
 * libseccomp repeats every rule for every architecture added, and the filter's bad-arch
 * action kills anything else. Other machines are refused rather than guessed at (on s390x,
 * for one, clone's flags are its second argument, and the clone rule would check the wrong
 * one).
 */
static const struct {
	uint32_t native;
	uint32_t extra[2]; /* 0-terminated */
} arch_table[] = {
	{ SCMP_ARCH_X86_64, { SCMP_ARCH_X86, SCMP_ARCH_X32 } },
	{ SCMP_ARCH_AARCH64, { SCMP_ARCH_ARM, 0 } },
	{ SCMP_ARCH_X86, { 0, 0 } },
};

static const char *action_name(uint32_t action)
{
	return action == SCMP_ACT_ALLOW ? "allow" : "errno";
}

static int add_arches(scmp_filter_ctx ctx, struct dew_error **err)
{
	uint32_t native = seccomp_arch_native();

	for (size_t i = 0; i < DEW_ARRAY_SIZE(arch_table); i++) {
		if (arch_table[i].native != native)
			continue;
		for (size_t j = 0; j < DEW_ARRAY_SIZE(arch_table[i].extra) && arch_table[i].extra[j]; j++) {
			int rc = seccomp_arch_add(ctx, arch_table[i].extra[j]);
			if (rc < 0 && rc != -EEXIST)
				return dew_error_set(err, -rc, "seccomp: add architecture %#x",
						     arch_table[i].extra[j]);
		}
		return 0;
	}
	return dew_error_set(err, ENOTSUP, "seccomp: no profile for this architecture (%#x)", native);
}

static int filter_new(uint32_t def_action, scmp_filter_ctx *out, struct dew_error **err)
{
	scmp_filter_ctx ctx = seccomp_init(def_action);
	int rc;

	if (!ctx)
		return dew_error_set(err, ENOMEM, "seccomp: create filter");
	/*
	 * Every entry point is covered, so a foreign architecture can only be an attack: kill.
	 * The binary tree keeps the cost per syscall logarithmic in the ~350 allowed names.
	 */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
		seccomp_release(ctx);
		return dew_error_set(err, -rc, "seccomp: set filter attributes");
	}
	if ((rc = add_arches(ctx, err)) < 0) {
		seccomp_release(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct dewrt_sc_rule *r, struct dew_error **err)
{
	int nr = seccomp_syscall_resolve_name(r->name);
	int rc;

	/* Unknown to this libseccomp (a syscall newer than it): it keeps the default action. */
	if (nr == __NR_SCMP_ERROR)
		return 0;
	rc = seccomp_rule_add_array(ctx, r->action, nr, r->n_args, r->n_args ? &r->cmp : NULL);
	if (rc < 0)
		return dew_error_set(err, -rc, "seccomp: add %s rule for `%s`", action_name(r->action),
				     r->name);
	return 0;
}

/* libseccomp 2.5 exports BPF only to a file descriptor: go through a memfd. */
static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *prog, struct dew_error **err)
{
	cleanup_close int fd = memfd_create("dewrt-seccomp", MFD_CLOEXEC);
	struct stat st;
	int rc;

	if (fd < 0)
		return dew_error_set(err, errno, "seccomp: memfd_create");
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0)
		return dew_error_set(err, -rc, "seccomp: export BPF");
	if (fstat(fd, &st) < 0)
		return dew_error_set(err, errno, "seccomp: stat exported BPF");
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return dew_error_set(err, E2BIG, "seccomp: exported BPF has %lld bytes",
				     (long long)st.st_size);

	cleanup_free struct sock_filter *insns = xmalloc(st.st_size);
	for (off_t off = 0; off < st.st_size;) {
		ssize_t n = pread(fd, (char *)insns + off, st.st_size - off, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return dew_error_set(err, n < 0 ? errno : EIO, "seccomp: read exported BPF");
		off += n;
	}
	prog->len = st.st_size / sizeof(struct sock_filter);
	prog->filter = steal_pointer(&insns);
	return 0;
}

static bool profile_allows(const char *name)
{
	for (size_t i = 0; i < dewrt__sc_allow_n; i++)
		if (strcmp(dewrt__sc_allow[i], name) == 0)
			return true;
	for (size_t i = 0; i < dewrt__sc_rules_n; i++)
		if (dewrt__sc_rules[i].action == SCMP_ACT_ALLOW && strcmp(dewrt__sc_rules[i].name, name) == 0)
			return true;
	return false;
}

/* The profile's own consistency: no allow rule may name a syscall of a blocked group. */
static int check_profile(struct dew_error **err)
{
	for (size_t i = 0; i < dewrt__sc_blocked_n; i++)
		if (profile_allows(dewrt__sc_blocked[i]))
			return dew_error_set(err, 0, "seccomp profile allows blocked syscall `%s`",
					     dewrt__sc_blocked[i]);
	return 0;
}

static int compile_allow(struct sock_fprog *prog, struct dew_error **err)
{
	scmp_filter_ctx ctx;
	int rc = filter_new(SCMP_ACT_ERRNO(EPERM), &ctx, err);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < dewrt__sc_allow_n && rc == 0; i++) {
		struct dewrt_sc_rule r = { .name = dewrt__sc_allow[i], .action = SCMP_ACT_ALLOW };
		rc = add_rule(ctx, &r, err);
	}
	for (size_t i = 0; i < dewrt__sc_rules_n && rc == 0; i++)
		rc = add_rule(ctx, &dewrt__sc_rules[i], err);
	if (rc == 0)
		rc = export_bpf(ctx, prog, err);
	seccomp_release(ctx);
	return rc;
}

static int compile_deny(struct sock_fprog *prog, struct dew_error **err)
{
	scmp_filter_ctx ctx;
	int rc = filter_new(SCMP_ACT_ALLOW, &ctx, err);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < dewrt__sc_deny_n && rc == 0; i++)
		rc = add_rule(ctx, &dewrt__sc_deny[i], err);
	if (rc == 0)
		rc = export_bpf(ctx, prog, err);
	seccomp_release(ctx);
	return rc;
}

/* Build and compile the profile for every entry point of this machine (once per process). */
int dewrt__seccomp_compile_fresh(struct dewrt_seccomp **out, struct dew_error **err)
{
	struct dewrt_seccomp *sc;
	int rc;

	if ((rc = check_profile(err)) < 0)
		return rc;
	sc = xzalloc(sizeof(*sc));
	if ((rc = compile_allow(&sc->prog[FILTER_ALLOW], err)) < 0 ||
	    (rc = compile_deny(&sc->prog[FILTER_DENY], err)) < 0) {
		dewrt__seccomp_free(sc);
		return rc;
	}
	*out = sc;
	return 0;
}

/* Install both filters on the calling thread; allocation-free (see internal.h). */
int dewrt__seccomp_install(const struct dewrt_seccomp *sc)
{
	/*
	 * no_new_privs first, whatever the caller did: without it a process holding
	 * CAP_SYS_ADMIN may still install the filter, and the container would run without
	 * no_new_privs. Setting it twice is harmless.
	 */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	for (size_t i = 0; i < FILTER_COUNT; i++)
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sc->prog[i], 0, 0) < 0)
			return -errno;
	return 0;
}

/* Release a compiled filter; NULL is fine. */
void dewrt__seccomp_free(struct dewrt_seccomp *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < FILTER_COUNT; i++)
		free(sc->prog[i].filter);
	free(sc);
}

/* The profile's name as shown by `dew-run inspect`. */
const char *dewrt__seccomp_profile_name(void)
{
	return "dew-default-1";
}
