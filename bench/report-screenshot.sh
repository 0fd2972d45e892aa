#!/usr/bin/env bash
# Screenshot check of report.html: runs the ~15 s demo against the built-in target (in-process,
# loopback only), renders its report.html in headless Chromium at 1280 px wide, and checks the
# rendered page holds every chart. Needs chromium (`apt-get install -y chromium`).
#   bench/report-screenshot.sh [OUT_DIR]        # default /tmp/stampede-report-check
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/stampede-report-check}"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "chromium not found: apt-get install -y chromium" >&2
  exit 1
fi
rm -rf "$out" && mkdir -p "$out"
cargo build --release --quiet
# Exit 99 (a threshold breached) is fine here: the page must render either way.
./target/release/stampede demo --quiet --out "$out/run" >/dev/null || [ $? -eq 99 ]
page="file://$(realpath "$out/run/report.html")"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,3000)
"$browser" "${flags[@]}" --screenshot="$out/report.png" "$page" 2>/dev/null
"$browser" "${flags[@]}" --dump-dom "$page" 2>/dev/null >"$out/dom.html"
python3 - "$out" <<'PY'
import re, sys, pathlib
out = pathlib.Path(sys.argv[1])
dom = (out / "dom.html").read_text()
png = (out / "report.png").read_bytes()
want = ["Throughput", "Latency (http_req_duration)", "Errors", "Virtual users"]
charts = len(re.findall(r"<svg", dom))
missing = [w for w in want if w.lower() not in dom.lower()]
remote = re.findall(r'(?:src|href)="https?://', dom)
width = int.from_bytes(png[16:20], "big")
print(f"report.html rendered by Chromium: {charts} inline SVG charts, screenshot {out/'report.png'} ({width} px wide, {len(png)//1024} KiB)")
ok = charts >= 4 and not missing and not remote and width == 1280 and len(png) > 50_000
if missing: print("missing chart titles:", missing)
if remote: print("remote references:", remote)
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
PY
