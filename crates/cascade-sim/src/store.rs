//! The result store: one directory per sweep that anyone can reproduce and inspect.
//!
//! ```text
//! <dir>/manifest.json     what was run: resolved base config, axes and points, hashes, seed,
//!                         store id, version, git commit, command line, times, status, and
//!                         every file the store's commands wrote (`files`)
//! <dir>/cascade.lock      the writers' lock ([`crate::lock`])
//! <dir>/runs/<p>.bin      point p's per-run metric rows (written when the point completes)
//! <dir>/points.bin        every point's parameters and aggregate (written at the end)
//! ```
//!
//! Binary files go through [`crate::codec`] (magic, format version, schema hash, the store's
//! identity, checksum); every file is written under a temporary name and renamed, so an
//! interrupted sweep leaves only whole files and `--resume` can finish it without redoing
//! finished points. A store's identity is its config hash and its store id, derived from the
//! config hash and the shard layout (see [`Manifest::derive_store_id`]): every reader checks a
//! data file's identity against the manifest, so a file copied from another sweep or shard is
//! refused, while a merged store gets the same identity, and the same bytes, as the unsharded
//! sweep. The data files depend only on the configuration and the seed, never on thread count,
//! timing or interruptions; only the manifest's invocation fields (`command_line`, `threads`,
//! `started`, `finished`, `resumed`) and its list of written files (`files`) record how
//! particular invocations went.
//!
//! Every file a command writes into the store is listed in `files` before it is written
//! ([`Store::claim`]); a path that exists but is not listed is someone else's, and is neither
//! overwritten nor, by `--force`, removed.

use crate::aggregate::PointAgg;
use crate::codec::{self, DecodeError, FileKind, Identity};
use crate::fsutil::{resolve, write_atomic};
use crate::load::{ConfigError, Scenario};
use crate::lock::{LOCK_FILE, StoreLock};
use crate::metrics::{METRICS, MetricRow, schema_hash};
use crate::results::ResultSet;
use crate::sweep::{self, Param, Sampling, Sweep};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};
use toml::Table;

/// The `format` field of every manifest.
pub const MANIFEST_FORMAT: &str = "cascade-results";
/// The manifest's layout version (2: `store_id` and `files`).
pub const MANIFEST_VERSION: u32 = 2;

/// A problem with a store: the file and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreError {
    pub path: PathBuf,
    pub msg: String,
}

impl StoreError {
    pub fn new(path: &Path, msg: impl Into<String>) -> StoreError {
        StoreError {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.msg)
    }
}

impl std::error::Error for StoreError {}

/// What one invocation of the command line adds to the manifest.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub command_line: Vec<String>,
    pub git_commit: String,
    pub threads: usize,
}

/// A point as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestPoint {
    pub index: u64,
    /// Axis key -> value, in axis order.
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// A base scenario as stored in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestScenario {
    /// As written in the sweep file.
    pub name: String,
    /// The file (absolute when it could be resolved); replay files are read beside it.
    pub file: String,
    /// Its configuration after the sweep's `set` overrides, as a JSON image of the TOML tree.
    pub config: serde_json::Value,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub cascade_version: String,
    pub git_commit: String,
    pub name: String,
    pub description: String,
    /// The sweep file (absolute when it could be resolved).
    pub sweep_file: String,
    /// The base scenarios (one, or one per value of the `scenario` axis).
    pub scenarios: Vec<ManifestScenario>,
    pub runs: u64,
    pub seed: u64,
    pub sampling: Sampling,
    pub axes: Vec<String>,
    pub points: Vec<ManifestPoint>,
    pub metrics: Vec<String>,
    /// The metric schema hash (hex), as in every binary file's header.
    pub schema_hash: String,
    /// FNV-1a 64 (hex) of the canonical JSON of everything that determines the results.
    pub config_hash: String,
    /// The store's id (hex): FNV-1a 64 of the config hash and the shard layout, so a shard
    /// store differs from its siblings and a merged store equals the unsharded sweep's. Every
    /// binary file's header carries it with the config hash.
    pub store_id: String,
    /// The sweep file as read.
    pub sweep: serde_json::Value,
    /// `running` until every file is written, then `complete`.
    pub status: String,
    pub command_line: Vec<String>,
    pub threads: usize,
    pub started: String,
    pub finished: Option<String>,
    /// How many times the sweep was resumed.
    pub resumed: u32,
    /// Each point's baseline point (the sweep file's `baseline`, resolved; `null` for a
    /// baseline point); absent without a baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline: Vec<Option<u64>>,
    /// Set on a shard store (`cascade sweep --shard I/N`); absent on a whole sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Every file the store's commands wrote or are writing, relative to the store with `/`
    /// separators, sorted: data files, charts, report, exports, replays. A file is listed
    /// before it is written; `--force` removes these and nothing else.
    pub files: Vec<String>,
}

/// Which part of a sweep a shard store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// This shard, 0-based.
    pub index: u64,
    /// Shards in all.
    pub count: u64,
    /// The (point, run) pairs it holds, as flat indices `point * runs + run`: `first..end`.
    pub first_pair: u64,
    pub end_pair: u64,
}

impl ShardInfo {
    /// Shard `index` of `count` of a sweep with `pairs` (point, run) pairs: a contiguous block
    /// of the pairs in (point, run) order, sizes differing by at most one.
    pub fn new(index: u64, count: u64, pairs: u64) -> ShardInfo {
        let at = |i: u64| ((i as u128 * pairs as u128) / count as u128) as u64;
        ShardInfo {
            index,
            count,
            first_pair: at(index),
            end_pair: at(index + 1),
        }
    }
}

/// `runs/<p>.bin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunsFile {
    pub point: u64,
    /// The run index of the first row.
    pub first_run: u64,
    /// One metric row per run, in run order.
    pub rows: Vec<Vec<f64>>,
}

/// A point in `points.bin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointRecord {
    pub index: u64,
    pub params: Vec<Param>,
    pub agg: PointAgg,
}

/// `points.bin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointsFile {
    pub axes: Vec<String>,
    pub metrics: Vec<String>,
    /// Each point's baseline point, the one its `paired` comparisons are against (`None` for
    /// a baseline point); empty in a sweep without a baseline.
    pub baseline: Vec<Option<u64>>,
    pub points: Vec<PointRecord>,
}

/// The current time as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn hex(h: u64) -> String {
    format!("{h:016x}")
}

/// The JSON image of a TOML tree.
pub fn tree_to_json(t: &Table) -> serde_json::Value {
    serde_json::to_value(t).expect("a TOML tree is plain data")
}

/// A TOML tree from its JSON image.
pub fn tree_from_json(v: &serde_json::Value) -> Result<Table, String> {
    serde_json::from_value::<Table>(v.clone()).map_err(|e| e.to_string())
}

/// A parameter from its manifest JSON (integers stay integers: floats are written with a
/// decimal point or an exponent).
pub fn param_from_json(v: &serde_json::Value) -> Param {
    match v {
        serde_json::Value::Bool(b) => Param::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => Param::Int(i),
            _ => Param::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Param::Text(s.clone()),
        other => Param::Text(other.to_string()),
    }
}

impl Manifest {
    /// The manifest of a fresh sweep.
    pub fn new(sweep: &Sweep, inv: &Invocation) -> Manifest {
        let points = sweep
            .points
            .iter()
            .enumerate()
            .map(|(i, ps)| ManifestPoint {
                index: i as u64,
                params: sweep
                    .axes
                    .iter()
                    .zip(ps)
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            })
            .collect::<Vec<_>>();
        let scenarios = sweep
            .scenarios
            .iter()
            .map(|b| ManifestScenario {
                name: b.name.clone(),
                file: std::fs::canonicalize(&b.file)
                    .unwrap_or_else(|_| b.file.clone())
                    .display()
                    .to_string(),
                config: tree_to_json(&b.tree),
            })
            .collect();
        let sweep_json = serde_json::to_value(&sweep.spec).expect("plain data");
        let mut m = Manifest {
            format: MANIFEST_FORMAT.into(),
            format_version: MANIFEST_VERSION,
            cascade_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: inv.git_commit.clone(),
            name: sweep.name.clone(),
            description: sweep.spec.description.clone(),
            sweep_file: std::fs::canonicalize(&sweep.file)
                .unwrap_or_else(|_| sweep.file.clone())
                .display()
                .to_string(),
            scenarios,
            runs: sweep.spec.runs,
            seed: sweep.spec.seed,
            sampling: sweep.spec.sampling,
            axes: sweep.axes.clone(),
            points,
            metrics: METRICS.iter().map(|d| d.name.to_string()).collect(),
            schema_hash: hex(schema_hash()),
            config_hash: String::new(),
            store_id: String::new(),
            sweep: sweep_json,
            status: "running".into(),
            command_line: inv.command_line.clone(),
            threads: inv.threads,
            started: now_rfc3339(),
            finished: None,
            resumed: 0,
            baseline: sweep.baseline.iter().map(|b| b.map(|b| b as u64)).collect(),
            shard: None,
            files: Vec::new(),
        };
        m.config_hash = m.compute_config_hash();
        m.store_id = m.derive_store_id();
        m
    }

    /// Make this the manifest of shard `shard` (or of the whole sweep), with its store id.
    pub fn set_shard(&mut self, shard: Option<ShardInfo>) {
        self.shard = shard;
        self.store_id = self.derive_store_id();
    }

    /// The store id its config hash and shard layout give: a derived id, not a random one, so
    /// two stores of the same sweep hold the same bytes (a merged store and the unsharded one,
    /// a resumed store and an uninterrupted one), while stores of another configuration, seed
    /// or shard differ.
    pub fn derive_store_id(&self) -> String {
        let layout = match self.shard {
            None => "whole".to_string(),
            Some(s) => format!(
                "shard {}/{} pairs {}..{}",
                s.index, s.count, s.first_pair, s.end_pair
            ),
        };
        hex(codec::fnv1a64(
            format!("cascade store {} {layout}", self.config_hash).as_bytes(),
        ))
    }

    /// The identity its data files carry, checked against what the manifest's contents give
    /// (an edited manifest is refused rather than trusted).
    pub fn identity(&self, dir: &Path) -> Result<Identity, StoreError> {
        let path = manifest_path(dir);
        let computed = self.compute_config_hash();
        if computed != self.config_hash {
            return Err(StoreError::new(
                &path,
                format!(
                    "its config hash {} does not match its contents ({computed}): the manifest was edited; restore it or re-run the sweep",
                    self.config_hash
                ),
            ));
        }
        let id = self.derive_store_id();
        if id != self.store_id {
            return Err(StoreError::new(
                &path,
                format!(
                    "its store id {} does not match its config hash and shard layout ({id}): the manifest was edited; restore it or re-run the sweep",
                    self.store_id
                ),
            ));
        }
        let parse = |h: &str| u64::from_str_radix(h, 16).unwrap_or(0);
        Ok(Identity {
            config_hash: parse(&self.config_hash),
            store_id: parse(&self.store_id),
        })
    }

    /// The hash of everything that determines the data files: version, schema, base config,
    /// axes, points, runs, seed and (when there is one) the baseline point.
    pub fn compute_config_hash(&self) -> String {
        let mut canon = serde_json::json!({
            "cascade_version": self.cascade_version,
            "schema_hash": self.schema_hash,
            "scenarios": self.scenarios.iter().map(|s| (&s.name, &s.config)).collect::<Vec<_>>(),
            "axes": self.axes,
            "points": self.points,
            "runs": self.runs,
            "seed": self.seed,
        });
        if !self.baseline.is_empty() {
            canon["baseline"] = serde_json::json!(self.baseline);
        }
        hex(codec::fnv1a64(
            &serde_json::to_vec(&canon).expect("plain data"),
        ))
    }

    /// Each point's parameters, in axis order.
    pub fn point_params(&self, p: u64) -> Option<Vec<Param>> {
        let mp = self.points.get(p as usize)?;
        self.axes
            .iter()
            .map(|k| mp.params.get(k).map(param_from_json))
            .collect()
    }
}

/// An opened store: read-only from [`Store::open`], writable (its lock held) from
/// [`Store::open_locked`] or [`Store::with_lock`].
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// The identity the manifest gives its data files.
    pub identity: Identity,
    lock: Option<Arc<StoreLock>>,
    /// Whether an incomplete store may be read as the points complete so far
    /// ([`Store::allow_partial`]).
    partial: bool,
    /// The results, loaded once on first use ([`Store::results`]).
    results: OnceLock<Arc<ResultSet>>,
}

/// The manifest path of a store directory.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("manifest.json")
}
/// The runs file of point `p`.
pub fn runs_path(dir: &Path, p: u64) -> PathBuf {
    dir.join("runs").join(format!("{p}.bin"))
}
/// The points file.
pub fn points_path(dir: &Path) -> PathBuf {
    dir.join("points.bin")
}

/// Write a manifest atomically (pretty JSON, one key per line).
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<(), StoreError> {
    let path = manifest_path(dir);
    let mut text = serde_json::to_string_pretty(m).expect("plain data");
    text.push('\n');
    write_atomic(&path, text.as_bytes()).map_err(|e| StoreError::new(&path, e.to_string()))
}

/// Read a manifest (its format and version checked before its fields).
pub fn read_manifest(dir: &Path) -> Result<Manifest, StoreError> {
    let path = manifest_path(dir);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        StoreError::new(
            &path,
            if e.kind() == std::io::ErrorKind::NotFound {
                "not found: this directory holds no cascade results".to_string()
            } else {
                format!("cannot be read: {e}")
            },
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| StoreError::new(&path, format!("is not a cascade manifest: {e}")))?;
    let format = v.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != MANIFEST_FORMAT {
        return Err(StoreError::new(
            &path,
            format!("has format \"{format}\", not \"{MANIFEST_FORMAT}\""),
        ));
    }
    let version = v.get("format_version").and_then(|f| f.as_u64());
    if version != Some(MANIFEST_VERSION as u64) {
        return Err(StoreError::new(
            &path,
            format!(
                "has manifest version {}; this cascade reads version {MANIFEST_VERSION} (re-run the sweep into a new directory)",
                version.map_or("?".to_string(), |n| n.to_string())
            ),
        ));
    }
    let m: Manifest = serde_json::from_value(v)
        .map_err(|e| StoreError::new(&path, format!("is not a cascade manifest: {e}")))?;
    Ok(m)
}

/// A listed file's path in `dir`, or `None` when the entry is not a plain relative path inside
/// the store (an edited manifest must not reach outside it).
pub fn listed_path(dir: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(dir.join(p))
}

/// `path` relative to the store at `dir` (`/`-separated), or `None` when it lies outside it.
fn relative_to(dir: &Path, path: &Path) -> Result<Option<String>, StoreError> {
    let root = resolve(dir).map_err(|e| StoreError::new(dir, e.to_string()))?;
    let p = resolve(path).map_err(|e| StoreError::new(path, e.to_string()))?;
    Ok(p.strip_prefix(&root).ok().and_then(|rel| {
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        (!parts.is_empty()).then(|| parts.join("/"))
    }))
}

/// Whether a store-relative path is a data file (the sweep's own: runs, points) or the
/// store's bookkeeping, which no other output may take.
fn is_reserved(rel: &str) -> bool {
    rel == "manifest.json" || rel == "points.bin" || rel == LOCK_FILE || rel.starts_with("runs/")
}

/// Add `rels` to the manifest's `files`; a path that exists but is not listed belongs to
/// someone else and is refused. Returns whether the list changed.
pub fn claim_files(
    dir: &Path,
    m: &mut Manifest,
    rels: impl IntoIterator<Item = String>,
) -> Result<bool, StoreError> {
    let mut added = false;
    for rel in rels {
        if m.files.binary_search(&rel).is_ok() {
            continue;
        }
        let path = listed_path(dir, &rel).ok_or_else(|| {
            StoreError::new(dir, format!("`{rel}` is not a path inside the store"))
        })?;
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(StoreError::new(
                &path,
                "exists and is not one of this store's files (manifest.json does not list it); cascade does not overwrite files it did not write: move it away or choose another output",
            ));
        }
        let at = m.files.binary_search(&rel).unwrap_or_else(|i| i);
        m.files.insert(at, rel);
        added = true;
    }
    Ok(added)
}

fn read_bin(path: &Path) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path).map_err(|e| {
        StoreError::new(
            path,
            if e.kind() == std::io::ErrorKind::NotFound {
                "is missing".to_string()
            } else {
                format!("cannot be read: {e}")
            },
        )
    })
}

fn decode_err(path: &Path, e: DecodeError) -> StoreError {
    StoreError::new(path, e.to_string())
}

/// Write point `p`'s runs file for the store `id`.
pub fn write_runs(dir: &Path, id: Identity, f: &RunsFile) -> Result<(), StoreError> {
    let path = runs_path(dir, f.point);
    let bytes = codec::encode(FileKind::Runs, schema_hash(), id, f);
    write_atomic(&path, &bytes).map_err(|e| StoreError::new(&path, e.to_string()))
}

/// Read point `p`'s runs file and check that it is that point's, of the store `id`.
pub fn read_runs(dir: &Path, id: Identity, p: u64) -> Result<RunsFile, StoreError> {
    let path = runs_path(dir, p);
    let bytes = read_bin(&path)?;
    let f: RunsFile = codec::decode(FileKind::Runs, schema_hash(), id, &bytes)
        .map_err(|e| decode_err(&path, e))?;
    if f.point != p {
        return Err(StoreError::new(
            &path,
            format!("holds point {}, not point {p}", f.point),
        ));
    }
    if let Some(bad) = f.rows.iter().position(|r| r.len() != METRICS.len()) {
        return Err(StoreError::new(
            &path,
            format!(
                "row {bad} has {} values, the schema {}",
                f.rows[bad].len(),
                METRICS.len()
            ),
        ));
    }
    Ok(f)
}

/// Write the points file for the store `id`.
pub fn write_points(dir: &Path, id: Identity, f: &PointsFile) -> Result<(), StoreError> {
    let path = points_path(dir);
    let bytes = codec::encode(FileKind::Points, schema_hash(), id, f);
    write_atomic(&path, &bytes).map_err(|e| StoreError::new(&path, e.to_string()))
}

/// Read the points file of the store `id`.
pub fn read_points(dir: &Path, id: Identity) -> Result<PointsFile, StoreError> {
    let path = points_path(dir);
    let bytes = read_bin(&path)?;
    codec::decode(FileKind::Points, schema_hash(), id, &bytes).map_err(|e| decode_err(&path, e))
}

impl Store {
    /// Open a store directory for reading (its manifest must be readable and consistent).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        if !dir.is_dir() {
            return Err(StoreError::new(dir, "is not a directory"));
        }
        let manifest = read_manifest(dir)?;
        let identity = manifest.identity(dir)?;
        Ok(Store {
            dir: dir.to_path_buf(),
            manifest,
            identity,
            lock: None,
            partial: false,
            results: OnceLock::new(),
        })
    }

    /// Open a store directory for writing: its lock is taken for `command` (recorded in the
    /// lock file) and held as long as the returned store (or a clone) lives.
    pub fn open_locked(dir: &Path, command: &str) -> Result<Store, StoreError> {
        // Refuse a non-store directory before creating a lock file in it.
        Store::open(dir)?;
        let lock = StoreLock::acquire(dir, command, false).map_err(|e| e.store_error().clone())?;
        // Read the manifest again under the lock: a writer may have finished in between.
        Ok(Store::open(dir)?.with_lock(Arc::new(lock)))
    }

    /// Open a store for a command that writes `outputs`: locked when one of them lies inside
    /// the store (it will be listed in the manifest), read-only otherwise.
    pub fn open_for(dir: &Path, outputs: &[PathBuf], command: &str) -> Result<Store, StoreError> {
        let store = Store::open(dir)?;
        for p in outputs {
            if relative_to(dir, p)?.is_some() {
                return Store::open_locked(dir, command);
            }
        }
        Ok(store)
    }

    /// This store, holding `lock` (which must be this directory's).
    pub fn with_lock(mut self, lock: Arc<StoreLock>) -> Store {
        self.lock = Some(lock);
        self
    }

    /// Whether this store holds its lock (it may write).
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// Record that the command is about to write `paths`: those inside the store are added
    /// to the manifest's `files` (before they are written, so `--force` can always find them);
    /// paths outside it are the user's choice and left alone. Refused: a path inside the store
    /// that exists but is not listed (someone else's file), the store's data and bookkeeping
    /// files, and any path inside the store when this store was opened without its lock.
    pub fn claim(&self, paths: &[PathBuf]) -> Result<(), StoreError> {
        let mut rels = Vec::new();
        for p in paths {
            if let Some(rel) = relative_to(&self.dir, p)? {
                if is_reserved(&rel) {
                    return Err(StoreError::new(
                        p,
                        "is one of the store's own data files; choose another output",
                    ));
                }
                rels.push(rel);
            }
        }
        if rels.is_empty() {
            return Ok(());
        }
        if self.lock.is_none() {
            return Err(StoreError::new(
                &self.dir,
                "was opened read-only, so nothing may be written into it (its lock is not held)",
            ));
        }
        let mut m = read_manifest(&self.dir)?;
        if claim_files(&self.dir, &mut m, rels)? {
            write_manifest(&self.dir, &m)?;
        }
        Ok(())
    }

    pub fn points(&self) -> u64 {
        self.manifest.points.len() as u64
    }

    /// A point's runs, checked against the manifest (every run present).
    pub fn runs(&self, p: u64) -> Result<RunsFile, StoreError> {
        if self.partial && self.manifest.status != "complete" && !runs_path(&self.dir, p).is_file()
        {
            return Err(StoreError::new(
                &runs_path(&self.dir, p),
                format!("does not exist yet: point {p} is not complete"),
            ));
        }
        let f = read_runs(&self.dir, self.identity, p)?;
        if f.first_run != 0 || f.rows.len() as u64 != self.manifest.runs {
            return Err(StoreError::new(
                &runs_path(&self.dir, p),
                format!(
                    "holds runs {}..{}, the manifest says 0..{}",
                    f.first_run,
                    f.first_run + f.rows.len() as u64,
                    self.manifest.runs
                ),
            ));
        }
        Ok(f)
    }

    /// Read an incomplete store as the points complete so far (`--partial`): its results
    /// ([`Store::results`]) then hold those points and say they are partial.
    pub fn allow_partial(mut self) -> Store {
        self.partial = true;
        self.results = OnceLock::new();
        self
    }

    /// Whether [`Store::allow_partial`] was asked for.
    pub fn partial_allowed(&self) -> bool {
        self.partial
    }

    /// The store's results, loaded on first use and shared by every later reader.
    pub fn results(&self) -> Result<Arc<ResultSet>, StoreError> {
        if let Some(r) = self.results.get() {
            return Ok(r.clone());
        }
        let r = Arc::new(ResultSet::load(self)?);
        Ok(self.results.get_or_init(|| r).clone())
    }

    /// The points file as stored (the points complete so far with [`Store::allow_partial`]).
    pub fn points_file(&self) -> Result<PointsFile, StoreError> {
        Ok(self.results()?.points.clone())
    }

    /// The points file with each axis value shown by its label where the sweep file gives
    /// `labels` (or the axis holds tables, [`crate::results`]); the stored parameters are
    /// unchanged.
    pub fn labelled_points_file(&self) -> Result<PointsFile, StoreError> {
        Ok(self.results()?.labelled_points())
    }

    /// The points file of a complete store, checked against the manifest.
    pub(crate) fn read_complete_points(&self) -> Result<PointsFile, StoreError> {
        if self.manifest.status != "complete" {
            return Err(StoreError::new(
                &manifest_path(&self.dir),
                format!(
                    "the sweep is not complete (status \"{}\"): finish it with `cascade sweep {} --resume --out {}`, or read the points complete so far with `--partial`",
                    self.manifest.status,
                    self.manifest.sweep_file,
                    self.dir.display()
                ),
            ));
        }
        let f = read_points(&self.dir, self.identity)?;
        if f.points.len() as u64 != self.points() || f.axes != self.manifest.axes {
            return Err(StoreError::new(
                &points_path(&self.dir),
                "does not match manifest.json (points or axes differ)",
            ));
        }
        Ok(f)
    }

    /// The scenario of point `p`, rebuilt from the manifest.
    pub fn point_scenario(&self, p: u64) -> Result<Scenario, ConfigError> {
        let m = &self.manifest;
        let mut bases = Vec::with_capacity(m.scenarios.len());
        for (i, s) in m.scenarios.iter().enumerate() {
            let tree = tree_from_json(&s.config).map_err(|e| {
                ConfigError::one(
                    &manifest_path(&self.dir),
                    format!("scenarios[{i}].config"),
                    e.to_string(),
                )
            })?;
            bases.push(sweep::BaseScenario {
                name: s.name.clone(),
                file: PathBuf::from(&s.file),
                tree,
            });
        }
        let params = m.point_params(p).ok_or_else(|| {
            ConfigError::one(
                &manifest_path(&self.dir),
                "points",
                format!(
                    "has no point {p} with every axis (the sweep has {} points)",
                    m.points.len()
                ),
            )
        })?;
        sweep::point_scenario(&bases, &m.axes, &params)
    }

    /// A stored row.
    pub fn row(&self, p: u64, r: u64) -> Result<MetricRow, StoreError> {
        let f = self.runs(p)?;
        f.rows
            .get(r as usize)
            .map(|v| MetricRow(v.clone()))
            .ok_or_else(|| {
                StoreError::new(
                    &runs_path(&self.dir, p),
                    format!(
                        "has no run {r} (runs 0 to {})",
                        f.rows.len().saturating_sub(1)
                    ),
                )
            })
    }
}
