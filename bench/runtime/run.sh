#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Container start cost of dew-run next to crun, on the same root filesystem with equivalent isolation:
# start -> exit of /bin/true (BENCH_RUNS each, medians and the ratio), the private memory of one idle
# monitor, and BENCH_SERIAL containers run one after the other. A benchmark: it exits non-zero only
# when a runtime fails, never because a target was missed. Needs root and crun (apt-get install crun).
#
# usage: run.sh [DEW_RUN]   (or DEW_RUN=... run.sh; BENCH_RUNS=20 BENCH_SERIAL=100 BENCH_GAP_MS=0)
set -euo pipefail

case "${1:-}" in
-h | --help)
	sed -n '8p' "$0" | sed 's/^# //'
	exit 0
	;;
esac
DEW_RUN=${1:-${DEW_RUN:-}}
CRUN=${CRUN:-crun}
BENCH_RUNS=${BENCH_RUNS:-20}
BENCH_SERIAL=${BENCH_SERIAL:-100}
# A pause between the timed runs (outside the timings). Back to back (0), a runtime that is fast
# enough finds the kernel's cgroup-migration lock still warm from its previous run; with a pause of
# 50 ms or more every start pays that RCU grace period, as sporadic starts on a node do.
BENCH_GAP_MS=${BENCH_GAP_MS:-0}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)

die() {
	echo "run.sh: $*" >&2
	exit 1
}
[[ -x "$DEW_RUN" ]] || die "DEW_RUN='$DEW_RUN' is not an executable dew-run (build it first)"
command -v "$CRUN" >/dev/null || die "$CRUN not found: install it (apt-get install crun) or set CRUN"
command -v python3 >/dev/null || die "python3 is needed to write the OCI config and to time runs"
command -v unshare >/dev/null || die "unshare (util-linux) is needed"
[[ $EUID -eq 0 ]] || die "containers need root: run as root"
[[ "$BENCH_RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS='$BENCH_RUNS' is not a positive number"
[[ "$BENCH_SERIAL" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SERIAL='$BENCH_SERIAL' is not a positive number"
[[ "$BENCH_GAP_MS" =~ ^[0-9]+$ ]] || die "BENCH_GAP_MS='$BENCH_GAP_MS' is not a number"
[[ -r "$srcdir/runtime/seccomp-profile.c" ]] || die "$srcdir/runtime/seccomp-profile.c not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/runtime-bench.XXXXXX")
chmod 755 "$tmp" # the container's user (uid 1000) walks through it to its app dir
dew=("$DEW_RUN" --root "$tmp/state")
crun=("$CRUN" --root "$tmp/crunroot")

# On a hybrid host (v1 controllers, cgroup2 at /sys/fs/cgroup/unified) crun picks cgroup v2, where
# no controller is enabled: it gets a private mount namespace with an empty tmpfs over the cgroup2
# mount, so it sees a legacy v1 host as dew-run does. Only crun runs in there.
hybrid=0
if [[ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = tmpfs &&
	"$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]]; then
	hybrid=1
fi
crun_ns() {
	if ((hybrid)); then
		unshare -m sh -c 'mount -t tmpfs -o size=64k,mode=755 dew-bench /sys/fs/cgroup/unified && exec "$@"' \
			crun-ns "$@"
	else
		"$@"
	fi
}

# crun's group goes below our own (the memory controller's on v1), as dew-run's does. crun uses the
# same path in every v1 hierarchy and creates missing parents there: those are removed at exit.
own_cg=$(awk -F: '$2 == "memory" { print $3; exit }' /proc/self/cgroup)
[[ -n "$own_cg" ]] || own_cg=$(awk -F: '$1 == "0" { print $3; exit }' /proc/self/cgroup)
[[ "$own_cg" = / ]] && own_cg=
crun_cg="$own_cg/dew-bench-crun"
crun_cg_made=() # parents crun will create, deepest first
for h in /sys/fs/cgroup/*/; do
	[[ "$(stat -f -c %T "$h" 2>/dev/null)" = cgroupfs ]] || continue
	p=${own_cg}
	while [[ -n "$p" && ! -d "${h%/}$p" ]]; do
		crun_cg_made+=("${h%/}$p")
		p=${p%/*}
	done
done

failed=1
cleanup() {
	local id d
	set +e # remove everything that can be removed
	for id in $("${dew[@]}" list --json 2>/dev/null |
		python3 -c 'import json, sys; [print(c["id"]) for c in json.load(sys.stdin)]' 2>/dev/null); do
		"${dew[@]}" delete -f "$id" >/dev/null 2>&1 || echo "run.sh: could not delete dew container $id" >&2
	done
	if [[ -d "$tmp/crunroot" ]]; then
		for id in $(crun_ns "${crun[@]}" list -q 2>/dev/null); do
			crun_ns "${crun[@]}" delete -f "$id" >/dev/null 2>&1 ||
				echo "run.sh: could not delete crun container $id" >&2
		done
	fi
	for h in /sys/fs/cgroup/*/; do
		[[ -d "${h%/}$crun_cg" ]] && rmdir "${h%/}$crun_cg" 2>/dev/null
	done
	for d in "${crun_cg_made[@]}"; do
		[[ -d "$d" ]] && rmdir "$d" 2>/dev/null
	done
	if [[ $failed -ne 0 && -s "$tmp/last-error" ]]; then
		echo "--- last error" >&2
		cat "$tmp/last-error" >&2
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- one root filesystem for both runtimes: /usr bound from the host, the usual symlinks ----
rootfs=$tmp/rootfs
mkdir -p "$rootfs"/{usr,etc,proc,dev,sys,tmp,home/vcap/app,probe} "$tmp/app"
for d in bin lib lib64 sbin; do
	if [[ -L "/$d" ]]; then ln -s "$(readlink "/$d")" "$rootfs/$d"; else mkdir -p "$rootfs/$d"; fi
done
printf 'root:x:0:0::/root:/bin/sh\nvcap:x:1000:1000::/home/vcap:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nvcap:x:1000:\n' >"$rootfs/etc/group"
chown 1000:1000 "$tmp/app"

# dew-run specs: /bin/true for the timings, /bin/sleep for the idle monitor.
python3 - "$tmp" "$rootfs" <<'PY'
import json, os, sys
tmp, rootfs = sys.argv[1:3]
mounts = [{"source": "/usr", "target": "/usr", "readonly": True}]
for d in ("bin", "lib", "lib64", "sbin"):
    if os.path.isdir("/" + d) and not os.path.islink("/" + d):
        mounts.append({"source": "/" + d, "target": "/" + d, "readonly": True})
for name, args in (("true", ["/bin/true"]), ("idle", ["/bin/sleep", "30"])):
    spec = {"id": "dew-bench-" + name, "rootfs": rootfs, "app_dir": tmp + "/app", "mounts": mounts,
            "args": args, "env": ["PATH=/usr/bin:/bin", "HOME=/home/vcap/app"], "network": "none",
            "limits": {"memory_mb": 64, "pids": 64}}
    with open(f"{tmp}/dew-{name}.json", "w") as f:
        json.dump(spec, f)
PY

# The crun bundle: `crun spec` edited to what dew-run does (namespaces, limits, user, capabilities,
# mounts, masks), with dew's own seccomp profile regenerated from runtime/seccomp-profile.c.
mkdir -p "$tmp/bundle"
(cd "$tmp/bundle" && "$CRUN" spec) || die "crun spec failed"
seccomp_note=$(python3 - "$tmp/bundle/config.json" "$rootfs" "$tmp/app" "$srcdir/runtime/seccomp-profile.c" \
	"$crun_cg" <<'PY'
import json, os, platform, re, sys
cfgfile, rootfs, app, profile_src, cgpath = sys.argv[1:6]
with open(cfgfile) as f:
    cfg = json.load(f)
# dew's nine capabilities (docs/container-spec.md), uid 1000, no_new_privs, RLIMIT_NOFILE 1024.
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE"]
cfg["process"].update(
    terminal=False, args=["/bin/true"], env=["PATH=/usr/bin:/bin", "HOME=/home/vcap/app"],
    cwd="/home/vcap/app", user={"uid": 1000, "gid": 1000}, noNewPrivileges=True,
    capabilities={"bounding": caps, "effective": caps, "permitted": caps, "inheritable": [], "ambient": []},
    rlimits=[{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}])
cfg["root"] = {"path": rootfs, "readonly": True}
cfg["hostname"] = "dew-bench"
# dew mounts proc, a tmpfs /dev with devpts and shm, sysfs read-only, /tmp, the app dir and the
# spec's binds; no mqueue and no cgroupfs.
mounts = [m for m in cfg["mounts"] if m["destination"] not in ("/dev/mqueue", "/sys/fs/cgroup")]
binds = [("/usr", "/usr", "ro")] + [("/" + d, "/" + d, "ro") for d in ("bin", "lib", "lib64", "sbin")
                                    if os.path.isdir("/" + d) and not os.path.islink("/" + d)]
binds.append((app, "/home/vcap/app", "rw"))
mounts += [{"destination": t, "type": "bind", "source": s, "options": ["bind", m, "nosuid", "nodev"]}
           for s, t, m in binds]
mounts.append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]})
cfg["mounts"] = mounts
lx = cfg["linux"]
lx["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]
lx["resources"]["memory"] = {"limit": 64 << 20, "swap": 64 << 20}  # swap off, as dew
lx["resources"]["pids"] = {"limit": 64}
lx["cgroupsPath"] = cgpath
lx["maskedPaths"] = sorted(set(lx["maskedPaths"]) | {"/proc/interrupts", "/sys/devices/virtual/powercap"})
# Seccomp: dew-default-1. The unconditional allow-list is read from the source; the argument rules
# mirror dewrt__sc_rules. dew's second filter (TIOCSTI/TIOCLINUX refused) has no OCI equivalent
# on top of an EPERM default, so crun's filter allows every ioctl, as Docker's does.
with open(profile_src) as f:
    src = f.read()
m = re.search(r"dewrt__sc_allow\[\]\s*=\s*\{(.*?)\};", src, re.S)
allow = re.findall(r'"([A-Za-z0-9_]+)"', re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)) if m else []
if len(allow) < 100:
    sys.exit(f"could not read the allow-list from {profile_src}")
def rule(name, cmp=None, errno=None):
    r = {"names": [name], "action": "SCMP_ACT_ERRNO" if errno else "SCMP_ACT_ALLOW"}
    if errno:
        r["errnoRet"] = errno
    if cmp:
        r["args"] = [{"index": cmp[0], "value": cmp[1], "valueTwo": cmp[2], "op": cmp[3]}]
    return r
ENOSYS, CLONE_NS = 38, 0x7e020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
rules = [{"names": allow, "action": "SCMP_ACT_ALLOW"},
         rule("clone", (0, CLONE_NS, 0, "SCMP_CMP_MASKED_EQ")),
         rule("clone3", errno=ENOSYS), rule("socketcall", errno=ENOSYS)]
for fam in (1, 2, 10, 16):  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK
    rules += [rule("socket", (0, fam, 0, "SCMP_CMP_EQ")), rule("socketpair", (0, fam, 0, "SCMP_CMP_EQ"))]
for v in (0, 8, 0x20000, 0x20008, 0xffffffff):  # PER_LINUX, PER_LINUX32, UNAME26, both, query
    rules.append(rule("personality", (0, v, 0, "SCMP_CMP_EQ")))
arches = {"x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
          "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}.get(platform.machine(), [])
lx["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": arches,
                 "syscalls": rules}
with open(cfgfile, "w") as f:
    json.dump(cfg, f, indent=1)
print(f"dew-default-1 rebuilt from runtime/seccomp-profile.c ({len(allow)} allowed names and the "
      "clone/clone3/socket/socketpair/socketcall/personality argument rules, EPERM default; "
      "without dew's second filter refusing TIOCSTI/TIOCLINUX)")
PY
) || die "could not write the crun config"

# bench.py OUT N GAP_MS CMD...: one untimed warm-up run, then N runs of CMD ({i} is the run number),
# each timed start -> exit with a monotonic clock, GAP_MS apart; adds the times (ms) and the wall
# time to the JSON in OUT.
cat >"$tmp/bench.py" <<'PY'
import json, os, subprocess, sys, time
out, n, gap, cmd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000, sys.argv[4:]
errf = out + ".err"
res = {"ms": [], "wall_s": 0.0}
if os.path.exists(out):
    with open(out) as f:
        res = json.load(f)
def run(i):
    time.sleep(gap)
    with open(errf, "w") as err:
        t = time.perf_counter()
        rc = subprocess.run([a.replace("{i}", str(i)) for a in cmd], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=err).returncode
        t = time.perf_counter() - t
    if rc != 0:
        with open(errf) as f:
            sys.exit(f"run {i} of {' '.join(cmd)} exited with {rc}: {f.read().strip()}")
    return t * 1000
base = len(res["ms"])
run(base)
wall = time.perf_counter()
res["ms"] += [run(base + i) for i in range(1, n + 1)]
res["wall_s"] += time.perf_counter() - wall
with open(out, "w") as f:
    json.dump(res, f)
PY

# timed OUT N GAP_MS CMD...: bench.py, its error kept for the cleanup's report.
timed() {
	python3 "$tmp/bench.py" "$@" 2>"$tmp/last-error" || die "$(basename "$1" .json) run failed"
}
bench_dew() {
	timed "$tmp/dew.json" "$1" "$BENCH_GAP_MS" "${dew[@]}" run --rm "$tmp/dew-true.json"
}
bench_crun() {
	crun_ns python3 "$tmp/bench.py" "$tmp/crun.json" "$1" "$BENCH_GAP_MS" \
		"${crun[@]}" run -b "$tmp/bundle" "dew-bench-crun-{i}" 2>"$tmp/last-error" || die "crun run failed"
}

# The runs in blocks of 5, in the order dew crun crun dew dew crun ..., so that a change of load on
# the machine during the bench weighs on both runtimes alike.
start=$SECONDS
echo "bench: $BENCH_RUNS x dew-run run --rm and $BENCH_RUNS x crun run (/bin/true), ${BENCH_GAP_MS} ms apart" >&2
left=$BENCH_RUNS block=0
while ((left > 0)); do
	n=$((left < 5 ? left : 5))
	if ((block % 2 == 0)); then bench_dew "$n"; bench_crun "$n"; else bench_crun "$n"; bench_dew "$n"; fi
	left=$((left - n)) block=$((block + 1))
done

# One idle container: its monitor's private dirty memory.
echo "bench: idle monitor" >&2
"${dew[@]}" create "$tmp/dew-idle.json" >/dev/null 2>"$tmp/last-error" || die "dew-run create failed"
"${dew[@]}" start dew-bench-idle 2>"$tmp/last-error" || die "dew-run start failed"
sleep 0.5
monitor=$("${dew[@]}" state dew-bench-idle | python3 -c 'import json, sys; print(json.load(sys.stdin)["monitor_pid"])')
smaps=/proc/$monitor/smaps_rollup
[[ -r "$smaps" ]] || smaps=/proc/$monitor/smaps
awk '$1 ~ /^(Rss|Pss|Private_Clean|Private_Dirty):$/ { v[$1] += $2 }
	END { printf "{\"rss_kb\": %d, \"pss_kb\": %d, \"private_clean_kb\": %d, \"private_dirty_kb\": %d}\n",
		v["Rss:"], v["Pss:"], v["Private_Clean:"], v["Private_Dirty:"] }' "$smaps" >"$tmp/idle.json"
"${dew[@]}" delete -f dew-bench-idle 2>"$tmp/last-error" || die "dew-run delete -f failed"

echo "bench: $BENCH_SERIAL x dew-run run --rm in a row" >&2
timed "$tmp/serial.json" "$BENCH_SERIAL" 0 "${dew[@]}" run --rm "$tmp/dew-true.json"

python3 - "$tmp" "$("$CRUN" --version | head -n 1)" "$seccomp_note" "$hybrid" "$BENCH_SERIAL" "$BENCH_GAP_MS" <<'PY'
import json, statistics, sys, textwrap
tmp, crun_version, seccomp_note, hybrid, serial_n, gap = sys.argv[1:7]
load = lambda name: json.load(open(f"{tmp}/{name}.json"))
dew, crun, idle, serial = load("dew"), load("crun"), load("idle"), load("serial")
def p90(v):
    s = sorted(v)
    return s[max(0, -(-len(s) * 9 // 10) - 1)]  # nearest rank
print(f"## dew-run vs {crun_version}: start -> exit of /bin/true")
print()
print("| runtime | runs | median ms | p90 ms | min ms | max ms |")
print("|---|---|---|---|---|---|")
for name, r in (("dew-run", dew), ("crun", crun)):
    v = r["ms"]
    print(f"| {name} | {len(v)} | {statistics.median(v):.1f} | {p90(v):.1f} | {min(v):.1f} | {max(v):.1f} |")
ratio = statistics.median(dew["ms"]) / statistics.median(crun["ms"])
verdict = lambda ok: "met" if ok else "MISSED"
print()
print("Targets:")
print(f"- start -> exit <= 0.6x crun (medians): {ratio:.2f}x, {verdict(round(ratio, 2) <= 0.6)}")
pd = idle["private_dirty_kb"]
print(f"- idle monitor Private_Dirty < 1 MiB: {pd} KiB, {verdict(pd < 1024)} "
      f"(Rss {idle['rss_kb']} KiB, Pss {idle['pss_kb']} KiB, Private_Clean {idle['private_clean_kb']} KiB)")
v = serial["ms"]
print(f"- {serial_n} containers in a row (dew-run run --rm): {serial['wall_s']:.2f} s, "
      f"mean {statistics.mean(v):.1f} ms, median {statistics.median(v):.1f} ms, p90 {p90(v):.1f} ms")
print()
print("Both runtimes: the same read-only root (host /usr bound read-only), new pid, network, ipc, uts,")
print("mount and cgroup namespaces, memory 64 MiB with swap off, pids 64, uid 1000, dew's nine")
print("capabilities, no_new_privs, RLIMIT_NOFILE 1024, /proc and /sys masks, tmpfs /dev and /tmp, a")
print("writable app dir; each run creates, starts, waits for and deletes the container (run --rm / run).")
print(textwrap.fill(f"crun seccomp: {seccomp_note}.", 100))
if hybrid == "1":
    print("crun ran in a private mount namespace with an empty tmpfs over /sys/fs/cgroup/unified (hybrid")
    print("host), so it uses the v1 controllers as dew-run does; unshare is outside the timed region.")
print("Runs in alternating blocks of 5 (dew crun crun dew ...), each block after one untimed warm-up")
print(f"run; {'back to back' if gap == '0' else f'{gap} ms between runs'} within a block.")
PY
echo
echo "(took $((SECONDS - start)) s)"
failed=0
