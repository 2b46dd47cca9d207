#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# README command (1): bring up a single-node dew (built-in bus, SQLite, local blobs) and deploy
# the sample app, printing its URL. Safe to run again: daemons already running are kept, the
# app is pushed again (only what changed is uploaded).
#
#   ./scripts/quickstart.sh          build, start every daemon, push the sample app
#   ./scripts/quickstart.sh --stop   stop every daemon it started and remove their state
#
# When systemd is PID 1 the daemons run as their systemd units: `make install`, a drop-in per
# unit with the quickstart's flags, `systemctl enable --now`; logs in the journal, state in
# /var/lib/dew (scripts/quickstart-systemd.sh). Otherwise (containers, CI) they run as
# background processes (setsid, restarted by nothing: this is a demonstration node), their logs
# in $DEW_QUICKSTART_DIR/logs, their state there too. DEW_QUICKSTART_MODE=processes|systemd
# forces one of the two. $DEW_QUICKSTART_DIR (default /var/lib/dew-quickstart) holds the admin's
# password in admin-password (mode 0600) and the CLI's config in either mode.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=$top/build
dir=${DEW_QUICKSTART_DIR:-/var/lib/dew-quickstart}
domain=${DEW_QUICKSTART_DOMAIN:-dew.local}
run=$dir/run
logs=$dir/logs
runtime_root=$dir/containers

say() { echo "quickstart: $*"; }
die() {
	echo "quickstart: $*" >&2
	exit 1
}

# ---- --stop ---------------------------------------------------------------------------------------
stop_all() {
	local name pid
	for name in healthd router dea controller bus; do
		[ -f "$run/$name.pid" ] || continue
		pid=$(cat "$run/$name.pid")
		if kill -0 "$pid" 2>/dev/null && grep -q "dew-" "/proc/$pid/cmdline" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null || true
			say "stopped $name ($pid)"
		fi
		rm -f "$run/$name.pid"
	done
	# The DEA stops its instances on SIGTERM; anything left (a DEA killed hard) goes too.
	if [ -x "$builddir/runtime/dew-run" ] && [ -d "$runtime_root" ]; then
		"$builddir/runtime/dew-run" --root "$runtime_root" list 2>/dev/null | awk 'NR > 1 { print $1 }' |
			while read -r id; do
				"$builddir/runtime/dew-run" --root "$runtime_root" delete -f "$id" >/dev/null 2>&1 || true
			done
	fi
	rm -rf "$dir"
	say "removed $dir"
}

# systemd is PID 1 when /run/systemd/system exists (sd_booted(3)'s test).
use_systemd() {
	case "${DEW_QUICKSTART_MODE:-auto}" in
	systemd) return 0 ;;
	processes) return 1 ;;
	esac
	[ -d /run/systemd/system ]
}
# shellcheck source=scripts/quickstart-systemd.sh
. "$top/scripts/quickstart-systemd.sh"

if [ "${1:-}" = --stop ]; then
	if [ -e "$run/systemd" ]; then
		systemd_stop
		rm -rf "$dir"
		say "removed $dir"
	else
		stop_all
	fi
	exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [--stop]"
[ "$(id -u)" = 0 ] || die "run as root (containers need namespaces and cgroups)"

# ---- build ----------------------------------------------------------------------------------------
"$top/scripts/install-deps.sh"
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] || ./autogen.sh >/dev/null
mkdir -p "$builddir"
cd "$builddir"
[ -f Makefile ] || "$top/configure" --quiet
make -j"$(nproc)" >/dev/null
make -j"$(nproc)" stacks >/dev/null
say "built dew in $builddir"

# ---- the daemons ----------------------------------------------------------------------------------
pw_file=$dir/admin-password
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME BINARY ARGS...: start a daemon unless it runs already; wait for its ready file.
start() {
	local name=$1 bin=$2
	shift 2
	if [ -f "$run/$name.pid" ] && kill -0 "$(cat "$run/$name.pid")" 2>/dev/null; then
		say "$name runs already (pid $(cat "$run/$name.pid"))"
		return 0
	fi
	rm -f "$run/$name.ready"
	setsid "$bin" "$@" --ready-file "$run/$name.ready" >>"$logs/$name.log" 2>&1 </dev/null &
	echo $! >"$run/$name.pid"
	for _ in $(seq 300); do
		[ -e "$run/$name.ready" ] && { say "$name started (pid $(cat "$run/$name.pid"), log $logs/$name.log)"; return 0; }
		kill -0 "$(cat "$run/$name.pid")" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$logs/$name.log" >&2
	die "$name did not start (log: $logs/$name.log)"
}

# processes_start: every daemon as a background process of this script's, state in $dir.
processes_start() {
	mkdir -p "$run" "$logs"
	chmod 700 "$dir"
	secret_file=$dir/internal-secret
	[ -s "$secret_file" ] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret_file")
	secret=$(cat "$secret_file")

	bus_url=nats://127.0.0.1:4222
	start bus "$builddir/bus/dew-bus" --listen 127.0.0.1:4222 --status-listen 127.0.0.1:9021
	cc=(--bus "$bus_url" --listen 127.0.0.1:9022 --status-listen 127.0.0.1:9122 --db "$dir/controller/dew.db"
		--blobs-dir "$dir/controller/blobs" --domain "$domain" --internal-secret "$secret"
		--api-host 127.0.0.1)
	if [ ! -s "$pw_file" ]; then
		(umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pw_file")
		"$builddir/controller/dew-controller" "${cc[@]}" --create-admin admin <"$pw_file" >/dev/null ||
			die "could not create the admin user"
	fi
	start controller "$builddir/controller/dew-controller" "${cc[@]}"
	# The DEA's stacks_dir: the host stack the build made and the buildpacks of the source tree
	# (the build tree has no copy of them).
	mkdir -p "$dir/stacks"
	ln -sfn "$builddir/stacks/host" "$dir/stacks/host"
	ln -sfn "$top/stacks/buildpacks" "$dir/stacks/buildpacks"
	start dea "$builddir/dea/dew-dea" --bus "$bus_url" --listen 127.0.0.1:9023 --status-listen 127.0.0.1:9123 \
		--id quickstart --ip 127.0.0.1 --state-dir "$dir/dea/state" --base-dir "$dir/dea" \
		--runtime-root "$runtime_root" --stacks-dir "$dir/stacks" --stacks host --max-memory 2G
	router_port=80
	if [ ! -f "$run/router.pid" ] && ! port_free 80; then
		router_port=8080
		say "port 80 is taken: the router listens on 8080"
	elif [ -f "$run/router.port" ]; then
		router_port=$(cat "$run/router.port")
	fi
	echo "$router_port" >"$run/router.port"
	start router "$builddir/router/dew-router" --bus "$bus_url" --listen "0.0.0.0:$router_port" \
		--status-listen 127.0.0.1:9124
	start healthd "$builddir/healthd/dew-healthd" --bus "$bus_url" --status-listen 127.0.0.1:9125 \
		--controller-url http://127.0.0.1:9022 --internal-secret "$secret"
}

if use_systemd; then
	systemd_start
else
	processes_start
fi

# ---- the sample app -------------------------------------------------------------------------------
export DEW_HOME=$dir/cli
dew=$builddir/cli/dew
"$dew" target http://127.0.0.1:9022 >/dev/null
"$dew" login -u admin --password-stdin <"$pw_file" >/dev/null
say "logged in as admin (password in $pw_file; the CLI's config in $DEW_HOME)"
"$dew" push hello -p "$top/samples/hello" -m 128M
url_host=hello.$domain
port_part=$([ "$router_port" = 80 ] && echo "" || echo ":$router_port")
for _ in $(seq 50); do
	[ "$(curl -s -H "Host: $url_host" "http://127.0.0.1:$router_port/" || true)" != "" ] && break
	sleep 0.2
done
echo
say "the sample app is at http://$url_host$port_part/"
say "reach it through the router with:"
echo "    curl -H 'Host: $url_host' http://127.0.0.1:$router_port/"
say "(or, with wildcard DNS such as nip.io: DEW_QUICKSTART_DOMAIN=127.0.0.1.nip.io $0)"
say "use the CLI with: DEW_HOME=$DEW_HOME $dew apps"
say "stop and remove everything with: $0 --stop"
