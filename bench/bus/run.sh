#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compare dew-bus with nats-server using the same client (bus-bench) in the same run: each server is
# started fresh on a free 127.0.0.1 port for every bench run, in the order nats, dew, dew, nats (more
# rounds with BENCH_ROUNDS, alternating), and the best run per metric goes into a markdown table. A
# benchmark: it exits non-zero only when a server or the bench fails, never because a target was missed.
#
# usage: run.sh [--quick] [DEW_BUS BUS_BENCH]   (or DEW_BUS=... BUS_BENCH=... run.sh [--quick])
set -euo pipefail

quick=
args=()
for a in "$@"; do
	case "$a" in
	--quick) quick=--quick ;;
	-h | --help)
		sed -n '8p' "$0" | sed 's/^# //'
		exit 0
		;;
	*) args+=("$a") ;;
	esac
done
DEW_BUS=${args[0]:-${DEW_BUS:-}}
BUS_BENCH=${args[1]:-${BUS_BENCH:-}}
NATS_SERVER=${NATS_SERVER:-nats-server}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}

die() {
	echo "run.sh: $*" >&2
	exit 1
}
[[ -x "$DEW_BUS" ]] || die "DEW_BUS='$DEW_BUS' is not an executable dew-bus (build it first)"
[[ -x "$BUS_BENCH" ]] || die "BUS_BENCH='$BUS_BENCH' is not an executable bus-bench (build it first)"
command -v "$NATS_SERVER" >/dev/null || die "$NATS_SERVER not found (set NATS_SERVER)"
command -v python3 >/dev/null || die "python3 is needed to find free ports"
[[ "$BENCH_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS='$BENCH_ROUNDS' is not a positive number"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bus-bench.XXXXXX")
server_pid=
failed=1
cleanup() {
	if [[ -n "$server_pid" ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [[ $failed -ne 0 ]]; then
		for log in "$tmp"/*.log; do
			[[ -s "$log" ]] || continue
			echo "--- last lines of $(basename "$log")" >&2
			tail -n 20 "$log" >&2
		done
		echo "run.sh: logs kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The servers hold 1,000 bench connections at once.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait (10 s at most) until 127.0.0.1:$1 accepts, failing early if the server ($2) died.
wait_port() {
	local i probe='import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)'
	for ((i = 0; i < 100; i++)); do
		kill -0 "$2" 2>/dev/null || return 1
		python3 -c "$probe" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# bench KIND ROUND: start a fresh server of KIND (dew or nats), run bus-bench against it, stop it.
bench() {
	local kind=$1 round=$2 port log=$tmp/$1.$2.log
	port=$(free_port)
	case "$kind" in
	nats) "$NATS_SERVER" -a 127.0.0.1 -p "$port" >"$log" 2>&1 & ;;
	dew) "$DEW_BUS" --listen "127.0.0.1:$port" --status-listen '' >"$log" 2>&1 & ;;
	esac
	server_pid=$!
	wait_port "$port" "$server_pid" || die "$kind server did not start listening on 127.0.0.1:$port"
	echo "bench: $kind round $round (127.0.0.1:$port, pid $server_pid)" >&2
	"$BUS_BENCH" "127.0.0.1:$port" "$server_pid" $quick >"$tmp/$kind.$round.out" 2>>"$log" ||
		die "bus-bench failed against $kind (round $round): $(tail -n 1 "$log")"
	kill -0 "$server_pid" 2>/dev/null || die "$kind server died during the bench"
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

start=$SECONDS
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
	if ((round % 2)); then
		bench nats $round
		bench dew $round
	else
		bench dew $round
		bench nats $round
	fi
done

# Best of the rounds: highest rate, lowest latency and memory.
best() {
	cat "$tmp/$1".*.out | awk '
		!($1 in v) { order[n++] = $1; v[$1] = $2; next }
		($1 ~ /_per_s$/) ? ($2 > v[$1]) : ($2 < v[$1]) { v[$1] = $2 }
		END { for (i = 0; i < n; i++) print order[i], v[order[i]] }'
}
best dew >"$tmp/dew.best"
best nats >"$tmp/nats.best"

echo "## dew-bus vs nats-server ($("$NATS_SERVER" --version 2>&1 | head -n 1)${quick:+, quick})"
echo
echo "| metric | dew-bus | nats-server | ratio (dew/nats) |"
echo "|---|---|---|---|"
awk 'NR == FNR { nats[$1] = $2; next }
	{
		note = ($1 ~ /_per_s$/) ? "higher is better" : "lower is better"
		ratio = (nats[$1] > 0) ? sprintf("%.2f", $2 / nats[$1]) : "-"
		printf "| %s | %s | %s | %s (%s) |\n", $1, $2, nats[$1], ratio, note
	}' "$tmp/nats.best" "$tmp/dew.best"

echo
echo "Targets:"
awk 'NR == FNR { nats[$1] = $2; next } { dew[$1] = $2 }
	function verdict(ok) { return ok ? "met" : "MISSED" }
	# Ratios are judged as printed (two decimals): closer than that is noise.
	END {
		r = sprintf("%.2f", dew["throughput_msgs_per_s"] / nats["throughput_msgs_per_s"])
		printf "- throughput >= 1.0x nats-server: %sx, %s\n", r, verdict(r + 0 >= 1.0)
		r = sprintf("%.2f", dew["req_p50_us"] / nats["req_p50_us"])
		printf "- request p50 <= 1.0x nats-server: %sx, %s\n", r, verdict(r + 0 <= 1.0)
		m = dew["rss_1000conn_100ksubs_mb"]
		printf "- RSS with 1,000 connections and 100,000 subscriptions < 64 MB: %s MB, %s\n", m,
			verdict(m < 64)
	}' "$tmp/nats.best" "$tmp/dew.best"
echo
echo "(best of $BENCH_ROUNDS runs per server, each on a fresh server; took $((SECONDS - start)) s)"
failed=0
