#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dew CLI's observing and settings commands against a real dew-bus, dew-controller and
# dew-dea (issue #8): instances, stats, crashes (an app whose command exits 3), logs --recent and
# live, files (listings and a file), env / set-env / unset-env (applied by a restart, seen by the
# app at /env), routes / map-route / unmap-route (a host another user holds is a 409, exit 1),
# buildpacks; usage errors exit 2, an unknown app 1; every --json output parses with its keys.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
. "$(dirname "$0")/../lib/cli-lib.sh"
dew_test_init cli-observe 240

cli_lib_start --staging-concurrency 1
cc_user bob

# jlines TEXT EXPR WHAT: every line of TEXT is a JSON object j for which EXPR holds (and there is one).
jlines() {
	python3 -c 'import json, sys
lines = sys.argv[1].splitlines()
sys.exit(0 if lines and all(eval(sys.argv[2], {"j": json.loads(l)}) for l in lines) else 1)' "$1" "$2" 2>/dev/null ||
		dew_fail "$3: ($2) is not true of every line of: $1"
	dew_ok "$3"
}

# restart_web WHAT: dew restart web, then its instance's address in ADDR and what it answers at
# /env in ENVJ.
restart_web() {
	dew restart web
	expect_rc 0 "$1"
	dew --json instances web
	ADDR=$(jget "$OUT" '"%s:%s" % (j["instances"][0]["host"], j["instances"][0]["port"])')
	ENVJ=$(curl -sS --max-time 5 "http://$ADDR/env")
}

dew target "$CC_URL"
expect_rc 0 "dew target"
dew login -u alice --password-stdin <<<"${PW[alice]}"
expect_rc 0 "login as alice"

# ---- buildpacks ----------------------------------------------------------------------------------
deadline=$((SECONDS + 15))
until dew buildpacks && [ "$RC" = 0 ] && [[ $OUT == *python* ]]; do
	[ $SECONDS -lt $deadline ] || dew_fail "dew buildpacks never listed python: exit $RC; $OUT $ERR"
	sleep 0.2
done
dew_ok "buildpacks lists python (from the staging DEA's dea.advertise)"
dew --json buildpacks
jcheck "$OUT" 'sorted(j["buildpacks"]) == ["binary", "node", "python", "shell", "static"]' \
	"buildpacks --json: the five shipped buildpacks, not the driver"

# ---- an app, through the API (push is another command) -------------------------------------------
api R POST /v1/apps alice '{"name":"web"}'
expect 201 "create web"
tar -C "$top_srcdir/tests/fixtures/apps/python" -czf "$T/web.tgz" .
api R PUT /v1/apps/web/bits alice - --form-string 'resources=[]' -F "application=@$T/web.tgz"
expect 201 "web's bits uploaded"
dew start web
expect_rc 0 "dew start web"

# ---- instances and stats -------------------------------------------------------------------------
dew --json instances web
expect_rc 0 "instances --json"
jcheck "$OUT" '(j["app"] == "web" and j["desired"] == 1 and isinstance(j["version"], str) and
	[(i["index"], i["state"]) for i in j["instances"]] == [(0, "RUNNING")] and
	all(k in j["instances"][0] for k in ("instance", "host", "port", "since")))' \
	"instances --json: app, version, desired, one RUNNING instance with its address"
ADDR=$(jget "$OUT" '"%s:%s" % (j["instances"][0]["host"], j["instances"][0]["port"])')
dew instances web
expect_rc 0 "instances"
dew_assert_contains "$OUT" "RUNNING" "instances shows the state"
dew_assert_contains "$OUT" "$ADDR" "and the address"
dew --json stats web
expect_rc 0 "stats --json"
jcheck "$OUT" '(j["app"] == "web" and len(j["instances"]) == 1 and
	j["instances"][0]["stats"]["mem_quota"] == 256 << 20 and
	j["instances"][0]["stats"]["usage"]["mem"] > 0 and "cpu" in j["instances"][0]["stats"]["usage"] and
	j["instances"][0]["stats"]["uptime"] >= 0)' \
	"stats --json: memory in use below a 256 MB quota, cpu, uptime"
dew stats web
expect_rc 0 "stats"
[[ $OUT =~ RUNNING\ +[0-9]+\.[0-9]%\ +[0-9.]+\ [KMG]?B\ /\ 256\.0\ MB ]] ||
	dew_fail "stats: no 'cpu %  used / 256.0 MB' row: $OUT"
dew_ok "stats shows cpu % and memory used of the quota"

# ---- logs ----------------------------------------------------------------------------------------
dew logs web --recent
expect_rc 0 "logs --recent"
[[ $OUT =~ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{2}Z\ \[APP/0\]\ OUT\ python\ sample\ listening ]] ||
	dew_fail "logs --recent: no '<time> [APP/0] OUT python sample listening' line: $OUT"
dew_ok "logs --recent shows the app's line as TIME [APP/0] OUT LINE"
dew --json logs web --recent
jlines "$OUT" 'set(j) >= {"app", "index", "instance", "source", "stream", "ts", "line"}' \
	"logs --recent --json: JSON lines with the documented keys"
dew_spawn live "$DEW" logs web
deadline=$((SECONDS + 20))
n=0
until grep -q 'GET /live-' "$T/live.log"; do
	n=$((n + 1))
	curl -sS --max-time 5 -o /dev/null "http://$ADDR/live-$n" || dew_fail "web did not answer"
	[ $SECONDS -lt $deadline ] || dew_fail "live logs: no request line within 20 s: $(cat "$T/live.log")"
	sleep 1
done
grep -E -q '\[APP/0\] ERR .*GET /live-[0-9]+ ' "$T/live.log" ||
	dew_fail "live logs: the request line is not '[APP/0] ERR ...': $(cat "$T/live.log")"
dew_ok "dew logs follows: a request to the app shows up as [APP/0] ERR (its access log)"
kill -0 "$live_PID" 2>/dev/null || dew_fail "dew logs stopped following"
dew_ok "dew logs is still following"
# The controller restarts (same port): the stream is opened again and new lines come through.
dew_stop "$cc_PID"
dew_start_daemon cc "$CC" "${CC_ARGS[@]}" --listen "127.0.0.1:$cc_PORT"
deadline=$((SECONDS + 30))
until grep -q 'GET /after-restart-' "$T/live.log"; do
	n=$((n + 1))
	curl -sS --max-time 5 -o /dev/null "http://$ADDR/after-restart-$n" || dew_fail "web did not answer"
	[ $SECONDS -lt $deadline ] || dew_fail "live logs: no line after the controller's restart within 30 s: $(cat "$T/live.log")"
	sleep 1
done
dew_ok "dew logs reconnects after the controller restarts and shows new lines"
dew_assert_contains "$(cat "$T/live.log")" "the log stream of web ended; reconnecting" "it says it is reconnecting"
kill -0 "$live_PID" 2>/dev/null || dew_fail "dew logs stopped following"
# SIGTERM, not SIGINT: a background job of a non-interactive shell starts with SIGINT ignored.
kill -TERM "$live_PID"
dew_wait_exit "$live_PID" 5 && rc=0 || rc=$?
[ "$rc" != 124 ] || dew_fail "dew logs did not end on SIGTERM"
dew_ok "dew logs ends when signalled"

# ---- files ---------------------------------------------------------------------------------------
dew files web
expect_rc 0 "files (the top)"
dew_assert_contains "$OUT" "app/" "the top lists app/"
dew_assert_contains "$OUT" "logs/" "and logs/"
dew files web /app
expect_rc 0 "files app"
[[ $OUT =~ file\ +[0-9.]+\ [KMG]?B\ +app\.py ]] || dew_fail "files app: no 'file SIZE app.py' row: $OUT"
dew_ok "files app lists app.py with its type and size"
dew --json files web app
jcheck "$OUT" '(j["path"] == "app" and j["truncated"] is False and
	any(e["name"] == "app.py" and e["type"] == "file" and e["size"] > 0 and "mtime" in e for e in j["entries"]))' \
	"files --json: path, truncated, entries with name, type, size, mtime"
dew files web app/app.py
expect_rc 0 "files app/app.py"
dew_assert_eq "$OUT" "$(cat "$top_srcdir/tests/fixtures/apps/python/app.py")" "the file's bytes, unchanged"
dew files web app/app.py --tail 25
dew_assert_eq "$OUT" "$(tail -c 25 "$top_srcdir/tests/fixtures/apps/python/app.py")" "--tail 25: its last 25 bytes"
dew files web app/nothere
expect_rc 1 "files of a missing file"
dew files web app -i 3
expect_rc 1 "files of instance 3 (there is one instance)"
dew_assert_contains "$ERR" "no instance 3" "it says there is no such instance"
dew files web app -i x
expect_rc 2 "files -i with a malformed index"

# ---- crashes -------------------------------------------------------------------------------------
api R POST /v1/apps alice "{\"name\":\"crashy\",\"command\":\"python3 -c \\\"import sys; print('bye'); sys.exit(3)\\\"\"}"
expect 201 "create crashy, whose command exits 3"
api R PUT /v1/apps/crashy/bits alice - --form-string 'resources=[]' -F "application=@$T/web.tgz"
expect 201 "crashy's bits uploaded"
dew start crashy
expect_rc 1 "dew start crashy fails"
deadline=$((SECONDS + 20))
until dew --json crashes crashy && jtrue "$OUT" 'len(j["crashes"]) >= 1'; do
	[ $SECONDS -lt $deadline ] || dew_fail "no crash of crashy within 20 s: $OUT $ERR"
	sleep 0.2
done
jcheck "$OUT" '(j["app"] == "crashy" and all(set(c) >= {"instance", "index", "version", "exit_status",
	"exit_description", "since"} for c in j["crashes"]) and j["crashes"][0]["exit_status"] == 3)' \
	"crashes --json: the documented keys, exit status 3"
dew crashes crashy
expect_rc 0 "crashes"
[[ $OUT =~ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{2}Z\ +0\ + ]] || dew_fail "crashes: no 'TIME  0' row: $OUT"
dew_ok "crashes shows the time and index of the crash"
dew_assert_not_contains "$OUT" "bye" "without -v, no log lines"
dew crashes crashy -v
expect_rc 0 "crashes -v"
dew_assert_contains "$OUT" "    out: bye" "crashes -v shows the instance's last line"
dew crashes web
expect_rc 0 "crashes of an app that never crashed"
dew_assert_contains "$OUT" "has not crashed" "it says there are none"

# ---- env -----------------------------------------------------------------------------------------
dew --json env web
expect_rc 0 "env --json"
jcheck "$OUT" 'j == {"app": "web", "env": {}}' "env --json: app and an empty env"
dew set-env web USER_GREETING "hello there"
expect_rc 0 "set-env"
dew_assert_contains "$OUT" "restart web for it to take effect" "set-env says a restart applies it"
dew set-env web USER_OTHER 2
expect_rc 0 "set-env of a second variable keeps the first"
dew env web
dew_assert_eq "$OUT" $'USER_GREETING=hello there\nUSER_OTHER=2' "env lists both, sorted"
dew set-env web VCAP_MINE x
expect_rc 1 "set-env of a VCAP_ variable is refused"
dew_assert_contains "$ERR" "VCAP_" "the controller's reason is shown"
dew set-env web ONLY_A_NAME
expect_rc 2 "set-env without a value"
ENVJ=$(curl -sS --max-time 5 "http://$ADDR/env")
jcheck "$ENVJ" '"PORT" in j and "USER_GREETING" not in j' "the running instance does not have it yet"
restart_web "restart web"
jcheck "$ENVJ" 'j["USER_GREETING"] == "hello there" and j["USER_OTHER"] == "2"' "after the restart the app sees both"
dew unset-env web USER_GREETING
expect_rc 0 "unset-env"
dew_assert_contains "$OUT" "restart web for it to take effect" "unset-env says a restart applies it"
dew --json env web
jcheck "$OUT" 'j["env"] == {"USER_OTHER": "2"}' "USER_GREETING is gone, USER_OTHER stays"
dew unset-env web USER_GREETING
expect_rc 0 "unset-env of a variable that is not set"
dew_assert_contains "$OUT" "not set" "says it was not set"
restart_web "restart web again"
jcheck "$ENVJ" '"USER_GREETING" not in j and j["USER_OTHER"] == "2"' "after the restart the removed one is gone"

# ---- routes --------------------------------------------------------------------------------------
dew routes
expect_rc 0 "routes"
[[ $OUT =~ web\.dew\.test\ +web ]] || dew_fail "routes: no 'web.dew.test  web' row: $OUT"
dew_ok "routes shows web's default route and its app"
dew map-route web www
expect_rc 0 "map-route web www (no domain: under the controller's)"
dew_assert_contains "$OUT" "www.dew.test" "it names the full host"
dew map-route web api2.dew.test
expect_rc 0 "map-route with a full host name"
dew --json routes
jcheck "$OUT" '(sorted((r["host"], r["app"]) for r in j["routes"]) ==
	[("api2.dew.test", "web"), ("crashy.dew.test", "crashy"), ("web.dew.test", "web"), ("www.dew.test", "web")])' \
	"routes --json: host and app of each"
api R POST /v1/apps bob '{"name":"bobs","no_route":true}'
expect 201 "bob creates an app"
api R POST /v1/routes bob '{"host":"taken.dew.test","app":"bobs"}'
expect 201 "bob maps taken.dew.test"
dew map-route web taken
expect_rc 1 "map-route of a host bob holds"
dew_assert_contains "$ERR" "route \`taken.dew.test\` is taken" "the controller's 409 reason is shown"
dew unmap-route web taken
expect_rc 1 "unmap-route of bob's route"
dew_assert_contains "$ERR" "no route taken.dew.test" "it says alice has no such route"
dew unmap-route crashy www
expect_rc 1 "unmap-route naming the wrong app"
dew_assert_contains "$ERR" "mapped to app web, not crashy" "it names the app the route belongs to"
dew unmap-route web www
expect_rc 0 "unmap-route web www"
dew --json routes
jcheck "$OUT" '"www.dew.test" not in [r["host"] for r in j["routes"]]' "www.dew.test is gone"
api R GET /v1/routes bob
jcheck "$R" '[r["host"] for r in j["routes"]] == ["taken.dew.test"]' "bob's route is untouched"

# ---- usage and unknown apps ----------------------------------------------------------------------
for cmd in instances stats crashes logs files env unset-env map-route; do
	dew "$cmd"
	expect_rc 2 "$cmd without its arguments"
done
dew routes extra
expect_rc 2 "routes with an argument"
dew logs web --follow
expect_rc 2 "logs with an unknown option"
for cmd in instances stats crashes env; do
	dew "$cmd" nothere
	expect_rc 1 "$cmd of an unknown app"
	dew_assert_contains "$ERR" "not found" "$cmd says the app is not found"
done
dew logs nothere --recent
expect_rc 1 "logs --recent of an unknown app"
dew logs nothere
expect_rc 1 "live logs of an unknown app (an error answer is not retried)"
dew_assert_contains "$ERR" "not found" "live logs says the app is not found"
dew help --commands
for cmd in instances stats crashes logs files env set-env unset-env routes map-route unmap-route buildpacks; do
	grep -qx "$cmd" <<<"$OUT" || dew_fail "help --commands does not list $cmd"
done
dew_ok "help --commands lists every command of this group"

# ---- bash completion -----------------------------------------------------------------------------
# complete WORDS...: what the completion offers for the last word (COMPREPLY, sorted, one line).
complete_dew() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_dew
	REPLY_WORDS=
	[ ${#COMPREPLY[@]} = 0 ] || REPLY_WORDS=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
}
PATH=$top_builddir/cli:$PATH
. "$top_srcdir/cli/dew.bash-completion"
complete_dew dew un
dew_assert_eq "$REPLY_WORDS" "unmap-route unset-env " "completion: command names"
complete_dew dew logs ""
dew_assert_eq "$REPLY_WORDS" "crashy web " "completion: app names for a command taking NAME"
complete_dew dew --json stats c
dew_assert_eq "$REPLY_WORDS" "crashy " "completion: after a global option"
complete_dew dew files web ""
dew_assert_eq "$REPLY_WORDS" "" "completion: no app name for the second argument"
complete_dew dew files -i 0 w
dew_assert_eq "$REPLY_WORDS" "web " "completion: an option's value is not an argument"
complete_dew dew files web --t
dew_assert_eq "$REPLY_WORDS" "--tail " "completion: a command's options"
complete_dew dew routes ""
dew_assert_eq "$REPLY_WORDS" "" "completion: nothing for a command without arguments"

cc_sanitizer_check
dew_pass
