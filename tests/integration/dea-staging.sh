#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Staging on the DEA over the bus (dea/stage.h, DESIGN.md sections 5.1 and 8), driven through
# tests/lib/stage-driver (a stager on a bus connection): a `staging` request downloads the
# package over HTTP, stages it in a container of the host stack, streams the STG log lines on
# log_subject in order and PUTs the droplet with its SHA-256; failures come back as
# {error, failure} (no buildpack, bad hash, unreachable upload, malformed requests, busy), the
# driver survives them all, and no scratch directory or container is left behind. On SIGTERM
# a running staging still finishes and replies; three stagings at once all succeed.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
dew_test_init dea-staging 240
command -v python3 >/dev/null || dew_skip "python3 is not installed"
dew_require_containers
DRIVER=$top_builddir/tests/lib/stage-driver
[ -x "$DRIVER" ] || dew_fail "stage-driver not built at $DRIVER"
FIX=$top_srcdir/tests/fixtures/apps

# A stacks directory as an installation has it: the host stack (built by make) and the buildpacks.
STACKS=$T/stacks
mkdir -p "$STACKS" "$T/pkgs" "$T/droplets" "$T/work"
chmod 755 "$T/work"
ln -s "$top_builddir/stacks/host" "$STACKS/host"
ln -s "$top_srcdir/stacks/buildpacks" "$STACKS/buildpacks"
[ -f "$STACKS/host/stack.json" ] || dew_fail "the host stack is not built ($top_builddir/stacks/host)"
for app in python broken-nodetect; do
	tar -C "$FIX/$app" -czf "$T/pkgs/$app.tgz" . || dew_fail "package $app"
done

# The reference log: the same executor run by hand on the same package.
"$top_builddir/stacks/dew-stage" --root "$T/state" --stacks-dir "$STACKS" "$T/pkgs/python.tgz" \
	"$T/reference.droplet" 2>"$T/reference.log" >/dev/null ||
	dew_fail "dew-stage of the python app failed: $(tail -n 5 "$T/reference.log")"

# The package and droplet server: GET /pkg/<file>[?delay=S], PUT /droplets/<name> (the body into
# droplets/<name>, the X-Droplet-Sha256 and Content-Type headers into droplets/<name>.headers).
cat >"$T/pkg-server.py" <<'PY'
import http.server, os, sys, time, urllib.parse

root, port_file = sys.argv[1], sys.argv[2]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        delay = urllib.parse.parse_qs(url.query).get("delay")
        if delay:
            time.sleep(float(delay[0]))
        path = os.path.join(root, "pkgs", os.path.basename(url.path))
        if not url.path.startswith("/pkg/") or not os.path.isfile(path):
            return self.reply(404, b"no such package\n")
        with open(path, "rb") as f:
            self.reply(200, f.read())

    def do_PUT(self):
        url = urllib.parse.urlsplit(self.path)
        name = os.path.basename(url.path)
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        out = os.path.join(root, "droplets", name)
        with open(out + ".headers", "w") as f:
            f.write("%s\n%s\n" % (self.headers.get("X-Droplet-Sha256", ""), self.headers.get("Content-Type", "")))
        with open(out + ".part", "wb") as f:
            f.write(data)
        os.rename(out + ".part", out)
        self.reply(201)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
PY
dew_spawn http python3 "$T/pkg-server.py" "$T" "$T/http.port"
dew_wait_file "$T/http.port" 20 || dew_fail "the HTTP server did not start"
HTTP_PORT=$(cat "$T/http.port")

dew_start_daemon bus "$top_builddir/bus/dew-bus"
dew_spawn driver "$DRIVER" --bus "nats://127.0.0.1:$bus_PORT" --stacks-dir "$STACKS" --stacks host,other \
	--runtime-root "$T/state" --work-dir "$T/work" --timeout 60s --download-timeout 10s --max-concurrent 1 \
	--ready-file "$T/driver.ready" --stats-file "$T/driver.stats"
dew_wait_file "$T/driver.ready" 20 || dew_fail "stage-driver not ready: $(cat "$T/driver.log")"

cat >"$T/stage.py" <<'PY'
import hashlib, json, os, re, signal, socket, sys, time
from natsclient import Nats, body, check

T, bus_port, http_port = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
HTTP = "http://127.0.0.1:%d" % http_port
n = Nats(bus_port)
seq = 0

def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()

def request(app, pkg="python.tgz", sha=None, **extra):
    """A staging request for app from pkgs/pkg, uploading to droplets/<app>."""
    req = {"app_id": app, "package_uri": "%s/pkg/%s" % (HTTP, pkg),
           "package_sha256": sha or sha256_of(os.path.join(T, "pkgs", pkg)),
           "droplet_upload_uri": "%s/droplets/%s" % (HTTP, app), "stack": "host",
           "memory": 256, "disk": 512, "env": {}, "services": [], "log_subject": "logs.%s" % app}
    req.update(extra)
    return {k: v for k, v in req.items() if v is not None}

def send(payload):
    """Publish a staging request (dict or raw text) with a fresh inbox; its inbox."""
    global seq
    seq += 1
    inbox = "_INBOX.stg.%d" % seq
    n.sub(inbox)
    if isinstance(payload, dict) and "log_subject" in payload:
        n.sub(payload["log_subject"])
    n.sync()
    n.pub("staging", payload if isinstance(payload, str) else json.dumps(payload), inbox)
    return inbox

def wait(inbox, seconds=60, logs=None):
    """The reply on inbox (a dict), or None; log messages seen meanwhile go to logs."""
    def want(m):
        if logs is not None and m[0].startswith("logs."):
            logs.append((m[0], body(m)))
        return m[0] == inbox
    m = n.first(seconds, want)
    return None if m is None else body(m)

def stage(payload, seconds=60):
    logs = []
    reply = wait(send(payload), seconds, logs)
    return reply, logs

def failed(reply, failure, text, what):
    check(reply is not None and reply.get("failure") == failure and text in reply.get("error", ""),
          "%s: {failure: %r} with %r in the error (%r)" % (what, failure, text, reply))

mode = sys.argv[1]
if mode == "checks":
    reference = open(os.path.join(T, "reference.log")).read().splitlines()

    # The python app stages; the droplet arrives with its hash in the header and the reply.
    reply, logs = stage(request("py-app", env={"GREETING": "hi"},
                                services=[{"name": "db", "label": "postgres", "credentials": {"u": "x"}}]))
    check(reply is not None and "error" not in reply, "the python app stages (%r)" % reply)
    droplet = os.path.join(T, "droplets", "py-app")
    check(os.path.isfile(droplet), "the droplet was uploaded by PUT")
    got = sha256_of(droplet)
    header, ctype = open(droplet + ".headers").read().splitlines()
    check(reply["droplet_sha256"] == got, "droplet_sha256 is the SHA-256 of the uploaded file (%s)" % got)
    check(header == got, "X-Droplet-Sha256 carries the same hash")
    check(ctype == "application/octet-stream", "the droplet is sent as application/octet-stream")
    check(reply["droplet_size"] == os.path.getsize(droplet), "droplet_size is the uploaded size")
    check(reply["buildpack"] == "python", "the python buildpack staged it")
    check(reply["start_command"] == "python3 app.py", "start_command %r" % reply["start_command"])
    check(reply["process_types"] == {"web": "python3 app.py"}, "process_types %r" % reply["process_types"])

    # Its log: every line on log_subject as {app, source STG, stream out, ts, line}, in order.
    check(all(s == "logs.py-app" for s, _ in logs), "log lines arrive on the request's log_subject")
    bodies = [b for _, b in logs]
    check(all(b.get("app") == "py-app" and b.get("source") == "STG" and b.get("stream") == "out" and
              isinstance(b.get("ts"), (int, float)) for b in bodies),
          "each log line is {app, source: STG, stream: out, ts, line}")
    check(all(a["ts"] <= b["ts"] for a, b in zip(bodies, bodies[1:])), "log timestamps never go back")
    lines = [b["line"] for b in bodies]
    check(len(lines) == len(reference) + 3, "%d log lines: the executor's %d and the DEA's 3" %
          (len(lines), len(reference)))
    check(re.fullmatch(r"-----> Downloaded app package \(\d+(\.\d)? (bytes|KiB|MiB)\)", lines[0]) is not None,
          "first line: %r" % lines[0])
    check(lines[1:-2] == reference, "then the executor's lines, in order, as dew-stage shows them")
    check(re.fullmatch(r"-----> Uploading droplet \(\d+(\.\d)? (bytes|KiB|MiB)\)", lines[-2]) is not None,
          "then %r" % lines[-2])
    check(lines[-1] == "-----> Uploaded droplet", "last line: %r" % lines[-1])

    # Without log_subject, staging works and nothing is streamed.
    every = n.sub("logs.>")
    reply, logs = stage(request("quiet-app", log_subject=None))
    check(reply is not None and reply.get("buildpack") == "python" and logs == [],
          "without log_subject the app stages and no log line is published")
    n.unsub(every)

    # Failures of the app, of the download and of the upload.
    reply, logs = stage(request("nodetect", pkg="broken-nodetect.tgz"))
    failed(reply, "no buildpack detected", "no buildpack detected", "an app no buildpack detects")
    check(not os.path.exists(os.path.join(T, "droplets", "nodetect")), "and nothing is uploaded")
    check(any("no buildpack detected" in b["line"] for _, b in logs), "the log says why too")
    reply, _ = stage(request("badsha", sha="0" * 64))
    failed(reply, "download", "SHA-256 mismatch", "a package whose hash differs")
    check(not os.path.exists(os.path.join(T, "droplets", "badsha")), "and nothing is staged or uploaded")
    reply, _ = stage(request("missing", pkg="nosuch.tgz", sha="1" * 64))
    failed(reply, "download", "HTTP 404", "a package that is not there")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    reply, _ = stage(request("noupload", droplet_upload_uri="http://127.0.0.1:%d/droplets/x" % closed))
    failed(reply, "upload", "upload the droplet to http://127.0.0.1:%d/droplets/x" % closed,
           "an unreachable droplet_upload_uri")

    # Malformed requests: a clear error naming the field.
    base = request("bad")
    cases = [("not json at all", "invalid JSON", "garbage"),
             ("[1, 2]", "must be a JSON object", "a JSON array"),
             (dict(base, app_id=None), "field `app_id` is required", "a request without app_id"),
             (dict(base, app_id="a b"), "field `app_id`", "an app_id with a space"),
             (dict(base, stack="nosuch"), "field `stack`", "a stack this DEA does not have"),
             (dict(base, package_uri="file:///etc/passwd"), "field `package_uri`", "a file:// package_uri"),
             (dict(base, package_sha256="ABC"), "field `package_sha256`", "a package_sha256 that is not hex"),
             (dict(base, memory=0), "field `memory`", "memory 0"),
             (dict(base, env={"VCAP_SERVICES": "{}"}), "field `env`", "a VCAP_ variable in env"),
             (dict(base, env={"A": 1}), "field `env.A`", "a variable that is not a string"),
             (dict(base, services=[{"name": "x"}]), "field `services[0]`", "a service without a label"),
             (dict(base, log_subject="logs.*"), "field `log_subject`", "a wildcard log_subject"),
             (dict(base, buildpack="../x"), "field `buildpack`", "a buildpack name with a path")]
    for payload, text, what in cases:
        reply, _ = stage(payload, 10)
        failed(reply, "invalid request", text, what)
    n.pub("staging", "{}")  # no reply subject: logged and dropped
    n.sync()

    # Busy: with max_concurrent 1, a second request while a slow one runs is refused at once.
    slow = send(request("slow-app", package_uri="%s/pkg/python.tgz?delay=2" % HTTP))
    t0 = time.monotonic()
    second = wait(send(request("second-app")), 10)
    check(second is not None and second.get("failure") == "busy" and "busy" in second.get("error", ""),
          "a second request while one runs is answered busy (%r)" % second)
    check(time.monotonic() - t0 < 1.5, "at once, not after the first finishes")
    first = wait(slow, 60)
    check(first is not None and first.get("buildpack") == "python", "the slow one still stages (%r)" % first)
    reply, _ = stage(request("after-busy"))
    check(reply is not None and reply.get("buildpack") == "python", "and the next request is taken again")

elif mode == "parallel":
    # Three stagings at once, each on its own thread with its own runtime context: all stage,
    # and each app's log stream is complete and in order despite the interleaving.
    reference = open(os.path.join(T, "reference.log")).read().splitlines()
    apps = ["par-%d" % i for i in range(3)]
    # Subscribe to everything first: MSGs that arrive during a later sync() would be lost.
    inboxes = {app: "_INBOX.par.%s" % app for app in apps}
    for app in apps:
        n.sub(inboxes[app])
        n.sub("logs." + app)
    n.sync()
    for app in apps:
        n.pub("staging", json.dumps(request(app)), inboxes[app])
    logs, replies, deadline = [], {}, time.monotonic() + 60
    while len(replies) < len(apps):
        m = n.msg(deadline)
        if m is None:
            break
        if m[0].startswith("logs."):
            logs.append((m[0], body(m)))
        for app, inbox in inboxes.items():
            if m[0] == inbox:
                replies[app] = body(m)
    for app in apps:
        r = replies.get(app)
        check(r is not None and r.get("buildpack") == "python" and
              r["droplet_sha256"] == sha256_of(os.path.join(T, "droplets", app)),
              "%s stages concurrently with its droplet uploaded" % app)
        lines = [b["line"] for s, b in logs if s == "logs." + app]
        check(lines[1:-2] == reference and lines[-1] == "-----> Uploaded droplet",
              "%s: its own log lines, complete and in order (%r)" % (app, lines))

elif mode == "close":
    # SIGTERM while a staging runs: it still finishes and replies; new requests are not taken.
    driver = int(sys.argv[5])
    slow = send(request("closing-app", package_uri="%s/pkg/python.tgz?delay=1" % HTTP))
    time.sleep(0.3)
    os.kill(driver, signal.SIGTERM)
    reply = wait(slow, 60)
    check(reply is not None and reply.get("buildpack") == "python",
          "after SIGTERM the running staging still replies (%r)" % reply)
    late = wait(send(request("late-app")), 1)
    check(late is None, "after SIGTERM new requests are not taken")
PY

# stage_checks WHAT MODE [ARGS...]: stage.py's checks of MODE against the running stage-driver.
stage_checks() {
	local what=$1 mode=$2
	shift 2
	pycheck "$what" "$mode" "$T" "$bus_PORT" "$HTTP_PORT" "$@" <"$T/stage.py"
}
# nothing_left WHEN: no scratch directory in the work dir and no staging container.
nothing_left() {
	dew_assert_eq "$(ls -A "$T/work")" "" "no scratch directory is left $1"
	dew_assert_eq "$("${DEW_RUN[@]}" list --json)" "[]" "no staging container is left $1"
}

stage_checks "staging checks failed" checks
kill -0 "$driver_PID" 2>/dev/null || dew_fail "stage-driver died"
dew_ok "stage-driver is still running"
rm -f "$T/driver.stats"
kill -USR1 "$driver_PID"
dew_wait_file "$T/driver.stats" 10 || dew_fail "no stats from stage-driver"
stats=$(cat "$T/driver.stats")
stat() { jget "$stats" "j['$1']"; }
dew_assert_eq "$(stat succeeded)" 4 "stats: 4 stagings succeeded"
dew_assert_eq "$(stat busy)" 1 "stats: 1 request answered busy"
dew_assert_eq "$(stat running)" 0 "stats: none running"
dew_assert_eq "$(stat requests)" $(($(stat succeeded) + $(stat failed) + $(stat busy))) \
	"stats: every request is counted once ($(stat requests))"
dew_assert_contains "$(cat "$T/driver.log")" "request without a reply subject: dropped" \
	"a request without a reply subject is logged and dropped"
nothing_left "after the checks"

stage_checks "close checks failed" close "$driver_PID"
dew_wait_exit "$driver_PID" 30
dew_assert_eq "$?" 0 "stage-driver exits 0 once the stager has closed"
nothing_left "after close"

dew_spawn driver2 "$DRIVER" --bus "nats://127.0.0.1:$bus_PORT" --stacks-dir "$STACKS" --stacks host \
	--runtime-root "$T/state" --work-dir "$T/work" --max-concurrent 3 --ready-file "$T/driver2.ready"
dew_wait_file "$T/driver2.ready" 20 || dew_fail "stage-driver not ready: $(cat "$T/driver2.log")"
stage_checks "parallel checks failed" parallel
dew_stop "$driver2_PID" 10
dew_assert_eq "$?" 0 "SIGTERM: stage-driver exits 0"
nothing_left "after concurrent stagings"
dew_pass
