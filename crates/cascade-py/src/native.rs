//! The extension module `cascade._native` (feature `python`): thin PyO3 functions over the
//! crate's Rust API. Each releases the GIL while it simulates or reads (`Python::detach`, the
//! former `allow_threads`), turns failures into the package's exceptions, and hands tables over
//! as lists of column dicts whose numbers are little-endian byte strings (Arrow's layout); the
//! wrapper in python/cascade builds pyarrow Tables from them.

use crate::Failure;
use crate::frame::{Data, Frame};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::path::PathBuf;

create_exception!(
    cascade,
    ConfigError,
    PyValueError,
    "A configuration that cannot be used; the message is the CLI's (file, then each key and rule). Attributes: file, issues (a list of (key, rule))."
);
create_exception!(
    cascade,
    UsageError,
    PyValueError,
    "A request that cannot be done as asked (e.g. an output directory holding other files)."
);
create_exception!(
    cascade,
    StoreError,
    PyException,
    "A result store that cannot be read or written (missing, incomplete, damaged, locked)."
);

fn to_py(py: Python<'_>, f: Failure) -> PyErr {
    let msg = f.to_string();
    match f {
        Failure::Config(e) => {
            let err = ConfigError::new_err(msg);
            let v = err.value(py);
            let issues: Vec<(String, String)> = e
                .issues
                .iter()
                .map(|i| (i.key.clone(), i.rule.clone()))
                .collect();
            // Attributes are a convenience; the message carries everything.
            let _ = v.setattr("file", e.file.display().to_string());
            let _ = v.setattr("issues", issues);
            err
        }
        Failure::Usage(_) => UsageError::new_err(msg),
        Failure::Store(_) => StoreError::new_err(msg),
        Failure::Run(_) => PyRuntimeError::new_err(msg),
    }
}

/// A frame as a list of column dicts: name, source, unit, type, values (bytes for numbers, a
/// list for bool and text).
fn frame_to_py<'py>(py: Python<'py>, f: &Frame) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for c in &f.columns {
        let d = PyDict::new(py);
        d.set_item("name", &c.name)?;
        d.set_item("source", &c.source)?;
        d.set_item("unit", c.unit.as_deref())?;
        d.set_item("type", c.data.kind())?;
        d.set_item("rows", c.data.len())?;
        match (&c.data, c.data.le_bytes()) {
            (_, Some(b)) => d.set_item("values", PyBytes::new(py, &b))?,
            (Data::Bool(v), None) => d.set_item("values", v.clone())?,
            (Data::Text(v), None) => d.set_item("values", v.clone())?,
            _ => unreachable!("numbers have bytes"),
        }
        out.append(d)?;
    }
    Ok(out)
}

/// run(scenario, runs, seed, sets, threads) -> (name, seed, runs columns)
#[pyfunction]
#[pyo3(signature = (scenario, runs=None, seed=None, sets=Vec::new(), threads=0))]
fn run<'py>(
    py: Python<'py>,
    scenario: PathBuf,
    runs: Option<u64>,
    seed: Option<u64>,
    sets: Vec<String>,
    threads: usize,
) -> PyResult<(String, u64, Bound<'py, PyList>)> {
    let r = py.detach(|| crate::run_scenario(&scenario, runs, seed, &sets, threads));
    let (name, seed, frame) = r.map_err(|e| to_py(py, e))?;
    Ok((name, seed, frame_to_py(py, &frame)?))
}

/// sweep(path, out, runs, sets, threads, command_line) -> None (the store is written at out)
#[pyfunction]
#[pyo3(signature = (path, out, runs=None, sets=Vec::new(), threads=0, command_line=Vec::new()))]
fn sweep(
    py: Python<'_>,
    path: PathBuf,
    out: PathBuf,
    runs: Option<u64>,
    sets: Vec<String>,
    threads: usize,
    command_line: Vec<String>,
) -> PyResult<()> {
    let r = py.detach(|| -> Result<(), Failure> {
        let sw = crate::sweep::load_sweep_with(&path, runs, &sets)?;
        crate::sweep::run_into(&sw, &out, threads, command_line)?;
        Ok(())
    });
    r.map_err(|e| to_py(py, e))
}

/// load(store, partial=False) -> (manifest JSON, runs columns, points columns, partial note)
/// With `partial`, an interrupted or running sweep gives the points complete so far, and the
/// note says how many (`None` when the store is complete).
#[pyfunction]
#[pyo3(signature = (store, partial=false))]
#[allow(clippy::type_complexity)]
fn load<'py>(
    py: Python<'py>,
    store: PathBuf,
    partial: bool,
) -> PyResult<(
    String,
    Bound<'py, PyList>,
    Bound<'py, PyList>,
    Option<String>,
)> {
    let r = py.detach(|| -> Result<_, Failure> {
        let mut s = cascade_sim::store::Store::open(&store)?;
        if partial {
            s = s.allow_partial();
        }
        let frames = crate::tables::load(&s)?;
        let note = s.results()?.partial_note();
        let manifest = serde_json::to_string(&s.manifest).expect("plain data");
        Ok((manifest, frames, note))
    });
    let (manifest, frames, note) = r.map_err(|e| to_py(py, e))?;
    Ok((
        manifest,
        frame_to_py(py, &frames.runs)?,
        frame_to_py(py, &frames.points)?,
        note,
    ))
}

/// replay(store, point, run) -> (events CSV bytes, path CSV bytes)
#[pyfunction]
fn replay<'py>(
    py: Python<'py>,
    store: PathBuf,
    point: u64,
    run: u64,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let r = py.detach(|| -> Result<_, Failure> {
        let s = cascade_sim::store::Store::open(&store)?;
        cascade_sim::replay::replay_run(&s, point, run).map_err(Failure::Usage)
    });
    let rep = r.map_err(|e| to_py(py, e))?;
    Ok((
        PyBytes::new(py, &rep.events_csv),
        PyBytes::new(py, &rep.path_csv),
    ))
}

/// validate_file(path, sets, threads) -> the CLI's ok line
#[pyfunction]
#[pyo3(signature = (path, sets=Vec::new(), threads=0))]
fn validate_file(
    py: Python<'_>,
    path: PathBuf,
    sets: Vec<String>,
    threads: usize,
) -> PyResult<String> {
    py.detach(|| crate::check::validate_file(&path, &sets, threads))
        .map_err(|e| to_py(py, e))
}

/// validate_text(text, sets, threads) -> the ok line
#[pyfunction]
#[pyo3(signature = (text, sets=Vec::new(), threads=0))]
fn validate_text(
    py: Python<'_>,
    text: String,
    sets: Vec<String>,
    threads: usize,
) -> PyResult<String> {
    py.detach(|| crate::check::validate_text(&text, &sets, threads))
        .map_err(|e| to_py(py, e))
}

/// metrics() -> columns metric, unit, definition
#[pyfunction]
fn metrics(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    frame_to_py(py, &crate::tables::metrics_frame())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("GIT_COMMIT", crate::GIT_COMMIT)?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(replay, m)?)?;
    m.add_function(wrap_pyfunction!(validate_file, m)?)?;
    m.add_function(wrap_pyfunction!(validate_text, m)?)?;
    m.add_function(wrap_pyfunction!(metrics, m)?)?;
    Ok(())
}
