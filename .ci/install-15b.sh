#!/usr/bin/env bash
# Tools for tests/wire.rs (servers we did not write): Python 3 runs tests/servers/wire_server.py
# (http.server, with ssl for HTTPS) and openssl makes the development certificate. Idempotent,
# non-interactive; installs only what is missing (Debian, as root).
set -euo pipefail
missing=()
command -v python3 >/dev/null || missing+=(python3)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
