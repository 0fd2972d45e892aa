"""A WebSocket echo server from the `websockets` package (PyPI), for stampede's tests: every
message is sent back after `?delay=MS`. Prints its port, then `session IN OUT` per session."""
import asyncio, sys, urllib.parse
from websockets.asyncio.server import serve


async def echo(ws):
    q = urllib.parse.parse_qs(urllib.parse.urlparse(ws.request.path).query)
    delay = int(q.get("delay", ["0"])[0]) / 1000
    n_in = n_out = 0
    try:
        async for msg in ws:
            n_in += 1
            if delay:
                await asyncio.sleep(delay)
            await ws.send(msg)
            n_out += 1
    finally:
        print(f"session {n_in} {n_out}", flush=True)


async def main():
    async with serve(echo, "127.0.0.1", 0, max_queue=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"port {port}", flush=True)
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
