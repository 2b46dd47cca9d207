#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew push benchmark (issue #8), against a real dew-bus, dew-controller and dew-dea on this host:
# a generated app of BENCH_FILES (10,000) files pushed first (time to RUNNING), then re-pushed
# unchanged BENCH_RUNS (5) times: the CLI's wall time (target < 1 s) and the bytes it sent
# (target < 1% of the app's size), and once with --no-cache (as from another machine); then the first push of an app of BENCH_BIG_MB (100) MB: time
# to RUNNING and the CLI's peak RSS (the upload is streamed). Needs root (the DEA's containers).
# Prints markdown; fails only when something does not work at all, never on a missed target.
# env: DEW_BUS, DEW_CONTROLLER, DEW_DEA, DEW_CLI (binaries), DEW_STACKS_BUILT (build tree's
#      stacks/), DEW_SRC (source tree)
set -euo pipefail
: "${DEW_BUS:?}" "${DEW_CONTROLLER:?}" "${DEW_DEA:?}" "${DEW_CLI:?}" "${DEW_STACKS_BUILT:?}" "${DEW_SRC:?}"
BENCH_FILES=${BENCH_FILES:-10000}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_BIG_MB=${BENCH_BIG_MB:-100}
tmp=$(mktemp -d /var/tmp/dew-bench-cli.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME BINARY ARGS...: a daemon on 127.0.0.1 port 0, ready within 20 s; its port in NAME.port.
start() {
	local name=$1 bin=$2
	shift 2
	"$bin" --listen 127.0.0.1:0 --port-file "$tmp/$name.port" --status-listen "" \
		--ready-file "$tmp/$name.ready" "$@" >"$tmp/$name.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 400); do [ -e "$tmp/$name.ready" ] && return 0; sleep 0.05; done
	cat "$tmp/$name.log" >&2
	echo "bench-cli: $name did not get ready" >&2
	exit 1
}

mkdir -p "$tmp/stacks"
ln -s "$DEW_STACKS_BUILT/host" "$tmp/stacks/host"
ln -s "$DEW_SRC/stacks/buildpacks" "$tmp/stacks/buildpacks"
start bus "$DEW_BUS"
bus=nats://127.0.0.1:$(cat "$tmp/bus.port")
password=bench-password-$RANDOM$RANDOM
cc_args=(--bus "$bus" --db "$tmp/cc.db" --blobs-dir "$tmp/blobs" --domain bench.test --password-iterations 1000
	--internal-secret "bench-secret-$RANDOM$RANDOM$RANDOM" --api-host 127.0.0.1 --staging-timeout 300s)
echo "$password" | "$DEW_CONTROLLER" "${cc_args[@]}" --create-admin admin >"$tmp/admin.log" 2>&1 ||
	{ cat "$tmp/admin.log" >&2; exit 1; }
start cc "$DEW_CONTROLLER" "${cc_args[@]}"
port_min=$((20000 + RANDOM % 20000))
start dea "$DEW_DEA" --bus "$bus" --id bench --ip 127.0.0.1 --state-dir "$tmp/dea-state" \
	--base-dir "$tmp/dea-base" --runtime-root "$tmp/state" --stacks-dir "$tmp/stacks" --stacks host \
	--max-memory 4G --port-min "$port_min" --port-max $((port_min + 99)) --heartbeat-interval 500ms \
	--advertise-interval 500ms --stop-timeout 2s --files-secret bench-files-secret-0123 \
	--staging-concurrency 1 --log-level warning

export DEW_HOME=$tmp/dew-home NO_COLOR=1 DEW_WAIT_TIMEOUT=600
"$DEW_CLI" target "http://127.0.0.1:$(cat "$tmp/cc.port")" >/dev/null
"$DEW_CLI" login -u admin --password-stdin <<<"$password" >/dev/null

# The apps: BENCH_FILES files of 1 to 16 KiB of random bytes in 100 directories (a static site),
# and one of BENCH_BIG_MB MB in a single file.
python3 - "$tmp/many" "$BENCH_FILES" "$tmp/big" "$BENCH_BIG_MB" <<'PY'
import os, random, sys
many, n, big, mb = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
random.seed(8)
for app in (many, big):
    os.makedirs(app)
    with open(os.path.join(app, "index.html"), "w") as f:
        f.write("<h1>hello from the bench</h1>\n")
for i in range(n - 1):
    d = os.path.join(many, "assets", "d%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(os.urandom(random.randint(1024, 16384)))
with open(os.path.join(big, "data.bin"), "wb") as f:
    for _ in range(mb):
        f.write(os.urandom(1 << 20))
PY
many_bytes=$(find "$tmp/many" -type f -printf '%s\n' | awk '{s += $1} END {print s}')

# push NAME DIR OUT: dew --json push, timed; seconds in SECS, the JSON in OUT, peak RSS (KB) in RSS.
# Further arguments go to dew push.
push() {
	local t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f %M -o "$tmp/rss" "$DEW_CLI" --json push "$1" -p "$2" -m 64M "${@:4}" >"$3" 2>"$tmp/push.err" ||
		{ cat "$tmp/push.err" >&2; echo "bench-cli: push $1 failed" >&2; exit 1; }
	t1=$(date +%s.%N)
	SECS=$(echo "$t1 - $t0" | bc -l)
	RSS=$(tail -n 1 "$tmp/rss")
}
field() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

push many "$tmp/many" "$tmp/first.json"
first_secs=$SECS
first_sent=$(field "$tmp/first.json" 'j["sent"]["bits"] + j["sent"]["resource_match"]')
re_secs=()
for _ in $(seq "$BENCH_RUNS"); do
	push many "$tmp/many" "$tmp/re.json"
	re_secs+=("$SECS")
	re_rss=$RSS
done
re_sent_bits=$(field "$tmp/re.json" 'j["sent"]["bits"]')
re_sent_match=$(field "$tmp/re.json" 'j["sent"]["resource_match"]')
re_uploaded=$(field "$tmp/re.json" 'j["uploaded"]["files"]')
re_median=$(printf '%s\n' "${re_secs[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
hash_line=$("$DEW_CLI" push many -p "$tmp/many" -m 64M 2>/dev/null | grep '^hashed' || true)
re_cached=$(field "$tmp/re.json" 'j["cache"]["hashes"]')
# The same re-push from a machine without the push cache: every file hashed, the list matched.
push many "$tmp/many" "$tmp/cold.json" --no-cache
cold_secs=$SECS
cold_sent=$(field "$tmp/cold.json" 'j["sent"]["bits"] + j["sent"]["resource_match"]')

push big "$tmp/big" "$tmp/big.json"
big_secs=$SECS
big_rss=$RSS
big_sent=$(field "$tmp/big.json" 'j["sent"]["bits"]')

pct=$(echo "100 * ($re_sent_bits + $re_sent_match) / $many_bytes" | bc -l)
cold_pct=$(echo "100 * $cold_sent / $many_bytes" | bc -l)
cat <<EOF2
## dew push ($(nproc) CPUs, loopback, host stack)

| measurement | result | target |
|---|---|---|
| first push of $BENCH_FILES files ($((many_bytes >> 20)) MB) to RUNNING | $(printf %.2f "$first_secs") s, $first_sent bytes sent | - |
| re-push unchanged, CLI wall time (median of $BENCH_RUNS, to RUNNING) | $(printf %.3f "$re_median") s (runs: $(printf '%.3f ' "${re_secs[@]}")) | < 1 s |
| re-push unchanged, bytes sent | $((re_sent_bits + re_sent_match)) ($re_sent_match resource_match + $re_sent_bits bits), $(printf %.2f "$pct")% of $many_bytes | < 1% |
| re-push unchanged, files uploaded | $re_uploaded | 0 |
| re-push unchanged, hashing | ${hash_line#hashed } ($re_cached hashes from the push cache) | - |
| re-push unchanged without the push cache (\`--no-cache\`: another machine) | $(printf %.3f "$cold_secs") s, $cold_sent bytes sent ($(printf %.2f "$cold_pct")%) | - |
| re-push unchanged, CLI peak RSS | $((re_rss / 1024)) MB | - |
| first push of a $BENCH_BIG_MB MB app to RUNNING | $(printf %.2f "$big_secs") s, $big_sent bytes sent | - |
| first push of a $BENCH_BIG_MB MB app, CLI peak RSS | $((big_rss / 1024)) MB | streamed (far below the app) |
EOF2
