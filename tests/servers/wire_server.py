#!/usr/bin/env python3
"""A small HTTP/1.1 server (Python's http.server, not ours) for stampede's end-to-end tests:
it logs what it RECEIVED, so tests compare that with what was intended.

    wire_server.py --log FILE [--port 0] [--cert PEM --key PEM]

Prints `listening on PORT` once ready. Each request is appended to FILE as one JSON line:
{"method", "target" (the request-target exactly as received), "cookie", "user_agent", "x_v",
"body" (latin-1 decoded, so every byte survives), "status"}.

Answers are driven by the query string of the request-target:
  loc=URL       answer 302 (or `status=`) with `Location: URL`
  set=COOKIE    add `Set-Cookie: COOKIE` (repeatable)
  body=TEXT     answer TEXT (default `ok`)
Python's own access log line ("GET /a%20b HTTP/1.1" 200 -) goes to stderr.
"""

import argparse
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        status = int(query.get("status", ["302" if "loc" in query else "200"])[0])
        with LOCK:
            with open(self.server.log_path, "a", encoding="utf-8") as f:
                f.write(
                    json.dumps(
                        {
                            "method": self.command,
                            "target": self.path,
                            "cookie": self.headers.get("Cookie"),
                            "user_agent": self.headers.get("User-Agent"),
                            "x_v": self.headers.get("X-V"),
                            "body": body.decode("latin-1"),
                            "status": status,
                        }
                    )
                    + "\n"
                )
        text = query.get("body", ["ok"])[0].encode("utf-8")
        self.send_response(status)
        if "loc" in query:
            self.send_header("Location", query["loc"][0])
        for c in query.get("set", []):
            self.send_header("Set-Cookie", c)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(text)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = answer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.log_path = a.log
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(f"listening on {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
