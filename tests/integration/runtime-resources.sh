#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Resource limits of dew containers: a memory hog is OOM-killed and reported as OOM (not as a
# plain crash) while a neighbour keeps running; a fork bomb stops at pids.max; the open-files
# limit holds; inspect shows the kill in the cgroup's numbers.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init runtime-resources 120
dew_require_containers
RUN=("${DEW_RUN[@]}")

json_field() {
	python3 -c 'import json,sys; v=json.loads(sys.argv[1]); [v := v[k] for k in sys.argv[2:]]; print(v)' "$@"
}

dew_spec "$T/neighbour.json" neighbour 64 64 none /bin/sleep 120
"${RUN[@]}" create "$T/neighbour.json" >/dev/null && "${RUN[@]}" start neighbour || dew_fail "start neighbour"

dew_spec "$T/hog.json" hog 32 64 none /probe/dewrt-probe alloc 512
out=$("${RUN[@]}" run "$T/hog.json" 2>&1); rc=$?
dew_assert_eq "$rc" 137 "a memory hog ends with the documented OOM status"
dew_assert_contains "$out" "OOM killer" "dew-run says the OOM killer ended it"
state=$("${RUN[@]}" state hog)
dew_assert_eq "$(json_field "$state" oom_killed)" True "state.json records an OOM kill"
dew_assert_eq "$(json_field "$state" exit_signal)" 9 "by SIGKILL"
insp=$("${RUN[@]}" inspect --json hog)
[ "$(json_field "$insp" resources memory oom_kills)" -ge 1 ] || dew_fail "inspect does not count the OOM kill"
dew_ok "inspect counts the OOM kill"
dew_assert_contains "$("${RUN[@]}" state neighbour)" '"running"' "the neighbour container kept running"
"${RUN[@]}" delete hog

dew_spec "$T/bomb.json" bomb 64 32 none /probe/dewrt-probe fork-bomb 10000
"${RUN[@]}" run "$T/bomb.json" >/dev/null 2>&1
res=$(cat "$T/state/bomb/stdout.log")
forks=$(json_field "$res" forks)
[ "$forks" -lt 32 ] || dew_fail "the fork bomb made $forks processes under pids.max 32"
dew_assert_eq "$(json_field "$res" errname)" EAGAIN "the fork bomb is stopped by pids.max (EAGAIN)"
"${RUN[@]}" delete bomb

dew_spec "$T/files.json" files 64 64 none /probe/dewrt-probe nofile
python3 - "$T/files.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["limits"]["nofile"] = 100
json.dump(s, open(sys.argv[1], "w"))
PY
"${RUN[@]}" run "$T/files.json" >/dev/null 2>&1
res=$(cat "$T/state/files/stdout.log")
dew_assert_eq "$(json_field "$res" errname)" EMFILE "the open-files limit stops the app with EMFILE"
[ "$(json_field "$res" max_fd)" -lt 100 ] || dew_fail "file descriptors beyond the limit of 100"
dew_ok "no descriptor beyond the limit"
"${RUN[@]}" delete files

# The disk quota: writes to the app dir stop at disk_mb with ENOSPC; inspect shows the usage.
for mode in plain userns; do
	[ "$mode" = userns ] && export DEW_SPEC_USERNS=1
	DEW_SPEC_DISK_MB=8 dew_spec "$T/disk-$mode.json" "disk-$mode" 64 64 none /bin/sh -c \
		'/probe/dewrt-probe fill /home/vcap/app/big 64; sleep 60'
	unset DEW_SPEC_USERNS
	"${RUN[@]}" create "$T/disk-$mode.json" >/dev/null && "${RUN[@]}" start "disk-$mode" || dew_fail "start disk-$mode"
	for _ in $(seq 200); do [ -s "$T/state/disk-$mode/stdout.log" ] && break; sleep 0.05; done
	res=$(cat "$T/state/disk-$mode/stdout.log")
	dew_assert_eq "$(json_field "$res" errname)" ENOSPC "($mode) writing past the 8 MB disk quota fails with ENOSPC"
	insp=$("${RUN[@]}" inspect --json "disk-$mode")
	used=$(json_field "$insp" resources disk used)
	quota=$(json_field "$insp" resources disk quota)
	dew_assert_eq "$quota" $((8 * 1024 * 1024)) "($mode) inspect shows the quota"
	[ "$used" -ge $((7 * 1024 * 1024)) ] && [ "$used" -le "$quota" ] || dew_fail "($mode) inspect shows $used bytes used"
	dew_ok "($mode) inspect shows the usage next to the quota ($used bytes)"
	[ ! -e "$T/app-disk-$mode/big" ] || dew_fail "($mode) the write reached the host app dir"
	dew_ok "($mode) the host app dir is untouched"
	"${RUN[@]}" delete -f "disk-$mode"
done

"${RUN[@]}" delete -f neighbour
dew_pass
