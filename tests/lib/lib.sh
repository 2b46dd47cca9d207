# SPDX-License-Identifier: MIT
# Helpers for integration tests (tests/integration/*.sh). Source this file, then call
# dew_test_init. Each test gets a private temp dir ($T), a timeout, daemons bound to 127.0.0.1
# port 0 that report their ports through files, and a cleanup trap that stops every process the
# test started (by PID) and prints their logs when the test fails.

# Where the built programs are (set by `make check`; else guessed from this file's location).
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

DEW_PIDS=()
DEW_NAMES=()
DEW_CLEANUP_HOOKS=()
DEW_TEST_NAME=
DEW_TEST_STATUS=1
DEW_CHECKS=0

# dew_test_init NAME [TIMEOUT_SECONDS]: private dir, trap, and a watchdog that ends a hung test.
dew_test_init() {
	DEW_TEST_NAME=$1
	local timeout=${2:-120}
	T=$(mktemp -d "${TMPDIR:-/tmp}/dew-test-$1.XXXXXX")
	export T
	trap dew__cleanup EXIT
	trap 'exit 1' INT TERM
	local self=$$
	# The watchdog ends its own sleep when it is stopped, so no sleeper outlives the test.
	(
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		sleep "$timeout" &
		sp=$!
		wait "$sp" && echo "FAIL: $DEW_TEST_NAME timed out after ${timeout}s" >&2 && kill -TERM "$self"
	) >/dev/null 2>&1 &
	DEW_WATCHDOG=$!
	echo "# $DEW_TEST_NAME (temp dir $T)"
}

# dew_skip REASON [CATEGORY]: exit 77, or fail under DEW_TESTS_NO_SKIP=1 unless CATEGORY is listed
# in DEW_TESTS_ALLOW_SKIP (for abilities this machine lacks, e.g. cgroup2).
dew_skip() {
	local reason=$1 category=${2:-}
	if [ "${DEW_TESTS_NO_SKIP:-0}" = 1 ] && ! dew__skip_allowed "$category"; then
		echo "FAIL: skip refused under DEW_TESTS_NO_SKIP=1: $reason" >&2
		exit 1
	fi
	echo "SKIP: $reason"
	DEW_TEST_STATUS=77
	exit 77
}

# dew_skip_check WHAT REASON CATEGORY: skip one check (the rest of the test runs), reported as
# such; under DEW_TESTS_NO_SKIP=1 it fails unless CATEGORY is in DEW_TESTS_ALLOW_SKIP.
dew_skip_check() {
	if [ "${DEW_TESTS_NO_SKIP:-0}" = 1 ] && ! dew__skip_allowed "$3"; then
		dew_fail "$1: skip refused under DEW_TESTS_NO_SKIP=1: $2"
	fi
	echo "ok - $1 # SKIP $2"
}

# Built with the sanitizers (ASan's quarantine makes RSS bounds meaningless)?
dew_sanitized() { [ -n "${DEW_SANITIZERS:-}" ]; }

dew__skip_allowed() {
	[ -n "$1" ] || return 1
	case ",${DEW_TESTS_ALLOW_SKIP:-}," in *",$1,"*) return 0 ;; esac
	return 1
}

dew_fail() {
	echo "not ok - $*" >&2
	exit 1
}

dew_ok() {
	DEW_CHECKS=$((DEW_CHECKS + 1))
	echo "ok $DEW_CHECKS - $*"
}

# dew_assert_eq GOT WANT MESSAGE
dew_assert_eq() {
	[ "$1" = "$2" ] || dew_fail "$3: got '$1', expected '$2'"
	dew_ok "$3"
}

# dew_assert_contains HAYSTACK NEEDLE MESSAGE
dew_assert_contains() {
	case "$1" in *"$2"*) dew_ok "$3" ;; *) dew_fail "$3: '$2' not found in: $1" ;; esac
}

dew_assert_not_contains() {
	case "$1" in *"$2"*) dew_fail "$3: '$2' unexpectedly found in: $1" ;; *) dew_ok "$3" ;; esac
}

# dew_wait_file FILE [SECONDS]: wait until FILE exists and is not empty.
dew_wait_file() {
	local file=$1 deadline=$((SECONDS + ${2:-20}))
	while [ ! -s "$file" ]; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.02
	done
}

# dew_spawn NAME CMD...: run CMD in the background, output to $T/NAME.log, PID in NAME_PID.
dew_spawn() {
	local name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 &
	local pid=$!
	DEW_PIDS+=("$pid")
	DEW_NAMES+=("$name")
	printf -v "${name//-/_}_PID" '%s' "$pid"
}

# dew_start_daemon NAME BINARY ARGS...: start a dew daemon on 127.0.0.1 port 0 with its status
# listener, wait for its ready file; sets NAME_PORT, NAME_STATUS_PORT and NAME_PID.
dew_start_daemon() {
	local name=$1 bin=$2
	shift 2
	rm -f "$T/$name.port" "$T/$name.status-port" "$T/$name.ready"
	dew_spawn "$name" "$bin" --listen 127.0.0.1:0 --port-file "$T/$name.port" \
		--status-listen 127.0.0.1:0 --status-port-file "$T/$name.status-port" \
		--ready-file "$T/$name.ready" "$@"
	local pidvar="${name//-/_}_PID"
	if ! dew_wait_file "$T/$name.ready" 20; then
		kill -0 "${!pidvar}" 2>/dev/null || dew_fail "$name exited before it was ready"
		dew_fail "$name not ready within 20 s"
	fi
	# A daemon without a main listener (dew-healthd) writes no port file: its _PORT stays empty.
	printf -v "${name//-/_}_PORT" '%s' "$(cat "$T/$name.port" 2>/dev/null)"
	printf -v "${name//-/_}_STATUS_PORT" '%s' "$(cat "$T/$name.status-port")"
}

# dew_stop PID [SECONDS]: SIGTERM, wait (up to SECONDS), then SIGKILL. Returns the exit status.
dew_stop() {
	local pid=$1 deadline=$((SECONDS + ${2:-10}))
	kill -TERM "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			kill -KILL "$pid" 2>/dev/null
			break
		fi
		sleep 0.02
	done
	wait "$pid" 2>/dev/null
}

# dew_wait_exit PID [SECONDS]: wait for a process that is ending by itself; its exit status.
dew_wait_exit() {
	local pid=$1 deadline=$((SECONDS + ${2:-10}))
	while kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || return 124
		sleep 0.02
	done
	wait "$pid"
}

# dew_http VAR URL [CURL ARGS...]: the body into VAR, the status code into DEW_HTTP_STATUS
# (000 when no answer). No subshell, so both variables reach the caller.
dew_http() {
	local var=$1 url=$2
	shift 2
	local code
	rm -f "$T/.http-body"
	code=$(curl -sS --max-time 10 -o "$T/.http-body" -w '%{http_code}' "$@" "$url" 2>"$T/.http-err") || code=000
	DEW_HTTP_STATUS=$code
	printf -v "$var" '%s' "$(cat "$T/.http-body" 2>/dev/null)"
}

dew_pass() {
	DEW_TEST_STATUS=0
	echo "# $DEW_TEST_NAME: $DEW_CHECKS checks passed"
	exit 0
}

dew__cleanup() {
	local rc=$?
	[ "$DEW_TEST_STATUS" = 0 ] || [ "$DEW_TEST_STATUS" = 77 ] || DEW_TEST_STATUS=$rc
	[ -n "${DEW_WATCHDOG:-}" ] && kill "$DEW_WATCHDOG" 2>/dev/null
	local i hook
	for hook in "${DEW_CLEANUP_HOOKS[@]}"; do
		"$hook"
	done
	for i in "${!DEW_PIDS[@]}"; do
		kill -0 "${DEW_PIDS[$i]}" 2>/dev/null && dew_stop "${DEW_PIDS[$i]}" 5
	done
	if [ "$DEW_TEST_STATUS" != 0 ] && [ "$DEW_TEST_STATUS" != 77 ]; then
		for i in "${!DEW_NAMES[@]}"; do
			echo "---- log of ${DEW_NAMES[$i]} ----" >&2
			tail -n 50 "$T/${DEW_NAMES[$i]}.log" >&2 2>/dev/null
		done
	fi
	[ -n "${T:-}" ] && rm -rf "$T"
	exit "$DEW_TEST_STATUS"
}

# dew_free_port: print a TCP port on 127.0.0.1 that was free a moment ago (for programs that
# cannot report the port they bound, such as nats-server).
dew_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# dew_wait_port PORT [SECONDS]: wait until 127.0.0.1:PORT accepts connections.
dew_wait_port() {
	local port=$1 deadline=$((SECONDS + ${2:-20}))
	until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# dew_start_nats NAME [nats-server ARGS...]: a real nats-server on a free port; sets NAME_PORT
# and NAME_PID. Skips the test when nats-server is not installed.
dew_start_nats() {
	local name=$1
	shift
	command -v nats-server >/dev/null || dew_skip "nats-server is not installed (apt-get install nats-server)"
	local port
	port=$(dew_free_port)
	dew_spawn "$name" nats-server -a 127.0.0.1 -p "$port" "$@"
	dew_wait_port "$port" 20 || dew_fail "nats-server $name did not listen on $port"
	printf -v "${name//-/_}_PORT" '%s' "$port"
}

# ---- containers (dew-run) -------------------------------------------------------------------

# dew_require_containers: set up $DEW_RUN (dew-run with a private state root), $DEW_ROOTFS (a
# minimal stack root whose /usr comes from the host) and a cleanup that deletes every container
# the test made; skip when this machine cannot create containers (reason included).
dew_require_containers() {
	DEW_RUN=("$top_builddir/runtime/dew-run" --root "$T/state")
	DEW_ROOTFS=$T/rootfs
	DEW_PROBE_DIR=$top_builddir/tests/lib
	[ -x "$DEW_PROBE_DIR/dewrt-probe" ] || dew_fail "dewrt-probe not built"
	# User-namespace containers reach the rootfs and app dirs as an unprivileged host id.
	chmod 755 "$T"
	mkdir -p "$DEW_ROOTFS"/{usr,etc,proc,dev,sys,tmp,run,home/vcap/app,probe}
	local d
	for d in bin lib lib64 sbin; do
		if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$DEW_ROOTFS/$d"; else mkdir -p "$DEW_ROOTFS/$d"; fi
	done
	printf 'root:x:0:0::/root:/bin/sh\nvcap:x:1000:1000::/home/vcap:/bin/sh\n' >"$DEW_ROOTFS/etc/passwd"
	printf 'root:x:0:\nvcap:x:1000:\n' >"$DEW_ROOTFS/etc/group"
	DEW_CLEANUP_HOOKS+=(dew__delete_containers)
	# Cgroups are named after the container id whatever the state root: the id is this run's own,
	# so that tests running at once do not collide.
	dew_spec "$T/probe-check.json" "probe-check-$$" 64 64 none /bin/true
	local out
	out=$("${DEW_RUN[@]}" run --rm "$T/probe-check.json" 2>&1) ||
		dew_skip "cannot create containers on this machine: $out"
}

dew__delete_containers() {
	local id
	for id in $("${DEW_RUN[@]}" list --json 2>/dev/null | python3 -c 'import json,sys; [print(c["id"]) for c in json.load(sys.stdin)]' 2>/dev/null); do
		"${DEW_RUN[@]}" delete -f "$id" >/dev/null 2>&1
	done
}

# dew_spec FILE ID MEMORY_MB PIDS NETWORK ARGS...: write a container spec for the test rootfs;
# the probe binary is visible in the container as /probe/dewrt-probe, the app dir is $T/app-ID.
# With DEW_SPEC_USERNS=1 the container gets a user namespace (ids mapped from host 100000);
# DEW_SPEC_DISK_MB=N sets a disk quota.
dew_spec() {
	local file=$1 id=$2 mem=$3 pids=$4 net=$5
	shift 5
	python3 - "$file" "$id" "$mem" "$pids" "$net" "$DEW_ROOTFS" "$T/app-$id" "$DEW_PROBE_DIR" "$@" <<'PY'
import json, os, sys
file, cid, mem, pids, net, rootfs, app, probe = sys.argv[1:9]
mounts = [{"source": "/usr", "target": "/usr", "readonly": True},
          {"source": probe, "target": "/probe", "readonly": True}]
for d in ("bin", "lib", "lib64", "sbin"):
    if os.path.isdir("/" + d) and not os.path.islink("/" + d):
        mounts.append({"source": "/" + d, "target": "/" + d, "readonly": True})
userns = os.environ.get("DEW_SPEC_USERNS") == "1"
os.makedirs(app, exist_ok=True)
os.chown(app, 101000 if userns else 1000, 101000 if userns else 1000)
spec = {"id": cid, "userns": userns, "rootfs": rootfs, "app_dir": app, "mounts": mounts, "args": sys.argv[9:],
        "env": ["PATH=/usr/bin:/bin", "HOME=/home/vcap/app"], "network": net,
        "limits": {"memory_mb": int(mem), "pids": int(pids),
                   "disk_mb": int(os.environ.get("DEW_SPEC_DISK_MB", "0"))}}
with open(file, "w") as f:
    json.dump(spec, f)
PY
}
