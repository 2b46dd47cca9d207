#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The static buildpack's file server (stdlib only), copied into the app as .dew/serve.py: serves
# the app directory (the parent of .dew/) on $VCAP_APP_HOST:$PORT with a fixed content-type table,
# index.html for directories, 404 for anything missing, for directories without an index and for
# dot paths (.dew/, .profile.d/, ...), which are the platform's business, not the site's.
import http.server
import os
import posixpath
import signal
import sys
import urllib.parse

# A fixed table, so the types do not depend on the stack's /etc/mime.types; the rest falls back
# to the mimetypes module, then application/octet-stream.
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    "": "application/octet-stream",
}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Handler(http.server.SimpleHTTPRequestHandler):
    server_version = "dew-static/1"
    extensions_map = TYPES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=ROOT, **kwargs)

    def send_head(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if any(part.startswith(".") for part in posixpath.normpath(path).split("/") if part):
            self.send_error(404, "Not Found")
            return None
        return super().send_head()

    def list_directory(self, path):
        self.send_error(404, "Not Found")
        return None


def main():
    host = os.environ.get("VCAP_APP_HOST", "0.0.0.0")
    port = int(os.environ.get("PORT", "8080"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    http.server.ThreadingHTTPServer.daemon_threads = True
    with http.server.ThreadingHTTPServer((host, port), Handler) as server:
        print(f"serving {ROOT} on {host}:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
