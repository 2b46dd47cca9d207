#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bad clients cannot hurt good ones (tests/integration/bus-abuse.sh).

usage: bus-abuse.py BUS_HOST:PORT STATUS_HOST:PORT [scenario|fresh]

"scenario" (default): a healthy subscriber and publisher stream STREAM_MSGS numbered messages on
`good` the whole time while abusive clients send garbage, oversized lines and payloads, stall
mid-payload, hold 10,000 subscriptions, never read a high-volume subject, or never say a word.
Every healthy message must arrive, in order, without a stall; every abuser must get the answer
nats-server gives and nothing more. "fresh": one new client can still publish and subscribe.
The server must run with --max-pending 1M --write-deadline 2s --max-payload 64K and its status
listener. Prints TAP; exits 1 on any failure. Every socket has a timeout and every loop a bound:
the scenario ends by itself within about 30 s.
"""
import random
import re
import socket
import sys
import threading
import time
import urllib.request

MAX_PAYLOAD = 64 * 1024
WRITE_DEADLINE = 2.0
STREAM_MSGS = 20000
STREAM_RATE = 1500.0        # messages per second: the stream lasts about 13 s
STREAM_SIZE = 100
MAX_GAP = 1.5               # seconds without a healthy message that count as a stall
MANY_SUBS = 10000
CONNECT = b'CONNECT {"verbose":false}\r\n'
ERR_UNKNOWN = b"-ERR 'Unknown Protocol Operation'\r\n"
ERR_CONTROL = b"-ERR 'maximum control line exceeded'\r\n"
ERR_PAYLOAD = b"-ERR 'Maximum Payload Violation'\r\n"


class Tap:
    """TAP lines from any thread, numbered in the order they are printed."""

    def __init__(self):
        self.n = self.failed = 0
        self.lock = threading.Lock()

    def check(self, ok, name, diag=None):
        with self.lock:
            self.n += 1
            self.failed += not ok
            print(f"{'ok' if ok else 'not ok'} {self.n} - {name}", flush=True)
            if not ok and diag:
                for line in str(diag).splitlines():
                    print(f"#   {line}", flush=True)
        return ok

    def done(self):
        print(f"1..{self.n}", flush=True)
        return 1 if self.failed else 0


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


class Metrics:
    def __init__(self, status):
        self.url = "http://%s:%d/metrics" % addr(status)

    def get(self, name):
        with urllib.request.urlopen(self.url, timeout=5) as r:
            body = r.read().decode()
        m = re.search(r"^%s (\S+)$" % re.escape(name), body, re.M)
        return float(m.group(1)) if m else None

    def wait(self, name, pred, seconds):
        """Poll until pred(value) holds or `seconds` pass; (held, last value)."""
        deadline = time.monotonic() + seconds
        while True:
            v = self.get(name)
            if v is not None and pred(v):
                return True, v
            if time.monotonic() >= deadline:
                return False, v
            time.sleep(0.05)


class Conn:
    """A raw protocol connection: INFO read, CONNECT sent (unless connect=None), bytes buffered."""

    def __init__(self, server, connect=CONNECT, rcvbuf=None, mss=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small receive buffer and segment size keep the kernel from absorbing megabytes on
        # behalf of a client that does not read, so the server's own limits are what bites.
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if mss:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        self.sock.settimeout(5)
        self.sock.connect(addr(server))
        self.buf = b""
        self.before_pong = b""
        self.info = self.read_until(b"\r\n", 5)
        if connect:
            self.sock.sendall(connect)

    def recv_some(self, deadline):
        """Wait until bytes arrive (appended to buf) or deadline: 'data', 'timeout', 'eof' or
        'reset'."""
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return "timeout"
        except (ConnectionResetError, BrokenPipeError):
            return "reset"
        if not chunk:
            return "eof"
        self.buf += chunk
        return "data"

    def read_until(self, token, seconds):
        """Bytes up to and including token, or None when it did not come in time."""
        deadline = time.monotonic() + seconds
        while token not in self.buf:
            if self.recv_some(deadline) != "data":
                return None
        i = self.buf.index(token) + len(token)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def ping(self, seconds=5):
        """Round-trip time of PING/PONG in seconds, or None; what came before the PONG is kept
        in before_pong."""
        t0 = time.monotonic()
        try:
            self.sock.sendall(b"PING\r\n")
        except OSError:
            return None
        got = self.read_until(b"PONG\r\n", seconds)
        if got is None:
            return None
        self.before_pong = got[:-6]
        return time.monotonic() - t0

    def read_to_end(self, seconds, limit=64 << 20):
        """Everything until the server closes: (bytes, 'eof'|'reset'|'timeout'|'limit')."""
        deadline = time.monotonic() + seconds
        while len(self.buf) < limit:
            how = self.recv_some(deadline)
            if how != "data":
                return self.buf, how
        return self.buf, "limit"

    def send_quietly(self, data):
        """Send, ignoring a server that already hung up (abusers are cut off mid-send)."""
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def silent(self, seconds):
        """True when nothing arrives and the connection stays open for `seconds`."""
        return self.recv_some(time.monotonic() + seconds) == "timeout" and not self.buf

    def close(self):
        self.sock.close()


class Stream:
    """The healthy pair: numbered 100-byte messages on `good`, checked in order on arrival."""

    def __init__(self, server):
        self.sub = Conn(server)
        self.sub.sock.sendall(b"SUB good 1\r\n")
        self.ready = self.sub.ping() is not None
        self.pub = Conn(server)
        self.sent = self.received = 0
        self.errors = []
        self.max_gap = 0.0
        self.pub_pong = None
        self.pub_done_at = None
        self.threads = [threading.Thread(target=self.publish, daemon=True),
                        threading.Thread(target=self.subscribe, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self, seconds):
        deadline = time.monotonic() + seconds
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)

    def publish(self):
        batch = 11
        t0 = time.monotonic()
        try:
            for first in range(0, STREAM_MSGS, batch):
                delay = t0 + first / STREAM_RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                frames = b"".join(b"PUB good %d\r\n%08d%s\r\n" % (STREAM_SIZE, i, b"." * (STREAM_SIZE - 8))
                                  for i in range(first, min(first + batch, STREAM_MSGS)))
                self.pub.sock.sendall(frames)
                self.sent = min(first + batch, STREAM_MSGS)
            self.pub_pong = self.pub.ping(10)
        except OSError as e:
            self.errors.append(f"publisher: {e!r} after {self.sent} messages")
        finally:
            self.pub_done_at = time.monotonic()

    def subscribe(self):
        c = self.sub
        head = re.compile(rb"MSG good 1 (\d+)\r\n")
        last = None
        hard_deadline = time.monotonic() + 60
        try:
            while self.received < STREAM_MSGS and not self.errors:
                # After the publisher is done, ten more seconds for the tail to arrive.
                deadline = min(hard_deadline, (self.pub_done_at or hard_deadline) + 10)
                how = c.recv_some(min(deadline, time.monotonic() + 1))
                if how == "timeout" and time.monotonic() < deadline:
                    continue
                if how != "data":
                    self.errors.append(f"subscriber: {how} after {self.received} messages")
                    return
                now = time.monotonic()
                while True:
                    if c.buf.startswith(b"PING\r\n"):
                        c.buf = c.buf[6:]
                        c.sock.sendall(b"PONG\r\n")
                        continue
                    m = head.match(c.buf)
                    if not m:
                        if b"\r\n" in c.buf:
                            self.errors.append(f"subscriber: unexpected {c.buf[:80]!r}")
                            return
                        break
                    size = int(m.group(1))
                    end = m.end() + size + 2
                    if len(c.buf) < end:
                        break
                    payload = c.buf[m.end():m.end() + size]
                    c.buf = c.buf[end:]
                    want = b"%08d" % self.received
                    if size != STREAM_SIZE or payload[:8] != want:
                        self.errors.append(f"subscriber: message {self.received}: got {payload[:8]!r}, size {size}")
                        return
                    self.received += 1
                    if last is not None:
                        self.max_gap = max(self.max_gap, now - last)
                    last = now
        except OSError as e:
            self.errors.append(f"subscriber: {e!r} after {self.received} messages")


def expect_closed(tap, c, name, allowed, seconds=5):
    """The server answers with one of `allowed` and closes. A reset (we sent bytes it never read)
    may swallow the answer, so a reset with nothing received passes too."""
    data, how = c.read_to_end(seconds, limit=1 << 16)
    ok = how == "eof" and data in allowed or how == "reset" and (data in allowed or data == b"")
    tap.check(ok, f"{name}: {data.strip().decode(errors='replace') or 'no answer'}, then closed ({how})",
              f"got {data[:200]!r}, ended by {how}; want one of {allowed!r}")
    c.close()


def abuse_garbage(tap, server, rng):
    """(a) Random bytes: -ERR 'Unknown Protocol Operation' (or a reset) and the connection ends."""
    # The first byte can start no operation, so the parser must refuse at once.
    def junk(n):
        return bytes([rng.randrange(0x80, 0x100)]) + rng.randbytes(n - 1)

    c = Conn(server, connect=None)
    c.send_quietly(junk(8192))
    expect_closed(tap, c, "8 KiB of random bytes", [ERR_UNKNOWN])

    c = Conn(server, connect=None)
    c.send_quietly(b"\x01\x02garbage\r\n")
    data, how = c.read_to_end(5)
    tap.check(data == ERR_UNKNOWN and how == "eof",
              "a short garbage line: exactly -ERR 'Unknown Protocol Operation', then EOF",
              f"got {data!r}, ended by {how}")
    c.close()

    c = Conn(server)
    for _ in range(32):
        c.send_quietly(junk(64))
        time.sleep(0.005)
    expect_closed(tap, c, "random bytes in 64-byte writes after CONNECT", [ERR_UNKNOWN])

    # Printable noise may begin like an operation and run on without CRLF: either refusal is right.
    c = Conn(server, connect=None)
    c.send_quietly(bytes(rng.randrange(0x21, 0x7f) for _ in range(8192)))
    expect_closed(tap, c, "8 KiB of random printable bytes", [ERR_UNKNOWN, ERR_CONTROL])


def abuse_lines_and_payloads(tap, server):
    """(b) oversized control lines, (c) payloads longer and shorter than announced,
    (d) payloads over max_payload. Returns the client stalled mid-payload (still open)."""
    c = Conn(server)
    c.send_quietly(b"PUB " + b"a" * 10000)
    expect_closed(tap, c, "a 10,000-byte control line without CRLF", [ERR_CONTROL])
    c = Conn(server)
    c.send_quietly(b"SUB " + b"b" * 5000 + b" 1\r\n")
    expect_closed(tap, c, "a 5,000-byte SUB line", [ERR_CONTROL])

    c = Conn(server)
    c.send_quietly(b"PUB junk 3\r\nabcdef\r\nPING\r\n")
    expect_closed(tap, c, "a payload longer than announced", [ERR_UNKNOWN])

    stalled = Conn(server)
    stalled.sock.sendall(b"PUB junk 100\r\nshort")
    time.sleep(0.3)
    probe = Conn(server)
    rtt = probe.ping(2)
    tap.check(rtt is not None and rtt < 1,
              f"a client stalled mid-payload does not hold up others (PONG in {rtt or 0:.3f} s)")
    probe.close()
    tap.check(stalled.silent(0.5), "the stalled client is left waiting (no answer, not closed)")

    c = Conn(server)
    c.send_quietly(b"PUB junk %d\r\n" % (MAX_PAYLOAD + 1))
    expect_closed(tap, c, "PUB one byte over max_payload", [ERR_PAYLOAD])
    c = Conn(server, connect=b'CONNECT {"verbose":false,"headers":true}\r\n')
    c.send_quietly(b"HPUB junk 12 %d\r\n" % (MAX_PAYLOAD + 100))
    expect_closed(tap, c, "HPUB over max_payload", [ERR_PAYLOAD])
    c = Conn(server)
    c.sock.sendall(b"PUB junk %d\r\n%s\r\n" % (MAX_PAYLOAD, b"z" * MAX_PAYLOAD))
    rtt = c.ping(5)
    tap.check(rtt is not None and not c.before_pong, "a payload of exactly max_payload is accepted",
              f"before PONG: {c.before_pong[:200]!r}")
    c.close()
    return stalled


def slow_consumer(tap, server, metrics, label, subject, rate, slow_before, base_subs):
    """(f) A subscriber that never reads while another client publishes `rate` bytes/s of 16 KiB
    messages to `subject`: the server must cut it off, drop its subscription without waiting for
    it, and close it; the publisher must not notice."""
    cons = Conn(server, rcvbuf=4096, mss=536)
    cons.sock.sendall(b"SUB %s 1\r\n" % subject)
    if not tap.check(cons.ping() is not None, f"{label}: subscribed"):
        return
    pub = Conn(server)
    size = 16384
    frame = b"PUB %s %d\r\n%s\r\n" % (subject, size, b"f" * size)
    t0 = time.monotonic()
    sent, slow, cut = 0, slow_before, False
    # One message per pause so the server's output grows over many loop turns, as it would for
    # a real consumer falling behind (not in one burst).
    while time.monotonic() - t0 < 12:
        pub.sock.sendall(frame)
        sent += 1
        time.sleep(size / rate)
        if sent % 4 == 0:
            slow = metrics.get("dew_bus_slow_consumers_total")
            if slow > slow_before:
                cut = True
                break
    took = time.monotonic() - t0
    tap.check(cut, f"{label}: cut off as a slow consumer after {sent * size / 1e6:.1f} MB in {took:.1f} s "
              f"(dew_bus_slow_consumers_total {slow:g})")
    # The consumer still has not read a byte: the server must let go of it on its own.
    gone, subs = metrics.wait("dew_bus_subscriptions", lambda v: v == base_subs, WRITE_DEADLINE + 1.5)
    tap.check(gone, f"{label}: its subscription is dropped within {WRITE_DEADLINE + 1.5:g} s while it still "
              f"has not read (dew_bus_subscriptions {subs:g}, want {base_subs:g})")
    data, how = cons.read_to_end(8)
    tap.check(how in ("eof", "reset"), f"{label}: its connection is closed ({how} after {len(data)} queued bytes)")
    cons.close()
    rtt = pub.ping(5)
    tap.check(rtt is not None, f"{label}: the publisher is unaffected (PONG in {rtt or 0:.3f} s)")
    pub.close()


def abuse_unread_error(tap, server, metrics):
    """(f) once more: a client that never reads has answers queued (PONGs), then sends garbage.
    Its -ERR cannot be written, so write_deadline must still end the connection."""
    base_conns = metrics.get("dew_bus_connections")
    c = Conn(server, rcvbuf=4096, mss=536)
    c.sock.sendall(b"PING\r\n" * 50000 + b"\x01garbage\r\n")
    ok, conns = metrics.wait("dew_bus_connections", lambda v: v == base_conns, WRITE_DEADLINE + 1.5)
    tap.check(ok, f"a client that never reads and then errs is closed within {WRITE_DEADLINE + 1.5:g} s "
              f"(dew_bus_connections {conns:g}, want {base_conns:g})")
    data, how = c.read_to_end(8)
    tap.check(how in ("eof", "reset"),
              f"a client that never reads and then errs: its socket ends ({how} after {len(data)} bytes)")
    c.close()


def abuse_slow(tap, server, metrics, base_subs):
    # A trickle the kernel soon stops accepting: the stuck write is caught by write_deadline
    # (300 KB/s over 2 s stays under max_pending).
    slow_consumer(tap, server, metrics, "write-deadline consumer", b"trickle", 300e3, 0, base_subs)
    # A flood: the output queued for it passes max_pending while a write is stuck.
    slow_consumer(tap, server, metrics, "max-pending consumer", b"flood", 16e6, 1, base_subs)


def abuse_many_subs(tap, server, metrics, base_subs):
    """(e) One client with 10,000 subscriptions: still answered, still delivered to, and every
    subscription is gone once it disconnects."""
    c = Conn(server)
    c.sock.sendall(b"".join(b"SUB many.%d %d\r\n" % (i, i) for i in range(MANY_SUBS)))
    rtt = c.ping(10)
    tap.check(rtt is not None, f"{MANY_SUBS} subscriptions, then PING: PONG in {rtt or 0:.3f} s")
    ok, subs = metrics.wait("dew_bus_subscriptions", lambda v: v == base_subs + MANY_SUBS, 2)
    tap.check(ok, f"dew_bus_subscriptions is {subs:g} (want {base_subs + MANY_SUBS:g})")
    pub = Conn(server)
    picks = (0, 4999, MANY_SUBS - 1)
    pub.sock.sendall(b"".join(b"PUB many.%d 2\r\nm%d\r\n" % (i, i % 10) for i in picks))
    pub.ping(5)
    pub.close()
    rtt = c.ping(5)
    want = b"".join(b"MSG many.%d %d 2\r\nm%d\r\n" % (i, i, i % 10) for i in picks)
    tap.check(rtt is not None and c.before_pong == want, "messages to three of them are delivered, to the right sids",
              f"got {c.before_pong[:300]!r}")
    c.close()
    ok, subs = metrics.wait("dew_bus_subscriptions", lambda v: v == base_subs, 5)
    tap.check(ok, f"after it disconnects dew_bus_subscriptions is back to {subs:g} (want {base_subs:g})")


def run_thread(tap, name, fn, *args):
    def body():
        try:
            fn(tap, *args)
        except Exception as e:  # a raised error is a failed check, never a silent pass
            tap.check(False, f"{name} raised {e!r}")
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t


def scenario(server, status):
    tap = Tap()
    metrics = Metrics(status)
    rng = random.Random(20240607)

    idle = Conn(server, connect=None)  # (g): connects, says nothing, never authenticates
    tap.check(b'"max_payload":%d' % MAX_PAYLOAD in idle.info, f"dew-bus runs with max_payload {MAX_PAYLOAD}",
              idle.info)
    stream = Stream(server)
    base_subs = metrics.get("dew_bus_subscriptions")
    tap.check(stream.ready and base_subs == 1, f"healthy subscriber on `good` (dew_bus_subscriptions {base_subs:g})")
    stream.start()
    t0 = time.monotonic()
    while stream.received < 500 and time.monotonic() - t0 < 5:
        time.sleep(0.02)
    tap.check(stream.received >= 500, f"healthy stream flowing before the abuse ({stream.received} received)")

    stalled = []
    abusers = [
        run_thread(tap, "garbage", abuse_garbage, server, rng),
        run_thread(tap, "lines and payloads", lambda t, s: stalled.append(abuse_lines_and_payloads(t, s)), server),
        run_thread(tap, "slow consumers", abuse_slow, server, metrics, base_subs),
    ]
    for t in abusers:
        t.join(max(0.0, t0 + 25 - time.monotonic()))
    tap.check(not any(t.is_alive() for t in abusers), "every abuser finished within 25 s")
    run_thread(tap, "many subscriptions", abuse_many_subs, server, metrics, base_subs).join(15)
    run_thread(tap, "unread error", abuse_unread_error, server, metrics).join(15)
    tap.check(stream.sent < STREAM_MSGS,
              f"the healthy stream was still running when the abuse ended ({stream.sent} of {STREAM_MSGS} sent)")

    tap.check(idle.silent(0.2) and idle.ping(2) is not None,
              "a client that said nothing is still connected and answered")
    idle.close()
    if stalled:
        c = stalled[0]
        c.send_quietly(b"." * 95 + b"\r\n")
        rtt = c.ping(2)
        tap.check(rtt is not None and not c.before_pong, "the stalled client, once it finishes its payload, is served",
                  f"got {c.before_pong[:200]!r}")
        c.close()

    finished = stream.join(40 - (time.monotonic() - t0))
    tap.check(finished and not stream.errors and stream.received == STREAM_MSGS,
              f"healthy subscriber got all {STREAM_MSGS} messages in order ({stream.received})",
              "\n".join(stream.errors))
    tap.check(stream.pub_pong is not None, "healthy publisher got its final PONG")
    tap.check(stream.max_gap < MAX_GAP, f"the healthy stream never stalled (longest gap {stream.max_gap:.3f} s)")
    stream.sub.close()
    stream.pub.close()
    ok, conns = metrics.wait("dew_bus_connections", lambda v: v == 0, 5)
    tap.check(ok, f"every connection is gone at the end (dew_bus_connections {conns:g})")
    return tap.done()


def fresh(server, status):
    tap = Tap()
    sub = Conn(server)
    sub.sock.sendall(b"SUB fresh.check 7\r\n")
    tap.check(sub.ping() is not None, "a fresh client subscribes")
    pub = Conn(server)
    pub.sock.sendall(b"PUB fresh.check 5\r\nhello\r\n")
    tap.check(pub.ping() is not None, "a fresh client publishes")
    got = sub.read_until(b"hello\r\n", 5)
    tap.check(got == b"MSG fresh.check 7 5\r\nhello\r\n", "the message is delivered", f"got {got!r} {sub.buf!r}")
    sub.close()
    pub.close()
    return tap.done()


def main():
    server, status = sys.argv[1], sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "scenario"
    return {"scenario": scenario, "fresh": fresh}[mode](server, status)


if __name__ == "__main__":
    sys.exit(main())
