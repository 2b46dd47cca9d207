# SPDX-License-Identifier: MIT
# Helpers for tests/integration/router-*.sh (source after lib.sh and dew_test_init): a bus, a
# router, test backends (tests/lib/router-backend.py), registration over the bus, and waiting
# for the router's table (/routes) to show a change.
export PYTHONDONTWRITEBYTECODE=1
RT_NATS="python3 $top_srcdir/tests/lib/natsclient.py"
export PYTHONPATH="$top_srcdir/tests/lib${PYTHONPATH:+:$PYTHONPATH}"
RT_PASSWORD=test-secret

# rt_start [ROUTER ARGS...]: dew-bus and dew-router; sets bus_PORT, router_PORT, router_STATUS_PORT.
# One worker unless ARGS say otherwise: round-robin cursors, in-flight counts, pools and /routes
# are per worker, and most checks count on one of each.
rt_start() {
	[ -x "$top_builddir/router/dew-router" ] || dew_fail "dew-router not built"
	command -v python3 >/dev/null || dew_skip "python3 is not installed"
	command -v curl >/dev/null || dew_skip "curl is not installed"
	dew_start_daemon bus "$top_builddir/bus/dew-bus"
	dew_start_daemon router "$top_builddir/router/dew-router" --bus "nats://127.0.0.1:$bus_PORT" \
		--routes-password "$RT_PASSWORD" --workers 1 "$@"
}

# rt_backend NAME: a test backend; sets NAME_PORT.
rt_backend() {
	local name=$1
	dew_spawn "$name" python3 "$top_srcdir/tests/lib/router-backend.py" "$name" "$T/$name.port"
	dew_wait_file "$T/$name.port" 20 || dew_fail "backend $name did not start"
	printf -v "${name//-/_}_PORT" '%s' "$(cat "$T/$name.port")"
}

# rt_pub SUBJECT JSON: publish on the bus.
rt_pub() {
	$RT_NATS pub "$bus_PORT" "$1" "$2" >/dev/null || dew_fail "publish $1"
}

# rt_msg PORT URIS_JSON [INSTANCE [EXTRA_JSON_FIELDS]]: a router.register payload.
rt_msg() {
	printf '{"host":"127.0.0.1","port":%s,"uris":%s,"app":"app-1","private_instance_id":"%s","private_instance_index":0,"tags":{}%s}' \
		"$1" "$2" "${3:-inst-$1}" "${4:+,$4}"
}

# rt_routes: the router's table as JSON.
rt_routes() {
	curl -sS --max-time 5 -u "router:$RT_PASSWORD" "http://127.0.0.1:$router_STATUS_PORT/routes"
}

# rt_wait_routes EXPR [SECONDS]: wait until the Python expression over j (the /routes JSON) holds.
rt_wait_routes() {
	local expr=$1 deadline=$((SECONDS + ${2:-10}))
	until rt_routes | python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || dew_fail "the router's table never satisfied: $expr; it is: $(rt_routes)"
		sleep 0.05
	done
}

# rt_register PORT URIS_JSON [INSTANCE [EXTRA]]: register and wait until the table shows it.
rt_register() {
	rt_pub router.register "$(rt_msg "$@")"
	local uri
	uri=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[-1].lower().rstrip("/"))' "$2")
	rt_wait_routes "any(e['address'] == '127.0.0.1:$1' for e in j.get('$uri', []))"
}

# rt_get VAR HOST PATH [CURL ARGS...]: a request through the router (status in DEW_HTTP_STATUS).
rt_get() {
	local var=$1 host=$2 path=$3
	shift 3
	dew_http "$var" "http://127.0.0.1:$router_PORT$path" -H "Host: $host" "$@"
}

# rt_json JSON EXPR: a Python expression over j.
rt_json() {
	python3 -c 'import json,sys; j=json.loads(sys.argv[1]); v=eval(sys.argv[2]); print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1" "$2"
}

# rt_metric NAME: a sample of the router's /metrics (labels included in NAME).
rt_metric() {
	curl -sS --max-time 5 "http://127.0.0.1:$router_STATUS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
