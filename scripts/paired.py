#!/usr/bin/env python3
"""Paired comparison of two sets of runs on the same seeds (common random numbers).

Usage: paired.py A.csv[:POINT] B.csv[:POINT] [LABEL_A LABEL_B]

Each file is a `runs.csv` of `cascade run` or of `cascade export` (then `:POINT` picks one
sweep point). Runs are paired by run index. For each metric it prints a Markdown row: the mean
and standard error of A and of B, and the mean paired difference B - A with a 95% percentile
bootstrap interval (10,000 resamples of the paired differences, Python's `random` seeded with
2024), which does not assume the normal tails that a standard error does.
"""
import csv
import math
import random
import sys

METRICS = [
    "liquidations", "induced_liquidations", "cascade_amplification", "bad_debt",
    "protocol_loss_at_market", "oracle_gap_loss", "liquidation_slippage", "liquidator_profit",
]


def load(arg):
    path, _, point = arg.partition(":")
    rows = list(csv.DictReader(open(path, newline="")))
    if point:
        rows = [r for r in rows if r["point"] == point]
    return {int(r["run"]): r for r in rows}


def mean_se(x):
    n = len(x)
    m = sum(x) / n
    s = math.sqrt(sum((v - m) ** 2 for v in x) / (n - 1)) if n > 1 else 0.0
    return m, s / math.sqrt(n)


def bootstrap(d, b=10_000):
    rng = random.Random(2024)
    n = len(d)
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(b))
    return means[int(0.025 * b)], means[int(0.975 * b) - 1]


def fmt(metric, v):
    if metric == "cascade_amplification":
        return f"{v:.4f}"
    if "liquidations" in metric:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    la, lb = (sys.argv[3], sys.argv[4]) if len(sys.argv) == 5 else ("A", "B")
    runs = sorted(set(a) & set(b))
    if len(runs) < 2:
        sys.exit("paired.py: fewer than 2 runs in common")
    print(f"| metric | {la} | {lb} | {lb} - {la} [95% bootstrap] |")
    print("|---|---|---|---|")
    for m in METRICS:
        x = [float(a[r][m]) for r in runs]
        y = [float(b[r][m]) for r in runs]
        d = [q - p for p, q in zip(x, y)]
        (mx, sx), (my, sy), (md, _) = mean_se(x), mean_se(y), mean_se(d)
        lo, hi = bootstrap(d)
        print(f"| `{m}` | {fmt(m, mx)} ± {fmt(m, sx)} | {fmt(m, my)} ± {fmt(m, sy)} | "
              f"{fmt(m, md)} [{fmt(m, lo)}, {fmt(m, hi)}] |")
    print(f"\n{len(runs)} paired runs (mean ± standard error).")


if __name__ == "__main__":
    main()
