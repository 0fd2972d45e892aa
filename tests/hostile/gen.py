#!/usr/bin/env python3
"""Writes the hostile scenario corpus (tests/hostile/scenarios/). Every file is invalid: the
test (tests/e2e/hostile.rs) expects exit 2 with FILE:LINE:COLUMN, never a panic or a hang.
Run again after adding a case: python3 tests/hostile/gen.py"""
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")
os.makedirs(HERE, exist_ok=True)
for f in os.listdir(HERE):
    os.remove(os.path.join(HERE, f))

TARGET = "http://127.0.0.1:9"
LOAD = "load:\n  vus: 1\n  duration: 1s\n"
FLOWS = "flows:\n  - name: f\n    steps:\n      - { name: s, get: /fast }\n"

def doc(target=f"target: {TARGET}\n", load=LOAD, flows=FLOWS, extra=""):
    return f"name: hostile\n{target}{load}{flows}{extra}"

cases = {}
def add(name, text):
    assert name not in cases, name
    cases[name] = text

# 1. Targets
for i, t in enumerate(["http://127.0.0.1:abc", "http://127.0.0.1:99999", "http://127.0.0.1:65536",
                       "http://127.0.0.1:-1", "http://127.0.0.1:0", "http://127.0.0.1:",
                       "ftp://127.0.0.1:21", "http://", "127.0.0.1:8080", "http://user:pass@127.0.0.1:8080",
                       "http://127.0.0.1:8080/?q=1", "http://127.0.0.1:8080 /x", "\"\"", "42",
                       "[http://a, http://b]", "http://[::1:8080", "http://127.0.0.1:1e3",
                       "https://u@127.0.0.1", "http://127.0.0.1:8080#frag x", "javascript:alert(1)"]):
    add(f"target-{i:02}", doc(target=f"target: {t}\n"))
add("target-missing", doc(target=""))

# 2. Numbers in load
for i, l in enumerate([
    "load: { vus: -1, duration: 1s }", "load: { vus: 1e10, duration: 1s }",
    "load: { vus: 4294967296, duration: 1s }", "load: { vus: ten, duration: 1s }",
    "load: { vus: 1, duration: 1e30s }", "load: { vus: 1, duration: 9999999h }",
    "load: { vus: 1, duration: -5s }", "load: { vus: 1, duration: .nan }",
    "load: { vus: 1, duration: 0s }", "load: { vus: 0, duration: 1s }",
    "load: { vus: .inf, duration: 1s }", "load: { vus: 1, duration: 5 minutes }",
    "load: { vus: 1, duration: 30 }", "load: { vus: 1, duration: 1s1 }",
    "load: { executor: constant-arrival-rate, rate: 1e15, duration: 1s, pre_allocated_vus: 1 }",
    "load: { executor: constant-arrival-rate, rate: -1, duration: 1s, pre_allocated_vus: 1 }",
    "load: { executor: constant-arrival-rate, rate: 0, duration: 1s, pre_allocated_vus: 1 }",
    "load: { executor: constant-arrival-rate, rate: .nan, duration: 1s, pre_allocated_vus: 1 }",
    "load: { executor: constant-arrival-rate, rate: .inf, duration: 1s, pre_allocated_vus: 1 }",
    "load: { executor: constant-arrival-rate, rate: 10, time_unit: 0s, duration: 1s, pre_allocated_vus: 1 }",
    "load: { executor: constant-arrival-rate, rate: 10, time_unit: 1ns, duration: 1s, pre_allocated_vus: 1 }",
    "load: { executor: constant-arrival-rate, rate: 10, duration: 1s }",
    "load: { executor: constant-arrival-rate, rate: 10, duration: 1s, pre_allocated_vus: 5, max_vus: 2 }",
    "load: { executor: constant-arrival-rate, rate: 10, duration: 1s, pre_allocated_vus: 1, queue_size: 4294967295 }",
    "load: { executor: constant-arrival-rate, rate: 10, duration: 1s, pre_allocated_vus: 0, max_vus: 0 }",
    "load: { executor: ramping-arrival-rate, stages: [], pre_allocated_vus: 1 }",
    "load: { executor: ramping-arrival-rate, stages: [{duration: 1s, target: 0}], pre_allocated_vus: 1 }",
    "load: { executor: ramping-arrival-rate, stages: [{duration: 1s, target: -3}], pre_allocated_vus: 1 }",
    "load: { executor: ramping-vus, stages: [{duration: 1s, target: 1e12}] }",
    "load: { executor: ramping-vus, stages: [] }",
    "load: { executor: ramping-vus, stages: [{duration: 1s}] }",
    "load: { executor: ramping-vus, stages: [{target: 5}] }",
    "load: { executor: ramping-vus, stages: [{duration: 1s, target: 0}] , start_vus: 0}",
    "load: { executor: ramping-vus, stages: {duration: 1s, target: 1} }",
    "load: { executor: per-vu-iterations, vus: 1, iterations: 0 }",
    "load: { executor: shared-iterations, vus: 1, iterations: -1 }",
    "load: { executor: breakpoint, start_rate: 10, step_rate: 0, step_duration: 5s, max_rate: 100, pre_allocated_vus: 1 }",
    "load: { executor: breakpoint, start_rate: 100, step_rate: 10, step_duration: 5s, max_rate: 10, pre_allocated_vus: 1 }",
    "load: { executor: breakpoint, start_rate: 1, step_rate: 0.001, step_duration: 5s, max_rate: 1000, pre_allocated_vus: 1 }",
    "load: { executor: breakpoint, start_rate: 10, step_rate: 10, step_duration: 1s, warmup: 2s, max_rate: 100, pre_allocated_vus: 1 }",
    "load: { executor: constant-vus }",
    "load: { executor: constnt-vus, vus: 1, duration: 1s }",
    "load: { executor: constant-vus, vus: 1, duration: 1s, stages: [] }",
    "load: { vus: 1, duration: 1s, think_time: between(5s, 1s) }",
    "load: { vus: 1, duration: 1s, think_time: exponential(3) }",
    "load: { vus: 1, duration: 1s, think_time: sometimes }",
    "load: { vus: 1, duration: 1s, graceful_stop: forever }",
    "load: { vus: 1, duration: 1s, spread_start: maybe }",
    "load: [vus, 1]", "load: 5", "load: ~",
]):
    add(f"load-{i:02}", doc(load=l + "\n"))

# 3. Thresholds
for i, t in enumerate([
    '"rate < 200%"', '"rate < -5%"', '"p(101) < 1s"', '"p(-1) < 1s"', '"avg <> 5"', '"avg"',
    '""', "5", '"avg < 500 parsecs"', '"p(95) < .nan"', '"avg < 1e400ms"', '"count > x"',
    '"rate < 5"', '"<< 5"', '"p(95) < 1s and more"', "{ threshold: 5 }", "{ abort_on_fail: true }",
    '{ threshold: "avg < 1s", abort_on_fail: yes please }', '{ threshold: "avg < 1s", delay_abort_eval: soon }',
    '{ threshold: "avg < 1s", abrt_on_fail: true }', "[[1]]",
]):
    metric = "http_req_failed" if "rate" in t else "http_req_duration"
    add(f"threshold-{i:02}", doc(extra=f"thresholds:\n  {metric}: [{t}]\n"))
add("threshold-unknown-metric", doc(extra='thresholds:\n  http_req_duraton: ["avg < 1s"]\n'))
add("threshold-unknown-step", doc(extra='thresholds:\n  "http_req_duration{step:nope}": ["avg < 1s"]\n'))
add("threshold-unknown-scenario", doc(extra='thresholds:\n  "http_req_duration{scenario:nope}": ["avg < 1s"]\n'))
add("threshold-bad-tag", doc(extra='thresholds:\n  "http_req_duration{step:": ["avg < 1s"]\n'))
add("threshold-not-map", doc(extra='thresholds: ["avg < 1s"]\n'))

# 4. YAML itself
add("yaml-bom-then-error", "\ufeff" + doc(load="load: { vus: -1, duration: 1s }\n"))
add("yaml-unclosed-double-quote", doc(target='target: "http://127.0.0.1:9\n'))
add("yaml-unclosed-single-quote", doc(extra="thresholds:\n  http_req_duration: ['avg < 1s]\n"))
add("yaml-unclosed-bracket", doc(load="load: [vus: 1\n"))
add("yaml-unclosed-brace", doc(load="load: { vus: 1, duration: 1s\n"))
add("yaml-tab-indent", "name: x\nload:\n\tvus: 1\n")
add("yaml-multi-doc", doc() + "---\nname: second\n")
add("yaml-multi-doc-empty", doc() + "---\n")
add("yaml-two-docs-marker", "---\n" + doc() + "...\n---\n" + doc())
add("yaml-duplicate-key", doc(extra="name: again\n"))
add("yaml-scalar", "just a string\n")
add("yaml-list", "- 1\n- 2\n")
add("yaml-empty", "")
add("yaml-only-comments", "# nothing here\n# at all\n")
add("yaml-null", "~\n")
add("yaml-number", "42\n")
add("yaml-bad-indent", "name: x\n  target: y\n load: z\n")
add("yaml-colon-in-value", "name: a: b: c\n")
add("yaml-directive", "%YAML 9.9\n---\nname: x\n")
add("yaml-unknown-tag", doc(load="load: !!binary notbase64!!\n"))
add("yaml-complex-key", doc(extra="? [a, b]\n: c\n"))
add("yaml-anchor-undefined", doc(load="load: *nothing\n"))
bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
for j in range(9):
    p, n = chr(ord('a') + j), chr(ord('a') + j + 1)
    bomb += f"{n}: &{n} [" + ", ".join([f"*{p}"] * 10) + "]\n"
add("yaml-alias-bomb", bomb)
add("yaml-alias-bomb-in-scenario", doc(extra=bomb.replace("\n", "\n", 1)))
add("yaml-deep-100", "a: " + "[" * 100 + "]" * 100 + "\n")
add("yaml-deep-100k", "a: " + "[" * 100000 + "]" * 100000 + "\n")
add("yaml-deep-maps", "".join("  " * d + f"k{d}:\n" for d in range(200)) + "  " * 200 + "v: 1\n")
add("yaml-long-line", "name: " + "x" * 200000 + "\n" + "load: 1\n")
add("yaml-control-chars", "name: \x01\x02\x03\nload: 1\n")
add("yaml-nul", "name: a\x00b\n")
add("yaml-crlf-error", doc(load="load: { vus: -1, duration: 1s }\n").replace("\n", "\r\n"))
add("yaml-many-errors", doc(load="load: { vus: 1, duration: 5 minutes, vuss: 3 }\n",
                            extra='thresholds:\n  http_req_duration: ["avg < 1 parsec"]\n  http_req_failed: ["rate < 200%"]\n'))
add("yaml-json-syntax", '{"name": "x", "load": {"vus": -1, "duration": "1s"}}\n')
add("yaml-merge-key-bad", doc(extra="<<: 5\n"))

# 5. Flows and steps
def step(s):
    return f"flows:\n  - name: f\n    steps:\n      - {s}\n"
for i, s in enumerate([
    "{ name: s }", "{ name: s, get: /a, post: /b }", '{ name: "", get: /fast }', '{ name: "   ", get: /fast }',
    "{ get: fast }", "{ get: /a b }", "{ get: http://other.example/x }", "{ get: /fast, body: x, json: {a: 1} }",
    "{ get: /fast, expect: { status: 999 } }", "{ get: /fast, expect: { status: [200, -1] } }",
    "{ get: /fast, expect: { status: two hundred } }", "{ get: /fast, expect: { body_contains: [1, 2] } }",
    '{ get: /fast, expect: { json: { "$[": 1 } } }', "{ get: /fast, expect: { header: 5 } }",
    '{ get: /fast, extract: { t: { regex: "(" } } }', '{ get: /fast, extract: { t: { jsonpath: "$[" } } }',
    "{ get: /fast, extract: { t: { nothing: x } } }", '{ get: "/x/{{unclosed" }', '{ get: "/x/{{ nope }}" }',
    '{ get: "/x/{{env}}" }', '{ get: /fast, headers: { "bad header": x } }', '{ get: /fast, headers: { x: "a\\nb" } }',
    "{ get: /fast, think_time: soon }", "{ get: /fast, auth: { basic: 5 } }", "{ get: /fast, auth: { bearer: [1] } }",
    "{ gett: /fast }", "get /fast", "[get, /fast]", "{ get: /fast, expct: {status: 200} }", "{ get: [/a, /b] }",
    '{ name: "\\e[31mred\\e[0m", get: fast }', "{ get: /fast, json: {a: *undefined} }",
]):
    add(f"step-{i:02}", doc(flows=step(s)))
for i, f in enumerate([
    "flows: []", "flows: {}", "flows: 5", "flows:\n  - name: f\n    steps: []\n",
    "flows:\n  - name: f\n    steps: /fast\n",
    "flows:\n  - name: a\n    steps: [{get: /fast}]\n  - name: a\n    steps: [{get: /fast}]\n",
    "flows:\n  - name: ''\n    steps: [{get: /fast}]\n",
    "flows:\n  - name: a\n    weight: 0\n    steps: [{get: /fast}]\n",
    "flows:\n  - name: a\n    weight: -2\n    steps: [{get: /fast}]\n",
    "flows:\n  - name: a\n    weight: lots\n    steps: [{get: /fast}]\n",
    "flows:\n  - nme: a\n    steps: [{get: /fast}]\n",
    "flows:\n  - ~\n",
]):
    add(f"flow-{i:02}", doc(flows=f + ("\n" if not f.endswith("\n") else "")))
add("flows-missing", doc(flows=""))
add("load-missing", doc(load=""))
add("both-load-and-scenarios", doc(extra="scenarios:\n  a:\n    load: { vus: 1, duration: 1s }\n    flows: [{steps: [{get: /x}]}]\n"))

# 6. http
for i, h in enumerate([
    "timeout: 0s", "timeout: never", "timeout: -1s", "connections: shared", "connections: pooled",
    "max_connections: 5", "connections: pooled\n  max_connections: 0", "local_ips: [999.1.1.1]",
    "local_ips: 10.0.0.0/8", "local_ips: []", "max_body: 0", "max_body: lots", "max_body: 5TiB",
    "max_body: -1", "compression: zip", "version: 3", "proxy: http://127.0.0.1:99999", "resolve: { x: y }",
    "dns_ttl: soon", "tls: { ca_file: /nonexistent/ca.pem }", "cookies: sometimes", "headers: [a, b]",
    "max_redirects: -1", "auth: { basic: { user: a } }", "unknown_http_key: 1",
]):
    add(f"http-{i:02}", doc(extra=f"http:\n  {h}\n"))

# 7. Types at the top
for i, (k, v) in enumerate([("name", "[1, 2]"), ("variables", "5"), ("data", "5"), ("capacity", "5"),
                            ("scenarios", "5"), ("nme", "x"), ("thresholds", "5"), ("http", "[]")]):
    add(f"top-{i:02}", doc(extra=f"{k}: {v}\n"))

for name, text in cases.items():
    with open(os.path.join(HERE, name + ".yaml"), "w", encoding="utf-8", newline="") as f:
        f.write(text)
# Bytes that are not UTF-8, and a file too large to be a scenario is made by the test itself.
with open(os.path.join(HERE, "yaml-latin1.yaml"), "wb") as f:
    f.write(doc().encode() + b"# caf\xe9\n")
with open(os.path.join(HERE, "yaml-binary.yaml"), "wb") as f:
    f.write(bytes(range(256)) * 4)
print(len(os.listdir(HERE)), "files")
