"""cascade from Python: margin-engine simulations as pandas DataFrames.

The functions call the same Rust code as the ``cascade`` command line, so every number is the
CLI's, bit for bit. Tables are built as pyarrow Tables and converted with ``to_pandas()``; pass
``arrow=True`` to get the pyarrow Tables themselves (``polars.from_arrow`` reads them as they are).

    import cascade
    runs = cascade.run("configs/scenarios/gen1.toml", runs=20, seed=7)
    res = cascade.sweep("configs/sweeps/quickstart.toml", runs=10)
    res.points[["engine_liquidation_bonus", "bad_debt_mean", "bad_debt_ci_lo", "bad_debt_ci_hi"]]

Column names are letters, digits and ``_``: an axis key such as ``engine.liquidation.bonus``
becomes ``engine_liquidation_bonus``; ``df.attrs["columns"]`` maps every column back to its key,
``df.attrs["units"]`` gives the unit of every metric and statistic column.
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from typing import Any, Iterable, Mapping, Optional, Union

import pyarrow as pa
import pyarrow.csv as pacsv

from . import _native
from ._native import ConfigError, StoreError, UsageError

__all__ = [
    "run",
    "sweep",
    "load",
    "replay",
    "validate",
    "metrics",
    "Results",
    "Replay",
    "ConfigError",
    "StoreError",
    "UsageError",
]
__version__ = _native.__version__

PathLike = Union[str, "os.PathLike[str]"]
Sets = Union[None, Mapping[str, Any], Iterable[str]]


def _toml_value(v: Any) -> str:
    """A Python value as the TOML text a ``--set`` override takes."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return v  # as on the command line: parsed as TOML when it is, else taken as text
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) if not isinstance(x, str) else json.dumps(x) for x in v) + "]"
    if isinstance(v, Mapping):
        parts = []
        for k, x in v.items():
            val = json.dumps(x) if isinstance(x, str) else _toml_value(x)
            parts.append(f"{k} = {val}")
        return "{ " + ", ".join(parts) + " }"
    raise TypeError(f"set: cannot write {type(v).__name__} {v!r} as a TOML value")


def _sets(set: Sets) -> list:
    """``{"key": value}`` or ``["key=value", ...]`` as ``key=value`` strings."""
    if set is None:
        return []
    if isinstance(set, Mapping):
        return [f"{k}={_toml_value(v)}" for k, v in set.items()]
    if isinstance(set, str):
        return [set]
    return [str(s) for s in set]


def _threads(threads: Optional[int]) -> int:
    return 0 if threads is None else int(threads)


_TYPES = {
    "float64": pa.float64(),
    "int64": pa.int64(),
    "uint64": pa.uint64(),
    "bool": pa.bool_(),
    "string": pa.string(),
}


def _table(columns: list, manifest: Optional[str] = None) -> pa.Table:
    """The native module's column dicts as a pyarrow Table (numbers from their raw buffers, so
    every float keeps its bits); each field carries its unit and source key as metadata."""
    arrays, fields = [], []
    for c in columns:
        t = _TYPES[c["type"]]
        if isinstance(c["values"], bytes):
            arr = pa.Array.from_buffers(t, c["rows"], [None, pa.py_buffer(c["values"])])
        else:
            arr = pa.array(c["values"], type=t)
        meta = {"source": c["source"]}
        if c["unit"] is not None:
            meta["unit"] = c["unit"]
        arrays.append(arr)
        fields.append(pa.field(c["name"], t, metadata=meta))
    meta = {"cascade.manifest": manifest} if manifest is not None else None
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=meta))


def _attrs(table: pa.Table) -> dict:
    units, cols = {}, {}
    for f in table.schema:
        m = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        cols[f.name] = m.get("source", f.name)
        if "unit" in m:
            units[f.name] = m["unit"]
    return {"units": units, "columns": cols}


def _frame(table: pa.Table, arrow: bool, **extra):
    if arrow:
        return table
    df = table.to_pandas()
    df.attrs.update(_attrs(table))
    df.attrs.update(extra)
    return df


def metrics(arrow: bool = False):
    """The metrics: ``metric``, ``unit``, ``definition`` (as ``cascade export``'s metrics table)."""
    return _frame(_table(_native.metrics()), arrow)


def run(
    scenario: PathLike,
    runs: Optional[int] = None,
    seed: Optional[int] = None,
    set: Sets = None,
    threads: Optional[int] = None,
    arrow: bool = False,
):
    """Run a scenario's seeded runs, like ``cascade run``; one row per run.

    Columns: ``point`` (0), ``run``, ``seed`` (the master seed: run ``r`` uses
    ``derive(seed, r)``) and every metric. ``runs`` and ``seed`` default to the scenario's
    ``run.runs`` and ``run.seed``; ``set`` takes overrides as ``{"key": value}`` or
    ``["key=value"]``; ``threads`` (default: one per core) does not change the results. The
    GIL is released while the runs compute.
    """
    name, used_seed, cols = _native.run(
        os.fspath(scenario), runs, seed, _sets(set), _threads(threads)
    )
    return _frame(_table(cols), arrow, scenario=name, seed=used_seed)


class Results:
    """A result store read into memory.

    ``runs``: one row per (point, run) with ``point``, ``run``, ``seed``, the axes and every
    metric. ``points``: one row per point with the columns of ``cascade export``'s points table
    (``<metric>_mean``, ``_se``, ``_ci_lo``/``_ci_hi`` (95% bootstrap interval of the mean),
    quantiles, rates with Wilson intervals, paired differences to the baseline). ``manifest``:
    the store's manifest.json as a dict. ``store``: its directory (a temporary one lives as long
    as this object). ``runs_table``/``points_table``: the same as pyarrow Tables. ``partial``:
    for a store read with ``load(..., partial=True)`` while incomplete, what it holds
    ("partial results: 2 of 3 points complete ..."); ``None`` for a complete store (also in
    ``attrs["partial"]`` of both frames).
    """

    def __init__(self, store: str, manifest: str, runs: list, points: list, partial=None):
        self.store = store
        self.manifest = json.loads(manifest)
        self.partial = partial
        self.runs_table = _table(runs, manifest)
        self.points_table = _table(points, manifest)
        extra = {"store": store, "seed": self.manifest["seed"], "axes": self.manifest["axes"],
                 "partial": partial}
        self.runs = _frame(self.runs_table, False, **extra)
        self.points = _frame(self.points_table, False, **extra)
        self._cleanup = None

    @property
    def axes(self) -> list:
        """The axis columns, in axis order (clean names)."""
        keys = self.manifest["axes"]
        cols = self.runs.attrs["columns"]
        return [next(n for n, k in cols.items() if k == key) for key in keys]

    def __iter__(self):  # runs, points = cascade.load(...)
        return iter((self.runs, self.points))

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"<cascade.Results {m['name']!r}: {len(m['points'])} point(s) x {m['runs']} run(s), "
            f"seed {m['seed']}, axes {m['axes']}, store {self.store!r}>"
        )


def load(store: PathLike, partial: bool = False) -> Results:
    """Read a result store (``cascade sweep``'s output directory).

    An incomplete store (a sweep still running, or interrupted) is refused unless ``partial``
    is true; then the points complete so far are read, aggregated as the finished sweep would
    aggregate them, and ``Results.partial`` says how many (as ``--partial`` on the CLI).
    """
    path = os.fspath(store)
    manifest, runs, points, note = _native.load(path, partial)
    return Results(path, manifest, runs, points, note)


def sweep(
    path: PathLike,
    runs: Optional[int] = None,
    set: Sets = None,
    out: Optional[PathLike] = None,
    threads: Optional[int] = None,
) -> Results:
    """Run a sweep file into a store and read it, like ``cascade sweep`` (without charts).

    ``runs`` replaces the file's runs per point; ``set`` adds overrides to its ``set`` list
    (applied to the base scenarios before the axes; both are recorded in the manifest).
    ``out``: the store directory (absent or empty); default a temporary directory removed when
    the returned object goes away. The GIL is released while the sweep computes.
    """
    cleanup = None
    if out is None:
        tmp = tempfile.mkdtemp(prefix="cascade-sweep-")
        dirpath = os.path.join(tmp, "store")
        cleanup = tmp
    else:
        dirpath = os.fspath(out)
    sets = _sets(set)
    command = ["python", "cascade.sweep", os.fspath(path)]
    if runs is not None:
        command.append(f"runs={runs}")
    command += [f"set={s}" for s in sets]
    try:
        _native.sweep(os.fspath(path), dirpath, runs, sets, _threads(threads), command)
        res = load(dirpath)
    except BaseException:
        if cleanup is not None:
            import shutil

            shutil.rmtree(cleanup, ignore_errors=True)
        raise
    if cleanup is not None:
        import shutil

        res._cleanup = weakref.finalize(res, shutil.rmtree, cleanup, True)
    return res


class Replay:
    """A replayed run: ``events`` (the event trace) and ``path`` (one row per block), the
    tables ``cascade replay`` writes as CSV."""

    def __init__(self, events, path, point: int, run: int):
        self.events = events
        self.path = path
        self.point = point
        self.run = run

    def __iter__(self):  # events, path = cascade.replay(...)
        return iter((self.events, self.path))

    def __repr__(self) -> str:
        return f"<cascade.Replay point {self.point}, run {self.run}: {len(self.events)} events, {len(self.path)} blocks>"


def replay(store: PathLike, point: int, run: int, arrow: bool = False) -> Replay:
    """Re-run run ``run`` of point ``point`` of a store with its full event trace; raises when
    it does not reproduce the stored row bit for bit. Writes nothing."""
    ev, path = _native.replay(os.fspath(store), int(point), int(run))
    read = lambda b: pacsv.read_csv(pa.BufferReader(b))  # noqa: E731
    return Replay(_frame(read(ev), arrow), _frame(read(path), arrow), point, run)


def validate(config: Union[PathLike, str], set: Sets = None, threads: Optional[int] = None) -> str:
    """Check a scenario or sweep file (or a scenario as TOML text) like ``cascade validate``.

    Returns the CLI's ``ok`` line; raises ``cascade.ConfigError`` (a ``ValueError``) whose
    message is the CLI's: the file, then each broken rule with its key. Text is recognised by a
    newline or an ``=`` in a string that is not an existing path. Memory is not checked (the
    CLI's ``--max-memory``); the work bound is.
    """
    sets = _sets(set)
    if isinstance(config, str) and not os.path.exists(config) and ("\n" in config or "=" in config):
        return _native.validate_text(config, sets, _threads(threads))
    return _native.validate_file(os.fspath(config), sets, _threads(threads))
