#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host stack: stacks/host/build-rootfs.sh builds it (again idempotently), the library loads
# the result and advertises exactly the runtimes the host has below /usr, and a container on it
# (spec from stack-show, i.e. dew_stack_load + dew_stack_apply) sees the vcap user, /etc/hosts,
# resolv.conf, the host's CA certificates (python3's ssl) and a read-only root.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init stack-host 120
dew_require_containers
RUN=("${DEW_RUN[@]}")
build=$top_srcdir/stacks/host/build-rootfs.sh
stacks=$T/stacks

sh "$build" "$stacks/host" || dew_fail "build-rootfs.sh failed"
dew_ok "build-rootfs.sh builds the host stack"
listing() {
	(cd "$stacks/host" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort && find . -type f -exec cksum {} + | LC_ALL=C sort)
}
before=$(listing)
start=$(date +%s%N)
sh "$build" "$stacks/host" || dew_fail "build-rootfs.sh failed the second time"
ms=$((($(date +%s%N) - start) / 1000000))
dew_assert_eq "$(listing)" "$before" "a second build leaves the same tree"
[ "$ms" -lt 1000 ] || dew_fail "a rebuild took $ms ms"
dew_ok "a rebuild takes $ms ms"

show=$("$top_builddir/tests/lib/stack-show" "$stacks" host 2>&1) || dew_fail "the built stack does not load: $show"
python3 - "$show" "$stacks/host/rootfs" <<'PY' || dew_fail "the loaded stack does not mirror the host (see above)"
import json, os, sys
s, root = json.loads(sys.argv[1]), sys.argv[2]
def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        sys.exit(1)
check(s["name"] == "host" and s["rootfs"] == os.path.realpath(root), "name and absolute rootfs")
mounts = {m["target"]: m for m in s["mounts"]}
check(mounts.get("/usr", {}).get("source") == "/usr" and all(m["readonly"] for m in s["mounts"]),
      "/usr and every other mount bound read-only")
for d in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
    h, r = "/" + d, os.path.join(root, d)
    if os.path.islink(h):
        check(os.readlink(r) == os.readlink(h) and h not in mounts, "%s: the host's symlink" % h)
    elif os.path.isdir(h):
        check(os.path.isdir(r) and not os.path.islink(r) and mounts[h]["source"] == h, "%s: bound" % h)
    else:
        check(not os.path.lexists(r) and h not in mounts, "%s: absent as on the host" % h)
# What the container can run comes through /usr: a pyenv shim in /root does not count.
def has(rt):
    return any(os.access(os.path.join(d, rt), os.X_OK) and os.path.isfile(os.path.join(d, rt))
               for d in ("/usr/local/bin", "/usr/bin"))
want = [rt for rt in ("python3", "node", "perl", "ruby", "sh") if has(rt)]
check(s["runtimes"] == want, "runtimes %s are the host's %s" % (s["runtimes"], want))
PY
dew_ok "the loaded stack mirrors the host: $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["runtimes"])' "$show")"

# run_on_stack ID UID ARGS...: run ARGS in a container on the host stack as UID (app dir $T/app-ID).
run_on_stack() {
	local id=$1 uid=$2
	shift 2
	python3 - "$T/$id.json" "$id" "$uid" "$show" "$T/app-$id" "$@" <<'PY'
import json, os, sys
file, cid, uid, show, app = sys.argv[1:6]
s = json.loads(show)
os.makedirs(app, exist_ok=True)
os.chown(app, 1000, 1000)
spec = {"id": cid, "rootfs": s["rootfs"], "mounts": s["mounts"], "app_dir": app, "args": sys.argv[6:],
        "env": ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/vcap/app"], "network": "none",
        "user": {"uid": int(uid), "gid": int(uid)}, "limits": {"memory_mb": 256, "pids": 64}}
json.dump(spec, open(file, "w"))
PY
	"${RUN[@]}" run --rm "$T/$id.json" >/dev/null 2>"$T/$id.err" || {
		cat "$T/$id.err" >&2
		return 1
	}
}

# The app's stdout goes to the state dir, which --rm deletes: each command writes into the app dir.
run_on_stack ids 1000 /bin/sh -c 'exec >/home/vcap/app/out 2>&1; id vcap; id -un; getent hosts localhost;
	test -s /etc/resolv.conf && echo resolv ok; ls -d /proc/1 /dev/null /tmp' ||
	dew_fail "a container on the host stack did not run"
out=$(cat "$T/app-ids/out")
dew_assert_contains "$out" "uid=1000(vcap) gid=1000(vcap) groups=1000(vcap)" "id vcap: uid 1000"
dew_assert_contains "$out" $'\nvcap\n' "the app runs as vcap"
dew_assert_contains "$out" "localhost" "/etc/hosts resolves localhost"
dew_assert_contains "$out" "resolv ok" "/etc/resolv.conf exists"

run_on_stack ro 0 /bin/sh -c 'exec >/home/vcap/app/out 2>&1; touch /etc/passwd /x && echo WRITABLE;
	awk "\$2 == \"/\" { print \$4 }" /proc/mounts' || dew_fail "the read-only check did not run"
out=$(cat "$T/app-ro/out")
dew_assert_not_contains "$out" "WRITABLE" "root in the container cannot write to the stack root"
dew_assert_contains "$out" "Read-only file system" "... because the root is read-only"
dew_assert_contains "$out" "ro," "/proc/mounts shows / read-only"

if [ -x /usr/bin/python3 ] || [ -x /usr/local/bin/python3 ]; then
	mkdir -p "$T/app-py"
	cat >"$T/app-py/check.py" <<'PY'
import os, ssl, sys
paths = ssl.get_default_verify_paths()
ctx = ssl.create_default_context()
ctx.load_verify_locations(capath=paths.capath)
cas = [f for f in os.listdir(paths.capath) if f.endswith(".0") and os.path.exists(os.path.join(paths.capath, f))]
print(sys.version_info[0], len(cas) > 0)
PY
	run_on_stack py 1000 /bin/sh -c 'exec >/home/vcap/app/out 2>&1; exec python3 /home/vcap/app/check.py' ||
		dew_fail "python3 did not run on the host stack"
	dew_assert_eq "$(cat "$T/app-py/out")" "3 True" \
		"python3 runs on the host stack, imports ssl and finds the host's CA certificates"
else
	echo "# the host has no python3 below /usr: the python3 check is left out"
fi
dew_pass
