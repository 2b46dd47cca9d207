# SPDX-License-Identifier: MIT
"""A raw NATS client for the integration tests (tests/integration/dea-*.sh), independent of
common/'s: just enough of the client protocol (INFO, CONNECT, SUB, UNSUB, PUB, MSG, PING/PONG),
every read bounded by a deadline.

As a module: `from natsclient import Nats, ok, check, body, from_dea`.

As a program (python3 natsclient.py COMMAND ...):
  record PORT FILE          subscribe to everything and append each message to FILE as one JSON
                            line {"n", "t", "subject", "reply", "data"}; writes FILE.ready once
                            subscribed; runs until killed
  mark FILE                 print FILE's size: a position for `wait --after`
  wait FILE [options]       wait until the recording holds matching messages; prints each one's
                            payload (one line each); exit 1 (saying what it saw) on timeout
      --after OFFSET        only messages recorded after this mark (default: 0)
      --subject S           subject, NATS wildcards allowed (default: >)
      --eq KEY=VALUE        the payload (a JSON object) has KEY equal to VALUE (VALUE is read as
                            JSON when it parses, else as a string); repeatable, all must hold
      --expr EXPR           a Python expression over m (the payload as JSON), s (the subject), r (the reply)
      --count N             wait for N matches (default: 1)
      --timeout SECONDS     (default: 10)
      --none                succeed only when nothing matches within the timeout
      --all                 with --none or at the timeout: print every match seen (no waiting)
  pub PORT SUBJECT DATA [--reply R]        publish (DATA "@FILE" reads the payload from FILE)
  request PORT SUBJECT DATA [--timeout S] [--count N]
                            publish with a fresh reply subject and print each reply's payload, one
                            per line, until N replies came or the timeout passed
  get JSON EXPR             print a Python expression over j (JSON parsed); dicts and lists as JSON
  each EXPR                 EXPR over each JSON object j on stdin (one per line): the values, sorted,
                            on one line
  (get and each offer short(ID): ID without the test run's suffix "-$R", see tests/lib/dea-lib.sh)
"""
import json
import os
import socket
import sys
import time
import uuid


class Nats:
    """Just enough of the NATS client protocol, every read bounded by a timeout."""

    def __init__(self, port, host="127.0.0.1"):
        self.s = socket.create_connection((host, port), timeout=5)
        self.buf = b""
        self.sids = 0
        info = self.line(time.monotonic() + 5)
        if not info or not info.startswith(b"INFO "):
            sys.exit("no INFO from the bus: %r" % info)
        self.info = json.loads(info[5:])
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')

    def _recv(self, timeout):
        self.s.settimeout(timeout)
        d = self.s.recv(1 << 20)
        if not d:
            sys.exit("the bus closed the connection")
        self.buf += d

    def line(self, deadline):
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                self._recv(left)
            except socket.timeout:
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def sub(self, subject, queue=None):
        self.sids += 1
        q = b"" if queue is None else b" " + queue.encode()
        self.s.sendall(b"SUB %s%s %d\r\n" % (subject.encode(), q, self.sids))
        return self.sids

    def unsub(self, sid):
        self.s.sendall(b"UNSUB %d\r\n" % sid)

    def pub(self, subject, data, reply=None):
        if isinstance(data, str):
            data = data.encode()
        head = subject if reply is None else subject + " " + reply
        self.s.sendall(b"PUB %s %d\r\n%s\r\n" % (head.encode(), len(data), data))

    def msg(self, deadline, raw=False):
        """The next MSG as (subject, reply, text) (bytes with raw), or None at the deadline."""
        while True:
            line = self.line(deadline)
            if line is None:
                return None
            if line == b"PING":
                self.s.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG "):
                f = line.split()
                n = int(f[-1])
                while len(self.buf) < n + 2:
                    self._recv(5)
                data, self.buf = self.buf[:n], self.buf[n + 2:]
                if not raw:
                    data = data.decode("utf-8", "replace")
                return f[1].decode(), (f[3].decode() if len(f) == 5 else None), data
            elif line.startswith(b"-ERR"):
                sys.exit("bus error: %r" % line)

    def gather(self, seconds, want=lambda m: True):
        out, deadline = [], time.monotonic() + seconds
        while True:
            m = self.msg(deadline)
            if m is None:
                return out
            if want(m):
                out.append(m)

    def first(self, seconds, want):
        deadline = time.monotonic() + seconds
        while True:
            m = self.msg(deadline)
            if m is None or want(m):
                return m

    def sync(self):
        self.s.sendall(b"PING\r\n")
        deadline = time.monotonic() + 5
        while True:
            line = self.line(deadline)
            if line is None:
                sys.exit("no PONG from the bus")
            if line == b"PONG":
                return
            if line == b"PING":
                self.s.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                sys.exit("bus error: %r" % line)

    def request(self, subject, data, seconds, count=None):
        """Publish with a fresh inbox; the reply payloads until count came or seconds passed."""
        inbox = "_INBOX.%s" % uuid.uuid4().hex
        sid = self.sub(inbox)
        self.sync()
        self.pub(subject, data, inbox)
        out, deadline = [], time.monotonic() + seconds
        while count is None or len(out) < count:
            m = self.msg(deadline)
            if m is None:
                break
            if m[0] == inbox:
                out.append(m[2])
        self.unsub(sid)
        return out


def ok(msg):
    print("ok - " + msg, flush=True)


def check(cond, msg):
    if not cond:
        sys.exit("not ok - " + msg)
    ok(msg)


def body(m):
    return json.loads(m[2])


def from_dea(subject, key, ident):
    return lambda m: m[0] == subject and body(m).get(key) == ident


def subject_matches(pattern, subject):
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


# ---- the command line ----

def short(ident):
    """An instance id without the test run's suffix (tests/lib/dea-lib.sh: ID-$R)."""
    suffix = os.environ.get("R")
    return ident[: -len(suffix) - 1] if suffix and ident.endswith("-" + suffix) else ident


def cmd_record(port, path):
    n = Nats(int(port))
    n.sub(">")
    n.sync()
    seq = 0
    with open(path, "a", encoding="utf-8") as f:
        with open(path + ".ready", "w") as r:
            r.write("%d\n" % os.getpid())
        while True:
            m = n.msg(time.monotonic() + 3600)
            if m is None:
                continue
            seq += 1
            f.write(json.dumps({"n": seq, "t": time.time(), "subject": m[0], "reply": m[1],
                                "data": m[2]}) + "\n")
            f.flush()


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_wait(path, args):
    after, subject, eqs, expr, count, timeout, none, show_all = 0, ">", [], None, 1, 10.0, False, False
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--none", "--all"):
            none, show_all = none or a == "--none", show_all or a == "--all"
            i += 1
            continue
        v = args[i + 1]
        if a == "--after":
            after = int(v)
        elif a == "--subject":
            subject = v
        elif a == "--eq":
            k, _, val = v.partition("=")
            eqs.append((k, parse_value(val)))
        elif a == "--expr":
            expr = compile(v, "--expr", "eval")
        elif a == "--count":
            count = int(v)
        elif a == "--timeout":
            timeout = float(v)
        else:
            sys.exit("wait: unknown option " + a)
        i += 2
    deadline = time.monotonic() + timeout
    off, matched, seen = after, [], 0
    while True:
        with open(path, "rb") as f:
            f.seek(off)
            chunk = f.read()
        end = chunk.rfind(b"\n")
        if end >= 0:
            off += end + 1
            for raw in chunk[:end].split(b"\n"):
                rec = json.loads(raw)
                if not subject_matches(subject, rec["subject"]):
                    continue
                seen += 1
                m = None
                if eqs or expr is not None:
                    try:
                        m = json.loads(rec["data"])
                    except (ValueError, RecursionError):
                        pass  # garbage (the abuse tests record plenty): matches no --eq
                if eqs and not (isinstance(m, dict) and all(k in m and m[k] == val for k, val in eqs)):
                    continue
                if expr is not None:
                    try:
                        if not eval(expr, {}, {"m": m, "s": rec["subject"], "r": rec["reply"]}):
                            continue
                    except Exception:
                        continue
                matched.append(rec["data"])
                if none:
                    print(rec["data"])
                    sys.exit("wait: an unexpected %s message: %.300s" % (rec["subject"], rec["data"]))
                if not show_all and len(matched) >= count:
                    for d in matched:
                        print(d)
                    return 0
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if none:
        return 0
    if show_all:
        for d in matched:
            print(d)
        return 0 if len(matched) >= count else 1
    print("wait: %d of %d match(es) of %s within %gs (%d message(s) on the subject)"
          % (len(matched), count, subject, timeout, seen), file=sys.stderr)
    for d in matched:
        print(d)
    return 1


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "record":
        cmd_record(*args)
    elif cmd == "mark":
        print(os.path.getsize(args[0]))
    elif cmd == "wait":
        return cmd_wait(args[0], args[1:])
    elif cmd in ("pub", "request"):
        port, subject, data = int(args[0]), args[1], args[2]
        opts = dict(zip(args[3::2], args[4::2]))
        if data.startswith("@"):
            with open(data[1:], "rb") as f:
                data = f.read()
        n = Nats(port)
        if cmd == "pub":
            n.pub(subject, data, opts.get("--reply"))
            n.sync()
            return 0
        count = int(opts["--count"]) if "--count" in opts else None
        replies = n.request(subject, data, float(opts.get("--timeout", "2")), count)
        for r in replies:
            print(r)
        return 0
    elif cmd == "get":
        j = json.loads(args[0])
        v = eval(args[1], {"short": short}, {"j": j})
        print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
    elif cmd == "each":
        code = compile(args[0], "each", "eval")
        vals = [str(eval(code, {"short": short}, {"j": json.loads(l)})) for l in sys.stdin if l.strip()]
        print(" ".join(sorted(vals)))
    else:
        sys.exit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
