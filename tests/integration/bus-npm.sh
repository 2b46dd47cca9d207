#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# An independent client, the npm `nats` package, works against dew-bus (and, as a control,
# against a real nats-server): pub/sub, queue groups, request/reply, headers, no_responders, drain.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init bus-npm 90

module=${DEW_NPM_DIR:-$top_builddir/tests/npm}/node_modules/nats
command -v node >/dev/null || dew_skip "node is not installed"
[ -d "$module" ] || dew_skip "the npm nats package is not installed in $top_builddir/tests/npm (scripts/test.sh installs it)"
export NATS_MODULE=$module
check=$top_srcdir/tests/lib/nats-npm-check.js

dew_start_daemon bus "$top_builddir/bus/dew-bus"
node "$check" "127.0.0.1:$bus_PORT" || dew_fail "npm nats client against dew-bus"
dew_ok "npm nats client works against dew-bus"

dew_start_nats nats
node "$check" "127.0.0.1:$nats_PORT" || dew_fail "npm nats client against nats-server (control)"
dew_ok "the same checks pass against nats-server"
dew_pass
