//! The manifest `cascade run --out` writes beside its tables, and the status of any result
//! directory.
//!
//! A run directory is not a sweep store (no binary files, no lock), but it records what a
//! sweep's manifest records about how its numbers came about: the scenario (file and resolved
//! configuration after the overrides), the overrides, the runs and master seed, the version,
//! git commit and command line, and the files written. It is written last, atomically, so a
//! `manifest.json` with `format = "cascade-run"` means every listed file is whole.
//! `cascade list` and `cascade info` read both kinds.

use cascade_sim::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `format` of a run directory's manifest.
pub(crate) const RUN_FORMAT: &str = "cascade-run";
/// Its layout version.
pub(crate) const RUN_FORMAT_VERSION: u32 = 1;

/// `<out>/manifest.json` of `cascade run --out`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunManifest {
    pub format: String,
    pub format_version: u32,
    pub cascade_version: String,
    pub git_commit: String,
    /// The scenario's name.
    pub name: String,
    /// The scenario file (absolute when it could be resolved).
    pub scenario_file: String,
    /// The `--set` overrides, in order.
    pub set: Vec<String>,
    pub runs: u64,
    pub seed: u64,
    /// The metric schema hash (hex), as in a sweep store's manifest.
    pub schema_hash: String,
    /// The scenario's configuration after the overrides, as a JSON image of the TOML tree.
    pub config: serde_json::Value,
    /// Always `complete`: the manifest is written after every other file.
    pub status: String,
    pub command_line: Vec<String>,
    pub threads: usize,
    pub started: String,
    pub finished: String,
    /// The files written, relative to the directory.
    pub files: Vec<String>,
}

/// Write `m` into `dir` atomically.
pub(crate) fn write(dir: &Path, m: &RunManifest) -> std::io::Result<PathBuf> {
    let path = dir.join("manifest.json");
    let mut text = serde_json::to_string_pretty(m).expect("plain data");
    text.push('\n');
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// A result directory as `list` and `info` see it.
pub(crate) enum Results {
    Sweep(Box<cascade_sim::store::Manifest>),
    Run(Box<RunManifest>),
}

/// The manifest `format` field of `dir`, if it has a readable JSON manifest.
fn format_of(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("format")?.as_str().map(str::to_string)
}

/// Read the manifest of a result directory of either kind; the error names the file and the
/// problem.
pub(crate) fn read(dir: &Path) -> Result<Results, String> {
    if format_of(dir).as_deref() == Some(RUN_FORMAT) {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
        let m: RunManifest = serde_json::from_str(&text)
            .map_err(|e| format!("{}: is not a cascade run manifest: {e}", path.display()))?;
        if m.format_version != RUN_FORMAT_VERSION {
            return Err(format!(
                "{}: has run manifest version {}; this cascade reads version {RUN_FORMAT_VERSION}",
                path.display(),
                m.format_version
            ));
        }
        return Ok(Results::Run(Box::new(m)));
    }
    cascade_sim::store::read_manifest(dir)
        .map(|m| Results::Sweep(Box::new(m)))
        .map_err(|e| e.to_string())
}

/// `complete`, `running` (a process holds the store's lock) or `interrupted` (not complete
/// and nobody holds the lock: `cascade sweep --resume` finishes it).
pub(crate) fn status(dir: &Path, manifest_status: &str) -> &'static str {
    if manifest_status == "complete" {
        return "complete";
    }
    // A shared lock is refused while a writer holds the exclusive one; taking it writes
    // nothing, and it is released when the file closes.
    match std::fs::File::open(dir.join(cascade_sim::lock::LOCK_FILE)) {
        Ok(f) => match f.try_lock_shared() {
            Err(std::fs::TryLockError::WouldBlock) => "running",
            _ => "interrupted",
        },
        Err(_) => "interrupted",
    }
}

/// The points whose runs file is present (a running or interrupted sweep has some).
pub(crate) fn points_done(dir: &Path, m: &cascade_sim::store::Manifest) -> Vec<u64> {
    (0..m.points.len() as u64)
        .filter(|&p| cascade_sim::store::runs_path(dir, p).is_file())
        .collect()
}

/// The total size of the files under `dir`, in bytes.
pub(crate) fn size_of(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_of(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Bytes as B, KiB, MiB or GiB with one decimal.
pub(crate) fn human_size(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
