//! Bad configuration files through the `cascade` binary: each is refused with exit code 2 and
//! a message naming the full key and the rule in words (issue 16, item 7), and sizes beyond
//! the memory or work bounds are refused before anything is allocated or written.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn quickstart() -> String {
    std::fs::read_to_string(repo().join("configs/scenarios/quickstart.toml")).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cascade-msg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run the binary; return (exit code, stderr).
fn cascade(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `text` with the first occurrence of `from` replaced (which must exist).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the quickstart scenario lacks {from:?}"
    );
    text.replacen(from, to, 1)
}

/// Write `text` as a scenario, validate it, and check exit 2 and every `want` in stderr.
fn refused(name: &str, text: &str, extra: &[&str], want: &[&str], never: &[&str]) {
    let d = tmp(name);
    let f = d.join(format!("{name}.toml"));
    std::fs::write(&f, text).unwrap();
    let mut args = vec!["validate", f.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, err) = cascade(&args);
    assert_eq!(code, 2, "{name}: exit {code}: {err}");
    for w in want {
        assert!(err.contains(w), "{name}: lacks {w:?}:\n{err}");
    }
    for n in never {
        assert!(!err.contains(n), "{name}: has {n:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "{name}: {err}");
}

#[test]
fn unknown_keys_are_named_once() {
    let t = edit(&quickstart(), "[chain]\n", "[chain]\nbogus = 1\n");
    refused(
        "unknown",
        &t,
        &[],
        &["key `chain.bogus`: is not a known key", "block_time_s"],
        &["bogus.bogus", "`block_time_s`"],
    );
}

#[test]
fn a_wrong_type_names_the_full_key_in_words() {
    let t = edit(&quickstart(), "count = 20", "count = 2.5");
    refused(
        "count",
        &t,
        &[],
        &["key `agents[1].count`: must be an integer between 0 and 4294967295 (got 2.5)"],
        &["expected u32", "floating point"],
    );
    let t = edit(
        &quickstart(),
        "block_time_s = 12.0",
        "block_time_s = \"twelve\"",
    );
    refused(
        "string",
        &t,
        &[],
        &["key `chain.block_time_s`: must be a number (got the string \"twelve\")"],
        &["f64"],
    );
}

#[test]
fn sweep_file_errors_name_the_rule_and_the_allowed_values() {
    let d = tmp("sobol");
    let f = d.join("sobol.toml");
    std::fs::write(
        &f,
        format!(
            "scenario = {:?}\nruns = 3\nsampling = \"sobol\"\npoints = 4\n[[axis]]\nkey = \"gas.congestion_beta\"\nrange = [0.1, 0.5]\n",
            repo().join("configs/scenarios/quickstart.toml")
        ),
    )
    .unwrap();
    let (code, err) = cascade(&["validate", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "key `sampling`: \"sobol\" is not one of the allowed values: grid, random, latin_hypercube"
        ),
        "{err}"
    );
}

#[test]
fn prices_beyond_the_ledger_are_refused() {
    let t = edit(&quickstart(), "price = 2000.0", "price = 1e308");
    refused(
        "price",
        &t,
        &[],
        &["key `assets[0].price`", "between 1e-6 and 1e9", "1e308"],
        &[],
    );
}

#[test]
fn sizes_beyond_memory_are_refused_with_the_driving_key() {
    let t = edit(&quickstart(), "count = 20", "count = 1000000000");
    refused(
        "agents",
        &t,
        &["--max-memory", "64G"],
        &["key `agents[1].count`: needs about", "--max-memory 64G"],
        &[],
    );
    let t = edit(&quickstart(), "levels = 10", "levels = 1000000000");
    refused(
        "levels",
        &t,
        &["--max-memory", "64G"],
        &["key `venues[1].levels`: needs about"],
        &[],
    );
    refused(
        "budget",
        &quickstart(),
        &["--max-memory", "1K"],
        &["more than the 1.0 KiB allowed"],
        &[],
    );
    refused(
        "badsize",
        &quickstart(),
        &["--max-memory", "lots"],
        &["--max-memory"],
        &[],
    );
    // A size within the budget passes.
    let (code, err) = cascade(&[
        "validate",
        repo()
            .join("configs/scenarios/quickstart.toml")
            .to_str()
            .unwrap(),
        "--max-memory",
        "1G",
    ]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_trillion_runs_is_refused_before_anything_is_written() {
    let q = repo().join("configs/scenarios/quickstart.toml");
    let (code, err) = cascade(&["run", q.to_str().unwrap(), "--runs", "1000000000000"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("key `--runs`"), "{err}");
    let d = tmp("sweep");
    let f = d.join("big.toml");
    std::fs::write(
        &f,
        format!(
            "scenario = {:?}\nruns = 1000000000000\n[[axis]]\nkey = \"gas.congestion_beta\"\nvalues = [0.1, 0.5]\n",
            q
        ),
    )
    .unwrap();
    let out = d.join("out");
    let (code, err) = cascade(&[
        "sweep",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-memory",
        "1T",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("key `runs`"), "{err}");
    assert!(!out.exists(), "a refused sweep created its store");
}
