#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew-controller benchmark (issue #7): POST /v1/resource_match with 10,000 entries (half of them
# in the pool), upload throughput of a 200 MB app (PUT /v1/apps/:name/bits, uncompressed tar)
# on loopback, and GET /v1/apps latency with 64 concurrent clients (wrk). Peers measured in the
# same run where nginx is installed: the same upload body PUT to nginx (dav_methods PUT), and
# nginx serving the same JSON as a static file to the same wrk. Prints markdown; fails only when
# something does not work at all, never on a missed target.
# env: DEW_BUS, DEW_CONTROLLER (binaries), DEW_SRC (source tree); BENCH_MATCH_ENTRIES (10000),
#      BENCH_MATCH_RUNS (10), BENCH_UPLOAD_MB (200), BENCH_UPLOAD_RUNS (3), BENCH_APPS (10,100: the
#      list sizes of GET /v1/apps, measured one after the other), BENCH_WRK_SECONDS (10)
set -euo pipefail
: "${DEW_BUS:?}" "${DEW_CONTROLLER:?}" "${DEW_SRC:?}"
command -v curl >/dev/null || { echo "bench-controller: curl is not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench-controller: python3 is not installed" >&2; exit 1; }
tmp=$(mktemp -d /var/tmp/dew-bench-controller.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_file FILE LOG: wait up to 5 s for FILE; show LOG and fail without it.
wait_file() {
	for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done
	cat "$2" >&2
	echo "bench-controller: $1 never appeared" >&2
	exit 1
}

"$DEW_BUS" --listen 127.0.0.1:0 --port-file "$tmp/bus.port" --status-listen "" >"$tmp/bus.log" 2>&1 &
pids+=($!)
wait_file "$tmp/bus.port" "$tmp/bus.log"

password=bench-password-$RANDOM$RANDOM
cc_args=(--db "$tmp/cc/dew.db" --blobs-dir "$tmp/cc/blobs" --domain bench.test --password-iterations 1000)
echo "$password" | "$DEW_CONTROLLER" "${cc_args[@]}" --create-admin admin >"$tmp/create-admin.log" 2>&1 ||
	{ cat "$tmp/create-admin.log" >&2; exit 1; }
"$DEW_CONTROLLER" "${cc_args[@]}" --bus "nats://127.0.0.1:$(cat "$tmp/bus.port")" --listen 127.0.0.1:0 \
	--port-file "$tmp/cc.port" --status-listen "" --ready-file "$tmp/cc.ready" >"$tmp/cc.log" 2>&1 &
cc_pid=$!
pids+=("$cc_pid")
wait_file "$tmp/cc.ready" "$tmp/cc.log"
wait_file "$tmp/cc.port" "$tmp/cc.log"

# The peer: nginx with one worker (the controller serves HTTP from one event loop), PUT through
# the dav module, static files, keep-alive without a request limit, no access log.
peer=()
if command -v nginx >/dev/null && nginx -V 2>&1 | grep -q -- --with-http_dav_module; then
	nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$tmp/nginx" "$tmp/www/put" "$tmp/www/v1"
	user_line=""
	[ "$(id -u)" = 0 ] && user_line="user root root;"
	cat >"$tmp/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	types { }
	default_type application/octet-stream;
	keepalive_requests 100000000;
	server {
		listen 127.0.0.1:$nginx_port;
		root $tmp/www;
		client_max_body_size 0;
		location /put/ { dav_methods PUT; create_full_put_path on; }
		location = /v1/apps { default_type application/json; }
	}
}
EOF
	nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" >"$tmp/nginx/out.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" && break
		sleep 0.05
	done
	peer=(--nginx "http://127.0.0.1:$nginx_port" --nginx-root "$tmp/www" --nginx-version "$(nginx -v 2>&1 | sed 's,.*/,,')")
else
	echo "bench-controller: nginx (with the dav module) is not installed: no peer for the upload and" \
		"latency rows (apt-get install nginx)" >&2
fi

python3 "$DEW_SRC/bench/controller/controller-bench.py" --url "http://127.0.0.1:$(cat "$tmp/cc.port")" \
	--user admin --password "$password" --work "$tmp" --cc-pid "$cc_pid" "${peer[@]}" \
	--match-entries "${BENCH_MATCH_ENTRIES:-10000}" --match-runs "${BENCH_MATCH_RUNS:-10}" \
	--upload-mb "${BENCH_UPLOAD_MB:-200}" --upload-runs "${BENCH_UPLOAD_RUNS:-3}" \
	--apps "${BENCH_APPS:-10,100}" --wrk-seconds "${BENCH_WRK_SECONDS:-10}"
