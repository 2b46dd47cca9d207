#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instances outlive their DEA (DESIGN.md section 5.1, dea/adopt.c): kill -9 of dew-dea leaves
# them serving (not one request fails meanwhile), and a DEA restarted on the same directories
# re-adopts them: heartbeats list them RUNNING, their routes are registered again, advertise
# counts their reservations; one that died while no DEA watched is reported CRASHED. With
# --on-shutdown keep, SIGTERM leaves them to the next DEA; plain SIGTERM stops each one
# (DEA_SHUTDOWN); SIGUSR2 reports each as DEA_EVACUATION at once, stops advertising, and after
# --evacuation-delay (5 s here: the checks made while evacuating must fit in it) stops them and exits.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
dew_test_init dea-restart 150
dea_lib_init
dea_stage python
dea_start dea

# ---- three instances and a request loop against them ----
mark=$(bus_mark)
PORTS=()
for i in 0 1 2; do
	reply=$(start_instance "r-$i-$R" "{\"droplet\": \"rapp\", \"index\": $i, \"uris\": [\"rapp.example.com\"]}")
	[ "$(jget "$reply" '"port" in j')" = true ] || dew_fail "r-$i refused: $reply"
	PORTS+=("$(jget "$reply" 'j["port"]')")
done
for i in 0 1 2; do
	wait_hb "r-$i-$R" RUNNING 20 "$mark" || dew_fail "r-$i is not RUNNING"
done
dew_ok "three instances RUNNING on ports ${PORTS[*]}"
# A route added by dea.update is kept in instance.json: the next DEA registers it too.
mark=$(bus_mark)
bus_pub dea.update '{"droplet": "rapp", "uris": ["rapp.example.com", "WWW.rapp.example.com"]}'
bus_wait "$mark" 5 router.register --eq app=rapp --eq 'uris=["www.rapp.example.com"]' --count 3 >/dev/null ||
	dew_fail "dea.update: the added route is not registered"
dew_ok "dea.update adds www.rapp.example.com to each instance"

cat >"$T/loop.py" <<'PY'
import os, sys, time, urllib.request
ports, out, stop = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
with open(out, "w") as log:
    while not os.path.exists(stop):
        for p in ports:
            t = time.time()
            try:
                with urllib.request.urlopen("http://127.0.0.1:%s/" % p, timeout=3) as r:
                    res = "ok" if r.status == 200 and b"hello from python" in r.read() else "FAIL status %d" % r.status
            except Exception as e:
                res = "FAIL " + repr(e)
            log.write("%.3f %s %s\n" % (t, p, res))
            log.flush()
        time.sleep(0.01)
PY
dew_spawn loop python3 "$T/loop.py" "$(IFS=,; echo "${PORTS[*]}")" "$T/loop.out" "$T/loop.stop"
dew_wait_file "$T/loop.out" 10 || dew_fail "the request loop did not start"

# ---- kill -9: the instances keep serving ----
t_kill=$(date +%s.%N)
kill -KILL "$dea_PID"
dew_wait_exit "$dea_PID" 10 2>/dev/null
dew_ok "dew-dea killed with SIGKILL"
sleep 1.5
dew_assert_eq "$(containers | short_ids)" "r-0 r-1 r-2" "the containers outlive the DEA"

mark=$(bus_mark)
t_restart=$(date +%s.%N)
dea_start dea
dew_ok "dew-dea restarted on the same directories"
for i in 0 1 2; do
	wait_hb "r-$i-$R" RUNNING 10 "$mark" || dew_fail "the restarted DEA does not heartbeat r-$i RUNNING"
done
dew_ok "the restarted DEA heartbeats r-0, r-1, r-2 RUNNING"
regs=$(bus_wait "$mark" 5 router.register --eq app=rapp --count 3) || dew_fail "no router.register for the adopted instances"
dew_assert_eq "$(each '"%s:%d" % (short(j["private_instance_id"]), j["port"])' <<<"$regs")" \
	"r-0:${PORTS[0]} r-1:${PORTS[1]} r-2:${PORTS[2]}" "router.register for each adopted instance, on its port"
dew_assert_eq "$(each 'j["uris"] == ["rapp.example.com", "www.rapp.example.com"]' <<<"$regs")" "True True True" \
	"with the routes of the last dea.update"
bus_wait "$mark" 5 dea.advertise --eq id=dea1 --eq available_memory=$((1024 - 3 * 128)) \
	--expr "m['app_id_to_count'] == {'rapp': 3}" >/dev/null || dew_fail "advertise does not count the adopted instances"
dew_ok "dea.advertise: the adopted reservations (640 MB available, rapp: 3)"
bus_wait "$mark" 1 droplet.exited --none >/dev/null || dew_fail "a droplet.exited after re-adoption"
dew_ok "no droplet.exited for the adopted instances"
found=$(bus_request dea.find.droplet '{"droplet": "rapp", "include_stats": true}' 1)
dew_assert_eq "$(each 'short(j["instance"]) + ":" + j["state"] + ":" + str(j["stats"]["usage"]["mem"] > 0)' <<<"$found")" \
	"r-0:RUNNING:True r-1:RUNNING:True r-2:RUNNING:True" \
	"find.droplet: the adopted instances with their live stats"
sleep 0.5
touch "$T/loop.stop"
dew_wait_exit "$loop_PID" 10
pycheck "the request loop" "$T/loop.out" "$t_kill" "$t_restart" <<'PY'
import sys
from natsclient import check
lines = [l.split(None, 2) for l in open(sys.argv[1])]
t_kill, t_restart = float(sys.argv[2]), float(sys.argv[3])
fails = [l for l in lines if l[2].strip() != "ok"]
gap = [l for l in lines if t_kill <= float(l[0]) <= t_restart]
check(not fails, "no request failed (%d failed of %d): %s" % (len(fails), len(lines), fails[:3]))
check(len(gap) >= 3, "%d requests answered while no DEA ran" % len(gap))
PY

# ---- an instance that dies while the DEA is down is reported CRASHED on restart ----
kill -KILL "$dea_PID"
dew_wait_exit "$dea_PID" 10 2>/dev/null
R1=r-1-$R
pid=$("${DEW_RUN[@]}" ps "$R1" | awk '$1 ~ /^[0-9]+$/ && $2 == "python3" && $3 == "app.py" { print $1; exit }')
[ -n "$pid" ] || dew_fail "no app process in r-1"
kill -KILL "$pid"
deadline=$((SECONDS + 10))
until "${DEW_RUN[@]}" list --json | python3 -c 'import json,sys; sys.exit(not any(c["id"] == sys.argv[1] and c["state"] == "stopped" for c in json.load(sys.stdin)))' "$R1"; do
	[ $SECONDS -lt $deadline ] || dew_fail "r-1 did not stop: $("${DEW_RUN[@]}" list)"
	sleep 0.05
done
dew_ok "r-1's app killed while no DEA runs"
mark=$(bus_mark)
dea_start dea
ex=$(bus_wait "$mark" 10 droplet.exited --eq instance="$R1") || dew_fail "no droplet.exited for r-1 after the restart"
dew_assert_eq "$(jget "$ex" '[j["reason"], j["exit_status"], j["exit_description"], j["dea"]]')" \
	'["CRASHED", 137, "exited with status 137 (killed by SIGKILL)", "dea1"]' \
	"r-1: droplet.exited CRASHED with the status it ended with"
for i in 0 2; do
	wait_hb "r-$i-$R" RUNNING 10 "$mark" || dew_fail "r-$i is not RUNNING after the second restart"
done
wait_hb "$R1" CRASHED 10 "$mark" || dew_fail "r-1 is not heartbeated CRASHED"
dew_ok "r-0 and r-2 RUNNING, r-1 CRASHED"
bus_wait "$mark" 1 droplet.exited --expr "m['instance'] != '$R1'" --none >/dev/null || dew_fail "another instance was reported"
wait_no_container "$R1" 10 || dew_fail "r-1's container was not deleted"
dew_ok "r-1's container is deleted; its directory kept: $([ -d "$T/dea-base/instances/$R1" ] && echo yes)"
bus_wait "$mark" 5 dea.advertise --eq id=dea1 --eq available_memory=$((1024 - 2 * 128)) \
	--expr "m['app_id_to_count'] == {'rapp': 2}" >/dev/null || dew_fail "advertise does not count two instances"
dew_ok "dea.advertise: two reservations left"

# ---- --on-shutdown keep: SIGTERM leaves them for the next DEA ----
kill -KILL "$dea_PID"
dew_wait_exit "$dea_PID" 10 2>/dev/null
dea_start dea --on-shutdown keep
wait_hb "r-0-$R" RUNNING 10 "$(bus_mark)" || dew_fail "the keep DEA did not adopt r-0"
mark=$(bus_mark)
dew_stop "$dea_PID" 15
dew_assert_eq "$?" 0 "--on-shutdown keep: SIGTERM, dew-dea exits 0"
bus_wait "$mark" 1 droplet.exited --none >/dev/null || dew_fail "--on-shutdown keep reported an exit"
bus_wait "$mark" 0 router.unregister --none >/dev/null || dew_fail "--on-shutdown keep unregistered routes"
dew_ok "--on-shutdown keep: no droplet.exited, no router.unregister"
dew_assert_eq "$(containers | short_ids)" "r-0 r-2" "the instances run on"
dew_http body "http://127.0.0.1:${PORTS[0]}/"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "r-0 still answers"
mark=$(bus_mark)
dea_start dea
for i in 0 2; do
	wait_hb "r-$i-$R" RUNNING 10 "$mark" || dew_fail "the next DEA did not adopt r-$i"
done
dew_ok "the next DEA adopts r-0 and r-2"

# ---- plain SIGTERM: each instance stopped (DEA_SHUTDOWN), nothing left ----
mark=$(bus_mark)
dew_stop "$dea_PID" 15
dew_assert_eq "$?" 0 "SIGTERM: dew-dea exits 0"
exits=$(bus_wait "$mark" 5 droplet.exited --count 2 --all)
dew_assert_eq "$(each 'short(j["instance"]) + ":" + j["reason"]' <<<"$exits")" \
	"r-0:DEA_SHUTDOWN r-2:DEA_SHUTDOWN" "SIGTERM: droplet.exited DEA_SHUTDOWN for each instance, once"
bus_wait "$mark" 0 router.unregister --eq app=rapp --count 2 >/dev/null || dew_fail "SIGTERM: routes not unregistered"
dew_ok "SIGTERM: their routes unregistered"
dew_assert_eq "$(containers | tr '\n' ' ')" "" "SIGTERM: no container is left"
dew_assert_eq "$(ls "$T/dea-base/instances")" "" "SIGTERM: no instance directory is left"

# ---- SIGUSR2: evacuation ----
dea_start dea --evacuation-delay 5s
mark=$(bus_mark)
for i in 0 1; do
	reply=$(start_instance "e-$i-$R" "{\"droplet\": \"evac\", \"index\": $i, \"uris\": [\"evac.example.com\"]}")
	[ "$(jget "$reply" '"port" in j')" = true ] || dew_fail "e-$i refused: $reply"
	EPORT[$i]=$(jget "$reply" 'j["port"]')
done
for i in 0 1; do
	wait_hb "e-$i-$R" RUNNING 20 "$mark" || dew_fail "e-$i is not RUNNING"
done
mark=$(bus_mark)
kill -USR2 "$dea_PID"
exits=$(bus_wait "$mark" 5 droplet.exited --count 2) || dew_fail "SIGUSR2: no droplet.exited for each instance"
dew_assert_eq "$(each 'short(j["instance"]) + ":" + j["reason"]' <<<"$exits")" \
	"e-0:DEA_EVACUATION e-1:DEA_EVACUATION" "SIGUSR2: droplet.exited DEA_EVACUATION for each instance"
dew_http body "http://127.0.0.1:${EPORT[0]}/"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "evacuating: the instance still serves after DEA_EVACUATION was reported"
dew_assert_eq "$(metric dew_dea_evacuating "$dea_STATUS_PORT")" 1 "/metrics: evacuating 1"
reply=$(start_instance "e-9-$R" '{"droplet": "evac", "index": 9}')
dew_assert_contains "$(jget "$reply" 'j.get("error")')" "evacuating" "evacuating: a start is refused"
dew_wait_exit "$dea_PID" 15
dew_assert_eq "$?" 0 "evacuating: dew-dea exits 0 after the delay"
pycheck "evacuation on the bus" "$T/bus.jsonl" "$mark" <<'PY'
import json, sys
from natsclient import check, short
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2]))
    recs = [json.loads(l) for l in f.read().splitlines()]
first = min(i for i, r in enumerate(recs) if r["subject"] == "droplet.exited")
late = [r for r in recs[first:] if r["subject"] == "dea.advertise" and json.loads(r["data"])["id"] == "dea1"]
check(not late, "evacuating: no dea.advertise after the first DEA_EVACUATION (%d seen)" % len(late))
ex = [json.loads(r["data"]) for r in recs if r["subject"] == "droplet.exited"]
check(len(ex) == 2, "evacuating: one droplet.exited per instance, not another when it stops (%d)" % len(ex))
un = [json.loads(r["data"]) for r in recs if r["subject"] == "router.unregister"]
check(sorted(short(u["private_instance_id"]) for u in un) == ["e-0", "e-1"],
      "evacuating: the routes are unregistered when stopped")
hbs = [json.loads(r["data"]) for r in recs if r["subject"] == "dea.heartbeat"]
check(hbs and all(d["state"] != "CRASHED" for h in hbs for d in h["droplets"]), "evacuating: nothing heartbeated CRASHED")
PY
dew_assert_eq "$(containers | tr '\n' ' ')" "" "evacuated: no container is left"
dew_assert_eq "$(ls "$T/dea-base/instances")" "" "evacuated: no instance directory is left"
dew_pass
