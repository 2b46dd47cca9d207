#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# User journey (issue #11): every daemon restarted, one at a time, under a request loop against a
# 2-instance app, all through the router. Running apps do not depend on the controller, healthd,
# a DEA process or the bus to serve: those restarts must cost no request (asserted), a restarted
# DEA adopts its instances (the same instance ids), and the clients of a restarted dew-bus
# reconnect (a scale afterwards works: it needs controller -> DEA -> router over the bus). A
# single router is the one daemon users talk to: its restart has a gap, whose size is printed.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
. "$(dirname "$0")/../lib/cli-lib.sh"
. "$(dirname "$0")/../lib/e2e-lib.sh"
dew_test_init e2e-restart 240
export DEW_WAIT_TIMEOUT=$(e2e_bound 60)
e2e_start

e2e_app_copy web python
dew push web -p "$T/apps/web" -i 2 -m 64M
expect_rc 0 "dew push web -i 2"
e2e_wait_answer web "hello from python" 10
wait_json R /v1/apps/web/instances alice "$(cc_live 2)" "$(e2e_bound 15)" "web: two instances RUNNING"
# One instance on each DEA (placement spreads an app), so each DEA restart concerns one of them.
jcheck "$R" 'sorted(i["dea"] for i in j["instances"]) == ["dea1", "dea2"]' "one instance on each DEA"
INSTANCES=$(jget "$R" 'sorted(i["instance"] for i in j["instances"])')

# restart_under_load NAME WHAT: restart daemon NAME while the request loop runs (a second before,
# two after it is ready again); the loop's summary in LOAD.
restart_under_load() {
	e2e_load_start web /instance
	sleep 1
	e2e_restart "$1"
	sleep 2
	e2e_load_stop
	e2e_load_report "restart of $2 (down for $E2E_RESTART_SECONDS s)"
}

for d in cc:controller hm:healthd dea1:dea1 dea2:dea2 bus:dew-bus; do
	name=${d%%:*} what=${d#*:}
	restart_under_load "$name" "$what"
	jcheck "$LOAD" 'j["failed"] == 0 and j["ok"] > 0' "restart of $what: no request failed ($LOAD_REQUESTS requests)"
	jcheck "$LOAD" 'j["indices"].get("0", 0) > 0 and j["indices"].get("1", 0) > 0' \
		"restart of $what: both instances kept serving"
	case $name in
	dea*)
		wait_json R /v1/apps/web/instances alice "$(cc_live 2)" "$(e2e_bound 10)" "restarted $what reports web's instances"
		dew_assert_eq "$(jget "$R" 'sorted(i["instance"] for i in j["instances"])')" "$INSTANCES" \
			"restarted $what adopted its instance (the same instance ids, nothing restarted)"
		;;
	cc)
		dew apps
		expect_rc 0 "the CLI works against the restarted controller (its token is still valid)"
		;;
	esac
done

# The bus came back empty: every client must have reconnected and subscribed again for this to work.
dew scale web -i 3
expect_rc 0 "after the bus restart, dew scale web -i 3 works (controller, DEAs, router and healthd reconnected)"
deadline=$((SECONDS + $(e2e_bound 10)))
until e2e_get BODY web /instance && [ "$(jget "$BODY" 'j["index"]' 2>/dev/null)" = 2 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "the new index 2 never answered through the router: $BODY"
done
dew_ok "the new instance answers through the router (registered over the restarted bus)"
e2e_kill_app web 2
wait_json R /v1/apps/web/instances alice "$(cc_live 3) and '$KILLED' not in [i['instance'] for i in j['instances']]" \
	"$(e2e_bound 10)" "healthd repairs a kill -9 after the bus restart"
dew scale web -i 2
expect_rc 0 "dew scale web -i 2"
wait_json R /v1/apps/web/instances alice "$(cc_live 2)" "$(e2e_bound 15)" "two instances again"

# ---- the router itself ------------------------------------------------------------------------------
restart_under_load router "the router (the only one)"
echo "# a single router's restart: $LOAD_FAILED of $LOAD_REQUESTS requests failed (refused or reset while it is down, 404 until the DEAs registered again after its router.start)"
e2e_wait_answer web "hello from python" 5
deadline=$((SECONDS + $(e2e_bound 10)))
declare -A SEEN=()
until [ ${#SEEN[@]} = 2 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "the restarted router does not reach both instances: ${!SEEN[*]}"
	e2e_get BODY web /instance
	[ "$DEW_HTTP_STATUS" = 200 ] && SEEN[$(jget "$BODY" 'j["index"]')]=1
done
dew_ok "the restarted router reaches both instances again (they registered at its router.start)"

e2e_sanitizer_check
dew_pass
