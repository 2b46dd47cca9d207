#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-bus answers like nats-server: the same protocol bytes (valid traffic, every error case,
# authentication, connection limits, server PINGs) are sent to dew-bus and to a real
# nats-server, and the answers and connection closes must be identical (tests/lib/nats-diff.py).
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init bus-compat 120

BUS=$top_builddir/bus/dew-bus
DIFF=$top_srcdir/tests/lib/nats-diff.py

dew_start_nats nats
dew_start_daemon bus "$BUS"
python3 "$DIFF" "127.0.0.1:$bus_PORT" "127.0.0.1:$nats_PORT" plain || dew_fail "protocol answers differ"
dew_ok "plain protocol cases match nats-server"

printf 'authorization { user: u, password: p, timeout: 1 }\n' >"$T/auth.conf"
dew_start_nats nats-auth -c "$T/auth.conf"
dew_start_daemon bus-auth "$BUS" --user u --password p --auth-timeout 1s
python3 "$DIFF" "127.0.0.1:$bus_auth_PORT" "127.0.0.1:$nats_auth_PORT" auth || dew_fail "auth answers differ"
dew_ok "authentication cases match nats-server"

printf 'max_connections: 1\n' >"$T/maxconn.conf"
dew_start_nats nats-max -c "$T/maxconn.conf"
dew_start_daemon bus-max "$BUS" --max-connections 1
python3 "$DIFF" "127.0.0.1:$bus_max_PORT" "127.0.0.1:$nats_max_PORT" maxconn || dew_fail "max_connections differs"
dew_ok "max_connections matches nats-server"

# nats-server's names for these are ping_interval and ping_max.
printf 'ping_interval: "1s"\nping_max: 2\n' >"$T/ping.conf"
dew_start_nats nats-ping -c "$T/ping.conf"
dew_start_daemon bus-ping "$BUS" --ping-interval 1s --max-pings-out 2
python3 "$DIFF" "127.0.0.1:$bus_ping_PORT" "127.0.0.1:$nats_ping_PORT" ping || dew_fail "server PINGs differ"
dew_ok "server PINGs and stale connections match nats-server"

dew_pass
