# SPDX-License-Identifier: MIT
# Helpers of the dew CLI tests (tests/integration/cli-*.sh), sourced after lib.sh (and the
# daemon helpers the test needs).
#
#   cli_lib_init          DEW (the CLI built here), a private DEW_HOME, no colour
#   cli_lib_start [DEA ARGS...]  cli_lib_init, then the bus, a DEA (with ARGS), the controller
#                         and the user alice (needs dea-lib.sh and cc-lib.sh)
#   dew ARGS...           run the CLI: its stdout in OUT, stderr in ERR, exit status in RC
#   expect_rc CODE WHAT   the last dew exited with CODE

cli_lib_init() {
	DEW=$top_builddir/cli/dew
	[ -x "$DEW" ] || dew_fail "dew not built at $DEW"
	export DEW_HOME=$T/dew-home NO_COLOR=1
}

cli_lib_start() {
	cli_lib_init
	dea_lib_init
	dea_start dea "$@"
	cc_start
	cc_user alice
}

dew() {
	OUT=$("$DEW" "$@" 2>"$T/dew.err") && RC=0 || RC=$?
	ERR=$(cat "$T/dew.err")
}

expect_rc() {
	[ "$RC" = "$1" ] || dew_fail "$2: exit $RC, expected $1; stdout: $OUT; stderr: $ERR"
	dew_ok "$2 (exit $1)"
}
