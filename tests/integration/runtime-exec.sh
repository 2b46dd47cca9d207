#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `dew-run exec` into a running container: the program joins the app's namespaces and cgroup
# and is confined as the app is (user, capabilities, no_new_privs, seccomp, mounts), inherits
# the caller's stdio and no other descriptor, shows in `ps`, and passes its exit status on;
# a missing program, a stopped container and an unknown id are clear errors.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init runtime-exec 120
dew_require_containers
RUN=("${DEW_RUN[@]}")

dew_spec "$T/target.json" target 64 64 none /bin/sleep 60
"${RUN[@]}" create "$T/target.json" >/dev/null && "${RUN[@]}" start target || dew_fail "start the container"
for _ in $(seq 100); do "${RUN[@]}" state target | grep -q '"running"' && break; sleep 0.05; done
init=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["init_pid"])' \
	"$T/state/target/state.json")

# An extra descriptor (7) is open in the caller: it must not reach the container.
report=$("${RUN[@]}" exec target /probe/dewrt-probe report </dev/null 7>"$T/leak") ||
	dew_fail "exec of the probe failed: $report"
python3 - "$report" <<'PY' || dew_fail "the exec'd process is not confined as the app (see above)"
import json, sys
r = json.loads(sys.argv[1])
def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        sys.exit(1)
check(2 <= r["pid"] < 100 and r["ppid"] == 0, "in the container's pid namespace, not its init, its parent "
      "outside: pid %d ppid %d" % (r["pid"], r["ppid"]))
check(r["hostname"] == "target", "the container's hostname")
check(r["uid"] == 1000 and r["euid"] == 1000 and r["gid"] == 1000 and r["groups"] == [],
      "runs as vcap (1000)")
check(r["cwd"] == "/home/vcap/app", "in the app's working directory")
check(r["nofile"] == [1024, 1024], "the spec's open-files limit")
bnd = set(r["caps"]["CapBnd"]["names"])
check(bnd == {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
              "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE"},
      "bounding set is the documented one: %s" % sorted(bnd))
for s in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
    check(r["caps"][s]["names"] == [], "%s is empty" % s)
check(r["no_new_privs"] == 1, "no_new_privs is set")
check(r["seccomp"] == 2 and r["seccomp_filters"] >= 1, "the seccomp filter is installed")
mounts = {m["target"]: m for m in r["mounts"]}
check(mounts["/"]["ro"], "the root is read-only")
check(not mounts["/home/vcap/app"]["ro"], "the app dir is writable")
check(mounts["/tmp"]["fstype"] == "tmpfs", "the container's private /tmp")
check("/probe" in mounts and mounts["/proc/sys"]["ro"], "the container's mounts, not the host's")
check(sorted(f["fd"] for f in r["fds"]) == [0, 1, 2],
      "only stdio, no descriptor of the caller: %s" % r["fds"])
PY
dew_ok "the exec'd process is confined exactly as the app"

# The same namespaces as the app's init, compared by inode with the host's view of the init.
for ns in mnt pid uts ipc net cgroup; do
	want=$(readlink "/proc/$init/ns/$ns")
	got=$("${RUN[@]}" exec target readlink "/proc/self/ns/$ns" </dev/null)
	dew_assert_eq "$got" "$want" "the exec'd process is in the container's $ns namespace"
done
dew_assert_eq "$("${RUN[@]}" exec target cat /proc/1/cmdline </dev/null | tr '\0' ' ')" "/bin/sleep 60 " \
	"pid 1 it sees is the container's app"
n=$("${RUN[@]}" exec target sh -c 'ls /proc | grep -c "^[0-9]"' </dev/null)
[ "$n" -le 4 ] || dew_fail "host processes are visible: $n pids in /proc"
dew_ok "only the container's processes are visible ($n: the app, sh, ls, grep)"

# The caller's stdio, the container's environment, the command's own options untouched.
dew_assert_eq "$(echo from-stdin | "${RUN[@]}" exec target cat)" from-stdin "stdin is the caller's"
dew_assert_eq "$("${RUN[@]}" exec target sh -c 'echo "$HOME" "$@"' sh -f --rm --root x </dev/null)" \
	"/home/vcap/app -f --rm --root x" "the container's env; options after the id belong to the command"
out=$("${RUN[@]}" exec target sh -c 'echo to-stderr >&2' 2>&1 >/dev/null </dev/null)
dew_assert_eq "$out" to-stderr "stderr is the caller's"
out=$("${RUN[@]}" exec target sh -c 'touch /home/vcap/app/f && ls -n /home/vcap/app/f' </dev/null)
dew_assert_contains "$out" " 1000 1000 " "files it writes in the app dir belong to vcap"
[ -e "$T/app-target/f" ] || dew_fail "the file is not in the app dir on the host"
dew_ok "and land in the app dir on the host"

# While it runs, the exec'd process is in the container's cgroup.
"${RUN[@]}" exec target sleep 3 </dev/null &
bg=$!
# (The helper that waits for it is listed too, as "dew-run … exec target sleep 3".)
for _ in $(seq 100); do "${RUN[@]}" ps target | grep -Eq '^ *[0-9]+  sleep 3$' && break; sleep 0.05; done
"${RUN[@]}" ps target | grep -Eq '^ *[0-9]+  sleep 3$' || dew_fail "ps does not show the exec'd process"
dew_ok "ps shows the exec'd process while it runs"
wait "$bg"
dew_assert_eq "$?" 0 "the background exec exited 0"

# Exit status, signals, the seccomp filter, errors.
"${RUN[@]}" exec target sh -c 'exit 5' </dev/null
dew_assert_eq "$?" 5 "the program's exit status passes through"
"${RUN[@]}" exec target sh -c 'kill -KILL $$' </dev/null
dew_assert_eq "$?" 137 "killed by a signal: 128+signal"
out=$("${RUN[@]}" exec target /probe/dewrt-probe syscall unshare </dev/null)
dew_assert_eq "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["errname"])' "$out")" EPERM \
	"a syscall the profile refuses fails with EPERM"
out=$("${RUN[@]}" exec target /no/such/program </dev/null 2>&1); rc=$?
dew_assert_eq "$rc" 127 "a program that cannot be executed exits 127"
dew_assert_contains "$out" "exec \`/no/such/program\`: No such file or directory" "and the error names it"
out=$("${RUN[@]}" exec nope true </dev/null 2>&1); rc=$?
dew_assert_eq "$rc" 125 "exec into an unknown container exits 125"
dew_assert_contains "$out" "container \`nope\`" "naming the id"
out=$("${RUN[@]}" exec target 2>&1); rc=$?
dew_assert_eq "$rc" 2 "exec without a command is a usage error"

# A user-namespace container: exec joins its user namespace too.
DEW_SPEC_USERNS=1 dew_spec "$T/uns.json" unstarget 64 64 none /bin/sleep 60
"${RUN[@]}" create "$T/uns.json" >/dev/null && "${RUN[@]}" start unstarget || dew_fail "start unstarget"
for _ in $(seq 100); do "${RUN[@]}" state unstarget | grep -q '"running"' && break; sleep 0.05; done
out=$("${RUN[@]}" exec unstarget /probe/dewrt-probe report </dev/null)
dew_assert_eq "$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["uid"], r["uid_map"])' "$out")" \
	"1000 [[0, 100000, 65536]]" "exec into a user-namespace container runs as its mapped app user"
"${RUN[@]}" delete -f unstarget

"${RUN[@]}" kill target KILL || dew_fail "kill"
for _ in $(seq 100); do "${RUN[@]}" state target | grep -q '"stopped"' && break; sleep 0.05; done
out=$("${RUN[@]}" exec target true </dev/null 2>&1); rc=$?
dew_assert_eq "$rc" 125 "exec into a stopped container fails"
dew_assert_contains "$out" "container \`target\` is stopped, not running" "saying why"
dew_pass
