#!/usr/bin/python3
"""Summarises a log of benchmarks/compare_int8_onnxruntime.sh: per width and thread count, the
median of each engine's per-round medians and the fastest pass of all rounds, the ratios the
int8 targets are stated in, a Markdown table and a bar plot (latency_int8.png).

  plot_int8_compare.py LOG --out benchmarks/results
"""
import argparse
import collections
import os
import re
import statistics
import sys

ENGINES = ("mobilenext int8", "mobilenext float", "ONNX Runtime int8", "ONNX Runtime float")


def parse(lines):
    """{(width, threads, engine): [(median_ms, min_ms), one per round]} and the cpu line."""
    runs, width, cpu = collections.defaultdict(list), None, ""
    for line in lines:
        if line.startswith("cpu:"):
            cpu = line[4:].strip()
        m = re.match(r"== round \d+, width ([0-9.]+)", line)
        if m:
            width = float(m.group(1))
        m = re.match(r"RESULT .* model=(\S+) threads=(\d+) .*median_ms=([0-9.]+) min_ms=([0-9.]+)", line)
        if m:
            engine = "ONNX Runtime int8" if m.group(1).endswith("_int8") else "ONNX Runtime float"
            runs[(width, int(m.group(2)), engine)].append((float(m.group(3)), float(m.group(4))))
        m = re.match(r"mobilenext (\S+) threads=(\d+): latency:\s+median ([0-9.]+) ms, min ([0-9.]+) ms", line)
        if m:
            engine = "mobilenext int8" if "_int8" in m.group(1) else "mobilenext float"
            runs[(width, int(m.group(2)), engine)].append((float(m.group(3)), float(m.group(4))))
    return runs, cpu


def summarise(runs):
    """{(width, threads): {engine: (median of medians, fastest)}} for the cases with all four engines."""
    cases = collections.defaultdict(dict)
    for (width, threads, engine), values in runs.items():
        cases[(width, threads)][engine] = (statistics.median(v[0] for v in values), min(v[1] for v in values))
    return {k: v for k, v in sorted(cases.items()) if all(e in v for e in ENGINES)}


def table(cases, cpu):
    lines = ["CPU: %s. Milliseconds, batch 1, 224x224: median of the rounds' medians (fastest pass)." % cpu, "",
             "| width | threads | " + " | ".join(ENGINES) + " | int8 / our float | int8 / ONNX Runtime int8 |",
             "|---|---|" + "---|" * (len(ENGINES) + 2)]
    for (width, threads), e in cases.items():
        ours, ours_float, ort_int8 = e["mobilenext int8"], e["mobilenext float"], e["ONNX Runtime int8"]
        lines.append("| %g | %d | %s | %.2f (%.2f) | %.2f (%.2f) |" % (
            width, threads, " | ".join("%.2f (%.2f)" % e[name] for name in ENGINES),
            ours[0] / ours_float[0], ours[1] / ours_float[1], ours[0] / ort_int8[0], ours[1] / ort_int8[1]))
    return "\n".join(lines) + "\n"


def plot(cases, cpu, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = list(cases)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    step = 0.8 / len(ENGINES)
    colors = ("tab:blue", "lightsteelblue", "tab:orange", "navajowhite")
    for i, (engine, color) in enumerate(zip(ENGINES, colors)):
        ax.bar([k + (i - 1.5) * step for k in range(len(keys))], [cases[key][engine][0] for key in keys], step,
               color=color, label=engine)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(["width %g\n%d thread%s" % (w, t, "s" * (t > 1)) for w, t in keys])
    ax.set_ylabel("latency, batch 1, 224x224 (ms)")
    ax.set_title("MobileNeXt int8 and float, one run (%s)" % cpu)
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()
    with open(args.log) as f:
        runs, cpu = parse(f)
    cases = summarise(runs)
    if not cases:
        raise SystemExit("%s: no case with all four engines" % args.log)
    text = table(cases, cpu)
    print(text)
    with open(os.path.join(args.out, "latest_int8.md"), "w") as f:
        f.write(text)
    try:
        plot(cases, cpu, os.path.join(args.out, "latency_int8.png"))
    except ImportError:
        print("matplotlib not available: no plot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
