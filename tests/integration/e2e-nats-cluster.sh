#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The core user journey (issue #11) on a real 3-node nats-server cluster instead of dew-bus (the
# "outgrow one node" story, docs/SCALING.md): every daemon is given the three servers' URLs. Push,
# scale, kill -9 of an instance repaired, the route answering through the router; then the node
# most daemons are connected to is killed with kill -9 under a request loop: the route keeps
# answering, its daemons reconnect to another node, and a scale, a repair and a new push work.
# Last, a second node is made mute with SIGSTOP (its connections stay open): the daemons give it
# up after 2 unanswered keepalive PINGs (bus_ping_interval) and move to the last node.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
. "$(dirname "$0")/../lib/cli-lib.sh"
E2E_BUS=nats-cluster
. "$(dirname "$0")/../lib/e2e-lib.sh"
dew_test_init e2e-nats-cluster 240
export DEW_WAIT_TIMEOUT=$(e2e_bound 60)
e2e_start

# dew_clients NODE: the names of the dew daemons connected to NODE, sorted, on one line.
dew_clients() {
	nats_mon "$1" "connz?limit=1024" '" ".join(sorted(c.get("name", "") for c in j.get("connections", []) if c.get("name", "").startswith("dew-")))'
}
# The router's two workers (e2e-lib.sh) each have their own connection.
ALL="dew-controller dew-dea dew-dea dew-healthd dew-router dew-router"
# everywhere: the dew daemons connected to any node, sorted, on one line.
everywhere() {
	echo $(dew_clients 1) $(dew_clients 2) $(dew_clients 3) | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}
deadline=$((SECONDS + 10))
until [ "$(everywhere)" = "$ALL" ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "not every daemon is connected: $(dew_clients 1) | $(dew_clients 2) | $(dew_clients 3)"
	sleep 0.1
done
dew_ok "every daemon is connected to the cluster ($ALL)"
# Each client starts at a random server of its list (spreading a cluster's clients): the node to
# kill is the one most of them use.
VICTIM=1
for i in 2 3; do
	[ "$(dew_clients "$i" | wc -w)" -le "$(dew_clients "$VICTIM" | wc -w)" ] || VICTIM=$i
done
echo "# node 1: $(dew_clients 1); node 2: $(dew_clients 2); node 3: $(dew_clients 3); node $VICTIM will be killed"

# ---- the core journey on the cluster -------------------------------------------------------------------
e2e_app_copy web python
dew push web -p "$T/apps/web" -m 64M
expect_rc 0 "dew push web (staging request and logs over the cluster)"
e2e_wait_answer web "hello from python" 10
dew_ok "web answers through the router (its route registered over the cluster)"
dew scale web -i 2
expect_rc 0 "dew scale web -i 2"
declare -A SEEN=()
deadline=$((SECONDS + $(e2e_bound 10)))
until [ ${#SEEN[@]} = 2 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "requests reach only instances ${!SEEN[*]}"
	e2e_get BODY web /instance
	[ "$DEW_HTTP_STATUS" = 200 ] && SEEN[$(jget "$BODY" 'j["index"]')]=1
done
dew_ok "requests reach both instances"
e2e_kill_app web 1
wait_json R /v1/apps/web/instances alice "$(cc_live 2) and '$KILLED' not in [i['instance'] for i in j['instances']]" \
	"$(e2e_bound 10)" "kill -9 of index 1 repaired by healthd (droplet.exited and START over the cluster)"

# ---- kill the node every daemon is connected to ---------------------------------------------------------
e2e_load_start web /instance
sleep 1
ON_VICTIM=$(dew_clients "$VICTIM")
kill -KILL "${NATS_PID[VICTIM]}"
wait "${NATS_PID[VICTIM]}" 2>/dev/null
t0=$(date +%s.%N)
deadline=$((SECONDS + $(e2e_bound 10)))
# Node VICTIM no longer answers its monitoring port, so everywhere counts the two survivors.
until [ "$(everywhere)" = "$ALL" ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "the daemons did not all reconnect: $(dew_clients 1) | $(dew_clients 2) | $(dew_clients 3)"
	sleep 0.05
done
t1=$(date +%s.%N)
echo "# kill -9 of nats node $VICTIM ($ON_VICTIM): every daemon was on a surviving node within $(python3 -c "print(round($t1 - $t0, 2))") s (node 1: $(dew_clients 1); node 2: $(dew_clients 2); node 3: $(dew_clients 3))"
dew_ok "every daemon reconnected to a surviving node"
sleep 1
e2e_load_stop
e2e_load_report "kill -9 of the nats node most daemons used"
jcheck "$LOAD" 'j["failed"] == 0 and j["indices"].get("0", 0) > 0 and j["indices"].get("1", 0) > 0' \
	"the route kept answering from both instances, no request failed (the router proxies without the bus)"

dew scale web -i 3
expect_rc 0 "dew scale web -i 3 after the node loss (controller -> DEA over the surviving nodes)"
deadline=$((SECONDS + $(e2e_bound 10)))
until e2e_get BODY web /instance && [ "$(jget "$BODY" 'j["index"]' 2>/dev/null)" = 2 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "the new index 2 never answered through the router: $BODY"
done
dew_ok "the new instance answers through the router (router.register over the surviving nodes)"
e2e_kill_app web 0
wait_json R /v1/apps/web/instances alice "$(cc_live 3) and '$KILLED' not in [i['instance'] for i in j['instances']]" \
	"$(e2e_bound 10)" "healthd still repairs a kill -9 after the node loss"
e2e_app_copy web2 python
dew push web2 -p "$T/apps/web2" -m 64M
expect_rc 0 "a new push after the node loss (staging over the surviving nodes)"
e2e_wait_answer web2 "hello from python" 10
dew_ok "the new app answers through the router"

# ---- a node that stops answering without closing its connections (SIGSTOP) ------------------------------
# A power loss or a partition: the connections stay open, nothing answers. The daemons run with
# bus_ping_interval 1s (e2e-lib.sh), so each gives the node up after 2 unanswered PINGs.
S=()
for i in 1 2 3; do [ "$i" = "$VICTIM" ] || S+=("$i"); done
MUTE=${S[0]} OTHER=${S[1]}
if [ "$(dew_clients "$OTHER" | wc -w)" -gt "$(dew_clients "$MUTE" | wc -w)" ]; then
	MUTE=${S[1]} OTHER=${S[0]}
fi
ON_MUTE=$(dew_clients "$MUTE")
e2e_load_start web /instance
sleep 0.5
kill -STOP "${NATS_PID[MUTE]}"
t0=$(date +%s.%N)
deadline=$((SECONDS + $(e2e_bound 15)))
until [ "$(dew_clients "$OTHER")" = "$ALL" ]; do
	[ $SECONDS -lt $deadline ] || { kill -CONT "${NATS_PID[MUTE]}"; dew_fail "the daemons did not leave the mute node: node $OTHER has $(dew_clients "$OTHER")"; }
	sleep 0.1
done
t1=$(date +%s.%N)
echo "# SIGSTOP of nats node $MUTE ($ON_MUTE): every daemon was on node $OTHER within $(python3 -c "print(round($t1 - $t0, 2))") s (bus_ping_interval $E2E_BUS_PING)"
dew_ok "every daemon left the mute node for the last one (keepalive PINGs)"
sleep 0.5
e2e_load_stop
e2e_load_report "SIGSTOP of a nats node"
jcheck "$LOAD" 'j["failed"] == 0' "no request failed while the node was mute"
dew scale web -i 2
expect_rc 0 "dew scale web -i 2 with one nats node left"
wait_json R /v1/apps/web/instances alice "$(cc_live 2)" "$(e2e_bound 10)" "web runs 2 instances"
kill -CONT "${NATS_PID[MUTE]}"

e2e_sanitizer_check
dew_pass
