# SPDX-License-Identifier: MIT
# The whole system for the user journey suite (tests/integration/e2e-*.sh), sourced after lib.sh,
# dea-lib.sh, cc-lib.sh and cli-lib.sh: a bus, dew-controller, two dew-deas running the host
# stack, dew-router, dew-healthd and the CLI logged in as alice, every one on 127.0.0.1. A user
# reaches the apps through the router only, as `curl -H 'Host: web.dew.test' ROUTER`.
#
#   e2e_start                 bring everything up; E2E_BUS=nats-cluster puts a 3-node nats-server
#                             cluster (cluster routes on 127.0.0.1) in place of dew-bus, and every
#                             daemon gets the three servers' URLs
#   e2e_restart NAME          SIGTERM daemon NAME (bus, cc, dea1, dea2, router, hm) and start it
#                             again on the same ports and state; E2E_RESTART_SECONDS: how long
#                             it was gone (stop to ready)
#   e2e_host APP              APP's route: APP.dew.test
#   e2e_get VAR APP PATH [CURL ARGS...]  a request through the router with APP's Host header
#                             (status in DEW_HTTP_STATUS)
#   e2e_wait_answer APP TEXT SECONDS     until APP answers / with a body containing TEXT
#   e2e_load_start APP [PATH] / e2e_load_stop   a request loop through the router
#                             (tests/lib/e2e-load.py); e2e_load_stop puts its summary in LOAD
#   e2e_kill_app APP INDEX    kill -9 the app process of APP's instance INDEX (its id in KILLED)
#   e2e_app_copy NAME FIXTURE a writable copy of a fixture app as $T/apps/NAME
#   e2e_sanitizer_check       no sanitizer report in any daemon's log
#   e2e_bound SECONDS         SECONDS, or 3 times that in the sanitizer build

E2E_BUS=${E2E_BUS:-dew}
# The daemons' bus keepalive: a mute bus node (SIGSTOP) is given up after 2 unanswered PINGs.
E2E_BUS_PING=1s
E2E_DOMAIN=dew.test
E2E_LOAD=$top_srcdir/tests/lib/e2e-load.py
# Intervals a small deployment would choose: fast enough for sub-second repairs, not so short
# that a daemon restarting in a second looks lost (a DEA is lost after 3 heartbeat intervals).
E2E_HEARTBEAT=1s
declare -A E2E_LISTEN=() E2E_STATUS=() E2E_START_FN=()

e2e_bound() {
	if dew_sanitized; then echo $(($1 * 3)); else echo "$1"; fi
}

# e2e__daemon NAME BINARY ARGS...: dew_start_daemon on the ports NAME had before (port 0 the first
# time), keeping the log of a previous run in NAME-before-restart.log.
e2e__daemon() {
	local name=$1 bin=$2
	shift 2
	[ ! -s "$T/$name.log" ] || cat "$T/$name.log" >>"$T/$name-before-restart.log"
	dew_start_daemon "$name" "$bin" "$@" --listen "127.0.0.1:${E2E_LISTEN[$name]:-0}" \
		--status-listen "127.0.0.1:${E2E_STATUS[$name]:-0}"
	local port=${name}_PORT status=${name}_STATUS_PORT
	E2E_LISTEN[$name]=${!port}
	E2E_STATUS[$name]=${!status}
}

e2e__start_bus() {
	e2e__daemon bus "$top_builddir/bus/dew-bus"
	BUS_URL=nats://127.0.0.1:$bus_PORT
}

# e2e__nats_cluster: three nats-server nodes routed to each other (full mesh on 127.0.0.1), each
# with its monitoring port (NATS_MON[i]) for /routez and /connz.
e2e__nats_cluster() {
	command -v nats-server >/dev/null || dew_skip "nats-server is not installed (apt-get install nats-server)"
	local i j urls=() routes
	NATS_PORT=() NATS_MON=() NATS_PID=()
	local cport=()
	for i in 1 2 3; do
		NATS_PORT[i]=$(dew_free_port)
		NATS_MON[i]=$(dew_free_port)
		cport[i]=$(dew_free_port)
	done
	for i in 1 2 3; do
		routes=
		for j in 1 2 3; do
			[ "$j" = "$i" ] || routes="$routes${routes:+, }nats-route://127.0.0.1:${cport[j]}"
		done
		cat >"$T/nats-$i.conf" <<EOF
server_name: e2e-n$i
listen: 127.0.0.1:${NATS_PORT[i]}
http: 127.0.0.1:${NATS_MON[i]}
cluster {
  name: dew-e2e
  listen: 127.0.0.1:${cport[i]}
  routes: [$routes]
}
EOF
		dew_spawn "nats$i" nats-server -c "$T/nats-$i.conf"
		local pidvar=nats${i}_PID
		NATS_PID[i]=${!pidvar}
		urls+=("nats://127.0.0.1:${NATS_PORT[i]}")
	done
	for i in 1 2 3; do
		dew_wait_port "${NATS_PORT[i]}" 20 || dew_fail "nats-server $i did not listen on ${NATS_PORT[i]}"
	done
	# The cluster is formed when every node has a route to each of the two others.
	local deadline=$((SECONDS + 20))
	for i in 1 2 3; do
		until [ "$(nats_mon "$i" routez 'j["num_routes"]')" = 2 ]; do
			[ $SECONDS -lt $deadline ] || dew_fail "nats-server $i has no routes to the others: $(curl -sS "http://127.0.0.1:${NATS_MON[i]}/routez")"
			sleep 0.1
		done
	done
	BUS_URL=$(
		IFS=,
		echo "${urls[*]}"
	)
	dew_ok "a 3-node nats-server cluster, every node routed to the two others"
}

# nats_mon NODE ENDPOINT EXPR: a Python expression over j, the JSON of NODE's monitoring ENDPOINT.
nats_mon() {
	local out
	out=$(curl -sS --max-time 5 "http://127.0.0.1:${NATS_MON[$1]}/$2" 2>/dev/null) || return 1
	jget "$out" "$3" 2>/dev/null
}

e2e__start_cc() {
	if [ -z "${CC_ARGS+x}" ]; then
		CC_ARGS=(--bus "$BUS_URL" --bus-ping-interval "$E2E_BUS_PING" --db "$T/cc.db" --blobs-dir "$T/blobs" --domain "$E2E_DOMAIN"
			--password-iterations 1000 --internal-secret "$CC_SECRET" --api-host 127.0.0.1
			--staging-timeout 60s --advertise-ttl 3s)
		echo "${PW[admin]}" | "$CC" "${CC_ARGS[@]}" --create-admin admin >/dev/null 2>&1 || dew_fail "--create-admin"
	fi
	e2e__daemon cc "$CC" "${CC_ARGS[@]}"
	CC_URL=http://127.0.0.1:$cc_PORT
}

# e2e__dea_args N: the options of DEA N (dea1, dea2: their own directories and instance ports).
# --on-shutdown keep: a DEA restarted for an upgrade leaves its instances serving.
e2e__dea_args() {
	local n=$1
	[ -n "${E2E_PORT_MIN[$n]:-}" ] || E2E_PORT_MIN[$n]=$(dea__free_port_range 51) || dew_fail "no free range of 51 ports"
	local min=${E2E_PORT_MIN[$n]}
	E2E_DEA_ARGS=(--bus "$BUS_URL" --bus-ping-interval "$E2E_BUS_PING" --id "dea$n" --ip 127.0.0.1 --state-dir "$T/dea$n-state"
		--base-dir "$T/dea$n-base" --runtime-root "$T/state" --stacks-dir "$STACKS" --stacks host
		--port-min "$min" --port-max $((min + 50)) --max-memory 1G --advertise-interval 500ms
		--heartbeat-interval "$E2E_HEARTBEAT" --stop-timeout 2s --health-check-timeout 30s
		--crash-retention 1h --files-secret "$FILES_SECRET" --staging-concurrency 1 --on-shutdown keep)
}
declare -A E2E_PORT_MIN=()

e2e__start_dea1() { e2e__start_dea 1; }
e2e__start_dea2() { e2e__start_dea 2; }
e2e__start_dea() {
	e2e__dea_args "$1"
	e2e__daemon "dea$1" "$DEA" "${E2E_DEA_ARGS[@]}"
	local pidvar=dea$1_PID
	DEA_PIDS+=("${!pidvar}")
}

e2e__start_router() {
	# Two workers, as a 2-core node runs by default (workers = cores), whatever this machine has.
	e2e__daemon router "$top_builddir/router/dew-router" --bus "$BUS_URL" --bus-ping-interval "$E2E_BUS_PING" --routes-password "$RT_PASSWORD" \
		--workers 2
}

e2e__start_hm() {
	e2e__daemon hm "$top_builddir/healthd/dew-healthd" --bus "$BUS_URL" --bus-ping-interval "$E2E_BUS_PING" --controller-url "$CC_URL" \
		--internal-secret "$CC_SECRET" --heartbeat-interval "$E2E_HEARTBEAT" --settle-time 300ms \
		--start-pending 3s
}

E2E_START_FN=([bus]=e2e__start_bus [cc]=e2e__start_cc [dea1]=e2e__start_dea1 [dea2]=e2e__start_dea2
	[router]=e2e__start_router [hm]=e2e__start_hm)
RT_PASSWORD=test-secret

e2e_start() {
	command -v python3 >/dev/null || dew_skip "python3 is not installed"
	command -v curl >/dev/null || dew_skip "curl is not installed"
	local b
	for b in bus/dew-bus controller/dew-controller dea/dew-dea router/dew-router healthd/dew-healthd cli/dew; do
		[ -x "$top_builddir/$b" ] || dew_fail "$b is not built"
	done
	dew_require_containers
	# First of the hooks: no DEA may create a container after the containers are deleted.
	DEW_CLEANUP_HOOKS=(dea__cleanup "${DEW_CLEANUP_HOOKS[@]}")
	STACKS=$T/stacks
	mkdir -p "$STACKS"
	ln -s "$top_builddir/stacks/host" "$STACKS/host"
	ln -s "$top_srcdir/stacks/buildpacks" "$STACKS/buildpacks"
	[ -f "$STACKS/host/stack.json" ] || dew_fail "the host stack is not built ($top_builddir/stacks/host)"

	case $E2E_BUS in
	dew) e2e__start_bus ;;
	nats-cluster) e2e__nats_cluster ;;
	*) dew_fail "E2E_BUS=$E2E_BUS: dew or nats-cluster" ;;
	esac
	e2e__start_cc
	e2e__start_dea 1
	e2e__start_dea 2
	e2e__start_router
	e2e__start_hm
	login admin
	cc_user alice
	cli_lib_init
	dew target "$CC_URL"
	expect_rc 0 "dew target the controller"
	dew login -u alice --password-stdin <<<"${PW[alice]}"
	expect_rc 0 "dew login as alice"
	dew_ok "the system is up: bus ($E2E_BUS), controller, dea1, dea2, router on port $router_PORT, healthd"
}

# e2e_restart NAME: stop NAME with SIGTERM and start it again; E2E_RESTART_SECONDS is the time
# from the signal to the new process being ready.
e2e_restart() {
	local name=$1 pidvar=${1}_PID t0 t1
	t0=$(date +%s.%N)
	dew_stop "${!pidvar}" 10
	"${E2E_START_FN[$name]}"
	t1=$(date +%s.%N)
	E2E_RESTART_SECONDS=$(python3 -c "print(round($t1 - $t0, 2))")
}

e2e_host() { echo "$1.$E2E_DOMAIN"; }

e2e_get() {
	local var=$1 app=$2 path=$3
	shift 3
	dew_http "$var" "http://127.0.0.1:$router_PORT$path" -H "Host: $(e2e_host "$app")" "$@"
}

e2e_wait_answer() {
	local app=$1 text=$2 deadline=$((SECONDS + $3)) body
	while :; do
		e2e_get body "$app" /
		[ "$DEW_HTTP_STATUS" = 200 ] && [[ $body == *"$text"* ]] && return 0
		[ $SECONDS -lt $deadline ] || dew_fail "$app did not answer '$text' through the router within $3 s: $DEW_HTTP_STATUS $body"
		sleep 0.1
	done
}

e2e_load_start() {
	local app=$1 path=${2:-/}
	rm -f "$T/load.json" "$T/load.json.ready"
	dew_spawn load python3 "$E2E_LOAD" "$router_PORT" "$(e2e_host "$app")" "$path" "$T/load.json" 2
	dew_wait_file "$T/load.json.ready" 10 || dew_fail "the request loop did not start: $(cat "$T/load.log")"
}

e2e_load_stop() {
	kill -TERM "$load_PID"
	dew_wait_exit "$load_PID" 20 >/dev/null
	[ -s "$T/load.json" ] || dew_fail "the request loop wrote no summary: $(cat "$T/load.log")"
	LOAD=$(cat "$T/load.json")
	LOAD_FAILED=$(jget "$LOAD" 'j["failed"]')
	LOAD_REQUESTS=$(jget "$LOAD" 'j["requests"]')
}

# e2e_load_report WHAT: the loop's counts as a TAP diagnostic.
e2e_load_report() {
	echo "# $1: $LOAD_REQUESTS requests in $(jget "$LOAD" 'j["seconds"]') s, $LOAD_FAILED failed" \
		"$(jget "$LOAD" 'j["failures"]'), gaps (start, end, n) $(jget "$LOAD" 'j["failed_spans"]')," \
		"answers by instance $(jget "$LOAD" 'j["indices"]')"
}

e2e_kill_app() {
	local app=$1 index=$2 pid
	dew --json instances "$app"
	KILLED=$(jget "$OUT" '[i for i in j["instances"] if i["index"] == '"$index"' and i["state"] == "RUNNING"][0]["instance"]') ||
		dew_fail "no RUNNING instance $index of $app: $OUT"
	pid=$("${DEW_RUN[@]}" ps "$KILLED" | awk '$1 ~ /^[0-9]+$/ && $2 == "python3" && $3 == "app.py" { print $1; exit }')
	[ -n "$pid" ] || dew_fail "no app process in $KILLED: $("${DEW_RUN[@]}" ps "$KILLED" 2>&1)"
	kill -KILL "$pid"
}

e2e_app_copy() {
	mkdir -p "$T/apps"
	cp -R "$top_srcdir/tests/fixtures/apps/$2" "$T/apps/$1" && chmod -R u+w "$T/apps/$1" || dew_fail "copy $2"
}

e2e_sanitizer_check() {
	local f
	for f in "$T"/*.log; do
		if grep -E -q 'Sanitizer|runtime error:' "$f"; then
			grep -E -A30 'Sanitizer|runtime error:' "$f" >&2
			dew_fail "$(basename "$f") has a sanitizer report"
		fi
	done
	dew_ok "no sanitizer report in the daemons' logs"
}
