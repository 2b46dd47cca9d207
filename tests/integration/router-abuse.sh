#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-router against hostile input (issue #9): the request smuggling shapes and malformed heads
# each get their 4xx and the next request on a new connection works; oversized heads get 431 or
# 414; a slowloris client is cut off by the header timeout; pipelined requests are answered in
# order; garbage on router.register is counted and dropped.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init router-abuse 120
. "$top_srcdir/tests/lib/router-lib.sh"

rt_start --header-timeout 1s --max-header-bytes 4K --max-headers 20 --max-request-line 1024
rt_backend be1
rt_register "$be1_PORT" '["app.example.com"]'

cat >"$T/corpus.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
H = b"Host: app.example.com\r\n"

def exchange(data, wait=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    s.sendall(data)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out

corpus = [
    ("CL and TE", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("conflicting Content-Lengths", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    ("Content-Length list", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!", 400),
    ("negative Content-Length", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", 400),
    ("TE not chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n", 400),
    ("TE chunked twice", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
    ("TE with a space before the colon", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n", 400),
    ("invalid chunk size", b"POST /upload HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size with a sign", b"POST /upload HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk without its CRLF", b"POST /upload HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", 400),
    ("bare LF", b"GET / HTTP/1.1\n" + H + b"\r\n", 400),
    ("bare CR", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400),
    ("NUL in a value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    ("two Host fields", b"GET / HTTP/1.1\r\n" + H + H + b"\r\n", 400),
    ("no Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("bad version", b"GET / HTTP/1.x\r\n" + H + b"\r\n", 400),
    ("CONNECT", b"CONNECT app.example.com:443 HTTP/1.1\r\n" + H + b"\r\n", 405),
    ("oversized header", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 5000 + b"\r\n\r\n", 431),
    ("too many headers", b"GET / HTTP/1.1\r\n" + H + b"".join(b"X-%d: v\r\n" % i for i in range(30)) + b"\r\n", 431),
    ("long request line", b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
]
good = b"GET /ok HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
failed = 0
for name, data, want in corpus:
    out = exchange(data)
    status = int(out[9:12]) if out.startswith(b"HTTP/1.1 ") else 0
    ok = status == want and b"Connection: close" in out
    after = exchange(good)
    ok_after = after.startswith(b"HTTP/1.1 200")
    print("%s %s: %d (want %d), connection closed; next request %s" % (
        "ok" if ok and ok_after else "not_ok", name, status, want, after[:12].decode("latin-1")))
    failed += not (ok and ok_after)

# Pipelining: two requests in one write, answered in order on one connection.
out = exchange(b"GET /p1 HTTP/1.1\r\n" + H + b"\r\nGET /p2 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
ok = out.count(b"HTTP/1.1 200") == 2 and out.index(b'"/p1"') < out.index(b'"/p2"')
print("%s two pipelined requests answered in order" % ("ok" if ok else "not_ok"))
failed += not ok

# Slowloris: a head trickling in is cut off by the header timeout (1 s) with 408.
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\n" + H)
out = b""
for i in range(60):
    try:
        s.sendall(b"X-%d: v\r\n" % i)
    except OSError:
        break
    s.settimeout(0.25)
    try:
        d = s.recv(65536)
        if not d:
            break
        out += d
    except socket.timeout:
        pass
ok = out.startswith(b"HTTP/1.1 408")
print("%s slowloris: a trickling head gets 408 and the connection ends (%r)" % ("ok" if ok else "not_ok", out[:12]))
failed += not ok
sys.exit(1 if failed else 0)
PY
python3 "$T/corpus.py" "$router_PORT" >"$T/corpus.out" 2>&1
rc=$?
while read -r status rest; do
	[ "$status" = ok ] && dew_ok "$rest" || { cat "$T/corpus.out" >&2; dew_fail "$rest"; }
done <"$T/corpus.out"
[ $rc = 0 ] || dew_fail "corpus: $(cat "$T/corpus.out")"

# Garbage on the bus is counted and dropped; the router keeps routing.
for junk in 'not json' '[]' '{"host":"127.0.0.1"}' '{"host":"example.com","port":80,"uris":["x.com"]}' \
	'{"host":"127.0.0.1","port":80,"uris":["x.com"],"app":"a\r\nX: y"}' "{\"host\":\"127.0.0.1\",\"port\":1,\"uris\":[\"$(head -c 3000 /dev/zero | tr '\0' a).com\"]}"; do
	rt_pub router.register "$junk"
	rt_pub router.unregister "$junk"
done
rt_register "$be1_PORT" '["after-junk.example.com"]'
n=$(rt_metric dew_router_bad_messages_total)
[ "$n" -ge 12 ] || dew_fail "bad messages counted: $n"
dew_ok "12 malformed bus messages counted and dropped ($n)"
rt_get out after-junk.example.com /
dew_assert_eq "$DEW_HTTP_STATUS" 200 "the router still routes"
kill -0 "$router_PID" || dew_fail "the router died"
dew_pass
