"""An event stream served by Python's own http.server (HTTP/1.0: the body ends when the
connection closes), for stampede's streaming tests. GET any path: `?events=N&every=MS`.
Prints its port, then one line `stream EVENTS` per stream it finished writing."""
import sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# One handler thread per stream: without the lock two `print`s can interleave their text and
# newline ("stream 20stream 20"), and the test cannot read either.
PRINT = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        n = int(q.get("events", ["10"])[0])
        every = int(q.get("every", ["10"])[0]) / 1000
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        start = time.monotonic()
        for i in range(n):
            # CR line ends, a comment and a multi-line event: every WHATWG rule at once.
            self.wfile.write(f": tick\rid: {i}\rdata: tok{i}\rdata: line2\r\r".encode())
            self.wfile.flush()
            time.sleep(max(0, start + (i + 1) * every - time.monotonic()))
        with PRINT:
            print(f"stream {n}", flush=True)

    def log_message(self, *a):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"port {srv.server_address[1]}", flush=True)
srv.serve_forever()
