#!/usr/bin/env bash
# Tools that tests/ecosystem.rs runs against stampede's k6-compatible files: Prometheus and jq
# (Debian), the `hdrhistogram` PyPI package in a venv, and the `k6-html-reporter` npm package.
# Idempotent and non-interactive; installs under $STAMPEDE_CI_TOOLS (default /opt/stampede-ci).
set -euo pipefail
DIR="${STAMPEDE_CI_TOOLS:-/opt/stampede-ci}"
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v jq >/dev/null || need+=(jq)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v python3 >/dev/null || need+=(python3)
if ! python3 -m venv --help >/dev/null 2>&1; then need+=(python3-venv); fi
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mkdir -p "$DIR"
if [ ! -x "$DIR/venv/bin/python" ] || ! "$DIR/venv/bin/python" -c 'import hdrh' 2>/dev/null; then
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install -q --disable-pip-version-check hdrhistogram==0.10.8
fi
if [ ! -d "$DIR/npm/node_modules/k6-html-reporter" ]; then
  mkdir -p "$DIR/npm"
  npm install --prefix "$DIR/npm" --no-audit --no-fund --silent k6-html-reporter@1.0.5 >/dev/null
fi
