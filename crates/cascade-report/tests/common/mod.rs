//! What the report's integration tests share: small fixture stores made with cascade-sim's
//! sweep runner from a sweep file's text.

#![allow(dead_code)]

use cascade_sim::experiment::{SweepOptions, run_sweep};
use cascade_sim::store::{Invocation, Store};
use cascade_sim::sweep::load_sweep;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh, empty temporary directory `cascade-<suite>-<pid>-<name>`.
pub fn tmp(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cascade-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run a sweep file's text (4 runs, seed 11, two simulated hours, 60 traders; `body` gives the
/// base scenario and the axes) into a store under `tmp(suite, name)`.
pub fn store(suite: &str, name: &str, body: &str) -> Store {
    let d = tmp(suite, name);
    let text = format!(
        "name = \"{name}\"\nruns = 4\nseed = 11\nset = [\"chain.duration_s=7200\", \"agents.2.count=60\"]\n{body}"
    );
    let p = d.join("sweep.toml");
    std::fs::write(&p, text).unwrap();
    let sweep = load_sweep(&p).unwrap_or_else(|e| panic!("{e}"));
    let out = d.join("results");
    let inv = Invocation {
        command_line: vec!["test".into()],
        git_commit: "test".into(),
        threads: 2,
    };
    let opts = SweepOptions {
        threads: 2,
        ..Default::default()
    };
    run_sweep(&sweep, &out, &inv, opts, |_| {}).unwrap_or_else(|e| panic!("{e}"));
    Store::open(&out).unwrap()
}

/// The absolute path of `configs/scenarios/gen<n>.toml`.
pub fn gen_file(n: u32) -> String {
    repo()
        .join(format!("configs/scenarios/gen{n}.toml"))
        .display()
        .to_string()
}
