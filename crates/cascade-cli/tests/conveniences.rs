//! The command line's conveniences through the `cascade` binary (issue 21, item 3):
//! `sweep --runs/--set` recorded in the manifest, `run --out` writing a manifest, `list`,
//! `info` and `compare` (paired on shared seeds, unpaired otherwise, said in the output), and
//! their errors (exit code 2, naming the key or file and the rule); `schema` and `completions`.

use std::path::{Path, PathBuf};

mod common;
use common::{cascade, repo, tmp};

/// A two-point sweep file over the gen1 scenario (one simulated hour), with `seed`.
fn sweep_file(dir: &Path, seed: u64) -> PathBuf {
    let scen = repo().join("configs/scenarios/gen1.toml");
    let text = format!(
        "name = \"tiny\"\nscenario = {:?}\nruns = 5\nseed = {seed}\nset = [\"chain.duration_s=3600.0\"]\n\n[[axis]]\nkey = \"engine.liquidation.bonus\"\nvalues = [0.02, 0.08]\n",
        scen.canonicalize().unwrap().display().to_string()
    );
    let p = dir.join(format!("tiny-{seed}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn sweep(file: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = cascade(&args);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn sweep_runs_and_set_are_recorded_and_listed() {
    let d = tmp("conv", "sweep");
    let f = sweep_file(&d, 3);
    let out = d.join("results").join("a");
    sweep(
        &f,
        &out,
        &["--runs", "2", "--set", "gas.congestion_beta=0.25"],
    );
    let m = manifest(&out);
    assert_eq!(m["runs"], 2);
    assert_eq!(m["sweep"]["runs"], 2);
    let sets: Vec<&str> = m["sweep"]["set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        sets,
        ["chain.duration_s=3600.0", "gas.congestion_beta=0.25"]
    );
    let base = &m["scenarios"][0]["config"]["gas"]["congestion_beta"];
    assert_eq!(
        base.as_f64(),
        Some(0.25),
        "the override reached the scenario"
    );

    let (code, out_text, err) = cascade(&["info", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out_text.contains("status     complete"), "{out_text}");
    assert!(out_text.contains("2 x 2 run(s)"), "{out_text}");
    assert!(out_text.contains("gas.congestion_beta=0.25"), "{out_text}");

    // An interrupted sweep: status `running` in the manifest and nobody holding the lock.
    let b = d.join("results").join("b");
    sweep(&f, &b, &["--runs", "2"]);
    let mut mb = manifest(&b);
    mb["status"] = "running".into();
    std::fs::remove_file(b.join("runs").join("1.bin")).unwrap();
    std::fs::write(b.join("manifest.json"), mb.to_string()).unwrap();

    let (code, text, err) = cascade(&["list", d.join("results").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let line = |n: &str| {
        text.lines()
            .find(|l| l.starts_with(n))
            .unwrap_or_else(|| panic!("no line for {n}: {text}"))
            .to_string()
    };
    assert!(
        line("a ").contains("complete") && line("a ").contains("2 x 2"),
        "{text}"
    );
    assert!(line("b ").contains("interrupted (1/2 points)"), "{text}");
}

#[test]
fn sweep_flag_errors_exit_2_naming_the_flag() {
    let d = tmp("conv", "flags");
    let f = sweep_file(&d, 3);
    let out = d.join("x");
    let (code, _, err) = cascade(&[
        "sweep",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--runs",
        "0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--runs") && err.contains(">= 1"), "{err}");
    let (code, _, err) = cascade(&[
        "sweep",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--set",
        "gas.no_such_key=1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("gas.no_such_key"), "{err}");
    assert!(!out.exists(), "a refused sweep writes nothing");
    let (code, _, err) = cascade(&["list", d.join("absent").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = cascade(&["info", d.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("manifest.json"), "{err}");
}

#[test]
fn run_out_writes_a_manifest() {
    let d = tmp("conv", "run");
    let out = d.join("r");
    let scen = repo().join("configs/scenarios/quickstart.toml");
    let (code, _, err) = cascade(&[
        "run",
        scen.to_str().unwrap(),
        "--runs",
        "2",
        "--seed",
        "11",
        "--set",
        "chain.duration_s=1800.0",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let m = manifest(&out);
    assert_eq!(m["format"], "cascade-run");
    assert_eq!(m["seed"], 11);
    assert_eq!(m["runs"], 2);
    assert_eq!(m["set"][0], "chain.duration_s=1800.0");
    assert_eq!(m["config"]["chain"]["duration_s"].as_f64(), Some(1800.0));
    for f in m["files"].as_array().unwrap() {
        assert!(out.join(f.as_str().unwrap()).is_file(), "{f}");
    }
    let (code, text, err) = cascade(&["info", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("2 from seed 11"), "{text}");
}

#[test]
fn compare_pairs_on_shared_seeds_and_says_so() {
    let d = tmp("conv", "compare");
    let (fa, fb) = (sweep_file(&d, 3), sweep_file(&d, 4));
    let (a, b) = (d.join("a"), d.join("b"));
    sweep(&fa, &a, &[]);
    sweep(&fb, &b, &[]);
    // A store against itself: paired, every difference exactly zero.
    let csv = d.join("self.csv");
    let (code, text, err) = cascade(&[
        "compare",
        a.to_str().unwrap(),
        a.to_str().unwrap(),
        "--metric",
        "liquidations",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(text.starts_with("paired:"), "{text}");
    let rows = std::fs::read_to_string(&csv).unwrap();
    let mut lines = rows.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let body: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(body.len(), 2, "one row per point and metric");
    for r in &body {
        assert_eq!(r[col("diff")], "0");
        assert_eq!(r[col("mode")], "paired");
        assert_eq!(r[col("mean_a")], r[col("mean_b")]);
    }
    // Other seeds: unpaired, stated.
    let (code, text, err) = cascade(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.starts_with("unpaired: the seeds differ (A: 3, B: 4)"),
        "{text}"
    );
    // Errors: an unknown metric, an output inside a store.
    let (code, _, err) = cascade(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--metric",
        "nope",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--metric nope"), "{err}");
    let inside = a.join("cmp.csv");
    let (code, _, err) = cascade(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(!inside.exists());
}

#[test]
fn completion_scripts_name_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, text, err) = cascade(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for cmd in [
            "sweep", "export", "compare", "list", "info", "parquet", "schema",
        ] {
            assert!(text.contains(cmd), "{shell} script lacks {cmd}");
        }
    }
    let (code, _, err) = cascade(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn schema_prints_the_json_schema_of_either_file() {
    for (kind, key) in [("scenario", "engine"), ("sweep", "axis")] {
        let (code, text, err) = cascade(&["schema", kind]);
        assert_eq!(code, 0, "{kind}: {err}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert!(v["properties"][key].is_object(), "{kind} lacks {key}");
        assert_eq!(v["additionalProperties"], false, "{kind}");
    }
    let (code, text, _) = cascade(&["schema"]);
    assert_eq!(code, 0);
    assert!(text.contains("\"engine\""), "scenario by default");
    let (code, _, err) = cascade(&["schema", "report"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn compare_shows_axis_values_by_their_labels() {
    let d = tmp("conv", "compare-labels");
    let scen = repo().join("configs/scenarios/gen1.toml");
    let text = format!(
        "name = \"labelled\"\nscenario = {:?}\nruns = 2\nseed = 3\nset = [\"chain.duration_s=1800.0\"]\n\n[[axis]]\nkey = \"engine.liquidation.bonus\"\nvalues = [0.02, 0.08]\nlabels = [\"low bonus\", \"high bonus\"]\n",
        scen.canonicalize().unwrap().display().to_string()
    );
    let f = d.join("labelled.toml");
    std::fs::write(&f, text).unwrap();
    let a = d.join("a");
    sweep(&f, &a, &[]);
    let csv = d.join("c.csv");
    let (code, text, err) = cascade(&[
        "compare",
        a.to_str().unwrap(),
        a.to_str().unwrap(),
        "--metric",
        "liquidations",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // The table and the CSV show the sweep file's labels, as the export and the report do.
    assert!(
        text.contains("engine.liquidation.bonus=low bonus"),
        "{text}"
    );
    assert!(
        text.contains("engine.liquidation.bonus=high bonus"),
        "{text}"
    );
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert!(
        rows.lines().nth(1).unwrap().starts_with("0,low bonus,"),
        "{rows}"
    );
}
