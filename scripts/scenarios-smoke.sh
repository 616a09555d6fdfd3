#!/usr/bin/env bash
# Every shipped configuration still runs: `cascade validate` on every scenario, sweep and
# benchmark configuration, `cascade run --runs 1` (full length) on every scenario and
# benchmark configuration, and every sweep shrunk to 1 run per point into a temporary
# directory. Exits non-zero at the first failure, naming the file. A few minutes on 2 cores.
# large_book (a million accounts for a day) runs with its book cut to 10,000 accounts
# (`smoke_sets`), its full day and crash included: at its shipped size it takes far longer than
# this smoke test's budget.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
cargo build --profile ci -p cascade-cli
bin="${CARGO_TARGET_DIR:-target}/ci/cascade"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "scenarios-smoke: FAIL: $*" >&2; exit 1; }
start=$SECONDS

# A shrunk sweep keeps its relative paths: configs/sweeps/ is copied, everything else in
# configs/ is linked beside it.
mkdir -p "$work/configs/sweeps"
for d in configs/*; do
  [ "$(basename "$d")" = sweeps ] || ln -s "$PWD/$d" "$work/configs/$(basename "$d")"
done

n=0
for f in configs/scenarios/*.toml configs/bench/*.toml configs/sweeps/*.toml; do
  "$bin" validate "$f" > "$work/out.txt" 2>&1 || { cat "$work/out.txt" >&2; fail "validate $f"; }
  n=$((n + 1))
done
echo "scenarios-smoke: $n configurations validate"

# Per-scenario overrides of the smoke run (reduced sizes), as `--set` arguments.
smoke_sets() {
  case "$1" in
    large_book) echo "--set agents.4.count=10000" ;;
  esac
}

n=0
for f in configs/scenarios/*.toml configs/bench/*.toml; do
  name=$(basename "$f" .toml)
  # shellcheck disable=SC2046
  "$bin" run "$f" --runs 1 $(smoke_sets "$name") --out "$work/run-$name" > "$work/out.txt" 2>&1 \
    || { cat "$work/out.txt" >&2; fail "run $f"; }
  [ -s "$work/run-$name/runs.csv" ] || fail "run $f wrote no runs.csv"
  n=$((n + 1))
done
echo "scenarios-smoke: $n scenarios run (1 run each)"

n=0
for f in configs/sweeps/*.toml; do
  name=$(basename "$f" .toml)
  small="$work/configs/sweeps/$name.toml"
  sed -E 's/^runs = [0-9_]+/runs = 1/' "$f" > "$small"
  grep -q '^runs = 1$' "$small" || fail "$f has no top-level runs = N line to shrink"
  "$bin" sweep "$small" --out "$work/sweep-$name" > "$work/out.txt" 2>&1 \
    || { cat "$work/out.txt" >&2; fail "sweep $f (1 run per point)"; }
  grep -q '"status": "complete"' "$work/sweep-$name/manifest.json" || fail "sweep $f did not complete"
  n=$((n + 1))
done
echo "scenarios-smoke: $n sweeps run (1 run per point) in $((SECONDS - start)) s"
