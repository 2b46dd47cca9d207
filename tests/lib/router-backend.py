#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A test backend for tests/integration/router-*.sh: a raw-socket HTTP/1.1 server (keep-alive,
chunked, 100-continue, WebSocket) that reports what it received, so the tests can see what the
router forwarded and how many connections it opened.

usage: router-backend.py NAME PORT_FILE
Paths:
  /_stats             {"name", "connections", "hits"} (connections accepted, requests served)
  /reset              read the request, then reset the connection without answering
  /upload             read the body (any framing), answer {"bytes": n}
  /download?n=N       a chunked body of N bytes
  /cookie             sets JSESSIONID (Secure, SameSite=Strict)
  /slow?ms=M          answer after M milliseconds
  /ws                 WebSocket handshake, then echo every frame
  anything else       {"name", "method", "target", "headers": [[k, v]…], "conn"} as JSON
"""
import base64
import hashlib
import json
import socket
import struct
import sys
import threading
import time

NAME, PORT_FILE = sys.argv[1], sys.argv[2]
stats = {"connections": 0, "hits": 0}
lock = threading.Lock()


class Conn:
    def __init__(self, s):
        self.s, self.buf = s, b""

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        h, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = h.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        headers = [tuple(x.split(": ", 1)) for x in lines[1:]]
        return method, target, version, headers

    def body_chunks(self, headers):
        """Yield the body in pieces, whatever the framing."""
        hd = {k.lower(): v for k, v in headers}
        if hd.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    return
                while size:
                    if not self.buf:
                        self.fill()
                    piece = self.buf[:size]
                    self.buf = self.buf[len(piece):]
                    size -= len(piece)
                    yield piece
                self.take(2)
        else:
            n = int(hd.get("content-length", "0"))
            while n:
                if not self.buf:
                    self.fill()
                piece = self.buf[:n]
                self.buf = self.buf[len(piece):]
                n -= len(piece)
                yield piece


def send(s, status, body, extra=()):
    head = "HTTP/1.1 %s\r\nContent-Length: %d\r\n" % (status, len(body))
    for k, v in extra:
        head += "%s: %s\r\n" % (k, v)
    s.sendall(head.encode() + b"\r\n" + body)


def websocket(c, headers):
    hd = {k.lower(): v for k, v in headers}
    key = hd["sec-websocket-key"]
    acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    c.s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + acc + b"\r\n\r\n")
    while True:
        b0, b1 = c.take(2)
        n = b1 & 127
        if n == 126:
            n = struct.unpack(">H", c.take(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", c.take(8))[0]
        mask = c.take(4) if b1 & 128 else b"\0\0\0\0"
        data = bytes(x ^ mask[i % 4] for i, x in enumerate(c.take(n)))
        if b0 & 15 == 8:
            c.s.sendall(b"\x88\x00")
            return
        if n < 126:
            size = bytes([n])
        elif n < 65536:
            size = b"\x7e" + struct.pack(">H", n)
        else:
            size = b"\x7f" + struct.pack(">Q", n)
        hdr = bytes([0x80 | (b0 & 15)]) + size
        c.s.sendall(hdr + data)


def serve(s, number):
    c = Conn(s)
    try:
        while True:
            method, target, version, headers = c.head()
            with lock:
                stats["hits"] += 1
            hd = {k.lower(): v for k, v in headers}
            path = target.split("?")[0]
            if hd.get("expect", "").lower() == "100-continue":
                s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if path == "/ws":
                websocket(c, headers)
                return
            if path == "/reset":
                for _ in c.body_chunks(headers):
                    pass
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                return
            if path == "/upload":
                n = sum(len(p) for p in c.body_chunks(headers))
                send(s, "200 OK", json.dumps({"bytes": n}).encode())
                continue
            for _ in c.body_chunks(headers):
                pass
            if path == "/download":
                n = int(target.split("n=")[1])
                s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                block = b"x" * 65536
                while n:
                    k = min(n, len(block))
                    s.sendall(b"%x\r\n" % k + block[:k] + b"\r\n")
                    n -= k
                s.sendall(b"0\r\n\r\n")
            elif path == "/_stats":
                with lock:
                    send(s, "200 OK", json.dumps(dict(stats, name=NAME)).encode())
            elif path == "/cookie":
                send(s, "200 OK", NAME.encode(), [("Set-Cookie", "JSESSIONID=abc; Path=/; Secure; SameSite=Strict")])
            elif path == "/slow":
                time.sleep(int(target.split("ms=")[1]) / 1000)
                send(s, "200 OK", b"slow done")
            else:
                body = {"name": NAME, "method": method, "target": target, "headers": headers, "conn": number}
                send(s, "200 OK", json.dumps(body).encode(), [("Content-Type", "application/json"),
                                                              ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1")])
            if hd.get("connection", "").lower() == "close":
                return
    except (EOFError, OSError, ValueError, IndexError):
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    import os
    os.rename(PORT_FILE + ".tmp", PORT_FILE)
    while True:
        s, _ = ls.accept()
        with lock:
            stats["connections"] += 1
            number = stats["connections"]
        threading.Thread(target=serve, args=(s, number), daemon=True).start()


main()
