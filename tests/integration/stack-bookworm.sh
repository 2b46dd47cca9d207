#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The bookworm stack: stacks/bookworm/build.sh builds a Debian root with debootstrap, the
# library loads it (its runtimes checked inside the root, not run) and a container on it runs
# python3. Slow and downloads ~150 MB, so it only runs with DEW_TEST_DEBOOTSTRAP=1;
# DEW_TEST_BOOKWORM_DIR=DIR keeps the built stack in DIR for the next run.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init stack-bookworm 1800
[ "${DEW_TEST_DEBOOTSTRAP:-0}" = 1 ] ||
	dew_skip "set DEW_TEST_DEBOOTSTRAP=1 to build the bookworm stack (slow, downloads ~150 MB)" debootstrap
command -v debootstrap >/dev/null || dew_fail "DEW_TEST_DEBOOTSTRAP=1 but debootstrap is not installed"
dew_require_containers
RUN=("${DEW_RUN[@]}")

stacks=${DEW_TEST_BOOKWORM_DIR:-$T/stacks}
sh "$top_srcdir/stacks/bookworm/build.sh" "$stacks/bookworm" >"$T/build.log" 2>&1 || {
	tail -n 30 "$T/build.log" >&2
	dew_fail "stacks/bookworm/build.sh failed"
}
dew_ok "build.sh built the bookworm stack"

show=$("$top_builddir/tests/lib/stack-show" "$stacks" bookworm 2>&1) || dew_fail "the stack does not load: $show"
runtimes=$(python3 -c 'import json,sys; print(" ".join(json.loads(sys.argv[1])["runtimes"]))' "$show")
dew_assert_eq "$runtimes" "python3 node perl sh" "the root has every runtime stack.json lists"

python3 - "$T/py.json" "$show" "$T/app-py" <<'PY'
import json, os, sys
file, show, app = sys.argv[1:4]
s = json.loads(show)
os.makedirs(app, exist_ok=True)
os.chown(app, 1000, 1000)
spec = {"id": "bookworm-py", "rootfs": s["rootfs"], "mounts": s["mounts"], "app_dir": app,
        "args": ["/bin/sh", "-c", "exec >/home/vcap/app/out 2>&1; python3 -c 'print(1)'; id -un"],
        "env": ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/vcap/app"], "network": "none",
        "limits": {"memory_mb": 256, "pids": 64}}
json.dump(spec, open(file, "w"))
PY
"${RUN[@]}" run --rm "$T/py.json" >/dev/null 2>"$T/py.err" || dew_fail "the container failed: $(cat "$T/py.err")"
dew_assert_eq "$(cat "$T/app-py/out")" $'1\nvcap' "python3 -c 'print(1)' runs as vcap on the bookworm stack"
dew_pass
