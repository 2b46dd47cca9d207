#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# User journeys (issue #11), an app's life as its developer sees it, all through the router: push
# the Python sample (200, its body, /env with PORT, VCAP_APPLICATION and VCAP_SERVICES), scale to
# 3 (requests spread over 3 instance indices) and back to 1, logs (recent, and a live `dew logs`
# that receives a request's line: the delay is printed), an app over its memory ("out of memory"
# in `dew app` and `dew crashes`), and a second user who can neither see nor touch any of it.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
. "$(dirname "$0")/../lib/cli-lib.sh"
. "$(dirname "$0")/../lib/e2e-lib.sh"
dew_test_init e2e-app 240
export DEW_WAIT_TIMEOUT=$(e2e_bound 60)
e2e_start

# ---- push the Python sample: it answers through the router ------------------------------------------
e2e_app_copy web python
dew push web -p "$T/apps/web" -m 64M
expect_rc 0 "dew push web (the Python sample)"
dew_assert_contains "$OUT" "1 of 1 running" "push reports the instance running"
e2e_wait_answer web "hello from python" 10
e2e_get BODY web /
dew_assert_eq "$DEW_HTTP_STATUS $BODY" "200 hello from python" "GET / through the router with Host: web.$E2E_DOMAIN"

e2e_get ENVJ web /env
dew_assert_eq "$DEW_HTTP_STATUS" 200 "GET /env through the router"
jcheck "$ENVJ" 'j["PORT"] and j["PORT"].isdigit() and j["VCAP_APP_PORT"] == j["PORT"]' "/env: PORT (and VCAP_APP_PORT) set"
jcheck "$ENVJ" 'j["VCAP_APPLICATION"]["name"] == "web" and j["VCAP_APPLICATION"]["application_name"] == "web"' \
	"/env: VCAP_APPLICATION names the app"
jcheck "$ENVJ" 'j["VCAP_APPLICATION"]["uris"] == ["web.dew.test"] and j["VCAP_APPLICATION"]["application_uris"] == ["web.dew.test"]' \
	"/env: VCAP_APPLICATION has its route"
jcheck "$ENVJ" 'j["VCAP_APPLICATION"]["limits"]["mem"] == 64 and j["VCAP_APPLICATION"]["limits"]["disk"] > 0 and j["VCAP_APPLICATION"]["limits"]["fds"] > 0' \
	"/env: VCAP_APPLICATION has the limits (mem 64, disk, fds)"
jcheck "$ENVJ" 'j["VCAP_SERVICES"] == {}' "/env: VCAP_SERVICES is {} (no services bound)"
jcheck "$ENVJ" 'j["MEMORY_LIMIT"] == "64m"' "/env: MEMORY_LIMIT 64m"

# ---- scale to 3: requests spread over 3 instances; back to 1 ------------------------------------------
dew scale web -i 3
expect_rc 0 "dew scale web -i 3"
declare -A SEEN=()
deadline=$((SECONDS + $(e2e_bound 15)))
n=0
until [ ${#SEEN[@]} = 3 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "after $n requests the router spread them over ${!SEEN[*]} only"
	e2e_get BODY web /instance
	n=$((n + 1))
	[ "$DEW_HTTP_STATUS" = 200 ] || dew_fail "request $n after scaling: $DEW_HTTP_STATUS $BODY"
	jtrue "$BODY" 'j["router_index"] == str(j["index"])' ||
		dew_fail "the router's X-CF-InstanceIndex is not the index of the instance that answered: $BODY"
	SEEN[$(jget "$BODY" 'j["index"]')]=1
done
dew_assert_eq "$(printf '%s\n' "${!SEEN[@]}" | sort | tr '\n' ' ')" "0 1 2 " \
	"requests spread over instance indices 0, 1, 2, each the X-CF-InstanceIndex the router sent ($n requests)"
dew scale web -i 1
expect_rc 0 "dew scale web -i 1"
wait_json R /v1/apps/web/instances alice "$(cc_live 1)" "$(e2e_bound 15)" "one instance left"
# The router forgets the stopped instances (router.unregister) before they stop answering.
deadline=$((SECONDS + $(e2e_bound 10)))
for _ in $(seq 20); do
	e2e_get BODY web /instance
	[ "$DEW_HTTP_STATUS $(jget "$BODY" 'j["index"]' 2>/dev/null)" = "200 0" ] ||
		dew_fail "after scaling to 1, a request got: $DEW_HTTP_STATUS $BODY"
done
dew_ok "after scaling to 1, 20 requests all answered by index 0"

# ---- logs -----------------------------------------------------------------------------------------------
dew logs web --recent
expect_rc 0 "dew logs web --recent"
dew_assert_contains "$OUT" "[APP/0] OUT python sample listening" "recent logs have the app's own line"
dew_spawn live "$DEW" logs web
# The live stream is open once it printed what it had (or right away): wait for the controller
# to count the subscriber, then time one request's line.
sleep 1
t0=$(date +%s.%N)
e2e_get BODY web /live-check-1
deadline=$((SECONDS + $(e2e_bound 10)))
until grep -q 'GET /live-check-1 ' "$T/live.log"; do
	[ $SECONDS -lt $deadline ] || dew_fail "live dew logs did not show the request's line: $(cat "$T/live.log")"
	sleep 0.01
done
t1=$(date +%s.%N)
LOG_DELAY=$(python3 -c "print(round($t1 - $t0, 3))")
echo "# live dew logs: a request's line arrived $LOG_DELAY s after the request was sent"
grep -q '\[APP/0\] ERR .*GET /live-check-1 ' "$T/live.log" || dew_fail "the line is not [APP/0] ERR: $(cat "$T/live.log")"
dew_ok "live dew logs received the app's new line ([APP/0] ERR, the access log)"
python3 -c "import sys; sys.exit(0 if $LOG_DELAY < $(e2e_bound 3) else 1)" ||
	dew_fail "the live line took $LOG_DELAY s (bound $(e2e_bound 3) s)"
dew_ok "within $(e2e_bound 3) s"
kill -TERM "$live_PID"
dew_wait_exit "$live_PID" 5 >/dev/null

# ---- an app over its memory -----------------------------------------------------------------------------
e2e_app_copy hog python
dew push hog -p "$T/apps/hog" -m 32M -c "python3 -c 'print(\"allocating\", flush=True); x=bytearray(256<<20); import time; time.sleep(60)'"
expect_rc 1 "push of an app that allocates 256 MB in 32 MB fails"
dew_assert_contains "$ERR" "out of memory" "push says out of memory"
deadline=$((SECONDS + $(e2e_bound 10)))
until dew crashes hog && [[ $OUT == *"out of memory"* ]]; do
	[ $SECONDS -lt $deadline ] || dew_fail "dew crashes hog never said out of memory: $OUT $ERR"
	sleep 0.2
done
dew_ok "dew crashes hog says out of memory"
dew app hog
dew_assert_contains "$OUT" "out of memory" "dew app hog says out of memory"
dew stop hog
expect_rc 0 "dew stop hog"

# ---- a second user ----------------------------------------------------------------------------------------
cc_user bob
export DEW_HOME=$T/bob-home
dew target "$CC_URL"
dew login -u bob --password-stdin <<<"${PW[bob]}"
expect_rc 0 "bob logs in with his own DEW_HOME"
dew apps
expect_rc 0 "bob: dew apps"
dew_assert_not_contains "$OUT" "web" "bob does not see alice's apps"
dew routes
dew_assert_not_contains "$OUT" "web.$E2E_DOMAIN" "bob does not see alice's routes"
for cmd in "app web" "instances web" "logs web --recent" "scale web -i 3" "stop web" "set-env web X 1" "delete web -f"; do
	# shellcheck disable=SC2086
	dew $cmd
	[ "$RC" = 1 ] || dew_fail "bob: dew $cmd: exit $RC, expected 1: $OUT $ERR"
done
dew_ok "bob cannot read, scale, stop, change or delete alice's app (each exits 1)"
e2e_app_copy bobapp python
dew push bobapp -p "$T/apps/bobapp" --no-start
expect_rc 0 "bob pushes his own app (not started)"
dew map-route bobapp web
expect_rc 1 "bob cannot map alice's route web.$E2E_DOMAIN to his app"
dew push web -p "$T/apps/bobapp" --no-start
[ "$RC" != 0 ] || dew_fail "bob pushed an app named web over alice's"
dew_assert_contains "$ERR" "web.$E2E_DOMAIN\` is taken" "bob cannot push an app of his own named web: its route is alice's"
dew --json apps
jcheck "$OUT" '[a["name"] for a in (j["apps"] if isinstance(j, dict) else j)] == ["bobapp"]' \
	"the refused push left nothing behind: bob has bobapp only"
export DEW_HOME=$T/dew-home
dew --json instances web
jcheck "$OUT" '[i["state"] for i in j["instances"]] == ["RUNNING"]' "alice's web still runs one instance"
e2e_get BODY web /
dew_assert_eq "$DEW_HTTP_STATUS $BODY" "200 hello from python" \
	"web.$E2E_DOMAIN still reaches alice's app"

e2e_sanitizer_check
dew_pass
