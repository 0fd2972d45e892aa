#!/usr/bin/env bash
# The engine benchmark: stampede against wrk (and hyper/reqwest probes) in the same run, nginx on
# CPU 0 and every load generator on CPU 1. See bench/bench.py for what each suite measures.
#   bench/run.sh [closed|clients|templated|delay10|think10k|pooled50k|https|h2|h2-mux|tls-churn|tui|all] [RUNS]
set -euo pipefail
exec python3 "$(dirname "$0")/bench.py" "$@"
