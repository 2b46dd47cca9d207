#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-dea running instances end to end (DESIGN.md sections 5.1 and 8): a real bus, droplets
# staged by dew-stage and served over HTTP, real containers. A start is answered with the port
# and the app answers HTTP there with the Cloud Foundry environment (PORT, VCAP_APPLICATION with
# every field, VCAP_SERVICES by label, the user's env); RUNNING is heartbeated, routes are
# registered, capacity is advertised; starts that cannot work are refused or reported CRASHED.
# Several instances of one app are found with dea.find.droplet filters and stats, stopped by
# index, instance id and version, re-routed by dea.update, re-registered on router.start, and
# heartbeated at once on healthmanager.start; app log lines reach logs.<app_id>.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
dew_test_init dea-instances 150
dea_lib_init
dea_stage python
dea_start dea
dew_ok "dew-dea is ready"

# ---- one web instance: the reply, RUNNING, routes, the environment, advertise, logs ----
ENV=envapp-0-$R
ENV_START='{"droplet": "envapp", "name": "env-app", "version": "v7", "index": 0,
  "uris": ["envapp.example.com", "Alias.Example.COM/path"],
  "env": {"USER_X": "hello world", "USER_JSON": "{\"a\": [1, 2]}", "PORT": "1", "VCAP_APP_PORT": "2",
          "HOME": "/tmp", "MEMORY_LIMIT": "1m"},
  "services": [{"name": "db1", "label": "postgres", "plan": "small", "tags": ["sql"],
                "credentials": {"uri": "postgres://u:p@db/x"}, "extra": "not passed on"},
               {"name": "cache", "label": "redis"},
               {"name": "db2", "label": "postgres", "credentials": {"uri": "postgres://db2"}}]}'
mark=$(bus_mark)
reply=$(start_instance "$ENV" "$ENV_START") || dew_fail "no reply to the start: $reply"
dew_assert_eq "$(jget "$reply" '[j.get("dea"), j.get("instance")]')" "[\"dea1\", \"$ENV\"]" \
	"the start is answered with the DEA and the instance"
PORT=$(jget "$reply" 'j["port"]')
[ "$PORT" -ge "$PORT_MIN" ] && [ "$PORT" -le $((PORT_MIN + 50)) ] || dew_fail "port $PORT outside the range"
dew_ok "the reply names port $PORT, in the DEA's range"
wait_hb "$ENV" RUNNING 20 "$mark" || dew_fail "no RUNNING heartbeat for $ENV"
dew_ok "a heartbeat lists $ENV RUNNING"
reg=$(bus_wait "$mark" 5 router.register --eq private_instance_id="$ENV") ||
	dew_fail "no router.register for $ENV"
pycheck "router.register" "$reg" "$PORT" <<'PY'
import json, sys
from natsclient import check
r, port = json.loads(sys.argv[1]), int(sys.argv[2])
check(r["host"] == "127.0.0.1" and r["port"] == port, "router.register: host 127.0.0.1, port %d" % port)
check(r["uris"] == ["envapp.example.com", "alias.example.com/path"], "router.register: the uris (lowercased) %r" % r["uris"])
check(r["app"] == "envapp" and r["private_instance_index"] == 0, "router.register: app and private_instance_index")
check(isinstance(r["tags"], dict) and r["tags"].get("component") == "dea-dea1", "router.register: tags %r" % r["tags"])
check(isinstance(r["stale_threshold_in_seconds"], int) and r["stale_threshold_in_seconds"] > 0,
      "router.register: stale_threshold_in_seconds %r" % r["stale_threshold_in_seconds"])
PY
# The STARTING heartbeat came before the RUNNING one.
bus_wait "$mark" 1 dea.heartbeat --eq dea=dea1 \
	--expr "any(d['instance'] == '$ENV' and d['state'] == 'STARTING' for d in m['droplets'])" >/dev/null ||
	dew_fail "no STARTING heartbeat for $ENV"
dew_ok "$ENV was heartbeated STARTING first"

dew_http body "http://127.0.0.1:$PORT/"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "the app answers HTTP on its port"
dew_assert_contains "$body" "hello from python" "with its own answer"
dew_http env "http://127.0.0.1:$PORT/env"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "/env answers"
pycheck "the instance environment" "$env" "$PORT" "$ENV" <<'PY'
import json, re, sys, time
from natsclient import check
e, port, iid = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
check(e["PORT"] == port and e["VCAP_APP_PORT"] == port, "PORT = VCAP_APP_PORT = %s" % port)
check(e["VCAP_APP_HOST"] == "0.0.0.0", "VCAP_APP_HOST=0.0.0.0")
check(e["HOME"] == "/home/vcap/app", "HOME=/home/vcap/app (the user's HOME ignored)")
check(e["MEMORY_LIMIT"] == "128m", "MEMORY_LIMIT=128m (the user's ignored)")
check(e["USER_X"] == "hello world" and e["USER_JSON"] == '{"a": [1, 2]}', "the user's env is passed on")
a = e["VCAP_APPLICATION"]
want = {"instance_id", "instance_index", "name", "application_name", "application_id", "application_uris",
        "uris", "version", "application_version", "host", "port", "start", "started_at", "state_timestamp",
        "limits"}
check(isinstance(a, dict) and not (want - set(a)), "VCAP_APPLICATION has every field (missing: %s)"
      % sorted(want - set(a or {})))
check(a["instance_id"] == iid and a["instance_index"] == 0, "VCAP_APPLICATION instance_id, instance_index")
check(a["name"] == a["application_name"] == "env-app", "VCAP_APPLICATION name, application_name")
check(a["application_id"] == "envapp", "VCAP_APPLICATION application_id")
uris = ["envapp.example.com", "alias.example.com/path"]
check(a["uris"] == a["application_uris"] == uris, "VCAP_APPLICATION uris, application_uris %r" % a["uris"])
check(a["version"] == a["application_version"] == "v7", "VCAP_APPLICATION version, application_version")
check(a["host"] == "127.0.0.1" and a["port"] == int(port), "VCAP_APPLICATION host %r, port %r" % (a["host"], a["port"]))
stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000"
check(re.fullmatch(stamp, a["start"]) and a["start"] == a["started_at"], "VCAP_APPLICATION start, started_at %r" % a["start"])
check(isinstance(a["state_timestamp"], (int, float)) and abs(a["state_timestamp"] - time.time()) < 300,
      "VCAP_APPLICATION state_timestamp %r" % a["state_timestamp"])
check(a["limits"] == {"mem": 128, "disk": 256, "fds": 1024}, "VCAP_APPLICATION limits %r" % a["limits"])
s = e["VCAP_SERVICES"]
check(sorted(s) == ["postgres", "redis"], "VCAP_SERVICES grouped by label: %r" % sorted(s))
check([x["name"] for x in s["postgres"]] == ["db1", "db2"], "both postgres services, in order")
check(s["postgres"][0] == {"name": "db1", "label": "postgres", "plan": "small", "tags": ["sql"],
                           "credentials": {"uri": "postgres://u:p@db/x"}}, "a service's entry: %r" % s["postgres"][0])
check(s["redis"] == [{"name": "cache", "label": "redis", "tags": [], "credentials": {}}],
      "a service without tags or credentials: %r" % s["redis"])
PY

ad=$(bus_wait "$mark" 5 dea.advertise --eq id=dea1 --eq available_memory=896 \
	--expr "m['app_id_to_count'] == {'envapp': 1}") || dew_fail "no dea.advertise with 896 MB and envapp"
dew_ok "dea.advertise: available_memory 1024 - 128 = 896, app_id_to_count {envapp: 1}"
bus_wait "$mark" 10 logs.envapp --eq source=APP --eq instance="$ENV" --eq index=0 \
	--expr "m['stream'] == 'out' and m['line'] == 'python sample listening on 0.0.0.0:$PORT'" >/dev/null ||
	dew_fail "the app's first stdout line did not reach logs.envapp"
dew_ok "the app's stdout reaches logs.envapp (source APP, stream out)"
bus_wait "$mark" 10 logs.envapp --eq source=APP --expr "m['stream'] == 'err' and 'GET /env' in m['line']" >/dev/null ||
	dew_fail "the app's request log (stderr) did not reach logs.envapp"
dew_ok "the app's stderr reaches logs.envapp (stream err)"
line=$(bus_wait "$mark" 5 logs.envapp --eq source=DEA) || dew_fail "no DEA line on logs.envapp"
dew_assert_eq "$(jget "$line" '[j["app"], j["instance"], type(j["ts"]).__name__ in ("int", "float")]')" \
	"[\"envapp\", \"$ENV\", true]" "DEA lines carry app, instance and ts"

# ---- refusals ----
refused_before=$(metric dew_dea_refused_starts_total "$dea_STATUS_PORT")
reply=$(start_instance "big-0-$R" '{"droplet": "big", "memory": 4096}')
dew_assert_contains "$(jget "$reply" 'j.get("error")')" "not enough room" "a start that does not fit is refused"
dew_assert_contains "$(jget "$reply" 'j.get("error")')" "4096 MB of memory" "and the refusal says what was asked"
dew_assert_eq "$(jget "$reply" '[j.get("dea"), j.get("instance"), "port" in j]')" "[\"dea1\", \"big-0-$R\", false]" \
	"the refusal names the DEA and the instance"
reply=$(start_instance "stk-0-$R" '{"droplet": "stk", "stack": "cflinuxfs4"}')
dew_assert_contains "$(jget "$reply" 'j.get("error")')" "stack \`cflinuxfs4\` is not offered" "a wrong stack is refused"
reply=$(start_instance "$ENV" '{"droplet": "envapp", "index": 1}')
dew_assert_contains "$(jget "$reply" 'j.get("error")')" "instance $ENV exists already" \
	"a duplicate instance id is refused"
dew_assert_eq "$(metric dew_dea_refused_starts_total "$dea_STATUS_PORT")" $((refused_before + 3)) \
	"/metrics counts the three refusals"
[ ! -e "$T/dea-base/instances/big-0-$R" ] && [ ! -e "$T/dea-base/instances/stk-0-$R" ] ||
	dew_fail "a refused start left an instance directory"
dew_ok "refused starts leave no instance directory"

mark=$(bus_mark)
BAD=badsha-0-$R
reply=$(start_instance "$BAD" '{"droplet": "badsha",
  "droplet_sha256": "0000000000000000000000000000000000000000000000000000000000000000", "uris": ["bad.example.com"]}')
dew_assert_eq "$(jget "$reply" '"port" in j')" true "a start with a wrong SHA-256 is accepted at first"
ex=$(bus_wait "$mark" 15 droplet.exited --eq instance="$BAD") || dew_fail "no droplet.exited for $BAD"
pycheck "droplet.exited of a wrong SHA-256" "$ex" <<'PY'
import json, sys
from natsclient import check
e = json.loads(sys.argv[1])
check(e["reason"] == "CRASHED" and e["droplet"] == "badsha" and e["dea"] == "dea1", "badsha-0: CRASHED")
check(e["exit_description"].startswith("start failed: ") and "SHA-256 mismatch" in e["exit_description"],
      "exit_description %r" % e["exit_description"])
check(isinstance(e["crash_timestamp"], (int, float)) and isinstance(e["log_tail"], list),
      "crash_timestamp and log_tail are there")
PY
wait_hb "$BAD" CRASHED 5 "$mark" || dew_fail "$BAD is not heartbeated CRASHED"
dew_ok "$BAD is heartbeated CRASHED (kept for crash retention)"
bus_wait "$mark" 0.5 router.register --eq private_instance_id="$BAD" --none >/dev/null ||
	dew_fail "a droplet that failed to start was routed"
dew_ok "a failed start was never routed"
containers | grep -qx "$BAD" && dew_fail "the failed start left its container"
dew_ok "a failed start leaves no container"

# ---- a worker: no uris, health_check none ----
mark=$(bus_mark)
reply=$(start_instance "worker-0-$R" '{"droplet": "worker", "start_command": "echo worker up; exec sleep 1000",
  "health_check": "none"}')
[ "$(jget "$reply" '"port" in j')" = true ] || dew_fail "the worker's start was refused: $reply"
wait_hb "worker-0-$R" RUNNING 15 "$mark" || dew_fail "no RUNNING heartbeat for the worker"
dew_ok "a worker (no uris, health_check none) is RUNNING"
bus_wait "$mark" 10 logs.worker --eq source=APP --eq line="worker up" >/dev/null ||
	dew_fail "the worker's output did not reach logs.worker"
dew_ok "the start_command of the message runs (its output on logs.worker)"

# ---- three instances of one app, two versions ----
mark=$(bus_mark)
for i in 0 1 2; do
	version=v1
	[ $i = 2 ] && version=v2
	reply=$(start_instance "multi-$i-$R" "{\"droplet\": \"multi\", \"index\": $i,
	  \"version\": \"$version\", \"uris\": [\"multi.example.com\"]}")
	[ "$(jget "$reply" '"port" in j')" = true ] || dew_fail "multi-$i refused: $reply"
done
for i in 0 1 2; do
	wait_hb "multi-$i-$R" RUNNING 20 "$mark" || dew_fail "multi-$i is not RUNNING"
done
dew_ok "three instances of multi are RUNNING"
bus_wait "$mark" 5 dea.advertise --eq id=dea1 --eq available_memory=$((1024 - 5 * 128)) \
	--expr "m['app_id_to_count'].get('multi') == 3" >/dev/null ||
	dew_fail "dea.advertise does not count the three instances of multi"
dew_ok "dea.advertise: app_id_to_count multi 3, available_memory 384"

# find_droplet DATA: the replies to dea.find.droplet (all within 1 s), one JSON per line.
find_droplet() { bus_request dea.find.droplet "$1" 1; }
# find_ids DATA: the instance ids found (without the run's suffix), sorted, space-separated.
find_ids() { find_droplet "$1" | ids instance; }
dew_assert_eq "$(find_ids '{"droplet": "multi"}')" "multi-0 multi-1 multi-2" "find.droplet: every instance of multi"
dew_assert_eq "$(find_ids '{"droplet": "multi", "version": "v2"}')" "multi-2" "find.droplet: by version"
dew_assert_eq "$(find_ids '{"droplet": "multi", "indices": [0, 2]}')" "multi-0 multi-2" "find.droplet: by indices"
dew_assert_eq "$(find_ids '{"droplet": "multi", "version": "v1", "indices": [1, 2]}')" "multi-1" \
	"find.droplet: version and indices are ANDed"
dew_assert_eq "$(find_ids "{\"droplet\": \"multi\", \"instances\": [\"multi-1-$R\", \"nosuch\"]}")" "multi-1" \
	"find.droplet: by instance id"
dew_assert_eq "$(find_ids '{"droplet": "multi", "states": ["RUNNING"]}')" "multi-0 multi-1 multi-2" \
	"find.droplet: by state RUNNING"
dew_assert_eq "$(find_ids '{"droplet": "multi", "states": ["CRASHED", "STOPPED"]}')" "" \
	"find.droplet: no CRASHED instance of multi"
dew_assert_eq "$(find_ids '{"droplet": "badsha", "states": ["CRASHED"]}')" "badsha-0" \
	"find.droplet: the crashed instance by state CRASHED"
dew_assert_eq "$(find_ids '{"droplet": "nosuch"}')" "" "find.droplet: nothing for an unknown app"
found=$(find_droplet '{"droplet": "multi", "include_stats": true}')
crashed=$(find_droplet '{"droplet": "badsha"}')
pycheck "find.droplet replies" "$found" "$crashed" "$PORT_MIN" <<'PY'
import json, sys
from natsclient import check, short
rs = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
c = json.loads(sys.argv[2])
pmin = int(sys.argv[3])
check(len(rs) == 3, "one reply per instance with include_stats")
for r in rs:
    i = short(r["instance"])
    check(r["dea"] == "dea1" and r["droplet"] == "multi" and r["state"] == "RUNNING" and r["host"] == "127.0.0.1"
          and r["index"] == int(i[-1]) and r["version"] == ("v2" if i == "multi-2" else "v1"),
          "%s: dea, droplet, version, index, state, host" % i)
    check(pmin <= r["port"] <= pmin + 50 and isinstance(r["state_timestamp"], (int, float)), "%s: port, state_timestamp" % i)
    check(r["file_uri"].startswith("http://127.0.0.1:") and r["file_uri"].endswith("/instances/%s/files/" % r["instance"])
          and "." in r["file_token"], "%s: file_uri %s and a file_token" % (i, r["file_uri"]))
    s = r["stats"]
    check(s["mem_quota"] == 128 << 20 and s["disk_quota"] == 256 << 20 and s["fds_quota"] == 1024,
          "%s: stats quotas %d %d %d" % (i, s["mem_quota"], s["disk_quota"], s["fds_quota"]))
    check(s["usage"]["mem"] > 0, "%s: stats.usage.mem %d > 0" % (i, s["usage"]["mem"]))
    check(s["name"] == "multi" and s["uris"] == ["multi.example.com"] and s["port"] == r["port"]
          and s["host"] == "127.0.0.1" and s["uptime"] >= 0, "%s: stats name, uris, host, port, uptime" % i)
    check(isinstance(s["usage"]["cpu"], (int, float)) and "time" in s["usage"] and "disk" in s["usage"],
          "%s: stats.usage time, cpu, disk" % i)
check(c["state"] == "CRASHED" and c["exit_status"] == -1 and "SHA-256 mismatch" in c["exit_description"]
      and isinstance(c["crash_timestamp"], (int, float)), "a crashed instance's reply has exit_status, exit_description, crash_timestamp")
PY

# ---- dea.update: a removed uri is unregistered, an added one registered ----
mark=$(bus_mark)
bus_pub dea.update '{"droplet": "multi", "uris": ["NEW.example.com"]}'
unreg=$(bus_wait "$mark" 5 router.unregister --eq app=multi --count 3) || dew_fail "dea.update: no router.unregister for each instance"
reg=$(bus_wait "$mark" 5 router.register --eq app=multi --count 3) || dew_fail "dea.update: no router.register for each instance"
pycheck "dea.update" "$unreg" "$reg" <<'PY'
import json, sys
from natsclient import check, short
u = [json.loads(l) for l in sys.argv[1].splitlines()]
r = [json.loads(l) for l in sys.argv[2].splitlines()]
check(sorted(short(x["private_instance_id"]) for x in u) == ["multi-0", "multi-1", "multi-2"]
      and all(x["uris"] == ["multi.example.com"] for x in u), "dea.update: the removed uri is unregistered for each instance")
check(sorted(short(x["private_instance_id"]) for x in r) == ["multi-0", "multi-1", "multi-2"]
      and all(x["uris"] == ["new.example.com"] for x in r), "dea.update: the new uri is registered for each instance")
PY
bus_wait "$mark" 0.3 router.register --eq app=envapp --none >/dev/null || dew_fail "dea.update of multi touched envapp"
dew_ok "dea.update of one app leaves the others' routes alone"
found=$(find_droplet '{"droplet": "multi", "indices": [0], "include_stats": true}')
dew_assert_eq "$(jget "$found" 'j["stats"]["uris"]')" '["new.example.com"]' "find.droplet shows the updated uris"

# ---- router.start: every running instance re-registered ----
mark=$(bus_mark)
bus_pub router.start '{"id": "router-x", "hosts": ["127.0.0.1"]}'
regs=$(bus_wait "$mark" 3 router.register --count 4 --all) || dew_fail "router.start: fewer than 4 router.register"
dew_assert_eq "$(ids private_instance_id <<<"$regs")" \
	"envapp-0 multi-0 multi-1 multi-2" "router.start: every routed RUNNING instance is registered again (not the worker)"

# ---- healthmanager.start: a full heartbeat at once, each time ----
# The timer (200 ms) gives at most 10 heartbeats in 2 s: 20 means each request got its own.
mark=$(bus_mark)
python3 - "$bus_PORT" <<'PY'
import sys
sys.path.insert(0, __import__("os").environ["top_srcdir"] + "/tests/lib")
from natsclient import Nats
n = Nats(int(sys.argv[1]))
for _ in range(20):
    n.pub("healthmanager.start", "{}")
n.sync()
PY
hbs=$(bus_wait "$mark" 2 dea.heartbeat --eq dea=dea1 --count 20) || dew_fail "healthmanager.start: no heartbeat for each request"
dew_ok "healthmanager.start: a heartbeat for each of 20 requests within 2 s"
dew_assert_eq "$(jget "$(tail -n1 <<<"$hbs")" '" ".join(sorted(short(d["instance"]) + ":" + d["state"] for d in j["droplets"]))')" \
	"badsha-0:CRASHED envapp-0:RUNNING multi-0:RUNNING multi-1:RUNNING multi-2:RUNNING worker-0:RUNNING" \
	"the heartbeat is full: every instance with its state"

# ---- dea.stop: filters ANDed, by index, by instance id, by version ----
# stopped ID MARK: droplet.exited STOPPED, router.unregister, container and directory gone.
stopped() {
	local id=$1 mark=$2 ex
	ex=$(bus_wait "$mark" 10 droplet.exited --eq instance="$id") || dew_fail "no droplet.exited for $id"
	dew_assert_eq "$(jget "$ex" '[j["reason"], j["droplet"], j["dea"]]')" '["STOPPED", "multi", "dea1"]' \
		"$id: droplet.exited STOPPED"
	bus_wait "$mark" 5 router.unregister --eq private_instance_id="$id" >/dev/null ||
		dew_fail "no router.unregister for $id"
	dew_ok "$id: router.unregister"
	wait_no_container "$id" 10 || dew_fail "the container of $id is still there: $(containers)"
	dew_ok "$id: its container is gone"
	local deadline=$((SECONDS + 10))
	while [ -e "$T/dea-base/instances/$id" ]; do
		[ $SECONDS -lt $deadline ] || dew_fail "the directory of $id is still there"
		sleep 0.05
	done
	dew_ok "$id: its instance directory is removed"
}
mark=$(bus_mark)
reply=$(bus_request dea.stop '{"droplet": "multi", "version": "v1", "indices": [2]}' 2 1)
dew_assert_eq "$(jget "$reply" 'j["stopping"]')" 0 "dea.stop: version v1 AND index 2 matches nothing"
reply=$(bus_request dea.stop '{"droplet": "multi", "indices": [1]}' 2 1)
dew_assert_eq "$(jget "$reply" 'j["stopping"]')" 1 "dea.stop by index 1: one instance stopping"
stopped "multi-1-$R" "$mark"
bus_wait "$mark" 0.5 droplet.exited --expr "m['instance'] != 'multi-1-$R'" --none >/dev/null ||
	dew_fail "dea.stop by index stopped another instance"
dew_assert_eq "$(find_ids '{"droplet": "multi"}')" "multi-0 multi-2" "only multi-1 stopped"
mark=$(bus_mark)
bus_pub dea.stop "{\"droplet\": \"multi\", \"instances\": [\"multi-0-$R\"]}"
stopped "multi-0-$R" "$mark"
mark=$(bus_mark)
bus_pub dea.stop '{"droplet": "multi", "version": "v2"}'
stopped "multi-2-$R" "$mark"
dew_assert_eq "$(find_ids '{"droplet": "multi"}')" "" "no instance of multi is left"
bus_wait "$mark" 5 dea.advertise --eq id=dea1 --eq available_memory=768 --expr "'multi' not in m['app_id_to_count']" >/dev/null ||
	dew_fail "dea.advertise did not give the memory of multi back"
dew_ok "dea.advertise: the stopped instances' memory is available again (768 MB)"

# ---- the end: SIGTERM stops the rest (DEA_SHUTDOWN) and removes everything ----
mark=$(bus_mark)
dew_stop "$dea_PID" 15
dew_assert_eq "$?" 0 "SIGTERM: dew-dea exits 0"
for id in "$ENV" "worker-0-$R"; do
	ex=$(bus_wait "$mark" 5 droplet.exited --eq instance="$id") || dew_fail "no droplet.exited for $id at shutdown"
	dew_assert_eq "$(jget "$ex" 'j["reason"]')" DEA_SHUTDOWN "$id: droplet.exited DEA_SHUTDOWN"
done
dew_assert_eq "$(containers | tr '\n' ' ')" "" "no container is left"
dew_assert_eq "$(ls "$T/dea-base/instances")" "" "no instance directory is left (crash records included)"
bus_wait 0 0 router.register --eq app=worker --none >/dev/null || dew_fail "the worker was routed"
dew_ok "the worker (no uris) was never routed"
dew_pass
