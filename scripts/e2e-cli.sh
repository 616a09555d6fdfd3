#!/usr/bin/env bash
# End-to-end check of the command line as a new user meets it: the README's main command,
# validation, traces, and clear errors (exit code 2, nothing written) for broken configs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p cascade-cli
bin=${CARGO_TARGET_DIR:-target}/release/cascade
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "e2e-cli: FAIL: $*" >&2; exit 1; }

# Every shipped scenario validates.
for f in configs/scenarios/*.toml; do
  "$bin" validate "$f" >/dev/null || fail "validate $f"
done

# A short run with a trace.
"$bin" run configs/scenarios/quickstart.toml --runs 2 --set chain.duration_s=3600 \
  --out "$work/q" --trace > "$work/q.out"
grep -q "max_drawdown" "$work/q.out" || fail "summary table lacks max_drawdown"
for f in runs.csv summary.csv trace.csv; do
  [ -s "$work/q/$f" ] || fail "missing $work/q/$f"
done
head -1 "$work/q/trace.csv" | grep -q "ETH_p_exo,ETH_p_ref,ETH_oracle" || fail "trace header"
# 2 runs x 300 blocks + header.
[ "$(wc -l < "$work/q/trace.csv")" -eq 601 ] || fail "trace rows: $(wc -l < "$work/q/trace.csv")"

# The same seed gives byte-identical outputs; refusing to overwrite without --force.
if "$bin" run configs/scenarios/quickstart.toml --runs 2 --set chain.duration_s=3600 \
  --out "$work/q" --trace >/dev/null 2>&1; then fail "overwrote without --force"; fi
"$bin" run configs/scenarios/quickstart.toml --runs 2 --set chain.duration_s=3600 \
  --out "$work/q2" --trace >/dev/null
cmp "$work/q/trace.csv" "$work/q2/trace.csv" || fail "same seed, different trace"
cmp "$work/q/runs.csv" "$work/q2/runs.csv" || fail "same seed, different metrics"
# Thread count never changes results: 1 thread against 2, on the engine scenario too.
for sc in quickstart gen1; do
  "$bin" run "configs/scenarios/$sc.toml" --runs 4 --set chain.duration_s=3600 --threads 1 \
    --out "$work/t1-$sc" --trace >/dev/null 2>&1 || fail "run $sc --threads 1"
  "$bin" run "configs/scenarios/$sc.toml" --runs 4 --set chain.duration_s=3600 --threads 2 \
    --out "$work/t2-$sc" --trace >/dev/null 2>&1 || fail "run $sc --threads 2"
  for f in runs.csv summary.csv trace.csv; do
    cmp "$work/t1-$sc/$f" "$work/t2-$sc/$f" || fail "$sc: $f differs between 1 and 2 threads"
  done
done

# run --out records how its numbers came about; a shrunk sweep; list, info, compare.
grep -q '"format": "cascade-run"' "$work/q/manifest.json" || fail "run --out wrote no manifest"
grep -q '"chain.duration_s=3600"' "$work/q/manifest.json" || fail "the run manifest lacks the override"
"$bin" sweep configs/sweeps/quickstart.toml --runs 2 --set chain.duration_s=3600 \
  --out "$work/res/s" --threads 2 >/dev/null 2>&1 || fail "sweep --runs --set"
grep -q '"runs": 2' "$work/res/s/manifest.json" || fail "sweep --runs not in the manifest"
cp -r "$work/q" "$work/res/q"
"$bin" list "$work/res" > "$work/list.out" || fail "list"
grep -Eq '^s +sweep +complete +12 x 2' "$work/list.out" || { cat "$work/list.out"; fail "list: the sweep"; }
grep -Eq '^q +run +complete +1 x 2' "$work/list.out" || { cat "$work/list.out"; fail "list: the run"; }
"$bin" info "$work/res/s" > "$work/info.out" || fail "info"
grep -q "overrides  chain.duration_s=3600" "$work/info.out" || fail "info: overrides"
"$bin" compare "$work/res/s" "$work/res/s" > "$work/cmp.out" || fail "compare"
head -1 "$work/cmp.out" | grep -q "^paired:" || fail "compare: paired"
for sh in bash zsh fish; do
  "$bin" completions "$sh" > "$work/compl.$sh" || fail "completions $sh"
  grep -q compare "$work/compl.$sh" || fail "completions $sh lack compare"
done

# Broken configurations: exit code 2, a message naming the file, the key and the rule,
# and nothing written.
expect_config_error() {
  local want="$1"; shift
  set +e
  "$bin" "$@" --out "$work/bad" > "$work/err.out" 2> "$work/err.txt"
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || { cat "$work/err.txt"; fail "exit code $rc (want 2) for: $*"; }
  grep -qF "$want" "$work/err.txt" || { cat "$work/err.txt"; fail "message lacks '$want' for: $*"; }
  [ ! -e "$work/bad" ] || fail "something was written for: $*"
}
expect_config_error "key \`assets[0].process.sigma\`: must be >= 0" \
  run configs/scenarios/quickstart.toml --set assets.0.process.sigma=-0.5
expect_config_error "key \`chain.block_time_s\`: must be > 0" \
  run configs/scenarios/quickstart.toml --set chain.block_time_s=0
expect_config_error "key \`agents[1].trade_prob\`: \`trade_prob\` (per block) was replaced by \`trade_per_hour\`" \
  run configs/scenarios/quickstart.toml --set agents.1.trade_prob=1.5
expect_config_error "configs/scenarios/quickstart.toml" \
  run configs/scenarios/quickstart.toml --set venues.amm.reserve_base=0
expect_config_error "no element is named \"nope\"" \
  run configs/scenarios/quickstart.toml --set venues.nope.fee=0.1
expect_config_error "is not a known key" \
  run configs/scenarios/quickstart.toml --set gas.gas_limt=1
printf '[[assets]]\nname = "ETH"\nprocess = { kind = "replay", path = "nowhere.csv", column = "close" }\n' > "$work/replay.toml"
expect_config_error "nowhere.csv" run "$work/replay.toml"
set +e; "$bin" validate "$work/missing.toml" 2> "$work/err.txt"; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "validate of a missing file: exit $rc"
grep -q "cannot be read" "$work/err.txt" || fail "missing file message"

echo "e2e-cli: ok"
