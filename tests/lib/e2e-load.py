#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Request loop of the user journey suite (tests/integration/e2e-*.sh): what a user's
`while curl ...` loop does, counted. Each request opens a new connection to the router, sends
GET PATH with the app's Host header and reads the whole answer (5 s bound). Runs until SIGTERM,
then writes a JSON summary to OUT_FILE:

  {"requests", "ok", "failed", "failures": {"<kind>": n}, "indices": {"<index>": n},
   "bodies": {"<first line>": n}, "failed_spans": [[t0, t1, n], ...], "seconds"}

indices counts the 200s by X-CF-InstanceIndex as the Python sample's /instance reports it ("-"
for other answers); bodies counts the 200s that are not JSON by their first line.
A failure is anything but a 200 (kinds: "status 404", "refused", "reset", "timeout", ...);
failed_spans groups consecutive failures (times relative to the start) so a test can say how long
a gap lasted. OUT_FILE.ready is written after the first answer, whatever it was.

usage: e2e-load.py PORT HOST PATH OUT_FILE [CONCURRENCY]
"""
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time

PORT, HOST, PATH, OUT = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
CONCURRENCY = int(sys.argv[5]) if len(sys.argv) > 5 else 2
stop = threading.Event()
lock = threading.Lock()
start = time.monotonic()
result = {"requests": 0, "ok": 0, "failed": 0, "failures": {}, "indices": {}, "bodies": {}}
events = []  # (time, ok) of every request, to find the spans of failures


def one():
    """One request; returns (None, index, first body line) on a 200, else (kind, None, None)."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
    try:
        conn.request("GET", PATH, headers={"Host": HOST, "Connection": "close"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            return "status %d" % r.status, None, None
        text = body.decode("utf-8", "replace")
        try:  # the Python sample's /instance: which instance the router picked
            return None, str(json.loads(text)["router_index"]), None
        except (ValueError, KeyError, TypeError):
            return None, "-", text.split("\n", 1)[0][:80]
    except ConnectionRefusedError:
        return "refused", None, None
    except ConnectionResetError:
        return "reset", None, None
    except (socket.timeout, TimeoutError):
        return "timeout", None, None
    except (http.client.HTTPException, OSError) as e:
        return type(e).__name__, None, None
    finally:
        conn.close()


def count(d, key):
    d[key] = d.get(key, 0) + 1


def worker():
    while not stop.is_set():
        kind, index, line = one()
        now = time.monotonic() - start
        with lock:
            result["requests"] += 1
            events.append((now, kind is None))
            if kind is None:
                result["ok"] += 1
                count(result["indices"], index)
                if line is not None:
                    count(result["bodies"], line)
            else:
                result["failed"] += 1
                count(result["failures"], kind)
        if kind is not None:
            time.sleep(0.01)  # a refused connection returns at once: do not spin


def spans():
    out, cur = [], None
    for t, ok in sorted(events):
        if not ok:
            cur = cur or [t, t, 0]
            cur[1], cur[2] = t, cur[2] + 1
        elif cur is not None:
            out.append([round(cur[0], 3), round(cur[1], 3), cur[2]])
            cur = None
    if cur is not None:
        out.append([round(cur[0], 3), round(cur[1], 3), cur[2]])
    return out


signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONCURRENCY)]
for t in threads:
    t.start()
while not stop.is_set() and result["requests"] == 0:
    time.sleep(0.01)
with open(OUT + ".ready", "w") as f:
    f.write("1\n")
stop.wait()
for t in threads:
    t.join(10)
with lock:
    result["failed_spans"] = spans()
    result["seconds"] = round(time.monotonic() - start, 3)
    with open(OUT + ".tmp", "w") as f:
        json.dump(result, f)
os.rename(OUT + ".tmp", OUT)
