#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Staging driven by dew-controller (issue #7, DESIGN.md section 5.1) with a real dew-bus, a real
# dew-dea staging in containers of the host stack and a real controller: bits uploaded to a
# STARTED app are staged (STAGED, detected buildpack, the droplet in the blob store), the staging
# log is kept and served to the owner only, a package no buildpack detects is FAILED with the
# DEA's reason, and with no DEA subscribed the app is FAILED saying so.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
dew_test_init controller-staging 90

CC=$top_builddir/controller/dew-controller
[ -x "$CC" ] || dew_fail "dew-controller not built at $CC"
FIX=$top_srcdir/tests/fixtures/apps
dea_lib_init
dea_start dea --staging-concurrency 1

CC_ARGS=(--bus "$BUS_URL" --db "$T/cc.db" --blobs-dir "$T/blobs" --domain dew.test --password-iterations 1000
	--internal-secret test-internal-secret-0123456789 --api-host 127.0.0.1 --staging-timeout 60s)
declare -A PW=([admin]='admin password 1' [alice]='alice password 1' [bob]='bob password 1')
echo "${PW[admin]}" | "$CC" "${CC_ARGS[@]}" --create-admin admin >/dev/null 2>&1 || dew_fail "--create-admin"
dew_start_daemon cc "$CC" "${CC_ARGS[@]}"
CC_URL=http://127.0.0.1:$cc_PORT

declare -A TOK=()
login() {
	local out
	out=$(curl -sS --max-time 10 -X POST -H 'Content-Type: application/json' \
		--data-binary "{\"username\":\"$1\",\"password\":\"${PW[$1]}\"}" "$CC_URL/v1/tokens")
	TOK[$1]=$(jget "$out" 'j["token"]') || dew_fail "login $1: $out"
}
# api VAR METHOD PATH USER [BODY] [CURL ARGS...]
api() {
	local var=$1 method=$2 path=$3 who=$4
	shift 4
	local args=(-X "$method" -H "Authorization: Bearer ${TOK[$who]}")
	if [ $# -gt 0 ]; then
		[ "$1" = - ] || args+=(-H 'Content-Type: application/json' --data-binary "$1")
		shift
	fi
	dew_http "$var" "$CC_URL$path" "${args[@]}" "$@"
}
expect() {
	[ "$DEW_HTTP_STATUS" = "$1" ] || dew_fail "$2: status $DEW_HTTP_STATUS, expected $1: $R"
	dew_ok "$2 ($1)"
}
# wait_package APP STATE SECONDS: poll the app until its package_state is STATE; the app in $APP.
wait_package() {
	local deadline=$((SECONDS + $3)) st
	while :; do
		api APP GET "/v1/apps/$1" alice
		st=$(jget "$APP" 'j.get("package_state")' 2>/dev/null)
		[ "$st" = "$2" ] && return 0
		[ "$st" = PENDING ] || [ "$st" = "$2" ] ||
			dew_fail "$1: package_state $st, expected $2: $APP"
		[ $SECONDS -lt $deadline ] || dew_fail "$1: still $st after $3 s: $APP"
		sleep 0.2
	done
}
# push APP FIXTURE: create APP, upload FIXTURE's files as its bits, start it.
push() {
	tar -C "$FIX/$2" -czf "$T/$1.tgz" . || dew_fail "package $2"
	api R POST /v1/apps alice "{\"name\":\"$1\"}"
	expect 201 "create $1"
	api R PUT "/v1/apps/$1/bits" alice - --form-string 'resources=[]' -F "application=@$T/$1.tgz"
	expect 201 "upload $1's bits ($2)"
	api R PUT "/v1/apps/$1" alice '{"state":"STARTED"}'
	expect 200 "start $1"
}

login admin
api R POST /v1/users admin "{\"username\":\"alice\",\"password\":\"${PW[alice]}\"}"
expect 201 "create alice"
api R POST /v1/users admin "{\"username\":\"bob\",\"password\":\"${PW[bob]}\"}"
expect 201 "create bob"
login alice
login bob

# ---- a python app is staged ------------------------------------------------------------------
push py python
wait_package py STAGED 60
dew_ok "py is STAGED"
dew_assert_eq "$(jget "$APP" 'j.get("detected_buildpack")')" python "py's detected buildpack is python"
dew_assert_eq "$(jget "$APP" 'j.get("staging_error", "")')" "" "py has no staging_error"
ls "$T/blobs/droplets" | grep -Eq '^[0-9a-f]{64}$' || dew_fail "no droplet in $T/blobs/droplets"
dew_ok "the droplet is in the blob store"
grep -q "app py (.*) staged: droplet" "$T/cc.log" || dew_fail "the controller did not log the staging"

api LOG GET /v1/apps/py/staging_log alice
expect 200 "GET py's staging_log"
[ "$(grep -c . <<<"$LOG")" -ge 2 ] || dew_fail "py's staging log has fewer than 2 lines: $LOG"
dew_ok "py's staging log has $(grep -c . <<<"$LOG") lines"
dew_assert_contains "$LOG" "python" "py's staging log names the buildpack"
api R GET /v1/apps/py/staging_log bob
expect 404 "bob cannot read alice's staging log"
dew_http R "$CC_URL/v1/apps/py/staging_log"
expect 401 "the staging log needs a token"

# ---- a package no buildpack detects ----------------------------------------------------------
push nodetect broken-nodetect
wait_package nodetect FAILED 60
dew_assert_contains "$(jget "$APP" 'j.get("staging_error")')" "no buildpack detected" \
	"nodetect FAILED: no buildpack detected"

# ---- no DEA ------------------------------------------------------------------------------------
dew_stop "$dea_PID" 10
# The recorder subscribes to every subject, `staging` included: it would be a responder.
dew_stop "$recorder_PID" 5
push lonely python
wait_package lonely FAILED 15
dew_assert_contains "$(jget "$APP" 'j.get("staging_error")')" "no DEA is staging" "lonely FAILED: no DEA is staging"

# "restage": true stages again (and fails the same way without a DEA).
api R PUT /v1/apps/py alice '{"restage":true}'
expect 200 "restage py"
wait_package py FAILED 15
dew_assert_contains "$(jget "$APP" 'j.get("staging_error")')" "no DEA is staging" "py restaged without a DEA: FAILED"

if grep -E -q 'Sanitizer|runtime error:' "$T/cc.log"; then
	grep -E -A30 'Sanitizer|runtime error:' "$T/cc.log" >&2
	dew_fail "dew-controller's log has a sanitizer report"
fi
dew_ok "no sanitizer report in dew-controller's log"
dew_pass
