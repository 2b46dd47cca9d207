#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The bus client (common/bus-client.c) against both servers it must work with: dew-bus and a
# real nats-server (DESIGN.md section 5). tests/lib/bus-check runs every client check against
# an open server that it restarts mid-test, and against one that requires a user and password.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init bus-client 240

CHECK=$top_builddir/tests/lib/bus-check
BUS=$top_builddir/bus/dew-bus
[ -x "$CHECK" ] || dew_fail "bus-check not built at $CHECK"
NATS=$(command -v nats-server) || dew_skip "nats-server is not installed"
PASSWORD='s3cret:@x'

# server_cmd KIND PORT [auth]: the command line of a server of KIND on 127.0.0.1:PORT.
server_cmd() {
	local kind=$1 port=$2 auth=${3:-}
	if [ "$kind" = nats ]; then
		printf '%q -a 127.0.0.1 -p %q' "$NATS" "$port"
		[ -z "$auth" ] || printf ' --user dew --pass %q' "$PASSWORD"
	else
		printf '%q --listen 127.0.0.1:%q --status-listen ""' "$BUS" "$port"
		[ -z "$auth" ] || printf ' --user dew --password %q' "$PASSWORD"
	fi
}

# Servers restarted by the restart script are not children of this shell: stop them too.
stop_restarted() {
	local f pid
	for f in "$T"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill -0 "$pid" 2>/dev/null && dew_stop "$pid" 5
	done
}
trap 'rc=$?; stop_restarted; (exit $rc); dew__cleanup' EXIT

# run_against KIND: start the two servers, run bus-check, judge its TAP.
run_against() {
	local kind=$1 port auth_port
	port=$(dew_free_port)
	eval "exec $(server_cmd "$kind" "$port")" </dev/null >>"$T/$kind.log" 2>&1 &
	echo $! >"$T/$kind.pid"
	DEW_PIDS+=("$!")
	DEW_NAMES+=("$kind")
	dew_wait_port "$port" 20 || dew_fail "$kind not accepting on port $port"
	auth_port=$(dew_free_port)
	eval "exec $(server_cmd "$kind" "$auth_port" auth)" </dev/null >>"$T/$kind-auth.log" 2>&1 &
	DEW_PIDS+=("$!")
	DEW_NAMES+=("$kind-auth")
	dew_wait_port "$auth_port" 20 || dew_fail "$kind (auth) not accepting on port $auth_port"

	# Run by bus-check (system(3)) while its clients are connected: stop the server, start it
	# again on the same port, return once it accepts connections.
	cat >"$T/restart-$kind.sh" <<EOS
#!/usr/bin/env bash
kill -TERM "\$(cat "$T/$kind.pid")"
deadline=\$((SECONDS + 10))
while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do
	[ \$SECONDS -lt \$deadline ] || { echo "old server still accepting" >&2; exit 1; }
	sleep 0.05
done
sleep 0.2 # let the clients notice before the port answers again
$(server_cmd "$kind" "$port") </dev/null >>"$T/$kind.log" 2>&1 &
echo \$! >"$T/$kind.pid"
deadline=\$((SECONDS + 10))
until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do
	[ \$SECONDS -lt \$deadline ] || { echo "new server not accepting" >&2; exit 1; }
	sleep 0.05
done
EOS
	chmod +x "$T/restart-$kind.sh"

	# The password holds ':' and '@', percent-encoded in the URL.
	DEW_BUS_URL="nats://127.0.0.1:$port" \
	DEW_BUS_AUTH_URL="nats://dew:s3cret%3A%40x@127.0.0.1:$auth_port" \
	DEW_BUS_BADAUTH_URL="nats://dew:wrong@127.0.0.1:$auth_port" \
	DEW_BUS_RESTART_CMD="$T/restart-$kind.sh" \
		"$CHECK" >"$T/bus-check-$kind.tap" 2>"$T/bus-check-$kind.err"
	local rc=$?
	sed "s/^/    /" "$T/bus-check-$kind.tap" # a subtest: indented, so its numbering stays its own
	if [ "$rc" != 0 ] || grep -q '^not ok' "$T/bus-check-$kind.tap"; then
		echo "---- bus-check stderr ($kind) ----" >&2
		tail -n 50 "$T/bus-check-$kind.err" >&2
		dew_fail "bus-check against $kind failed (status $rc)"
	fi
	dew_ok "bus-check passed against $kind"
}

run_against nats
run_against dew
dew_pass
