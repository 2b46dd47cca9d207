#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-router's operations (issue #9): the access log (gorouter's field order, every field
# checked by a strict parser, hostile values escaped so a line stays one line, flushed every
# second and at exit), and workers: two event loops on one port (SO_REUSEPORT), both taking
# connections, /metrics summed over them, router.greet answered once, the access log's lines
# never interleaved, and SIGUSR1 draining both.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init router-ops 180
. "$top_srcdir/tests/lib/router-lib.sh"

# raw PORT: send stdin as is on a new connection, print the answer.
raw() {
	python3 -c '
import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read())
d=b""
while True:
    x=s.recv(65536)
    if not x: break
    d+=x
sys.stdout.write(d.decode("latin-1"))' "$1"
}
alog() { python3 "$top_srcdir/tests/lib/router-accesslog.py" "$T/access.log"; }

# ---- access log -----------------------------------------------------------------------------
rt_start --access-log "$T/access.log"
rt_backend be1
rt_register "$be1_PORT" '["app.example.com"]' inst-ops
rt_get out app.example.com '/log/a?x=1' -D "$T/h" -A 'ops-test/1' -e 'http://ref.example/' \
	-H 'X-Forwarded-For: 10.9.9.9'
dew_assert_eq "$DEW_HTTP_STATUS" 200 "a request through the router"
rid=$(tr -d '\r' <"$T/h" | awk -F': ' 'tolower($1) == "x-vcap-request-id" { print $2 }')
rt_get out app.example.com /upload -X POST --data-binary 12345
dew_assert_eq "$out" '{"bytes": 5}' "a POST with a body"
rt_get out nothing.example.com /missing
dew_assert_eq "$DEW_HTTP_STATUS" 404 "an unknown route"
# Hostile values the parser lets through: quotes, backslashes, a tab and obs-text in a value,
# quotes in the target. A CR or LF inside a field never gets this far (400, not logged).
printf 'GET /q"uo\\te HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: a" "b\\\t\xffz\r\nX-Forwarded-Proto: x" y\r\nConnection: close\r\n\r\n' |
	raw "$router_PORT" >"$T/hostile"
dew_assert_contains "$(head -1 "$T/hostile")" "HTTP/1.1 200" "the hostile request is proxied"
out=$(printf 'GET / HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: a\nX-Evil: 1\r\n\r\n' | raw "$router_PORT")
dew_assert_contains "$out" "HTTP/1.1 400" "a bare LF in a field: 400"

# Flushed within a second or so, before any exit.
deadline=$((SECONDS + 5))
until [ "$(wc -l <"$T/access.log" 2>/dev/null || echo 0)" -ge 4 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "the access log was not flushed within 5 s: $(cat "$T/access.log")"
	sleep 0.1
done
dew_ok "the access log is flushed while the router runs"
log=$(alog) || dew_fail "the access log does not parse: $log"
dew_assert_eq "$(rt_json "$log" 'len(j)')" 4 "one line per proxied or refused-by-route request (the 400 of a malformed head is not one)"
row() { rt_json "$log" "j[$1]['$2']"; }
dew_assert_eq "$(row 0 host) $(row 0 request) $(row 0 status)" "app.example.com GET /log/a?x=1 HTTP/1.1 200" \
	"host, method, path and status"
dew_assert_eq "$(row 0 referer)|$(row 0 user_agent)|$(row 0 remote_addr)" "http://ref.example/|ops-test/1|127.0.0.1" \
	"referer, user agent, remote address"
dew_assert_eq "$(row 0 backend_addr)" "127.0.0.1:$be1_PORT" "the backend address"
dew_assert_eq "$(row 0 x_forwarded_for)|$(row 0 x_forwarded_proto)" "10.9.9.9, 127.0.0.1|http" \
	"x_forwarded_for as sent on, x_forwarded_proto"
dew_assert_eq "$(row 0 vcap_request_id)" "$rid" "vcap_request_id is the id echoed to the client"
[[ $rid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || dew_fail "request id shape: $rid"
dew_ok "the request id is shaped like a UUID v4"
dew_assert_eq "$(row 0 app_id) $(row 0 app_index) $(row 0 instance_id) $(row 0 x_cf_routererror)" \
	"app-1 0 inst-ops -" "app_id, app_index, instance_id; no router error"
rt_json "$log" 'j[0]["bytes_sent"]' | grep -qx '[1-9][0-9]*' || dew_fail "bytes_sent: $(row 0 bytes_sent)"
python3 -c 'import sys; t=float(sys.argv[1]); sys.exit(0 if 0 < t < 10 else 1)' "$(row 0 response_time)" ||
	dew_fail "response_time: $(row 0 response_time)"
dew_ok "bytes_sent and response_time are plausible"
dew_assert_eq "$(row 1 request) $(row 1 bytes_received)" "POST /upload HTTP/1.1 5" "bytes_received counts the body"
dew_assert_eq "$(row 2 status) $(row 2 backend_addr) $(row 2 x_cf_routererror) $(row 2 app_id)" \
	"404 - unknown_route -" "the router's own 404: no backend, its X-Cf-Routererror"
dew_assert_eq "$(row 3 request)" 'GET /q"uo\te HTTP/1.1' "a quote and a backslash in the target round-trip"
dew_assert_eq "$(rt_json "$log" 'j[3]["user_agent"] == "a\" \"b\\\t\xffz"')" True \
	"quote, backslash, tab and obs-text in the user agent round-trip"
dew_assert_eq "$(row 3 x_forwarded_proto)" 'x" y' "the client's X-Forwarded-Proto, escaped"

# And everything is written at exit.
rt_get out app.example.com /last
dew_stop "$router_PID"
log=$(alog) || dew_fail "the access log does not parse after exit: $log"
dew_assert_eq "$(rt_json "$log" 'j[-1]["request"]')" "GET /last HTTP/1.1" "the last request is written at exit"
dew_stop "$bus_PID"

# ---- workers --------------------------------------------------------------------------------
# conns N PATH [HEADERS]: N requests, each on a new connection (so the kernel picks a listener for
# each), 8 at a time; prints how many got a 200.
conns() {
	python3 - "$router_PORT" "$1" "$2" <<'PY'
import socket, sys, concurrent.futures as cf
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def one(i):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(("GET %s HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n" % path).encode())
    d = b""
    while True:
        x = s.recv(65536)
        if not x:
            break
        d += x
    s.close()
    return d.startswith(b"HTTP/1.1 200") and (b"slow done" in d or "slow" not in path)
with cf.ThreadPoolExecutor(8) as ex:
    print(sum(ex.map(one, range(n))))
PY
}
rt_start --workers 2 --access-log "$T/access2.log" --drain-wait 1s --drain-timeout 20s
dew_assert_eq "$(rt_metric dew_router_workers)" 2 "two workers"
rt_register "$be1_PORT" '["app.example.com"]' inst-w
# /routes shows worker 0's table; worker 1 hears the same message on its own connection.
deadline=$((SECONDS + 10))
until [ "$(conns 20 /w)" = 20 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "both workers never routed app.example.com"
	sleep 0.1
done
dew_assert_eq "$(conns 200 /w)" 200 "200 requests on 200 connections, all served"
w0=$(rt_metric 'dew_router_worker_connections_total{worker="0"}')
w1=$(rt_metric 'dew_router_worker_connections_total{worker="1"}')
[ "${w0:-0}" -gt 0 ] && [ "${w1:-0}" -gt 0 ] || dew_fail "connections by worker: $w0 and $w1"
dew_ok "both workers took connections ($w0 and $w1)"
dew_assert_eq "$(rt_metric dew_router_connections_total)" "$((w0 + w1))" "/metrics sums the workers' counters"
[ "$(rt_metric dew_router_requests_total)" -ge 220 ] || dew_fail "requests: $(rt_metric dew_router_requests_total)"
[ "$(rt_metric 'dew_router_responses_total{class="2xx"}')" -ge 220 ] || dew_fail "2xx: $(rt_metric 'dew_router_responses_total{class="2xx"}')"
[ "$(rt_metric dew_router_request_duration_seconds_count)" -ge 220 ] || dew_fail "histogram count"
dew_ok "requests, responses and the latency histogram summed over the workers"
dew_assert_eq "$(rt_metric dew_router_registrations_total)" 1 "a registration counted once, not once per worker"
out=$($RT_NATS request "$bus_PORT" router.greet '' --timeout 2 --count 5)
dew_assert_eq "$(printf '%s\n' "$out" | grep -c id)" 1 "router.greet is answered once"
deadline=$((SECONDS + 5))
until [ "$(wc -l <"$T/access2.log")" -ge 220 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "access log: $(wc -l <"$T/access2.log") lines"
	sleep 0.1
done
log=$(python3 "$top_srcdir/tests/lib/router-accesslog.py" "$T/access2.log") || dew_fail "two workers' access log does not parse: $log"
dew_ok "both workers' lines in one access log, none interleaved"

# Drain: requests in flight on both workers finish, /health fails at once, then neither worker
# accepts, and the process exits.
conns 8 '/slow?ms=2500' >"$T/slow" &
slow=$!
deadline=$((SECONDS + 10))
until [ "$(rt_metric dew_router_requests_in_flight)" = 8 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "8 slow requests never in flight: $(rt_metric dew_router_requests_in_flight)"
	sleep 0.05
done
kill -USR1 "$router_PID"
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$router_STATUS_PORT/health")
dew_assert_eq "$code" 503 "/health fails as soon as the drain starts"
sleep 1.5
refused=0
for i in $(seq 20); do
	curl -sS -o /dev/null --max-time 2 -H 'Host: app.example.com' "http://127.0.0.1:$router_PORT/" 2>/dev/null || refused=$((refused + 1))
done
dew_assert_eq "$refused" 20 "after drain_wait no worker accepts (20 new connections refused)"
wait "$slow"
dew_assert_eq "$(cat "$T/slow")" 8 "the 8 requests in flight complete during the drain"
dew_wait_exit "$router_PID" 20 || dew_fail "the router did not exit after the drain"
dew_ok "the router exits once every worker drained"
dew_pass
