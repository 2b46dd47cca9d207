#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# README command (2): install dependencies, build with --enable-werror, run the whole test suite.
# Idempotent. Options:
#   --sanitizers   build in build-asan/ with ASan + UBSan and run the suite there
#   --no-deps      skip the apt step (dependencies already installed)
# Build directories: build/ (or build-asan/) next to this repository's sources.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=$top/build
configure_flags=(--enable-werror)
deps=1
for arg in "$@"; do
	case "$arg" in
	--sanitizers) builddir=$top/build-asan; configure_flags+=(--enable-sanitizers) ;;
	--no-deps) deps=0 ;;
	*) echo "usage: $0 [--sanitizers] [--no-deps]" >&2; exit 2 ;;
	esac
done

[ $deps = 0 ] || "$top/scripts/install-deps.sh"

cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] || ./autogen.sh >/dev/null
mkdir -p "$builddir"
cd "$builddir"
"$top/configure" --quiet "${configure_flags[@]}"
make -j"$(nproc)" >/dev/null

# The npm `nats` package: an independent client the bus tests run against dew-bus.
if [ ! -d tests/npm/node_modules/nats ] && command -v npm >/dev/null; then
	mkdir -p tests/npm
	npm install --silent --no-audit --no-fund --prefix tests/npm nats@2 >/dev/null
fi

# ASan's leak checker needs ptrace-free /proc access only; keep reports readable.
# Where the npm nats package lives, for scenarios run outside this build dir (distcheck).
export DEW_NPM_DIR=${DEW_NPM_DIR:-$builddir/tests/npm}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
make -j"$(nproc)" check || status=$?

# One closing line with the counts of every TAP test and scenario that ran.
log=$builddir/test-suite.log
count() { sed -n "s/^# $1: *//p" "$log" | head -n 1; }
if [ -f "$log" ]; then
	pass=$(count PASS) fail=$(( $(count FAIL) + $(count ERROR) + $(count XPASS) )) skip=$(count SKIP)
	[ $status = 0 ] || grep -E '^(FAIL|ERROR|not ok)' "$builddir"/tests/*/*.log "$builddir"/tests/*/*/*.log 2>/dev/null | head -n 40 || true
	echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
fi
exit $status
