/* SPDX-License-Identifier: MIT */
/*
 * A tiny TAP producer for unit tests: numbered ok/not ok lines, diagnostics, skips, and the
 * plan printed at the end. DEW_TESTS_NO_SKIP=1 turns every skip into a failure unless its
 * category is listed in DEW_TESTS_ALLOW_SKIP (comma-separated, e.g. "cgroup2").
 */
#ifndef DEW_TAP_H
#define DEW_TAP_H

#include <stdbool.h>
#include <stdint.h>

/* Record one test; returns cond so callers can bail out on a failed precondition. */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool tap_is_int(intmax_t got, intmax_t want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool tap_is_str(const char *got, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Passes when haystack contains needle. */
bool tap_has_str(const char *haystack, const char *needle, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Skip one test. category names what the machine lacks (NULL when none applies); under
 * DEW_TESTS_NO_SKIP=1 the skip is a failure unless category is allowed by DEW_TESTS_ALLOW_SKIP.
 */
void tap_skip(const char *category, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print the plan and return the exit status for main: 0 when every test passed. */
int tap_done(void);

#endif
