#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The staging executor end to end (dew-stage, the same code the DEA runs): every good sample
# app stages in a container of the host stack into a droplet (app/ + droplet.json), and that
# droplet, run in a container with PORT set, answers HTTP on that port. Each broken app fails
# with its own clear reason: no buildpack detected, compile failed, the time limit, the memory
# limit; a hostile package is refused.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init staging 240
dew_require_containers
RUN=("${DEW_RUN[@]}")
STAGE=("$top_builddir/stacks/dew-stage" --root "$T/state")
FIX=$top_srcdir/tests/fixtures/apps

# A stacks directory as an installation has it: the host stack (built by make) and the buildpacks.
STACKS=$T/stacks
mkdir -p "$STACKS"
ln -s "$top_builddir/stacks/host" "$STACKS/host"
ln -s "$top_srcdir/stacks/buildpacks" "$STACKS/buildpacks"
[ -f "$STACKS/host/stack.json" ] || dew_fail "the host stack is not built ($top_builddir/stacks/host)"
stack_json=$("$top_builddir/tests/lib/stack-show" --no-probe "$STACKS" host) || dew_fail "load the host stack"

# package NAME: a tarball of the fixture (the binary app compiled into a copy first).
package() {
	local name=$1 src=$FIX/$1
	if [ "$name" = binary ]; then
		mkdir -p "$T/src-binary"
		cp -r "$FIX/binary/." "$T/src-binary/"
		cc -static -O2 -o "$T/src-binary/server" "$T/src-binary/server.c" || dew_fail "compile the binary app"
		src=$T/src-binary
	fi
	tar -C "$src" -czf "$T/$name.tgz" .
}

# run_droplet NAME PORT START: unpack the droplet and run it in a host-network container.
run_droplet() {
	local name=$1 port=$2 start=$3 dir=$T/inst-$1
	mkdir -p "$dir"
	tar -C "$dir" -xf "$T/$name.droplet" || dew_fail "unpack the $name droplet"
	chown -R 1000:1000 "$dir/app"
	python3 - "$stack_json" "$T/run-$name.json" "run-$name" "$dir/app" "$port" "$start" <<'PY'
import json, sys
stack, out, cid, app, port, start = json.loads(sys.argv[1]), *sys.argv[2:]
spec = {"id": cid, "rootfs": stack["rootfs"], "mounts": stack["mounts"], "app_dir": app,
        "args": ["/bin/sh", "-c", start], "network": "host",
        "env": ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/vcap/app", "PORT=" + port,
                "VCAP_APP_PORT=" + port, "VCAP_APP_HOST=0.0.0.0", "MEMORY_LIMIT=128m",
                "VCAP_APPLICATION=" + json.dumps({"name": cid, "limits": {"mem": 128}}),
                "VCAP_SERVICES={}"],
        "limits": {"memory_mb": 128, "pids": 256}}
json.dump(spec, open(out, "w"))
PY
	"${RUN[@]}" create "$T/run-$name.json" >/dev/null && "${RUN[@]}" start "run-$name" || dew_fail "start $name"
	dew_wait_port "$port" 20 || dew_fail "$name did not listen on $port: $(cat "$T/state/run-$name/stderr.log")"
}

# app | expected buildpack | path | text the answer must contain
cases="static|static|/|<html
python|python|/|hello from python
node|node|/|hello from node
binary|binary|/|hello from binary
shell|shell|/|hello"
command -v node >/dev/null || cases=$(echo "$cases" | grep -v '^node|')
while IFS='|' read -r app bp path want; do
	package "$app"
	out=$("${STAGE[@]}" --json --stacks-dir "$STACKS" "$T/$app.tgz" "$T/$app.droplet" 2>"$T/$app.log") ||
		dew_fail "staging $app failed: $(tail -n 5 "$T/$app.log")"
	dew_assert_eq "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["buildpack"])' "$out")" "$bp" \
		"$app stages with the $bp buildpack"
	dew_assert_contains "$(cat "$T/$app.log")" "-----> " "$app: the staging log streamed"
	start=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["start_command"])' "$out")
	manifest=$(tar -xOf "$T/$app.droplet" droplet.json)
	dew_assert_contains "$manifest" "\"start_command\"" "$app: the droplet carries droplet.json"
	port=$(dew_free_port)
	run_droplet "$app" "$port" "$start"
	dew_http body "http://127.0.0.1:$port$path"
	dew_assert_eq "$DEW_HTTP_STATUS" 200 "$app: the droplet answers HTTP on \$PORT"
	dew_assert_contains "$body" "$want" "$app: with its own answer"
	"${RUN[@]}" delete -f "run-$app"
done <<<"$cases"

# The python app shows the Cloud Foundry environment at /env.
port=$(dew_free_port)
run_droplet python "$port" "python3 app.py"
dew_http body "http://127.0.0.1:$port/env"
dew_assert_contains "$body" "\"PORT\": \"$port\"" "the python app sees PORT"
"${RUN[@]}" delete -f run-python

# stage_fails APP MESSAGE [OPTIONS...]: staging fails with exit status 1 and MESSAGE.
stage_fails() {
	local app=$1 want=$2
	shift 2
	package "$app"
	out=$("${STAGE[@]}" --stacks-dir "$STACKS" "$@" "$T/$app.tgz" "$T/$app.droplet" 2>&1)
	dew_assert_eq "$?" 1 "$app: staging fails"
	dew_assert_contains "$out" "$want" "$app: $want"
	[ ! -e "$T/$app.droplet" ] || dew_fail "$app: a droplet was written anyway"
}
stage_fails broken-nodetect "no buildpack detected; tried:"
stage_fails broken-compile "compile of buildpack python failed"
stage_fails broken-loop "staging timed out after 3 s" --timeout 3
stage_fails broken-oom "staging ran out of memory (limit 64 MB)" --memory 64
package static
out=$("${STAGE[@]}" --stacks-dir "$STACKS" --buildpack nosuch "$T/static.tgz" "$T/x.droplet" 2>&1)
dew_assert_contains "$out" "unknown buildpack" "naming a buildpack that does not exist fails clearly"

# A hostile package is refused before anything runs.
python3 - "$T/evil.tgz" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as t:
    data = b"pwned"
    info = tarfile.TarInfo("../../escape.txt"); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
PY
out=$("${STAGE[@]}" --stacks-dir "$STACKS" "$T/evil.tgz" "$T/evil.droplet" 2>&1)
dew_assert_eq "$?" 1 "a package with ../ paths fails"
dew_assert_contains "$out" "escapes the target directory" "and says which entry"
[ "$("${RUN[@]}" list --json)" = "[]" ] || dew_fail "staging left containers behind: $("${RUN[@]}" list)"
dew_ok "no staging container is left"
dew_pass
