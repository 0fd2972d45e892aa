#!/usr/bin/env bash
# 100,000 VUs on one machine: scenarios/stress.yaml at full VU scale (bench/stress-100k.yaml, the
# same load with the nginx target's paths and 16 loopback source addresses) as 6 processes
# (`run --processes 6`), its schedule shortened with --time-scale, against nginx with 8 workers
# on CPU 0 and an access log (the server's own count). Prints: peak VUs, the plateau's achieved
# rate against N/(Z+R), errors, the requests against the access log's lines, every stampede
# process's max RSS (the parent reads its children's from wait4) and the load average.
#   bench/stress-100k.sh [TIME_SCALE] [PORT]        defaults: 0.1 (a 90 s schedule), 25088
# SCENARIO=FILE runs another copy (e.g. bench/stress-100k-think10.yaml, think time between(5s, 15s));
# Z, the mean think time, is read from its `think_time: between(A, B)` line.
# STAMPEDE_ARGS="--scale 0.1" passes extra options (e.g. a smaller smoke run). The load generator is
# pinned to CPU 1 (STAMPEDE_CPUS, default 1; STAMPEDE_CPUS= leaves it unpinned) and nginx to CPU 0:
# sharing both cores with nginx it reached 75,455 req/s (-7.3 % of N/(Z+R)), pinned 84,010 (-2.3 %).
# Needs: apt-get install -y nginx libnginx-mod-http-echo; the repo next to ../shared/bench.
set -euo pipefail
TS=${1:-0.1}; PORT=${2:-25088}
HERE=$(cd "$(dirname "$0")" && pwd)
B=${STAMPEDE:-$HERE/../target/release/stampede}
CONF_IN=${NGINX_CONF_IN:-$HERE/../../shared/bench/nginx.conf.in}
W=${WORKDIR:-/tmp/stampede-stress-100k}
PY=${PYTHON:-python3}
rm -rf "$W" && mkdir -p "$W/nginx"
# The shared nginx config with an access log: one line per request, its path only.
sed -e "s#@DIR@#$W/nginx#g" -e "s#@PORT@#$PORT#g" -e "s#@WORKERS@#${NGINX_WORKERS:-8}#g" \
    -e "s#access_log off;#log_format uri '\$uri'; access_log $W/nginx/access.log uri buffer=256k flush=1s;#" \
    "$CONF_IN" > "$W/nginx/nginx.conf"
grep -q "access_log $W" "$W/nginx/nginx.conf" || { echo "no access_log line to replace in $CONF_IN" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
taskset -c 0 nginx -c "$W/nginx/nginx.conf"
NGINX_PID=$(cat "$W/nginx/nginx.pid")
trap 'kill "$NGINX_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STAMPEDE_CPUS=${STAMPEDE_CPUS-1}
set +e
${STAMPEDE_CPUS:+taskset -c $STAMPEDE_CPUS} "$B" run "${SCENARIO:-$HERE/stress-100k.yaml}" --processes 6 --time-scale "$TS" \
    --target "http://127.0.0.1:$PORT" --out "$W/out" --no-tui ${STAMPEDE_ARGS:-} 2> "$W/run.log"
CODE=$?
set -e
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
kill "$NGINX_PID"; for _ in $(seq 100); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
trap - EXIT
grep -E '^\[|died|max RSS|error' "$W/run.log" | tail -25
echo "stampede exit code: $CODE"
echo "load average (1, 5, 15 min): before $LOAD_BEFORE · after $LOAD_AFTER · $(nproc) cores"
"$PY" - "$W" "${SCENARIO:-$HERE/stress-100k.yaml}" <<'EOF'
import json, re, sys
w = sys.argv[1]
tt = re.search(r"think_time: between\((\d+(?:\.\d+)?)s, *(\d+(?:\.\d+)?)s\)", open(sys.argv[2]).read())
Z = (float(tt.group(1)) + float(tt.group(2))) / 2
m = json.load(open(f"{w}/out/summary.json"))
reqs = m["metrics"]["http_reqs"]["count"]
fails = round(m["metrics"]["http_req_failed"]["rate"] * reqs) if "http_req_failed" in m["metrics"] else None
rows = m["timeline"]
peak = max(r["vus"] for r in rows)
plateau = [r for r in rows if r["vus"] == peak]
# Skip the plateau's first 5 s (VUs that just started have not spread their think times yet)
# and its last second. A VU loops: iteration (its requests), think time, iteration, ...: Little's
# law gives iterations/s = N/(Z+R), Z = the mean think time (3 s for between(1s, 5s)), R = the mean
# iteration duration.
steady = plateau[5:-1] if len(plateau) > 8 else plateau
rate = sum(r["iterations"] for r in steady) / max(1, len(steady))
rps = sum(r["requests"] for r in steady) / max(1, len(steady))
r_s = m["metrics"]["iteration_duration"]["avg"] / 1000.0
ideal = peak / (Z + r_s)
log = [l.strip() for l in open(f"{w}/nginx/access.log")]
served = sum(1 for l in log if l != "/ready")
errors = sum(r["failures"] for r in rows)
print(f"peak VUs: {peak:,} (vus.max {m['metrics']['vus']['max']:,})")
print(f"plateau: {len(plateau)} s at {peak:,} VUs; over its steady {len(steady)} s: {rate:,.0f} iterations/s "
      f"({rps:,.0f} req/s) achieved, ideal N/(Z+R) = {peak:,}/({Z:g} s + {r_s*1000:.1f} ms) = {ideal:,.0f} "
      f"iterations/s, deviation {100*(rate/ideal-1):+.2f} %")
print(f"requests: stampede {reqs:,} · nginx access log {served:,} · difference {reqs-served:+,}")
print(f"errors: {errors} (failed requests {fails}); status codes {m.get('status_codes')}")
d = m["metrics"]["http_req_duration"]
print(f"http_req_duration: avg {d['avg']} ms p95 {d['p(95)']} ms p99 {d['p(99)']} ms max {d['max']} ms; verdict {m['verdict']}")
for l in open(f"{w}/run.log"):
    if "max RSS:" in l:
        print(l.strip())
EOF
