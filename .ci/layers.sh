#!/usr/bin/env bash
# The layering check (docs/architecture.md, "Layers"): every `crate::` path in src/ must point
# at a module of a LOWER layer than the file's own top-level module (or at that module itself).
# An import pointing up (or sideways, at another module of the same layer) fails the check,
# unless it is one of the few known edges listed in EXCEPTIONS below with its reason.
# `super::` paths are not followed (inside `mod tests` they name the module itself); write
# paths that leave a module as `crate::...`.
# Usage: .ci/layers.sh [SRC_DIR]   (exit 0: clean; 1: an upward import; 2: an unranked module)
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "${1:-src}" <<'PY'
import os, re, sys

# Layer of each top-level module of src/ (lower = closer to the leaves). Keep in step with the
# table in docs/architecture.md.
LAYERS = {
    "units": 0, "outcome": 0,
    "metrics": 1,
    "sla": 2,
    "segment": 3,
    "plan": 4,
    "engine": 5, "scenario": 5,
    "windows": 6,
    "summary": 7, "live_wire": 7,
    "verdict": 8,
    "report": 9,
    "output": 10, "tui": 10,
    "capacity": 11, "target": 11, "barrier": 11,
    "part": 12, "merge": 12,
    "k8s": 13, "processes": 13,
    "runner": 14,
    "commands": 15,
    "lib": 16, "main": 16,
}
# Items defined at the crate root of lib.rs that are re-exports of a leaf module.
ROOT_ITEMS = {
    "exit": "outcome", "say": "outcome", "Failure": "outcome",
    "cli": "commands", "run": "commands",
}
# Known upward edges, each in a file another engineer owns (issue 17), to be removed there.
EXCEPTIONS = {
}

src = sys.argv[1]
bad, unranked = [], set()

def strip_comments(text):
    out = []
    for line in text.split("\n"):
        s = line.lstrip()
        if s.startswith("//"):
            line = ""
        out.append(re.sub(r"\s//\s.*$", "", line))
    return "\n".join(out)

def top_module(rel):
    parts = rel.split(os.sep)
    if len(parts) == 1:
        return parts[0][:-3]  # lib, main, or a module file such as plan.rs
    return parts[0]

def crate_paths(text, rel):
    """Yield (line, first segment after `crate::`) for every crate path in the text."""
    for m in re.finditer(r"\bcrate::(\{[^;]*?\}|[A-Za-z_][A-Za-z0-9_]*)", text):
        line = text.count("\n", 0, m.start()) + 1
        g = m.group(1)
        if g.startswith("{"):
            # `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            inner, level, item, items = g[1:-1], 0, "", []
            for ch in inner:
                if ch == "{": level += 1
                if ch == "}": level -= 1
                if ch == "," and level == 0:
                    items.append(item); item = ""
                else:
                    item += ch
            items.append(item)
            for it in items:
                it = it.strip()
                if it:
                    yield line, re.split(r"[^A-Za-z0-9_]", it)[0]
        else:
            yield line, g

for root, _, files in os.walk(src):
    for f in sorted(files):
        if not f.endswith(".rs"):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, src)
        me = top_module(rel)
        if me not in LAYERS:
            unranked.add(me)
            continue
        text = strip_comments(open(path, encoding="utf-8").read())
        for line, first in crate_paths(text, rel):
            to = ROOT_ITEMS.get(first, first)
            if to in ("self", "super", me):
                continue
            if to not in LAYERS:
                if first[:1].isupper() or first in ROOT_ITEMS:
                    continue
                unranked.add(to)
                continue
            if LAYERS[to] < LAYERS[me] or (me, to) in EXCEPTIONS:
                continue
            kind = "sideways" if LAYERS[to] == LAYERS[me] else "upward"
            bad.append(f"{path}:{line}: {kind} import: {me} (layer {LAYERS[me]}) -> {to} (layer {LAYERS[to]})")

for u in sorted(unranked):
    print(f"layers: module `{u}` has no layer: add it to LAYERS in .ci/layers.sh and to docs/architecture.md")
for b in bad:
    print(b)
if unranked:
    sys.exit(2)
if bad:
    print(f"layers: {len(bad)} import(s) point up; see the layer table in docs/architecture.md")
    sys.exit(1)
print(f"layers: ok ({len(LAYERS)} modules ranked, {len(EXCEPTIONS)} known exceptions)")
PY
