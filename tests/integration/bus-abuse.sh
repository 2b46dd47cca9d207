#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad clients cannot hurt good ones: while a healthy pair streams numbered messages through
# dew-bus, abusive clients send garbage, oversized lines and payloads, stall mid-payload, hold
# 10,000 subscriptions, never read, or never speak (tests/lib/bus-abuse.py). Every healthy
# message must arrive in order, and dew-bus must end up alive, healthy and serving new clients.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init bus-abuse 90

BUS=$top_builddir/bus/dew-bus
ABUSE=$top_srcdir/tests/lib/bus-abuse.py
command -v python3 >/dev/null || dew_skip "python3 is not installed"

# Small limits, so slow consumers are caught within the scenario's time.
dew_start_daemon bus "$BUS" --max-pending 1M --write-deadline 2s --max-payload 64K

# run_abuse MODE: run bus-abuse.py, show its TAP as a subtest, fail on `not ok` or its status.
run_abuse() {
	local mode=$1
	python3 "$ABUSE" "127.0.0.1:$bus_PORT" "127.0.0.1:$bus_STATUS_PORT" "$mode" >"$T/abuse-$mode.tap" 2>&1
	local rc=$?
	sed "s/^/    /" "$T/abuse-$mode.tap"
	if [ "$rc" != 0 ] || grep -q '^not ok' "$T/abuse-$mode.tap"; then
		dew_fail "bus-abuse.py $mode failed (status $rc)"
	fi
	dew_ok "bus-abuse.py $mode passed"
}

run_abuse scenario
kill -0 "$bus_PID" 2>/dev/null || dew_fail "dew-bus died during the abuse"
dew_ok "dew-bus is still running"
dew_http body "http://127.0.0.1:$bus_STATUS_PORT/health"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "/health answers 200 after the abuse"
run_abuse fresh

# Both ways of cutting a slow consumer off were taken (the scenario paces them so).
log=$(cat "$T/bus.log")
dew_assert_contains "$log" "slow consumer, no write progress" "the write deadline cut a consumer off"
dew_assert_contains "$log" "bytes pending; closing" "max_pending cut a consumer off"

dew_pass
