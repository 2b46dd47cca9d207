#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-router: dew-router against nginx as a keep-alive reverse proxy, both in front of the
# same nginx backend returning a 13-byte body (1 worker each). wrk -t2 -c64 -d10s direct, through
# dew-router and through nginx (adding the same headers); single-connection added latency; then
# 100,000 routes registered over the bus: time until the table holds them all, and the RSS.
# Prints numbers; never fails a build on them. Needs nginx, wrk, python3, curl.
set -u
: "${DEW_BUS:?}" "${DEW_ROUTER:?}" "${DEW_SRC:?}"
DURATION=${BENCH_DURATION:-10s}
for t in nginx wrk python3 curl; do
	command -v $t >/dev/null || { echo "bench-router: $t is not installed"; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/dew-bench-router.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

BACKEND=$(free_port)
PROXY=$(free_port)
mkdir -p "$T/ng"
# ng_conf NAME: the part of an nginx.conf both instances share (1 worker, files under $T/ng/NAME-*).
ng_conf() {
	printf 'worker_processes 1;\ndaemon off;\npid %s/ng/%s.pid;\nerror_log %s/ng/%s-error.log;\n' "$T" "$1" "$T" "$1"
	printf 'events { worker_connections 4096; }\nhttp {\naccess_log off; keepalive_requests 1000000;\n'
	for k in client_body proxy fastcgi uwsgi scgi; do printf '%s_temp_path %s/ng/%s-%s;\n' $k "$T" "$1" $k; done
}
{
	ng_conf nginx
	echo "server { listen 127.0.0.1:$BACKEND; location / { return 200 \"Hello, world!\"; } }"
	echo "}"
} >"$T/ng/nginx.conf"
# The peer: nginx as a reverse proxy, adding the headers dew-router adds.
{
	ng_conf proxy
	cat <<NGINX
	upstream app { server 127.0.0.1:$BACKEND; keepalive 128; }
	server {
		listen 127.0.0.1:$PROXY;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto \$scheme;
			proxy_set_header X-Request-Start \$msec;
			proxy_set_header X-Vcap-Request-Id \$request_id;
			proxy_set_header X-CF-ApplicationID app;
			proxy_set_header X-CF-InstanceID inst;
			proxy_set_header X-CF-InstanceIndex 0;
			add_header X-Vcap-Request-Id \$request_id;
		}
	}
}
NGINX
} >"$T/ng/proxy.conf"
nginx -p "$T/ng" -c "$T/ng/nginx.conf" 2>"$T/ng/start.log" &
PIDS+=($!)
nginx -p "$T/ng" -c "$T/ng/proxy.conf" 2>"$T/ng/proxy-start.log" &
PIDS+=($!)
"$DEW_BUS" --listen 127.0.0.1:0 --port-file "$T/bus.port" --status-listen "" >"$T/bus.log" 2>&1 &
PIDS+=($!)
wait_port "$BACKEND" && wait_port "$PROXY" || { echo "bench-router: nginx did not start"; cat "$T/ng/"*.log; exit 1; }
for _ in $(seq 100); do [ -s "$T/bus.port" ] && break; sleep 0.05; done
BUS=$(cat "$T/bus.port")
"$DEW_ROUTER" --bus "nats://127.0.0.1:$BUS" --listen 127.0.0.1:0 --port-file "$T/router.port" \
	--status-listen 127.0.0.1:0 --status-port-file "$T/router.sport" --ready-file "$T/router.ready" \
	--log-level warning --workers 1 >"$T/router.log" 2>&1 &
ROUTER_PID=$!
PIDS+=($ROUTER_PID)
for _ in $(seq 200); do [ -e "$T/router.ready" ] && break; sleep 0.05; done
ROUTER=$(cat "$T/router.port")
SPORT=$(cat "$T/router.sport")
export PYTHONPATH=$DEW_SRC/tests/lib PYTHONDONTWRITEBYTECODE=1
python3 "$DEW_SRC/tests/lib/natsclient.py" pub "$BUS" router.register \
	"{\"host\":\"127.0.0.1\",\"port\":$BACKEND,\"uris\":[\"bench.example.com\"],\"app\":\"app\",\"private_instance_id\":\"inst\",\"private_instance_index\":0}" >/dev/null
for _ in $(seq 100); do
	[ "$(curl -s -H 'Host: bench.example.com' "http://127.0.0.1:$ROUTER/")" = "Hello, world!" ] && break
	sleep 0.05
done

# run NAME URL [wrk args]: one wrk run; prints "req/s p50 p99" (latencies in microseconds).
run() {
	local name=$1 url=$2
	shift 2
	wrk "$@" --latency -H 'Host: bench.example.com' "$url" >"$T/wrk-$name.txt" 2>&1
	python3 - "$T/wrk-$name.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def us(s):
    v, u = float(re.match(r"([\d.]+)", s).group(1)), re.search(r"(us|ms|s)$", s).group(1)
    return v * {"us": 1, "ms": 1000, "s": 1e6}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = us(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = us(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print("%.0f %.0f %.0f %s" % (rps, p50, p99, bad.group(1) if bad else "0"))
PY
}
echo "bench-router: wrk -t2 -c64 -d$DURATION, 13-byte body, 1 worker each ($(nproc) cores, shared with wrk)"
printf '%-22s %12s %10s %10s %8s\n' target req/s p50_us p99_us non2xx
declare -A R
for target in direct dew-router nginx-proxy; do
	case $target in
	direct) url=http://127.0.0.1:$BACKEND/ ;;
	dew-router) url=http://127.0.0.1:$ROUTER/ ;;
	nginx-proxy) url=http://127.0.0.1:$PROXY/ ;;
	esac
	R[$target]=$(run "$target" "$url" -t2 -c64 -d"$DURATION")
	printf '%-22s %12s %10s %10s %8s\n' "$target" ${R[$target]}
done
read -r dr _ dp99 _ <<<"${R[dew-router]}"
read -r nr _ np99 _ <<<"${R[nginx-proxy]}"
python3 -c "import sys; print('ratio dew-router/nginx-proxy: req/s %.2fx, p99 %.2fx' % (float(sys.argv[1])/float(sys.argv[2]), float(sys.argv[3])/float(sys.argv[4])))" "$dr" "$nr" "$dp99" "$np99"

echo "bench-router: single connection (wrk -t1 -c1 -d5s), added latency at p50"
d1=$(run direct1 "http://127.0.0.1:$BACKEND/" -t1 -c1 -d5s)
r1=$(run router1 "http://127.0.0.1:$ROUTER/" -t1 -c1 -d5s)
n1=$(run nginx1 "http://127.0.0.1:$PROXY/" -t1 -c1 -d5s)
printf '%-22s %12s %10s %10s %8s\n' direct $d1 dew-router $r1 nginx-proxy $n1
python3 -c "import sys; d,r,n=[float(x.split()[1]) for x in sys.argv[1:4]]; print('added p50: dew-router %.0f us, nginx-proxy %.0f us' % (r-d, n-d))" "$d1" "$r1" "$n1"

echo "bench-router: 100,000 routes registered over the bus"
rss_before=$(awk '/VmRSS/ { print $2 }' "/proc/$ROUTER_PID/status")
python3 - "$BUS" "$SPORT" <<'PY'
import json, socket, sys, time, urllib.request
bus, sport = int(sys.argv[1]), int(sys.argv[2])
frames = []
for i in range(100000):
    m = json.dumps({"host": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255), "port": 8080,
                    "uris": ["app-%d.bench.example.com" % i], "app": "app-%d" % i,
                    "private_instance_id": "inst-%d" % i, "private_instance_index": 0}).encode()
    frames.append(b"PUB router.register %d\r\n%s\r\n" % (len(m), m))
data = b"".join(frames)
s = socket.create_connection(("127.0.0.1", bus))
s.recv(4096)
s.sendall(b'CONNECT {"verbose":false}\r\n')
t0 = time.monotonic()
s.sendall(data)
while True:
    page = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % sport).read().decode()
    n = [l for l in page.splitlines() if l.startswith("dew_router_routes ")]
    if n and float(n[0].split()[1]) >= 100001:
        break
    if time.monotonic() - t0 > 60:
        print("timed out with %s" % n)
        break
    time.sleep(0.01)
print("100,000 routes registered in %.2f s (publish included)" % (time.monotonic() - t0))
PY
rss_after=$(awk '/VmRSS/ { print $2 }' "/proc/$ROUTER_PID/status")
echo "router RSS: $((rss_before / 1024)) MB before, $((rss_after / 1024)) MB with 100,001 routes"
echo "bench-router: done"
