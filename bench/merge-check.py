"""Compare a merged run with a single-process run of the same scenario, and the merged
histogram with the parts' histograms added independently (PyPI `hdrhistogram`, which decodes
the HdrHistogram V2 payloads in summary.json).
usage: merge-check.py SINGLE_DIR MERGED_DIR PART_DIR..."""
import json, sys
from hdrh.histogram import HdrHistogram

single, merged, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
load = lambda d: json.load(open(d.rstrip("/") + "/summary.json"))
S, M, P = load(single), load(merged), [load(p) for p in parts]
count = lambda d, m: d["metrics"][m]["count"]
for m in ["http_reqs", "iterations"]:
    s, g = count(S, m), count(M, m)
    each = " + ".join(str(count(p, m)) for p in P)
    print(f"{m}: single {s}, merged {g} (= {each}), difference {100 * (g - s) / s:+.2f}%")
planned = int(S["planned_duration_s"])
st = {r["second"]: r for r in S["timeline"]}
mt = {r["second"]: r for r in M["timeline"]}
worst, cells = 0.0, []
for sec in range(1, planned + 1):
    a = st.get(sec, {}).get("requests", 0)
    b = mt.get(sec, {}).get("requests", 0)
    cells.append(f"{sec}:{a}/{b}")
    if a:
        worst = max(worst, abs(b - a) / a * 100)
print("requests per second, single/merged:", " ".join(cells))
print(f"worst difference over the {planned} full seconds: {worst:.2f}%")
print("VUs per second, single/merged:",
      " ".join(f"{s}:{st.get(s, {}).get('vus', 0)}/{mt.get(s, {}).get('vus', 0)}" for s in range(1, planned + 1)))
added = HdrHistogram(1, 60_000_000, 3)
for p in P:
    added.add(HdrHistogram.decode(p["histograms"]["http_req_duration"]))
mh = HdrHistogram.decode(M["histograms"]["http_req_duration"])
same = ([(v.value_iterated_to, v.count_at_value_iterated_to) for v in added.get_recorded_iterator()]
        == [(v.value_iterated_to, v.count_at_value_iterated_to) for v in mh.get_recorded_iterator()])
print(f"parts added in Python: {added.get_total_count()} samples; merged: {mh.get_total_count()}; every bucket equal: {same}")
for q in [50, 95, 99, 99.9]:
    print(f"  p({q}): parts added in Python {added.get_value_at_percentile(q)} µs · merged {mh.get_value_at_percentile(q)} µs")
print(f"merged summary.json: http_req_duration p(99) = {M['metrics']['http_req_duration']['p(99)']} ms, verdict {M['verdict']}, exit_code {M['exit_code']}")
