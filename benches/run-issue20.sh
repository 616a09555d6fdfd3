#!/usr/bin/env bash
# Issue 20 item 4, side by side in one run: the block cost against the accounts that exist
# (`acting` bench: 1e4, 1e5, 1e6 accounts of which about 2,000 act), the reference run on 1 and
# 2 threads and its floor (redefined to the event schedule's acting draws; the polled floor
# beside it), and a one-day run of configs/scenarios/large_book.toml (10^6 accounts) on one
# core with its peak resident memory. Prints one table at the end. Run it on a quiet machine
# (load average about 1): every figure is a wall time.
#
#   benches/run-issue20.sh            # the measurements: release build (the bench profile),
#                                     # about 15-25 minutes
#   benches/run-issue20.sh --smoke    # a check that the script works: ci profile, criterion
#                                     # --test mode (each bench once, no timing), 1e4 accounts
#                                     # only, large_book at 10,000 accounts for an hour
#
# Environment: CARGO_TARGET_DIR as for cargo; ISSUE20_PROFILE=ci to measure the ci profile
# (release optimizations plus debug assertions and overflow checks) instead; ISSUE20_CORE (default 0), the core the one-day run
# is pinned to with taskset when available.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
target="${CARGO_TARGET_DIR:-target}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
core="${ISSUE20_CORE:-0}"

if ((smoke)); then
  profile=(--profile ci)
  bin="$target/ci/cascade"
  crit=(-- --test)
  export CASCADE_ACTING_SIZES=10000
  book_sets=(--set agents.4.count=10000 --set chain.duration_s=3600)
elif [[ "${ISSUE20_PROFILE:-release}" == ci ]]; then
  # The ci profile (release optimizations with debug assertions and overflow checks): no
  # release build needed where the tests have built it; its times are upper bounds.
  profile=(--profile ci)
  bin="$target/ci/cascade"
  crit=()
  export CASCADE_ACTING_SIZES="${CASCADE_ACTING_SIZES:-10000,100000,1000000}"
  book_sets=()
else
  profile=(--release)
  bin="$target/release/cascade"
  crit=()
  export CASCADE_ACTING_SIZES="${CASCADE_ACTING_SIZES:-10000,100000,1000000}"
  book_sets=()
fi

echo "== issue 20 item 4: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
cargo build "${profile[@]}" -p cascade-cli
cargo bench "${profile[@]}" -p cascade-benches --bench acting "${crit[@]}" | tee "$out/acting.txt"
cargo bench "${profile[@]}" -p cascade-benches --bench reference "${crit[@]}" \
  'reference/(runs_1_threads|runs_2_threads|floor_1_thread|floor_polled_1_thread)' | tee "$out/reference.txt"

# The one-day run: wall time and peak resident memory of the whole process.
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$core")
timer=()
[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -v -o "$out/book-time.txt")
start=$(date +%s.%N)
"${timer[@]}" "${pin[@]}" "$bin" run configs/scenarios/large_book.toml --runs 1 --threads 1 \
  "${book_sets[@]}" --out "$out/book" --force > "$out/book.txt" 2>&1 \
  || { cat "$out/book.txt" >&2; echo "run-issue20: large_book failed" >&2; exit 1; }
end=$(date +%s.%N)

python3 - "$target" "$out" "$smoke" "$start" "$end" "${book_sets[*]:-}" <<'EOF'
import csv, json, os, re, sys
target, out, smoke, start, end, sets = sys.argv[1:7]
smoke = smoke == "1"

def est(group, name):
    """Criterion's point estimate, seconds (None in --test mode): the slope of its linear
    sampling where it has one (the middle figure criterion prints), else the mean."""
    p = os.path.join(target, "criterion", group, name, "new", "estimates.json")
    if smoke or not os.path.exists(p):
        return None
    with open(p) as f:
        e = json.load(f)
    return (e.get("slope") or e["mean"])["point_estimate"] * 1e-9

def fmt(x, unit="s"):
    if x is None:
        return "n/a"
    if unit == "s":
        for scale, u in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
            if x >= scale:
                return f"{x / scale:.3g} {u}"
        return f"{x * 1e9:.3g} ns"
    return f"{x:.3g}"

rows = []
sizes = [int(s) for s in os.environ["CASCADE_ACTING_SIZES"].split(",")]
blocks = {n: est("acting", f"{n}_accounts") for n in sizes}
floors = {n: est("acting", f"floor_{n}_accounts") for n in sizes}
for n in sizes:
    ratio = blocks[n] / floors[n] if blocks[n] and floors[n] else None
    rows.append((f"acting/{n}_accounts (block, ~2,000 act)", fmt(blocks[n]),
                 f"floor {fmt(floors[n])}, block/floor {fmt(ratio, '')}"))
lo, hi = min(sizes), max(sizes)
if blocks.get(lo) and blocks.get(hi) and hi != lo:
    r = blocks[hi] / blocks[lo]
    rows.append((f"block at {hi:,} / block at {lo:,}", fmt(r, ""),
                 "target <= 2: " + ("met" if r <= 2 else "NOT met")))
t1 = est("reference", "runs_1_threads")
t2 = est("reference", "runs_2_threads")
fl = est("reference", "floor_1_thread")
fp = est("reference", "floor_polled_1_thread")
rows.append(("reference run, 1 thread", fmt(t1), ""))
rows.append(("reference floor (event schedule)", fmt(fl),
             "full/floor " + fmt(t1 / fl if t1 and fl else None, "") + " (target <= 3)"))
rows.append(("reference floor (polled, former definition)", fmt(fp),
             "full/floor " + fmt(t1 / fp if t1 and fp else None, "")))
rows.append(("parallel efficiency, 2 threads", fmt(t1 / t2 if t1 and t2 else None, ""),
             "(2 runs on 2 threads) against (1 run on 1)"))
wall = float(end) - float(start)
rss_kb = None
tf = os.path.join(out, "book-time.txt")
if os.path.exists(tf):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tf).read())
    rss_kb = int(m.group(1)) if m else None
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", open(tf).read())
    if m:
        parts = [float(p) for p in m.group(1).split(":")]
        wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
accounts = 1_000_000
m = re.search(r"agents\.4\.count=(\d+)", sets)
if m:
    accounts = int(m.group(1))
label = f"large_book, one run, 1 thread ({accounts:,} accounts" + (f", {sets})" if sets else ", one day)")
rows.append((label, fmt(wall), "target <= 300 s at 10^6 accounts, one day"))
if rss_kb:
    rows.append(("large_book peak RSS", f"{rss_kb / 1024:.0f} MiB",
                 f"{rss_kb * 1024 / accounts:.0f} bytes per account"))
with open(os.path.join(out, "book", "runs.csv")) as f:
    r = next(csv.DictReader(f))
rows.append(("large_book run 0", f"{float(r['liquidations']):.0f} liquidations",
             f"{float(r['txs_included']):.0f} txs, bad debt {float(r['bad_debt']):.4g}, "
             f"max drawdown {float(r['max_drawdown']):.3f}"))
w = max(len(a) for a, _, _ in rows)
print()
print("issue 20 item 4" + (" (SMOKE: no timings, reduced sizes)" if smoke else "")
      + f" [profile {os.environ.get('ISSUE20_PROFILE', 'release') if not smoke else 'ci'}]")
for a, b, c in rows:
    print(f"  {a:<{w}}  {b:>12}  {c}")
EOF
