#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The buildpacks and the stage driver (stacks/buildpacks/stage), run directly on the host as the
# stack would run them (stack PATH, HOME the app dir, no package index reachable): each sample app
# stages with the expected buildpack and start command, then runs and answers over HTTP; broken
# apps, named and unknown buildpacks, Procfile and start-command precedence and the JSON release
# form give the documented exit codes and messages (docs/buildpacks.md). The apps that loop or
# allocate while compiling are for staging in a container with limits, not here.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init buildpacks 180

STAGE=$top_srcdir/stacks/buildpacks/stage
APPS=$top_srcdir/tests/fixtures/apps
STACK_PATH=/usr/bin:/bin
VCAP_APPLICATION='{"name":"sample","application_name":"sample","instance_index":0,"limits":{"mem":256}}'
VCAP_SERVICES='{"user-provided":[{"name":"db","label":"user-provided","plan":"free","tags":[],"credentials":{"uri":"x://y"}}]}'
mkdir -p "$T/tmp"

# app NAME [FIXTURE]: a writable copy of a fixture as $T/app-NAME (dist trees are read-only).
app() {
	cp -R "$APPS/${2:-$1}" "$T/app-$1" && chmod -R u+w "$T/app-$1" || dew_fail "copy fixture ${2:-$1}"
}

# stage NAME [BUILDPACK]: run the driver $STAGE on $T/app-NAME; START (if set) is the given start
# command, DEW_BUILDPACK_ORDER (if set) the order. Sets STAGE_RC, STAGE_LOG (stdout and stderr)
# and STAGE_SECS.
stage() {
	local name=$1 started=$SECONDS
	shift
	local env=(PATH="$STACK_PATH" HOME="$T/app-$name" TMPDIR="$T/tmp"
		PIP_INDEX_URL=http://127.0.0.1:9/ npm_config_registry=http://127.0.0.1:9/)
	[ -z "${START:-}" ] || env+=(DEW_START_COMMAND="$START")
	[ -z "${DEW_BUILDPACK_ORDER:-}" ] || env+=(DEW_BUILDPACK_ORDER="$DEW_BUILDPACK_ORDER")
	STAGE_RC=0
	env -i "${env[@]}" "$STAGE" "$T/app-$name" "$T/cache-$name" "$T/out-$name" "$@" \
		>"$T/stage-$name.log" 2>&1 </dev/null || STAGE_RC=$?
	STAGE_LOG=$(cat "$T/stage-$name.log")
	STAGE_SECS=$((SECONDS - started))
}

# result NAME KEY [SUBKEY]: a field of $T/out-NAME/result.json (which must be valid JSON).
result() {
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    r = r[k]
print(r)' "$T/out-$1/result.json" "${@:2}" || dew_fail "result.json of $1 lacks ${*:2}"
}

# staged NAME BUILDPACK START: staging succeeded with that buildpack and start command.
staged() {
	[ "$STAGE_RC" = 0 ] || dew_fail "staging $1 failed with exit status $STAGE_RC: $STAGE_LOG"
	dew_assert_eq "$(result "$1" buildpack)" "$2" "$1: buildpack"
	dew_assert_eq "$(result "$1" start_command)" "$3" "$1: start command"
}

# failed NAME RC MESSAGE: staging failed with that exit status and message, and left no result.
failed() {
	dew_assert_eq "$STAGE_RC" "$2" "$1: exit status $2"
	dew_assert_contains "$STAGE_LOG" "$3" "$1: the message says why"
	[ ! -e "$T/out-$1/result.json" ] || dew_fail "$1: a failed staging left a result.json"
}

# run NAME: start the staged app as a DEA would (in its dir, HOME the app, PORT, VCAP_*) on
# 127.0.0.1; sets URL and RUN_PID once it listens.
run() {
	local name=$1 start port
	start=$(result "$name" start_command)
	port=$(dew_free_port)
	dew_spawn "run-$name" env -i -C "$T/app-$name" PATH="$STACK_PATH" HOME="$T/app-$name" \
		PORT="$port" VCAP_APP_PORT="$port" VCAP_APP_HOST=127.0.0.1 MEMORY_LIMIT=256m \
		VCAP_APPLICATION="$VCAP_APPLICATION" VCAP_SERVICES="$VCAP_SERVICES" /bin/sh -c "exec $start"
	RUN_PID=${DEW_PIDS[-1]}
	PORT=$port
	dew_wait_port "$port" 20 || dew_fail "$name did not listen on port $port"
	URL=http://127.0.0.1:$port
}

# get PATH: GET $URL/PATH; BODY, DEW_HTTP_STATUS and CTYPE (the Content-Type) for the checks.
get() {
	dew_http BODY "$URL$1" -D "$T/headers"
	CTYPE=$(tr -d '\r' <"$T/headers" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')
}

# ---- good apps: stage, run, answer ---------------------------------------------------------

app static
stage static
staged static static "python3 .dew/serve.py"
run static
get /
dew_assert_eq "$DEW_HTTP_STATUS" 200 "static: / answers"
dew_assert_contains "$BODY" "hello from static" "static: / is index.html"
dew_assert_contains "$CTYPE" "text/html" "static: index.html is text/html"
get /css/site.css
dew_assert_eq "$DEW_HTTP_STATUS $CTYPE" "200 text/css; charset=utf-8" "static: css is text/css"
get /js/site.js
dew_assert_eq "$DEW_HTTP_STATUS $CTYPE" "200 text/javascript; charset=utf-8" "static: js is text/javascript"
get /img/logo.svg
dew_assert_eq "$DEW_HTTP_STATUS $CTYPE" "200 image/svg+xml" "static: svg is image/svg+xml"
get /missing.html
dew_assert_eq "$DEW_HTTP_STATUS" 404 "static: a missing file is 404"
get /css/
dew_assert_eq "$DEW_HTTP_STATUS" 404 "static: a directory without index.html is 404, not a listing"
get /.dew/serve.py
dew_assert_eq "$DEW_HTTP_STATUS" 404 "static: the platform's dot files are not served"
dew_stop "$RUN_PID"

app python
stage python
staged python python "python3 app.py"
run python
get /
dew_assert_eq "$DEW_HTTP_STATUS $BODY" "200 hello from python" "python: / answers"
get /env
dew_assert_eq "$DEW_HTTP_STATUS" 200 "python: /env answers"
env_seen=$(python3 -c 'import json, sys
e = json.loads(sys.argv[1])
print(e["PORT"], e["MEMORY_LIMIT"], e["VCAP_APPLICATION"]["name"], e["VCAP_SERVICES"]["user-provided"][0]["name"])' \
	"$BODY") || dew_fail "python: /env is not the expected JSON: $BODY"
dew_assert_eq "$env_seen" "$PORT 256m sample db" "python: /env shows PORT, MEMORY_LIMIT, VCAP_* parsed"
dew_stop "$RUN_PID"

# Requirements install offline from vendor/, into the user site python3 finds with HOME=app.
app vendored python
echo dewhello >"$T/app-vendored/requirements.txt"
python3 - "$T/app-vendored/vendor" <<'PY' || dew_fail "build the test wheel"
import os, sys, zipfile
os.makedirs(sys.argv[1])
with zipfile.ZipFile(os.path.join(sys.argv[1], "dewhello-1.0-py3-none-any.whl"), "w") as z:
    z.writestr("dewhello.py", 'GREETING = "hello from a vendored wheel"\n')
    info = "dewhello-1.0.dist-info/"
    z.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: dewhello\nVersion: 1.0\n")
    z.writestr(info + "WHEEL", "Wheel-Version: 1.0\nGenerator: dew-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr(info + "RECORD", "dewhello.py,,\n%sMETADATA,,\n%sWHEEL,,\n%sRECORD,,\n" % (info, info, info))
PY
stage vendored
staged vendored python "python3 app.py"
dew_assert_contains "$STAGE_LOG" "Installing requirements.txt from vendor/" "python: vendored requirements"
got=$(cd "$T/app-vendored" && env -i PATH="$STACK_PATH" HOME="$T/app-vendored" \
	python3 -c 'import dewhello; print(dewhello.GREETING)' 2>&1)
dew_assert_eq "$got" "hello from a vendored wheel" "python: the installed package imports at run time"

if PATH=$STACK_PATH command -v node >/dev/null; then
	app node
	stage node
	staged node node "node server.js"
	run node
	get /
	dew_assert_eq "$DEW_HTTP_STATUS $BODY" "200 hello from node" "node: / answers"
	dew_stop "$RUN_PID"

	app node-deps node
	sed -i 's/"private": true,/"private": true, "dependencies": {"left-pad": "^1.3.0"},/' "$T/app-node-deps/package.json"
	stage node-deps
	failed node-deps 11 "npm could not install dependencies: network unreachable"
	dew_assert_contains "$STAGE_LOG" "compile of buildpack node failed with exit status 1" "node: the driver's message"
	[ "$STAGE_SECS" -le 20 ] || dew_fail "node: npm took ${STAGE_SECS}s to give up offline"
	dew_ok "node: npm gives up offline within 20 s (${STAGE_SECS}s)"
elif [ "${DEW_TESTS_NO_SKIP:-0}" = 1 ]; then
	dew_fail "node is not installed: the node app cannot be checked (DEW_TESTS_NO_SKIP=1)"
else
	dew_ok "node app # SKIP node is not installed"
fi

# A stack without node: the node buildpack says so (PATH is every program of /usr/bin but node).
mkdir -p "$T/no-node-bin"
cp -s /usr/bin/* "$T/no-node-bin/" 2>/dev/null
rm -f "$T/no-node-bin/node" "$T/no-node-bin/nodejs" "$T/no-node-bin/npm" "$T/no-node-bin/npx"
app no-node node
STACK_PATH=$T/no-node-bin stage no-node
failed no-node 11 "node is not installed in this stack"

command -v cc >/dev/null || dew_fail "cc is needed to build the binary sample app"
app binary
cc -static -O2 -o "$T/app-binary/server" "$T/app-binary/server.c" || dew_fail "build binary/server.c"
stage binary
staged binary binary "./server"
run binary
get /
dew_assert_eq "$DEW_HTTP_STATUS $BODY" "200 hello from binary" "binary: / answers"
dew_stop "$RUN_PID"

app shell
stage shell
staged shell shell "$(sed -n 's/^web: //p' "$APPS/shell/Procfile")"
run shell
get /
dew_assert_eq "$DEW_HTTP_STATUS $BODY" "200 hello from shell" "shell: / answers"
dew_stop "$RUN_PID"

# ---- broken apps ----------------------------------------------------------------------------

app nodetect broken-nodetect
stage nodetect
failed nodetect 10 "no buildpack detected; tried: node python static binary shell"

app compile broken-compile
stage compile
failed compile 11 "pip could not install requirements: network unreachable"
dew_assert_contains "$STAGE_LOG" "compile of buildpack python failed with exit status 1" "compile: the driver's message"
[ "$STAGE_SECS" -le 20 ] || dew_fail "compile: pip took ${STAGE_SECS}s to give up offline"
dew_ok "compile: pip gives up offline within 20 s (${STAGE_SECS}s)"

# ---- named and unknown buildpacks -----------------------------------------------------------

# A named buildpack skips detection: static serves the python app's files.
app named-static python
stage named-static static
staged named-static static "python3 .dew/serve.py"
dew_assert_contains "$STAGE_LOG" "Using buildpack static" "named: no detection"
# ... and python on a static site compiles but has no web command: release output invalid.
app named-python static
stage named-python python
failed named-python 12 "buildpack python gave no web command"

app unknown static
stage unknown nosuch
failed unknown 13 "unknown buildpack nosuch"
stage unknown ../static
failed unknown 13 "unknown buildpack ../static"

STAGE_RC=0
"$STAGE" "$T/app-unknown" >/dev/null 2>&1 || STAGE_RC=$?
dew_assert_eq "$STAGE_RC" 2 "usage error: exit status 2"

# ---- precedence: Procfile over the buildpack, the given start command over everything -------

app procfile python
printf 'web: python3 app.py --from-procfile\r\nworker: python3 worker.py\n' >"$T/app-procfile/Procfile"
stage procfile
staged procfile python "python3 app.py --from-procfile"
dew_assert_eq "$(result procfile process_types worker)" "python3 worker.py" "procfile: other process types kept"

app given python
printf 'web: python3 app.py --from-procfile\n' >"$T/app-given/Procfile"
START="python3 app.py --given" stage given
staged given python "python3 app.py --given"
dew_assert_eq "$(result given detected_start_command)" "python3 app.py --from-procfile" \
	"given: the detected command is kept beside it"

# A given start command makes any app stage (the shell buildpack is the catch-all).
app given-only broken-nodetect
START="./run.sh" stage given-only
staged given-only shell "./run.sh"

# ---- adding a buildpack; the JSON release form; a compile's own exit status ------------------

cp -R "$top_srcdir/stacks/buildpacks" "$T/bp" && chmod -R u+w "$T/bp" || dew_fail "copy the buildpacks"
mkdir -p "$T/bp/jsonpack/bin" "$T/bp/failpack/bin"
printf '#!/bin/sh\n[ -f "$1/jsonpack.txt" ] && echo jsonpack\n' >"$T/bp/jsonpack/bin/detect"
printf '#!/bin/sh\necho "-----> nothing to do"\n' >"$T/bp/jsonpack/bin/compile"
cat >"$T/bp/jsonpack/bin/release" <<'EOF'
#!/bin/sh
printf '%s\n' '{"addons": [], "default_process_types": {"web": "./run \"quoted\" a\\b\tc", "worker": "w"}}'
EOF
printf '#!/bin/sh\nexit 0\n' >"$T/bp/failpack/bin/detect"
printf '#!/bin/sh\necho "failing on purpose" >&2\nexit 3\n' >"$T/bp/failpack/bin/compile"
printf '#!/bin/sh\necho "default_process_types:\n  web: x"\n' >"$T/bp/failpack/bin/release"
chmod +x "$T"/bp/*/bin/*
app custom broken-nodetect
touch "$T/app-custom/jsonpack.txt"
STAGE=$T/bp/stage DEW_BUILDPACK_ORDER="jsonpack shell" stage custom
staged custom jsonpack "./run \"quoted\" a\b"$'\t'"c"
dew_assert_eq "$(result custom process_types worker)" "w" "custom: JSON release, all process types"
# (Into the out dir of the staging above: its result.json must go.)
STAGE=$T/bp/stage stage custom failpack
failed custom 11 "compile of buildpack failpack failed with exit status 3"
dew_assert_contains "$STAGE_LOG" "failing on purpose" "custom: the compile's output is in the staging log"

dew_pass
