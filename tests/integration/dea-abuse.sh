#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-dea under hostile bus traffic (DESIGN.md section 5.1): garbage, truncated JSON, wrong
# types, deep nesting, invalid UTF-8, payloads over 64 KiB and over 1 MiB on every subject it
# subscribes to; start messages with hostile fields (path ids, file:// URIs, negative memory,
# 10k env vars, ...) are refused with a reason; hostile droplets (paths escaping, absolute
# symlinks, hard links out, no app/) fail to start without writing outside the instance.
# Meanwhile a real instance keeps running, untouched by mistyped dea.stop filters. Afterwards
# the DEA is up, answers dea.status, has counted the drops in /metrics, and left no instance
# directory or container behind.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
dew_test_init dea-abuse 150
# A bus that carries 4 MiB messages, so the DEA itself meets the ones over 1 MiB.
dea_lib_init --max-payload 4M
dea_stage python
dea_start dea

# A real instance that must come through untouched.
mark=$(bus_mark)
VICTIM=victim-0-$R
reply=$(start_instance "$VICTIM" '{"droplet": "victim", "uris": ["victim.example.com"]}')
VPORT=$(jget "$reply" 'j["port"]')
wait_hb "$VICTIM" RUNNING 20 "$mark" || dew_fail "$VICTIM is not RUNNING"
dew_ok "$VICTIM RUNNING on port $VPORT"

# Hostile droplets, each with its true SHA-256 (so only its content is wrong).
echo "decoy" >"$T/decoy"
python3 - "$T/droplets" "$T/decoy" <<'PY'
import hashlib, io, os, sys, tarfile
out, decoy = sys.argv[1], sys.argv[2]
def droplet(name, entries, raw=None):
    path = os.path.join(out, name + ".droplet")
    if raw is not None:
        open(path, "wb").write(raw)
    else:
        with tarfile.open(path, "w:gz") as t:
            for e in entries:
                info = tarfile.TarInfo(e["name"])
                info.type = e.get("type", tarfile.REGTYPE)
                info.linkname = e.get("link", "")
                data = e.get("data", b"")
                info.size = len(data) if info.type == tarfile.REGTYPE else 0
                info.mode = 0o755 if info.type == tarfile.DIRTYPE else 0o644
                t.addfile(info, io.BytesIO(data) if info.isreg() else None)
    open(os.path.join(out, name + ".sha256"), "w").write(hashlib.sha256(open(path, "rb").read()).hexdigest())
manifest = {"name": "droplet.json", "data": b'{"start_command": "sleep 1000"}'}
app = {"name": "app", "type": tarfile.DIRTYPE}
droplet("escape", [manifest, app, {"name": "app/ok", "data": b"ok"}, {"name": "../../escape.txt", "data": b"pwned"}])
droplet("abslink", [manifest, app, {"name": "app/evil", "type": tarfile.SYMTYPE, "link": decoy}])
droplet("hardlink", [manifest, app, {"name": "app/hard", "type": tarfile.LNKTYPE, "link": decoy}])
droplet("uplink", [manifest, app, {"name": "app/up", "type": tarfile.SYMTYPE, "link": "../../../decoy"}])
droplet("appfile", [manifest, {"name": "app", "data": b"not a directory"}])
droplet("applink", [manifest, {"name": "real", "type": tarfile.DIRTYPE}, {"name": "app", "type": tarfile.SYMTYPE, "link": "real"}])
droplet("noapp", [manifest])
droplet("notatar", None, raw=os.urandom(4096))
PY
chown root:root "$T/decoy" && chmod 600 "$T/decoy"
HOSTILE_DROPLETS="escape abslink hardlink uplink appfile applink noapp notatar"

cat >"$T/abuse.py" <<'PY'
import json, os, sys
from natsclient import Nats
port, dea_id, droplet_port = int(sys.argv[1]), sys.argv[2], sys.argv[3]
n = Nats(port)
n.sub("_INBOX.abuse.>")
n.sync()
subjects = ["dea.%s.start" % dea_id, "dea.stop", "dea.update", "dea.find.droplet", "dea.locate", "dea.status",
            "router.start", "healthmanager.start", "vcap.component.discover"]
# Payloads every handler must drop (not a JSON object, or over the size bounds).
bad = [b"garbage", b"{", b'{"droplet": "x"', b'{"droplet": "x",}', b"[1, 2, 3]", b"null", b"42", b'"str"', b"true",
       b"\xff\xfe\xfd", b'{"droplet": "\xff\xfe"}', b'{"droplet": "a\\u0000b"}', b"\xef\xbb\xbf{}",
       b"[" * 30000 + b"]" * 30000, b'{"a":' * 12000 + b"1" + b"}" * 12000, b"{" + b'"k": 1, ' * 8000 + b'"z": NaN}',
       b'{"droplet": "' + b"a" * 70000 + b'"}', b"{" + b" " * (1536 * 1024) + b"}", b"[" + b"0," * (600 * 1024) + b"0]"]
# JSON objects of the wrong shape, per subject (each is dropped there; all are refused by start).
ids = [b"{}", b'{"droplet": 1}', b'{"droplet": null, "uris": {}}', b'{"droplet": ["victim"]}',
       b'{"droplet": "' + b"v" * 65 + b'"}']
filters = [b'{"droplet": "victim", "version": 7}', b'{"droplet": "victim", "indices": "0"}',
           b'{"droplet": "victim", "indices": {"0": 0}}', b'{"droplet": "victim", "instances": "victim-0"}',
           b'{"droplet": "victim", "states": "RUNNING"}', b'{"droplet": "victim", "instances": {"victim-0": 1}}',
           b'{"droplet": "victim", "indices": [' + b"0," * 10001 + b"0]}"]
updates = [b'{"droplet": "victim"}', b'{"droplet": "victim", "uris": 5}', b'{"droplet": "victim", "uris": [1, 2]}',
           b'{"droplet": "victim", "uris": "victim.example.com"}',
           b'{"droplet": "victim", "uris": [' + b'"u.example.com",' * 64 + b'"v.example.com"]}',
           # well typed, but no route: the same rules as a start message's uris
           b'{"droplet": "victim", "uris": ["Evil Host!"]}', b'{"droplet": "victim", "uris": ["ok.example.com", ""]}',
           b'{"droplet": "victim", "uris": ["x.example.com/../../y?#"]}', b'{"droplet": "victim", "uris": ["a\\u0001b"]}',
           b'{"droplet": "victim", "uris": ["' + b"a" * 64 + b'.example.com"]}']
wrong = {subjects[0]: ids + filters + updates + [b'{"droplet": "victim", "include_stats": "yes"}',
                                                  b'{"droplet": "victim/../x", "uris": []}'],
         "dea.stop": ids + filters, "dea.find.droplet": ids + filters + [b'{"droplet": "victim", "include_stats": "yes"}'],
         "dea.update": ids + updates}
dropped = 0
for s in subjects:
    for p in bad + wrong.get(s, []):
        n.pub(s, p, "_INBOX.abuse.x")
        dropped += 1
    # And no reply subject at all (requests are then ignored, the rest dropped alike).
    n.pub(s, b"{")
    dropped += s not in ("dea.find.droplet", "dea.status", "vcap.component.discover")
n.sync()

# Start messages with hostile fields: each refused with a reason, nothing created.
def start(**over):
    m = {"droplet": "hostile", "name": "hostile", "version": "v1", "instance_id": "hostile-0-" + os.environ["R"], "index": 0,
         "droplet_uri": "http://127.0.0.1:%s/python.droplet" % droplet_port, "droplet_sha256": "a" * 64,
         "stack": "host", "memory": 128, "env": {}, "services": [], "uris": []}
    m.update(over)
    return {k: v for k, v in m.items() if v is not KeyError}
env10k = {"USER_%d" % i: "x" for i in range(10000)}
hostile = [
    start(instance_id="../x"), start(instance_id="a/b"), start(instance_id=".hidden"), start(instance_id=""),
    start(instance_id="i" * 65), start(instance_id=7), start(instance_id=KeyError), start(droplet="../../etc"),
    start(version="v 1"), start(stack="../host"), start(stack="host/../../x"),
    start(droplet_uri="file:///etc/passwd"), start(droplet_uri="ftp://127.0.0.1/x"), start(droplet_uri="http://"),
    start(droplet_uri="gopher://127.0.0.1:70/x"), start(droplet_uri="http://a b/"), start(droplet_uri="/etc/passwd"),
    start(droplet_uri="http://x/" + "a" * 5000),
    start(memory=-128), start(memory=0), start(memory="128"), start(memory=1.5), start(memory=10 ** 20),
    start(memory=65537), start(index=-1), start(index=10001), start(disk=-1), start(fds=1), start(fds=10 ** 7),
    start(env=env10k), start(env={"A=B": "x"}), start(env={"": "x"}), start(env={"X": 1}), start(env={"X": "a\u0000b"}),
    start(env={"X": "v" * 40000}), start(env=["X=1"]),
    start(services="x"), start(services=[1]), start(services=[{"name": "a"}]),
    start(services=[{"name": "s%d" % i, "label": "l"} for i in range(65)]),
    start(uris="x.example.com"), start(uris=["evil host"]), start(uris=["a..b"]), start(uris=[""]),
    start(uris=["-a.example.com"]), start(uris=["a.example.com?x=1"]), start(uris=["u%d.example.com" % i for i in range(65)]),
    start(health_check="maybe"), start(start_command="x" * 5000), start(droplet_sha256="A" * 64),
    start(droplet_sha256="abc"), start(name=""), start(name="bad\u0001name"), start(stack=KeyError),
]
for i, m in enumerate(hostile):
    n.pub("dea.%s.start" % dea_id, json.dumps(m), "_INBOX.abuse.start.%d" % i)
dropped += len(hostile)
# A barrier: the DEA handles one connection's messages in order.
n.pub("dea.status", b"{}", "_INBOX.abuse.status")
refusals, status = {}, None
while status is None:
    m = n.msg(__import__("time").monotonic() + 20)
    if m is None:
        sys.exit("no dea.status reply after the abuse")
    if m[0] == "_INBOX.abuse.status":
        status = json.loads(m[2])
    elif m[0].startswith("_INBOX.abuse.start."):
        refusals[int(m[0].rsplit(".", 1)[1])] = json.loads(m[2])
print(json.dumps({"dropped": dropped, "hostile": len(hostile), "refusals": refusals, "status": status}))
PY

dropped_before=$(metric dew_dea_dropped_messages_total "$dea_STATUS_PORT")
mark=$(bus_mark)
out=$(PYTHONPATH=$top_srcdir/tests/lib python3 "$T/abuse.py" "$bus_PORT" "$DEA_ID" "$DROPLETS_PORT" 2>&1) ||
	dew_fail "the abuse driver failed: $out"
kill -0 "$dea_PID" 2>/dev/null || dew_fail "dew-dea died under the abuse"
dew_ok "dew-dea survived the abuse on every subject"
pycheck "the abuse replies" "$out" <<'PY'
import json, sys
from natsclient import check
o = json.loads(sys.argv[1])
r = o["refusals"]
check(o["status"]["id"] == "dea1", "dea.status answers after the abuse")
check(len(r) == o["hostile"], "every hostile start got a reply (%d of %d)" % (len(r), o["hostile"]))
check(all("error" in x and "port" not in x for x in r.values()),
      "every hostile start was refused: %s" % [k for k, x in r.items() if "error" not in x])
check(all(x["error"].startswith("invalid start message: ") for x in r.values()), "each refusal says why")
check(o["status"]["num_instances"] == 1 and o["status"]["reserved_memory"] == 128,
      "dea.status: still one instance, 128 MB reserved")
PY
want=$(jget "$out" 'j["dropped"]')
dropped_after=$(metric dew_dea_dropped_messages_total "$dea_STATUS_PORT")
[ "$dropped_after" -ge $((dropped_before + want)) ] ||
	dew_fail "dew_dea_dropped_messages_total went from $dropped_before to $dropped_after, expected at least +$want"
dew_ok "/metrics: dew_dea_dropped_messages_total +$((dropped_after - dropped_before)) (at least $want)"
bus_wait "$mark" 0 'router.*' --expr "s in ('router.register', 'router.unregister')" --none >/dev/null ||
	dew_fail "the abuse changed a route"
found=$(bus_request dea.find.droplet '{"droplet": "victim", "include_stats": true}' 1)
dew_assert_eq "$(jget "$found" 'j["stats"]["uris"]')" '["victim.example.com"]' "$VICTIM keeps its route"
bus_wait "$mark" 0 droplet.exited --none >/dev/null || dew_fail "the abuse stopped an instance"
dew_ok "no instance stopped, no router.register or router.unregister from the abuse"

# ---- hostile droplets ----
mark=$(bus_mark)
for d in $HOSTILE_DROPLETS; do
	reply=$(start_instance "h-$d-$R" "{\"droplet\": \"h-$d\", \"_droplet\": \"$d\", \"health_check\": \"none\"}")
	[ "$(jget "$reply" '"port" in j')" = true ] || dew_fail "the start of droplet $d was refused: $reply"
done
for d in $HOSTILE_DROPLETS; do
	ex=$(bus_wait "$mark" 20 droplet.exited --eq instance="h-$d-$R") || dew_fail "no droplet.exited for droplet $d"
	desc=$(jget "$ex" 'j["exit_description"]')
	[ "$(jget "$ex" 'j["reason"]')" = CRASHED ] && [[ "$desc" == "start failed: "* ]] ||
		dew_fail "droplet $d: $ex"
	dew_ok "droplet $d: CRASHED, $desc"
done
[ ! -e "$T/escape.txt" ] && [ ! -e "$T/dea-base/escape.txt" ] && [ ! -e "$T/dea-base/instances/escape.txt" ] ||
	dew_fail "a droplet wrote outside its instance"
dew_ok "nothing was written outside the instances"
dew_assert_eq "$(stat -c '%u:%g %a' "$T/decoy") $(cat "$T/decoy")" "0:0 600 decoy" \
	"the file the links pointed at is untouched (owner, mode, content)"

# ---- afterwards ----
dew_http body "http://127.0.0.1:$VPORT/"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "$VICTIM still answers"
found=$(bus_request dea.find.droplet '{"droplet": "victim"}' 1)
dew_assert_eq "$(jget "$found" '[j["instance"], j["state"]]')" "[\"$VICTIM\", \"RUNNING\"]" "$VICTIM is still RUNNING"
kill -0 "$dea_PID" 2>/dev/null || dew_fail "dew-dea died"
dew_http body "http://127.0.0.1:$dea_STATUS_PORT/health"
dew_assert_eq "$DEW_HTTP_STATUS" 200 "dew-dea /health answers 200"
want_dirs=$(for d in $HOSTILE_DROPLETS; do echo "h-$d"; done; echo victim-0)
dew_assert_eq "$(ls "$T/dea-base/instances" | short_ids)" "$(short_ids <<<"$want_dirs")" \
	"instance directories: $VICTIM and the crash records only"
dew_assert_eq "$(ls "$T/dea-base" | tr '\n' ' ')" "droplets instances " "nothing else in the base dir (no ../x)"
dew_assert_eq "$(containers | short_ids)" "victim-0" "containers: $VICTIM only"
dew_stop "$dea_PID" 15
dew_assert_eq "$?" 0 "SIGTERM: dew-dea exits 0"
dew_assert_eq "$(containers | tr '\n' ' ')$(ls "$T/dea-base/instances")" "" "no container or instance directory is left"
dew_pass
