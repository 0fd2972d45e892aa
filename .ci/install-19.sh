#!/usr/bin/env bash
# For tests/k8s.rs: kubernetes-validate (PyPI) checks the manifests `stampede k8s` writes
# against the Kubernetes schema. Idempotent, non-interactive; installs into a venv of its own.
set -euo pipefail
VENV="${STAMPEDE_K8S_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stampede/k8s-venv}"
if [ -x "$VENV/bin/kubernetes-validate" ]; then
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.37.0
"$VENV/bin/kubernetes-validate" --version
