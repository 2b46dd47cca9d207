#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What an app inside a dew container sees (reported by the static tests/lib/dewrt-probe):
# pid 1 in its own pid namespace, its own hostname, the app user, exactly the documented
# capability bounding set and no effective capabilities, no_new_privs, the seccomp filter, a
# read-only root with a writable app dir and a private /tmp, masked /proc entries, no host file
# descriptors, no host processes or files; writes to /proc/sys and sysrq-trigger fail; every
# syscall the profile refuses fails with its documented errno (docs/container-spec.md).
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init runtime-isolation 120
dew_require_containers
RUN=("${DEW_RUN[@]}")

# run_probe ID ARGS...: run the probe in a fresh container and print its stdout.
run_probe() {
	local id=$1
	shift
	dew_spec "$T/$id.json" "$id" 64 64 none "$@"
	"${RUN[@]}" run "$T/$id.json" >/dev/null 2>"$T/$id.err"
	cat "$T/state/$id/stdout.log"
	"${RUN[@]}" delete "$id"
}

echo "host secret" >"$T/host-sentinel"
# check_report MODE JSON: the sandbox as documented; MODE userns also checks the id mapping.
check_report() {
	python3 - "$1" "$2" <<'PY' || dew_fail "the probe's report shows a hole in mode $1 (see above)"
import json, sys
mode, r = sys.argv[1], json.loads(sys.argv[2])
def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        sys.exit(1)
check(r["pid"] == 1 and r["ppid"] == 0, "the app is pid 1 of its own pid namespace")
check(r["hostname"] == "report", "the hostname is the container id")
check(r["uid"] == 1000 and r["euid"] == 1000 and r["gid"] == 1000, "the app runs as vcap (1000)")
check(r["groups"] == [], "no supplementary groups")
bnd = set(r["caps"]["CapBnd"]["names"])
check(bnd == {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
              "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE"}, "bounding set is the documented one: %s" % sorted(bnd))
for s in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
    check(r["caps"][s]["names"] == [], "%s is empty for the app user" % s)
check(r["no_new_privs"] == 1, "no_new_privs is set")
check(r["seccomp"] == 2 and r["seccomp_filters"] >= 1, "a seccomp filter is installed")
mounts = {m["target"]: m for m in r["mounts"]}
check(mounts["/"]["ro"], "the root is read-only")
check(not mounts["/home/vcap/app"]["ro"], "the app dir is writable")
check(mounts["/tmp"]["fstype"] == "tmpfs" and not mounts["/tmp"]["ro"], "/tmp is a private tmpfs")
check(mounts["/proc/sys"]["ro"], "/proc/sys is read-only")
check(mounts["/sys"]["ro"], "/sys is read-only")
for m in r["masked"]:
    check(not m["nonempty"], "%s is masked" % m["path"])
check(sorted(f["fd"] for f in r["fds"]) == [0, 1, 2], "no host file descriptor leaked: %s" % r["fds"])
if mode == "userns":
    check(r["uid_map"] == [[0, 100000, 65536]] and r["gid_map"] == [[0, 100000, 65536]],
          "container ids map to the unprivileged host range: %s" % r["uid_map"])
else:
    check(r["uid_map"] == [[0, 0, 4294967295]], "without a user namespace ids are the host's")
PY
}
check_report plain "$(run_probe report /probe/dewrt-probe report)"
dew_ok "the probe's report matches the documented sandbox"
check_report userns "$(DEW_SPEC_USERNS=1 run_probe report /probe/dewrt-probe report)"
dew_ok "and so does a user-namespace container's"
DEW_SPEC_USERNS=1 dew_spec "$T/uw.json" uwrite 64 64 none /bin/sh -c 'echo data >/home/vcap/app/file'
"${RUN[@]}" run "$T/uw.json" >/dev/null 2>&1 || dew_fail "a user-namespace app could not write its app dir"
dew_assert_eq "$(stat -c %u "$T/app-uwrite/file")" 101000 "its files belong to the mapped host id"
"${RUN[@]}" delete uwrite

dew_spec "$T/sigs.json" sigs 64 64 none /bin/sh -c 'grep -E "^Sig(Blk|Ign)" /proc/self/status'
"${RUN[@]}" run "$T/sigs.json" >/dev/null 2>&1
dew_assert_contains "$(cat "$T/state/sigs/stdout.log")" "SigBlk:	0000000000000000" \
	"the app starts with no blocked signals (nothing inherited from the monitor)"
"${RUN[@]}" delete sigs

dew_spec "$T/procs.json" procs 64 64 none /bin/sh -c \
	"ls /proc | grep -c '^[0-9]'; cat $T/host-sentinel 2>&1; ls /root 2>&1; echo done"
"${RUN[@]}" run "$T/procs.json" >/dev/null 2>&1
out=$(cat "$T/state/procs/stdout.log" "$T/state/procs/stderr.log")
"${RUN[@]}" delete procs
[ "$(echo "$out" | head -n 1)" -le 4 ] || dew_fail "host processes are visible: $(echo "$out" | head -n 1) pids in /proc"
dew_ok "only the container's own processes are in /proc"
dew_assert_not_contains "$out" "host secret" "host files outside the rootfs are unreachable"

for path in /proc/sys/kernel/hostname /proc/sysrq-trigger /usr/bin/dew-written; do
	w=$(run_probe write /probe/dewrt-probe write "$path" x)
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["result"] < 0 else 1)' "$w" ||
		dew_fail "writing $path succeeded: $w"
	dew_ok "writing $path fails ($(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["errname"])' "$w"))"
done

# The refused syscalls and their errnos, as documented; the basics the profile allows.
refused="clone-newuser:EPERM clone3:ENOSYS unshare:EPERM setns:EPERM mount:EPERM open_tree:EPERM fsopen:EPERM
ptrace-init:EPERM process_vm_readv:EPERM keyctl:EPERM add_key:EPERM request_key:EPERM bpf:EPERM userfaultfd:EPERM
perf_event_open:EPERM io_uring_setup:EPERM kexec_load:EPERM init_module:EPERM socket-vsock:EPERM socket-alg:EPERM
tiocsti:EPERM personality-bad:EPERM socketcall-x86:ENOSYS socket-x86-alg:EPERM unshare-x86:EPERM x32-unshare:EPERM"
allowed="fork clone-plain thread socket-inet socket-unix socket-netlink"
script=""
for pair in $refused; do script="$script /probe/dewrt-probe syscall ${pair%%:*};"; done
for name in $allowed; do script="$script /probe/dewrt-probe syscall $name;"; done
lines=$(run_probe syscalls /bin/sh -c "$script")
for pair in $refused; do
	name=${pair%%:*} want=${pair#*:}
	got=$(echo "$lines" | python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    if r["syscall"] == sys.argv[1]:
        print(r["errname"] if r["result"] < 0 else "allowed")' "$name")
	dew_assert_eq "$got" "$want" "seccomp refuses $name with $want"
done
for name in $allowed; do
	got=$(echo "$lines" | python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    if r["syscall"] == sys.argv[1]:
        print("allowed" if r["result"] >= 0 else r["errname"])' "$name")
	dew_assert_eq "$got" allowed "seccomp allows $name"
done
dew_pass
