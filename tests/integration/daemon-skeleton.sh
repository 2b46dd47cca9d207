#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon skeleton every dew daemon shares, driven through dew-testd: config file, flags and
# -o overrides (flags win), usage errors, readiness files, /health and /metrics, SIGHUP, JSON
# logs, journal priority prefixes, and a clean exit on SIGTERM.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init daemon-skeleton 60

TESTD=$top_builddir/tests/lib/dew-testd
[ -x "$TESTD" ] || dew_fail "dew-testd not built at $TESTD"

# --- usage -------------------------------------------------------------------------------
help=$("$TESTD" --help) || dew_fail "--help exits non-zero"
dew_assert_contains "$help" "--greeting VALUE" "--help lists every config key as an option"
dew_assert_contains "$help" "--status-listen" "--help lists the core options"
dew_assert_contains "$("$TESTD" --version)" "dew-testd (dew)" "--version names the program"

out=$("$TESTD" --no-such-flag 2>&1); rc=$?
dew_assert_eq "$rc" 2 "an unknown flag exits 2"
dew_assert_contains "$out" "unknown option \`--no-such-flag\`" "an unknown flag is named"
out=$("$TESTD" --workers 100 2>&1); rc=$?
dew_assert_eq "$rc" 2 "an out-of-range value exits 2"
dew_assert_contains "$out" "--workers" "the bad value names its flag"
out=$("$TESTD" -o nope=1 2>&1); rc=$?
dew_assert_eq "$rc" 2 "-o with an unknown key exits 2"
dew_assert_contains "$out" "unknown key \`nope\`" "-o names the unknown key"

# --- config file, then flags ------------------------------------------------------------------
cat >"$T/dew.conf" <<'CONF'
# a node's configuration
log_level = debug

[run]
greeting = "from the file"   # inline comment
workers = 4

[dea]
anything = goes in another daemon's section
CONF
out=$("$TESTD" -c "$T/dew.conf" --print-config) || dew_fail "--print-config failed"
dew_assert_contains "$out" "greeting = " "--print-config shows the file's greeting"
dew_assert_contains "$out" "from the file" "the file's value is read"
dew_assert_contains "$out" "workers = 4" "the file's integer is read"
out=$("$TESTD" -c "$T/dew.conf" --workers 8 -o shout=true --print-config)
dew_assert_contains "$out" "workers = 8" "a flag wins over the file"
dew_assert_contains "$out" "shout = true" "-o KEY=VALUE sets a key"

printf '[run]\ngreeting = x\nworkerz = 3\n' >"$T/bad.conf"
out=$("$TESTD" -c "$T/bad.conf" 2>&1); rc=$?
dew_assert_eq "$rc" 2 "an unknown key in the file exits 2"
dew_assert_contains "$out" "bad.conf:3" "the error names file and line"
out=$("$TESTD" -c "$T/missing.conf" 2>&1); rc=$?
dew_assert_eq "$rc" 2 "a missing -c file exits 2"

# --- a running daemon ---------------------------------------------------------------------------
dew_start_daemon testd "$TESTD" -c "$T/dew.conf" --greeting "hi there" --log-format json
dew_ok "dew-testd ready on port $testd_PORT (status $testd_STATUS_PORT)"
dew_assert_eq "$(cat "$T/testd.ready")" "$testd_PID" "the ready file holds the pid"

dew_http body "http://127.0.0.1:$testd_PORT/hello"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "GET /hello answers 200"
dew_assert_eq "$body" "hi there" "the --greeting flag won over the file"

dew_http health "http://127.0.0.1:$testd_STATUS_PORT/health"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "/health answers 200"
dew_assert_contains "$health" '"component":"dew-testd"' "/health names the component"

dew_http metrics "http://127.0.0.1:$testd_STATUS_PORT/metrics"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "/metrics answers 200"
dew_assert_contains "$metrics" 'dew_build_info{component="dew-testd",version=' "/metrics has build info"
dew_assert_contains "$metrics" "process_resident_memory_bytes " "/metrics has process metrics"
dew_assert_contains "$metrics" "dew_testd_hellos_total 1" "/metrics has the daemon's own counter"
dew_http ignored "http://127.0.0.1:$testd_STATUS_PORT/nope"
dew_assert_eq "$DEW_HTTP_STATUS" 404 "an unknown status path is 404"

kill -HUP "$testd_PID"
for _ in $(seq 100); do
	dew_http ignored "http://127.0.0.1:$testd_STATUS_PORT/health"
	[ "$DEW_HTTP_STATUS" = 503 ] && break
	sleep 0.05
done
dew_assert_eq "$DEW_HTTP_STATUS" 503 "after SIGHUP (drain toggled) /health answers 503"

dew_stop "$testd_PID" 10; rc=$?
dew_assert_eq "$rc" 0 "SIGTERM ends the daemon with status 0"
python3 - "$T/testd.log" <<'PY' || dew_fail "--log-format json wrote a line that is not JSON"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "no log lines"
for l in lines:
    rec = json.loads(l)
    assert rec["component"] == "dew-testd" and "msg" in rec and "level" in rec, rec
assert any("shutting down" in json.loads(l)["msg"] for l in lines), "no shutdown line"
PY
dew_ok "every log line is a JSON object and the shutdown was logged"

# --- journald priority prefixes ---------------------------------------------------------------
# JOURNAL_STREAM names the device and inode of stderr when systemd connected it to the journal.
: >"$T/journal.log"
ino=$(stat -c '%d:%i' "$T/journal.log")
JOURNAL_STREAM=$ino "$TESTD" --version >/dev/null
JOURNAL_STREAM=$ino "$TESTD" --listen 127.0.0.1:0 --status-listen '' --ready-file "$T/j.ready" \
	2>>"$T/journal.log" &
jpid=$!
DEW_PIDS+=("$jpid")
dew_wait_file "$T/j.ready" 20 || dew_fail "journal-mode daemon not ready"
dew_stop "$jpid" 10
dew_assert_contains "$(cat "$T/journal.log")" "<6>ready" "journal mode prefixes lines with <N> priorities"

dew_pass
