#!/usr/bin/env bash
# The Python package end to end: a fresh virtual environment, `pip install ./crates/cascade-py`
# (maturin from PyPI), the pytest tests (every number against the `cascade` binary, bit for
# bit) and examples/quickstart.ipynb executed by nbconvert. Any failure stops the script with a
# line saying which step failed.
#
# The wheel is built with the ci profile into $CARGO_TARGET_DIR (default: target/), so it
# shares the workspace's ci build; CASCADE_BIN (default: <target>/ci/cascade, built here if
# absent) is the binary the tests compare with.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export CASCADE_BIN=${CASCADE_BIN:-$CARGO_TARGET_DIR/ci/cascade}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cascade-py-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
step() { echo "py-e2e: $*"; }
fail() { echo "py-e2e: FAILED: $*" >&2; exit 1; }
t0=$(date +%s)

step "the cascade binary ($CASCADE_BIN)"
[ -x "$CASCADE_BIN" ] || cargo build -q --profile ci -p cascade-cli || fail "cargo build -p cascade-cli"

step "virtual environment in $TMP/venv"
"$PY" -m venv "$TMP/venv" || fail "$PY -m venv (is the venv module installed?)"
VPY="$TMP/venv/bin/python"
"$VPY" -m pip install -q --upgrade pip >/dev/null || fail "pip upgrade"
"$VPY" -m pip install -q pandas pyarrow pytest nbconvert ipykernel matplotlib ||
    fail "pip install of the test and notebook dependencies"
t1=$(date +%s)

step "pip install ./crates/cascade-py (maturin, --profile ci)"
MATURIN_PEP517_ARGS="--profile ci" "$VPY" -m pip install -q ./crates/cascade-py ||
    fail "pip install ./crates/cascade-py"
t2=$(date +%s)
(cd "$TMP" && "$VPY" -c "import cascade; print('py-e2e: imported cascade', cascade.__version__)") ||
    fail "import cascade from outside the repository"

step "pytest crates/cascade-py/tests"
"$VPY" -m pytest -q -p no:cacheprovider crates/cascade-py/tests || fail "pytest crates/cascade-py/tests"
t3=$(date +%s)

step "execute examples/quickstart.ipynb"
(cd examples && CASCADE_QUICKSTART_RUNS=${CASCADE_QUICKSTART_RUNS:-5} "$TMP/venv/bin/jupyter" nbconvert \
    --to notebook --execute --ExecutePreprocessor.timeout=600 \
    --ExecutePreprocessor.kernel_name=python3 --output-dir "$TMP" quickstart.ipynb) ||
    fail "jupyter nbconvert --execute examples/quickstart.ipynb"
"$VPY" - "$TMP/quickstart.ipynb" <<'PYEOF' || fail "the executed notebook has no figure"
import json, sys
nb = json.load(open(sys.argv[1]))
outs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
assert any("image/png" in o.get("data", {}) for o in outs), "no image/png output"
PYEOF
t4=$(date +%s)

echo "py-e2e: ok: venv and dependencies $((t1 - t0)) s, wheel $((t2 - t1)) s, pytest $((t3 - t2)) s, notebook $((t4 - t3)) s, total $((t4 - t0)) s"
