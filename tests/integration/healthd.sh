#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-healthd (issue #10) with a real dew-bus, dew-controller and two dew-deas running
# containers: healthmanager.health answers running counts, a kill -9 of an app's process is
# repaired at once (not at a sweep: the sweep is set to 1 h here), an instance started behind the
# controller's back is stopped, the instances of a DEA killed with kill -9 run on the other DEA
# and no start is placed on the lost one, a crash-looping app backs off and gives up, a healthd
# restarted while all is well asks for nothing, a STOP the controller does not carry out is not
# repeated at every sweep, two healthd: one acts, one answers each health request, the other
# takes over; a DEA drained with SIGUSR2 has its instances started first on a third DEA.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
dew_test_init healthd 240

HMD=$top_builddir/healthd/dew-healthd
[ -x "$HMD" ] || dew_fail "dew-healthd not built at $HMD"
dea_lib_init
dea_start dea --staging-concurrency 1
PORT_MIN2=$(dea__free_port_range 51) || dew_fail "no free range of 51 ports"
dea_start dea2 --id dea2 --state-dir "$T/dea2-state" --base-dir "$T/dea2-base" --port-min "$PORT_MIN2" \
	--port-max $((PORT_MIN2 + 50)) --staging-concurrency 1 --evacuation-delay 8s
cc_start --advertise-ttl 1s
cc_user alice
HM_ARGS=(--bus "$BUS_URL" --controller-url "$CC_URL" --internal-secret "$CC_SECRET" --heartbeat-interval 200ms
	--sweep-interval 1h --settle-time 300ms --start-pending 3s --flap-window 1m --flap-crashes 2
	--give-up-crashes 4 --backoff-min 300ms --backoff-max 1s)
dew_start_daemon hm "$HMD" "${HM_ARGS[@]}"
metric() { curl -sS "http://127.0.0.1:$hm_STATUS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
cc_metric() { curl -sS "http://127.0.0.1:$cc_STATUS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

push web python '"instances":2'
wait_package web STAGED 60
wait_json R /v1/apps/web/instances alice "$(cc_live 2)" 30 "web: two instances RUNNING"
GUID=$(jget "$(curl -sS -H "Authorization: Bearer ${TOK[alice]}" "$CC_URL/v1/apps/web")" 'j["guid"]')
VERSION=$(jget "$R" 'j["version"]')

# ---- healthmanager.health: one reply per app asked, healthy = indices RUNNING ------------------------
# health_ask SECONDS COUNT: ask for web at its version and for an app nobody runs; sorted replies.
health_ask() {
	bus_request healthmanager.health \
		"{\"droplets\":[{\"droplet\":\"$GUID\",\"version\":\"$VERSION\"},{\"droplet\":\"no-such-app\",\"version\":\"v1\"}]}" \
		"$1" "$2" | each '"%s:%s:%s" % (j["droplet"] == "'"$GUID"'" and "web" or j["droplet"], j["version"] == "'"$VERSION"'" and "current" or j["version"], j["healthy"])'
}
deadline=$((SECONDS + 10))
until [ "$(health_ask 2 2)" = "no-such-app:v1:0 web:current:2" ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "healthmanager.health: $(health_ask 2 2)"
	sleep 0.2
done
dew_ok "healthmanager.health: web at its version has 2 healthy, an unknown app 0, one reply each"

# ---- kill -9 an app process: repaired at once ------------------------------------------------------
VICTIM=$(jget "$R" '[i for i in j["instances"] if i["index"] == 0][0]["instance"]')
pid=$("${DEW_RUN[@]}" ps "$VICTIM" | awk '$1 ~ /^[0-9]+$/ && $2 == "python3" && $3 == "app.py" { print $1; exit }')
[ -n "$pid" ] || dew_fail "no app process in $VICTIM"
t0=$(date +%s.%N)
kill -KILL "$pid"
wait_json R /v1/apps/web/instances alice "$(cc_live 2) and '$VICTIM' not in [i['instance'] for i in j['instances']]" 20 \
	"index 0 runs again after kill -9 of its process"
t1=$(date +%s.%N)
echo "# repaired in $(python3 -c "print(round($t1 - $t0, 2))") s (the sweep is 1 h: the crash itself triggered it)"
[ "$(metric dew_healthd_starts_total)" -ge 1 ] || dew_fail "healthd asked for no start"
dew_ok "healthd asked for the start (starts_total $(metric dew_healthd_starts_total))"

# ---- an instance behind the controller's back is stopped -------------------------------------------
SHA=$(ls "$T/blobs/droplets" | head -1) # web's: the only app staged so far
STOPS=$(metric dew_healthd_stops_total)
bus_pub dea.dea2.start "{\"droplet\":\"$GUID\",\"name\":\"web\",\"version\":\"$(jget "$R" 'j["version"]')\",\"instance_id\":\"intruder-1\",\"index\":7,\"droplet_uri\":\"$(cc_signed GET "/v1/internal/droplets/$SHA")\",\"droplet_sha256\":\"$SHA\",\"stack\":\"host\",\"memory\":64}"
bus_pub droplet.updated "{\"droplet\":\"$GUID\"}"
deadline=$((SECONDS + 20))
until [ "$(metric dew_healthd_stops_total)" -gt "$STOPS" ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "healthd did not stop the extra instance: $(grep intruder "$T"/dea2.log | tail -3)"
	sleep 0.2
done
dew_ok "healthd asked to stop the extra instance (index 7)"
deadline=$((SECONDS + 20))
until grep -q 'intruder-1.*STOPPING\|intruder-1.*-> STOPPED\|intruder-1.*stopped' "$T/dea2.log"; do
	[ $SECONDS -lt $deadline ] || dew_fail "the extra instance was not stopped: $(grep intruder "$T/dea2.log" | tail -3)"
	sleep 0.2
done
dew_ok "the DEA stopped the extra instance"

# ---- kill -9 a DEA: its instances run on the other one ----------------------------------------------
wait_json R /v1/apps/web/instances alice "$(cc_live 2)" 20 "web: two instances RUNNING before the DEA is killed"
ON1=$(jget "$R" 'len([i for i in j["instances"] if i["dea"] == "dea1"])')
if [ "$ON1" = 0 ]; then
	dew_fail "no instance of web on dea1 to lose: $R"
fi
MARK=$(bus_mark)
PLACED=$(cc_metric dew_controller_placements_total)
t0=$(date +%s.%N)
kill -KILL "$dea_PID"
wait "$dea_PID" 2>/dev/null
# Its containers' monitors were forked from it: they must not keep its sockets open.
python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$dea_PORT" ||
	dew_fail "dea1's port $dea_PORT is still bound after kill -9 (held by its containers' monitors?)"
dew_ok "dea1's listening port is free once it is killed, though its containers run on"
# Found lost after 3 heartbeat intervals (0.6 s), placed on dea2 at once: a start sent to dea1
# would cost the controller's 5 s answer timeout; 10 s leaves room for a loaded machine.
wait_json R /v1/apps/web/instances alice "$(cc_live 2) and all(i['dea'] == 'dea2' for i in j['instances'])" 10 \
	"after kill -9 of dea1, both instances run on dea2 within 10 s"
t1=$(date +%s.%N)
echo "# node loss repaired in $(python3 -c "print(round($t1 - $t0, 2))") s"
[ "$(metric dew_healthd_lost_deas_total)" -ge 1 ] || dew_fail "healthd counted no lost DEA"
dew_ok "healthd counted the lost DEA"
bus_wait "$MARK" 5 healthmanager.dea_lost --eq dea=dea1 >/dev/null || dew_fail "no healthmanager.dea_lost for dea1"
dew_ok "healthd told the controllers dea1 is lost"
[ "$(cc_metric dew_controller_deas_lost_total)" -ge 1 ] || dew_fail "the controller did not take dea1 out"
bus_wait "$MARK" 0.5 dea.dea1.start --none >/dev/null || dew_fail "a start was placed on the lost dea1"
dew_ok "no start was placed on the lost dea1 ($(( $(cc_metric dew_controller_placements_total) - PLACED )) placement(s), all on dea2)"

# ---- a crash-looping app backs off and gives up -------------------------------------------------------
push loop python '"memory":64,"command":"python3 -c \"import sys; print(\\\"bye\\\"); sys.exit(3)\""'
wait_package loop STAGED 60
deadline=$((SECONDS + 40))
until [ "$(jget "$(curl -sS -H "Authorization: Bearer ${TOK[alice]}" "$CC_URL/v1/apps/loop/crashes")" 'len(j["crashes"])')" -ge 4 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "loop did not crash 4 times"
	sleep 0.3
done
dew_ok "loop crashed 4 times (restarted by healthd)"
sleep 3
N=$(jget "$(curl -sS -H "Authorization: Bearer ${TOK[alice]}" "$CC_URL/v1/apps/loop/crashes")" 'len(j["crashes"])')
sleep 3
N2=$(jget "$(curl -sS -H "Authorization: Bearer ${TOK[alice]}" "$CC_URL/v1/apps/loop/crashes")" 'len(j["crashes"])')
dew_assert_eq "$N2" "$N" "after give_up_crashes (4) loop is not restarted any more"
[ "$N" -le 5 ] || dew_fail "loop crashed $N times: more than give_up allows"
dew_ok "loop crashed $N times in all"
wait_json R /v1/apps/loop/instances alice \
	'[(i["state"], i.get("crashes"), "gave up" in i.get("reason", "")) for i in j["instances"]] == [("FLAPPING", 4, True)]' 10 \
	"the controller shows index 0 FLAPPING, 4 crashes, given up"
dew_assert_contains "$(jget "$R" 'j["instances"][0]["reason"]')" "exited with status 3" "the reason names the last exit"
api R PUT /v1/apps/loop alice '{"restart":true}'
expect 200 "restart loop"
wait_json R /v1/apps/loop/crashes alice "len(j['crashes']) > $N" 20 "a restart resets the give-up: loop runs (and crashes) again"

# ---- restart healthd while all is well: nothing asked for --------------------------------------------
api R PUT /v1/apps/loop alice '{"state":"STOPPED"}'
wait_json R /v1/apps/web/instances alice "$(cc_live 2)" 20 "web is healthy"
dew_stop "$hm_PID" 5
dew_start_daemon hm "$HMD" "${HM_ARGS[@]}" --sweep-interval 200ms
sleep 3
dew_assert_eq "$(metric dew_healthd_starts_total) $(metric dew_healthd_stops_total)" "0 0" \
	"a restarted healthd, sweeping every 200 ms for 3 s, asks for nothing while all is well"

# ---- a STOP the controller does not carry out is not repeated at every sweep ---------------------------
# The controller is frozen (SIGSTOP), so nothing stops an instance started behind its back: healthd,
# sweeping every 200 ms, asks again only once per 2 heartbeat intervals (400 ms). dea2 has web's
# droplet in its cache, so the start needs no controller.
cc_thaw() { kill -CONT "$cc_PID" 2>/dev/null; }
DEW_CLEANUP_HOOKS=(cc_thaw "${DEW_CLEANUP_HOOKS[@]}")
STOPS=$(metric dew_healthd_stops_total) HELD=$(metric dew_healthd_stops_held_total)
kill -STOP "$cc_PID"
bus_pub dea.dea2.start "{\"droplet\":\"$GUID\",\"name\":\"web\",\"version\":\"$VERSION\",\"instance_id\":\"intruder-2\",\"index\":9,\"droplet_uri\":\"$(cc_signed GET "/v1/internal/droplets/$SHA")\",\"droplet_sha256\":\"$SHA\",\"stack\":\"host\",\"memory\":64}"
deadline=$((SECONDS + 20))
until [ "$(metric dew_healthd_stops_total)" -gt "$STOPS" ]; do
	[ $SECONDS -lt $deadline ] || { cc_thaw; dew_fail "healthd did not ask to stop intruder-2: $(grep intruder-2 "$T/dea2.log" | tail -3)"; }
	sleep 0.1
done
STOPS1=$(metric dew_healthd_stops_total) HELD1=$(metric dew_healthd_stops_held_total)
sleep 3
STOPS2=$(metric dew_healthd_stops_total) HELD2=$(metric dew_healthd_stops_held_total)
cc_thaw
echo "# 3 s of sweeps every 200 ms: $((STOPS2 - STOPS1)) STOP(s) asked again, $((HELD2 - HELD1)) held back"
[ $((HELD2 - HELD1)) -ge 5 ] || dew_fail "healthd held back $((HELD2 - HELD1)) repeated STOPs in 3 s (sweeps every 200 ms)"
[ $((STOPS2 - STOPS1)) -le 9 ] || dew_fail "healthd asked $((STOPS2 - STOPS1)) times in 3 s to stop intruder-2 (once per 400 ms at most)"
[ $((STOPS2 - STOPS1)) -ge 2 ] || dew_fail "healthd did not ask again after 2 heartbeat intervals ($((STOPS2 - STOPS1)) in 3 s)"
dew_ok "a STOP not carried out is asked again once per 2 heartbeat intervals, not at every sweep"
deadline=$((SECONDS + 20))
until grep -q 'intruder-2.*STOPPING\|intruder-2.*-> STOPPED\|intruder-2.*stopped' "$T/dea2.log"; do
	[ $SECONDS -lt $deadline ] || dew_fail "intruder-2 was not stopped once the controller ran again: $(grep intruder-2 "$T/dea2.log" | tail -3)"
	sleep 0.2
done
dew_ok "once the controller runs again, it stops intruder-2"
wait_json R /v1/apps/web/instances alice "$(cc_live 2)" 20 "web is healthy after the controller was frozen"

# ---- two healthd: one acts; when it dies, the other takes over --------------------------------------
dew_start_daemon hm2 "$HMD" "${HM_ARGS[@]}"
metric2() { curl -sS "http://127.0.0.1:$hm2_STATUS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
deadline=$((SECONDS + 10))
until [ "$(( $(metric dew_healthd_leader) + $(metric2 dew_healthd_leader) ))" = 1 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "not exactly one leader: $(metric dew_healthd_leader) $(metric2 dew_healthd_leader)"
	sleep 0.2
done
dew_ok "of two healthd, exactly one leads"
# Both answer healthmanager.health, in one queue group: each request gets one reply per app.
dew_assert_eq "$(health_ask 1.5 3)" "no-such-app:v1:0 web:current:2" \
	"healthmanager.health with two healthd: one answer per app asked (queue group), not two"
if [ "$(metric dew_healthd_leader)" = 1 ]; then LEADER=$hm_PID OTHER_STARTS=metric2; else LEADER=$hm2_PID OTHER_STARTS=metric; fi
# kill_app INDEX: kill -9 the app process of web's instance at INDEX.
kill_app() {
	local inst pid
	api R GET /v1/apps/web/instances alice
	inst=$(jget "$R" '[i for i in j["instances"] if i["index"] == '"$1"'][0]["instance"]')
	pid=$("${DEW_RUN[@]}" ps "$inst" | awk '$1 ~ /^[0-9]+$/ && $2 == "python3" && $3 == "app.py" { print $1; exit }')
	[ -n "$pid" ] || dew_fail "no app process in $inst"
	kill -KILL "$pid"
	KILLED=$inst
}
S1=$(metric dew_healthd_starts_total) S2=$(metric2 dew_healthd_starts_total)
kill_app 1
wait_json R /v1/apps/web/instances alice "$(cc_live 2) and '$KILLED' not in [i['instance'] for i in j['instances']]" 20 \
	"a crash with two healthd: repaired"
dew_assert_eq "$(( $(metric dew_healthd_starts_total) - S1 + $(metric2 dew_healthd_starts_total) - S2 ))" 1 \
	"exactly one START was asked for (no duplicate)"
kill -KILL "$LEADER"
wait "$LEADER" 2>/dev/null
sleep 1.5
S=$($OTHER_STARTS dew_healthd_starts_total)
kill_app 0
wait_json R /v1/apps/web/instances alice "$(cc_live 2) and '$KILLED' not in [i['instance'] for i in j['instances']]" 20 \
	"after kill -9 of the leader, the other healthd repairs a crash"
[ "$($OTHER_STARTS dew_healthd_starts_total)" -gt "$S" ] || dew_fail "the standby did not act"
dew_ok "the standby took over"

# ---- a DEA drained with SIGUSR2: its instances start first, elsewhere --------------------------------
# dea2 reports web's instances as DEA_EVACUATION and keeps them serving for 8 s: healthd starts
# them at once on dea3 (evacuation priority), does not count the draining ones as live nor stop
# the new ones as duplicates of them, and the controller shows both on dea3 once dea2 exits.
PORT_MIN3=$(dea__free_port_range 51) || dew_fail "no free range of 51 ports"
dea_start dea3 --id dea3 --state-dir "$T/dea3-state" --base-dir "$T/dea3-base" --port-min "$PORT_MIN3" \
	--port-max $((PORT_MIN3 + 50))
wait_json R /v1/apps/web/instances alice "$(cc_live 2) and all(i['dea'] == 'dea2' for i in j['instances'])" 20 \
	"web: both instances on dea2 before it is drained"
hmetric() { $OTHER_STARTS "$@"; }
EVAC=$(hmetric 'dew_healthd_priority_starts_total{priority="evacuation"}') STOPS=$(hmetric dew_healthd_stops_total)
t0=$(date +%s.%N)
kill -USR2 "$dea2_PID"
wait_json R /v1/apps/web/instances alice \
	"len([i for i in j['instances'] if i['dea'] == 'dea3' and i['state'] == 'RUNNING' and i['version'] == j['version']]) == 2" 20 \
	"SIGUSR2 on dea2: both instances run on dea3"
t1=$(date +%s.%N)
echo "# evacuation: both running on dea3 $(python3 -c "print(round($t1 - $t0, 2))") s after SIGUSR2"
kill -0 "$dea2_PID" 2>/dev/null || dew_fail "dea2 exited before the replacements ran (its evacuation delay is 8 s)"
dew_ok "the replacements ran while dea2 still drained (no gap)"
dew_assert_eq "$(( $(hmetric 'dew_healthd_priority_starts_total{priority="evacuation"}') - EVAC ))" 2 \
	"healthd's metrics: 2 starts at evacuation priority"
[ "$(hmetric dew_healthd_evacuations_total)" -ge 2 ] || dew_fail "healthd counted $(hmetric dew_healthd_evacuations_total) evacuations"
dew_ok "healthd counted the DEA_EVACUATION exits"
dew_assert_eq "$(hmetric dew_healthd_evacuating_deas)" 1 "healthd holds dea2 as evacuating while it drains"
dew_wait_exit "$dea2_PID" 30 || dew_fail "dea2 did not exit after its evacuation"
wait_json R /v1/apps/web/instances alice "$(cc_live 2) and all(i['dea'] == 'dea3' for i in j['instances'])" 20 \
	"after dea2 drained and exited, web runs on dea3 only"
dew_assert_eq "$(hmetric dew_healthd_stops_total)" "$STOPS" \
	"healthd stopped nothing: the draining instances were no duplicates of their replacements"

if grep -E -q 'Sanitizer|runtime error:' "$T/hm.log"; then
	dew_fail "dew-healthd's log has a sanitizer report"
fi
cc_sanitizer_check
dew_pass
