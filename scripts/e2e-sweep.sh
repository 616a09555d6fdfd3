#!/usr/bin/env bash
# End-to-end check of experiments as a researcher meets them: the README's main command (the
# quickstart sweep), thread-count independence, a sweep killed mid-way then resumed, replay,
# export (CSV, JSON and Parquet) loaded into pandas and pyarrow, and clear errors for broken stores and sweep files.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p cascade-cli
bin=${CARGO_TARGET_DIR:-target}/release/cascade
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "e2e-sweep: FAIL: $*" >&2; exit 1; }
sweep=configs/sweeps/quickstart.toml

# Two result stores hold the same results (scripts/same-store.py).
same_store() {
  python3 scripts/same-store.py "$1" "$2" || fail "stores $1 and $2 differ"
}

# The README's main command, on 1 and on 2 threads.
"$bin" sweep "$sweep" --out "$work/t1" --threads 1 > "$work/t1.out" 2> "$work/t1.err" || { cat "$work/t1.err"; fail "sweep --threads 1"; }
"$bin" sweep "$sweep" --out "$work/t2" --threads 2 > "$work/t2.out" 2> "$work/t2.err" || { cat "$work/t2.err"; fail "sweep --threads 2"; }
grep -q "has_cascade rate" "$work/t1.out" || fail "the sweep prints no point table"
grep -q "^progress: " "$work/t1.err" || fail "no plain progress lines when stderr is not a terminal"
grep -q '"status": "complete"' "$work/t1/manifest.json" || fail "manifest status"
same_store "$work/t1" "$work/t2"

# Refuses to overwrite a finished store without --force.
set +e; "$bin" sweep "$sweep" --out "$work/t1" >/dev/null 2> "$work/err.txt"; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "overwrite without --force: exit $rc"
grep -q -- "--force" "$work/err.txt" || fail "overwrite message"

# Killed mid-way, then resumed: equal to the uninterrupted store.
"$bin" sweep "$sweep" --out "$work/k" --threads 2 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  n=$(find "$work/k/runs" -name '*.bin' 2>/dev/null | wc -l)
  [ "$n" -ge 3 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null || fail "the sweep finished before it could be interrupted"
wait "$pid" 2>/dev/null || true
n=$(find "$work/k/runs" -name '*.bin' | wc -l)
[ "$n" -lt 12 ] || fail "interrupted sweep already had every point"
grep -q '"status": "running"' "$work/k/manifest.json" || fail "interrupted manifest status"
[ ! -e "$work/k/points.bin" ] || fail "points.bin written before the end"
set +e; "$bin" sweep "$sweep" --out "$work/k" >/dev/null 2> "$work/err.txt"; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "re-running into an interrupted store without --resume: exit $rc"
"$bin" sweep "$sweep" --out "$work/k" --resume --threads 2 > "$work/k.out" 2>&1 || { cat "$work/k.out"; fail "resume"; }
grep -q "kept from before" "$work/k.out" || fail "resume recomputed everything"
same_store "$work/t1" "$work/k"

# Replay reproduces the stored row and writes the event trace.
"$bin" replay "$work/t1" --point 9 --run 3 > "$work/replay.out" || fail "replay"
grep -q "bit for bit" "$work/replay.out" || fail "replay message"
head -1 "$work/t1/replays/p9-r3-events.csv" | grep -q "^block,t_s,event,tx,actor" || fail "event header"
grep -q ",liquidation," "$work/t1/replays/p9-r3-events.csv" || grep -q "liquidat" "$work/t1/replays/p9-r3-events.csv" || fail "no liquidation in the event trace"
[ -s "$work/t1/replays/p9-r3-path.csv" ] || fail "no path csv"
set +e; "$bin" replay "$work/t1" --point 99 --run 0 >/dev/null 2> "$work/err.txt"; rc=$?; set -e
[ "$rc" -eq 2 ] && grep -q "points 0 to 11" "$work/err.txt" || fail "replay of a missing point: exit $rc"

# Export, and load it into pandas as is.
"$bin" export "$work/t1" --format csv >/dev/null || fail "export csv"
"$bin" export "$work/t1" --format json >/dev/null || fail "export json"
# The sweep wrote the Parquet tables already; export them again into another directory.
for f in runs points runs_long points_long; do
  [ -s "$work/t1/export/$f.parquet" ] || fail "the sweep wrote no export/$f.parquet"
done
"$bin" export "$work/t1" --format parquet --out "$work/pq" >/dev/null || fail "export parquet"
py=python3
if ! "$py" -c "import pandas, pyarrow" 2>/dev/null; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check pandas pyarrow || fail "cannot install pandas and pyarrow"
  py="$work/venv/bin/python"
fi
"$py" - "$work/t1/export" <<'PY' || fail "pandas cannot read the export"
import sys, pandas as pd
d = sys.argv[1]
runs = pd.read_csv(f"{d}/runs.csv")
points = pd.read_csv(f"{d}/points.csv")
runs_j = pd.read_json(f"{d}/runs.json")
points_j = pd.read_json(f"{d}/points.json")
assert len(runs) == 12 * 30, len(runs)
assert len(points) == 12, len(points)
assert len(runs_j) == len(runs) and len(points_j) == len(points)
assert {"point", "run", "engine.liquidation.bonus", "assets.ETH.impact.kappa", "has_cascade", "bad_debt"} <= set(runs.columns)
assert {"has_cascade_rate", "has_cascade_rate_lo", "has_cascade_rate_hi", "bad_debt_mean", "bad_debt_p99"} <= set(points.columns)
# The points table agrees with the runs table.
m = runs.groupby("point")["bad_debt"].mean()
assert ((m - points.set_index("point")["bad_debt_mean"]).abs() <= 1e-9 * (1 + m.abs())).all()
r = runs.groupby("point")["has_cascade"].mean()
assert ((r - points.set_index("point")["has_cascade_rate"]).abs() < 1e-12).all()
assert (runs["bad_debt"] == runs_j["bad_debt"]).all()
assert {"seed", "run_seed"} <= set(runs.columns)
units = pd.read_csv(f"{d}/units.csv")
assert units.set_index(["table", "column"]).loc[("points", "bad_debt_mean"), "unit"] == "quote"
print("pandas: ok", runs.shape, points.shape)
PY
"$py" - "$work/t1/export" "$work/pq" <<'PY' || fail "pandas/pyarrow cannot read the Parquet export"
import sys, json, pandas as pd, pyarrow.parquet as pq
d, d2 = sys.argv[1], sys.argv[2]
runs = pd.read_parquet(f"{d}/runs.parquet")
csv = pd.read_csv(f"{d}/runs.csv")
assert len(runs) == len(csv) == 12 * 30
for c in ["bad_debt", "liquidations", "has_cascade", "max_drawdown"]:
    assert (runs[c].fillna(-1) == csv[c].fillna(-1)).all(), c
long = pd.read_parquet(f"{d}/runs_long.parquet")
wide = long.pivot_table(index=["point", "run"], columns="metric", values="value")
assert (wide["bad_debt"].values == runs.sort_values(["point", "run"])["bad_debt"].values).all()
pl = pd.read_parquet(f"{d}/points_long.parquet")
rate = pl[(pl.metric == "has_cascade") & (pl.statistic == "rate")].set_index("point")["value"]
points = pd.read_parquet(f"{d}/points.parquet").set_index("point")
assert ((rate - points["has_cascade_rate"]).abs() < 1e-15).all()
f = pq.ParquetFile(f"{d}/runs.parquet")
meta = f.metadata.metadata
assert json.loads(meta[b"cascade.manifest"])["name"] == "quickstart"
assert f.schema_arrow.field("bad_debt").metadata[b"unit"] == b"quote"
assert (pd.read_parquet(f"{d2}/runs.parquet")["bad_debt"].fillna(-1) == runs["bad_debt"].fillna(-1)).all()
print("parquet: ok", runs.shape, long.shape, pl.shape)
PY

# A corrupted or truncated store file is a clear error (exit 2), never garbage.
cp -r "$work/t1" "$work/bad"
head -c 100 "$work/t1/runs/4.bin" > "$work/bad/runs/4.bin"
set +e; "$bin" export "$work/bad" --format csv --out "$work/bad-exp" >/dev/null 2> "$work/err.txt"; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "export of a truncated store: exit $rc"
grep -q "runs/4.bin: is truncated" "$work/err.txt" || { cat "$work/err.txt"; fail "truncation message"; }
[ ! -e "$work/bad-exp/runs.csv" ] || fail "half an export was written"
cp "$work/t1/runs/4.bin" "$work/bad/runs/4.bin"
printf '\xff\xff\xff' | dd of="$work/bad/runs/4.bin" bs=1 seek=200 conv=notrunc 2>/dev/null
set +e; "$bin" replay "$work/bad" --point 4 --run 0 >/dev/null 2> "$work/err.txt"; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "replay from a corrupted file: exit $rc"
grep -q "corrupted" "$work/err.txt" || { cat "$work/err.txt"; fail "corruption message"; }

# A broken sweep file: exit 2, the file, the key and the rule, nothing written.
printf 'scenario = "%s/configs/scenarios/gen1.toml"\nruns = 2\n[[axis]]\nkey = "engine.liquidation.bonus"\nvalues = [0.05, 0.5]\n' "$PWD" > "$work/broken.toml"
set +e; "$bin" sweep "$work/broken.toml" --out "$work/broken" >/dev/null 2> "$work/err.txt"; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "broken sweep: exit $rc"
grep -q "broken.toml" "$work/err.txt" && grep -q "engine.liquidation.bonus = 0.5" "$work/err.txt" || { cat "$work/err.txt"; fail "broken sweep message"; }
[ ! -e "$work/broken" ] || fail "a broken sweep wrote something"

echo "e2e-sweep: ok"
