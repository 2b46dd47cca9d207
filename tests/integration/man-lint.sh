#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every man page in man/ passes `mandoc -Tlint` without warnings.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init man-lint 60

command -v mandoc >/dev/null || dew_skip "mandoc is not installed"
pages=$(ls "$top_srcdir"/man/*.[1-8] 2>/dev/null)
[ -n "$pages" ] || dew_fail "no man pages found in $top_srcdir/man"
for page in $pages; do
	out=$(mandoc -Tlint -W warning "$page" 2>&1)
	[ -z "$out" ] || dew_fail "mandoc -Tlint $(basename "$page"): $out"
	dew_ok "$(basename "$page") is clean"
done
dew_pass
