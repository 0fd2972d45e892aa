#!/usr/bin/env bash
# Servers we did not write for the streaming tests (tests/streaming.rs): Node.js (its `http`
# module serves an event stream) and the `websockets` package's server; the `hpack` package for
# the hostile HTTP/2 server (tests/servers/h2_hostile.py). Idempotent.
set -euo pipefail
if ! command -v node >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs >/dev/null
fi
if ! python3 -c "import websockets" 2>/dev/null; then
  python3 -m pip install -q "websockets==15.0.1"
fi
if ! python3 -c "import hpack" 2>/dev/null; then
  python3 -m pip install -q "hpack==4.2.0" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "hpack==4.2.0"
fi
