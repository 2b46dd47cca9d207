# SPDX-License-Identifier: MIT
# Helpers for tests that drive a real dew-controller next to the DEAs of dea-lib.sh (source
# lib.sh and dea-lib.sh first, and call dea_lib_init, so the bus runs).
#
#   cc_start [ARGS...]         create the admin, start dew-controller on the bus (CC_URL)
#   cc_user NAME               create user NAME (password in PW) and log in (token in TOK)
#   login NAME                 a new token for NAME
#   api VAR METHOD PATH USER [BODY|-] [CURL ARGS...]
#   expect STATUS WHAT         the last api answered STATUS
#   wait_package APP STATE SECONDS   poll until the app's package_state is STATE ($APP)
#   push APP FIXTURE [JSON]    create APP (with JSON's extra fields), upload the fixture, start it
#   cc_sanitizer_check         fail when dew-controller's log has a sanitizer report

CC=$top_builddir/controller/dew-controller
CC_SECRET=test-internal-secret-0123456789
declare -A PW=([admin]='admin password 1')
declare -A TOK=()

cc_start() {
	[ -x "$CC" ] || dew_fail "dew-controller not built at $CC"
	CC_ARGS=(--bus "$BUS_URL" --db "$T/cc.db" --blobs-dir "$T/blobs" --domain dew.test --password-iterations 1000
		--internal-secret "$CC_SECRET" --api-host 127.0.0.1 --staging-timeout 60s "$@")
	echo "${PW[admin]}" | "$CC" "${CC_ARGS[@]}" --create-admin admin >/dev/null 2>&1 || dew_fail "--create-admin"
	dew_start_daemon cc "$CC" "${CC_ARGS[@]}"
	CC_URL=http://127.0.0.1:$cc_PORT
	login admin
}

login() {
	local out
	out=$(curl -sS --max-time 10 -X POST -H 'Content-Type: application/json' \
		--data-binary "{\"username\":\"$1\",\"password\":\"${PW[$1]}\"}" "$CC_URL/v1/tokens")
	TOK[$1]=$(jget "$out" 'j["token"]') || dew_fail "login $1: $out"
}

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

cc_user() {
	PW[$1]="$1 password 1"
	api R POST /v1/users admin "{\"username\":\"$1\",\"password\":\"${PW[$1]}\"}"
	expect 201 "create $1"
	login "$1"
}

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

push() {
	local extra=${3:-}
	tar -C "$top_srcdir/tests/fixtures/apps/$2" -czf "$T/$1.tgz" . || dew_fail "package $2"
	api R POST /v1/apps alice "{\"name\":\"$1\"${extra:+,$extra}}"
	expect 201 "create $1"
	api R PUT "/v1/apps/$1/bits" alice - --form-string 'resources=[]' -F "application=@$T/$1.tgz"
	expect 201 "upload $1's bits ($2)"
	api R PUT "/v1/apps/$1" alice '{"state":"STARTED"}'
	expect 200 "start $1"
}

cc_sanitizer_check() {
	if grep -E -q 'Sanitizer|runtime error:' "$T/cc.log"; then
		grep -E -A30 'Sanitizer|runtime error:' "$T/cc.log" >&2
		dew_fail "dew-controller's log has a sanitizer report"
	fi
	dew_ok "no sanitizer report in dew-controller's log"
}

# jtrue JSON EXPR: is the Python expression over j true?
jtrue() {
	python3 -c 'import json, sys
j = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2], {"j": j}) else 1)' "$1" "$2" 2>/dev/null
}

jcheck() {
	jtrue "$1" "$2" || dew_fail "$3: ($2) is false for: $1"
	dew_ok "$3"
}

# wait_json VAR PATH USER EXPR SECONDS WHAT: GET PATH until EXPR holds for its JSON (in VAR).
wait_json() {
	local var=$1 path=$2 who=$3 expr=$4 secs=$5 what=$6 deadline
	deadline=$((SECONDS + secs))
	while :; do
		api "$var" GET "$path" "$who"
		jtrue "${!var}" "$expr" && break
		[ $SECONDS -lt $deadline ] || dew_fail "$what: ($expr) still false after $secs s: ${!var}"
		sleep 0.2
	done
	dew_ok "$what"
}

# cc_signed METHOD PATH: the controller's URL of PATH signed for METHOD (valid 10 minutes).
cc_signed() {
	python3 - "$CC_SECRET" "$1" "$2" "$CC_URL" <<'PY'
import hashlib, hmac, sys, time
secret, method, path, base = sys.argv[1:5]
exp = int(time.time()) + 600
sig = hmac.new(secret.encode(), f"{method} {path}\n{exp}".encode(), hashlib.sha256).hexdigest()
print(f"{base}{path}?expires={exp}&sig={sig}")
PY
}

# cc_live N: a wait_json expression over an instances answer: N instances, all RUNNING at the
# app's current version.
cc_live() {
	echo "len([i for i in j['instances'] if i['state'] == 'RUNNING' and i['version'] == j['version']]) == $1 and len([i for i in j['instances'] if i['state'] != 'DOWN']) == $1"
}
