#!/usr/bin/env python3
"""A raw-socket HTTP/1.1 server that misbehaves on purpose, for tests/e2e/conformance.rs.

    hostile.py MODE [--port N]

Prints `listening on PORT` once ready. Every request head it reads completely is one line
(`METHOD PATH`) in its log, written at once to the file named by --log, so a test can compare
stampede's `http_reqs` with what this server received. Loopback only.

Modes (what the server does with each request it has read):
  drop-second   answers the first request of each connection, closes after reading the second
  hang-2pct     never answers every 50th request (holds the connection until the client goes)
  interim-1000  1000 x `103 Early Hints`, then `200`
  headers-70    a 200 with 70 header lines
  headers-300   a 200 with 300 header lines (over stampede's default limit of 256)
  te-cl         Transfer-Encoding: chunked and Content-Length together (TE wins; then closes)
  te-gzip       Transfer-Encoding: gzip (not chunked): the body runs until the server closes
  plus-cl       Content-Length: +5 (invalid)
  truncated     Content-Length: 100, then 20 bytes and close
  reset         closes with an RST (SO_LINGER 0) after reading the request
  slow-head     the head in small pieces 2 ms apart, then the body
  close-after   answers with `Connection: close` and closes
  close-idle    answers (keep-alive, by its headers) then closes the connection at once
  switch        `101 Switching Protocols`, then bytes of the new protocol
  ok            a plain keep-alive `200` (with --conns FILE: one line per connection accepted)
"""
import argparse
import socket
import struct
import sys
import threading
import time

LOCK = threading.Lock()
COUNT = [0]
LOG = [None]


def note(line):
    with LOCK:
        COUNT[0] += 1
        n = COUNT[0]
        if LOG[0]:
            LOG[0].write(line + "\n")
            LOG[0].flush()
    return n


def read_request(conn, buf):
    """One request (head and Content-Length body) from conn; returns (head, rest) or None."""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return None
        if not chunk:
            return None
        rest += chunk
    return head, rest[length:]


def ok(body=b"ok", extra=b""):
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def serve(conn, mode):
    buf = b""
    served = 0
    try:
        while True:
            got = read_request(conn, buf)
            if got is None:
                return
            head, buf = got
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, path = line.split(" ")[:2]
            n = note(f"{method} {path}")
            served += 1
            if mode == "drop-second":
                if served >= 2:
                    return
                conn.sendall(ok())
            elif mode == "hang-2pct":
                if n % 50 == 0:
                    # Never answer: wait until the client closes.
                    while conn.recv(65536):
                        pass
                    return
                conn.sendall(ok())
            elif mode == "interim-1000":
                conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" * 1000 + ok())
            elif mode == "headers-70":
                conn.sendall(ok(extra=b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(69))))
            elif mode == "headers-300":
                conn.sendall(ok(extra=b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(299))))
            elif mode == "te-cl":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
            elif mode == "te-gzip":
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nnot really gzip")
                return
            elif mode == "plus-cl":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello")
            elif mode == "truncated":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 20)
                return
            elif mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            elif mode == "slow-head":
                resp = ok(extra=b"X-Slow: yes\r\n")
                for i in range(0, len(resp), 7):
                    conn.sendall(resp[i:i + 7])
                    time.sleep(0.002)
            elif mode == "close-idle":
                conn.sendall(ok())
                return
            elif mode == "switch":
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nHELLO")
            elif mode == "ok":
                conn.sendall(ok())
            elif mode == "close-after":
                conn.sendall(ok(extra=b"Connection: close\r\n"))
                return
            else:
                sys.exit(f"unknown mode {mode}")
    except OSError:
        return
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", default=None)
    p.add_argument("--conns", default=None)
    a = p.parse_args()
    conns = open(a.conns, "a") if a.conns else None
    if a.log:
        LOG[0] = open(a.log, "a")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", a.port))
    s.listen(512)
    print(f"listening on {s.getsockname()[1]}", flush=True)
    while True:
        conn, _ = s.accept()
        if conns:
            conns.write("connection\n")
            conns.flush()
        threading.Thread(target=serve, args=(conn, a.mode), daemon=True).start()


if __name__ == "__main__":
    main()
