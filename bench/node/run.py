#!/usr/bin/env python3
"""The node (cross-process) benchmark's driver: sluice nodes next to CAF 0.17 remote actors,
Erlang/OTP distribution, ZeroMQ and raw TCP, two processes on 127.0.0.1 each (TCP ports
14200-14259 only), side by side in one run.

  bench/node/run.py [--bin build/release/bench/node] [--repeat N] [--messages N]
                    [--slow-messages M] [--rounds K] [--only sluice-cbor,erlang,...]
                    [--out results.jsonl] [--markdown table.md]

Prints one JSON line per (system, metric, run) and then a Markdown table of the medians with
the targets (met or missed). Every program checks what it moved (count and order) and fails
loudly; a failure is reported and makes the exit status 1. CAF and Erlang move --slow-messages
(they are 10-100x slower; the same rate needs fewer messages to measure).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# system: (program or None for erlang, base port, uses the slow message count)
SYSTEMS = {
    "sluice-cbor": ("sluice_node_bench", 14200, False),
    "sluice-json": ("sluice_node_bench", 14204, False),
    # the same program linked with sluice::mimalloc (every malloc of both processes)
    "sluice-cbor+mimalloc": ("sluice_node_bench_mimalloc", 14250, False),
    "sluice-json+mimalloc": ("sluice_node_bench_mimalloc", 14254, False),
    "caf": ("caf_node_bench", 14210, True),
    "zmq": ("zmq_node_bench", 14220, False),
    "rawtcp": ("rawtcp_node_bench", 14230, False),
    "erlang": (None, 14240, True),
}
METRICS = [("throughput", "throughput (msg/s)"), ("rt_median", "RT median (µs)"),
           ("rt_p99", "RT p99 (µs)"), ("kill9_detect", "kill -9 seen (ms)"),
           ("stop_detect", "SIGSTOP seen (ms)")]


def command(system, args):
    prog, port, slow = SYSTEMS[system]
    n = args.slow_messages if slow else args.messages
    if prog is None:  # erlang
        erl = shutil.which("erl")
        beam = os.path.join(args.bin, "nodebench.beam")
        if not erl or not os.path.exists(beam):
            return None, "erl or nodebench.beam missing (tools/setup --bench installs erlang-nox)"
        return [[erl, "-noshell", "-noinput", "-name", "nbmain%d@127.0.0.1" % port,
                "-setcookie", "nodebench", "-start_epmd", "false", "-epmd_module", "nodebench_epmd",
                "-kernel", "net_ticktime", "1", "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
                "-pa", args.bin, "-run", "nodebench", "main", str(n), str(args.rounds), str(port)]], None
    path = os.path.join(args.bin, prog)
    if not os.path.exists(path):
        return None, "%s not built (its package is missing: tools/setup --bench)" % prog
    cmd = [path, "--messages", str(n), "--rounds", str(args.rounds), "--port", str(port)]
    if system.startswith("sluice-"):
        cmd += ["--framing", system.split("-")[1].split("+")[0]]
    if system.startswith("sluice-") or system == "caf":
        # Two processes: traffic (sluice: monitor_timeout 30 s, the default; CAF: no
        # heartbeat) and detection (1 s).
        return [cmd + ["--part", "traffic"], cmd + ["--part", "detect"]], None
    return [cmd], None


def run_one(system, cmd, run, timeout):
    """Runs one program in a session of its own (so that a timeout kills its peers too)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, cwd=ROOT)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        err += "\n(killed after %d s)" % timeout
    results, failed = [], p.returncode != 0
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        try:
            r = json.loads(line)
        except ValueError:
            r = {"system": system, "metric": "error", "error": "unparsable line: " + line, "ok": False}
        r["run"] = run
        results.append(r)
        if r.get("metric") == "error" or not r.get("ok", False):
            failed = True
    if failed:
        sys.stderr.write("run.py: %s FAILED in run %d (exit %s):\n%s\n" % (system, run, p.returncode, err.strip()))
    try:  # a peer left behind (stopped, say) must not outlive the run
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return results, failed


def fmt(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return "%.2f M" % (v / 1e6)
    if v >= 1e4:
        return "%.0f k" % (v / 1e3)
    if v >= 100:
        return "%.0f" % v
    return "%.1f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/release/bench/node"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--messages", type=int, default=1000000)
    ap.add_argument("--slow-messages", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=10000)
    ap.add_argument("--only", default="")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per program run")
    ap.add_argument("--out", default="")
    ap.add_argument("--markdown", default="")
    args = ap.parse_args()
    systems = [s for s in SYSTEMS if not args.only or s in args.only.split(",")]
    out = open(args.out, "a") if args.out else None

    results, failures, skipped = [], [], {}
    for run in range(1, args.repeat + 1):
        for system in systems:
            if system in skipped:
                continue
            cmds, why = command(system, args)
            if cmds is None:
                skipped[system] = why
                sys.stderr.write("run.py: skipping %s: %s\n" % (system, why))
                continue
            sys.stderr.write("run.py: run %d of %d: %s\n" % (run, args.repeat, system))
            rs, failed = [], False
            for cmd in cmds:
                r, f = run_one(system, cmd, run, args.timeout)
                rs, failed = rs + r, failed or f
            if failed:
                failures.append((system, run))
            results += rs
            for r in rs:
                line = json.dumps(r)
                print(line, flush=True)
                if out:
                    out.write(line + "\n")
            time.sleep(0.5)  # let the last connections' sockets go
    if out:
        out.close()

    med = {}
    for (s, m) in {(r["system"], r["metric"]) for r in results if r.get("metric") != "error"}:
        vals = [r["value"] for r in results if r["system"] == s and r["metric"] == m and r.get("ok")]
        if vals:
            med[(s, m)] = (statistics.median(vals), len(vals))

    def order(s):  # the systems' order, rawtcp-binary and rawtcp-json under rawtcp
        base = "rawtcp" if s.startswith("rawtcp") else s
        return (list(SYSTEMS).index(base) if base in SYSTEMS else 99, s)
    rows = sorted({s for (s, _) in med}, key=order)
    lines = ["| system | " + " | ".join(h for _, h in METRICS) + " |",
             "|---|" + "---:|" * len(METRICS)]
    for s in rows:
        cells = []
        for m, _ in METRICS:
            v = med.get((s, m))
            cells.append(fmt(v[0]) if v else "–")
        lines.append("| %s | %s |" % (s, " | ".join(cells)))
    runs = max([v[1] for v in med.values()] or [0])
    lines.append("")
    lines.append("Medians of %d run(s); CAF and Erlang move %d messages, the others %d; %d round trips."
                 % (runs, args.slow_messages, args.messages, args.rounds))

    def get(s, m):
        v = med.get((s, m))
        return v[0] if v else None

    # (description, sluice value, bound, "ge" or "le")
    targets = []
    c, j = "sluice-cbor", "sluice-json"
    for cc in (c, c + "+mimalloc"):
        for peer, k in (("erlang", 10), ("caf", 20), ("zmq", 0.5)):
            b = get(peer, "throughput")
            targets.append(("%s throughput >= %gx %s" % (cc, k, peer), get(cc, "throughput"), b and k * b, "ge"))
    b = get("rawtcp-json", "throughput")
    for jj in (j, j + "+mimalloc"):
        targets.append(("%s throughput >= rawtcp-json" % jj, get(jj, "throughput"), b, "ge"))
    for s in (c, j):
        b = get("erlang", "rt_median")
        targets.append(("%s RT median <= 0.8x erlang" % s, get(s, "rt_median"), b and 0.8 * b, "le"))
        b = get("rawtcp-binary", "rt_median")
        targets.append(("%s RT median <= 1.5x raw TCP" % s, get(s, "rt_median"), b and 1.5 * b, "le"))
    for s in (c, j):
        targets.append(("%s kill -9 seen within 20 ms" % s, get(s, "kill9_detect"), 20.0, "le"))
        targets.append(("%s SIGSTOP seen within monitor_timeout + 10%% (1100 ms)" % s, get(s, "stop_detect"), 1100.0, "le"))
    lines += ["", "| target | sluice | bound | met |", "|---|---:|---:|---|"]
    for desc, v, bound, how in targets:
        if v is None or bound is None:
            met = "not measured"
        else:
            met = "yes" if (v >= bound if how == "ge" else v <= bound) else "**no**"
        lines.append("| %s | %s | %s | %s |" % (desc, fmt(v), fmt(bound), met))
    if skipped:
        lines.append("")
        for s, why in skipped.items():
            lines.append("Skipped %s: %s." % (s, why))
    if failures:
        lines.append("")
        lines.append("FAILED: " + ", ".join("%s (run %d)" % f for f in failures))
    table = "\n".join(lines)
    print(table, file=sys.stderr)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
