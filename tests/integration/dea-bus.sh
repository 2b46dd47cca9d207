#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-dea's presence on the bus (DESIGN.md section 5.1): dea.advertise at boot and on its
# interval, dea.heartbeat on its interval and at once on healthmanager.start, answers to
# dea.locate, dea.status and vcap.component.discover, survival of garbage requests, an id that
# stays the same across restarts, /health and /metrics. A raw-socket NATS client does the checks.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init dea-bus 120
export PYTHONDONTWRITEBYTECODE=1 # natsclient.py is imported from the source tree

DEA=$top_builddir/dea/dew-dea
[ -x "$DEA" ] || dew_fail "dew-dea not built at $DEA"
command -v python3 >/dev/null || dew_skip "python3 is not installed"

# A stacks directory as an installation has it (the DEA loads the stacks it offers at start).
STACKS=$T/stacks
mkdir -p "$STACKS"
ln -s "$top_builddir/stacks/host" "$STACKS/host"
[ -f "$STACKS/host/stack.json" ] || dew_fail "the host stack is not built ($top_builddir/stacks/host)"
# Every DEA here: the test's stacks, its own runtime root, no staging.
DEA_COMMON=(--stacks-dir "$STACKS" --runtime-root "$T/runtime" --staging-concurrency 0)

BUS_FIXED_PORT=$(dew_free_port)
# A fixed port, so that the bus can come back where the DEAs look for it.
dew_start_daemon bus "$top_builddir/bus/dew-bus" --listen "127.0.0.1:$BUS_FIXED_PORT"
BUS_URL=nats://127.0.0.1:$bus_PORT
DEA_ARGS=("${DEA_COMMON[@]}" --bus "$BUS_URL" --state-dir "$T/dea-state" --base-dir "$T/dea-base"
	--advertise-interval 200ms --heartbeat-interval 200ms --max-memory 2G --stacks host --placement-tags zone-a)
dew_start_daemon dea "$DEA" "${DEA_ARGS[@]}"
# A second DEA with long intervals: what it publishes within 150 ms was asked for, not timed.
dew_start_daemon dea2 "$DEA" "${DEA_COMMON[@]}" --bus "$BUS_URL" --state-dir "$T/dea2-state" \
	--base-dir "$T/dea2-base" --advertise-interval 60s --heartbeat-interval 60s
DEA_ID=$(cat "$T/dea-state/dea-id")
DEA2_ID=$(cat "$T/dea2-state/dea-id")
[ -n "$DEA_ID" ] && [ "$DEA_ID" != "$DEA2_ID" ] || dew_fail "DEA ids: '$DEA_ID' and '$DEA2_ID'"

cat >"$T/nats.py" <<'PY'
import json, re, sys, time
from natsclient import Nats, ok, check, body, from_dea

mode, port = sys.argv[1], int(sys.argv[2])
n = Nats(port)
if mode == "discover":
    n.sub("_INBOX.d")
    n.sync()
    n.pub("vcap.component.discover", "", "_INBOX.d")
    for m in n.gather(0.5, lambda m: m[0] == "_INBOX.d"):
        print("%s %s" % (body(m)["uuid"], body(m)["host"]))
    sys.exit(0)

dea_id, dea2_id, status_port = sys.argv[3], sys.argv[4], sys.argv[5]
for s in ("dea.advertise", "dea.heartbeat", "_INBOX.x", "_INBOX.d"):
    n.sub(s)
n.sync()

seen = n.gather(1.0)
ads = [body(m) for m in seen if from_dea("dea.advertise", "id", dea_id)(m)]
check(len(ads) >= 3, "dea.advertise repeats: %d in 1 s at a 200 ms interval" % len(ads))
a = ads[0]
check(a["stacks"] == ["host"], "advertised stacks are %r" % a["stacks"])
check(a["available_memory"] == 2048, "advertised available_memory is %r MB" % a["available_memory"])
check(a["available_disk"] == 16384, "advertised available_disk is %r MB (16G default)" % a["available_disk"])
check(a["placement_tags"] == ["zone-a"], "advertised placement_tags are %r" % a["placement_tags"])
check(a["app_id_to_count"] == {}, "app_id_to_count is empty")
check(a["buildpacks"] == [], "a DEA that does not stage advertises no buildpacks: %r" % a["buildpacks"])
hbs = [body(m) for m in seen if from_dea("dea.heartbeat", "dea", dea_id)(m)]
check(len(hbs) >= 3, "dea.heartbeat repeats: %d in 1 s at a 200 ms interval" % len(hbs))
check(all(h["droplets"] == [] for h in hbs), "heartbeats list no droplets")
check(not any(from_dea("dea.heartbeat", "dea", dea2_id)(m) for m in seen),
      "the DEA with a 60 s interval sent no heartbeat meanwhile")

n.pub("dea.status", "{}", "_INBOX.x")
m = n.first(2, lambda m: m[0] == "_INBOX.x" and body(m)["id"] == dea_id)
check(m is not None, "dea.status gets a reply")
st = body(m)
check(st["max_memory"] == 2048 and st["max_disk"] == 16384, "dea.status max_memory 2048, max_disk 16384")
check(st["num_instances"] == 0 and st["used_memory"] == 0 and st["reserved_memory"] == 0,
      "dea.status reports no instances")
check(st["ip"] == "127.0.0.1" and st["stacks"] == ["host"], "dea.status ip and stacks")
check(re.fullmatch(r"\d+d:\d+h:\d+m:\d+s", st["uptime"]) is not None, "dea.status uptime %r" % st["uptime"])

n.pub("vcap.component.discover", "", "_INBOX.d")
replies = [body(m) for m in n.gather(0.5, lambda m: m[0] == "_INBOX.d")]
mine = [r for r in replies if r.get("uuid") == dea_id]
check(len(mine) == 1 and mine[0]["type"] == "DEA" and mine[0]["index"] == 0,
      "vcap.component.discover: type DEA from %s" % dea_id)
check(mine[0]["host"] == "127.0.0.1:" + status_port, "discover host is ip:status port (%s)" % mine[0]["host"])
check(len(replies) == 2, "both DEAs answer discover")

t0 = time.monotonic()
n.pub("dea.locate", "")
m = n.first(1, from_dea("dea.advertise", "id", dea2_id))
dt = time.monotonic() - t0
check(m is not None and dt < 0.15, "dea.locate makes the 60 s DEA advertise in %.0f ms" % (dt * 1000))

t0 = time.monotonic()
n.pub("healthmanager.start", "{}")
m = n.first(1, from_dea("dea.heartbeat", "dea", dea2_id))
dt = time.monotonic() - t0
check(m is not None and dt < 0.15, "healthmanager.start brings a heartbeat in %.0f ms" % (dt * 1000))
check(body(m)["droplets"] == [], "the full heartbeat lists no droplets")

n.pub("dea.status", "not json", "_INBOX.x")
n.pub("dea.status", "[1,2]", "_INBOX.x")
n.pub("dea.status", "{}")  # no reply subject: ignored
got = n.gather(0.3, lambda m: m[0] == "_INBOX.x")
check(got == [], "garbage and reply-less dea.status requests get no reply")
n.pub("dea.status", "{}", "_INBOX.x")
m = n.first(2, lambda m: m[0] == "_INBOX.x" and body(m)["id"] == dea_id)
check(m is not None, "the DEA still answers dea.status after garbage")
PY

out=$(PYTHONPATH=$top_srcdir/tests/lib python3 "$T/nats.py" checks "$bus_PORT" "$DEA_ID" "$DEA2_ID" "$dea_STATUS_PORT" 2>&1)
rc=$?
echo "$out"
[ $rc = 0 ] || dew_fail "bus checks failed (exit $rc)"
DEW_CHECKS=$((DEW_CHECKS + $(grep -c '^ok - ' <<<"$out")))

kill -0 "$dea_PID" 2>/dev/null || dew_fail "dew-dea died"
dew_ok "dew-dea is still running"
dew_http body "http://127.0.0.1:$dea_STATUS_PORT/health"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "/health answers 200"
dew_http metrics "http://127.0.0.1:$dea_STATUS_PORT/metrics"
dew_assert_contains "$metrics" "dew_dea_bus_connected 1" "/metrics: connected to the bus"
for state in STARTING RUNNING STOPPING CRASHED; do
	dew_assert_contains "$metrics" "dew_dea_instances{state=\"$state\"} 0" "/metrics: no $state instances"
done
ads=$(awk '$1 == "dew_dea_advertisements_total" { print $2 }' <<<"$metrics")
[ "${ads:-0}" -ge 3 ] || dew_fail "dew_dea_advertisements_total is '$ads'"
dew_ok "/metrics counts $ads advertisements"
hbs=$(awk '$1 == "dew_dea_heartbeats_total" { print $2 }' <<<"$metrics")
[ "${hbs:-0}" -ge 3 ] || dew_fail "dew_dea_heartbeats_total is '$hbs'"
dew_ok "/metrics counts $hbs heartbeats"
dew_assert_contains "$metrics" "dew_dea_dropped_messages_total 2" "/metrics: the two garbage requests dropped"

# metric NAME PORT: one unlabelled sample of a DEA's /metrics.
metric() {
	curl -sS --max-time 5 "http://127.0.0.1:$2/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
# The bus goes away and comes back: the DEA with a 60 s interval advertises on reconnecting.
before=$(metric dew_dea_advertisements_total "$dea2_STATUS_PORT")
dew_stop "$bus_PID" 10
for _ in $(seq 100); do
	[ "$(metric dew_dea_bus_connected "$dea2_STATUS_PORT")" = 0 ] && break
	sleep 0.05
done
dew_assert_eq "$(metric dew_dea_bus_connected "$dea2_STATUS_PORT")" 0 \
	"/metrics: disconnected while the bus is down"
dew_start_daemon bus "$top_builddir/bus/dew-bus" --listen "127.0.0.1:$BUS_FIXED_PORT"
for _ in $(seq 200); do
	[ "$(metric dew_dea_bus_connected "$dea2_STATUS_PORT")" = 1 ] && break
	sleep 0.05
done
dew_assert_eq "$(metric dew_dea_bus_connected "$dea2_STATUS_PORT")" 1 \
	"/metrics: reconnected once the bus is back"
dew_assert_eq "$(metric dew_dea_advertisements_total "$dea2_STATUS_PORT")" $((before + 1)) \
	"a reconnect publishes one dea.advertise"

dew_stop "$dea_PID" 10
dew_assert_eq "$?" 0 "SIGTERM: dew-dea exits 0"
dew_start_daemon dea "$DEA" "${DEA_ARGS[@]}"
out=$(PYTHONPATH=$top_srcdir/tests/lib python3 "$T/nats.py" discover "$bus_PORT" 2>&1) ||
	dew_fail "after restart: $out"
dew_assert_contains "$out" "$DEA_ID 127.0.0.1:$dea_STATUS_PORT" \
	"the id is the same after a restart (same state dir)"

dew_start_daemon dea3 "$DEA" "${DEA_COMMON[@]}" --bus "$BUS_URL" --state-dir "$T/dea-state" --base-dir "$T/dea3-base" \
	--id explicit-id_1 --advertise-interval 10s
[ "$(cat "$T/dea-state/dea-id")" = "$DEA_ID" ] || dew_fail "an explicit id rewrote the stored one"
out=$(PYTHONPATH=$top_srcdir/tests/lib python3 "$T/nats.py" discover "$bus_PORT" 2>&1) ||
	dew_fail "discover: $out"
dew_assert_contains "$out" "explicit-id_1 127.0.0.1:$dea3_STATUS_PORT" \
	"an explicit id wins over the stored one"
for name in dea3 dea dea2; do
	pidvar=${name}_PID
	dew_stop "${!pidvar}" 10
	dew_assert_eq "$?" 0 "SIGTERM: $name exits 0"
done
"$DEA" "${DEA_COMMON[@]}" --bus "$BUS_URL" --state-dir "$T/bad" --base-dir "$T/bad" --id 'no.dots' --status-listen "" \
	>"$T/bad.log" 2>&1
dew_assert_eq "$?" 1 "an id that is not a subject token is refused"
dew_pass
