#!/usr/bin/env bash
# Reliability battery: the store's commands under bad inputs and faults, run as a new user
# would run them, on the quickstart sweep shrunk to 3 runs per point. Every case is one
# command with an expectation; after it, checks look for what must never happen. The figures
# at the end: cases tried, clear errors (a refusal with exit code 2, or an I/O failure, whose
# message names the file, key or rule), expected successes, panics (exit 101, a signal, or
# "panicked" on stderr), silent wrong results (a refusal expected but exit 0, or a store that
# differs from the uninterrupted one), data losses (a user's file or an input changed, or a
# half-written file left behind) and unclear failures (a wrong exit code or a message that
# names nothing). Exit 1 if any panic, silent wrong result, data loss or unclear failure.
#
# Adding a case: `run_case NAME EXPECT CMD...` with EXPECT one of
#   ok                 exit 0
#   refuse:REGEX       exit 2, stderr matches REGEX (grep -E)
#   error:REGEX        exit 1 or 2, stderr matches REGEX (I/O failures such as a full disk)
# then any checks: `same_store NAME A B`, `intact NAME DIR SNAPSHOT` (snapshot from `snap DIR`),
# `whole NAME DIR` (every file of a store whole, no temporary file left).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cargo build --profile ci -p cascade-cli || { echo "reliability: FAIL: build" >&2; exit 1; }
started=$SECONDS
bin=${CARGO_TARGET_DIR:-$repo/target}/ci/cascade
work=$(mktemp -d /tmp/cascade-reliability.XXXXXX)
mounted=""
cleanup() {
  [ -n "$mounted" ] && umount "$mounted" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

tried=0 clear=0 succeeded=0 panics=0 wrong=0 losses=0 unclear=0
skipped=()
problems=()
say() { echo "reliability: $*"; }
bad() { problems+=("$1"); say "  !! $1"; }

# run_case NAME EXPECT CMD...: run CMD, classify its outcome against EXPECT.
run_case() {
  local name=$1 expect=$2
  shift 2
  tried=$((tried + 1))
  local out=$work/case-$tried.out err=$work/case-$tried.err rc
  "$@" > "$out" 2> "$err"
  rc=$?
  local msg
  msg=$(grep -m1 -E '^(error|warning|thread)' "$err" | cut -c1-220)
  [ -n "$msg" ] || msg=$(head -c 220 "$err" | head -1)
  if [ "$rc" -eq 101 ] || [ "$rc" -ge 128 ] || grep -q "panicked" "$err"; then
    panics=$((panics + 1))
    bad "PANIC in '$name' (exit $rc): $(grep -m1 panicked "$err")"
    return
  fi
  case $expect in
    ok)
      if [ "$rc" -eq 0 ]; then
        succeeded=$((succeeded + 1))
        say "ok      $name"
      else
        unclear=$((unclear + 1))
        bad "'$name' should succeed, exit $rc: $msg"
      fi
      ;;
    refuse:* | error:*)
      local pat=${expect#*:} kind=${expect%%:*}
      if [ "$rc" -eq 0 ]; then
        wrong=$((wrong + 1))
        bad "SILENT WRONG RESULT: '$name' was accepted (exit 0)"
      elif { [ "$rc" -eq 2 ] || { [ "$kind" = error ] && [ "$rc" -eq 1 ]; }; } \
        && tr '\n' ' ' < "$err" | grep -qE -- "$pat"; then
        clear=$((clear + 1))
        if [ "$kind" = refuse ]; then say "refused $name (exit $rc): $msg"; else say "failed  $name (exit $rc): $msg"; fi
      else
        unclear=$((unclear + 1))
        bad "unclear failure in '$name' (exit $rc, wanted /$pat/): $msg"
      fi
      ;;
    *) echo "reliability: bad expectation $expect" >&2; exit 1 ;;
  esac
}

# Checks after a case.
snap() { (cd "$1" && find . -type f ! -name cascade.lock -print0 | sort -z | xargs -0 -r sha256sum); }
intact() {
  if ! diff -q <(snap "$2") "$3" > /dev/null; then
    losses=$((losses + 1))
    bad "DATA LOSS after '$1': $2 changed: $(diff <(snap "$2") "$3" | head -3 | tr '\n' ' ')"
  fi
}
same_store() {
  local why
  if ! why=$(python3 "$repo/scripts/same-store.py" "$2" "$3" 2>&1); then
    wrong=$((wrong + 1))
    bad "WRONG RESULT after '$1': $2 differs from $3: $why"
  fi
}
holds() { # holds NAME FILE TEXT: a user's file still holds its text
  if [ "$(cat "$2" 2>/dev/null)" != "$3" ]; then
    losses=$((losses + 1))
    bad "DATA LOSS after '$1': the user's $2 was changed or removed"
  fi
}
absent() {
  if [ -e "$2" ]; then
    wrong=$((wrong + 1))
    bad "after '$1': $2 was written"
  fi
}
# whole NAME DIR [allow-tmp]: every file a store holds is whole (binary headers and checksums,
# JSON, HTML, PNG and SVG endings) and, unless allowed, no cascade temporary file is left.
whole() {
  local why
  if ! why=$(python3 - "$2" "${3:-}" <<'PY'
import json, os, re, struct, sys
d, allow_tmp = sys.argv[1], sys.argv[2] == "allow-tmp"
bad = []
def fnv(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
for root, _, files in os.walk(d):
    for f in files:
        p = os.path.join(root, f)
        b = open(p, "rb").read()
        if re.search(r"\.cascade-\d+\.tmp$", f):
            if not allow_tmp:
                bad.append(f"{p}: temporary file left behind")
        elif f.endswith(".bin"):
            if len(b) < 56 or b[:8] != b"CASCADE\0":
                bad.append(f"{p}: no header")
                continue
            n, s = struct.unpack("<QQ", b[40:56])
            if len(b) != 56 + n or fnv(b[56:]) != s:
                bad.append(f"{p}: half-written")
        elif f.endswith(".json"):
            try:
                json.loads(b)
            except ValueError:
                bad.append(f"{p}: half-written JSON")
        elif f.endswith(".html") and not b.rstrip().endswith(b"</html>"):
            bad.append(f"{p}: half-written HTML")
        elif f.endswith(".png") and not b.endswith(b"IEND\xaeB`\x82"):
            bad.append(f"{p}: half-written PNG")
        elif f.endswith(".svg") and not b.rstrip().endswith(b"</svg>"):
            bad.append(f"{p}: half-written SVG")
if bad:
    sys.exit("; ".join(bad))
PY
  ); then
    losses=$((losses + 1))
    bad "HALF-WRITTEN after '$1': $why"
  fi
}
# Wait until a file matching the find expression exists (at most 60 s) while PID runs.
wait_for() { # wait_for PID COUNT DIR FIND-ARGS...
  local pid=$1 want=$2 dir=$3 n
  shift 3
  for _ in $(seq 1 1200); do
    n=$(find "$dir" "$@" 2> /dev/null | wc -l)
    [ "$n" -ge "$want" ] && return 0
    kill -0 "$pid" 2> /dev/null || return 1
    sleep 0.05
  done
  return 1
}

# The quickstart sweep with 3 runs per point (seed 7), and the same shape with seed 8.
mkdir -p "$work/cwd"
cd "$work/cwd"
q7=$work/q7.toml
q8=$work/q8.toml
sed -e 's/^runs = 30/runs = 3/' -e "s#\"../scenarios/gen1.toml\"#\"$repo/configs/scenarios/gen1.toml\"#" \
  "$repo/configs/sweeps/quickstart.toml" > "$q7"
sed 's/^seed = 7/seed = 8/' "$q7" > "$q8"
grep -q '^runs = 3$' "$q7" && grep -q '^seed = 8$' "$q8" || { echo "reliability: FAIL: cannot shrink the quickstart sweep" >&2; exit 1; }
R=$work/ref
run_case "sweep (the reference store, seed 7)" ok "$bin" sweep "$q7" --out "$R"
run_case "sweep (a same-shaped store, seed 8)" ok "$bin" sweep "$q8" --out "$work/f8"
[ -f "$R/points.bin" ] && [ -f "$work/f8/points.bin" ] || { echo "reliability: FAIL: the reference sweeps failed; nothing to test" >&2; exit 1; }
whole "reference sweep" "$R"
snap "$R" > "$work/ref.snap"

say "--- paths"
sed 's/^name = "quickstart"/name = "..\/escape"/' "$q7" > "$work/escape.toml"
run_case "sweep name \"../escape\"" 'refuse:escape.toml.*name.*plain directory name' "$bin" sweep "$work/escape.toml"
absent "sweep name ../escape" "$work/escape"
sed 's#^name = "quickstart"#name = "/tmp/abs"#' "$q7" > "$work/abs.toml"
run_case "sweep name \"/tmp/abs\"" 'refuse:abs.toml.*name.*plain directory name' "$bin" sweep "$work/abs.toml"
run_case "sweep --out ../rel (the user's own path)" ok "$bin" sweep "$q7" --out ../rel
same_store "sweep --out ../rel" "$R" "$work/rel"
echo "a file" > "$work/afile"
run_case "sweep --out an existing file" 'refuse:afile.*not a directory' "$bin" sweep "$q7" --out "$work/afile"
run_case "export --out below a file" 'refuse:afile' "$bin" export "$R" --format csv --out "$work/afile/x"
run_case "replay --trace-out outside the store" ok "$bin" replay "$R" --point 2 --run 1 --trace-out "$work/p2r1.csv"
intact "replay --trace-out outside the store" "$R" "$work/ref.snap"
run_case "replay --trace-out the store's manifest.json" 'refuse:manifest.json.*data files' "$bin" replay "$R" --point 2 --run 1 --trace-out "$R/manifest.json"
run_case "replay --trace-out a runs file" 'refuse:runs/0.bin.*data files' "$bin" replay "$R" --point 0 --run 0 --trace-out "$R/runs/0.bin"
intact "replay into the store's own files" "$R" "$work/ref.snap"
run_case "export a directory that is no store" 'refuse:manifest.json.*not found' "$bin" export "$work/cwd" --format csv

say "--- overwriting"
run_case "sweep into a finished store without --force" 'refuse:already holds results.*--force' "$bin" sweep "$q7" --out "$R"
intact "sweep into a finished store" "$R" "$work/ref.snap"
run_case "sweep --resume into a store of another seed" 'refuse:another configuration' "$bin" sweep "$q8" --out "$R" --resume
intact "resume with another seed" "$R" "$work/ref.snap"

say "--- a user's files"
U=$work/user
mkdir -p "$U/charts"
echo "my report" > "$U/report.html"
echo "my chart" > "$U/charts/ccdf.png"
echo "my notes" > "$U/notes.tmp"
snap "$U" > "$work/user.snap"
run_case "sweep into a user's directory" 'refuse:user.*holds no cascade store' "$bin" sweep "$q7" --out "$U"
run_case "sweep --force into a user's directory" 'refuse:user.*holds no cascade store' "$bin" sweep "$q7" --out "$U" --force
run_case "sweep --resume into a user's directory" 'refuse:user.*no sweep to resume|holds no cascade store' "$bin" sweep "$q7" --out "$U" --resume
run_case "report on a user's directory" 'refuse:user/manifest.json.*not found' "$bin" report "$U"
intact "commands on a user's directory" "$U" "$work/user.snap"
[ ! -e "$U/cascade.lock" ] || { losses=$((losses + 1)); bad "a lock file was added to the user's directory"; }
S=$work/mixed
cp -a "$R" "$S"
mkdir -p "$S/export"
echo "mine" > "$S/charts/mine.png"
echo "mine" > "$S/export/analysis.py"
echo "mine" > "$S/notes.tmp"
echo "mine" > "$S/runs/notes.txt"
run_case "sweep --force over a store holding a user's files" ok "$bin" sweep "$q7" --out "$S" --force
for f in charts/mine.png export/analysis.py notes.tmp runs/notes.txt; do
  holds "sweep --force over a store holding a user's files" "$S/$f" "mine"
done
same_store "sweep --force over a store" "$R" "$S"
run_case "plot --out over a user's file in the store" 'refuse:charts/mine.png.*cascade report' "$bin" plot "$S" --out "$S/charts/mine.png"
holds "plot --out over a user's file" "$S/charts/mine.png" "mine"

say "--- foreign data files (copied from the seed-8 store)"
X=$work/xruns
cp -a "$R" "$X"
cp "$work/f8/runs/5.bin" "$X/runs/5.bin"
foreign='refuse:runs/5.bin.*belongs to another store'
run_case "export with a foreign runs/5.bin" "$foreign" "$bin" export "$X" --format csv
run_case "report with a foreign runs/5.bin" "$foreign" "$bin" report "$X"
run_case "plot --kind ccdf with a foreign runs/5.bin" "$foreign" "$bin" plot "$X" --kind ccdf --points 5
run_case "plot --kind path with a foreign runs/5.bin" "$foreign" "$bin" plot "$X" --kind path --point 5 --run 0
run_case "replay with a foreign runs/5.bin" "$foreign" "$bin" replay "$X" --point 5 --run 0
absent "export with a foreign runs file" "$X/export/runs.csv"
run_case "sweep --resume with a foreign runs/5.bin" ok "$bin" sweep "$q7" --out "$X" --resume
grep -q "runs/5.bin.*recomputed" "$work/case-$tried.err" || { unclear=$((unclear + 1)); bad "resume did not say it recomputed runs/5.bin"; }
same_store "resume recomputes a foreign runs file" "$R" "$X"
Y=$work/xpoints
cp -a "$R" "$Y"
cp "$work/f8/points.bin" "$Y/points.bin"
foreign='refuse:points.bin.*belongs to another store'
run_case "export with a foreign points.bin" "$foreign" "$bin" export "$Y" --format json
run_case "report with a foreign points.bin" "$foreign" "$bin" report "$Y"
run_case "plot with a foreign points.bin" "$foreign" "$bin" plot "$Y"
run_case "replay with a foreign points.bin (reads the runs file)" ok "$bin" replay "$Y" --point 3 --run 2
run_case "sweep --resume with a foreign points.bin" ok "$bin" sweep "$q7" --out "$Y" --resume
same_store "resume recomputes a foreign points.bin" "$R" "$Y"
T=$work/trunc
cp -a "$R" "$T"
head -c 70 "$R/runs/4.bin" > "$T/runs/4.bin"
run_case "export with a truncated runs/4.bin" 'refuse:runs/4.bin.*truncated' "$bin" export "$T" --format csv
run_case "sweep --resume with a truncated runs/4.bin" ok "$bin" sweep "$q7" --out "$T" --resume
same_store "resume recomputes a truncated runs file" "$R" "$T"

say "--- merge"
SH=$work/shards
for i in 0 1 2; do
  run_case "sweep --shard $i/3" ok "$bin" sweep "$q7" --shard "$i/3" --out "$SH/$i"
done
run_case "sweep --shard 1/3 (seed 8)" ok "$bin" sweep "$q8" --shard 1/3 --out "$work/f8s1"
snap "$SH" > "$work/shards.snap"
run_case "merge s0 s1 s2 --out s0 --force" "refuse:--out .*is the shard store .*one of the merge's inputs" "$bin" merge "$SH/0" "$SH/1" "$SH/2" --out "$SH/0" --force
run_case "merge --out the shards' parent --force" "refuse:contains the shard store" "$bin" merge "$SH/0" "$SH/1" "$SH/2" --out "$SH" --force
run_case "merge --out inside a shard" "refuse:lies inside the shard store" "$bin" merge "$SH/0" "$SH/1" "$SH/2" --out "$SH/1/merged"
run_case "merge --out s0/../s0 (the same path spelled otherwise)" "refuse:is the shard store" "$bin" merge "$SH/0" "$SH/1" "$SH/2" --out "$SH/1/../0" --force
intact "merge into an input" "$SH" "$work/shards.snap"
cp -a "$SH/1" "$work/s1foreign"
p=$(find "$work/f8s1/runs" -name '*.bin' | head -1)
cp "$p" "$work/s1foreign/runs/$(basename "$p")"
run_case "merge with a foreign runs file in shard 1" "refuse:runs/$(basename "$p").*belongs to another store" "$bin" merge "$SH/0" "$work/s1foreign" "$SH/2" --out "$work/merged"
absent "merge with a foreign shard file" "$work/merged"
run_case "merge with the seed-8 shard 1" "refuse:another sweep configuration" "$bin" merge "$SH/0" "$work/f8s1" "$SH/2" --out "$work/merged"
run_case "merge into a user's directory" 'refuse:user.*holds no cascade store' "$bin" merge "$SH/0" "$SH/1" "$SH/2" --out "$U"
intact "merge into a user's directory" "$U" "$work/user.snap"
run_case "merge s0 s1 s2 --out merged" ok "$bin" merge "$SH/0" "$SH/1" "$SH/2" --out "$work/merged"
same_store "merge" "$R" "$work/merged"
snap "$work/merged" > "$work/merged.snap"
run_case "merge into a finished store without --force" 'refuse:already holds results.*--force' "$bin" merge "$SH/0" "$SH/1" "$SH/2" --out "$work/merged"
intact "merge without --force" "$work/merged" "$work/merged.snap"
run_case "merge --force into the merged store" ok "$bin" merge "$SH/0" "$SH/1" "$SH/2" --out "$work/merged" --force
same_store "merge --force" "$R" "$work/merged"
intact "merges" "$SH" "$work/shards.snap"

say "--- concurrent writers"
# concurrent PID NAME EXPECT CMD...: a case run while the sweep PID holds its store's lock.
concurrent() {
  local pid=$1
  shift
  if kill -0 "$pid" 2> /dev/null; then run_case "$@"; else skipped+=("$1: the first sweep finished too early"); fi
}
C=$work/conc
"$bin" sweep "$q7" --out "$C" --threads 1 > "$work/conc.out" 2>&1 &
cpid=$!
if wait_for "$cpid" 1 "$C" -maxdepth 1 -name manifest.json; then
  busy='refuse:in use by another cascade process: pid [0-9]+ on host .* running `.*sweep'
  concurrent "$cpid" "a second sweep (seed 8, --force) during a sweep" "$busy" "$bin" sweep "$q8" --out "$C" --force
  concurrent "$cpid" "sweep --resume during a sweep" "$busy" "$bin" sweep "$q7" --out "$C" --resume
  concurrent "$cpid" "sweep --shard during a sweep" "$busy" "$bin" sweep "$q7" --shard 0/3 --out "$C" --force
  concurrent "$cpid" "report during a sweep" "$busy" "$bin" report "$C"
  concurrent "$cpid" "export during a sweep" "$busy" "$bin" export "$C" --format csv
  concurrent "$cpid" "merge --force into a store being swept" "$busy" "$bin" merge "$SH/0" "$SH/1" "$SH/2" --out "$C" --force
  wait "$cpid"
  crc=$?
  [ "$crc" -eq 0 ] || { unclear=$((unclear + 1)); bad "the first sweep failed (exit $crc): $(tail -3 "$work/conc.out")"; }
  same_store "concurrent writers" "$R" "$C"
  whole "concurrent writers" "$C"
else
  wait "$cpid"
  skipped+=("concurrent writers: the sweep never started")
fi
say "--- kill -9 and resume"
for n in 1 3 6; do
  K=$work/kill$n
  "$bin" sweep "$q7" --out "$K" --threads 1 > /dev/null 2>&1 &
  kpid=$!
  if wait_for "$kpid" "$n" "$K/runs" -name '*.bin'; then
    kill -9 "$kpid" 2> /dev/null
    wait "$kpid" 2> /dev/null
    got=$(find "$K/runs" -name '*.bin' | wc -l)
    whole "kill -9 after $got runs files" "$K" allow-tmp
    [ ! -e "$K/points.bin" ] || { wrong=$((wrong + 1)); bad "points.bin written before the end (kill after $got)"; }
    echo "mine" > "$K/runs/notes.tmp"
    run_case "sweep --resume after kill -9 at $got runs files" ok "$bin" sweep "$q7" --out "$K" --resume
    same_store "resume after kill -9 at $got runs files" "$R" "$K"
    whole "resume after kill -9 at $got runs files" "$K"
    holds "resume after kill -9" "$K/runs/notes.tmp" "mine"
  else
    wait "$kpid" 2> /dev/null
    skipped+=("kill -9 after $n runs files: the sweep finished first")
  fi
done
K=$work/killreport
"$bin" sweep "$q7" --out "$K" --threads 1 > /dev/null 2>&1 &
kpid=$!
if wait_for "$kpid" 1 "$K" -maxdepth 1 -name points.bin; then
  sleep 0.3
  kill -9 "$kpid" 2> /dev/null
  wait "$kpid" 2> /dev/null
  whole "kill -9 while charting" "$K" allow-tmp
  run_case "sweep --resume after kill -9 while charting" ok "$bin" sweep "$q7" --out "$K" --resume
  same_store "resume after kill -9 while charting" "$R" "$K"
  whole "resume after kill -9 while charting" "$K"
  [ -s "$K/report.html" ] || { wrong=$((wrong + 1)); bad "no report.html after the resume"; }
else
  wait "$kpid" 2> /dev/null
  skipped+=("kill -9 while charting: the sweep finished first")
fi

say "--- configurations under a memory limit (ulimit -v 4 GiB)"
# limited CMD...: CMD with its address space limited, as on a shared login node; a size the
# machine cannot hold must be refused from its estimate (exit 2), never die in the allocator.
limited() { (ulimit -v $((4 * 1024 * 1024)) && exec "$@"); }
qs=$repo/configs/scenarios/quickstart.toml
cfg() { # cfg NAME FROM TO: the quickstart scenario with FROM replaced by TO
  sed "0,/$2/s//$3/" "$qs" > "$work/$1.toml"
  ! cmp -s "$qs" "$work/$1.toml" || { echo "reliability: FAIL: cannot edit $qs for $1" >&2; exit 1; }
}
cfg count9 '^count = 20$' 'count = 1000000000'
cfg levels9 '^levels = 10$' 'levels = 1000000000'
cfg price308 '^price = 2000.0$' 'price = 1e308'
cfg count25 '^count = 20$' 'count = 2.5'
cfg bogus '^\[chain\]$' '[chain]\nbogus = 1'
cfg typed '^block_time_s = 12.0$' 'block_time_s = "twelve"'
sed 's/^runs = 3$/runs = 1000000000000/' "$q7" > "$work/runs12.toml"
sed '0,/^\[\[axis\]\]$/s//sampling = "sobol"\npoints = 4\n[[axis]]/' "$q7" > "$work/sobol.toml"
run_case "validate count = 10^9" "refuse:key .agents\[1\]\.count.: needs about .* of memory" limited "$bin" validate "$work/count9.toml"
run_case "run count = 10^9" "refuse:key .agents\[1\]\.count.: needs about" limited "$bin" run "$work/count9.toml" --runs 2
run_case "validate levels = 10^9" "refuse:key .venues\[1\]\.levels.: needs about" limited "$bin" validate "$work/levels9.toml"
run_case "run levels = 10^9" "refuse:key .venues\[1\]\.levels.: needs about" limited "$bin" run "$work/levels9.toml" --runs 2
run_case "run --runs 10^12" "refuse:key .--runs.: needs about" limited "$bin" run "$qs" --runs 1000000000000
run_case "validate a sweep with runs = 10^12" "refuse:key .runs.: needs about" limited "$bin" validate "$work/runs12.toml"
run_case "sweep runs = 10^12" "refuse:key .runs.: needs about" limited "$bin" sweep "$work/runs12.toml" --out "$work/runs12"
absent "sweep runs = 10^12 (refused before its store is made)" "$work/runs12"
run_case "run --set agents.1.count=10^9" "refuse:agents\[1\]\.count.*needs about" limited "$bin" run "$qs" --set agents.1.count=1000000000 --runs 1
run_case "validate --max-memory 1M" "refuse:more than the 1.0 MiB allowed \(--max-memory 1M\)" limited "$bin" validate "$qs" --max-memory 1M
run_case "run --max-memory twelve" "refuse:--max-memory .twelve. is not a size" limited "$bin" run "$qs" --max-memory twelve
run_case "validate price = 1e308" "refuse:key .assets\[0\]\.price.: must be between 1e-6 and 1e9 .*got 1e308" limited "$bin" validate "$work/price308.toml"
run_case "run price = 1e308" "refuse:key .assets\[0\]\.price.: must be between" limited "$bin" run "$work/price308.toml" --runs 1
run_case "count = 2.5" "refuse:key .agents\[1\]\.count.: must be an integer between 0 and 4294967295 \(got 2.5\)" limited "$bin" validate "$work/count25.toml"
run_case "an unknown key" "refuse:key .chain\.bogus.: is not a known key" limited "$bin" validate "$work/bogus.toml"
grep -q "bogus\.bogus" "$work/case-$tried.err" && { unclear=$((unclear + 1)); bad "the unknown key is named twice"; }
run_case "a string for a number" "refuse:key .chain\.block_time_s.: must be a number \(got the string .twelve.\)" limited "$bin" validate "$work/typed.toml"
run_case "sampling = \"sobol\"" "refuse:key .sampling.: .sobol. is not one of the allowed values: grid, random, latin_hypercube" limited "$bin" validate "$work/sobol.toml"

say "--- disk full"
# A 32 MiB disk: room for a sweep with its report once the filler is gone (each chart SVG
# embeds the bundled font, about 1 MB).
if [ "$(id -u)" -eq 0 ] && mkdir -p "$work/full" && mount -t tmpfs -o size=32m tmpfs "$work/full" 2> /dev/null; then
  mounted=$work/full
  fill_to() { # leave about $1 KiB free
    rm -f "$work/full/filler"
    local avail
    avail=$(df -k --output=avail "$work/full" | tail -1 | tr -d ' ')
    [ "$avail" -gt "$1" ] && dd if=/dev/zero of="$work/full/filler" bs=1k count=$((avail - $1)) 2> /dev/null
  }
  fill_to 1000
  run_case "sweep onto a disk that fills while charting (1 MiB free)" 'error:No space left on device' "$bin" sweep "$q7" --out "$work/full/s"
  grep -qE "full/s/(charts/|report.html)" "$work/case-$tried.err" || { unclear=$((unclear + 1)); bad "the disk-full error names no file"; }
  whole "disk full while charting" "$work/full/s"
  rm -rf "$work/full/s"
  fill_to 24
  run_case "sweep onto a disk with 24 KiB free" 'error:full/s/(runs/[0-9]+.bin|points.bin|manifest.json).*No space left on device' "$bin" sweep "$q7" --out "$work/full/s"
  whole "disk full while writing data" "$work/full/s"
  rm -f "$work/full/filler"
  run_case "sweep --resume once there is room" ok "$bin" sweep "$q7" --out "$work/full/s" --resume
  same_store "resume after a full disk" "$R" "$work/full/s"
  whole "resume after a full disk" "$work/full/s"
else
  skipped+=("disk full: needs root to mount a tmpfs")
fi

cd "$repo"
say "--- summary"
say "cases tried: $tried"
say "clear errors: $clear (exit 2 naming the file, key or rule; a full disk: exit 1 naming the file)"
say "expected successes: $succeeded"
say "panics: $panics"
say "silent wrong results: $wrong"
say "data losses: $losses"
say "unclear failures: $unclear"
for s in "${skipped[@]}"; do say "skipped: $s"; done
say "time: $((SECONDS - started)) s (after the build)"
if [ "$panics" -gt 0 ] || [ "$wrong" -gt 0 ] || [ "$losses" -gt 0 ] || [ "$unclear" -gt 0 ]; then
  for p in "${problems[@]}"; do echo "reliability: FAIL: $p" >&2; done
  exit 1
fi
say "ok"
