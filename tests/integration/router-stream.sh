#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-router's streaming paths (issue #9): WebSocket echo through the router and a refused
# upgrade, Expect: 100-continue, 100 MB chunked uploads and downloads without the router's
# memory growing, the per-backend in-flight limit, and SIGUSR1 drain (/health fails first,
# requests in flight finish, new connections are refused only after drain_wait).
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init router-stream 240
. "$top_srcdir/tests/lib/router-lib.sh"

rt_start --max-conns-per-backend 1 --drain-wait 1s --drain-timeout 20s
rt_backend be1
rt_register "$be1_PORT" '["app.example.com"]'

# ---- WebSocket ------------------------------------------------------------------------------
cat >"$T/ws.py" <<'PY'
import base64, os, socket, struct, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET %s HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(65536)
    if not d:
        break
    buf += d
head, _, buf = buf.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode())
if not head.startswith(b"HTTP/1.1 101"):
    # A refused upgrade: the response, then the end of the connection.
    rest = buf
    while True:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    print("closed")
    sys.exit(0)
for msg in (b"hello", b"x" * 70000):
    mask = os.urandom(4)
    n = len(msg)
    hdr = b"\x81" + (bytes([0x80 | n]) if n < 126 else b"\xfe" + struct.pack(">H", n) if n < 65536 else b"\xff" + struct.pack(">Q", n))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
    def take(k):
        global buf
        while len(buf) < k:
            d = s.recv(65536)
            if not d:
                sys.exit("closed early")
            buf += d
        out, buf = buf[:k], buf[k:]
        return out
    b0, b1 = take(2)
    k = b1 & 127
    if k == 126:
        k = struct.unpack(">H", take(2))[0]
    elif k == 127:
        k = struct.unpack(">Q", take(8))[0]
    print("echo %d %s" % (k, take(k) == msg))
PY
out=$(python3 "$T/ws.py" "$router_PORT" /ws)
dew_assert_eq "$out" "$(printf 'HTTP/1.1 101 Switching Protocols\necho 5 True\necho 70000 True')" "WebSocket echo through the router (small and 70 kB frames)"
[ "$(rt_metric dew_router_websocket_upgrades_total)" = 1 ] || dew_fail "upgrades counted: $(rt_metric dew_router_websocket_upgrades_total)"
dew_ok "the upgrade is counted"
out=$(python3 "$T/ws.py" "$router_PORT" /not-ws)
dew_assert_eq "$out" "$(printf 'HTTP/1.1 200 OK\nclosed')" "a refused upgrade: the backend's answer, then the connection closes"

# ---- Expect: 100-continue -------------------------------------------------------------------
printf 'small body' >"$T/small"
curl -sS -v --max-time 10 -H 'Host: app.example.com' -H 'Expect: 100-continue' --data-binary @"$T/small" \
	"http://127.0.0.1:$router_PORT/upload" >"$T/out" 2>"$T/err"
dew_assert_contains "$(tr -d '\r' <"$T/err")" "< HTTP/1.1 100 Continue" "the backend's 100 Continue reaches the client"
dew_assert_eq "$(cat "$T/out")" '{"bytes": 10}' "and the body follows"

# ---- 100 MB both ways -----------------------------------------------------------------------
rss() { awk '/VmHWM/ { print $2 }' "/proc/$router_PID/status"; }
before=$(rss)
out=$(head -c 100000000 /dev/zero | curl -sS --max-time 120 -H 'Host: app.example.com' -T - "http://127.0.0.1:$router_PORT/upload")
dew_assert_eq "$out" '{"bytes": 100000000}' "a 100 MB chunked upload arrives whole"
size=$(curl -sS --max-time 120 -H 'Host: app.example.com' "http://127.0.0.1:$router_PORT/download?n=100000000" | wc -c)
dew_assert_eq "$size" 100000000 "a 100 MB chunked download arrives whole"
after=$(rss)
if dew_sanitized; then
	dew_skip_check "the RSS bound (grew $((after - before)) kB)" "ASan's quarantine keeps freed chunks resident" asan
else
	[ $((after - before)) -lt 16384 ] || dew_fail "the router's peak RSS grew by $((after - before)) kB (from $before kB)"
	dew_ok "peak RSS grew by $((after - before)) kB over 200 MB streamed (bound 16 MB)"
fi

# ---- per-backend in-flight limit ------------------------------------------------------------
curl -sS --max-time 10 -o "$T/slow1" -H 'Host: app.example.com' "http://127.0.0.1:$router_PORT/slow?ms=1500" &
slow=$!
rt_wait_routes "j['app.example.com'][0]['in_flight'] == 1"
rt_get out app.example.com / -D "$T/h"
dew_assert_eq "$DEW_HTTP_STATUS" 503 "a backend at its in-flight limit: 503"
dew_assert_contains "$(cat "$T/h")" "X-Cf-Routererror: Connection Limit Reached" "503 says Connection Limit Reached"
wait "$slow"
dew_assert_eq "$(cat "$T/slow1")" "slow done" "the request in flight was served"

# ---- drain ----------------------------------------------------------------------------------
curl -sS --max-time 20 -o "$T/slow2" -H 'Host: app.example.com' "http://127.0.0.1:$router_PORT/slow?ms=2500" &
slow=$!
rt_wait_routes "j['app.example.com'][0]['in_flight'] == 1"
kill -USR1 "$router_PID"
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$router_STATUS_PORT/health")
dew_assert_eq "$code" 503 "/health fails as soon as the drain starts"
for i in $(seq 100); do
	curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:$router_PORT/" 2>/dev/null || break
	sleep 0.05
done
wait "$slow"
dew_assert_eq "$(cat "$T/slow2")" "slow done" "the request in flight completes during the drain"
curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:$router_PORT/" 2>/dev/null && dew_fail "still accepting after drain_wait"
dew_ok "new connections are refused after drain_wait"
dew_wait_exit "$router_PID" 20 || dew_fail "the router did not exit after the drain"
dew_ok "the router exits once drained"
dew_pass
