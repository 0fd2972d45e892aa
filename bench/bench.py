#!/usr/bin/env python3
"""stampede's benchmark against wrk (and hyper/reqwest probes), pinned the same way in the same
run: nginx from ../shared/bench/target.sh on CPU 0, every load generator on CPU 1.

Usage: bench/run.sh [closed|clients|templated|delay10|think10k|pooled50k|https|h2|h2-mux|tls-churn|tui|all] [RUNS]

Prints Markdown tables: each figure beside its peer's from the same run, ratios, and medians
over RUNS runs. Needs wrk and nginx (apt-get install -y wrk nginx libnginx-mod-http-echo).
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# STAMPEDE_BIN: measure another build of stampede (a copy kept aside while target/ rebuilds).
STAMPEDE = os.environ.get("STAMPEDE_BIN") or os.path.join(REPO, "target", "release", "stampede")
PROBE_DIR = os.path.join(REPO, "bench", "client-probe")
PROBE = os.path.join(PROBE_DIR, "target", "release", "client-probe")
TARGET_SH = os.path.normpath(os.path.join(REPO, "..", "shared", "bench", "target.sh"))
URL = "http://127.0.0.1:8088"
TMP = tempfile.mkdtemp(prefix="stampede-bench-")


def timed(cmd):
    """Run cmd pinned to CPU 1 under /usr/bin/time -v: (stdout, cpu_seconds, max_rss_mib)."""
    tf = os.path.join(TMP, "time")
    out = subprocess.run(
        ["/usr/bin/time", "-v", "-o", tf, "taskset", "-c", "1", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        check=False,
    ).stdout
    t = open(tf).read()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
    return out, user + sys_, rss


def wrk(path, conns, secs, latency=False):
    args = ["wrk", "-t1", f"-c{conns}", f"-d{secs}s"]
    if latency:
        args.append("--latency")
    out, cpu, rss = timed([*args, URL + path])
    n = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = None
    m = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m:
        p50 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return {"requests": n, "rps": n / secs, "cpu_us": cpu * 1e6 / max(n, 1), "rss": rss, "p50": p50}


def stampede(scenario, secs):
    out_dir = os.path.join(TMP, "run")
    shutil.rmtree(out_dir, ignore_errors=True)
    out, cpu, rss = timed([STAMPEDE, "run", os.path.join(REPO, scenario), "--out", out_dir, "--quiet"])
    try:
        summary = json.load(open(os.path.join(out_dir, "summary.json")))
    except FileNotFoundError:
        sys.exit(f"stampede wrote no summary for {scenario}:\n{out}")
    m = summary["metrics"]
    n = m["http_reqs"]["count"]
    return {
        "requests": n,
        "rps": n / secs,
        "rate": m["http_reqs"]["rate"],
        "cpu_us": cpu * 1e6 / max(n, 1),
        "rss": rss,
        "m": m,
        "out": out,
    }


def probe(mode, path, conns, secs):
    out, cpu, rss = timed([PROBE, mode, URL + path, str(conns), str(secs)])
    n = int(re.search(r"requests=(\d+)", out).group(1))
    return {"requests": n, "rps": n / secs, "cpu_us": cpu * 1e6 / max(n, 1), "rss": rss}


def row(name, r, peer):
    ratio = r["rps"] / peer["rps"] if peer else 1.0
    print(f"| {name} | {r['rps']:,.0f} | {ratio:.2f} | {r['cpu_us']:.2f} | {r['rss']:.1f} |")
    return ratio


def header(title):
    print(f"\n### {title}\n")
    print("| tool | req/s | ratio vs wrk | CPU-µs/req | max RSS MiB |")
    print("|---|---|---|---|---|")


def medians(title, ratios):
    print(f"\n**{title}** medians of {len(next(iter(ratios.values())))} runs: "
          + ", ".join(f"{k} {statistics.median(v):.2f}×" for k, v in ratios.items()))


def closed(runs):
    ratios = {"stampede/wrk": [], "stampede CPU-µs/req": [], "wrk CPU-µs/req": []}
    for i in range(runs):
        header(f"closed loop, 50 connections, /fast, 8 s — run {i + 1}")
        w = wrk("/fast", 50, 8)
        row("wrk", w, None)
        s = stampede("bench/closed-50.yaml", 8)
        ratios["stampede/wrk"].append(row("stampede", s, w))
        ratios["stampede CPU-µs/req"].append(s["cpu_us"])
        ratios["wrk CPU-µs/req"].append(w["cpu_us"])
    print(f"\n**closed-50** medians of {runs} runs: stampede/wrk "
          f"{statistics.median(ratios['stampede/wrk']):.2f}× (goal ≥ 0.9×); CPU-µs per request "
          f"stampede {statistics.median(ratios['stampede CPU-µs/req']):.2f}, "
          f"wrk {statistics.median(ratios['wrk CPU-µs/req']):.2f}")


def clients(runs):
    if not os.path.exists(PROBE):
        subprocess.run(["cargo", "build", "--release"], cwd=PROBE_DIR, check=True)
    ratios = {k: [] for k in ["stampede", "hyper conn", "reqwest shared", "reqwest per VU"]}
    for i in range(runs):
        header(f"request path: same closed loop, 50 connections, /fast, 8 s — run {i + 1}")
        w = wrk("/fast", 50, 8)
        row("wrk", w, None)
        ratios["stampede"].append(row("stampede (own HTTP/1.1 path)", stampede("bench/closed-50.yaml", 8), w))
        ratios["hyper conn"].append(row("hyper client::conn::http1 per VU", probe("hyper", "/fast", 50, 8), w))
        ratios["reqwest shared"].append(row("reqwest, one shared Client", probe("reqwest-shared", "/fast", 50, 8), w))
        ratios["reqwest per VU"].append(row("reqwest, one Client per VU", probe("reqwest-per-vu", "/fast", 50, 8), w))
    medians("request path vs wrk", ratios)


def templated(runs):
    ratios = {"templated/wrk": []}
    for i in range(runs):
        header(f"two templates + one JSON extraction per request, 50 VUs, /json, 8 s — run {i + 1}")
        w = wrk("/json", 50, 8)
        row("wrk", w, None)
        ratios["templated/wrk"].append(row("stampede templated-50", stampede("bench/templated-50.yaml", 8), w))
    medians("templated (goal ≥ 0.7×)", ratios)


def oha_rate_p50(path, rate, conns, secs):
    """oha at a fixed rate with its coordinated-omission correction (the open-model peer): p50 ms."""
    out_file = os.path.join(TMP, "oha-rate.json")
    timed(["sh", "-c", f"oha -z {secs}s -c {conns} -q {rate} --latency-correction --no-tui "
                       f"--output-format json {URL + path} > {out_file}"])
    return json.load(open(out_file))["latencyPercentiles"]["p50"] * 1000


def delay10(runs):
    """Timing overhead on nginx /delay10, each model against a peer of the same model: the closed
    loop (20 VUs) against wrk -c20, the open model (1,000/s) against oha -q 1000
    --latency-correction (skipped without oha)."""
    have_oha = shutil.which("oha") is not None
    print("\n### timing overhead: p50 on nginx /delay10 (10 ms server sleep), 8 s\n")
    print("| run | wrk p50 ms | stampede closed p50 ms | diff | oha -q 1000 p50 ms | stampede open p50 ms | diff |")
    print("|---|---|---|---|---|---|---|")
    dc, do = [], []
    for i in range(runs):
        w = wrk("/delay10", 20, 8, latency=True)
        c = stampede("bench/delay10-closed.yaml", 8)["m"]["http_req_duration"]["p(50)"]
        q = oha_rate_p50("/delay10", 1000, 50, 8) if have_oha else None
        o = stampede("bench/delay10-open.yaml", 8)["m"]["http_req_duration"]["p(50)"]
        dc.append(c - w["p50"])
        if q is not None:
            do.append(o - q)
        qs = f"{q:.3f}" if q is not None else "-"
        ds = f"{o - q:+.3f}" if q is not None else "-"
        print(f"| {i + 1} | {w['p50']:.3f} | {c:.3f} | {c - w['p50']:+.3f} | {qs} | {o:.3f} | {ds} |")
    opened = f"open model vs oha at the same rate {statistics.median(do):+.3f} ms" if do else "open model: no oha"
    print(f"\n**delay10** median p50 difference: closed vs wrk {statistics.median(dc):+.3f} ms, "
          f"{opened} (goal within ±0.3 ms)")


def think10k(runs):
    print("\n### 10,000 VUs, one keep-alive connection each, think constant(1s), 15 s\n")
    print("| run | stampede req/s | p95 ms | stampede RSS MiB | wrk RSS MiB at 10k conns | RSS ratio |")
    print("|---|---|---|---|---|---|")
    rates, ratios = [], []
    for i in range(runs):
        s = stampede("bench/think-10k.yaml", 15)
        w = wrk("/fast", 10000, 5)
        rates.append(s["rate"])
        ratios.append(s["rss"] / w["rss"])
        p95 = s["m"]["http_req_duration"]["p(95)"]
        print(f"| {i + 1} | {s['rate']:,.0f} | {p95:.2f} | {s['rss']:.1f} | {w['rss']:.1f} | {s['rss'] / w['rss']:.2f} |")
    print(f"\n**think-10k** medians: {statistics.median(rates):,.0f} req/s (goal ≥ 9,500), "
          f"RSS {statistics.median(ratios):.2f}× wrk's (goal ≤ 1.5×, ideally ≤ 1.0×)")


def pooled50k(runs):
    print("\n### 50,000 VUs, pool of 1,000 connections, think between(2s, 8s), 30 s\n")
    print("| run | achieved req/s | ideal N/(Z+R) | deviation | max RSS MiB |")
    print("|---|---|---|---|---|")
    devs, rss = [], []
    for i in range(runs):
        s = stampede("bench/pooled-50k.yaml", 30)
        # Mean think 5 s plus the mean iteration (request, including the wait for a connection).
        ideal = 50000 / (5.0 + s["m"]["iteration_duration"]["avg"] / 1000)
        dev = (s["rate"] - ideal) / ideal * 100
        devs.append(dev)
        rss.append(s["rss"])
        print(f"| {i + 1} | {s['rate']:,.0f} | {ideal:,.0f} | {dev:+.2f}% | {s['rss']:.1f} |")
    print(f"\n**pooled-50k** medians: deviation {statistics.median(devs):+.2f}% (goal within ±5%), "
          f"RSS {statistics.median(rss):.1f} MiB (limit 256)")


HTTPS_PORT = 24443
H2C_URL = "http://127.0.0.1:24080"
H2_TLS_URL = "https://127.0.0.1:24444"
NGINX_H2_CONF = os.path.join(REPO, "bench", "nginx-h2.conf.in")


def nginx_tls(action):
    """nginx from bench/nginx-h2.conf.in (TLS with a self-signed certificate made here on :24443,
    TLS + HTTP/2 on :24444, h2c on :24080), pinned to CPU 0."""
    d = os.path.join(TMP, "nginx-tls")
    if action == "stop":
        pid = os.path.join(d, "nginx.pid")
        if os.path.exists(pid):
            subprocess.run(["kill", open(pid).read().strip()], check=False)
        return
    os.makedirs(d, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem")],
                   check=True, capture_output=True)
    conf = os.path.join(d, "nginx.conf")
    open(conf, "w").write(open(NGINX_H2_CONF).read().replace("@DIR@", d))
    subprocess.run(["taskset", "-c", "0", "nginx", "-c", conf], check=True)
    import time
    for _ in range(50):
        if subprocess.run(["curl", "-fsk", f"https://127.0.0.1:{HTTPS_PORT}/fast"],
                          capture_output=True).returncode == 0:
            break
        time.sleep(0.1)


def oha(url, conns, secs):
    out_file = os.path.join(TMP, "oha.json")
    _, cpu, rss = timed(["sh", "-c", f"oha -z {secs}s -c {conns} --no-tui --insecure --output-format json "
                                     f"{url} > {out_file}"])
    d = json.load(open(out_file))
    n = sum(d["statusCodeDistribution"].values())
    return {"requests": n, "rps": n / secs, "cpu_us": cpu * 1e6 / max(n, 1), "rss": rss}


def https(runs):
    if shutil.which("oha") is None:
        print("\n(https suite skipped: oha not found; cargo install oha --locked)")
        return
    nginx_tls("start")
    try:
        ratios, cpu_s, cpu_o = [], [], []
        for i in range(runs):
            print(f"\n### HTTPS keep-alive, 50 connections (one TLS 1.3 handshake each), /fast, 8 s — run {i + 1}\n")
            print("| tool | req/s | ratio vs oha | CPU-µs/req | max RSS MiB |")
            print("|---|---|---|---|---|")
            o = oha(f"https://127.0.0.1:{HTTPS_PORT}/fast", 50, 8)
            row("oha", o, None)
            s = stampede("bench/https-50.yaml", 8)
            ratios.append(row("stampede", s, o))
            cpu_s.append(s["cpu_us"])
            cpu_o.append(o["cpu_us"])
        print(f"\n**https-50** medians of {runs} runs: stampede/oha {statistics.median(ratios):.2f}× "
              f"(goal ≥ 0.9×); CPU-µs per request stampede {statistics.median(cpu_s):.2f}, "
              f"oha {statistics.median(cpu_o):.2f}")
    finally:
        nginx_tls("stop")


def h2load(url, conns, streams, secs):
    """h2load with one thread, `conns` connections and `streams` concurrent streams on each."""
    out, cpu, rss = timed(["h2load", "-t1", f"-c{conns}", f"-m{streams}", f"-D{secs}", url])
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    if not m:
        sys.exit(f"h2load printed no request count:\n{out}")
    n = int(m.group(1))
    return {"requests": n, "rps": n / secs, "cpu_us": cpu * 1e6 / max(n, 1), "rss": rss}


def peer_header(title, peer):
    print(f"\n### {title}\n")
    print(f"| tool | req/s | ratio vs {peer} | CPU-µs/req | max RSS MiB |")
    print("|---|---|---|---|---|")


def need(tool, how):
    if shutil.which(tool) is None:
        sys.exit(f"{tool} not found: {how}")


def h2(runs):
    """HTTP/2, 50 connections with one stream each (h2c, prior knowledge), against h2load -m 1."""
    need("h2load", "apt-get install -y nghttp2-client")
    nginx_tls("start")
    try:
        ratios, cpu_s, cpu_h = [], [], []
        for i in range(runs):
            peer_header(f"HTTP/2 (h2c), 50 connections, one stream each, /fast, 8 s — run {i + 1}", "h2load")
            h = h2load(H2C_URL + "/fast", 50, 1, 8)
            row("h2load -c 50 -m 1", h, None)
            s = stampede("bench/h2-50.yaml", 8)
            ratios.append(row("stampede", s, h))
            cpu_s.append(s["cpu_us"])
            cpu_h.append(h["cpu_us"])
        print(f"\n**h2-50** medians of {runs} runs: stampede/h2load {statistics.median(ratios):.2f}× "
              f"(goal ≥ 0.95×); CPU-µs per request stampede {statistics.median(cpu_s):.2f}, "
              f"h2load {statistics.median(cpu_h):.2f}")
    finally:
        nginx_tls("stop")


def h2_mux(runs):
    """HTTP/2 pooled: 10 connections × 10 concurrent streams (100 VUs sharing 10 connections)."""
    need("h2load", "apt-get install -y nghttp2-client")
    nginx_tls("start")
    try:
        ratios, cpu_s, cpu_h = [], [], []
        for i in range(runs):
            peer_header(f"HTTP/2 (h2c) multiplexed, 10 connections × 10 streams, /fast, 8 s — run {i + 1}",
                        "h2load")
            h = h2load(H2C_URL + "/fast", 10, 10, 8)
            row("h2load -c 10 -m 10", h, None)
            s = stampede("bench/h2-mux.yaml", 8)
            ratios.append(row("stampede (100 VUs, max_connections 10)", s, h))
            cpu_s.append(s["cpu_us"])
            cpu_h.append(h["cpu_us"])
        print(f"\n**h2-mux** medians of {runs} runs: stampede/h2load {statistics.median(ratios):.2f}× "
              f"(goal ≥ 0.9×); CPU-µs per request stampede {statistics.median(cpu_s):.2f}, "
              f"h2load {statistics.median(cpu_h):.2f}")
    finally:
        nginx_tls("stop")


def oha_churn(url, conns, secs):
    out_file = os.path.join(TMP, "oha.json")
    _, cpu, rss = timed(["sh", "-c", f"oha -z {secs}s -c {conns} --no-tui --insecure --disable-keepalive "
                                     f"--output-format json {url} > {out_file}"])
    d = json.load(open(out_file))
    n = sum(d["statusCodeDistribution"].values())
    return {"requests": n, "rps": n / secs, "cpu_us": cpu * 1e6 / max(n, 1), "rss": rss}


def h2load_churn(url, total):
    """h2load over TLS (HTTP/2 by ALPN) with one request per connection: its rate mode starts 20
    connections every 10 ms (2,000/s offered, more than it can finish here), `total` in all, each
    doing one request; its rate is requests over its own elapsed time."""
    out, cpu, rss = timed(["timeout", "120", "h2load", "-t1", "-r20", "--rate-period=10ms", f"-c{total}",
                           f"-n{total}", "-m1", url])
    m = re.search(r"finished in ([\d.]+)s", out)
    n = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    if not m or not n:
        sys.exit(f"h2load printed no figures:\n{out}")
    took, n = float(m.group(1)), int(n.group(1))
    return {"requests": n, "rps": n / took, "cpu_us": cpu * 1e6 / max(n, 1), "rss": rss}


CHURN_PORT, CHURN_H2_URL = 24445, "https://127.0.0.1:24446"


def resumed_since(offset):
    """(resumed, full, new offset): the tls-churn server's access log since `offset` — one line
    per request, `r` when its connection resumed a TLS session, `.` for a full handshake."""
    log = os.path.join(TMP, "nginx-tls", "churn.log")
    import time
    time.sleep(0.3)  # nginx writes each line as it answers; let the last ones land
    data = open(log).read() if os.path.exists(log) else ""
    lines = data[offset:].split()
    return lines.count("r"), lines.count("."), len(data)


def tls_churn(runs):
    """Every request on a new TLS connection: stampede (50 VUs, `connection: close`) with session
    resumption and with full handshakes, against oha --disable-keepalive and h2load's rate mode."""
    need("oha", "cargo install oha --locked")
    have_h2load = shutil.which("h2load") is not None
    nginx_tls("start")
    try:
        ratios = {"resumed/oha": [], "full/oha": [], "h2load/oha": []}
        hs = {"resumed": [], "full": []}
        for i in range(runs):
            peer_header(f"TLS churn: a new connection per request, 50 at once, /fast, 8 s — run {i + 1}", "oha")
            off = resumed_since(0)[2]
            o = oha_churn(f"https://127.0.0.1:{CHURN_PORT}/fast", 50, 8)
            row("oha --disable-keepalive", o, None)
            r, f, off = resumed_since(off)
            print(f"|  ↳ oha's handshakes: {r:,} resumed, {f:,} full (nginx `$ssl_session_reused`) | | | | |")
            if have_h2load:
                h = h2load_churn(CHURN_H2_URL + "/fast", 4000)
                ratios["h2load/oha"].append(row("h2load (HTTP/2, one request per connection)", h, o))
                r, f, off = resumed_since(off)
                print(f"|  ↳ h2load's handshakes: {r:,} resumed, {f:,} full | | | | |")
            for kind, yaml in [("resumed", "bench/tls-churn.yaml"), ("full", "bench/tls-churn-full.yaml")]:
                s = stampede(yaml, 8)
                ratios[f"{kind}/oha"].append(row(f"stampede ({kind} handshakes)", s, o))
                r, f, off = resumed_since(off)
                print(f"|  ↳ stampede's handshakes: {r:,} resumed, {f:,} full | | | | |")
                m = re.search(r"tls_handshaking \.+ ([\d,]+) handshakes for", s["out"])
                n = int(m.group(1).replace(",", "")) if m else 0
                hs[kind].append(n / 8)
                print(f"|  ↳ handshakes/s | {n / 8:,.0f} | | | |")
        if not ratios["h2load/oha"]:
            del ratios["h2load/oha"]
        medians("tls-churn vs oha (goal ≥ 1.0×)", ratios)
        print(f"handshakes/s (medians): resumed {statistics.median(hs['resumed']):,.0f}, "
              f"full {statistics.median(hs['full']):,.0f}")
    finally:
        nginx_tls("stop")


def in_tmux(args, secs):
    """Run stampede (pinned to CPU 1) on a 160x48 tmux terminal; its req/s from summary.json."""
    import time
    sock = f"stampede-bench-{os.getpid()}"
    out_dir = os.path.join(TMP, "tui-run")
    code = os.path.join(TMP, "tui-code")
    shutil.rmtree(out_dir, ignore_errors=True)
    if os.path.exists(code):
        os.remove(code)
    tf = os.path.join(TMP, "tui-time")
    cmd = " ".join(["/usr/bin/time", "-f", "'%U %S'", "-o", tf, "taskset", "-c", "1", STAMPEDE, "run", os.path.join(REPO, "bench/closed-50.yaml"),
                    "--target", URL, "--out", out_dir, *args])
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    subprocess.run([*tmux, "new-session", "-d", "-x", "160", "-y", "48", f"{cmd}; echo $? > {code}"], check=True)
    try:
        deadline = time.time() + secs + 30
        while not os.path.exists(code) and time.time() < deadline:
            time.sleep(0.2)
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, stderr=subprocess.DEVNULL)
    try:
        summary = json.load(open(os.path.join(out_dir, "summary.json")))
    except FileNotFoundError:
        sys.exit(f"stampede wrote no summary under tmux ({cmd})")
    n = summary["metrics"]["http_reqs"]["count"]
    cpu = sum(float(x) for x in open(tf).read().split()[-2:])
    return n / secs, cpu * 1e6 / max(n, 1)


def tui(runs):
    """The dashboard's cost: the same closed-50 run on a terminal with the dashboard and with
    --no-tui (progress bar), alternating; goal: dashboard >= 95 % of --no-tui."""
    if shutil.which("tmux") is None:
        sys.exit("tmux not found: apt-get install -y tmux")
    print("\n### dashboard cost: closed loop, 50 VUs, /fast, 8 s, on a 160x48 tmux terminal\n")
    print("| run | --no-tui req/s | dashboard req/s | ratio | --no-tui CPU-µs/req | dashboard CPU-µs/req |")
    print("|---|---|---|---|---|---|")
    plain, dash, ratios, cpu_a, cpu_b = [], [], [], [], []
    for i in range(runs):
        # Alternate which goes first, so a drift in the machine's load does not favour one.
        if i % 2 == 0:
            a, ca = in_tmux(["--no-tui"], 8)
            b, cb = in_tmux([], 8)
        else:
            b, cb = in_tmux([], 8)
            a, ca = in_tmux(["--no-tui"], 8)
        plain.append(a)
        dash.append(b)
        ratios.append(b / a)
        cpu_a.append(ca)
        cpu_b.append(cb)
        print(f"| {i + 1} | {a:,.0f} | {b:,.0f} | {b / a:.3f} | {ca:.2f} | {cb:.2f} |")
    print(f"\n**tui** medians of {runs} runs: --no-tui {statistics.median(plain):,.0f} req/s, "
          f"dashboard {statistics.median(dash):,.0f} req/s, ratio of medians "
          f"{statistics.median(dash) / statistics.median(plain):.3f} (goal >= 0.95), median of ratios "
          f"{statistics.median(ratios):.3f}; CPU-µs per request --no-tui {statistics.median(cpu_a):.2f}, "
          f"dashboard {statistics.median(cpu_b):.2f}")


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    for tool in ["wrk", "nginx", "taskset"]:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install -y wrk nginx libnginx-mod-http-echo util-linux")
    # STAMPEDE_NO_BUILD=1: measure the binary already in target/release as it is.
    if os.environ.get("STAMPEDE_NO_BUILD") != "1":
        subprocess.run(["nice", "-n", "19", "cargo", "build", "--release"], cwd=REPO, check=True)
    subprocess.run([TARGET_SH, "start"], check=True)
    try:
        suites = {
            "closed": closed,
            "clients": clients,
            "templated": templated,
            "delay10": delay10,
            "think10k": think10k,
            "pooled50k": pooled50k,
            "https": https,
            "h2": h2,
            "h2-mux": h2_mux,
            "tls-churn": tls_churn,
            "tui": tui,
        }
        for name, f in suites.items():
            if what in (name, "all"):
                f(runs)
    finally:
        subprocess.run([TARGET_SH, "stop"], check=False)
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
