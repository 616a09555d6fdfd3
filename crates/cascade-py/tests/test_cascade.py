"""The Python package against the `cascade` binary: same numbers, bit for bit, same messages.

The binary is $CASCADE_BIN, else $CARGO_TARGET_DIR/ci/cascade or target/ci/cascade, else
`cargo run --profile ci -p cascade-cli --`.
"""

import json
import math
import os
import shutil
import struct
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import cascade

ROOT = Path(__file__).resolve().parents[3]
GEN1 = ROOT / "configs" / "scenarios" / "gen1.toml"
QUICKSTART = ROOT / "configs" / "sweeps" / "quickstart.toml"


def cli():
    if os.environ.get("CASCADE_BIN"):
        return [os.environ["CASCADE_BIN"]]
    for d in [os.environ.get("CARGO_TARGET_DIR"), str(ROOT / "target")]:
        if d and (Path(d) / "ci" / "cascade").is_file():
            return [str(Path(d) / "ci" / "cascade")]
    return ["cargo", "run", "-q", "--profile", "ci", "-p", "cascade-cli", "--"]


def run_cli(*args, ok=True):
    p = subprocess.run(cli() + [str(a) for a in args], cwd=ROOT, capture_output=True, text=True)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def read_csv(path):
    """A CSV as pandas through pyarrow's parser (exact for shortest round-trip floats)."""
    return pacsv.read_csv(path).to_pandas()


def bits(x):
    return struct.pack("<d", float(x))


def assert_same_bits(a: pd.Series, b: pd.Series, what):
    assert len(a) == len(b), what
    for i, (x, y) in enumerate(zip(a, b)):
        # An all-NaN CSV column reads as nulls.
        x, y = (math.nan if v is None else v for v in (x, y))
        # NaN is NaN whatever its payload in a CSV (written empty).
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        assert bits(x) == bits(y), f"{what}[{i}]: {x!r} != {y!r}"


def test_run_equals_the_cli_bit_for_bit(tmp_path):
    sets = {"engine.liquidation.bonus": 0.08}
    df = cascade.run(GEN1, runs=5, seed=11, set=sets, threads=2)
    run_cli("run", GEN1, "--runs", 5, "--seed", 11, "--set", "engine.liquidation.bonus=0.08",
            "--out", tmp_path / "out", "--threads", 1)
    ref = read_csv(tmp_path / "out" / "runs.csv")
    metrics = cascade.metrics()["metric"].tolist()
    assert list(df.columns) == ["point", "run", "seed", "run_seed"] + metrics
    assert (df["seed"] == 11).all() and (df["point"] == 0).all()
    assert df["run"].tolist() == ref["run"].tolist()
    for m in metrics:
        assert_same_bits(df[m], ref[m], m)
    assert df.attrs["units"]["bad_debt"] == "quote"
    # Another seed gives other numbers (the comparison can fail).
    other = cascade.run(GEN1, runs=5, seed=12, set=sets)
    assert not all(bits(x) == bits(y) for x, y in zip(other["max_drawdown"], df["max_drawdown"]))


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The quickstart sweep shrunk to 2 runs: by the CLI from a copy of the file with runs = 2,
    and by cascade.sweep(runs=2) from the file itself."""
    d = tmp_path_factory.mktemp("stores")
    text = QUICKSTART.read_text().replace("runs = 30", "runs = 2").replace(
        'scenario = "../scenarios/gen1.toml"', f'scenario = "{GEN1}"')
    small = d / "quickstart.toml"
    small.write_text(text)
    run_cli("sweep", small, "--out", d / "cli", "--threads", 2)
    run_cli("export", d / "cli", "--format", "csv")
    py = cascade.sweep(QUICKSTART, runs=2, out=d / "py", threads=2)
    return d, py


def test_sweep_equals_the_cli_store(stores):
    d, py = stores
    ref = cascade.load(d / "cli")
    # The config hashes differ only by how the base scenario is named (relative or absolute).
    pd.testing.assert_frame_equal(py.runs, ref.runs, check_exact=True)
    pd.testing.assert_frame_equal(py.points, ref.points, check_exact=True)
    # Runs and points equal the CLI's export, column by column (dotted keys renamed).
    for table, df in [("runs", py.runs), ("points", py.points)]:
        csv = read_csv(d / "cli" / "export" / f"{table}.csv")
        assert len(csv.columns) == len(df.columns) - len(
            [c for c in df.columns if c.endswith("_label")])
        for c in csv.columns:
            name = next(n for n, k in df.attrs["columns"].items() if k == c)
            if df[name].dtype == bool or c == "run_seed":
                assert df[name].tolist() == csv[c].tolist(), c
            else:
                assert_same_bits(df[name], csv[c], f"{table}.{c}")
    assert "engine_liquidation_bonus" in py.points.columns
    assert py.axes == ["engine_liquidation_bonus", "assets_ETH_impact_kappa"]
    assert len(py.runs) == 12 * 2 and (py.runs["seed"] == 7).all()
    assert py.manifest["runs"] == 2


def test_sweep_set_is_recorded_and_changes_results(stores, tmp_path):
    d, py = stores
    res = cascade.sweep(QUICKSTART, runs=2, set=["chain.duration_s=7200"], threads=2)
    assert "chain.duration_s=7200" in res.manifest["sweep"]["set"]
    assert res.manifest["config_hash"] != py.manifest["config_hash"]
    store = res.store
    assert os.path.isdir(store)
    del res
    import gc

    gc.collect()
    assert not os.path.exists(store), "the temporary store goes with its Results"


def test_replay_equals_the_cli_files(stores):
    d, py = stores
    events, path = cascade.replay(d / "cli", point=5, run=1)
    run_cli("replay", d / "cli", "--point", 5, "--run", 1)
    ref_ev = pacsv.read_csv(d / "cli" / "replays" / "p5-r1-events.csv").to_pandas()
    ref_path = pacsv.read_csv(d / "cli" / "replays" / "p5-r1-path.csv").to_pandas()
    pd.testing.assert_frame_equal(events, ref_ev, check_exact=True)
    pd.testing.assert_frame_equal(path, ref_path, check_exact=True)
    assert len(events) > 0 and (path["run"] == 1).all()
    with pytest.raises(cascade.UsageError, match="has runs 0 to 1"):
        cascade.replay(d / "cli", point=0, run=2)


def test_validate_carries_the_cli_message(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(GEN1.read_text() + "\n[metrics]\ncascade_threshold = -1\n")
    p = run_cli("validate", bad, ok=False)
    assert p.returncode == 2
    with pytest.raises(cascade.ConfigError) as e:
        cascade.validate(bad)
    assert isinstance(e.value, ValueError)
    assert "error: " + str(e.value) + "\n" == p.stderr
    assert e.value.file == str(bad) and e.value.issues
    assert cascade.validate(GEN1).startswith(f"{GEN1}: ok: scenario")
    with pytest.raises(cascade.ConfigError, match="problem"):
        cascade.run(GEN1, runs=1, set={"engine.liquidation.bonus": -3.0})


def test_the_gil_is_released_while_simulating():
    ticks = 0
    t = threading.Thread(target=lambda: cascade.run(GEN1, runs=16, threads=1))
    t.start()
    start = time.perf_counter()
    while t.is_alive():
        ticks += 1
    took = time.perf_counter() - start
    t.join()
    assert took > 0.2, "the run was too short to tell"
    # Holding the GIL, the native call would leave this loop a few switch intervals at most.
    assert ticks > 10_000, ticks


def test_tables_read_through_arrow():
    runs = cascade.run(GEN1, runs=2, arrow=True)
    assert isinstance(runs, pa.Table)
    assert runs.schema.field("bad_debt").metadata[b"unit"] == b"quote"
    m = cascade.metrics()
    assert {"metric", "unit", "definition"} <= set(m.columns)


def test_load_partial_reads_an_interrupted_store(stores, tmp_path):
    """An interrupted sweep (a point's runs file and the points file missing, status
    `running`) is refused without `partial` and read with it, marked partial."""
    d, _ = stores
    full = d / "cli"
    cut = tmp_path / "cut"
    (cut / "runs").mkdir(parents=True)
    n = len(json.loads((full / "manifest.json").read_text())["points"])
    for p in range(n):
        if p != 1:
            shutil.copy(full / "runs" / f"{p}.bin", cut / "runs" / f"{p}.bin")
    m = json.loads((full / "manifest.json").read_text())
    m["status"], m["finished"], m["files"] = "running", None, []
    (cut / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(Exception, match="--partial"):
        cascade.load(cut)
    res = cascade.load(cut, partial=True)
    assert res.partial.startswith(f"partial results: {n - 1} of {n} points complete")
    assert res.points.attrs["partial"] == res.partial
    assert sorted(res.points["point"]) == [p for p in range(n) if p != 1]
    ref = cascade.load(full)
    assert ref.partial is None
    # The complete points read the same as from the complete store.
    a = res.runs[res.runs["point"] == 0].reset_index(drop=True)
    b = ref.runs[ref.runs["point"] == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
