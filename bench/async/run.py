#!/usr/bin/env python3
"""The async benchmark's driver (issue 12): sluice's coroutines next to goroutines, Boost.Asio's
concurrent_channel between coroutines, and Boost.Fiber, on the same workloads. Builds nothing:
it runs the programs it finds in --bin.

  bench/async/run.py [--bin build/release/bench/async] [--repeat K] [--scale F] [--only W,...]
                     [--load N[,M...]] [--load-scale F] [--out results.jsonl] [--markdown table.md]

Programs (each skipped with a message when it is not built):
  async_sluice      sluice (impls "sluice-native" and "sluice-asio"), when it exists
  async_gobench     Go (bench/async/go; tools/bench builds it): "go" with GOMAXPROCS = all
                    CPUs, then "go-1p" with GOMAXPROCS = 1 (the C++ peers use one thread)
  async_asio_peer   Boost.Asio 1.81 experimental::concurrent_channel, use_awaitable
  async_fiber_peer  Boost.Fiber 1.81 channels

Each takes --only W,... --scale F --repeat K and prints one JSON line per cell and run:
  {"impl", "note", "workload", "cap", "tasks", "procs", "messages", "seconds", "ns_per_op", "ok"}
having checked what it moved ("ok"). The programs alternate workload by workload (every
program runs workload W K times, then the next workload), so that the two sides of a ratio are
measured close together on a shared machine.

--load N then runs the crossbeam-shape cells (spsc, mpsc, mpmc, select_rx) again next to N
busy neighbour processes (a Python loop each, started and killed here, at nice 0 where this
process may set it), their lines tagged "load": "N@NICE".

Writes every line (after a "meta" line: machine, compiler, Go, commit, date) to --out, prints
them on stdout, and prints a Markdown table of the medians (ns per operation; rows: workload,
columns: implementation, then the ratios sluice/go and sluice/asio) on stderr and to
--markdown. A failed check or a program's non-zero exit is reported and makes the exit
status 1.
"""
import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# (program, extra arguments): a program may run more than once, under another impl name.
PROGRAMS = [("async_sluice", []), ("async_gobench", []), ("async_gobench", ["--procs", "1", "--impl", "go-1p"]),
            ("async_asio_peer", []), ("async_fiber_peer", [])]
ASYNC = ["pingpong", "pingpong_cb", "buffered", "ring", "fanin", "select2"]
SHAPES = ["spsc", "mpsc", "mpmc", "select_rx"]
IMPLS = ["sluice-native", "sluice-asio", "go", "go-1p", "asio-channel", "boost-fiber"]
SLUICE = ["sluice-native", "sluice-asio"]
RATIO_PEERS = [("go", "go"), ("go-1p", "go-1p"), ("asio-channel", "asio")]


def sh(cmd):
    """The first line a command prints, or "unknown"."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=ROOT).stdout
        return out.splitlines()[0].strip() if out.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_busy(seconds=1.0):
    """The share of all CPUs' time spent busy over the next `seconds` (from /proc/stat), as a
    percentage: a shared machine's other work before the run, recorded with the results."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:6]]  # user nice system idle iowait
        return sum(v), v[3] + v[4]
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return round(100.0 * (1 - (i1 - i0) / max(t1 - t0, 1)), 1)


def meta(args):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"meta": {
        "machine": "%d cores, %s, %s" % (os.cpu_count(), cpu, platform.machine()),
        "compiler": sh(["c++", "--version"]), "go": sh(["go", "version"]),
        "commit": sh(["git", "rev-parse", "--short", "HEAD"]),
        "date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "repeats": args.repeat, "scale": args.scale, "load": args.load, "load_scale": args.load_scale,
        "cpu_busy_before_percent": cpu_busy()}}


def found_programs(bin_dir):
    """The programs built in bin_dir, as (path, extra arguments); and the names not built."""
    progs, skipped = [], []
    for p, extra in PROGRAMS:
        path = os.path.join(bin_dir, p)
        if os.access(path, os.X_OK):
            progs.append((path, extra))
        elif p not in skipped:
            skipped.append(p)
            sys.stderr.write("run.py: skipping %s: not built in %s\n" % (p, bin_dir))
    return progs, skipped


def run_program(path, extra, workload, repeat, scale, timeout):
    """Runs one program on one workload; returns (lines as dicts, failed)."""
    cmd = [path, "--only", workload, "--repeat", str(repeat), "--scale", repr(scale)] + extra
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, cwd=ROOT)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        err += "\n(killed after %d s)" % timeout
    lines, failed = [], p.returncode != 0
    for text in out.splitlines():
        if not text.startswith("{"):
            continue
        try:
            r = json.loads(text)
        except ValueError:
            r = {"impl": os.path.basename(path), "workload": workload, "error": text, "ok": False}
        lines.append(r)
        failed = failed or not r.get("ok", False)
    if failed:
        sys.stderr.write("run.py: %s %s FAILED (exit %s):\n%s\n" % (os.path.basename(path), workload,
                                                                 p.returncode, err.strip()))
    return lines, failed


# --- Busy neighbours ------------------------------------------------------------------------
def spin_niceness():
    """Sets this process's niceness to 0 where allowed (a child of a niced run.py would
    inherit it), before the neighbour becomes a spinning loop."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    except OSError:
        pass


def start_neighbours(count):
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=spin_niceness)
             for _ in range(count)]
    time.sleep(0.5)  # let them reach the CPUs
    nices = {os.getpriority(os.PRIO_PROCESS, p.pid) for p in procs}
    return procs, "%d@%s" % (count, "/".join(str(n) for n in sorted(nices)))


def stop_neighbours(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


# --- One pass over the workloads ------------------------------------------------------------
def run_pass(progs, workloads, args, scale, tag, sink):
    """Every program on every workload, alternating workload by workload; returns failures."""
    failures = []
    for w in workloads:
        for path, extra in progs:
            name = " ".join([os.path.basename(path)] + extra)
            sys.stderr.write("run.py: %s %s%s\n" % (name, w, " (load %s)" % tag if tag else ""))
            lines, failed = run_program(path, extra, w, args.repeat, scale, args.timeout)
            for r in lines:
                if tag:
                    r["load"] = tag
                sink(r)
            if failed:
                failures.append("%s %s%s" % (name, w, " (load %s)" % tag if tag else ""))
    return failures


# --- The table ------------------------------------------------------------------------------
def row_name(r):
    """A row per workload; the crossbeam shapes one per capacity as well."""
    w = r["workload"]
    return "%s %s" % (w, r.get("cap", "")) if w in SHAPES else w


def row_order(name):
    w = name.split(" ")[0]
    known = ASYNC + SHAPES
    cap = name.split(" ")[1] if " " in name else ""
    return (known.index(w) if w in known else len(known), w, cap)


def medians(results):
    """(load, row, impl) -> (median ns per op of the runs that passed, any failed)"""
    acc = {}
    for r in results:
        if "ns_per_op" not in r and not r.get("error"):
            continue
        acc.setdefault((r.get("load", ""), row_name(r), r.get("impl", "?")), []).append(r)
    out = {}
    for key, runs in acc.items():
        good = [r["ns_per_op"] for r in runs if r.get("ok") and "ns_per_op" in r]
        out[key] = (statistics.median(good) if good else None, len(good) != len(runs))
    return out


def fmt_ns(v):
    if v is None:
        return "FAIL"
    return "%.1f" % v if v < 100 else "%.0f" % v


def columns(med):
    present = {impl for (_, _, impl) in med}
    impls = [i for i in IMPLS if i in present] + sorted(present - set(IMPLS))
    ratios = [(s, p, "%s / %s" % (s, short)) for s in SLUICE if s in present
              for p, short in RATIO_PEERS if p in present]
    return impls, ratios


def section(med, load, impls, ratios):
    rows = sorted({row for (l, row, _) in med if l == load}, key=row_order)
    head = ["workload"] + impls + [h for _, _, h in ratios]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for row in rows:
        cells = []
        for impl in impls:
            v = med.get((load, row, impl))
            cells.append("–" if v is None else fmt_ns(v[0]) + (" (some runs failed)" if v[1] and v[0] else ""))
        for s, p, _ in ratios:
            a, b = med.get((load, row, s)), med.get((load, row, p))
            ok = a and b and a[0] and b[0]
            cells.append("%.2f" % (a[0] / b[0]) if ok else "–")
        lines.append("| %s | %s |" % (row, " | ".join(cells)))
    return lines


def threads_line(results):
    """Which procs (GOMAXPROCS, or threads) each implementation used, from its lines."""
    procs = {}
    for r in results:
        if "procs" in r:
            procs.setdefault(r["impl"], set()).add(r["procs"])
    parts = ["%s %s" % (i, "/".join(str(p) for p in sorted(v))) for i, v in sorted(procs.items())]
    return "Threads (Go: GOMAXPROCS) per implementation: %s." % "; ".join(parts) if parts else ""


def table(med, meta_line, skipped, failures, threads):
    impls, ratios = columns(med)
    m = meta_line["meta"]
    lines = ["Async benchmark: ns per operation (message, pair, hop or select), median of %d run(s); "
             "ratio < 1: sluice faster." % m["repeats"],
             "", "Machine: %s; %s; %s; commit %s, %s; CPUs %s%% busy just before." % (
                 m["machine"], m["compiler"], m["go"], m["commit"], m["date"], m["cpu_busy_before_percent"]),
             ""]
    lines += section(med, "", impls, ratios)
    for load in sorted({l for (l, _, _) in med if l}):
        lines += ["", "Under load %s (COUNT@NICE: busy neighbour processes, their niceness):" % load, ""]
        lines += section(med, load, impls, ratios)
    lines += ["", threads, "Each program's notes (what a cell does, its capacity, its tasks) are in the JSON lines."]
    lines += ["Skipped %s: not built." % s for s in skipped]
    if failures:
        lines += ["", "FAILED: " + ", ".join(failures)]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/release/bench/async"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="times each workload's default count")
    ap.add_argument("--only", default="", help="comma-separated workloads")
    ap.add_argument("--load", default="0", help="busy neighbours for the crossbeam shapes: N, or N,M,... (one pass each)")
    ap.add_argument("--load-scale", type=float, default=0.3, help="--scale of the loaded cells")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per program run")
    ap.add_argument("--out", default="")
    ap.add_argument("--markdown", default="")
    args = ap.parse_args()
    only = [w for w in args.only.split(",") if w]
    workloads = only or ASYNC + SHAPES
    progs, skipped = found_programs(args.bin)
    out = open(args.out, "a") if args.out else None
    results = []

    def sink(r):
        results.append(r)
        line = json.dumps(r)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()

    m = meta(args)
    if out:
        out.write(json.dumps(m) + "\n")
    failures = run_pass(progs, workloads, args, args.scale, "", sink)
    loaded = [w for w in workloads if w in SHAPES]
    for count in [int(n) for n in str(args.load).split(",") if n.strip()]:
        if count <= 0 or not loaded:
            continue
        neighbours, tag = start_neighbours(count)
        try:
            failures += run_pass(progs, loaded, args, args.load_scale, tag, sink)
        finally:
            stop_neighbours(neighbours)
    if out:
        out.close()
    text = table(medians(results), m, skipped, failures, threads_line(results))
    print(text, file=sys.stderr)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    return 1 if failures or not progs else 0


if __name__ == "__main__":
    sys.exit(main())
