#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-healthd benchmark (issue #10): a dew-bus, a dew-controller, two dew-deas and dew-healthd on
# this host; a trivial app (the binary fixture, a static HTTP server) pushed through the API.
# Measures kill -9 of its process -> RUNNING again (BENCH_CRASHES times, p50), and kill -9 of the
# DEA running most of a BENCH_INSTANCES-instance app -> every instance RUNNING on the other DEA.
# Short intervals, said in the output: heartbeats and advertisements every 200 ms (so a DEA is
# lost after 600 ms of silence), the controller's advertise_ttl 1 s (BENCH_ADVERTISE_TTL);
# flapping is set out of reach (one index crashes BENCH_CRASHES times in a row here, and back-off
# would delay it on purpose), and the first kill waits out settle_time after the last push.
# Needs root (containers). Prints markdown; fails only when something does not work at all.
# env: DEW_BUS, DEW_CONTROLLER, DEW_DEA, DEW_HEALTHD, DEW_RUN (binaries), DEW_STACKS_BUILT (build
#      tree's stacks/), DEW_SRC (source tree); BENCH_CRASHES (20), BENCH_INSTANCES (50),
#      BENCH_ADVERTISE_TTL (the controller's advertise_ttl, 1s), BENCH_KEEP_LOGS (a directory to
#      copy the daemons' logs to)
set -euo pipefail
: "${DEW_BUS:?}" "${DEW_CONTROLLER:?}" "${DEW_DEA:?}" "${DEW_HEALTHD:?}" "${DEW_RUN:?}"
: "${DEW_STACKS_BUILT:?}" "${DEW_SRC:?}"
[ "$(id -u)" = 0 ] || { echo "bench-healthd: needs root (the DEAs run containers)" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench-healthd: curl is not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench-healthd: python3 is not installed" >&2; exit 1; }
crashes=${BENCH_CRASHES:-20}
instances=${BENCH_INSTANCES:-50}
ttl=${BENCH_ADVERTISE_TTL:-1s}
tmp=$(mktemp -d /var/tmp/dew-bench-healthd.XXXXXX)
chmod 755 "$tmp"
pids=()
dea_pids=()
cleanup() {
	for p in "${dea_pids[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	# The killed DEA's containers outlive it (their monitors do not depend on it).
	for root in "$tmp/state1" "$tmp/state2"; do
		for id in $("$DEW_RUN" --root "$root" list --json 2>/dev/null | python3 -c \
			'import json,sys; [print(c["id"]) for c in json.load(sys.stdin)]' 2>/dev/null); do
			"$DEW_RUN" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
		done
	done
	if [ -n "${BENCH_KEEP_LOGS:-}" ] && mkdir -p "$BENCH_KEEP_LOGS"; then
		cp "$tmp"/*.log "$BENCH_KEEP_LOGS/" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_file FILE LOG: wait up to 20 s for FILE; show LOG and fail without it.
wait_file() {
	for _ in $(seq 400); do [ -s "$1" ] && return 0; sleep 0.05; done
	cat "$2" >&2
	echo "bench-healthd: $1 never appeared" >&2
	exit 1
}

# free_ports N: the first of N consecutive free ports below the ephemeral range.
free_ports() { python3 "$DEW_SRC/tests/lib/free-port-range.py" "$1"; }

mkdir -p "$tmp/stacks" "$tmp/app"
ln -s "$DEW_STACKS_BUILT/host" "$tmp/stacks/host"
ln -s "$DEW_SRC/stacks/buildpacks" "$tmp/stacks/buildpacks"
cp "$DEW_SRC/tests/fixtures/apps/binary/"* "$tmp/app/"
cc -static -O2 -o "$tmp/app/server" "$tmp/app/server.c"
tar -C "$tmp/app" -czf "$tmp/app.tgz" .

"$DEW_BUS" --listen 127.0.0.1:0 --port-file "$tmp/bus.port" --status-listen "" >"$tmp/bus.log" 2>&1 &
pids+=($!)
wait_file "$tmp/bus.port" "$tmp/bus.log"
bus_port=$(cat "$tmp/bus.port")
bus=nats://127.0.0.1:$bus_port

secret=bench-internal-secret-$RANDOM$RANDOM
password=bench-password-$RANDOM$RANDOM
cc_args=(--db "$tmp/cc/dew.db" --blobs-dir "$tmp/cc/blobs" --domain bench.test --password-iterations 1000
	--internal-secret "$secret" --api-host 127.0.0.1)
echo "$password" | "$DEW_CONTROLLER" "${cc_args[@]}" --create-admin admin >"$tmp/create-admin.log" 2>&1 ||
	{ cat "$tmp/create-admin.log" >&2; exit 1; }
"$DEW_CONTROLLER" "${cc_args[@]}" --bus "$bus" --listen 127.0.0.1:0 --port-file "$tmp/cc.port" \
	--status-listen "" --advertise-ttl "$ttl" --log-level warning --ready-file "$tmp/cc.ready" \
	>"$tmp/cc.log" 2>&1 &
pids+=($!)
wait_file "$tmp/cc.ready" "$tmp/cc.log"
cc_url=http://127.0.0.1:$(cat "$tmp/cc.port")

dea_args=(--bus "$bus" --listen 127.0.0.1:0 --status-listen "" --ip 127.0.0.1 --stacks-dir "$tmp/stacks"
	--stacks host --max-memory 8G --heartbeat-interval 200ms --advertise-interval 200ms --stop-timeout 2s
	--register-interval 1h --staging-concurrency 1 --log-level warning)
deas=()
for n in 1 2; do
	port_min=$(free_ports $((instances + 20))) || { echo "bench-healthd: no free port range" >&2; exit 1; }
	# In a subshell that waits for it: the kill -9 to come is then no job of this shell's to report.
	(
		"$DEW_DEA" "${dea_args[@]}" --id "dea$n" --state-dir "$tmp/dea$n-state" --base-dir "$tmp/dea$n-base" \
			--runtime-root "$tmp/state$n" --port-min "$port_min" --port-max $((port_min + instances + 19)) \
			--ready-file "$tmp/dea$n.ready" >"$tmp/dea$n.log" 2>&1 &
		echo $! >"$tmp/dea$n.pid"
		wait 2>/dev/null
	) &
	pids+=($!)
	wait_file "$tmp/dea$n.ready" "$tmp/dea$n.log"
	dea_pids+=("$(cat "$tmp/dea$n.pid")")
	deas+=(--dea "dea$n=${dea_pids[-1]}=$tmp/state$n")
done

hm_settings="heartbeat_interval 200ms on the DEAs and healthd, advertise_interval 200ms, the controller's"
hm_settings+=" advertise_ttl $ttl, flap_crashes and give_up_crashes 1000, other keys at their defaults"
"$DEW_HEALTHD" --bus "$bus" --controller-url "$cc_url" --internal-secret "$secret" --status-listen "" \
	--heartbeat-interval 200ms --flap-crashes 1000 --give-up-crashes 1000 --log-level notice \
	--ready-file "$tmp/hm.ready" >"$tmp/hm.log" 2>&1 &
pids+=($!)
wait_file "$tmp/hm.ready" "$tmp/hm.log"

token=$(curl -sS --fail -X POST -H 'Content-Type: application/json' \
	--data-binary "{\"username\":\"admin\",\"password\":\"$password\"}" "$cc_url/v1/tokens" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# api METHOD PATH [JSON]: the controller's answer; fails on an HTTP error.
api() {
	local args=(-sS --fail-with-body -X "$1" -H "Authorization: Bearer $token")
	[ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
	curl "${args[@]}" "$cc_url$2" || { echo "bench-healthd: $1 $2 failed" >&2; exit 1; }
}
# push NAME INSTANCES: create, upload, start, wait for STAGED.
push() {
	api POST /v1/apps "{\"name\":\"$1\",\"instances\":$2,\"memory\":32,\"disk\":64}" >/dev/null
	curl -sS --fail-with-body -X PUT -H "Authorization: Bearer $token" --form-string 'resources=[]' \
		-F "application=@$tmp/app.tgz" "$cc_url/v1/apps/$1/bits" >/dev/null
	api PUT "/v1/apps/$1" '{"state":"STARTED"}' >/dev/null
	local app state
	for _ in $(seq 600); do
		app=$(api GET "/v1/apps/$1")
		state=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["package_state"])' "$app")
		case $state in
		STAGED) return 0 ;;
		FAILED) echo "bench-healthd: staging $1 failed" >&2; exit 1 ;;
		esac
		sleep 0.2
	done
	echo "bench-healthd: $1 not staged in 120 s" >&2
	exit 1
}
push crash 1
push fleet "$instances"

python3 "$DEW_SRC/bench/healthd/healthd-bench.py" --bus "$bus_port" --cc "$cc_url" --token "$token" \
	--dew-run "$DEW_RUN" "${deas[@]}" --crashes "$crashes" --instances "$instances" --settings "$hm_settings"
