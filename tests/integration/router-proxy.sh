#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-router's routing and proxying (DESIGN.md section 5.1, issue #9): routes fed by the bus
# (register, unregister, wildcards, path prefixes, pruning, router.start and router.greet), the
# headers it adds and strips, errors with X-Cf-Routererror, keep-alive on both sides, round-robin
# and least-connection, sticky sessions, retries and benching. Backends are tests/lib/router-backend.py.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init router-proxy 180
. "$top_srcdir/tests/lib/router-lib.sh"

rt_start --prune-interval 100ms --bench-time 30s
for b in be1 be2 be3; do rt_backend $b; done

# ---- routing ------------------------------------------------------------------------------
rt_register "$be1_PORT" '["App.Example.com"]' inst-1
rt_register "$be2_PORT" '["app.example.com/api/v1"]' inst-2
rt_register "$be3_PORT" '["*.wild.example.com"]' inst-3
rt_get out APP.example.com:80 /index
dew_assert_eq "$DEW_HTTP_STATUS" 200 "a registered host answers (any case, port ignored)"
dew_assert_eq "$(rt_json "$out" 'j["name"]')" be1 "the host goes to its backend"
rt_get out app.example.com /api/v1/users
dew_assert_eq "$(rt_json "$out" 'j["name"]')" be2 "the longest path prefix wins"
rt_get out app.example.com /api/v10
dew_assert_eq "$(rt_json "$out" 'j["name"]')" be1 "prefixes match whole segments"
rt_get out a.b.wild.example.com /
dew_assert_eq "$(rt_json "$out" 'j["name"]')" be3 "a wildcard host"
rt_get out nothing.example.com / -D "$T/h"
dew_assert_eq "$DEW_HTTP_STATUS" 404 "an unknown host: 404"
dew_assert_contains "$(cat "$T/h")" "X-Cf-Routererror: unknown_route" "404 says unknown_route"
dew_assert_contains "$out" "Requested route ('nothing.example.com') does not exist." "404 body names the host"
out=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --http1.0 -H 'Host:' "http://127.0.0.1:$router_PORT/")
dew_assert_eq "$out" 400 "an empty Host: 400"
out=$(printf 'GET / HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n' | python3 -c '
import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read())
d=b""
while True:
    x=s.recv(65536)
    if not x: break
    d+=x
print(d.decode())' "$router_PORT")
dew_assert_contains "$out" "X-Cf-Routererror: empty_host" "empty Host says empty_host"
# Absolute-form targets are routed by their own host: the router is not an open proxy.
out=$(curl -sS --max-time 5 -x "http://127.0.0.1:$router_PORT" http://app.example.com/abs)
dew_assert_eq "$(rt_json "$out" 'j["name"] + " " + j["target"]')" "be1 /abs" "absolute form routed by its host, origin-form sent on"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$router_PORT" "http://127.0.0.1:$be1_PORT/")
dew_assert_eq "$code" 404 "an absolute URL naming a backend address directly is not proxied"

# ---- headers --------------------------------------------------------------------------------
rt_get out app.example.com /h -D "$T/h" -H 'X-Forwarded-For: 10.1.1.1' -H 'X-CF-InstanceID: forged' \
	-H 'X-Vcap-Request-Id: forged' -H 'Connection: keep-alive, X-Private' -H 'X-Private: secret' -H 'Keep-Alive: 300'
hdr() { rt_json "$out" "[v for k, v in j['headers'] if k.lower() == '$1']"; }
dew_assert_eq "$(hdr x-forwarded-for)" '["10.1.1.1, 127.0.0.1"]' "X-Forwarded-For: the client address appended"
dew_assert_eq "$(hdr x-forwarded-proto)" '["http"]' "X-Forwarded-Proto set when absent"
dew_assert_eq "$(hdr x-cf-instanceid)" '["inst-1"]' "X-CF-InstanceID replaced, not duplicated"
dew_assert_eq "$(hdr x-cf-applicationid)" '["app-1"]' "X-CF-ApplicationID"
dew_assert_eq "$(hdr x-cf-instanceindex)" '["0"]' "X-CF-InstanceIndex"
dew_assert_eq "$(rt_json "$out" "len([1 for k, v in j['headers'] if k.lower() == 'x-request-start' and v.isdigit() and len(v) == 13])")" 1 "X-Request-Start in Unix milliseconds"
rid=$(hdr x-vcap-request-id)
dew_assert_not_contains "$rid" forged "X-Vcap-Request-Id is the router's own"
dew_assert_contains "$(tr -d '\r' <"$T/h")" "X-Vcap-Request-Id: $(rt_json "$rid" 'j[0]')" "the request id is echoed on the response"
dew_assert_eq "$(hdr x-private)$(hdr keep-alive)$(hdr connection)" "[][][]" "hop-by-hop request fields stripped"
dew_assert_not_contains "$(cat "$T/h")" "X-Hop" "hop-by-hop response fields stripped"

# ---- keep-alive on both sides ---------------------------------------------------------------
c0=$(rt_json "$(curl -sS "http://127.0.0.1:$be1_PORT/_stats")" 'j["connections"]')
urls=()
for i in $(seq 20); do urls+=("http://127.0.0.1:$router_PORT/ka$i"); done
curl -sS --max-time 10 -H 'Host: app.example.com' -w '%{num_connects}\n' -o /dev/null "${urls[@]}" >"$T/nc"
dew_assert_eq "$(awk '{ s += $1 } END { print s }' "$T/nc")" 1 "20 requests from one client use one client connection"
c1=$(rt_json "$(curl -sS "http://127.0.0.1:$be1_PORT/_stats")" 'j["connections"]')
dew_assert_eq "$((c1 - c0))" 1 "… and at most one new backend connection (pooled; the stats call is one more)"
[ "$(rt_metric dew_router_backend_reuses_total)" -ge 19 ] || dew_fail "backend reuses: $(rt_metric dew_router_backend_reuses_total)"
dew_ok "the pool is reused (dew_router_backend_reuses_total)"

# ---- round-robin, least-connection ----------------------------------------------------------
for b in be1 be2 be3; do
	port_var=${b}_PORT
	rt_register "${!port_var}" '["rr.example.com"]' "rr-$b"
done
for i in $(seq 30); do rt_get out rr.example.com /rr; rt_json "$out" 'j["name"]'; done | sort | uniq -c | awk '{ print $1 }' | sort -u >"$T/rr"
dew_assert_eq "$(cat "$T/rr")" 10 "round-robin over 3 backends: 10 requests each"
# Least-connection: be1 is busy with a slow request, so the next requests avoid it.
for b in be1 be2; do
	port_var=${b}_PORT
	rt_register "${!port_var}" '["lc.example.com"]' "rr-$b" '"options":{"loadbalancing":"least-connection"}'
done
curl -sS --max-time 10 -o /dev/null -H 'Host: lc.example.com' "http://127.0.0.1:$router_PORT/slow?ms=1500" &
slow=$!
rt_wait_routes "any(e['in_flight'] == 1 for e in j['lc.example.com'])"
busy=$(rt_routes | python3 -c 'import json,sys; print([e["address"] for e in json.load(sys.stdin)["lc.example.com"] if e["in_flight"]][0])')
for i in 1 2 3 4; do rt_get out lc.example.com /lc; rt_json "$out" 'j["name"]'; done | sort -u >"$T/lc"
[ "$busy" = "127.0.0.1:$be1_PORT" ] && idle=be2 || idle=be1
dew_assert_eq "$(cat "$T/lc")" "$idle" "least-connection sends new requests to the idle backend"
wait "$slow"

# ---- sticky sessions ------------------------------------------------------------------------
rt_get out rr.example.com /cookie -D "$T/h"
first=$out
dew_assert_contains "$(tr -d '\r' <"$T/h")" "Set-Cookie: __VCAP_ID__=rr-$first; Path=/; HttpOnly; Secure; SameSite=Strict" "__VCAP_ID__ set next to JSESSIONID"
for i in 1 2 3 4 5; do rt_get out rr.example.com /who -b "JSESSIONID=abc; __VCAP_ID__=rr-$first"; rt_json "$out" 'j["name"]'; done | sort -u >"$T/st"
dew_assert_eq "$(cat "$T/st")" "$first" "requests with __VCAP_ID__ go to that instance"

# ---- retries and benching -------------------------------------------------------------------
dead=$(dew_free_port)
rt_register "$be1_PORT" '["retry.example.com"]' live
rt_register "$dead" '["retry.example.com"]' dead
for i in 1 2 3 4; do rt_get out retry.example.com /r; echo "$DEW_HTTP_STATUS $(rt_json "$out" 'j["name"]')"; done | sort -u >"$T/rt"
dew_assert_eq "$(cat "$T/rt")" "200 be1" "a dead endpoint (connection refused) is retried on the live one"
rt_wait_routes "any(e['benched'] for e in j['retry.example.com'])"
dew_ok "the dead endpoint is benched"
[ "$(rt_metric dew_router_retries_total)" -ge 1 ] || dew_fail "no retry counted"
dew_ok "retries are counted"
rt_register "$be2_PORT" '["reset.example.com"]' reset
h0=$(rt_json "$(curl -sS "http://127.0.0.1:$be2_PORT/_stats")" 'j["hits"]')
rt_get out reset.example.com /reset -X POST -d 'payload' -D "$T/h"
dew_assert_eq "$DEW_HTTP_STATUS" 502 "a POST whose backend reset: 502"
dew_assert_contains "$(cat "$T/h")" "X-Cf-Routererror: endpoint_failure" "502 says endpoint_failure"
h1=$(rt_json "$(curl -sS "http://127.0.0.1:$be2_PORT/_stats")" 'j["hits"]')
dew_assert_eq "$((h1 - h0))" 2 "the POST reached the backend once (no retry; the other hit is /_stats)"
rt_pub router.register "$(rt_msg "$dead" '["only-dead.example.com"]' d2)"
rt_wait_routes "'only-dead.example.com' in j"
rt_get out only-dead.example.com / -D "$T/h"
dew_assert_eq "$DEW_HTTP_STATUS" 502 "only dead endpoints: 502"

# ---- unregister, no endpoints, pruning, router.start ----------------------------------------
rt_pub router.unregister "$(rt_msg "$be3_PORT" '["*.wild.example.com"]' inst-3)"
rt_wait_routes "'*.wild.example.com' not in j"
rt_get out x.wild.example.com /
dew_assert_eq "$DEW_HTTP_STATUS" 404 "unregistered: 404"
rt_pub router.register "$(rt_msg "$be3_PORT" '["short.example.com"]' s1 '"stale_threshold_in_seconds":1')"
rt_wait_routes "'short.example.com' in j"
rt_wait_routes "'short.example.com' not in j" 10
dew_ok "an endpoint with a 1 s stale threshold is pruned"
[ "$(rt_metric dew_router_pruned_total)" -ge 1 ] || dew_fail "pruned not counted"
dew_ok "pruning is counted"
out=$($RT_NATS request "$bus_PORT" router.greet '' --timeout 3)
dew_assert_eq "$(rt_json "$out" 'sorted(j)')" '["hosts", "id", "minimumRegisterIntervalInSeconds", "pruneThresholdInSeconds"]' "router.greet is answered like router.start"
dew_assert_eq "$(rt_json "$out" 'j["minimumRegisterIntervalInSeconds"], j["pruneThresholdInSeconds"]')" "(20, 120)" "the default intervals"
# A test registrant re-registers when it sees router.start; restart the router to trigger one.
$RT_NATS record "$bus_PORT" "$T/rec" >/dev/null 2>&1 &
DEW_PIDS+=("$!")
DEW_NAMES+=(recorder)
dew_wait_file "$T/rec.ready" 10 || dew_fail "recorder did not start"
cat >"$T/registrant.py" <<'PY'
import json, sys
from natsclient import Nats
n = Nats(int(sys.argv[1]))
n.sub("router.start")
n.sync()
open(sys.argv[3], "w").close()
m = n.first(20, lambda m: m[0] == "router.start")
if m:
    n.pub("router.register", sys.argv[2])
    n.sync()
PY
python3 "$T/registrant.py" "$bus_PORT" "$(rt_msg "$be3_PORT" '["restarted.example.com"]' re)" "$T/registrant.ready" &
registrant=$!
dew_wait_file "$T/registrant.ready" 10 || true
sleep 0.2
dew_stop "$router_PID"
dew_start_daemon router "$top_builddir/router/dew-router" --bus "nats://127.0.0.1:$bus_PORT" --routes-password "$RT_PASSWORD"
wait "$registrant"
rt_wait_routes "'restarted.example.com' in j"
dew_ok "router.start at boot makes a registrant register at once"
$RT_NATS wait "$T/rec" --subject router.start --expr 'len(m["id"]) == 36 and m["hosts"] == ["127.0.0.1"]' >/dev/null ||
	dew_fail "router.start payload"
dew_ok "router.start carries id and hosts"
dew_pass
