/* SPDX-License-Identifier: MIT */
/*
 * The container seccomp profile as data (seccomp-profile.c), compiled into BPF by seccomp.c.
 * Only those two files include this header. docs/container-spec.md ("Security profile")
 * describes the same policy for users; change both together.
 */
#ifndef DEWRT_SECCOMP_PROFILE_H
#define DEWRT_SECCOMP_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#include <linux/filter.h>
#include <seccomp.h>

/* The compiled profile (seccomp.c), shared with its on-disk cache (seccomp-cache.c). */
enum {
	FILTER_ALLOW, /* default ERRNO(EPERM): the allow-list */
	FILTER_DENY,  /* default ALLOW: argument values refused with EPERM */
	FILTER_COUNT,
};

struct dewrt_seccomp {
	/* Installed in this order; the kernel then runs both on every syscall. */
	struct sock_fprog prog[FILTER_COUNT];
};

/* Compile the profile (no cache). */
int dewrt__seccomp_compile_fresh(struct dewrt_seccomp **out, struct dew_error **err);

/*
 * One rule: a syscall name, an action, and at most one argument comparison (libseccomp
 * refuses two comparisons of the same argument in one rule, and the profile never needs two
 * arguments). Names unknown to the installed libseccomp are skipped: such a syscall keeps
 * the filter's default action.
 */
struct dewrt_sc_rule {
	const char *name;
	uint32_t action;
	unsigned int n_args; /* 0 or 1 */
	struct scmp_arg_cmp cmp;
};

/* Allowed unconditionally by the main filter (whose default is ERRNO(EPERM)). */
extern const char *const dewrt__sc_allow[];
extern const size_t dewrt__sc_allow_n;

/* Argument-dependent allowances and the non-EPERM answers of the main filter. */
extern const struct dewrt_sc_rule dewrt__sc_rules[];
extern const size_t dewrt__sc_rules_n;

/*
 * The second filter (default ALLOW): argument values of otherwise allowed syscalls that are
 * refused with EPERM. They live in a filter of their own because libseccomp will not add a
 * rule whose action equals the default action of its filter (EPERM in the main one).
 */
extern const struct dewrt_sc_rule dewrt__sc_deny[];
extern const size_t dewrt__sc_deny_n;

/*
 * Syscalls the profile must never allow (the documented blocked groups). The compiler
 * refuses a profile whose allow rules name one of them, so an edit of the allow-list cannot
 * silently reopen, say, mount or ptrace.
 */
extern const char *const dewrt__sc_blocked[];
extern const size_t dewrt__sc_blocked_n;

#endif
