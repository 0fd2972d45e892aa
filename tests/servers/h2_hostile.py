#!/usr/bin/env python3
"""Hostile raw HTTP/2 (h2c, prior knowledge) server for stampede's HTTP/2 accounting tests
(tests/e2e/h2_hostile.rs), written by a reviewer of the own h2 path (issue 22); HPACK by the
`hpack` PyPI package.
Behaviour chosen by the request's :path (first segment). Logs one line per event to LOG:
  got <mode> <sid> <bodybytes>   a request whose headers+body the server received in full (or headers only for early modes)
  hdr <mode> <sid>               request HEADERS received
  out <kind> <mode> <sid>        what the server did (answered/refused/goaway_below/rst/...)
Usage: hostile_h2.py PORT LOG [conn-mode [CERT KEY]]   conn-mode: mcs0 | bigwin | plain; with CERT and KEY
(PEM files) the server speaks TLS with ALPN h2 instead of h2c.
"""
import asyncio, ssl, struct, sys, os, time
import hpack

PORT = int(sys.argv[1]); LOG = open(sys.argv[2], "a", buffering=1)
CONN_MODE = sys.argv[3] if len(sys.argv) > 3 else "plain"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST, SETTINGS, PUSH, PING, GOAWAY, WU, CONT = range(10)
ES, EH, PADDED, ACK = 0x1, 0x4, 0x8, 0x1
counter = {"n": 0}

def log(*a):
    LOG.write(" ".join(str(x) for x in a) + "\n")

def frame(t, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", sid) + payload

class Conn:
    def __init__(self, r, w):
        self.r, self.w = r, w
        self.enc = hpack.Encoder(); self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 30
        self.dec.max_allowed_table_size = 65536
        self.streams = {}
        self.closed = False
        self.init_window = 65535
        self.cont = None
        self.win_events = {}
        self.n = 0  # streams opened on this connection

    def send(self, b):
        if not self.closed:
            self.w.write(b)

    def hdrs(self, sid, fields, end=False, pad=0):
        block = self.enc.encode(fields)
        flags = EH | (ES if end else 0)
        if pad:
            self.send(frame(HEADERS, flags | PADDED, sid, bytes([pad]) + block + b"\0" * pad))
        else:
            self.send(frame(HEADERS, flags, sid, block))

    def data(self, sid, n, end=True, pad=0, cl_chunk=16000):
        left = n
        while left > 0:
            c = min(left, cl_chunk)
            left -= c
            fl = ES if (end and left == 0) else 0
            if pad:
                self.send(frame(DATA, fl | PADDED, sid, bytes([pad]) + b"x" * c + b"\0" * pad))
            else:
                self.send(frame(DATA, fl, sid, b"x" * c))
        if n == 0 and end:
            self.send(frame(DATA, ES, sid))

    async def run(self):
        pre = await self.r.readexactly(24)
        assert pre == PREFACE, pre
        settings = b""
        if CONN_MODE == "mcs0":
            settings += struct.pack(">HI", 3, 0)
        if CONN_MODE == "bigwin":
            # windows of 2^31-1: a request body flows without waiting for WINDOW_UPDATEs, so a
            # server that closes mid-body makes the client's write fail
            settings += struct.pack(">HI", 4, 0x7FFFFFFF)
        self.send(frame(SETTINGS, 0, 0, settings))
        if CONN_MODE == "bigwin":
            self.send(frame(WU, 0, 0, struct.pack(">I", 0x7FFFFFFF - 65535)))
        while True:
            try:
                h = await self.r.readexactly(9)
            except Exception:
                return
            ln = int.from_bytes(h[:3], "big"); t = h[3]; fl = h[4]; sid = int.from_bytes(h[5:9], "big") & 0x7fffffff
            p = await self.r.readexactly(ln) if ln else b""
            if t == SETTINGS and not fl & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            elif t == PING and not fl & ACK:
                self.send(frame(PING, ACK, 0, p))
            elif t == HEADERS:
                if fl & EH:
                    await self.on_headers(sid, p, fl)
                else:
                    self.cont = (sid, p, fl)
            elif t == CONT:
                s0, blk, fl0 = self.cont
                blk += p
                if fl & EH:
                    self.cont = None
                    await self.on_headers(s0, blk, fl0)
                else:
                    self.cont = (s0, blk, fl0)
            elif t == DATA:
                st = self.streams.get(sid)
                if ln:
                    self.send(frame(WU, 0, 0, struct.pack(">I", ln)))
                    if st and not fl & ES:
                        self.send(frame(WU, 0, sid, struct.pack(">I", ln)))
                if st:
                    st["body"] += ln
                    if fl & ES:
                        await self.on_end(sid)
            elif t == RST:
                log("client_rst", sid, struct.unpack(">I", p)[0])
            elif t == GOAWAY:
                log("client_goaway", p[:8].hex())
            await self.w.drain()
            if self.closed:
                self.w.close(); return

    async def on_headers(self, sid, p, fl):
        if fl & PADDED:
            padlen = p[0]; p = p[1:len(p) - padlen]
        if fl & 0x20:
            p = p[5:]
        fields = self.dec.decode(p, raw=False)
        d = dict(fields)
        path = d.get(":path", "/")
        mode = path.strip("/").split("?")[0].split("/")[0]
        self.streams[sid] = {"mode": mode, "body": 0, "path": path, "fields": fields}
        log("hdr", mode, sid)
        counter["n"] += 1
        n = counter["n"]
        self.n += 1
        if mode == "win0" and not fl & ES:
            # lower INITIAL_WINDOW_SIZE to 0 during the POST body, then open the stream again later
            self.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0)))
            asyncio.get_event_loop().call_later(0.3, self.reopen, sid)
        if mode == "goaway_hdr" and not fl & ES and self.n % 2 == 0:
            # refuse the POST as soon as its HEADERS arrive (GOAWAY below it), close while its body
            # still flows: every second stream of a connection, so the retry (the first stream of
            # a new connection) is answered; counted globally, two VUs in step could be refused
            # five times in a row and stampede rightly gives up (`reset`)
            self.send(frame(GOAWAY, 0, 0, struct.pack(">II", sid - 2 if sid > 1 else 0, 0)))
            log("out refused_goaway_hdr", mode, sid); self.streams.pop(sid)
            await self.w.drain(); self.closed = True
            return
        if mode == "win0never" and not fl & ES:
            # INITIAL_WINDOW_SIZE 0 during the POST body, never opened again
            self.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0))); log("out window_stuck", mode, sid)
        if mode == "pingforever":
            async def pinger():
                i = 0
                while not self.closed and not self.w.is_closing():
                    self.send(frame(PING, 0, 0, struct.pack(">Q", i))); i += 1
                    try: await self.w.drain()
                    except Exception: return
                    await asyncio.sleep(0.01)
            asyncio.ensure_future(pinger()); log("out ping_forever", mode, sid)
        if mode == "early" and not fl & ES:
            # complete response before the request body arrives (RFC 9113 8.1), then RST NO_ERROR
            self.hdrs(sid, [(":status", "200"), ("content-length", "2")])
            self.send(frame(DATA, ES, sid, b"ok"))
            self.send(frame(RST, 0, sid, struct.pack(">I", 0)))
            log("out answered_early", mode, sid)
            self.streams.pop(sid)
            return
        if fl & ES:
            await self.on_end(sid)

    def reopen(self, sid):
        if self.closed: return
        self.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 65535)))
        log("reopen", sid)

    async def on_end(self, sid):
        st = self.streams.pop(sid)
        mode, path = st["mode"], st["path"]
        log("got", mode, sid, st["body"])
        n = counter["n"]
        q = dict(kv.split("=") for kv in path.split("?")[1].split("&")) if "?" in path else {}
        size = int(q.get("size", "100"))
        ok = [(":status", "200"), ("content-length", str(size))]
        if CONN_MODE == "mcs0":
            self.send(frame(RST, 0, sid, struct.pack(">I", 7))); log("out refused_rst", mode, sid)
        elif mode in ("ok", "win0", "goaway_hdr"):
            self.hdrs(sid, ok); self.data(sid, size); log("out answered", mode, sid)
        elif mode == "goaway_in":
            # graceful GOAWAY naming the in-flight stream, then answer it, then close
            self.send(frame(GOAWAY, 0, 0, struct.pack(">II", sid, 0)))
            self.hdrs(sid, ok); self.data(sid, size); log("out answered", mode, sid)
            await self.w.drain(); await asyncio.sleep(0.05); self.closed = True
        elif mode == "goaway_below":
            if n % 3 == 0:
                self.send(frame(GOAWAY, 0, 0, struct.pack(">II", sid - 2 if sid > 1 else 0, 0)))
                log("out refused_goaway", mode, sid); await self.w.drain(); await asyncio.sleep(0.02); self.closed = True
            else:
                self.hdrs(sid, ok); self.data(sid, size); log("out answered", mode, sid)
        elif mode == "refuse":
            if n % 3 == 0:
                self.send(frame(RST, 0, sid, struct.pack(">I", 7))); log("out refused_rst", mode, sid)
            else:
                self.hdrs(sid, ok); self.data(sid, size); log("out answered", mode, sid)
        elif mode == "rstint":
            if n % 3 == 0:
                self.send(frame(RST, 0, sid, struct.pack(">I", 2))); log("out rst_internal", mode, sid)
            else:
                self.hdrs(sid, ok); self.data(sid, size); log("out answered", mode, sid)
        elif mode == "rsthead":
            self.hdrs(sid, ok); self.data(sid, size // 2, end=False)
            self.send(frame(RST, 0, sid, struct.pack(">I", 2))); log("out rst_after_head", mode, sid)
        elif mode == "closemid":
            self.hdrs(sid, ok); self.data(sid, size // 2, end=False); log("out closed_mid", mode, sid)
            await self.w.drain(); self.closed = True
        elif mode == "closenohead":
            log("out closed_nohead", mode, sid); self.closed = True
        elif mode == "c100":
            self.hdrs(sid, [(":status", "100")]); self.hdrs(sid, [(":status", "103"), ("link", "</a>")])
            self.hdrs(sid, ok); self.data(sid, size); log("out answered", mode, sid)
        elif mode == "trailers":
            self.hdrs(sid, ok); self.data(sid, size, end=False)
            self.hdrs(sid, [("x-trailer", "t"), ("grpc-status", "0")], end=True); log("out answered", mode, sid)
        elif mode == "trailshort":
            # content-length says `size`, only half sent, then trailers with END_STREAM: malformed (8.1.1)
            self.hdrs(sid, ok); self.data(sid, size // 2, end=False)
            self.hdrs(sid, [("x-trailer", "t")], end=True); log("out cl_short_trailers", mode, sid)
        elif mode == "padded":
            self.hdrs(sid, ok, pad=200); self.data(sid, size, pad=255); log("out answered", mode, sid)
        elif mode == "cont":
            block = self.enc.encode(ok + [("x-big-%d" % i, "v" * int(q.get("v", "1000"))) for i in range(int(q.get("n", "40")))])
            chunks = [block[i:i + 3000] for i in range(0, len(block), 3000)]
            self.send(frame(HEADERS, 0, sid, chunks[0]))
            for i, c in enumerate(chunks[1:]):
                self.send(frame(CONT, EH if i == len(chunks) - 2 else 0, sid, c))
            if len(chunks) == 1:
                raise SystemExit("need more chunks")
            self.data(sid, size); log("out answered", mode, sid)
        elif mode == "pingflood":
            for i in range(int(q.get("pings", "2000"))):
                self.send(frame(PING, 0, 0, struct.pack(">Q", i)))
            self.hdrs(sid, ok); self.data(sid, size); log("out answered", mode, sid)
        elif mode == "cllong":
            self.hdrs(sid, [(":status", "200"), ("content-length", "10")]); self.data(sid, 20); log("out cl_long", mode, sid)
        elif mode == "clshort":
            self.hdrs(sid, [(":status", "200"), ("content-length", "20")]); self.data(sid, 10); log("out cl_short", mode, sid)
        elif mode == "idle":
            # WINDOW_UPDATE and DATA on a stream never opened
            self.send(frame(WU, 0, sid + 20, struct.pack(">I", 100)))
            self.hdrs(sid, ok); self.data(sid, size); log("out idle_frame_then_answer", mode, sid)
        elif mode == "tsu":
            # dynamic table size update to 0 then 4096 at the start of a block, then indexed fields
            self.enc.header_table_size = 0
            self.enc.header_table_size = 4096
            self.hdrs(sid, ok + [("x-a", "1" * 50)]); self.data(sid, size); log("out answered", mode, sid)
        elif mode == "evict":
            # incremental indexing, values that evict each other from a 4096-byte table
            fl = ok + [("x-ev-%d" % ((n + i) % 7), ("%d" % i) * 900) for i in range(5)]
            self.hdrs(sid, fl); self.data(sid, size); log("out answered", mode, sid)
        elif mode == "goawaylie":
            # head and half the body, then a GOAWAY claiming the stream was not processed (last=0)
            self.hdrs(sid, ok); self.data(sid, size // 2, end=False)
            self.send(frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0))); log("out head_then_goaway0", mode, sid)
            await self.w.drain(); await asyncio.sleep(0.02); self.closed = True
        elif mode == "slow":
            def later():
                if self.closed: return
                self.hdrs(sid, ok); self.data(sid, size); log("out answered", mode, sid)
            asyncio.get_event_loop().call_later(float(q.get("s", "3")), later)
            log("out slow_pending", mode, sid)
        elif mode == "uppercase":
            # uppercase field name: malformed (RFC 9113 8.2.1)
            self.hdrs(sid, ok + [("X-Upper", "1")]); self.data(sid, size); log("out answered_malformed", mode, sid)
        elif mode == "pseudoafter":
            # :status after a regular field: malformed (RFC 9113 8.3)
            self.hdrs(sid, [("content-length", str(size)), (":status", "200")]); self.data(sid, size); log("out answered_malformed", mode, sid)
        elif mode == "goawayerr":
            # GOAWAY naming the stream (may have processed it), INTERNAL_ERROR, close without an answer
            self.send(frame(GOAWAY, 0, 0, struct.pack(">II", sid, 2))); log("out goaway_err_close", mode, sid)
            await self.w.drain(); await asyncio.sleep(0.02); self.closed = True
        elif mode == "extradata":
            self.hdrs(sid, ok); self.data(sid, size); self.send(frame(DATA, ES, sid, b"zz")); log("out answered_then_data_on_closed", mode, sid)
        elif mode == "pingforever":
            pass
        elif mode == "never":
            log("out never", mode, sid)
        else:
            self.hdrs(sid, [(":status", "404"), ("content-length", "0")], end=True); log("out 404", mode, sid)

async def handle(r, w):
    c = Conn(r, w)
    try:
        await c.run()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        try: w.close()
        except Exception: pass

async def main():
    tls = None
    if len(sys.argv) > 5:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[4], sys.argv[5])
        tls.set_alpn_protocols(["h2"])
    srv = await asyncio.start_server(handle, "127.0.0.1", PORT, backlog=1024, ssl=tls)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
