#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-controller's REST API (issue #7, DESIGN.md section 6) with curl against a real controller
# and a real dew-bus: --create-admin, tokens (login, logout, expiry), users, /v1/info and the
# stacks DEAs advertise, apps (CRUD, per-user isolation: another user's app is a 404 exactly like
# a missing one, routes unique across users), a 422 naming the field for every invalid field,
# optimistic concurrency (412/409), quotas (403 with the numbers), droplet.updated and dea.stop
# on the bus, app bits (resource_match, uploads, re-uploads, hostile archives), kill -9 and
# restart on the same database, /metrics. JSON is checked with python3.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init controller-api 90
export PYTHONDONTWRITEBYTECODE=1 # natsclient.py is imported from the source tree

CC=$top_builddir/controller/dew-controller
BUS=$top_builddir/bus/dew-bus
NC=$top_srcdir/tests/lib/natsclient.py
[ -x "$CC" ] || dew_fail "dew-controller not built at $CC"
[ -x "$BUS" ] || dew_fail "dew-bus not built at $BUS"
command -v python3 >/dev/null || dew_skip "python3 is not installed"
command -v curl >/dev/null || dew_skip "curl is not installed"

# ---- helpers ----------------------------------------------------------------------------------

# jcheck JSON EXPR MESSAGE: a Python expression over j (the JSON parsed) must be true.
jcheck() {
	python3 -c 'import json, re, sys
j = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2], {"re": re}, {"j": j}) else 1)' "$1" "$2" 2>"$T/.jcheck-err" ||
		dew_fail "$3: ($2) is false for: $1 $(cat "$T/.jcheck-err")"
	dew_ok "$3"
}

# jget JSON EXPR: print a Python expression over j (strings as they are, the rest as JSON).
jget() {
	python3 -c 'import json, sys
j = json.loads(sys.argv[1]); v = eval(sys.argv[2], {}, {"j": j})
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

# Tokens live 3 s here (--token-ttl 3s, to test expiry), so every call logs in again when its
# user's token is older than 1.5 s: a token is valid for at least 3 s after it was made.
declare -A PW=() TOK=() TOK_AT=()
now_us() { echo "${EPOCHREALTIME/./}"; }

# login USER: a fresh token for USER into TOK[USER].
login() {
	local u=$1 at out
	at=$(now_us)
	out=$(curl -sS --max-time 10 -X POST -H 'Content-Type: application/json' \
		--data-binary "{\"username\":\"$u\",\"password\":\"${PW[$u]}\"}" "$CC_URL/v1/tokens") ||
		dew_fail "login $u: curl failed"
	TOK[$u]=$(jget "$out" 'j["token"]' 2>/dev/null) || dew_fail "login $u: $out"
	TOK_AT[$u]=$at
}

# api VAR METHOD PATH WHO [BODY] [CURL ARGS...]: a request to the controller. WHO is a user name
# (a fresh token of theirs), "-" (no Authorization header) or "=TOKEN" (that token). BODY (JSON)
# is sent when given and not "-". The response headers land in $T/.hdr.
api() {
	local var=$1 method=$2 path=$3 who=$4
	shift 4
	local args=(-X "$method" -D "$T/.hdr")
	case "$who" in
	-) ;;
	=*) args+=(-H "Authorization: Bearer ${who#=}") ;;
	*)
		if [ -z "${TOK[$who]:-}" ] || [ $(($(now_us) - TOK_AT[$who])) -gt 1500000 ]; then
			login "$who"
		fi
		args+=(-H "Authorization: Bearer ${TOK[$who]}")
		;;
	esac
	if [ $# -gt 0 ]; then
		[ "$1" = - ] || args+=(-H 'Content-Type: application/json' --data-binary "$1")
		shift
	fi
	dew_http "$var" "$CC_URL$path" "${args[@]}" "$@"
}

# hdr NAME: a response header of the last api call.
hdr() {
	awk -v n="$1" 'BEGIN { n = tolower(n) } { sub(/\r$/, "") } tolower(substr($0, 1, length(n) + 1)) == n ":" {
		sub(/^[^:]*:[ \t]*/, ""); print; exit }' "$T/.hdr"
}

# expect STATUS MESSAGE [NEEDLE...]: the last call answered STATUS; the body of an error has
# {code: STATUS, description} and the description contains every NEEDLE.
expect() {
	local want=$1 msg=$2
	shift 2
	[ "$DEW_HTTP_STATUS" = "$want" ] || dew_fail "$msg: status $DEW_HTTP_STATUS, expected $want: $R"
	if [ "$want" -ge 400 ]; then
		local d
		d=$(python3 -c 'import json, sys
try:
    j = json.loads(sys.argv[1])
    assert j["code"] == int(sys.argv[2]) and isinstance(j["description"], str)
except Exception:
    sys.exit("not an error body {code: %s, description}" % sys.argv[2])
for n in sys.argv[3:]:
    if n not in j["description"]:
        sys.exit("the description does not name %r" % n)
print(j["description"])' "$R" "$want" "$@" 2>&1) || dew_fail "$msg: $d: $R"
		dew_ok "$msg ($want)"
		echo "#   $d"
	else
		dew_ok "$msg ($want)"
	fi
}

# no_sanitizer_reports: the controller's log has no ASan/UBSan report (sanitizer builds).
no_sanitizer_reports() {
	if grep -E -q 'Sanitizer|runtime error:' "$T/cc.log"; then
		grep -E -A30 'Sanitizer|runtime error:' "$T/cc.log" >&2
		dew_fail "dew-controller's log has a sanitizer report"
	fi
	dew_ok "no sanitizer report in dew-controller's log"
}

# Messages on the bus, recorded by natsclient.py (see its `wait` command).
REC=$T/bus.rec
mark() { python3 "$NC" mark "$REC"; }
bus_wait() { PYTHONPATH=$top_srcdir/tests/lib python3 "$NC" wait "$REC" "$@"; }

# ---- the bus, --create-admin, the controller --------------------------------------------------

dew_start_daemon bus "$BUS"
BUS_URL=nats://127.0.0.1:$bus_PORT
dew_spawn rec python3 "$NC" record "$bus_PORT" "$REC"
dew_wait_file "$REC.ready" 10 || dew_fail "the bus recorder did not start"

INTERNAL_SECRET=test-internal-secret-0123456789
CC_ARGS=(--bus "$BUS_URL" --db "$T/cc.db" --blobs-dir "$T/blobs" --domain dew.test --password-iterations 1000
	--token-ttl 3s --quota-memory 1024 --quota-apps 3 --internal-secret "$INTERNAL_SECRET")
PW[admin]='admin password 1'
out=$(echo "${PW[admin]}" | "$CC" "${CC_ARGS[@]}" --create-admin admin 2>&1)
dew_assert_eq "$?" 0 "--create-admin admin exits 0"
dew_assert_contains "$out" "admin \`admin\` created" "--create-admin says the admin was created"
out=$(echo "${PW[admin]}" | "$CC" "${CC_ARGS[@]}" --create-admin admin 2>&1)
dew_assert_eq "$?" 1 "--create-admin of an existing user exits 1"
dew_assert_contains "$out" "exists already" "--create-admin of an existing user says it exists already"
out=$(echo short | "$CC" "${CC_ARGS[@]}" --create-admin admin2 2>&1)
dew_assert_eq "$?" 2 "--create-admin with a short password exits 2"
dew_assert_contains "$out" "password" "--create-admin with a short password names the password ($out)"
out=$("$CC" "${CC_ARGS[@]}" --create-admin admin3 2>&1 </dev/null)
dew_assert_eq "$?" 2 "--create-admin without a password on stdin exits 2"

start_cc() {
	dew_start_daemon cc "$CC" "${CC_ARGS[@]}"
	CC_URL=http://127.0.0.1:$cc_PORT
}
start_cc
# The controller asks every DEA to advertise once connected: proof it is on the bus.
bus_wait --subject dea.locate --timeout 10 >/dev/null || dew_fail "the controller published no dea.locate"
dew_ok "the controller is on the bus (dea.locate at connect)"

# ---- auth ---------------------------------------------------------------------------------------

api R GET /v1/apps -
expect 401 "GET /v1/apps without a token" "dew login"
dew_assert_contains "$(hdr WWW-Authenticate)" "Bearer" "a 401 has WWW-Authenticate: Bearer"
api R GET /v1/apps "=0123456789abcdef"
expect 401 "a garbage token"
api R GET /v1/apps "=$(printf 'a%.0s' {1..64})"
expect 401 "a well-formed but unknown token" "dew login"
api R GET /v1/apps - - -H "Authorization: Basic YWRtaW46eA=="
expect 401 "Basic authorization"
api R POST /v1/tokens - '{"username":"admin","password":"wrong password"}'
expect 401 "POST /v1/tokens with a wrong password" "wrong username or password"
api R POST /v1/tokens - '{"username":"nobody","password":"wrong password"}'
expect 401 "POST /v1/tokens for an unknown user" "wrong username or password"
api R POST /v1/tokens - '{"username":"admin"}'
expect 422 "POST /v1/tokens without a password" "password"
api R POST /v1/tokens - "{\"username\":\"admin\",\"password\":\"${PW[admin]}\"}"
expect 201 "POST /v1/tokens with the right password"
jcheck "$R" 're.fullmatch("[0-9a-f]{64}", j["token"]) and j["user"] == "admin" and j["admin"] is True' \
	"the token answer has token, user and admin"
jcheck "$R" "isinstance(j['expires'], int) and 0 <= j['expires'] - $(date +%s) <= 4" "expires is in 3 s"
TOKEN=$(jget "$R" 'j["token"]')
api R GET /v1/apps "=$TOKEN"
expect 200 "the token works"
api R DELETE /v1/tokens/current "=$TOKEN"
expect 204 "DELETE /v1/tokens/current"
api R GET /v1/apps "=$TOKEN"
expect 401 "a deleted token no longer works" "dew login"

# ---- users --------------------------------------------------------------------------------------

PW[alice]='alice password'
PW[bob]='bob password 2'
api R POST /v1/users admin "{\"username\":\"alice\",\"password\":\"${PW[alice]}\"}"
expect 201 "admin creates alice"
jcheck "$R" 'j["username"] == "alice" and j["admin"] is False and isinstance(j["id"], int)' "the new user's answer"
api R POST /v1/users admin "{\"username\":\"bob\",\"password\":\"${PW[bob]}\"}"
expect 201 "admin creates bob"
api R POST /v1/users alice '{"username":"carol","password":"carol password"}'
expect 403 "a non-admin cannot create users" "admin"
api R POST /v1/users - '{"username":"carol","password":"carol password"}'
expect 401 "creating a user without a token"
api R POST /v1/users admin '{"username":"alice","password":"another password"}'
expect 409 "a duplicate user" "alice"
api R POST /v1/users admin '{"username":"Carol","password":"carol password"}'
expect 422 "an uppercase username" "username"
api R POST /v1/users admin '{"username":"-carol","password":"carol password"}'
expect 422 "a username starting with '-'" "username"
api R POST /v1/users admin '{"username":"carol","password":"short"}'
expect 422 "a short password" "password"
api R POST /v1/users admin '{"username":"carol"}'
expect 422 "a missing password" "password"
api R POST /v1/users admin '{"username":"carol",'
expect 400 "a malformed users body"
api R POST /v1/tokens - "{\"username\":\"alice\",\"password\":\"${PW[alice]}\"}"
expect 201 "alice logs in"
jcheck "$R" 'j["user"] == "alice" and j["admin"] is False' "alice is no admin"

# ---- /v1/info -----------------------------------------------------------------------------------

api R GET /v1/info -
expect 200 "GET /v1/info without a token"
jcheck "$R" 'isinstance(j["version"], str) and j["version"] and j["domains"] == ["dew.test"]' \
	"/v1/info: version and domains"
jcheck "$R" 'j["stacks"] == [] and j["buildpacks"] == [] and "usage" not in j' \
	"/v1/info: no stacks or buildpacks without DEAs, no usage without a token"
jcheck "$R" 'j["limits"]["memory"] == 1024 and j["limits"]["apps"] == 3' "/v1/info: limits"
python3 "$NC" pub "$bus_PORT" dea.advertise '{"id":"dea-test-1","stacks":["host"],"available_memory":4096,"available_disk":16384,"app_id_to_count":{},"placement_tags":[],"buildpacks":["static","python"]}' ||
	dew_fail "publishing dea.advertise"
deadline=$((SECONDS + 10))
while :; do
	api R GET /v1/info -
	[ "$DEW_HTTP_STATUS" = 200 ] && [ "$(jget "$R" 'j["stacks"]')" = '["host"]' ] && break
	[ $SECONDS -lt $deadline ] || dew_fail "/v1/info stacks after dea.advertise: $R"
	sleep 0.05
done
dew_ok "/v1/info lists the stack a DEA advertised"
jcheck "$R" 'j["buildpacks"] == ["python", "static"]' "/v1/info lists its buildpacks, sorted"
python3 "$NC" pub "$bus_PORT" dea.advertise '{"id":"bad"}' || dew_fail "publishing a bad dea.advertise"
api R GET /v1/info alice
expect 200 "GET /v1/info with a token"
jcheck "$R" 'j["usage"] == {"memory": 0, "apps": 0} and j["user"] == "alice"' "/v1/info: the caller's usage"
api R GET /v1/info "=$(printf 'b%.0s' {1..64})"
expect 401 "GET /v1/info with a bad token"

# ---- apps: create, list, get, isolation -------------------------------------------------------

M=$(mark)
api R POST /v1/apps alice '{"name":"web"}'
expect 201 "alice creates web"
jcheck "$R" 'j["name"] == "web" and j["routes"] == ["web.dew.test"] and j["state"] == "STOPPED"' \
	"web: default route, STOPPED"
jcheck "$R" 'j["package_state"] == "PENDING" and j["revision"] == 1 and j["owner"] == "alice"' \
	"web: PENDING, revision 1, owner alice"
jcheck "$R" 're.fullmatch("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", j["guid"])' \
	"web: the guid is a UUID"
jcheck "$R" 'j["instances"] == 1 and j["memory"] == 256 and j["disk"] == 1024 and j["stack"] == "host" and j["env"] == {}' \
	"web: the defaults"
dew_assert_eq "$(hdr ETag)" '"1"' "create answers ETag \"1\""
WEB_GUID=$(jget "$R" 'j["guid"]')
bus_wait --after "$M" --subject droplet.updated --eq "droplet=$WEB_GUID" >/dev/null ||
	dew_fail "no droplet.updated for the new app"
dew_ok "create publishes droplet.updated {droplet: guid}"
api R POST /v1/apps alice '{"name":"web"}'
expect 409 "alice creates web again" "web"
api R GET /v1/apps alice
expect 200 "alice lists her apps"
jcheck "$R" '[a["name"] for a in j["apps"]] == ["web"] and j["apps"][0]["guid"] == "'"$WEB_GUID"'"' "alice's list: web"
api R GET /v1/apps/web alice
expect 200 "alice gets web"
jcheck "$R" 'j["guid"] == "'"$WEB_GUID"'" and j["routes"] == ["web.dew.test"]' "GET web: the same app"
dew_assert_eq "$(hdr ETag)" '"1"' "GET answers ETag \"1\""

api R GET /v1/apps/nope bob
expect 404 "bob gets a missing app" "not found"
MISSING=$R
api R GET /v1/apps/web bob
dew_assert_eq "$DEW_HTTP_STATUS $R" "404 $MISSING" "bob GET alice's web: the same 404 as a missing app"
api R PUT /v1/apps/web bob '{"instances":2}'
dew_assert_eq "$DEW_HTTP_STATUS $R" "404 $MISSING" "bob PUT alice's web: the same 404 as a missing app"
api R DELETE /v1/apps/web bob
dew_assert_eq "$DEW_HTTP_STATUS $R" "404 $MISSING" "bob DELETE alice's web: the same 404 as a missing app"
api R GET /v1/apps/web?owner=alice bob
dew_assert_eq "$DEW_HTTP_STATUS $R" "404 $MISSING" "bob GET web?owner=alice: the same 404 as a missing app"
api R GET /v1/apps bob
expect 200 "bob lists his apps"
jcheck "$R" 'j["apps"] == []' "bob's list does not show alice's app"
api R GET /v1/apps/web alice
jcheck "$R" 'j["revision"] == 1 and j["instances"] == 1' "bob's PUT and DELETE changed nothing"
api R POST /v1/apps bob '{"name":"web"}'
expect 409 "bob creates web with the default route alice has" "web.dew.test"
api R POST /v1/apps bob '{"name":"web","routes":["bobweb.dew.test"]}'
expect 201 "bob creates web with his own route (names are per user)"
jcheck "$R" 'j["routes"] == ["bobweb.dew.test"] and j["owner"] == "bob" and j["guid"] != "'"$WEB_GUID"'"' \
	"bob's web: his route, his app"
BOB_GUID=$(jget "$R" 'j["guid"]')
api R POST /v1/apps bob '{"name":"other","routes":["web.dew.test"]}'
expect 409 "a route of another user is taken" "web.dew.test"
api R GET /v1/apps/other bob
expect 404 "the app refused for its route was not kept"
api R GET /v1/apps admin
expect 200 "admin lists every app"
jcheck "$R" 'sorted((a["name"], a["owner"]) for a in j["apps"]) == [("web", "alice"), ("web", "bob")]' \
	"admin's list: both webs with their owners"
api R GET /v1/apps/web?owner=alice admin
expect 200 "admin GET /v1/apps/web?owner=alice"
jcheck "$R" 'j["guid"] == "'"$WEB_GUID"'" and j["owner"] == "alice"' "admin reaches alice's web"
api R GET /v1/apps/web?owner=bob admin
jcheck "$R" 'j["guid"] == "'"$BOB_GUID"'"' "admin reaches bob's web"
api R GET /v1/apps/web?owner=nobody admin
expect 404 "admin: ?owner= of an unknown user"
api R GET /v1/apps/web admin
expect 404 "admin without ?owner= looks among their own apps"

# ---- validation -----------------------------------------------------------------------------------

# bad FIELD BODY: POST /v1/apps with BODY is a 422 naming FIELD.
bad() {
	api R POST /v1/apps alice "$2"
	expect 422 "invalid $1: $2" "$1"
}
L64=$(printf 'a%.0s' {1..64})
bad name '{"name":"Web2"}'
bad name '{"name":"-web"}'
bad name '{"name":"web-"}'
bad name '{"name":"w_b"}'
bad name "{\"name\":\"$L64\"}"
bad name '{"name":""}'
bad name '{"name":5}'
bad name '{"instances":1}'
bad instances '{"name":"v","instances":-1}'
bad instances '{"name":"v","instances":101}'
bad instances '{"name":"v","instances":"2"}'
bad instances '{"name":"v","instances":1.5}'
bad memory '{"name":"v","memory":0}'
bad memory '{"name":"v","memory":70000}'
bad disk '{"name":"v","disk":0}'
bad disk '{"name":"v","disk":2000000}'
bad stack '{"name":"v","stack":"a b"}'
bad stack '{"name":"v","stack":""}'
bad buildpack '{"name":"v","buildpack":"../x"}'
bad command '{"name":"v","command":"run\nrm -rf /"}'
bad env '{"name":"v","env":"A=1"}'
bad env '{"name":"v","env":["A"]}'
bad VCAP_X '{"name":"v","env":{"VCAP_X":"1"}}'
bad 1A '{"name":"v","env":{"1A":"x"}}'
bad env '{"name":"v","env":{"A":1}}'
bad state '{"name":"v","state":"RUNNING"}'
bad routes '{"name":"v","routes":"v.dew.test"}'
bad routes '{"name":"v","routes":["Bad_Host"]}'
bad routes '{"name":"v","routes":["ok.dew.test","a..b"]}'
api R POST /v1/apps alice '{"name":"v",'
expect 400 "a malformed JSON body"
api R POST /v1/apps alice '["v"]'
expect 400 "a body that is not an object"
api R POST /v1/apps alice ''
expect 400 "an empty body"
api R GET /v1/apps alice
jcheck "$R" '[a["name"] for a in j["apps"]] == ["web"]' "no refused app was kept"
api R GET /v1/info alice
jcheck "$R" 'j["usage"]["apps"] == 1' "refused apps count for nothing"
api R PUT /v1/apps/web alice '{"instances":-1}'
expect 422 "PUT with invalid instances" instances
api R PUT /v1/apps/web alice '{"env":{"VCAP_SERVICES":"{}"}}'
expect 422 "PUT with a VCAP_ variable" VCAP_SERVICES
api R PUT /v1/apps/web alice '{"name":"Web"}'
expect 422 "PUT with an invalid name" name
api R PUT /v1/apps/web alice 'nope'
expect 400 "PUT with a malformed body"
api R GET /v1/apps/web alice
jcheck "$R" 'j["revision"] == 1' "refused updates changed nothing"

# ---- optimistic concurrency -------------------------------------------------------------------

M=$(mark)
api R PUT /v1/apps/web alice '{"instances":2,"env":{"GREETING":"hello"}}' -H 'If-Match: "1"'
expect 200 'PUT with If-Match: "1"'
jcheck "$R" 'j["revision"] == 2 and j["instances"] == 2 and j["env"] == {"GREETING": "hello"}' "the update took: revision 2"
dew_assert_eq "$(hdr ETag)" '"2"' "PUT answers ETag \"2\""
bus_wait --after "$M" --subject droplet.updated --eq "droplet=$WEB_GUID" >/dev/null ||
	dew_fail "no droplet.updated for the update"
dew_ok "update publishes droplet.updated"
api R PUT /v1/apps/web alice '{"instances":3}' -H 'If-Match: "1"'
expect 412 'PUT with a stale If-Match: "1"' "revision 2"
api R PUT /v1/apps/web alice '{"instances":3,"revision":1}'
expect 409 'PUT with a stale "revision": 1' "revision 2"
api R PUT /v1/apps/web alice '{"instances":3,"revision":2}'
expect 200 'PUT with the current "revision": 2'
api R PUT /v1/apps/web alice '{"instances":1}' -H 'If-Match: W/"3"'
expect 200 'PUT with If-Match: W/"3"'
api R PUT /v1/apps/web alice '{"command":"./run"}'
expect 200 "PUT without any precondition (last write wins)"
jcheck "$R" 'j["revision"] == 5 and j["instances"] == 1 and j["command"] == "./run"' "revision 5"
api R PUT /v1/apps/web alice '{"instances":1,"revision":"5"}'
expect 422 'PUT with a "revision" that is not an integer' revision
api R PUT /v1/apps/web alice '{"stack":null}' -H 'If-Match: *'
expect 200 'PUT with If-Match: * (the app exists)'
jcheck "$R" 'j["revision"] == 6 and j["stack"] == "host"' '"stack": null is the default stack'
api R GET /v1/apps/web alice
jcheck "$R" 'j["revision"] == 6 and j["env"] == {"GREETING": "hello"}' "GET sees revision 6"

# ---- bits -----------------------------------------------------------------------------------------

mkdir -p "$T/app/lib" "$T/app2/lib"
printf 'web: ./run\n' >"$T/app/Procfile"
printf '#!/bin/sh\necho hello\n' >"$T/app/run"
chmod 755 "$T/app/run"
head -c 5000 /dev/urandom >"$T/app/lib/data.bin"
printf 'v1\n' >"$T/app/lib/version.txt"
tar czf "$T/app.tgz" -C "$T/app" .
# resources DIR [FILE...]: the resource_match entries of DIR's files (every one when no FILE).
resources() {
	python3 - "$@" <<'PY'
import hashlib, json, os, sys
root, only = sys.argv[1], sys.argv[2:]
out = []
for d, _, files in sorted(os.walk(root)):
    for f in sorted(files):
        p = os.path.join(d, f)
        fn = os.path.relpath(p, root)
        if only and fn not in only:
            continue
        st = os.stat(p)
        out.append({"sha256": hashlib.sha256(open(p, "rb").read()).hexdigest(), "size": st.st_size,
                    "fn": fn, "mode": st.st_mode & 0o777})
print(json.dumps(out))
PY
}
ALL=$(resources "$T/app")

api R POST /v1/resource_match alice '[]'
expect 200 "resource_match []"
dew_assert_eq "$R" "[]" "resource_match [] answers []"
api R POST /v1/resource_match alice "$ALL"
expect 200 "resource_match before any upload"
dew_assert_eq "$R" "[]" "an empty pool matches nothing"
api R POST /v1/resource_match - '[]'
expect 401 "resource_match without a token"
api R POST /v1/resource_match alice '{"sha256":"x"}'
expect 400 "resource_match of an object"
api R POST /v1/resource_match alice '[{"sha256":"xyz","size":1,"fn":"a","mode":420}]'
[ "$DEW_HTTP_STATUS" = 400 ] || [ "$DEW_HTTP_STATUS" = 422 ] ||
	dew_fail "resource_match of a bad sha256: status $DEW_HTTP_STATUS: $R"
expect "$DEW_HTTP_STATUS" "resource_match of a bad sha256 is refused" sha256

api R PUT /v1/apps/web/bits alice - --form-string 'resources=[]' -F "application=@$T/app.tgz"
expect 201 "upload web's bits"
jcheck "$R" 're.fullmatch("[0-9a-f]{64}", j["package_sha256"]) and j["files"] == 4 and j["changed"] is True' \
	"the upload: a package of 4 files, changed"
PKG1=$(jget "$R" 'j["package_sha256"]')
api R PUT /v1/apps/web/bits alice - --form-string 'resources=[]' -F "application=@$T/app.tgz"
expect 201 "upload the same bits again"
jcheck "$R" 'j["package_sha256"] == "'"$PKG1"'" and j["changed"] is False' "the same bits: the same package, unchanged"
api R GET /v1/apps/web alice
jcheck "$R" 'j["package_state"] == "PENDING"' "web's package is PENDING (not staged yet)"
api R POST /v1/resource_match alice "$ALL"
expect 200 "resource_match after the upload"
jcheck "$R" "j == $ALL" "the pool holds every uploaded file (same entries, same order)"
api R POST /v1/resource_match bob "$ALL"
jcheck "$R" "j == $ALL" "the pool is shared: bob's resource_match finds them too"
api R POST /v1/resource_match alice "$(resources "$T/app" run | sed 's/"size": [0-9]*/"size": 1/')"
dew_assert_eq "$R" "[]" "resource_match needs the size to match too"

# A second version: version.txt changed; the rest is sent as matched resources.
cp -a "$T/app/." "$T/app2/"
printf 'v2\n' >"$T/app2/lib/version.txt"
tar czf "$T/app2.tgz" -C "$T/app2" lib/version.txt
UNCHANGED=$(resources "$T/app" Procfile run lib/data.bin)
api R PUT /v1/apps/web/bits alice - --form-string "resources=$UNCHANGED" -F "application=@$T/app2.tgz"
expect 201 "upload matched resources plus one changed file"
jcheck "$R" 'j["package_sha256"] != "'"$PKG1"'" and j["files"] == 4 and j["changed"] is True' \
	"one changed file: a new package of 4 files"
PKG2=$(jget "$R" 'j["package_sha256"]')
tar czf "$T/app2-all.tgz" -C "$T/app2" .
api R PUT /v1/apps/web/bits alice - --form-string 'resources=[]' -F "application=@$T/app2-all.tgz"
jcheck "$R" 'j["package_sha256"] == "'"$PKG2"'" and j["changed"] is False' \
	"the same files uploaded whole give the same package"
api R PUT /v1/apps/web/bits alice - --form-string "resources=$UNCHANGED"
expect 201 "an upload of matched resources only (no application part)"
jcheck "$R" 'j["files"] == 3 and j["changed"] is True' "matched resources only: a package of 3 files"
api R PUT /v1/apps/web/bits alice - --form-string "resources=$(resources "$T/app2")"
jcheck "$R" 'j["package_sha256"] == "'"$PKG2"'" and j["changed"] is True' "back to the v2 package from the pool alone"
# Naming a stored package (the CLI's push cache): no file list, the same effect as its bits.
api R PUT /v1/apps/web/package alice '{"sha256": "'"$PKG1"'"}'
expect 201 "name the v1 package"
jcheck "$R" 'j == {"package_sha256": "'"$PKG1"'", "changed": True}' "the app has the v1 package again"
api R PUT /v1/apps/web/package alice '{"sha256": "'"$PKG1"'"}'
jcheck "$R" 'j["changed"] is False' "naming it again changes nothing"
api R PUT /v1/apps/web/package alice '{"sha256": "'"$(printf 'ab%.0s' $(seq 32))"'"}'
expect 404 "a package the controller does not hold"
api R PUT /v1/apps/web/package alice '{"sha256": "../../etc/passwd"}'
expect 400 "a sha256 that is not a hash"
api R PUT /v1/apps/web/package alice '[1]'
expect 400 "a body that is not an object"
api R PUT /v1/apps/nosuch/package alice '{"sha256": "'"$PKG1"'"}'
expect 404 "an unknown app"
dew_http R "$CC_URL/v1/apps/web/package" -X PUT --data-binary '{"sha256": "'"$PKG1"'"}'
expect 401 "without a token"
api R PUT /v1/apps/web/package alice '{"sha256": "'"$PKG2"'"}'
jcheck "$R" 'j["package_sha256"] == "'"$PKG2"'" and j["changed"] is True' "back to the v2 package by name"

# ---- internal URIs: signed (auth.h), no user token ---------------------------------------------

# signed METHOD PATH [TTL]: PATH?expires=&sig= as the controller signs it (TTL seconds, may be < 0).
signed() {
	python3 -c 'import hashlib, hmac, sys, time
method, path, secret, ttl = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
e = int(time.time()) + ttl
sig = hmac.new(secret.encode(), ("%s %s\n%d" % (method, path, e)).encode(), hashlib.sha256).hexdigest()
print("%s?expires=%d&sig=%s" % (path, e, sig))' "$1" "$2" "$INTERNAL_SECRET" "${3:-60}"
}

# fetch VAR URL_PATH FILE [CURL ARGS...]: the body into FILE, the status into VAR.
fetch() {
	local var=$1 path=$2 file=$3
	shift 3
	printf -v "$var" '%s' "$(curl -sS --max-time 20 -o "$file" -w '%{http_code}' "$@" "$CC_URL$path")"
}

fetch st "$(signed GET "/v1/internal/packages/$PKG2")" "$T/pkg.dl"
dew_assert_eq "$st" 200 "a signed GET of web's package: 200"
dew_assert_eq "$(sha256sum <"$T/pkg.dl" | cut -d' ' -f1)" "$PKG2" "the package downloaded is exactly the blob (sha256)"
cmp -s "$T/pkg.dl" "$T/blobs/packages/$PKG2" || dew_fail "the download differs from the stored package"
fetch st "$(signed GET "/v1/internal/packages/$PKG2")" "$T/pkg.head" -I
dew_assert_eq "$st" 200 "HEAD with a signed GET URI: 200"
dew_http R "$CC_URL/v1/internal/packages/$PKG2"
expect 403 "an unsigned package download" "signature"
dew_http R "$CC_URL$(signed GET "/v1/internal/packages/$PKG2" -10)"
expect 403 "an expired signature" "expired"
dew_http R "$CC_URL$(signed PUT "/v1/internal/packages/$PKG2")"
expect 403 "a signature made for PUT, used for GET" "signature"
dew_http R "$CC_URL$(signed GET "/v1/internal/packages/$PKG1" | sed "s|$PKG1|$PKG2|")"
expect 403 "another package's signature" "signature"
dew_http R "$CC_URL$(signed GET "/v1/internal/droplets/$PKG2")"
expect 404 "a signed GET of a droplet that does not exist" "droplet"
api R GET "/v1/internal/packages/$PKG2" alice
expect 403 "a user token does not open internal URIs" "signature"

# Droplets: uploaded by a signed PUT, the controller hashing what it stores.
head -c 300000 /dev/urandom >"$T/droplet.tgz"
head -c 200000 /dev/urandom >"$T/other.tgz"
DROP=$(sha256sum <"$T/droplet.tgz" | cut -d' ' -f1)
OTHER=$(sha256sum <"$T/other.tgz" | cut -d' ' -f1)
dew_http R "$CC_URL/v1/internal/droplets/app-1" -X PUT --data-binary "@$T/droplet.tgz"
expect 403 "an unsigned droplet upload" "signature"
dew_http R "$CC_URL$(signed GET /v1/internal/droplets/app-1)" -X PUT --data-binary "@$T/droplet.tgz"
expect 403 "a droplet upload signed for GET" "signature"
dew_http R "$CC_URL$(signed PUT /v1/internal/droplets/app-1)" -X PUT -H "X-Droplet-Sha256: $DROP" \
	--data-binary "@$T/droplet.tgz"
expect 201 "a signed droplet upload with the right X-Droplet-Sha256"
jcheck "$R" 'j["sha256"] == "'"$DROP"'" and j["size"] == 300000' "the answer names the droplet's hash and size"
fetch st "$(signed GET "/v1/internal/droplets/$DROP")" "$T/drop.dl"
dew_assert_eq "$st" 200 "a signed GET of the droplet: 200"
cmp -s "$T/drop.dl" "$T/droplet.tgz" || dew_fail "the droplet downloaded differs from the one uploaded"
dew_ok "the droplet downloaded is the one uploaded"
dew_http R "$CC_URL$(signed PUT /v1/internal/droplets/app-1)" -X PUT -H "X-Droplet-Sha256: $DROP" \
	--data-binary "@$T/other.tgz"
expect 422 "a droplet whose body does not match X-Droplet-Sha256" "X-Droplet-Sha256"
[ ! -e "$T/blobs/droplets/$OTHER" ] || dew_fail "the mismatched droplet was stored"
dew_assert_eq "$(ls "$T/blobs/droplets" | wc -l)" 1 "nothing kept of the mismatched droplet"
dew_assert_eq "$(ls -A "$T/blobs/tmp" | wc -l)" 0 "no temporary file left behind"
dew_http R "$CC_URL$(signed PUT /v1/internal/droplets/app-1)" -X PUT --data-binary "@$T/other.tgz"
expect 201 "a signed droplet upload without X-Droplet-Sha256"
jcheck "$R" 'j["sha256"] == "'"$OTHER"'"' "the controller names it by the hash it computed"

# Hostile uploads: clear 4xx, and web keeps its package.
python3 - "$T" <<'PY'
import io, sys, tarfile, zipfile
t = sys.argv[1]
def tar(name, members):
    with tarfile.open(name, "w:gz") as tf:
        for m, data, kind in members:
            ti = tarfile.TarInfo(m)
            if kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
tar(t + "/slip.tgz", [("ok.txt", b"ok\n", "f"), ("../evil.txt", b"evil\n", "f")])
tar(t + "/abs.tgz", [("/etc/evil.txt", b"evil\n", "f")])
tar(t + "/symlink.tgz", [("out", "../../../../etc", "sym")])
with zipfile.ZipFile(t + "/slip.zip", "w") as z:
    z.writestr("ok.txt", "ok\n")
    z.writestr("../../zevil.txt", "evil\n")
data = open(t + "/app.tgz", "rb").read()
open(t + "/truncated.tgz", "wb").write(data[: len(data) // 2])
PY
PACKAGES=$(find "$T/blobs/packages" -type f | wc -l)
hostile() {
	api R PUT /v1/apps/web/bits alice - --form-string 'resources=[]' -F "application=@$T/$1"
	expect 422 "a hostile upload ($2) is refused naming the entry" "$3"
}
hostile slip.tgz "zip slip in a tar" "../evil.txt"
hostile slip.zip "zip slip in a zip" "../../zevil.txt"
hostile abs.tgz "an absolute path" "/etc/evil.txt"
hostile symlink.tgz "a symlink out of the app" "out"
api R PUT /v1/apps/web/bits alice - --form-string 'resources=[]' -F "application=@$T/truncated.tgz"
case "$DEW_HTTP_STATUS" in 4??) ;; *) dew_fail "a truncated archive: status $DEW_HTTP_STATUS: $R" ;; esac
expect "$DEW_HTTP_STATUS" "a truncated archive is a 4xx"
api R PUT /v1/apps/web/bits alice - --form-string \
	'resources=[{"sha256":"0000000000000000000000000000000000000000000000000000000000000000","size":3,"fn":"claimed.txt","mode":420}]'
expect 422 "claiming a hash the pool does not hold is refused naming the file" "claimed.txt"
api R PUT /v1/apps/web/bits alice - --form-string "resources=$(resources "$T/app" run | sed 's/"size": [0-9]*/"size": 3/')"
expect 422 "claiming a pooled hash with another size is refused" "run"
api R PUT /v1/apps/web/bits alice - -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary 'garbage'
expect 400 "a garbage multipart body" multipart
api R PUT /v1/apps/web/bits alice - -H 'Content-Type: multipart/form-data' --data-binary 'garbage'
expect 400 "multipart/form-data without a boundary" boundary
api R PUT /v1/apps/web/bits alice 'whatever'
expect 400 "bits that are not multipart/form-data"
printf -- '--XyZ\r\nContent-Disposition: form-data; name="resources"\r\n\r\n[]\r\n--XyZ\r\nContent-Disposition: form-data; name="application"; filename="a.tgz"\r\n\r\nabc' >"$T/cut.body"
api R PUT /v1/apps/web/bits alice - -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary "@$T/cut.body"
expect 400 "a multipart body without its close delimiter"
api R POST /v1/apps alice '{"name":"priv","no_route":true}'
expect 201 "alice creates priv (no route)"
jcheck "$R" 'j["routes"] == []' "no_route: an app without routes"
api R PUT /v1/apps/priv/bits bob - --form-string 'resources=[]' -F "application=@$T/app.tgz"
dew_assert_eq "$DEW_HTTP_STATUS $R" "404 $MISSING" "bob uploading to alice's priv: the same 404 as a missing app"
api R GET /v1/apps/priv alice
jcheck "$R" 'j["revision"] == 1' "bob's upload changed nothing of priv"
api R DELETE /v1/apps/priv alice
expect 204 "alice deletes priv"
api R PUT /v1/apps/nope/bits alice - --form-string 'resources=[]' -F "application=@$T/app.tgz"
expect 404 "bits of a missing app"
api R PUT /v1/apps/web/bits - - --form-string 'resources=[]' -F "application=@$T/app.tgz"
expect 401 "bits without a token"
api R PUT /v1/apps/web/bits alice - --form-string "resources=$(resources "$T/app2")"
jcheck "$R" 'j["package_sha256"] == "'"$PKG2"'" and j["changed"] is False' \
	"after the refused uploads web still has the v2 package"
dew_assert_eq "$(find "$T/blobs/packages" -type f | wc -l)" "$PACKAGES" "the refused uploads made no package"
dew_assert_eq "$(ls -A "$T/blobs/tmp")" "" "the refused uploads left no temporary files"
if find "$T/blobs" -type f -print0 | xargs -0 -r grep -l -e '^evil$' | grep -q .; then
	dew_fail "a refused upload left evil content in the blobs"
fi
dew_ok "nothing from the refused uploads is in the blobs"

# A client that goes away in the middle of its upload: the controller drops the temporary file
# and carries on.
login alice
python3 - "$cc_PORT" "${TOK[alice]}" <<'PY' || dew_fail "the aborted upload could not be sent"
import socket, sys
port, token = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
head = ("PUT /v1/apps/web/bits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 10000000\r\n\r\n" % token)
part = ('--XyZ\r\nContent-Disposition: form-data; name="resources"\r\n\r\n[]\r\n'
        '--XyZ\r\nContent-Disposition: form-data; name="application"; filename="a.tgz"\r\n\r\n')
s.sendall(head.encode() + part.encode() + b"\x1f\x8b" + bytes(300000))
s.close()
PY
deadline=$((SECONDS + 10))
while [ -n "$(ls -A "$T/blobs/tmp")" ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "an aborted upload left $(ls -A "$T/blobs/tmp") in tmp/"
	sleep 0.05
done
dew_ok "an aborted upload leaves no temporary file"
api R PUT /v1/apps/web/bits alice - --form-string "resources=$(resources "$T/app2")"
expect 201 "uploads work after an aborted one"

# ---- restart safety -------------------------------------------------------------------------------

api R GET /v1/apps/web alice
REV=$(jget "$R" 'j["revision"]')
api R PUT /v1/apps/web alice '{"env":{"GREETING":"bye"}}' -H "If-Match: \"$REV\""
expect 200 "a PUT just before kill -9"
REV=$(jget "$R" 'j["revision"]')
{
	kill -KILL "$cc_PID"
	wait "$cc_PID"
} 2>/dev/null
no_sanitizer_reports
start_cc
api R GET /v1/apps/web alice
expect 200 "after kill -9 and a restart on the same db: GET web"
jcheck "$R" "j['revision'] == $REV and j['env'] == {'GREETING': 'bye'} and j['guid'] == '$WEB_GUID'" \
	"the acknowledged update survived kill -9 (revision $REV)"
api R PUT /v1/apps/web/bits alice - --form-string "resources=$(resources "$T/app2")"
jcheck "$R" 'j["package_sha256"] == "'"$PKG2"'" and j["changed"] is False' "web's package survived kill -9"
api R GET /v1/apps bob
jcheck "$R" '[a["guid"] for a in j["apps"]] == ["'"$BOB_GUID"'"]' "bob's app survived kill -9"
dew_http R "http://127.0.0.1:$cc_STATUS_PORT/health"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "/health after the restart"
# One token is left to expire, checked at the end so that the wait overlaps the other checks
# (made after the restart: a starting controller purges the expired tokens).
login admin
EXPIRING=${TOK[admin]}
EXPIRING_AT=${TOK_AT[admin]}
api R GET /v1/apps "=$EXPIRING"
expect 200 "a fresh token works"

# ---- quotas ---------------------------------------------------------------------------------------

api R PUT /v1/apps/web alice '{"state":"STARTED","instances":5,"memory":256}'
expect 403 "starting 5 x 256 MB over a 1024 MB quota" "1280" "1024" "memory quota"
api R GET /v1/apps/web alice
jcheck "$R" "j['state'] == 'STOPPED' and j['revision'] == $REV" "the refused start changed nothing"
M=$(mark)
api R PUT /v1/apps/web alice '{"state":"STARTED","instances":4,"memory":256}'
expect 200 "starting 4 x 256 MB within the quota"
jcheck "$R" 'j["state"] == "STARTED" and j["instances"] == 4' "web is STARTED with 4 instances"
bus_wait --after "$M" --subject droplet.updated --eq "droplet=$WEB_GUID" >/dev/null ||
	dew_fail "no droplet.updated for the start"
dew_ok "start publishes droplet.updated"
api R GET /v1/info alice
jcheck "$R" 'j["usage"] == {"memory": 1024, "apps": 1}' "usage: 1024 MB, 1 app"
api R PUT /v1/apps/web alice '{"instances":5}'
expect 403 "scaling a started app over the quota" "memory quota"
api R PUT /v1/apps/web alice '{"memory":128}'
expect 200 "shrinking a started app's memory"
api R POST /v1/apps alice '{"name":"two","state":"STARTED","memory":600}'
expect 403 "creating a started app over the memory quota" "memory quota"
api R POST /v1/apps alice '{"name":"two","state":"STARTED","memory":512}'
expect 201 "creating a started app within the memory quota"
api R POST /v1/apps alice '{"name":"three"}'
expect 201 "alice's third app"
api R POST /v1/apps alice '{"name":"four"}'
expect 403 "a 4th app over an app quota of 3" "app quota" "3"
api R POST /v1/apps bob '{"name":"four"}'
expect 201 "bob's quota is his own"

# ---- delete -------------------------------------------------------------------------------------

M=$(mark)
api R DELETE /v1/apps/web alice
expect 204 "alice deletes web"
dew_assert_eq "$R" "" "204 has no body"
bus_wait --after "$M" --subject dea.stop --eq "droplet=$WEB_GUID" >/dev/null ||
	dew_fail "no dea.stop for the deleted app"
dew_ok "delete publishes dea.stop {droplet: guid}"
bus_wait --after "$M" --subject droplet.updated --eq "droplet=$WEB_GUID" >/dev/null ||
	dew_fail "no droplet.updated for the deleted app"
dew_ok "delete publishes droplet.updated"
api R GET /v1/apps/web alice
expect 404 "the deleted app is gone"
api R DELETE /v1/apps/web alice
expect 404 "deleting it again"
api R GET /v1/apps/web?owner=bob admin
jcheck "$R" 'j["guid"] == "'"$BOB_GUID"'"' "bob's web was not touched"
api R POST /v1/apps bob '{"name":"five","routes":["web.dew.test"]}'
expect 201 "the deleted app's route is free again"
api R POST /v1/apps alice '{"name":"web"}'
expect 409 "its default route is now bob's" "web.dew.test"
api R POST /v1/apps alice '{"name":"web","routes":[]}'
expect 201 "alice's app quota has room again after the delete"

# ---- metrics, token expiry ----------------------------------------------------------------------

dew_http METRICS "http://127.0.0.1:$cc_STATUS_PORT/metrics"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "/metrics answers"
dew_assert_contains "$METRICS" "dew_controller_bus_connected 1" "/metrics: connected to the bus"
dew_assert_contains "$METRICS" "dew_controller_auth_failures_total" "/metrics: auth failures"
dew_assert_contains "$METRICS" "dew_controller_deas " "/metrics: the DEA pool"

# The token made at the start: valid for 3 s, then 401 "token expired".
deadline=$(($(date +%s) + 10))
while :; do
	api R GET /v1/apps "=$EXPIRING"
	[ "$DEW_HTTP_STATUS" = 401 ] && break
	[ "$DEW_HTTP_STATUS" = 200 ] || dew_fail "the expiring token: status $DEW_HTTP_STATUS: $R"
	[ "$(date +%s)" -lt $deadline ] || dew_fail "the token did not expire within 10 s"
	sleep 0.1
done
age=$((($(now_us) - EXPIRING_AT) / 1000))
[ "$age" -ge 3000 ] || dew_fail "the token expired after $age ms, before its 3 s"
expect 401 "after ${age} ms the token is refused" "token expired" "dew login"

kill -0 "$cc_PID" 2>/dev/null || dew_fail "dew-controller died"
dew_stop "$cc_PID" 10
dew_assert_eq "$?" 0 "SIGTERM: dew-controller exits 0"
no_sanitizer_reports
dew_pass
