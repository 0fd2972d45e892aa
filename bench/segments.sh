#!/usr/bin/env bash
# Run SCENARIO as N parts (`--segment i/N`, a common --start-at) and once in a single process,
# merge the parts, and compare (bench/merge-check.py, needs `pip install hdrhistogram`).
#   bench/segments.sh SCENARIO [N] [WORKDIR]        e.g. bench/segments.sh /tmp/open.yaml 4
# RUN_ARGS="--target http://127.0.0.1:9000" passes options to every run.
set -euo pipefail
S=$1; N=${2:-4}; W=${3:-/tmp/stampede-segments}
B=${STAMPEDE:-$(dirname "$0")/../target/release/stampede}
PY=${PYTHON:-python3}
rm -rf "$W" && mkdir -p "$W/logs"
AT=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%S.000Z)
pids=()
for i in $(seq 1 "$N"); do
  "$B" run "$S" --segment "$i/$N" --start-at "$AT" --out "$W/part-$i" --quiet ${RUN_ARGS:-} > "$W/logs/part-$i.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$B" run "$S" --out "$W/single" --quiet ${RUN_ARGS:-} > "$W/logs/single.log" 2>&1
set +e
"$B" merge "$W"/part-*/ --out "$W/merged" --quiet
echo "merge exit code: $?"
set -e
"$PY" "$(dirname "$0")/merge-check.py" "$W/single" "$W/merged" $(ls -d "$W"/part-*/ | sort -V)
