// SPDX-License-Identifier: MIT
/*
 * TAP output for the unit tests (see tap.h).
 */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static void vresult(bool ok, const char *suffix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vresult(bool ok, const char *suffix, const char *fmt, va_list ap)
{
	tap_count++;
	if (!ok)
		tap_failed++;
	printf("%sok %d - ", ok ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	if (suffix)
		printf("%s", suffix);
	printf("\n");
	fflush(stdout);
}

bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vresult(cond, NULL, fmt, ap);
	va_end(ap);
	return cond;
}

bool tap_is_int(intmax_t got, intmax_t want, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vresult(got == want, NULL, fmt, ap);
	va_end(ap);
	if (got != want)
		printf("#   got: %jd\n#   expected: %jd\n", got, want);
	return got == want;
}

bool tap_is_str(const char *got, const char *want, const char *fmt, ...)
{
	bool ok = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
	va_list ap;
	va_start(ap, fmt);
	vresult(ok, NULL, fmt, ap);
	va_end(ap);
	if (!ok)
		printf("#   got: '%s'\n#   expected: '%s'\n", got ? got : "(null)", want ? want : "(null)");
	return ok;
}

bool tap_has_str(const char *haystack, const char *needle, const char *fmt, ...)
{
	bool ok = haystack && needle && strstr(haystack, needle) != NULL;
	va_list ap;
	va_start(ap, fmt);
	vresult(ok, NULL, fmt, ap);
	va_end(ap);
	if (!ok)
		printf("#   got: '%s'\n#   expected to contain: '%s'\n", haystack ? haystack : "(null)",
		       needle ? needle : "(null)");
	return ok;
}

static bool skip_allowed(const char *category)
{
	const char *no_skip = getenv("DEW_TESTS_NO_SKIP");
	if (!no_skip || strcmp(no_skip, "1") != 0)
		return true;
	const char *allow = getenv("DEW_TESTS_ALLOW_SKIP");
	if (!category || !allow)
		return false;
	size_t n = strlen(category);
	for (const char *p = allow; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, category, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

void tap_skip(const char *category, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (skip_allowed(category)) {
		tap_count++;
		printf("ok %d - ", tap_count);
		vprintf(fmt, ap);
		printf(" # SKIP %s\n", reason);
	} else {
		char suffix[512];
		snprintf(suffix, sizeof suffix, " (skip refused under DEW_TESTS_NO_SKIP=1: %s)", reason);
		vresult(false, suffix, fmt, ap);
	}
	va_end(ap);
	fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed)
		printf("# %d of %d tests failed\n", tap_failed, tap_count);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}
