#!/usr/bin/env python3
"""Paired comparison of sets of runs on the same seeds (common random numbers).

Usage:
  paired.py [--metrics m1,m2,...] [--labels L0,L1,...] BASE.csv[:POINT] OTHER.csv[:POINT] ...

Each file is a `runs.csv` of `cascade run --out DIR` or of `cascade export` (then `:POINT`
picks one sweep point). The first file is the baseline; runs are paired by run index (run `r`
has seed `derive(seed, r)` in `cascade run` and in a sweep alike, so runs with the same index
share every random stream). For each metric it prints a Markdown row with one cell per file:
- the baseline: its mean with a 95% percentile bootstrap interval of the mean;
- every other file: its mean, then the mean paired difference to the baseline (file minus
  baseline) with a 95% paired percentile bootstrap interval (10,000 resamples of the run
  indices, Python's `random` seeded with 2024, one index taking both runs of a pair), the
  two-sided sign-flip permutation p-value of the sum of the differences (exact over all `2^k`
  sign assignments of the `k` non-zero differences when `k <= 16`, else 10,000 random
  assignments with `p = (1 + b) / (B + 1)`), and the runs above / below the baseline.
Percentile intervals of the mean of a non-negative sample never go below zero, unlike
mean +- 1.96 standard errors. The two-file form `paired.py A.csv B.csv LABEL_A LABEL_B`
of earlier versions still works.
"""
import csv
import itertools
import math
import random
import sys

DEFAULT_METRICS = [
    "liquidations", "induced_liquidations", "cascade_amplification", "bad_debt",
    "protocol_loss_at_market", "oracle_gap_loss", "liquidation_slippage", "liquidator_profit",
]
B = 10_000


def load(arg):
    path, _, point = arg.partition(":")
    try:
        rows = list(csv.DictReader(open(path, newline="")))
    except OSError as e:
        sys.exit(f"paired.py: cannot read {path}: {e.strerror}")
    if point:
        rows = [r for r in rows if r.get("point") == point]
        if not rows:
            sys.exit(f"paired.py: {path} has no rows of point {point}")
    return {int(r["run"]): r for r in rows}


def value(row, metric, path):
    if metric not in row:
        sys.exit(f"paired.py: {path} has no column `{metric}`")
    v = row[metric]
    if v in ("true", "false"):
        return 1.0 if v == "true" else 0.0
    return float(v) if v != "" else float("nan")


def boot_mean(x, rng):
    n = len(x)
    means = sorted(sum(x[rng.randrange(n)] for _ in range(n)) / n for _ in range(B))
    return means[int(0.025 * B)], means[int(0.975 * B) - 1]


def sign_flip_p(d, rng):
    nz = [v for v in d if v != 0.0]
    k = len(nz)
    if k == 0:
        return 1.0
    obs = abs(sum(nz)) * (1 - 1e-12)
    if k <= 16:
        hits = sum(
            1 for signs in itertools.product((1, -1), repeat=k)
            if abs(sum(s * v for s, v in zip(signs, nz))) >= obs
        )
        return hits / 2 ** k
    b = sum(1 for _ in range(B) if abs(sum(v if rng.random() < 0.5 else -v for v in nz)) >= obs)
    return (1 + b) / (B + 1)


def fmt(metric, v):
    if math.isnan(v):
        return "-"
    a = abs(v)
    if metric == "cascade_amplification" or metric == "has_cascade" or a < 1:
        return f"{v:.4f}" if metric == "cascade_amplification" else f"{v:.3g}"
    if a < 100:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def fmt_p(p):
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def main(argv):
    metrics, labels, files = DEFAULT_METRICS, None, []
    it = iter(argv)
    for a in it:
        if a == "--metrics":
            metrics = next(it, "").split(",")
        elif a == "--labels":
            labels = next(it, "").split(",")
        else:
            files.append(a)
    if len(files) == 4 and not any(":" in f or f.endswith(".csv") for f in files[2:]):
        files, labels = files[:2], files[2:]
    if len(files) < 2:
        sys.exit(__doc__)
    labels = labels or [f"F{i}" for i in range(len(files))]
    if len(labels) != len(files):
        sys.exit("paired.py: --labels needs one label per file")
    data = [load(f) for f in files]
    runs = sorted(set.intersection(*(set(d) for d in data)))
    if len(runs) < 2:
        sys.exit("paired.py: fewer than 2 runs in common")
    print("| metric | " + " | ".join(labels) + " |")
    print("|---" * (len(files) + 1) + "|")
    for m in metrics:
        rng = random.Random(2024)
        cols = [[value(d[r], m, f) for r in runs] for d, f in zip(data, files)]
        base = cols[0]
        lo, hi = boot_mean(base, rng)
        cells = [f"{fmt(m, sum(base) / len(base))} [{fmt(m, lo)}, {fmt(m, hi)}]"]
        for c in cols[1:]:
            d = [y - x for x, y in zip(base, c)]
            dlo, dhi = boot_mean(d, rng)
            p = sign_flip_p(d, rng)
            up = sum(1 for v in d if v > 0)
            down = sum(1 for v in d if v < 0)
            cells.append(
                f"{fmt(m, sum(c) / len(c))}; {fmt(m, sum(d) / len(d))} "
                f"[{fmt(m, dlo)}, {fmt(m, dhi)}], p {fmt_p(p)}, {up}/{down}"
            )
        print(f"| `{m}` | " + " | ".join(cells) + " |")
    print(f"\n{len(runs)} paired runs. Baseline: mean [95% bootstrap]. Others: mean; paired "
          f"difference to {labels[0]} [95% paired bootstrap], sign-flip p, runs above/below.")


if __name__ == "__main__":
    main(sys.argv[1:])
