#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Container lifecycle through dew-run: run passes the app's exit status on; create/start/list/
# inspect/ps/kill/delete behave as documented; the monitor outlives dew-run and records how the
# app ended; logs are captured; delete removes the cgroup even when the app left daemonized
# children behind; bad specs and unknown ids are clear errors.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init runtime-lifecycle 120
dew_require_containers
RUN=("${DEW_RUN[@]}")

dew_spec "$T/exit.json" exit7 64 64 none /bin/sh -c 'echo to-stdout; echo to-stderr >&2; exit 7'
"${RUN[@]}" run "$T/exit.json"
dew_assert_eq "$?" 7 "run exits with the app's status"
dew_assert_eq "$(cat "$T/state/exit7/stdout.log")" "to-stdout" "stdout is captured"
dew_assert_eq "$(cat "$T/state/exit7/stderr.log")" "to-stderr" "stderr is captured"
state=$("${RUN[@]}" state exit7)
dew_assert_contains "$state" '"status": "stopped"' "state.json says stopped"
dew_assert_contains "$state" '"exit_code": 7' "state.json records the exit code"
"${RUN[@]}" delete exit7 || dew_fail "delete of a stopped container"
[ ! -e "$T/state/exit7" ] || dew_fail "delete left the state directory"
dew_ok "delete removed the state"

dew_spec "$T/missing.json" missing 64 64 none /nonexistent/program
out=$("${RUN[@]}" run --rm "$T/missing.json" 2>&1); rc=$?
dew_assert_eq "$rc" 127 "a program that cannot be executed exits 127"
dew_assert_contains "$out" "exec \`/nonexistent/program\`" "and the error names it"

# create / start / list / inspect / ps / kill
dew_spec "$T/sleep.json" sleeper 64 64 none /bin/sleep 60
dew_assert_eq "$("${RUN[@]}" create "$T/sleep.json")" sleeper "create prints the id"
dew_assert_contains "$("${RUN[@]}" list)" "created" "a created container is listed as created"
out=$("${RUN[@]}" create "$T/sleep.json" 2>&1); rc=$?
dew_assert_eq "$rc" 1 "creating an existing id fails"
dew_assert_contains "$out" "already exists" "saying so"
"${RUN[@]}" start sleeper || dew_fail "start"
for _ in $(seq 100); do "${RUN[@]}" state sleeper | grep -q '"running"' && break; sleep 0.05; done
list=$("${RUN[@]}" list --json)
dew_assert_contains "$list" '"state": "running"' "list --json shows it running"
insp=$("${RUN[@]}" inspect --json sleeper)
python3 - "$insp" <<'PY' || dew_fail "inspect --json lacks a documented key"
import json, sys
j = json.loads(sys.argv[1])
r = j["resources"]
assert r["memory"]["limit"] == 64 * 1024 * 1024, r
assert r["pids"]["max"] == 64 and r["pids"]["current"] >= 1, r
for k in ("usage", "max_usage", "failcnt", "oom_kills"):
    assert k in r["memory"], k
assert "weight" in r["cpu"] and "usage_ns" in r["cpu"]
assert set(j["namespaces"]) >= {"mount", "pid", "uts", "ipc", "cgroup", "net"}, j["namespaces"]
assert j["seccomp_profile"] and j["capabilities"] and j["network"] == "none"
PY
dew_ok "inspect --json shows every limit next to its usage"
dew_assert_contains "$("${RUN[@]}" inspect sleeper)" "memory" "inspect prints a table"
dew_assert_contains "$("${RUN[@]}" ps sleeper)" "/bin/sleep 60" "ps lists the app"
out=$("${RUN[@]}" delete sleeper 2>&1); rc=$?
dew_assert_eq "$rc" 1 "deleting a running container without -f fails"
dew_assert_contains "$out" "--force" "and says how"
"${RUN[@]}" kill sleeper KILL || dew_fail "kill"
for _ in $(seq 100); do "${RUN[@]}" state sleeper | grep -q '"stopped"' && break; sleep 0.05; done
state=$("${RUN[@]}" state sleeper)
dew_assert_contains "$state" '"exit_signal": 9' "the monitor records the signal"
dew_assert_contains "$state" '"exit_code": 137' "as 128+signal"
"${RUN[@]}" delete sleeper || dew_fail "delete after kill"

# The monitor outlives the process that created the container.
dew_spec "$T/survive.json" survivor 64 64 none /bin/sh -c 'sleep 1; exit 5'
( "${RUN[@]}" create "$T/survive.json" >/dev/null && "${RUN[@]}" start survivor )
for _ in $(seq 200); do "${RUN[@]}" state survivor | grep -q '"stopped"' && break; sleep 0.05; done
dew_assert_contains "$("${RUN[@]}" state survivor)" '"exit_code": 5' \
	"after dew-run exited, the monitor still recorded the exit"
"${RUN[@]}" delete survivor

# delete -f kills daemonized leftovers and removes the cgroup.
dew_spec "$T/daemon.json" daemonizer 64 64 none /bin/sh -c '(setsid sleep 300 &); sleep 300'
"${RUN[@]}" create "$T/daemon.json" >/dev/null && "${RUN[@]}" start daemonizer || dew_fail "start daemonizer"
for _ in $(seq 100); do [ "$("${RUN[@]}" ps daemonizer | grep -c 'sleep 300')" -ge 2 ] && break; sleep 0.05; done
cg=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cgroup"])' "$T/state/daemonizer/state.json")
"${RUN[@]}" delete -f daemonizer || dew_fail "delete -f"
[ ! -d "/sys/fs/cgroup/memory$cg" ] && [ ! -d "/sys/fs/cgroup/pids$cg" ] && [ ! -d "/sys/fs/cgroup$cg" ] ||
	dew_fail "the cgroup $cg is still there"
dew_ok "delete -f removed the cgroup despite a daemonized child"

# Clear errors.
out=$("${RUN[@]}" inspect nope 2>&1); rc=$?
dew_assert_eq "$rc" 1 "inspect of an unknown id fails"
dew_assert_contains "$out" "container \`nope\`" "naming the id"
printf '{"id": "x", "rootfs": "/tmp", "args": ["/bin/true"], "limits": {"memory_mb": "lots"}}' >"$T/bad.json"
out=$("${RUN[@]}" run "$T/bad.json" 2>&1); rc=$?
dew_assert_eq "$rc" 2 "a bad spec is a usage error"
dew_assert_contains "$out" "memory_mb" "naming the field"
out=$("${RUN[@]}" inspect ../../etc 2>&1); rc=$?
dew_assert_eq "$rc" 1 "an id with a path in it is refused"
dew_assert_contains "$out" "is not valid" "as not valid"
out=$("${RUN[@]}" frobnicate 2>&1); rc=$?
dew_assert_eq "$rc" 2 "an unknown command exits 2"
dew_pass
