# SPDX-License-Identifier: MIT
# The quickstart's sample app (stdlib only): says hello, names the instance that answered.
import http.server
import json
import os
import signal
import sys


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        app = json.loads(os.environ.get("VCAP_APPLICATION", "{}"))
        body = "Hello from dew! (app {}, instance {})\n".format(
            app.get("application_name", "?"), app.get("instance_index", "?")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("%s %s" % (self.address_string(), fmt % args), flush=True)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
port = int(os.environ.get("PORT", "8080"))
with http.server.ThreadingHTTPServer(("0.0.0.0", port), Hello) as server:
    print("hello: listening on port %d" % port, flush=True)
    server.serve_forever()
