#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-dea benchmark (issue #6): time from dea.<id>.start to RUNNING with the droplet already in
# the cache, for an HTTP app (health check on its port) and a worker (no routes), next to the
# runtime alone starting the same droplet (dew-run create + start until the port answers), and
# the DEA's RSS while it runs BENCH_INSTANCES instances. Needs root (containers). Prints
# markdown; fails only when something does not work at all, never on a missed target.
# env: DEW_BUS, DEW_DEA, DEW_STAGE, DEW_RUN (binaries), DEW_STACKS_BUILT (build tree's stacks/),
#      DEW_SRC (source tree), BENCH_RUNS (default 20), BENCH_INSTANCES (default 200)
set -euo pipefail
: "${DEW_BUS:?}" "${DEW_DEA:?}" "${DEW_STAGE:?}" "${DEW_RUN:?}" "${DEW_STACKS_BUILT:?}" "${DEW_SRC:?}"
tmp=$(mktemp -d /var/tmp/dew-bench-dea.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for id in $("$DEW_RUN" --root "$tmp/state" list --json 2>/dev/null | python3 -c \
		'import json,sys; [print(c["id"]) for c in json.load(sys.stdin)]' 2>/dev/null); do
		"$DEW_RUN" --root "$tmp/state" delete -f "$id" >/dev/null 2>&1 || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$tmp/stacks" "$tmp/www"
ln -s "$DEW_STACKS_BUILT/host" "$tmp/stacks/host"
ln -s "$DEW_SRC/stacks/buildpacks" "$tmp/stacks/buildpacks"
cp -r "$DEW_SRC/tests/fixtures/apps/binary" "$tmp/src-binary"
cc -static -O2 -o "$tmp/src-binary/server" "$tmp/src-binary/server.c"
tar -C "$tmp/src-binary" -czf "$tmp/binary.tgz" .
"$DEW_STAGE" --root "$tmp/state" --stacks-dir "$tmp/stacks" "$tmp/binary.tgz" "$tmp/www/binary.droplet" \
	>/dev/null 2>"$tmp/stage.log" || { cat "$tmp/stage.log" >&2; exit 1; }

www_port=$(free_port)
python3 -m http.server "$www_port" --bind 127.0.0.1 --directory "$tmp/www" >/dev/null 2>&1 &
pids+=($!)
bus_port=$(free_port)
"$DEW_BUS" --listen "127.0.0.1:$bus_port" --status-listen "" >"$tmp/bus.log" 2>&1 &
pids+=($!)
port_min=$(( 20000 + RANDOM % 20000 ))
"$DEW_DEA" --bus "nats://127.0.0.1:$bus_port" --listen 127.0.0.1:0 --status-listen "" --id bench \
	--ip 127.0.0.1 --state-dir "$tmp/dea-state" --base-dir "$tmp/dea-base" --runtime-root "$tmp/state" \
	--stacks-dir "$tmp/stacks" --stacks host --max-memory 64G --port-min "$port_min" \
	--port-max $(( port_min + 999 )) --heartbeat-interval 1h --advertise-interval 1h --stop-timeout 2s \
	--staging-concurrency 0 --log-level warning --ready-file "$tmp/dea.ready" >"$tmp/dea.log" 2>&1 &
dea_pid=$!
pids+=($dea_pid)
for _ in $(seq 100); do [ -e "$tmp/dea.ready" ] && break; sleep 0.05; done
[ -e "$tmp/dea.ready" ] || { cat "$tmp/dea.log" >&2; exit 1; }

python3 "$DEW_SRC/bench/dea/dea-bench.py" --bus "$bus_port" --dea-pid "$dea_pid" \
	--droplet "$tmp/www/binary.droplet" --droplet-uri "http://127.0.0.1:$www_port/binary.droplet" \
	--dew-run "$DEW_RUN" --runtime-root "$tmp/state" --stack-json "$DEW_STACKS_BUILT/host/stack.json" \
	--work "$tmp" --runs "${BENCH_RUNS:-20}" --instances "${BENCH_INSTANCES:-200}" --port "$(( port_min + 1000 ))"
