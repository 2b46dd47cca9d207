# SPDX-License-Identifier: MIT
"""Drives dew-controller for bench/controller/run.sh: resource_match with many entries, upload
throughput of a large app (curl -F, as `dew push` would send it) next to a raw PUT of the same
tar to nginx, and GET /v1/apps latency under wrk next to nginx serving the same JSON. Prints
markdown."""
import argparse, hashlib, http.client, json, os, re, shutil, socket, statistics, subprocess, sys, time
from urllib.parse import urlparse

ap = argparse.ArgumentParser()
for a in ("--cc-pid", "--match-entries", "--match-runs", "--upload-mb", "--upload-runs", "--wrk-seconds"):
    ap.add_argument(a, type=int, required=True)
for a in ("--url", "--user", "--password", "--work"):
    ap.add_argument(a, required=True)
ap.add_argument("--apps", default="10,100", help="list sizes of GET /v1/apps, comma-separated")
ap.add_argument("--nginx")
ap.add_argument("--nginx-root")
ap.add_argument("--nginx-version", default="")
args = ap.parse_args()
cc = urlparse(args.url)
W = args.work


def die(msg):
    sys.exit(f"bench-controller: {msg}")


def request(method, path, body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection(cc.hostname, cc.port, timeout=120)
    h = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if not conn:
        c.close()
    return r.status, data


def cpu_s(pid):
    """(utime, stime) of a process (all its threads), seconds."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) / os.sysconf("SC_CLK_TCK"), int(f[12]) / os.sysconf("SC_CLK_TCK")


def vm_hwm_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def curl(*a):
    """Run curl with -w '%{http_code} %{time_total}'; (status, seconds, body)."""
    out = os.path.join(W, "curl.out")
    p = subprocess.run(["curl", "-sS", "-o", out, "-w", "%{http_code} %{time_total}", *a],
                       capture_output=True, text=True)
    if p.returncode != 0:
        die(f"curl {' '.join(a)}: {p.stderr.strip()}")
    code, t = p.stdout.split()
    return int(code), float(t), open(out, "rb").read()


token = None
st, body = request("POST", "/v1/tokens", {"username": args.user, "password": args.password})
if st != 201 and st != 200:
    die(f"login: {st} {body[:200]!r}")
token = json.loads(body)["token"]
auth = f"Authorization: Bearer {token}"
app_counts = sorted(int(x) for x in args.apps.split(","))
if app_counts[0] < 2:
    die("--apps: every list size must be at least 2 (the bench's own two apps)")
n_apps = 0


def create_apps(upto):
    global n_apps
    while n_apps < upto:
        n_apps += 1
        name = {1: "bench-match", 2: "bench-upload"}.get(n_apps, f"bench-app-{n_apps}")
        st, body = request("POST", "/v1/apps", {"name": name})
        if st != 201:
            die(f"create app {name}: {st} {body[:200]!r}")


create_apps(2)

# ---- resource_match ------------------------------------------------------------------------------
# Seed the pool with an app of N small files, then ask about N entries: the first half are those
# files, the second half the same names with content the pool has never seen.
n = args.match_entries
src = os.path.join(W, "match-app")
entries = []
for i in range(n):
    fn = f"d{i % 100:02d}/f{i:05d}.txt"
    data = os.urandom(64 + (i * 7919) % 4032)
    os.makedirs(os.path.join(src, os.path.dirname(fn)), exist_ok=True)
    with open(os.path.join(src, fn), "wb") as f:
        f.write(data)
    entries.append({"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "fn": fn, "mode": 0o644})
tgz = os.path.join(W, "match-app.tgz")
subprocess.run(["tar", "-C", src, "-czf", tgz, "."], check=True)
shutil.rmtree(src)
os.sync()
st, t_seed, body = curl("-X", "PUT", "-H", auth, "-F", "resources=[]", "-F", f"application=@{tgz}",
                        f"{args.url}/v1/apps/bench-match/bits")
if st != 201 or json.loads(body)["files"] != n:
    die(f"seeding the pool: {st} {body[:300]!r}")
half = n // 2
ask = entries[:half] + [dict(e, sha256=hashlib.sha256(b"not in the pool %d" % i).hexdigest())
                        for i, e in enumerate(entries[half:])]
ask_body = json.dumps(ask).encode()
conn = http.client.HTTPConnection(cc.hostname, cc.port, timeout=60)
match_ms = []
for run in range(args.match_runs + 1):  # the first is a warm-up
    t0 = time.monotonic()
    st, body = request("POST", "/v1/resource_match", ask_body, {"Content-Type": "application/json"}, conn)
    t = (time.monotonic() - t0) * 1000
    if st != 200 or len(json.loads(body)) != half:
        die(f"resource_match: {st} {body[:300]!r}")
    if run:
        match_ms.append(t)
conn.close()

# ---- upload throughput ---------------------------------------------------------------------------
# An app of 4 random files, a tar without compression. Every run's files differ (a prefix of their
# own), so each upload puts new content into the pool and makes a new package, as a first push does.
NFILES = 4
total = args.upload_mb * 1000 * 1000
base = os.urandom(total // NFILES)


def make_tar(run):
    d = os.path.join(W, f"up-{run}")
    os.makedirs(d)
    for i in range(NFILES):
        with open(os.path.join(d, f"blob-{i}.bin"), "wb") as f:
            f.write(hashlib.sha256(b"run %d file %d" % (run, i)).digest())
            f.write(memoryview(base)[32:])
    path = os.path.join(W, f"up-{run}.tar")
    subprocess.run(["tar", "-C", d, "-cf", path, "."], check=True)
    shutil.rmtree(d)
    return path


def upload_curl(path):
    st, t, body = curl("-X", "PUT", "-H", auth, "-F", "resources=[]", "-F", f"application=@{path}",
                       f"{args.url}/v1/apps/bench-upload/bits")
    if st != 201 or not json.loads(body)["changed"]:
        die(f"upload: {st} {body[:300]!r}")
    return t


def upload_nginx(path, run):
    st, t, body = curl("-T", path, f"{args.nginx}/put/up-{run}.tar")
    if st not in (201, 204):
        die(f"PUT to nginx: {st} {body[:300]!r}")
    return t  # kept, as the controller keeps what it stored: both put new pages into the page cache


def upload_timed(path):
    """The same upload over a socket of our own: when the last body byte was handed to the kernel
    (the controller has all but a socket buffer of it), and when the 201 came."""
    boundary = "dewbench" + os.urandom(8).hex()
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"resources\"\r\n\r\n[]\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"application\"; filename=\"app.tar\"\r\n"
            f"Content-Type: application/x-tar\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = len(head) + os.path.getsize(path) + len(tail)
    req = (f"PUT /v1/apps/bench-upload/bits HTTP/1.1\r\nHost: {cc.netloc}\r\nAuthorization: Bearer {token}\r\n"
           f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {size}\r\n\r\n").encode()
    cpu0 = cpu_s(args.cc_pid)
    s = socket.create_connection((cc.hostname, cc.port))
    t0 = time.monotonic()
    s.sendall(req + head)
    with open(path, "rb") as f:
        s.sendfile(f)
    s.sendall(tail)
    t_sent = time.monotonic() - t0
    resp = b""
    while b"\r\n\r\n" not in resp or not resp.rstrip().endswith(b"}"):
        d = s.recv(65536)
        if not d:
            break
        resp += d
    t_done = time.monotonic() - t0
    s.close()
    if not resp.startswith(b"HTTP/1.1 201"):
        die(f"upload (timed): {resp[:300]!r}")
    cpu1 = cpu_s(args.cc_pid)
    return size, t_sent, t_done, (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1])


dew_up, nginx_up, body_bytes = [], [], 0
for run in range(args.upload_runs):
    path = make_tar(run)
    body_bytes = os.path.getsize(path)
    # Alternating order (dew, nginx, nginx, dew, ...): whoever goes first finds the pages that
    # make_tar freed in the page cache, and writing into those is much cheaper on some VMs.
    order = ["dew", "nginx"] if run % 2 == 0 else ["nginx", "dew"]
    for who in order:
        os.sync()
        if who == "dew":
            dew_up.append(upload_curl(path))
        elif args.nginx:
            nginx_up.append(upload_nginx(path, run))
    os.sync()
    os.unlink(path)
path = make_tar(args.upload_runs)
os.sync()
timed = upload_timed(path)
os.unlink(path)
hwm = vm_hwm_mib(args.cc_pid)

# ---- GET /v1/apps latency ------------------------------------------------------------------------
lua = os.path.join(W, "auth.lua")
with open(lua, "w") as f:
    f.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')


def wrk(url):
    p = subprocess.run(["wrk", "-t2", "-c64", f"-d{args.wrk_seconds}s", "--latency", "-s", lua, url],
                       capture_output=True, text=True)
    if p.returncode != 0:
        die(f"wrk {url}: {p.stderr.strip()}")
    o = p.stdout
    if "Non-2xx" in o or re.search(r"Socket errors: .*[1-9]", o):
        die(f"wrk {url}: errors:\n{o}")
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}

    def pct(p):
        m = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s|m)\s*$", o, re.M)
        return float(m.group(1)) * unit[m.group(2)]

    return pct(50), pct(99), float(re.search(r"Requests/sec:\s+([\d.]+)", o).group(1))


latency = []  # (apps, JSON bytes, dew, nginx or None)
for count in app_counts if shutil.which("wrk") else []:
    create_apps(count)
    st, apps_json = request("GET", "/v1/apps")
    if st != 200 or len(json.loads(apps_json)["apps"]) != count:
        die(f"GET /v1/apps: {st} {apps_json[:300]!r}")
    lat_dew = wrk(f"{args.url}/v1/apps")
    lat_nginx = None
    if args.nginx:
        with open(os.path.join(args.nginx_root, "v1", "apps"), "wb") as f:
            f.write(apps_json)
        lat_nginx = wrk(f"{args.nginx}/v1/apps")
    latency.append((count, len(apps_json), lat_dew, lat_nginx))

# ---- report --------------------------------------------------------------------------------------
ng = f"nginx {args.nginx_version}".strip()


def met(ok):
    return "met" if ok else "MISSED"


m = statistics.median(match_ms)
print(f"## dew-controller: POST /v1/resource_match ({n:,} entries, {half:,} in the pool; "
      f"{args.match_runs} runs after a warm-up)\n")
print("| what | median ms | min ms | max ms | target |\n|---|---|---|---|---|")
print(f"| resource_match, {n:,} entries ({len(ask_body) / 1e6:.1f} MB of JSON) | {m:.1f} | {min(match_ms):.1f} | "
      f"{max(match_ms):.1f} | < 50 ms: {met(m < 50)} |")
print(f"| seeding: PUT bits of {n:,} small files ({os.path.getsize(tgz) / 1e6:.1f} MB tgz), once | "
      f"{t_seed * 1000:.0f} | - | - | - |")

mb = body_bytes / 1e6
dm = statistics.median(dew_up)
print(f"\n## dew-controller: upload of a {args.upload_mb} MB app ({NFILES} files, tar, {mb:.1f} MB body; "
      f"median of {args.upload_runs})\n")
print(f"| what | MB/s (median) | min | max | s (median) | s per run | vs {ng if args.nginx else 'a peer'} | target |")
print("|---|---|---|---|---|---|---|---|")


def runs(ts):
    return " / ".join(f"{t:.2f}" for t in ts)


ratio = f"{(mb / dm) / (mb / statistics.median(nginx_up)):.2f}x" if nginx_up else "- (no nginx)"
print(f"| dew-controller: PUT /v1/apps/:name/bits, multipart (curl -F), until the 201 | {mb / dm:.0f} | "
      f"{mb / max(dew_up):.0f} | {mb / min(dew_up):.0f} | {dm:.2f} | {runs(dew_up)} | {ratio} | >= 200 MB/s: {met(mb / dm >= 200)} |")
if nginx_up:
    nm = statistics.median(nginx_up)
    print(f"| peer: {ng}, PUT of the same tar (dav_methods PUT, no fsync) | {mb / nm:.0f} | {mb / max(nginx_up):.0f} | "
          f"{mb / min(nginx_up):.0f} | {nm:.2f} | {runs(nginx_up)} | 1.00x | - |")
else:
    print("| peer: nginx is not installed (apt-get install nginx) | - | - | - | - | - | - | - |")
size, t_sent, t_done, cpu = timed
print(f"\nOne more upload from a socket of the bench's own: the body was sent after {t_sent:.2f} s "
      f"({size / 1e6 / t_sent:.0f} MB/s), the 201 came {t_done - t_sent:.2f} s later ({t_done:.2f} s in all, "
      f"{size / 1e6 / t_done:.0f} MB/s); the controller used {cpu[0]:.2f} s of user and {cpu[1]:.2f} s of system CPU; its peak RSS after all "
      f"uploads: {hwm:.1f} MiB.")

print(f"\n## dew-controller: GET /v1/apps, wrk -t2 -c64 -d{args.wrk_seconds}s --latency\n")
if not latency:
    print("wrk is not installed (apt-get install wrk): no latency numbers.")
else:
    print(f"| server | apps listed (JSON bytes) | p50 ms | p99 ms | requests/s | p99 vs {ng if args.nginx else 'a peer'} | "
          "requests/s vs the peer | target |")
    print("|---|---|---|---|---|---|---|---|")
    for count, size, lat_dew, lat_nginx in latency:
        r99 = f"{lat_dew[1] / lat_nginx[1]:.2f}x" if lat_nginx else "- (no nginx)"
        rrq = f"{lat_dew[2] / lat_nginx[2]:.2f}x" if lat_nginx else "-"
        print(f"| dew-controller (token lookup + store reads per request) | {count} ({size:,}) | {lat_dew[0]:.2f} | "
              f"{lat_dew[1]:.2f} | {lat_dew[2]:,.0f} | {r99} | {rrq} | p99 < 20 ms: {met(lat_dew[1] < 20)} |")
        if lat_nginx:
            print(f"| peer: {ng}, 1 worker, the same JSON as a static file | {count} ({size:,}) | {lat_nginx[0]:.2f} | "
                  f"{lat_nginx[1]:.2f} | {lat_nginx[2]:,.0f} | 1.00x | 1.00x | - |")
        else:
            print(f"| peer: nginx is not installed (apt-get install nginx) | {count} | - | - | - | - | - | - |")
