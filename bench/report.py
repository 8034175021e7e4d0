"""Turns the oha JSON results of bench/run.sh into a markdown report.

Usage: report.py TARGETS.tsv SECONDS WARMUP CONNS RATE BODY_BYTES CPU_SERVER CPU_CLIENT
TARGETS.tsv rows: label, saturation json, fixed-rate json, warm-up json or '-',
rss idle KiB or '-', rss after KiB or '-', server CPU seconds during the saturation
run, that run's wall seconds, "busy% steal%" of the server CPU and of the client CPU
during it, "foreign%" of both CPUs, attempts, comma-separated JSON files of discarded
(noisy) attempts or '-'. Non-2xx responses in discarded attempts still invalidate. Machine facts come from BENCH_META_* env.
Exit status 1 when any run had a non-2xx response or a transport error (invalid
benchmark), else 0.
"""

import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def stats(path):
    """Counts and latencies of one oha run (latencies in ms)."""
    doc = load(path)
    summary = doc.get("summary", {})
    codes = {str(k): int(v) for k, v in (doc.get("statusCodeDistribution") or {}).items()}
    errors = {str(k): int(v) for k, v in (doc.get("errorDistribution") or {}).items()}
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    non2xx = sum(v for k, v in codes.items() if not k.startswith("2"))
    pct = doc.get("latencyPercentiles") or {}
    total_s = float(summary.get("total") or 0.0)

    def ms(key):
        v = pct.get(key)
        return None if v is None else float(v) * 1000.0

    return {
        "ok": ok,
        "non2xx": non2xx,
        "codes": codes,
        "errors": errors,
        "n_errors": sum(errors.values()),
        "ok_rps": ok / total_s if total_s > 0 else 0.0,
        "p50": ms("p50"),
        "p99": ms("p99"),
    }


def f(v, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f}"


def signed(v):
    return "n/a" if v is None else f"{v:+.3f}"


def mib(kib):
    return "-" if kib in ("-", "") else f"{int(kib) / 1024:.1f}"


def main():
    tsv, secs, warm, conns, rate, body, cpu_server, cpu_client = sys.argv[1:9]
    rate = int(rate)
    rows = []
    with open(tsv) as fh:
        for line in fh:
            (label, sat, fixed, warmup, rss_idle, rss_after, cpu_s, wall_s,
             busy_server, busy_client, foreign, attempts, discarded) = line.rstrip("\n").split("\t")
            rows.append({
                "label": label,
                "sat": stats(sat),
                "rate": stats(fixed),
                "warm": stats(warmup) if warmup != "-" else None,
                "rss_idle": rss_idle,
                "rss_after": rss_after,
                "cpu_s": float(cpu_s),
                "wall_s": float(wall_s),
                "busy_server": busy_server.split(),
                "busy_client": busy_client.split(),
                "foreign": [int(x) for x in foreign.split()],
                "attempts": int(attempts),
                "discarded": [] if discarded == "-" else [stats(p) for p in discarded.split(",")],
            })
    by = {r["label"]: r for r in rows}
    direct = by.get("direct (mock)")
    nginx = by.get("nginx")
    env = os.environ.get
    out = []
    w = out.append

    w("# rampart end-to-end load benchmark")
    w("")
    w(f"- date: {env('BENCH_META_DATE', '?')}")
    w(f"- machine: {env('BENCH_META_NPROC', '?')} CPUs, {env('BENCH_META_CPU', '?')}, {env('BENCH_META_KERNEL', '?')}")
    w(f"- rampart rev: {env('BENCH_META_REV', '?')}")
    w(f"- rampart binary: {env('BENCH_META_BIN', '?')}")
    w(f"- tools: {env('BENCH_META_OHA', '?')}, {env('BENCH_META_NGINX', '?')}")
    w(f"- load: POST /v1/chat/completions, {body}-byte JSON body, {conns} connections (HTTP/1.1 keep-alive); "
      f"warm-up {warm}s, then {secs}s at saturation and {secs}s at a fixed {rate} req/s (latency-corrected)")
    w(f"- pinning: rampart and nginx on CPU {cpu_server}; mock and load generator on CPU {cpu_client}")
    w("- server CPU: CPU time of the server process (nginx: master+worker; direct: the mock) during the "
      "saturation run, as % of one core and per 2xx response")
    w(f"- machine CPU busy just before: {env('BENCH_META_BUSY_BEFORE', '?')}%; load average before -> after: "
      f"{env('BENCH_META_LOAD', '?')} (other work on the machine skews results)")
    w("")
    w(f"| target | req/s (saturation) | % of nginx | p50 ms @{rate}/s | p99 ms @{rate}/s | achieved /s | "
      f"p50 ms sat | p99 ms sat | server CPU % sat | CPU µs/req | non-2xx | errors | RSS idle MiB | RSS after MiB |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    invalid = []
    for r in rows:
        s, q = r["sat"], r["rate"]
        share = f"{100.0 * s['ok_rps'] / nginx['sat']['ok_rps']:.0f}%" if nginx and nginx["sat"]["ok_rps"] else "n/a"
        cpu_pct = f"{100.0 * r['cpu_s'] / r['wall_s']:.0f}" if r["wall_s"] > 0 else "n/a"
        cpu_us = f"{1e6 * r['cpu_s'] / s['ok']:.0f}" if s["ok"] else "n/a"
        runs = [("saturation", s), ("fixed rate", q)] + ([("warm-up", r["warm"])] if r["warm"] else [])
        non2xx = sum(x["non2xx"] for _, x in runs)
        errs = sum(x["n_errors"] for _, x in runs)
        for name, x in runs + [("discarded noisy run", x) for x in r["discarded"]]:
            if x["non2xx"] or x["n_errors"]:
                invalid.append(f"{r['label']} {name}: status {x['codes']}, errors {x['errors']}")
        w(f"| {r['label']} | {s['ok_rps']:.0f} | {share} | {f(q['p50'], 3)} | {f(q['p99'], 3)} | {q['ok_rps']:.0f} | "
          f"{f(s['p50'])} | {f(s['p99'])} | {cpu_pct} | {cpu_us} | {non2xx} | {errs} | {mib(r['rss_idle'])} | {mib(r['rss_after'])} |")
    w("")
    w(f"Overhead at the fixed rate ({rate} req/s), versus the mock directly:")
    w("")
    for r in rows:
        if r is direct or direct is None:
            continue
        d50 = None if None in (r["rate"]["p50"], direct["rate"]["p50"]) else r["rate"]["p50"] - direct["rate"]["p50"]
        d99 = None if None in (r["rate"]["p99"], direct["rate"]["p99"]) else r["rate"]["p99"] - direct["rate"]["p99"]
        extra = ""
        if nginx and r is not nginx and nginx["sat"]["ok_rps"]:
            extra = f"; throughput {100.0 * r['sat']['ok_rps'] / nginx['sat']['ok_rps']:.0f}% of nginx"
        w(f"- {r['label']}: p50 {signed(d50)} ms, p99 {signed(d99)} ms{extra}")
    for r in rows:
        if r is direct or r["wall_s"] <= 0:
            continue
        pct = 100.0 * r["cpu_s"] / r["wall_s"]
        if pct < 90:
            w(f"- NOTE: {r['label']} used {pct:.0f}% of its core at saturation, so its req/s is bounded by the "
              f"other core (load generator + mock), not by {r['label']}; compare CPU µs/req instead")
        if nginx and r is not nginx and nginx["sat"]["ok"] and r["sat"]["ok"] and nginx["cpu_s"] > 0:
            ratio = (r["cpu_s"] / r["sat"]["ok"]) / (nginx["cpu_s"] / nginx["sat"]["ok"])
            w(f"- {r['label']}: {ratio:.1f}x nginx's CPU time per request")
    mem = [r for r in rows if r["rss_idle"] != "-"]
    if mem:
        w("")
        w("Resident memory (VmRSS) of rampart:")
        w("")
        for r in mem:
            w(f"- {r['label']}: {mib(r['rss_idle'])} MiB idle (after start, before load), "
              f"{mib(r['rss_after'])} MiB after the load")
    w("")
    w(f"Noise check. busy/steal: during the saturation run (busy = all but idle and iowait; steal = "
      f"taken by the hypervisor). foreign: CPU time used by processes other than the server, the mock and oha, over "
      f"the saturation + fixed-rate runs; above 10% the target is measured again.")
    w("")
    for r in rows:
        pct = 100.0 * r["cpu_s"] / r["wall_s"] if r["wall_s"] > 0 else 0.0
        (bs, ss), (bc, sc) = r["busy_server"], r["busy_client"]
        where = f"CPU {cpu_client}" if r is direct else f"CPU {cpu_server}"
        w(f"- {r['label']}: CPU {cpu_server} busy {bs}% (steal {ss}%), CPU {cpu_client} busy {bc}% (steal {sc}%); "
          f"the server itself used {pct:.0f}% of a core ({where}); foreign {r['foreign'][0]}% / "
          f"{r['foreign'][1]}%; attempt {r['attempts']}")
    lines = env("BENCH_META_LOGLINES", "")
    if lines:
        w("")
        w(f"rampart log lines per run (level count;): {lines}")
    warnings = []
    for r in rows:
        if r["rate"]["ok_rps"] < 0.95 * rate:
            warnings.append(f"{r['label']} did not sustain {rate} req/s ({r['rate']['ok_rps']:.0f}/s): "
                            f"its fixed-rate latency includes queueing")
        elif r["sat"]["ok_rps"] and rate > 0.8 * r["sat"]["ok_rps"]:
            warnings.append(f"{r['label']}: the fixed rate is above 80% of its saturation throughput; "
                            f"latency there includes queueing (lower BENCH_RATE)")
    for r in rows:
        f0, f1 = r["foreign"]
        if f0 > 10 or f1 > 10:
            warnings.append(f"{r['label']}: other processes took {f0}% of CPU {cpu_server} and {f1}% of CPU "
                            f"{cpu_client} while it was measured: its figures are skewed, rerun on a quiet machine")
    if warnings or invalid:
        w("")
    for x in warnings:
        w(f"- WARNING: {x}")
    for x in invalid:
        w(f"- INVALID: {x}")
    if not invalid:
        w("")
        w("All runs: every response 2xx, no transport errors.")
    print("\n".join(out))
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
