#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dew CLI against a real dew-bus, dew-controller and dew-dea (issue #8): target (refused for
# something that is not a controller), login (wrong password, --password-stdin), a 401 after
# logout says to log in, info/apps/app with --json, start (staging log, instances RUNNING),
# scale, restart, stop, delete; usage errors exit 2, failures 1.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
. "$(dirname "$0")/../lib/cli-lib.sh"
dew_test_init cli-basic 180

cli_lib_start --staging-concurrency 1

# ---- usage and target ---------------------------------------------------------------------------
dew --version
expect_rc 0 "dew --version"
dew_assert_contains "$OUT" "dew " "the version is printed"
dew frobnicate
expect_rc 2 "an unknown command"
dew scale
expect_rc 2 "scale without an app"
dew apps
expect_rc 1 "apps without a target"
dew_assert_contains "$ERR" "dew target" "it says to set the target"
dew target "http://127.0.0.1:$bus_PORT"
expect_rc 1 "targeting the bus (not HTTP)"
dew target "http://127.0.0.1:$(dew_free_port)"
expect_rc 1 "targeting a closed port"
dew_assert_contains "$ERR" "cannot reach the controller" "it says the controller cannot be reached"
dew target "$CC_URL"
expect_rc 0 "dew target CC_URL"
[ "$(stat -c %a "$DEW_HOME/config.json")" = 600 ] || dew_fail "config.json is not mode 0600"
dew_ok "config.json has mode 0600"

# ---- login ---------------------------------------------------------------------------------------
dew login -u alice --password-stdin <<<"wrong password"
expect_rc 1 "a wrong password"
dew_assert_contains "$ERR" "wrong user name or password" "it says so"
dew login -u alice --password-stdin <<<"${PW[alice]}"
expect_rc 0 "login as alice"
dew --json target
jcheck "$OUT" 'j["user"] == "alice" and j["target"] == "'"$CC_URL"'"' "target --json: the user and the target"

# ---- an app through its lifecycle ------------------------------------------------------------------
dew apps
expect_rc 0 "apps (none yet)"
api R POST /v1/apps alice '{"name":"web"}'
tar -C "$top_srcdir/tests/fixtures/apps/python" -czf "$T/web.tgz" .
api R PUT /v1/apps/web/bits alice - --form-string 'resources=[]' -F "application=@$T/web.tgz"
expect 201 "web's bits uploaded through the API"
dew start web
expect_rc 0 "dew start web: staged and running"
dew_assert_contains "$OUT" "Python app" "start showed the staging log"
dew_assert_contains "$OUT" "1 of 1 running" "start reported the instance running"
dew --json app web
expect_rc 0 "dew --json app web"
jcheck "$OUT" 'j["app"]["state"] == "STARTED" and [i["state"] for i in j["instances"]] == ["RUNNING"]' \
	"app --json: STARTED with one RUNNING instance"
ADDR=$(jget "$OUT" '"%s:%s" % (j["instances"][0]["host"], j["instances"][0]["port"])')
dew_assert_eq "$(curl -sS --max-time 5 "http://$ADDR/")" "hello from python" "web answers at the printed address"
# The running count comes from the DEAs' heartbeats: it may lag the instances API a moment.
deadline=$((SECONDS + 10))
until dew apps && grep -q '1/1' <<<"$OUT"; do
	[ $SECONDS -lt $deadline ] || dew_fail "apps never showed web with 1/1 running: $OUT"
	sleep 0.2
done
dew_assert_contains "$OUT" "web" "apps lists web"
dew_ok "with 1 of 1 instances running"
dew scale web -i 2
expect_rc 0 "scale web to 2"
dew --json app web
jcheck "$OUT" 'sorted(i["index"] for i in j["instances"] if i["state"] == "RUNNING") == [0, 1]' "two instances RUNNING"
dew scale web -i two
expect_rc 2 "scale with a malformed count"
dew scale web -m 1X
expect_rc 2 "scale with a malformed memory size"
dew restart web
expect_rc 0 "restart web"
dew stop web
expect_rc 0 "stop web"
dew --json app web
jcheck "$OUT" 'j["app"]["state"] == "STOPPED"' "web is STOPPED"
dew app nothere
expect_rc 1 "app of an unknown app"
dew_assert_contains "$ERR" "not found" "it says the app is not found"
dew delete web -f
expect_rc 0 "delete web"
dew --json apps
jcheck "$OUT" 'j["apps"] == []' "no apps left"

# ---- logout ---------------------------------------------------------------------------------------
TOKEN=$(jget "$(cat "$DEW_HOME/config.json")" 'j["token"]')
dew logout
expect_rc 0 "logout"
dew apps
expect_rc 1 "apps after logout"
dew_assert_contains "$ERR" "dew login" "it says to log in"
dew_http R "$CC_URL/v1/apps" -H "Authorization: Bearer $TOKEN"
expect 401 "the old token was revoked"

cc_sanitizer_check
dew_pass
