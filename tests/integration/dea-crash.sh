#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# How dew-dea reports instances that end by themselves (DESIGN.md section 5.1, droplet.exited):
# the OOM killer ("out of memory"), an exit status ("exited with status 3", with the last log
# lines), a health check that times out (an app that never listens), and a signal (the app
# killed with SIGKILL: "exited with status 137 (killed by SIGKILL)"). A crashed instance stays
# CRASHED for crash_retention with its directory, whose logs are readable through the file
# server with the token of dea.find.droplet (401 without one, 403 with another instance's).
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
dew_test_init dea-crash 120
dea_lib_init
dea_stage python
dea_start dea

mark=$(bus_mark)
# Four at once: each ends its own way.
HOG=hog-0-$R EXIT3=exit3-0-$R DEAF=deaf-0-$R VICTIM=victim-0-$R
starts=(
	"$HOG" '{"droplet": "hog", "memory": 64, "health_check": "none",
	  "start_command": "python3 -c \"b = bytearray(512 * 1024 * 1024); print(len(b))\""}'
	"$EXIT3" '{"droplet": "exit3", "health_check": "none",
	  "start_command": "echo on stdout; echo about to fail >&2; sleep 0.5; exit 3"}'
	"$DEAF" '{"droplet": "deaf", "uris": ["deaf.example.com"], "start_command": "exec sleep 1000"}'
	"$VICTIM" '{"droplet": "victim", "uris": ["victim.example.com"]}'
)
for ((i = 0; i < ${#starts[@]}; i += 2)); do
	reply=$(start_instance "${starts[i]}" "${starts[i + 1]}")
	[ "$(jget "$reply" '"port" in j')" = true ] || dew_fail "start refused: $reply"
done
dew_ok "four starts accepted"

# exited ID SECONDS: the droplet.exited of ID (CRASHED), after the mark.
exited() {
	local ex
	ex=$(bus_wait "$mark" "$2" droplet.exited --eq instance="$1") || dew_fail "no droplet.exited for $1"
	dew_assert_eq "$(jget "$ex" '[j["reason"], j["dea"], isinstance(j["crash_timestamp"], (int, float))]')" \
		'["CRASHED", "dea1", true]' "$1: droplet.exited CRASHED with a crash_timestamp"
	EXITED=$ex
}

# ---- out of memory ----
exited "$HOG" 20
dew_assert_eq "$(jget "$EXITED" 'j["exit_description"]')" "out of memory" "$HOG: exit_description \"out of memory\""
dew_assert_eq "$(metric dew_dea_oom_kills_total "$dea_STATUS_PORT")" 1 "/metrics counts the OOM kill"

# ---- an exit status, with its last log lines ----
exited "$EXIT3" 20
dew_assert_eq "$(jget "$EXITED" '[j["exit_status"], j["exit_description"]]')" '[3, "exited with status 3"]' \
	"$EXIT3: exit_status 3, \"exited with status 3\""
dew_assert_eq "$(jget "$EXITED" 'any(l.endswith("about to fail") for l in j["log_tail"])')" true \
	"$EXIT3: log_tail holds the line it printed on stderr"
dew_assert_eq "$(jget "$EXITED" 'any(l.endswith("on stdout") for l in j["log_tail"])')" true \
	"$EXIT3: log_tail holds the line it printed on stdout"
bus_wait "$mark" 5 logs.exit3 --eq source=DEA --expr "m['line'] == 'crashed: exited with status 3'" >/dev/null ||
	dew_fail "no DEA line about the crash on logs.exit3"
dew_ok "logs.exit3: the DEA says why it crashed"

# ---- a health check that times out ----
exited "$DEAF" 20
dew_assert_contains "$(jget "$EXITED" 'j["exit_description"]')" "health check timed out: " \
	"$DEAF: \"health check timed out\""
dew_assert_contains "$(jget "$EXITED" 'j["exit_description"]')" "within 3000 ms" "$DEAF: after --health-check-timeout"
bus_wait "$mark" 0 router.register --eq app=deaf --none >/dev/null || dew_fail "an app that never listened was routed"
dew_ok "$DEAF was never routed"
dew_assert_eq "$(metric dew_dea_health_timeouts_total "$dea_STATUS_PORT")" 1 "/metrics counts the health check timeout"

# ---- killed by a signal ----
wait_hb "$VICTIM" RUNNING 20 "$mark" || dew_fail "$VICTIM is not RUNNING"
bus_wait "$mark" 5 router.register --eq private_instance_id="$VICTIM" >/dev/null || dew_fail "$VICTIM not routed"
# (the wrapper's script spans several lines of ps: only lines that start with a pid count)
pid=$("${DEW_RUN[@]}" ps "$VICTIM" | awk '$1 ~ /^[0-9]+$/ && $2 == "python3" && $3 == "app.py" { print $1; exit }')
[ -n "$pid" ] || dew_fail "no app process in $VICTIM: $("${DEW_RUN[@]}" ps "$VICTIM")"
dew_ok "the app of $VICTIM runs as host pid $pid"
kmark=$(bus_mark)
kill -KILL "$pid"
exited "$VICTIM" 15
dew_assert_eq "$(jget "$EXITED" '[j["exit_status"], j["exit_description"]]')" \
	'[137, "exited with status 137 (killed by SIGKILL)"]' "$VICTIM: the signal is named"
bus_wait "$kmark" 5 router.unregister --eq private_instance_id="$VICTIM" >/dev/null ||
	dew_fail "no router.unregister for $VICTIM"
dew_ok "$VICTIM: router.unregister"
dew_assert_eq "$(metric dew_dea_crashes_total "$dea_STATUS_PORT")" 4 "/metrics counts four crashes"

# ---- crash records: heartbeats, find.droplet, no container, the directory kept ----
hb=$(bus_wait "$(bus_mark)" 5 dea.heartbeat --eq dea=dea1) || dew_fail "no heartbeat"
dew_assert_eq "$(jget "$hb" '" ".join(sorted(d["instance"] + ":" + d["state"] for d in j["droplets"]))')" \
	"$DEAF:CRASHED $EXIT3:CRASHED $HOG:CRASHED $VICTIM:CRASHED" "every crashed instance is heartbeated CRASHED"
dew_assert_eq "$(containers | tr '\n' ' ')" "" "no container is left"
for id in "$HOG" "$EXIT3" "$DEAF" "$VICTIM"; do
	[ -d "$T/dea-base/instances/$id/logs" ] || dew_fail "the directory of $id was not kept"
done
dew_ok "the crashed instances' directories are kept (crash_retention 1h)"
st=$(bus_request dea.status '{}' 2 1)
dew_assert_eq "$(jget "$st" '[j["reserved_memory"], j["instances_by_state"]]')" '[0, {"CRASHED": 4}]' \
	"dea.status: crashed instances hold no memory"

# ---- the file server, with find.droplet's token ----
found=$(bus_request dea.find.droplet '{"droplet": "exit3", "states": ["CRASHED"]}' 2 1)
dew_assert_eq "$(jget "$found" '[j["instance"], j["state"], j["exit_status"], j["exit_description"]]')" \
	"[\"$EXIT3\", \"CRASHED\", 3, \"exited with status 3\"]" "find.droplet: the crash record with its exit"
URI=$(jget "$found" 'j["file_uri"]')
TOKEN=$(jget "$found" 'j["file_token"]')
dew_assert_eq "$URI" "http://127.0.0.1:$dea_PORT/instances/$EXIT3/files/" "file_uri is on the DEA's main port"
other=$(bus_request dea.find.droplet '{"droplet": "hog"}' 2 1)
OTHER_TOKEN=$(jget "$other" 'j["file_token"]')

dew_http body "${URI}logs/stderr.log" -H "Authorization: Bearer $TOKEN"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "logs/stderr.log of the crashed instance: 200 with the token"
dew_assert_eq "$body" "about to fail" "logs/stderr.log holds what the app wrote"
dew_http body "${URI}logs/stdout.log?token=$TOKEN"
dew_assert_eq "$DEW_HTTP_STATUS $body" "200 on stdout" "logs/stdout.log with ?token="
dew_http body "${URI}logs/stderr.log?tail=5" -H "Authorization: Bearer $TOKEN"
dew_assert_eq "$DEW_HTTP_STATUS $body" "200 fail" "?tail=5: the last 5 bytes"
dew_http body "${URI}logs/stderr.log"
dew_assert_eq "$DEW_HTTP_STATUS" 401 "no token: 401"
dew_http body "${URI}logs/stderr.log" -H "Authorization: Bearer $OTHER_TOKEN"
dew_assert_eq "$DEW_HTTP_STATUS" 403 "another instance's token: 403"
dew_http body "${URI}logs/stderr.log" -H "Authorization: Bearer 1.${TOKEN#*.}"
dew_assert_eq "$DEW_HTTP_STATUS" 403 "a token with its expiry changed: 403"
dew_http body "$URI" -H "Authorization: Bearer $TOKEN"
dew_assert_eq "$(jget "$body" '[e["name"] + ":" + e["type"] for e in j["entries"]]')" '["app:dir", "logs:dir"]' \
	"the top of an instance lists app and logs"
dew_http body "${URI}logs" -H "Authorization: Bearer $TOKEN"
dew_assert_eq "$(jget "$body" '"stderr.log" in [e["name"] for e in j["entries"]]')" true "logs/ lists stderr.log"
dew_http body "${URI}app/app.py" -H "Authorization: Bearer $TOKEN"
dew_assert_contains "$DEW_HTTP_STATUS $body" "200 # SPDX-License-Identifier: MIT" "app/app.py is the droplet's file"
dew_http body "${URI}app/../../../etc/passwd" -H "Authorization: Bearer $TOKEN" --path-as-is
dew_assert_eq "$DEW_HTTP_STATUS" 400 "a .. in the path: 400"
dew_http body "${URI}droplet" -H "Authorization: Bearer $TOKEN"
dew_assert_eq "$DEW_HTTP_STATUS" 404 "only app and logs are served"
dew_http body "http://127.0.0.1:$dea_PORT/instances/nosuch/files/" -H "Authorization: Bearer $TOKEN"
dew_assert_eq "$DEW_HTTP_STATUS" 403 "a token for another (unknown) instance: 403"

# ---- SIGTERM: the crash records go too ----
dew_stop "$dea_PID" 15
dew_assert_eq "$?" 0 "SIGTERM: dew-dea exits 0"
dew_assert_eq "$(ls "$T/dea-base/instances")" "" "no instance directory is left"
dew_pass
