#!/usr/bin/env bash
# Servers we did not write, for tests/conformance.rs: nginx (Debian), Node.js (Debian `nodejs`
# unless a node is already on PATH), httpbin on gunicorn (PyPI, pinned) and Python's own
# http.server. Idempotent and non-interactive; runs as root on Debian.
set -euo pipefail
need_apt=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v node >/dev/null || need_apt+=(nodejs)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The Debian package starts nginx on port 80; the tests run their own instances.
  if command -v service >/dev/null; then service nginx stop >/dev/null 2>&1 || true; fi
fi
if ! python3 -c 'import httpbin, gunicorn' 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check --break-system-packages \
    'httpbin==0.10.2' 'gunicorn==23.0.0' 2>/dev/null \
  || python3 -m pip install -q --disable-pip-version-check 'httpbin==0.10.2' 'gunicorn==23.0.0'
fi
