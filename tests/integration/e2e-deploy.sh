#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# User journeys (issue #11) while users are being served, all through the router: push a new
# version of a 2-instance app while a request loop runs (a rolling replacement: each old instance
# serves until its successor runs, so almost nothing may fail; the count is printed and bounded),
# and kill -9 one instance's process (the route keeps answering: connections refused by the dead
# instance are retried on the other one, the few requests it had already taken get 502 or a cut
# response and are counted; healthd starts a new one: the time is printed and bounded).
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
. "$(dirname "$0")/../lib/cli-lib.sh"
. "$(dirname "$0")/../lib/e2e-lib.sh"
dew_test_init e2e-deploy 240
export DEW_WAIT_TIMEOUT=$(e2e_bound 60)
e2e_start

e2e_app_copy web python
dew push web -p "$T/apps/web" -i 2 -m 64M
expect_rc 0 "dew push web -i 2"
e2e_wait_answer web "hello from python" 10
dew_ok "web answers through the router"

# ---- a new version under load -----------------------------------------------------------------------
sed -i 's/hello from python\\n/hello from python v2\\n/' "$T/apps/web/app.py"
grep -q 'hello from python v2' "$T/apps/web/app.py" || dew_fail "could not make version 2 of the app"
e2e_load_start web /
sleep 1
t0=$(date +%s.%N)
dew push web -p "$T/apps/web"
expect_rc 0 "push version 2 while the request loop runs"
t1=$(date +%s.%N)
sleep 1
e2e_load_stop
e2e_load_report "push of a new version (took $(python3 -c "print(round($t1 - $t0, 2))") s)"
echo "# zero-downtime deploy: $LOAD_FAILED of $LOAD_REQUESTS requests failed while version 2 replaced version 1"
# An old instance stops once its successor runs: its routes go first, then SIGTERM, so only a
# request it had taken in that moment can fail (before the rolling replacement: 1 - 5%).
jcheck "$LOAD" 'j["failed"] <= max(2, j["requests"] // 200)' \
	"at most 0.5% of the requests failed during the deploy ($LOAD_FAILED of $LOAD_REQUESTS)"
jcheck "$LOAD" 'j["bodies"].get("hello from python", 0) > 0 and j["bodies"].get("hello from python v2", 0) > 0' \
	"the loop saw version 1, then version 2 (bodies $(jget "$LOAD" 'j["bodies"]'))"
for _ in $(seq 10); do
	e2e_get BODY web /
	[ "$DEW_HTTP_STATUS $BODY" = "200 hello from python v2" ] || dew_fail "after the push: $DEW_HTTP_STATUS $BODY"
done
dew_ok "after the push, 10 requests all answered by version 2"
wait_json R /v1/apps/web/instances alice "$(cc_live 2)" "$(e2e_bound 15)" "two instances of version 2 RUNNING"

# ---- kill -9 an instance's process ------------------------------------------------------------------
e2e_load_start web /instance
sleep 0.5
e2e_kill_app web 0
t0=$(date +%s.%N)
wait_json R /v1/apps/web/instances alice "$(cc_live 2) and '$KILLED' not in [i['instance'] for i in j['instances']]" \
	"$(e2e_bound 10)" "index 0 runs again (a new instance) after kill -9 of its process"
t1=$(date +%s.%N)
BACK=$(python3 -c "print(round($t1 - $t0, 2))")
e2e_wait_answer web "hello from python v2" 5
# Its new instance serves through the router too.
deadline=$((SECONDS + $(e2e_bound 10)))
until e2e_get BODY web /instance && [ "$DEW_HTTP_STATUS" = 200 ] && [ "$(jget "$BODY" 'j["index"]')" = 0 ]; do
	[ $SECONDS -lt $deadline ] || dew_fail "the new index 0 never answered through the router: $BODY"
done
t2=$(date +%s.%N)
sleep 0.5
e2e_load_stop
echo "# kill -9 of index 0: RUNNING again (controller's view) after $BACK s, answering through the router after $(python3 -c "print(round($t2 - $t0, 2))") s"
e2e_load_report "kill -9 of one of two instances"
jcheck "$LOAD" 'j["ok"] > 0 and j["indices"].get("1", 0) > 0' "the route kept answering (index 1 served meanwhile)"
# The router retries, on the other instance, what cannot have reached an app (a refused connect),
# not a request the killed process had already accepted (dew-router(8)): those few get 502, or a
# response cut short when the process died while sending it. Each of the loop's 2 workers can
# lose one in flight and one queued in the listen backlog.
echo "# kill -9: $LOAD_FAILED requests failed (requests the killed process had already taken, not retried)"
jcheck "$LOAD" 'j["failed"] <= 4 and set(j["failures"]) <= {"status 502", "IncompleteRead"}' \
	"only requests the killed process had taken failed (at most 4 with 2 workers: 502 or cut short): the rest were retried or went to index 1"

e2e_sanitizer_check
dew_pass
