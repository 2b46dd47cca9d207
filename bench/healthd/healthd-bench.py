# SPDX-License-Identifier: MIT
"""Drives the crashes and the node loss of bench/healthd/run.sh and times the repairs from what
the bus carries: droplet.exited, cloudcontrollers.hm.requests (a plain subscription sees a copy
of each request), the controller's dea.<id>.start and the DEAs' heartbeats. Prints markdown."""
import argparse, json, os, signal, socket, statistics, subprocess, sys, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--bus", type=int, required=True)
ap.add_argument("--cc", required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--dew-run", required=True)
ap.add_argument("--dea", action="append", required=True, help="ID=PID=RUNTIME_ROOT, one per DEA")
ap.add_argument("--crashes", type=int, default=20)
ap.add_argument("--instances", type=int, default=50)
ap.add_argument("--settings", default="")
args = ap.parse_args()
deas = {}
for d in args.dea:
    ident, pid, root = d.split("=", 2)
    deas[ident] = {"pid": int(pid), "root": root}


class Bus:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        subs = ("dea.heartbeat", "droplet.exited", "cloudcontrollers.hm.requests", "dea.*.start")
        self.s.sendall(b'CONNECT {"verbose":false}\r\n' +
                       b"".join(b"SUB %s %d\r\n" % (s.encode(), n) for n, s in enumerate(subs, 1)))

    def msgs(self, deadline):
        """Yield (arrival time, subject, payload) until deadline."""
        while time.monotonic() < deadline:
            while b"\r\n" in self.buf:
                line, rest = self.buf.split(b"\r\n", 1)
                if line.startswith(b"MSG "):
                    n = int(line.split()[-1])
                    if len(rest) < n + 2:
                        break
                    self.buf = rest[n + 2:]
                    yield time.monotonic(), line.split()[1].decode(), json.loads(rest[:n])
                    continue
                self.buf = rest
                if line == b"PING":
                    self.s.sendall(b"PONG\r\n")
            self.s.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                d = self.s.recv(1 << 20)
            except socket.timeout:
                return
            if not d:
                sys.exit("bench-healthd: the bus closed the connection")
            self.buf += d


bus = Bus(args.bus)


def api(method, path, body=None):
    req = urllib.request.Request(args.cc + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + args.token,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


class View:
    """The latest heartbeat of each DEA: who runs what."""

    def __init__(self):
        self.by_dea = {}

    def take(self, subj, m):
        if subj == "dea.heartbeat":
            self.by_dea[m["dea"]] = m["droplets"]

    def running(self, guid, version, dea=None):
        """{index: (instance, dea)} of the RUNNING instances of guid at version."""
        out = {}
        for ident, droplets in self.by_dea.items():
            if dea and ident != dea:
                continue
            for d in droplets:
                if d["droplet"] == guid and d["version"] == version and d["state"] == "RUNNING":
                    out[d["index"]] = (d["instance"], ident)
        return out


view = View()


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    for at, subj, m in bus.msgs(deadline):
        view.take(subj, m)
        if cond():
            return at
    sys.exit(f"bench-healthd: timed out after {timeout} s waiting for {what}")


def app_process(root, instance):
    """The pid of the app's own process in the container (not its init)."""
    out = subprocess.run([args.dew_run, "--root", root, "ps", instance], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0].isdigit() and any("server" in x for x in f[1:]):
            return int(f[0])
    sys.exit(f"bench-healthd: no app process in {instance}: {out}")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs)) - 1))]


# ---- crash -> RUNNING again -------------------------------------------------------------------
crash, fleet = api("GET", "/v1/apps/crash"), api("GET", "/v1/apps/fleet")
guid, version = crash["guid"], crash["version"]
fguid, fversion = fleet["guid"], fleet["version"]
wait_for(lambda: 0 in view.running(guid, version), 60, "the crash app RUNNING")
# Both apps run before anything is timed: the DEAs are idle.
wait_for(lambda: len(view.running(fguid, fversion)) == args.instances, 120,
         f"{args.instances} instances of fleet RUNNING")
# A crash within settle_time (2 s) of the app's last droplet.updated is decided on only once the
# app settled: that is the design, not the repair time, so the first kill waits it out.
settle_until = time.monotonic() + 2.5
wait_for(lambda: time.monotonic() >= settle_until, 5, "settle_time")
rows = []
for n in range(args.crashes):
    instance, dea = view.running(guid, version)[0]
    pid = app_process(deas[dea]["root"], instance)
    t = {}
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    deadline = t0 + 30
    for at, subj, m in bus.msgs(deadline):
        view.take(subj, m)
        if subj == "droplet.exited" and m.get("instance") == instance:
            t.setdefault("exited", at)
        elif subj == "cloudcontrollers.hm.requests" and m.get("droplet") == guid and m.get("op") == "START":
            t.setdefault("request", at)
        elif subj.endswith(".start") and subj.startswith("dea.") and m.get("droplet") == guid:
            t.setdefault("placed", at)
        cur = view.running(guid, version).get(0)
        if cur and cur[0] != instance:
            t["running"] = at
            break
    if "running" not in t:
        sys.exit(f"bench-healthd: crash {n + 1}: index 0 not RUNNING again within 30 s ({t})")
    rows.append({k: (v - t0) * 1000 for k, v in t.items()})

# ---- node loss: every instance running on the other DEA ------------------------------------------
api("PUT", "/v1/apps/crash", {"state": "STOPPED"})
wait_for(lambda: not view.running(guid, version), 30, "the crash app stopped")
spread = {d: len(view.running(fguid, fversion, d)) for d in deas}
victim = max(spread, key=lambda d: spread[d])
survivor = [d for d in deas if d != victim][0]
lost = spread[victim]
t = {}
t0 = time.monotonic()
os.kill(deas[victim]["pid"], signal.SIGKILL)
for at, subj, m in bus.msgs(t0 + 120):
    view.take(subj, m)
    if subj == "cloudcontrollers.hm.requests" and m.get("droplet") == fguid and m.get("op") == "START":
        t.setdefault("request", at)
        t["starts_asked"] = t.get("starts_asked", 0) + len(m.get("indices", []))
        t["requests"] = t.get("requests", 0) + 1
    elif subj.startswith("dea.") and subj.endswith(".start") and m.get("droplet") == fguid:
        t.setdefault("placed", at)
        t["placements"] = t.get("placements", 0) + 1
    if len(view.running(fguid, fversion, survivor)) == args.instances:
        t["all"] = at
        break
if "all" not in t:
    sys.exit(f"bench-healthd: the {lost} lost instances did not all run on {survivor} within 120 s "
             f"({len(view.running(fguid, fversion, survivor))} of {args.instances} there; {t})")

# ---- report ---------------------------------------------------------------------------------
print(f"## dew-healthd: repair times ({args.settings})\n")
run_ms = [r["running"] for r in rows]
p50 = statistics.median(run_ms)
print(f"### kill -9 of the app's process -> index 0 RUNNING again ({args.crashes} crashes)\n")
print("| step (ms after the kill) | p50 | p90 | min | max |\n|---|---|---|---|---|")
for key, what in (("exited", "droplet.exited on the bus"), ("request", "healthd's START request"),
                  ("placed", "controller's dea.<id>.start"), ("running", "heartbeat: RUNNING again")):
    xs = [r[key] for r in rows if key in r]
    if xs:
        print(f"| {what} | {statistics.median(xs):.0f} | {pct(xs, 90):.0f} | {min(xs):.0f} | {max(xs):.0f} |")
print("\nEach crash in order, ms to RUNNING again: " + ", ".join(f"{x:.0f}" for x in run_ms))
print(f"\ncrash -> RUNNING p50 {p50:.0f} ms: target < 1 s {'met' if p50 < 1000 else 'MISSED'}\n")
print(f"### kill -9 of a DEA running {lost} of the {args.instances} instances -> all on the other DEA\n")
print("| step | s after the kill |\n|---|---|")
if "request" in t:
    print(f"| healthd's first START request (DEA found lost) | {t['request'] - t0:.2f} |")
if "placed" in t:
    print(f"| controller's first dea.<id>.start | {t['placed'] - t0:.2f} |")
print(f"| all {args.instances} RUNNING on {survivor} | {t['all'] - t0:.2f} |")
print(f"\n{t.get('requests', 0)} START request(s) for {t.get('starts_asked', 0)} indices, "
      f"{t.get('placements', 0)} placements; node loss -> all running {t['all'] - t0:.2f} s: "
      f"target < 10 s {'met' if t['all'] - t0 < 10 else 'MISSED'}")
