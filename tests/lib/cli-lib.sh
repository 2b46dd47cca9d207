# SPDX-License-Identifier: MIT
# Helpers of the CLI integration tests (tests/integration/cli-*.sh), sourced after lib.sh,
# dea-lib.sh and cc-lib.sh.
#
#   cli_lib_init [DEA ARGS...]  the bus, a DEA (with ARGS), the controller and the user alice;
#                               DEW is the CLI, DEW_HOME a private config dir, colours off
#   dew ARGS...                 run the CLI: its stdout in OUT, stderr in ERR, exit status in RC
#   expect_rc STATUS WHAT       the last dew exited with STATUS

cli_lib_init() {
	DEW=$top_builddir/cli/dew
	[ -x "$DEW" ] || dew_fail "dew not built at $DEW"
	export DEW_HOME=$T/dew-home NO_COLOR=1
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
