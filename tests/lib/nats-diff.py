#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Differential NATS protocol test: send the same bytes to dew-bus and to a real nats-server and
compare what each answers (INFO lines normalised) and whether each closed the connection.

usage: nats-diff.py DEW_HOST:PORT NATS_HOST:PORT [CASESET]
CASESET is "plain" (default), "auth" (both servers need user u / password p, auth timeout 1 s),
"maxconn" (both servers allow one connection) or "ping" (both servers PING every second and give
up after two unanswered PINGs). Prints TAP; exits 1 on any difference.
"""
import re
import socket
import sys
import threading
import time

PLAIN = [
    ("ping", [b"PING\r\n"]),
    ("ping in lower case", [b"ping\r\n"]),
    ("bare LF line end", [b"PING\n"]),
    ("verbose connect acks every op", [b'CONNECT {"verbose":true}\r\n', b"SUB a 1\r\nPUB a 1\r\nx\r\nPING\r\n"]),
    ("pub/sub", [b"SUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n"]),
    ("tabs and runs of spaces separate fields", [b"SUB\tfoo  \t 7\r\nPUB foo\t\t2\r\nhi\r\nPING\r\n"]),
    ("reply subject", [b"SUB foo 1\r\nPUB foo bar 2\r\nhi\r\nPING\r\n"]),
    ("payload with CRLF inside", [b"SUB foo 1\r\nPUB foo 6\r\na\r\nb\r\n\r\nPING\r\n"]),
    ("empty payload", [b"SUB foo 1\r\nPUB foo 0\r\n\r\nPING\r\n"]),
    ("wildcard *", [b"SUB foo.* 1\r\nPUB foo.bar 1\r\nx\r\nPUB foo.bar.baz 1\r\ny\r\nPING\r\n"]),
    ("wildcard >", [b"SUB foo.> 1\r\nPUB foo 1\r\nx\r\nPUB foo.bar.baz 1\r\ny\r\nPING\r\n"]),
    ("split across writes", [b"SU", b"B foo 1\r\nPUB fo", b"o 5\r\nhel", b"lo\r", b"\nPING\r\n"]),
    ("unsub", [b"SUB foo 1\r\nUNSUB 1\r\nPUB foo 1\r\nx\r\nPING\r\n"]),
    ("unsub with max", [b"SUB foo 1\r\nUNSUB 1 2\r\n" + b"PUB foo 1\r\nx\r\n" * 3 + b"PING\r\n"]),
    ("unsub of an unknown sid", [b"UNSUB 99\r\nPING\r\n"]),
    ("duplicate sid", [b"SUB foo 1\r\nSUB bar 1\r\nPUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\nPING\r\n"]),
    ("queue group delivers once", [b"SUB foo q 1\r\nSUB foo q 2\r\nSUB foo 3\r\nPUB foo 1\r\nx\r\nPING\r\n"]),
    ("echo off", [b'CONNECT {"echo":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n']),
    ("headers", [b'CONNECT {"headers":true}\r\nSUB foo 1\r\nHPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\nPING\r\n']),
    ("headers to a client without header support", [b"SUB foo 1\r\nHPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\nPING\r\n"]),
    ("no_responders", [b'CONNECT {"headers":true,"no_responders":true}\r\nSUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\nPING\r\n']),
    ("no_responders needs headers", [b'CONNECT {"no_responders":true}\r\nSUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\nPING\r\n']),
    ("unknown operation", [b"FOO\r\n"]),
    ("garbage bytes", [b"\x00\xff\x13garbage\r\n"]),
    ("MSG from a client", [b"MSG foo 1 1\r\nx\r\n"]),
    ("INFO from a client", [b"INFO {}\r\nPING\r\n"]),
    ("control line over 4096 bytes", [b"PUB " + b"a" * 5000 + b" 1\r\nx\r\n"]),
    ("control line over the limit without CRLF", [b"SUB " + b"b" * 8000]),
    ("payload over max_payload", [b"PUB foo 2000000\r\n"]),
    ("payload longer than announced", [b"PUB foo 3\r\nabcdef\r\nPING\r\n"]),
    ("invalid subject on SUB", [b"SUB foo..bar 1\r\nPING\r\n"]),
    ("SUB with a leading dot", [b"SUB .foo 1\r\nPING\r\n"]),
    ("> not last", [b"SUB foo.>.bar 1\r\nPING\r\n"]),
    ("wildcard publish, not pedantic", [b"SUB foo.* 1\r\nPUB foo.* 1\r\nx\r\nPING\r\n"]),
    ("wildcard publish, pedantic", [b'CONNECT {"pedantic":true}\r\nPUB foo.* 1\r\nx\r\nPING\r\n']),
    ("PUB without size", [b"PUB foo\r\n"]),
    ("PUB with a non-numeric size", [b"PUB foo bar\r\n"]),
    ("SUB without sid", [b"SUB foo\r\n"]),
    ("UNSUB without sid", [b"UNSUB\r\n"]),
    ("HPUB header size over total", [b'CONNECT {"headers":true}\r\nHPUB foo 10 5\r\n']),
    ("CONNECT with bad JSON", [b"CONNECT {nope\r\n"]),
    ("PONG is accepted", [b"PONG\r\nPING\r\n"]),
]

AUTH = [
    ("op before CONNECT", [b"PING\r\n"]),
    ("wrong password", [b'CONNECT {"user":"u","pass":"bad"}\r\nPING\r\n']),
    ("missing credentials", [b"CONNECT {}\r\nPING\r\n"]),
    ("right password", [b'CONNECT {"user":"u","pass":"p"}\r\nPING\r\n']),
    ("authentication timeout", [b""], 2.5),
]

MAXCONN = [("second connection over max_connections", None)]

# (name, bytes sent after INFO, how the client treats the server's PINGs, seconds to listen).
# Server PINGs come on a timer, so only the bytes are compared, never their timing.
PING = [
    ("silent client after CONNECT goes stale", b'CONNECT {"verbose":false}\r\n', "ignore", 5.0),
    ("silent client without CONNECT goes stale", b"", "ignore", 5.0),
    ("client answering every PING stays connected", b'CONNECT {"verbose":false}\r\n', "answer", 3.5),
    ("answering one PING resets the count", b'CONNECT {"verbose":false}\r\n', "answer-first", 6.5),
]


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def read_until_quiet(sock, quiet):
    """Collect bytes until nothing arrives for `quiet` seconds; report whether the peer closed."""
    data = b""
    sock.settimeout(quiet)
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def read_info_line(sock):
    """Read the server's INFO line byte-wise, so nothing after it is buffered behind our back."""
    line = b""
    while not line.endswith(b"\r\n"):
        b = sock.recv(1)
        if not b:
            return None
        line += b
    return line


def run_case_raw(server, chunks, wait):
    """Like run_case but reads the INFO line byte-wise so nothing is buffered behind our back."""
    sock = socket.create_connection(addr(server), timeout=5)
    try:
        if not read_info_line(sock):
            return b"closed before INFO", True
        for c in chunks:
            if c:
                sock.sendall(c)
            time.sleep(0.02)
        return read_until_quiet(sock, wait)
    finally:
        sock.close()


def normalise(name, data):
    # Queue-group members are picked at random: the sid chosen may differ.
    if name.startswith("queue group"):
        data = re.sub(rb"MSG foo [12] 1", b"MSG foo <q> 1", data)
    return data


def run_ping_case(server, sent, mode, listen):
    """Listen for `listen` seconds (or until the server closes), answering PINGs as `mode` says;
    an "answer" client then checks it is still served with a PING of its own."""
    sock = socket.create_connection(addr(server), timeout=5)
    try:
        if not read_info_line(sock):
            return b"closed before INFO", True
        if sent:
            sock.sendall(sent)
        data, answered = b"", 0
        deadline = time.monotonic() + listen
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(min(left, 0.5))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
            pings = data.count(b"PING\r\n")
            want = pings if mode == "answer" else min(pings, 1) if mode == "answer-first" else 0
            if want > answered:
                sock.sendall(b"PONG\r\n" * (want - answered))
                answered = want
        if mode != "answer":
            return data, False
        sock.sendall(b"PING\r\n")
        sock.settimeout(2)
        while not data.endswith(b"PONG\r\n"):
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return data, True
            if not chunk:
                return data, True
            data += chunk
        return data, False
    finally:
        sock.close()


def ping_caseset(dew, nats):
    """Every case against both servers at once: each takes seconds of waiting for timers."""
    got = {}

    def run(key, server, case):
        try:
            got[key] = run_ping_case(server, case[1], case[2], case[3])
        except OSError as e:
            got[key] = (f"error: {e}".encode(), None)

    threads = [threading.Thread(target=run, args=((i, s), srv, case))
               for i, case in enumerate(PING) for s, srv in enumerate((dew, nats))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    n = failed = 0
    for i, case in enumerate(PING):
        d, r = got.get((i, 0), (b"no result", None)), got.get((i, 1), (b"no result", None))
        if case[2] == "answer":
            # How many PINGs fit in the window depends on timer phase: compare runs of them.
            d = (re.sub(rb"(PING\r\n)+", b"PING\r\n...", d[0]), d[1])
            r = (re.sub(rb"(PING\r\n)+", b"PING\r\n...", r[0]), r[1])
        n += 1
        ok = d == r
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {n} - ping: {case[0]}")
        if not ok:
            print(f"#   dew-bus:     {d[0]!r} closed={d[1]}")
            print(f"#   nats-server: {r[0]!r} closed={r[1]}")
    return n, failed


def info_keys(server):
    sock = socket.create_connection(addr(server), timeout=5)
    line = read_info_line(sock) or b"INFO {}\r\n"
    sock.close()
    import json
    return line, json.loads(line[5:].strip())


def main():
    dew, nats = sys.argv[1], sys.argv[2]
    caseset = sys.argv[3] if len(sys.argv) > 3 else "plain"
    n = failed = 0

    if caseset == "maxconn":
        results = []
        for server in (dew, nats):
            keep = socket.create_connection(addr(server), timeout=5)
            keep.recv(4096)
            # Both servers close this connection; the long quiet time only matters on a loaded
            # machine, where nats-server may take over half a second to send its -ERR.
            out, closed = run_case_raw(server, [], 3.0)
            keep.close()
            results.append((out, closed))
        n += 1
        ok = results[0] == results[1]
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {n} - maxconn: second connection over max_connections")
        if not ok:
            print(f"#   dew-bus:     {results[0]!r}\n#   nats-server: {results[1]!r}")
        print(f"1..{n}")
        return 1 if failed else 0

    if caseset == "ping":
        n, failed = ping_caseset(dew, nats)
        print(f"1..{n}")
        return 1 if failed else 0

    if caseset == "plain":
        dline, dinfo = info_keys(dew)
        nline, ninfo = info_keys(nats)
        for key in ("server_id", "version", "proto", "headers", "max_payload", "client_id", "client_ip", "host", "port"):
            n += 1
            ok = key in dinfo
            failed += not ok
            print(f"{'ok' if ok else 'not ok'} {n} - INFO has `{key}` (nats-server: {key in ninfo})")
        n += 1
        ok = dline.endswith(b"} \r\n") == nline.endswith(b"} \r\n")
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {n} - INFO line ends like nats-server's")

    cases = {"plain": PLAIN, "auth": AUTH}[caseset]
    for case in cases:
        name, chunks = case[0], case[1]
        wait = case[2] if len(case) > 2 else 0.4
        got = [run_case_raw(s, chunks, wait) for s in (dew, nats)]
        d = (normalise(name, got[0][0]), got[0][1])
        r = (normalise(name, got[1][0]), got[1][1])
        n += 1
        ok = d == r
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {n} - {caseset}: {name}")
        if not ok:
            print(f"#   dew-bus:     {d[0]!r} closed={d[1]}")
            print(f"#   nats-server: {r[0]!r} closed={r[1]}")
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
