#!/usr/bin/env bash
# Peer benchmark: dex-sim's compiled kernel against cascade's mirror scenarios, on one core,
# interleaved pairs, per path and model. See benches/peer/README.md.
#
#   benches/peer/run.sh [--pairs N] [--paths K] [--traders N] [--horizon STEPS] [--seed S]
#
# Environment:
#   DEXSIM_DIR   an existing dex-sim checkout (used as it is; its commit is printed). Without
#                it, dex-sim is cloned from GitHub at DEXSIM_COMMIT into benches/peer/.dex-sim.
#   CASCADE_BIN  the cascade binary to time (default: target/ci/cascade under
#                CARGO_TARGET_DIR or the repository, built with --profile ci if missing).
#   PEER_VENV    the Python virtual environment (default benches/peer/.venv), created with
#                requirements.txt if missing.
#   PEER_CORE    the core to pin to (default 0).
set -euo pipefail

DEXSIM_COMMIT=96233e9fb74bbd7b9fc5cacf8e6d75f07e86be61
DEXSIM_URL=https://github.com/pedroargento/dex-sim.git
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${PEER_VENV:-$here/.venv}"
core="${PEER_CORE:-0}"

die() { echo "benches/peer/run.sh: $*" >&2; exit 1; }

command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin to one core"
command -v python3 >/dev/null || die "python3 (3.10 or later) is needed for dex-sim"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "dex-sim needs Python 3.10 or later (found $(python3 --version))"

# dex-sim: a given checkout, or a clone at the pinned commit.
if [[ -n "${DEXSIM_DIR:-}" ]]; then
  dexsim="$DEXSIM_DIR"
  [[ -f "$dexsim/src/dex_sim/engine_numba_columnar.py" && -f "$dexsim/config/aes_vs_fxd_test.yaml" ]] \
    || die "DEXSIM_DIR=$dexsim is not a dex-sim checkout (no src/dex_sim/engine_numba_columnar.py or config/aes_vs_fxd_test.yaml)"
  have="$(git -C "$dexsim" rev-parse HEAD 2>/dev/null || echo unknown)"
  [[ "$have" == "$DEXSIM_COMMIT" ]] \
    || echo "warning: $dexsim is at $have, not the pinned $DEXSIM_COMMIT" >&2
else
  dexsim="$here/.dex-sim"
  if [[ ! -d "$dexsim/.git" ]]; then
    git clone --quiet "$DEXSIM_URL" "$dexsim" \
      || die "cannot clone $DEXSIM_URL (no network?); set DEXSIM_DIR to a checkout at $DEXSIM_COMMIT"
  fi
  git -C "$dexsim" checkout --quiet "$DEXSIM_COMMIT" \
    || die "$dexsim has no commit $DEXSIM_COMMIT"
fi

# cascade.
if [[ -n "${CASCADE_BIN:-}" ]]; then
  cascade="$CASCADE_BIN"
else
  cascade="${CARGO_TARGET_DIR:-$repo/target}/ci/cascade"
  if [[ ! -x "$cascade" ]]; then
    (cd "$repo" && cargo build --profile ci -p cascade-cli) || die "cannot build cascade"
  fi
fi
[[ -x "$cascade" ]] || die "no cascade binary at $cascade"

# Python for dex-sim, pinned.
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" || die "cannot create a virtual environment at $venv"
  "$venv/bin/pip" install --quiet -r "$here/requirements.txt" \
    || die "cannot install benches/peer/requirements.txt"
fi

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); cascade $(git -C "$repo" rev-parse --short HEAD) ($cascade);" \
  "dex-sim $(git -C "$dexsim" rev-parse --short HEAD 2>/dev/null || echo '?'); core $core of $(nproc)"
# One core for everything: the Python process, Numba, and cascade (which inherits the mask).
exec taskset -c "$core" env NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
  MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1 \
  "$venv/bin/python" "$here/compare.py" --dexsim "$dexsim" --cascade "$cascade" --repo "$repo" "$@"
