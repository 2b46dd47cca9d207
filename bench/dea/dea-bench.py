# SPDX-License-Identifier: MIT
"""Drives dew-dea over the bus for bench/dea/run.sh: start -> RUNNING times with a cached droplet,
the runtime alone as the peer, and the DEA's RSS with many instances. Prints markdown."""
import argparse, hashlib, json, os, shutil, socket, statistics, subprocess, sys, time

ap = argparse.ArgumentParser()
for a in ("--bus", "--dea-pid", "--runs", "--instances", "--port"):
    ap.add_argument(a, type=int, required=True)
for a in ("--droplet", "--droplet-uri", "--dew-run", "--runtime-root", "--stack-json", "--work"):
    ap.add_argument(a, required=True)
args = ap.parse_args()
sha = hashlib.sha256(open(args.droplet, "rb").read()).hexdigest()


class Bus:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.s.sendall(b'CONNECT {"verbose":false}\r\nSUB dea.heartbeat 1\r\nSUB droplet.exited 2\r\n')

    def pub(self, subject, obj):
        d = json.dumps(obj).encode()
        self.s.sendall(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(d), d))

    def msgs(self, deadline):
        """Yield (subject, payload) until deadline."""
        while time.monotonic() < deadline:
            while b"\r\n" in self.buf:
                line, rest = self.buf.split(b"\r\n", 1)
                if line.startswith(b"MSG "):
                    n = int(line.split()[-1])
                    if len(rest) < n + 2:
                        break
                    self.buf = rest[n + 2:]
                    yield line.split()[1].decode(), json.loads(rest[:n])
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
                sys.exit("bench: the bus closed the connection")
            self.buf += d


bus = Bus(args.bus)


def start_msg(iid, index, http, memory=64):
    m = {"droplet": "bench-app", "name": "bench", "version": "v1", "instance_id": iid, "index": index,
         "droplet_uri": args.droplet_uri, "droplet_sha256": sha, "stack": "host", "memory": memory,
         "disk": 64, "env": {}}
    if http:
        m["uris"] = ["bench.example.com"]
    else:
        m["start_command"] = "sleep 100000"
        m["health_check"] = "none"
    return m


def wait_states(want, timeout=60):
    """Wait until every instance id in want shows its wanted state in a heartbeat; returns the
    monotonic time each was first seen."""
    seen = {}
    deadline = time.monotonic() + timeout
    for subj, m in bus.msgs(deadline):
        if subj == "dea.heartbeat":
            for d in m["droplets"]:
                if want.get(d["instance"]) == d["state"] and d["instance"] not in seen:
                    seen[d["instance"]] = time.monotonic()
        elif subj == "droplet.exited" and want.get(m["instance"]) == "EXITED":
            seen.setdefault(m["instance"], time.monotonic())
        if len(seen) == len(want):
            return seen
    sys.exit(f"bench: timed out waiting for {len(want) - len(seen)} instance(s) to be {set(want.values())}")


def run_one(iid, http):
    t0 = time.monotonic()
    bus.pub("dea.bench.start", start_msg(iid, 0, http))
    t1 = wait_states({iid: "RUNNING"})[iid]
    bus.pub("dea.stop", {"droplet": "bench-app", "instances": [iid]})
    wait_states({iid: "EXITED"})
    return (t1 - t0) * 1000


def stats(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[int(len(xs) * 0.9) - 1 if len(xs) >= 10 else -1], xs[0]


# Warm up: the first start downloads the droplet into the cache.
run_one("warm-http", True)
http_times = [run_one(f"http-{i}", True) for i in range(args.runs)]
worker_times = [run_one(f"worker-{i}", False) for i in range(args.runs)]

# The peer: the runtime alone, with the spec the DEA used (captured from a live instance).
bus.pub("dea.bench.start", start_msg("spec-source", 0, True))
wait_states({"spec-source": "RUNNING"})
spec = json.load(open(os.path.join(args.runtime_root, "spec-source", "spec.json")))
bus.pub("dea.stop", {"droplet": "bench-app", "instances": ["spec-source"]})
wait_states({"spec-source": "EXITED"})
app_dir = os.path.join(args.work, "peer-app")
subprocess.run(["tar", "-xf", args.droplet, "-C", args.work], check=True)
shutil.move(os.path.join(args.work, "app"), app_dir)
subprocess.run(["chown", "-R", "1000:1000", app_dir], check=True)
peer_times = []
for i in range(args.runs):
    s = dict(spec, id=f"peer-{i}", app_dir=app_dir, log_dir=os.path.join(args.work, f"peer-logs-{i}"))
    s["env"] = [e for e in s["env"] if not e.startswith(("PORT=", "VCAP_APP_PORT="))]
    s["env"] += [f"PORT={args.port}", f"VCAP_APP_PORT={args.port}"]
    os.makedirs(s["log_dir"], exist_ok=True)
    path = os.path.join(args.work, f"peer-{i}.json")
    json.dump(s, open(path, "w"))
    run = [args.dew_run, "--root", args.runtime_root]
    t0 = time.monotonic()
    subprocess.run(run + ["create", path], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(run + ["start", s["id"]], check=True)
    while True:
        try:
            socket.create_connection(("127.0.0.1", args.port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() - t0 > 30:
                sys.exit("bench: the peer container never listened")
            time.sleep(0.002)
    peer_times.append((time.monotonic() - t0) * 1000)
    subprocess.run(run + ["delete", "-f", s["id"]], check=True)


def rss_kib(pid):
    """(RSS, Private_Dirty) in KiB: shared library text is most of an idle DEA's RSS."""
    got = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        f = line.split()
        if f[0] in ("Rss:", "Private_Dirty:"):
            got[f[0]] = int(f[1])
    return got.get("Rss:", 0), got.get("Private_Dirty:", 0)


rss_idle = rss_kib(args.dea_pid)
t0 = time.monotonic()
want = {}
for i in range(args.instances):
    iid = f"many-{i}"
    bus.pub("dea.bench.start", start_msg(iid, i, False, memory=16))
    want[iid] = "RUNNING"
wait_states(want, timeout=600)
t_many = time.monotonic() - t0
rss_many = rss_kib(args.dea_pid)
bus.pub("dea.stop", {"droplet": "bench-app"})
wait_states({k: "EXITED" for k in want}, timeout=600)

h, w, p = stats(http_times), stats(worker_times), stats(peer_times)
print(f"## dew-dea: start -> RUNNING, droplet cached ({args.runs} runs each)\n")
print("| what | median ms | p90 ms | min ms | vs dew-run alone (median) | target |")
print("|---|---|---|---|---|---|")
print(f"| HTTP app (binary fixture), health check on its port | {h[0]:.1f} | {h[1]:.1f} | {h[2]:.1f} | "
      f"{h[0] / p[0]:.2f}x | < 100 ms + the app's start: {'met' if h[0] < 100 else 'MISSED'} |")
print(f"| worker, no routes | {w[0]:.1f} | {w[1]:.1f} | {w[2]:.1f} | - | < 100 ms: {'met' if w[0] < 100 else 'MISSED'} |")
print(f"| peer: dew-run create + start until the port answers | {p[0]:.1f} | {p[1]:.1f} | {p[2]:.1f} | 1.00x | - |")
print(f"\n## dew-dea RSS\n")
print("| instances | RSS MiB | private dirty MiB | target |\n|---|---|---|---|")
print(f"| 0 (idle) | {rss_idle[0] / 1024:.1f} | {rss_idle[1] / 1024:.1f} | - |")
print(f"| {args.instances} running (started in {t_many:.1f} s) | {rss_many[0] / 1024:.1f} | "
      f"{rss_many[1] / 1024:.1f} | RSS < 32 MB: {'met' if rss_many[0] < 32 * 1024 else 'MISSED'} |")
