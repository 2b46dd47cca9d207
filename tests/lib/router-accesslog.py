#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Parse dew-router's access log (gorouter's field order, router/accesslog.h) strictly: every
line must match the whole format, quoted values are unescaped. Prints a JSON list of objects,
one per line; exits 1 naming the first line that does not match.

usage: router-accesslog.py FILE
"""
import json
import re
import sys

Q = r'"((?:[^"\\]|\\.)*)"'
LINE = re.compile(
    r'^(\S+) - \[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\] ' + Q + r' (\d{3}) (\d+) (\d+) '
    + Q + ' ' + Q + ' ' + Q + ' ' + Q
    + ' x_forwarded_for:' + Q + ' x_forwarded_proto:' + Q + ' vcap_request_id:' + Q
    + r' response_time:(\d+\.\d{6}) app_id:' + Q + ' app_index:' + Q + ' instance_id:' + Q
    + ' x_cf_routererror:' + Q + '$')
NAMES = ["host", "time", "request", "status", "bytes_received", "bytes_sent", "referer",
         "user_agent", "remote_addr", "backend_addr", "x_forwarded_for", "x_forwarded_proto",
         "vcap_request_id", "response_time", "app_id", "app_index", "instance_id",
         "x_cf_routererror"]


def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == "\\":
            if s[i + 1] == "x":
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out += s[i + 1].encode()
            i += 2
            continue
        out += s[i].encode()
        i += 1
    return out.decode("latin-1")


rows = []
with open(sys.argv[1], "rb") as f:
    data = f.read()
if data and not data.endswith(b"\n"):
    sys.exit("the log does not end with a newline")
for n, raw in enumerate(data.splitlines(), 1):
    try:
        line = raw.decode("ascii")
    except UnicodeDecodeError:
        sys.exit("line %d holds a non-ASCII byte: %r" % (n, raw))
    m = LINE.match(line)
    if not m:
        sys.exit("line %d does not match the format: %s" % (n, line))
    row = dict(zip(NAMES, m.groups()))
    for k in NAMES:
        if k not in ("time", "status", "bytes_received", "bytes_sent", "response_time"):
            row[k] = unescape(row[k])
    rows.append(row)
print(json.dumps(rows))
