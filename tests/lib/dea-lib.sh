# SPDX-License-Identifier: MIT
# Helpers of the DEA integration tests (tests/integration/dea-*.sh), sourced after lib.sh: a
# real dew-bus with a recorder that keeps every message in $T/bus.jsonl (tests wait on it with
# deadlines), a stacks dir with the host stack and the buildpacks, fixture apps staged with
# dew-stage into droplets served over HTTP, dew-dea with the test settings, and start messages.
#
#   dea_lib_init [dew-bus ARGS...]  containers, bus, recorder, stacks, droplet server
#   dea_stage APP [NAME]            stage fixture APP into droplet NAME (default APP): SHA[NAME]
#   dea_start [NAME] [ARGS...]      dew-dea NAME (default dea) with DEA_ARGS and ARGS
#   start_json JSON [ID]            a start message: JSON (droplet, ...) over defaults
#   start_instance ID JSON          publish it to dea.$DEA_ID.start as a request: the reply
#   $R                              this run's suffix of instance ids (ID-$R)
#   bus_pub / bus_request / bus_mark / bus_wait / jget   (natsclient.py's commands)
#   wait_hb INSTANCE STATE [SECONDS] [MARK]   a heartbeat of this DEA with INSTANCE in STATE
#   containers                      the ids of the containers under $T/state, one per line

NATSCLIENT=$top_srcdir/tests/lib/natsclient.py
# Instance ids end with -$R: they name containers, whose cgroups are host-wide, so tests running
# at once (here or from another build tree) must not share one.
R=$$
export R
DEA=$top_builddir/dea/dew-dea
DEA_ID=dea1
FILES_SECRET=0123456789abcdef0123
declare -A SHA=()
DEA_PIDS=()
export PYTHONDONTWRITEBYTECODE=1

dea_lib_init() {
	command -v python3 >/dev/null || dew_skip "python3 is not installed"
	command -v curl >/dev/null || dew_skip "curl is not installed"
	[ -x "$DEA" ] || dew_fail "dew-dea not built at $DEA"
	dew_require_containers
	# First of the hooks: no DEA may create a container after dew_require_containers' hook
	# deleted them.
	DEW_CLEANUP_HOOKS=(dea__cleanup "${DEW_CLEANUP_HOOKS[@]}")

	STACKS=$T/stacks
	mkdir -p "$STACKS" "$T/droplets" "$T/pkgs"
	ln -s "$top_builddir/stacks/host" "$STACKS/host"
	ln -s "$top_srcdir/stacks/buildpacks" "$STACKS/buildpacks"
	[ -f "$STACKS/host/stack.json" ] || dew_fail "the host stack is not built ($top_builddir/stacks/host)"

	dew_start_daemon bus "$top_builddir/bus/dew-bus" "$@"
	BUS_URL=nats://127.0.0.1:$bus_PORT
	BUS_LOG=$T/bus.jsonl
	: >"$BUS_LOG"
	dew_spawn recorder python3 "$NATSCLIENT" record "$bus_PORT" "$BUS_LOG"
	dew_wait_file "$BUS_LOG.ready" 20 || dew_fail "the bus recorder did not start: $(cat "$T/recorder.log")"

	DROPLETS_PORT=$(dew_free_port)
	dew_spawn droplets python3 -m http.server --bind 127.0.0.1 --directory "$T/droplets" "$DROPLETS_PORT"
	dew_wait_port "$DROPLETS_PORT" 20 || dew_fail "the droplet server did not listen"

	# Instance ports: 51 that are free, below the kernel's ephemeral range, so that no outgoing
	# connection takes one between the DEA's choice and the app's bind (the DEA skips taken ones).
	PORT_MIN=$(dea__free_port_range 51) || dew_fail "no free range of 51 ports"
	DEA_ARGS=(--bus "$BUS_URL" --id "$DEA_ID" --ip 127.0.0.1 --state-dir "$T/dea-state" --base-dir "$T/dea-base"
		--runtime-root "$T/state" --stacks-dir "$STACKS" --stacks host --port-min "$PORT_MIN"
		--port-max $((PORT_MIN + 50)) --max-memory 1G --advertise-interval 200ms --heartbeat-interval 200ms
		--stop-timeout 2s --health-check-timeout 3s --crash-retention 1h --files-secret "$FILES_SECRET"
		--staging-concurrency 0 --register-interval 1h)
}

# dea__free_port_range N: the first of N consecutive ports that are free now, below the
# ephemeral range (random start, so that tests running at once pick different ranges).
dea__free_port_range() {
	python3 "$top_srcdir/tests/lib/free-port-range.py" "$1"
}

# Kill the DEAs still running (by PID: the containers are deleted next), and on a failure say
# what they left behind, to tell a leak from a slow stop. DEA_TEST_KEEP_LOGS=DIR keeps the
# daemons' logs and the bus recording there, whatever the outcome.
dea__cleanup() {
	local pid
	for pid in "${DEA_PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null || continue
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
	done
	if [ -n "${DEA_TEST_KEEP_LOGS:-}" ]; then
		mkdir -p "$DEA_TEST_KEEP_LOGS/$DEW_TEST_NAME"
		cp "$T"/*.log "$T/bus.jsonl" "$DEA_TEST_KEEP_LOGS/$DEW_TEST_NAME/" 2>/dev/null
	fi
	[ "$DEW_TEST_STATUS" = 0 ] && return
	echo "---- containers: $("${DEW_RUN[@]}" list 2>&1 | tr '\n' ' ')" >&2
	echo "---- instance dirs: $(ls "$T/dea-base/instances" 2>&1 | tr '\n' ' ')" >&2
}

# dea_stage APP [NAME]: stage tests/fixtures/apps/APP with dew-stage into $T/droplets/NAME.droplet.
dea_stage() {
	local app=$1 name=${2:-$1} out
	tar -C "$top_srcdir/tests/fixtures/apps/$app" -czf "$T/pkgs/$name.tgz" . || dew_fail "package $app"
	out=$("$top_builddir/stacks/dew-stage" --root "$T/state" --json --stacks-dir "$STACKS" \
		"$T/pkgs/$name.tgz" "$T/droplets/$name.droplet" 2>"$T/stage-$name.log") ||
		dew_fail "staging $app failed: $(tail -n 5 "$T/stage-$name.log")"
	SHA[$name]=$(jget "$out" 'j["sha256"]')
	[ "${SHA[$name]}" = "$(sha256sum "$T/droplets/$name.droplet" | cut -d' ' -f1)" ] ||
		dew_fail "dew-stage reported a SHA-256 that is not the droplet's"
	echo "${SHA[$name]}" >"$T/droplets/$name.sha256"
}

# dea_start [NAME] [ARGS...]: start dew-dea (sets NAME_PORT, NAME_STATUS_PORT, NAME_PID).
dea_start() {
	local name=${1:-dea}
	shift
	# A restart keeps what the previous run logged (sanitizer reports included).
	[ ! -s "$T/$name.log" ] || cat "$T/$name.log" >>"$T/$name-before-restart.log"
	dew_start_daemon "$name" "$DEA" "${DEA_ARGS[@]}" "$@"
	local pidvar=${name//-/_}_PID
	DEA_PIDS+=("${!pidvar}")
}

bus_pub() { python3 "$NATSCLIENT" pub "$bus_PORT" "$@"; }
# bus_request SUBJECT DATA [SECONDS] [COUNT]: the replies, one per line.
bus_request() {
	local opts=(--timeout "${3:-2}")
	[ -n "${4:-}" ] && opts+=(--count "$4")
	python3 "$NATSCLIENT" request "$bus_PORT" "$1" "$2" "${opts[@]}"
}
bus_mark() { python3 "$NATSCLIENT" mark "$BUS_LOG"; }
# bus_wait MARK SECONDS SUBJECT [natsclient.py wait options...]
bus_wait() {
	local mark=$1 secs=$2 subject=$3
	shift 3
	python3 "$NATSCLIENT" wait "$BUS_LOG" --after "$mark" --timeout "$secs" --subject "$subject" "$@"
}
# jget JSON EXPR: a Python expression over j.
jget() { python3 "$NATSCLIENT" get "$1" "$2"; }

# each EXPR: EXPR (Python, over j; short(ID) cuts the run's -$R off an id) of each JSON object
# on stdin (one per line), sorted, on one line.
each() { python3 "$NATSCLIENT" each "$1"; }
# ids KEY: the ids under KEY of the JSON objects on stdin, short, sorted, once each.
ids() { each "short(j['$1'])" | tr ' ' '\n' | uniq | tr '\n' ' ' | sed 's/ $//'; }

# pycheck WHAT ARGS... <<'PY' (a Python script on stdin): checks written with natsclient's
# ok()/check(); each "ok - " line counts as a check, a failure fails the test.
pycheck() {
	local what=$1 out rc
	shift
	out=$(PYTHONPATH=$top_srcdir/tests/lib python3 - "$@" 2>&1)
	rc=$?
	[ -z "$out" ] || echo "$out"
	[ $rc = 0 ] || dew_fail "$what (exit $rc)"
	DEW_CHECKS=$((DEW_CHECKS + $(grep -c '^ok - ' <<<"$out")))
}

# start_json JSON [INSTANCE_ID]: a start message; JSON's keys win over the defaults (droplet
# "python" staged: set "_droplet" to use another staged droplet by name).
start_json() {
	python3 - "$1" "$DROPLETS_PORT" "$T/droplets" "${2:-}" <<'PY'
import json, os, sys
over, port, droplets, iid = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if iid:
    over["instance_id"] = iid
name = over.pop("_droplet", "python")
sha_file = os.path.join(droplets, name + ".sha256")
sha = open(sha_file).read().strip() if os.path.exists(sha_file) else ""
m = {"droplet": "app", "name": over.get("droplet", "app"), "version": "v1", "index": 0,
     "droplet_uri": "http://127.0.0.1:%s/%s.droplet" % (port, name), "droplet_sha256": sha,
     "stack": "host", "memory": 128, "disk": 256, "fds": 1024, "env": {}, "services": [], "uris": []}
m.update(over)
print(json.dumps(m))
PY
}

# start_instance INSTANCE_ID JSON: start_json JSON INSTANCE_ID sent to this DEA as a request;
# prints the reply.
start_instance() {
	bus_request "dea.$DEA_ID.start" "$(start_json "$2" "$1")" 5 1
}

# wait_hb INSTANCE STATE [SECONDS] [MARK]: wait for a heartbeat listing INSTANCE in STATE.
wait_hb() {
	bus_wait "${4:-0}" "${3:-15}" dea.heartbeat --eq "dea=$DEA_ID" \
		--expr "any(d['instance'] == '$1' and d['state'] == '$2' for d in m['droplets'])" >/dev/null
}

# wait_gone INSTANCE [SECONDS]: the latest heartbeat of this DEA does not list INSTANCE.
wait_hb_without() {
	local mark
	mark=$(bus_mark)
	bus_wait "$mark" "${2:-15}" dea.heartbeat --eq "dea=$DEA_ID" \
		--expr "all(d['instance'] != '$1' for d in m['droplets'])" >/dev/null
}

# short_ids: lines of ids on stdin, the run's -$R cut off, sorted, on one line.
short_ids() {
	sed "s/-$R\$//" | sort | tr '\n' ' ' | sed 's/ $//'
}

containers() {
	"${DEW_RUN[@]}" list --json | python3 -c 'import json,sys; [print(c["id"]) for c in json.load(sys.stdin)]'
}

# wait_no_container ID [SECONDS]
wait_no_container() {
	local deadline=$((SECONDS + ${2:-15}))
	while containers | grep -qx "$1"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# metric NAME PORT: one sample of a /metrics (labels included in NAME when it has them).
metric() {
	curl -sS --max-time 5 "http://127.0.0.1:$2/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
