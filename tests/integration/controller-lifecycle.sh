#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# App lifecycle driven by dew-controller (issue #7, DESIGN.md section 5.1) with a real dew-bus,
# two real dew-deas running containers of the host stack and a real controller: create -> upload
# -> start -> staged -> RUNNING and reachable at the host:port the instances API gives; scale
# 1 -> 3 (spread over both DEAs) -> 1; restart gives a new version; stats, recent and live logs;
# an app that runs out of memory shows in /crashes and as DOWN with the reason; an app no DEA has
# room for is DOWN saying why; routes mapped and unmapped reach the DEAs; the health manager's
# requests are honoured only for the current version; stop and delete stop the instances.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
dew_test_init controller-lifecycle 180

dea_lib_init
dea_start dea --staging-concurrency 1
PORT_MIN2=$(dea__free_port_range 51) || dew_fail "no free range of 51 ports"
dea_start dea2 --id dea2 --state-dir "$T/dea2-state" --base-dir "$T/dea2-base" --port-min "$PORT_MIN2" \
	--port-max $((PORT_MIN2 + 50))
cc_start --find-timeout 1s
cc_user alice
cc_user bob

# ---- create -> upload -> start -> staged -> RUNNING -----------------------------------------
push py python
wait_package py STAGED 60
wait_json R /v1/apps/py/instances alice "$(cc_live 1)" 30 "py: one instance RUNNING"
HOSTPORT=$(jget "$R" '"%s:%s" % (j["instances"][0]["host"], j["instances"][0]["port"])')
V1=$(jget "$R" 'j["version"]')
dew_assert_eq "$(curl -sS --max-time 5 "http://$HOSTPORT/")" "hello from python" \
	"py answers at the address the instances API gives ($HOSTPORT)"
wait_json R /v1/apps/py alice 'j["running_instances"] == 1' 10 "GET py: running_instances 1"
api L GET /v1/apps alice
python3 -c 'import json, sys
one, lst = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.exit(0 if [a for a in lst["apps"] if a["name"] == "py"] == [one] else 1)' "$R" "$L" ||
	dew_fail "the list entry of py differs from GET /v1/apps/py: $L vs $R"
dew_ok "the list's entry of py equals GET /v1/apps/py (running_instances included)"
api R GET /v1/apps/py/instances bob
expect 404 "bob cannot see alice's instances"

# ---- stats and logs ---------------------------------------------------------------------------
api R GET /v1/apps/py/stats alice
expect 200 "GET py's stats"
jcheck "$R" 'len(j["instances"]) == 1 and j["instances"][0]["stats"]["usage"]["mem"] > 0 and j["instances"][0]["stats"]["mem_quota"] == 256 << 20' \
	"py's stats: memory in use and the 256 MB quota"
wait_json R "/v1/apps/py/logs?recent" alice \
	'any("python sample listening" in l["line"] and l["source"] == "APP" for l in j["lines"])' 10 \
	"py's recent logs hold the app's first line"
curl -sS -N --max-time 20 -H "Authorization: Bearer ${TOK[alice]}" "$CC_URL/v1/apps/py/logs" >"$T/live.sse" &
LIVE=$!
dew_wait_file_content() { local d=$((SECONDS + $3)); until grep -q "$2" "$1"; do [ $SECONDS -lt $d ] || return 1; sleep 0.1; done; }
dew_wait_file_content "$T/live.sse" "streaming the logs" 5 || dew_fail "the live log stream did not start: $(cat "$T/live.sse")"
curl -sS --max-time 5 "http://$HOSTPORT/live-log-probe" >/dev/null
dew_wait_file_content "$T/live.sse" "live-log-probe" 10 || dew_fail "the live stream did not get the app's line: $(cat "$T/live.sse")"
dew_ok "a live log stream gets the app's new line"
kill "$LIVE" 2>/dev/null
wait "$LIVE" 2>/dev/null

# ---- files, proxied from the DEA ------------------------------------------------------------------
api R GET /v1/apps/py/files/ alice
expect 200 "GET py's files/"
jcheck "$R" 'sorted(e["name"] for e in j["entries"]) == ["app", "logs"]' "the instance's top directory: app and logs"
api R GET /v1/apps/py/files/app/app.py alice
expect 200 "GET py's app/app.py"
dew_assert_contains "$R" "hello from python" "app.py comes through the controller"
api R GET "/v1/apps/py/files/logs/stdout.log?tail=200" alice
expect 200 "GET the tail of py's stdout.log"
dew_assert_contains "$R" "python sample listening" "the tail of stdout.log"
api R GET /v1/apps/py/files/app/nonexistent alice
expect 404 "a missing file is the DEA's 404"
api R GET "/v1/apps/py/files/app/app.py?instance=5" alice
expect 404 "no instance 5"
api R GET "/v1/apps/py/files/app/app.py?instance=x" alice
expect 400 "a malformed instance index"
api R GET /v1/apps/py/files/app/app.py bob
expect 404 "bob cannot read alice's files"

# ---- scale 1 -> 3 -> 1 -----------------------------------------------------------------------
api R PUT /v1/apps/py alice '{"instances":3}'
expect 200 "scale py to 3"
wait_json R /v1/apps/py/instances alice "$(cc_live 3)" 30 "py: three instances RUNNING"
jcheck "$R" 'sorted(i["index"] for i in j["instances"]) == [0, 1, 2]' "indices 0, 1 and 2"
jcheck "$R" 'sorted(set(i["dea"] for i in j["instances"])) == ["dea1", "dea2"]' "spread over both DEAs"
api R PUT /v1/apps/py alice '{"instances":1}'
expect 200 "scale py to 1"
wait_json R /v1/apps/py/instances alice "$(cc_live 1)" 30 "py: back to one instance"
jcheck "$R" '[i["index"] for i in j["instances"]] == [0]' "index 0 kept"

# ---- restart: a new version -------------------------------------------------------------------
api R PUT /v1/apps/py alice '{"restart":true}'
expect 200 "restart py"
V2=$(jget "$R" 'j["version"]')
[ "$V2" != "$V1" ] || dew_fail "restart kept version $V1"
dew_ok "restart gives a new version"
wait_json R /v1/apps/py/instances alice "$(cc_live 1) and j['version'] == '$V2'" 30 "py runs version 2 only"

# ---- routes reach the DEAs ---------------------------------------------------------------------
M=$(bus_mark)
api R POST /v1/routes alice '{"host":"py2.dew.test","app":"py"}'
expect 201 "map py2.dew.test to py"
bus_wait "$M" 10 dea.update --expr 'sorted(m["uris"]) == ["py.dew.test", "py2.dew.test"]' >/dev/null ||
	dew_fail "no dea.update with both routes"
dew_ok "dea.update carries both routes"
bus_wait "$M" 10 router.register --expr '"py2.dew.test" in m["uris"]' >/dev/null ||
	dew_fail "the DEA did not register py2.dew.test"
dew_ok "the DEA registers the new route"
api R POST /v1/routes bob '{"host":"py2.dew.test","app":"py"}'
expect 404 "bob cannot map a route to alice's app"
api R POST /v1/routes alice '{"host":"py2.other.test","app":"py"}'
expect 422 "a route outside the domain"
api R GET /v1/routes alice
jcheck "$R" 'sorted((r["host"], r["app"]) for r in j["routes"]) == [("py.dew.test", "py"), ("py2.dew.test", "py")]' \
	"GET /v1/routes lists alice's routes"
api R DELETE /v1/routes/py2.dew.test bob
expect 404 "bob cannot unmap alice's route"
M=$(bus_mark)
api R DELETE /v1/routes/py2.dew.test alice -
expect 204 "unmap py2.dew.test"
bus_wait "$M" 10 router.unregister --expr '"py2.dew.test" in m["uris"]' >/dev/null ||
	dew_fail "the DEA did not unregister py2.dew.test"
dew_ok "the DEA unregisters the removed route"
M=$(bus_mark)
api R PUT /v1/apps/py alice '{"routes":["py.dew.test","py3.dew.test"]}'
expect 200 "PUT py's routes: py and py3"
jcheck "$R" 'sorted(j["routes"]) == ["py.dew.test", "py3.dew.test"]' "the app has exactly those routes"
bus_wait "$M" 10 dea.update --expr 'sorted(m["uris"]) == ["py.dew.test", "py3.dew.test"]' >/dev/null ||
	dew_fail "no dea.update after PUT routes"
dew_ok "PUT routes reaches the DEAs"
api R POST /v1/apps bob '{"name":"bweb"}'
expect 201 "bob creates bweb (route bweb.dew.test)"
api R PUT /v1/apps/py alice '{"routes":["py.dew.test","bweb.dew.test"]}'
expect 409 "PUT routes with bob's host"
api R GET /v1/apps/py alice
jcheck "$R" 'sorted(j["routes"]) == ["py.dew.test", "py3.dew.test"]' "a refused PUT changes no route"
api R PUT /v1/apps/py alice '{"routes":["py.dew.test"]}'
expect 200 "PUT py's routes back to py.dew.test"

# ---- the health manager's channel --------------------------------------------------------------
api R GET /v1/apps/py alice
UPDATED=$(jget "$R" 'j["updated"]')
GUID=$(jget "$R" 'j["guid"]')
INST=$(jget "$(curl -sS -H "Authorization: Bearer ${TOK[alice]}" "$CC_URL/v1/apps/py/instances")" 'j["instances"][0]["instance"]')
bus_pub dea.stop "{\"droplet\":\"$GUID\"}"
wait_json R /v1/apps/py/instances alice 'all(i["state"] == "DOWN" for i in j["instances"])' 20 \
	"py stopped behind the controller's back: DOWN"
bus_pub cloudcontrollers.hm.requests "{\"droplet\":\"$GUID\",\"op\":\"START\",\"version\":\"$V1\",\"last_updated\":$UPDATED,\"indices\":[0]}"
bus_pub cloudcontrollers.hm.requests '{"op":"START"}'
bus_pub cloudcontrollers.hm.requests 'not json'
sleep 1
api R GET /v1/apps/py/instances alice
jcheck "$R" 'all(i["state"] == "DOWN" for i in j["instances"])' "a START decided on an old version is ignored"
bus_pub cloudcontrollers.hm.requests "{\"droplet\":\"$GUID\",\"op\":\"START\",\"version\":\"$V2\",\"last_updated\":$UPDATED,\"indices\":[0,7]}"
wait_json R /v1/apps/py/instances alice "$(cc_live 1)" 30 "the health manager's START runs index 0 again"
curl -sS "http://127.0.0.1:$cc_STATUS_PORT/metrics" >"$T/metrics"
grep -q '^dew_controller_hm_stale_total 1$' "$T/metrics" || dew_fail "hm_stale is not 1: $(grep hm_ "$T/metrics")"
grep -q '^dew_controller_hm_malformed_total 2$' "$T/metrics" || dew_fail "hm_malformed is not 2: $(grep hm_ "$T/metrics")"
dew_ok "metrics count the stale and the malformed requests"
grep -Eq '^dew_controller_requests_total\{method="GET",route="/v1/apps/:name/instances",status="200"\} [1-9]' "$T/metrics" ||
	dew_fail "no count of GET instances 200 in /metrics: $(grep requests_total "$T/metrics" | head)"
grep -Eq '^dew_controller_requests_total\{method="GET",route="/v1/apps/:name/instances",status="404"\} 1$' "$T/metrics" ||
	dew_fail "bob's 404 is not counted once in /metrics: $(grep requests_total "$T/metrics" | head)"
dew_ok "/metrics counts answers by method, route pattern and status"
[ "$INST" != "$(jget "$R" 'j["instances"][0]["instance"]')" ] || dew_fail "the same instance id came back"

# ---- the desired state for the health manager (signed) -----------------------------------------
api R GET /v1/internal/desired alice
expect 403 "/v1/internal/desired needs a signature, not a user token"
SIGNED=$(python3 - "$CC_SECRET" <<'PY'
import hashlib, hmac, sys, time
exp = int(time.time()) + 60
path = "/v1/internal/desired"
sig = hmac.new(sys.argv[1].encode(), f"GET {path}\n{exp}".encode(), hashlib.sha256).hexdigest()
print(f"{path}?expires={exp}&sig={sig}")
PY
)
dew_http R "$CC_URL$SIGNED"
expect 200 "signed GET /v1/internal/desired"
jcheck "$R" '[(a["droplet"], a["version"], a["instances"], a["state"], a["last_updated"]) for a in j["apps"] if a["name"] == "py"] == [("'"$GUID"'", "'"$V2"'", 1, "STARTED", '"$UPDATED"')]' \
	"desired state of py: version, instances, state, last_updated"

# ---- the staging log, followed live ------------------------------------------------------------
mkdir -p "$T/slowapp/bin"
cp "$top_srcdir/tests/fixtures/apps/python/app.py" "$T/slowapp/"
printf '#!/bin/sh\necho "pre_compile: waiting"\nsleep 2\necho "pre_compile: done waiting"\n' >"$T/slowapp/bin/pre_compile"
chmod +x "$T/slowapp/bin/pre_compile"
tar -C "$T/slowapp" -czf "$T/slow.tgz" .
api R POST /v1/apps alice '{"name":"slow","instances":0}'
expect 201 "create slow"
api R PUT /v1/apps/slow/bits alice - --form-string 'resources=[]' -F "application=@$T/slow.tgz"
expect 201 "upload slow's bits"
api R PUT /v1/apps/slow alice '{"state":"STARTED"}'
expect 200 "start slow: its staging takes 2 s"
push quick python '"instances":0'
curl -sS --max-time 30 -D "$T/slowlog.head" -H "Authorization: Bearer ${TOK[alice]}" \
	"$CC_URL/v1/apps/slow/staging_log" >"$T/slowlog.txt" || dew_fail "GET slow's staging_log"
grep -qi '^transfer-encoding: chunked' "$T/slowlog.head" ||
	dew_fail "the staging log of a staging in flight was not streamed: $(cat "$T/slowlog.head")"
dew_ok "the staging log of a staging in flight is streamed"
grep -q 'pre_compile: done waiting' "$T/slowlog.txt" ||
	dew_fail "the streamed staging log lacks the lines after the wait: $(cat "$T/slowlog.txt")"
dew_ok "and it follows the staging to its end"
wait_package slow STAGED 30
api R GET /v1/apps/slow/staging_log alice
expect 200 "GET slow's staging log once staged"
dew_assert_contains "$R" "pre_compile: done waiting" "the whole log once it is over"
wait_package quick STAGED 30
grep -q 'staging quick .* (again: the last DEA asked was busy)' "$T/cc.log" ||
	dew_fail "quick was not staged again after the busy DEA: $(grep quick "$T/cc.log")"
dew_ok "a staging a busy DEA turned down is sent again, and succeeds"

# ---- an app that runs out of memory ------------------------------------------------------------
push hog python '"memory":32,"command":"python3 -c \"import time; x = bytearray(256 << 20); time.sleep(60)\""'
wait_package hog STAGED 60
wait_json R /v1/apps/hog/crashes alice 'len(j["crashes"]) >= 1' 30 "hog's crash is listed"
jcheck "$R" '"out of memory" in j["crashes"][0]["exit_description"] and j["crashes"][0]["index"] == 0' \
	"hog's crash says out of memory"
wait_json R /v1/apps/hog/instances alice \
	'[(i["state"], "out of memory" in i.get("reason", "")) for i in j["instances"]] == [("DOWN", True)]' 10 \
	"hog's index 0 is DOWN: crashed, out of memory"
api R PUT /v1/apps/hog alice '{"state":"STOPPED"}'
expect 200 "stop hog"

# ---- no DEA has room -----------------------------------------------------------------------------
api R PUT /v1/apps/hog alice '{"state":"STARTED","memory":4096,"command":null}'
expect 200 "start hog with 4096 MB"
wait_json R /v1/apps/hog/instances alice \
	'[i["state"] for i in j["instances"]] == ["DOWN"] and "4096 MB" in j["instances"][0]["reason"]' 15 \
	"hog is DOWN: no DEA has 4096 MB free"
dew_assert_contains "$(jget "$R" 'j["instances"][0]["reason"]')" "no DEA has" "the reason names the missing room"

# ---- kill -9 the controller during a state change ---------------------------------------------
api R PUT /v1/apps/py alice '{"instances":2}'
expect 200 "scale py to 2, then kill -9 the controller at once"
kill -KILL "$cc_PID"
wait "$cc_PID" 2>/dev/null
dew_start_daemon cc "$CC" "${CC_ARGS[@]}"
CC_URL=http://127.0.0.1:$cc_PORT
api R GET /v1/apps/py alice
expect 200 "after kill -9 and a restart: GET py with the old token"
jcheck "$R" 'j["instances"] == 2 and j["state"] == "STARTED"' "the acknowledged scale survived"
wait_json R /v1/apps/py/instances alice \
	'[(i["index"], i["state"]) for i in j["instances"] if i["index"] == 0] == [(0, "RUNNING")] and len([i for i in j["instances"] if i["index"] == 1]) == 1' \
	15 "the restarted controller sees index 0 RUNNING and index 1 either running or DOWN"
api R PUT /v1/apps/py alice '{"instances":1}'
expect 200 "scale py back to 1"
wait_json R /v1/apps/py/instances alice "$(cc_live 1)" 30 "py: one instance again"

# ---- new bits for a running app: the instances are replaced -------------------------------------
mkdir -p "$T/py-v3"
sed 's/hello from python/hello from python, v3/' "$top_srcdir/tests/fixtures/apps/python/app.py" >"$T/py-v3/app.py"
tar -C "$T/py-v3" -czf "$T/py-v3.tgz" .
api R GET /v1/apps/py alice
VOLD=$(jget "$R" 'j["version"]')
api R PUT /v1/apps/py/bits alice - --form-string 'resources=[]' -F "application=@$T/py-v3.tgz"
expect 201 "new bits for the running py"
wait_json R /v1/apps/py/instances alice "$(cc_live 1) and j['version'] != '$VOLD'" 60 \
	"once staged, py runs a new version only"
ADDR3=$(jget "$R" '"%s:%s" % (j["instances"][0]["host"], j["instances"][0]["port"])')
dew_assert_eq "$(curl -sS --max-time 5 "http://$ADDR3/")" "hello from python, v3" "the new instance serves the new bits"
grep -q -E 'app py \([0-9a-f-]+\): 1 instance\(s\) of an older version replaced' "$T/cc.log" ||
	dew_fail "the old instance was not stopped as replaced once the new one ran"
dew_ok "the old instance was stopped once its successor ran (a rolling replacement)"

# ---- new bits with no room beside the old instances: each old one makes room ---------------------
push big python '"memory":600,"instances":2'
wait_json R /v1/apps/big/instances alice "$(cc_live 2)" 60 "big: two instances of 600 MB (one per 1 GB DEA)"
api R PUT /v1/apps/big/bits alice - --form-string 'resources=[]' -F "application=@$T/py-v3.tgz"
expect 201 "new bits for big, with no DEA able to hold a third 600 MB instance"
wait_json R /v1/apps/big/instances alice \
	'len(j["instances"]) == 2 and all(i["state"] == "DOWN" and "stopped to make room" in i.get("reason", "") for i in j["instances"])' \
	60 "each index: no room beside the old instance, so the old one was stopped to make room"
api R PUT /v1/apps/big alice '{"restart":true}'
expect 200 "restart big (no health manager runs in this test to start it once there is room)"
wait_json R /v1/apps/big/instances alice "$(cc_live 2)" 60 "big runs its new version on the room the old one left"
api R DELETE /v1/apps/big alice
expect 204 "delete big"

# ---- stop and delete ------------------------------------------------------------------------------
api R PUT /v1/apps/py alice '{"state":"STOPPED"}'
expect 200 "stop py"
wait_json R /v1/apps/py/instances alice 'j["instances"] == []' 20 "py has no instances once STOPPED"
curl -sS --max-time 2 "http://$HOSTPORT/" >/dev/null 2>&1 && dew_fail "py still answers after the stop"
dew_ok "py's old address answers no more"
api R PUT /v1/apps/py alice '{"state":"STARTED"}'
wait_json R /v1/apps/py/instances alice "$(cc_live 1)" 30 "py started again"
M=$(bus_mark)
api R DELETE /v1/apps/py alice -
expect 204 "delete py"
bus_wait "$M" 10 droplet.exited --expr 'm["droplet"] == "'"$GUID"'" and m["reason"] == "STOPPED"' >/dev/null ||
	dew_fail "py's instance did not stop after the delete"
dew_ok "deleting py stops its instance"

cc_sanitizer_check
dew_pass
