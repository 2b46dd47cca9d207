#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# free-port-range.py N: print the first of N consecutive ports that are free now, below the
# ephemeral range (random start, so that runs at once pick different ranges); exit 1 when none
# was found. For the DEA's --port-min (tests/lib/dea-lib.sh, bench/healthd/run.sh).
import random, socket, sys
n = int(sys.argv[1])
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
if lo - n <= 10000:
    lo = 65535 - n
for _ in range(200):
    start = random.randrange(10000, lo - n)
    socks = []
    try:
        for p in range(start, start + n):
            s = socket.socket()
            socks.append(s)
            s.bind(("0.0.0.0", p))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(start)
    sys.exit(0)
sys.exit(1)
