#!/usr/bin/env python3
"""The tiny API that nginx protects in scripts/platform-demo.sh: it answers every request with
what it was asked and who patgate said the caller is (the X-Patgate-* headers), and counts the
requests that reached it, so that the demo can show a refused request never did."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HITS = 0


class Upstream(BaseHTTPRequestHandler):
    def answer(self):
        global HITS
        HITS += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {
                "upstream": True,
                "hits": HITS,
                "method": self.command,
                "path": self.path,
                "user": self.headers.get("X-Patgate-User"),
                "user_id": self.headers.get("X-Patgate-User-Id"),
                "token_id": self.headers.get("X-Patgate-Token-Id"),
                "token_kind": self.headers.get("X-Patgate-Token-Kind"),
                "route": self.headers.get("X-Patgate-Route"),
                "authorization": self.headers.get("Authorization"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    host, port = sys.argv[1].rsplit(":", 1)
    ThreadingHTTPServer((host, int(port)), Upstream).serve_forever()
