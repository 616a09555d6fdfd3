//! Sweeps into result stores: thread-count independence, resume, replay, corrupted files,
//! export round trips, and sweep-file errors.

mod common;

use cascade_sim::experiment::{SweepError, SweepOptions, run_sweep};
use cascade_sim::export::{Format, export};
use cascade_sim::metrics::METRICS;
use cascade_sim::store::{Invocation, Store, read_manifest, runs_path, write_manifest};
use cascade_sim::sweep::load_sweep;
use std::path::{Path, PathBuf};

/// A fresh temporary directory for one test.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cascade-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small two-axis sweep of the gen1 engine scenario (two hours, 3 x 2 points x 4 runs).
fn write_sweep(dir: &Path, extra: &str) -> PathBuf {
    let scenario = common::repo().join("configs/scenarios/gen1.toml");
    let text = format!(
        r#"
name = "tiny"
scenario = "{}"
runs = 4
seed = 11
set = ["chain.duration_s=7200", "agents.2.count=60"]
{extra}
[[axis]]
key = "engine.liquidation.bonus"
values = [0.03, 0.06, 0.09]

[[axis]]
key = "oracles.0.feed.latency_s"
values = [12, 60]
"#,
        scenario.display()
    );
    let p = dir.join("tiny.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn inv(threads: usize) -> Invocation {
    Invocation {
        command_line: vec!["test".into()],
        git_commit: "test".into(),
        threads,
    }
}

/// Every data file of a store (everything but the manifest), by relative path.
fn data_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![(
        "points.bin".to_string(),
        std::fs::read(dir.join("points.bin")).unwrap(),
    )];
    let mut runs: Vec<_> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    runs.sort();
    for p in runs {
        out.push((
            format!("runs/{}", p.file_name().unwrap().to_string_lossy()),
            std::fs::read(&p).unwrap(),
        ));
    }
    out
}

/// The manifest without the fields that describe one invocation.
fn manifest_core(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    for k in ["command_line", "threads", "started", "finished", "resumed"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

#[test]
fn one_thread_and_two_give_byte_identical_stores() {
    let d = tmp("threads");
    let sweep = load_sweep(&write_sweep(&d, "")).unwrap();
    assert_eq!(sweep.points.len(), 6);
    let mut last = None;
    for threads in [1, 2] {
        let out = d.join(format!("t{threads}"));
        let mut seen = Vec::new();
        let r = run_sweep(
            &sweep,
            &out,
            &inv(threads),
            SweepOptions {
                threads,
                ..Default::default()
            },
            |p| seen.push(p.runs_done),
        )
        .unwrap();
        assert_eq!((r.points, r.runs_computed), (6, 24));
        assert_eq!(seen.first(), Some(&0));
        assert_eq!(seen.last(), Some(&24));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        let files = data_files(&out);
        assert_eq!(files.len(), 7);
        if let Some((f, m)) = &last {
            assert_eq!(f, &files, "data files differ between 1 and 2 threads");
            assert_eq!(m, &manifest_core(&out));
        }
        last = Some((files, manifest_core(&out)));
    }
    // Different points differ: the axes act.
    let store = Store::open(&d.join("t1")).unwrap();
    let pf = store.points_file().unwrap();
    let i_liq = cascade_sim::metrics::metric_index("liquidated_notional").unwrap();
    let means: Vec<f64> = pf
        .points
        .iter()
        .map(|p| p.agg.metrics[i_liq].mean)
        .collect();
    assert!(
        means.windows(2).any(|w| w[0] != w[1]),
        "the axes change nothing: {means:?}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn resume_after_an_interruption_equals_an_uninterrupted_sweep() {
    let d = tmp("resume");
    let sweep = load_sweep(&write_sweep(&d, "")).unwrap();
    let whole = d.join("whole");
    run_sweep(&sweep, &whole, &inv(2), SweepOptions::default(), |_| {}).unwrap();
    // An interrupted store: two points lost, no points.bin, status running, a stale temp file.
    let cut = d.join("cut");
    run_sweep(&sweep, &cut, &inv(2), SweepOptions::default(), |_| {}).unwrap();
    std::fs::remove_file(runs_path(&cut, 2)).unwrap();
    std::fs::remove_file(runs_path(&cut, 5)).unwrap();
    std::fs::remove_file(cut.join("points.bin")).unwrap();
    // A killed writer's temporary file (cascade's name, another process id), and a user's.
    std::fs::write(cut.join("runs/3.bin.cascade-999999.tmp"), b"half a file").unwrap();
    std::fs::write(cut.join("runs/notes.tmp"), b"mine").unwrap();
    let mut m = read_manifest(&cut).unwrap();
    m.status = "running".into();
    m.finished = None;
    write_manifest(&cut, &m).unwrap();
    // Without --resume or --force, the directory is refused.
    let e = run_sweep(&sweep, &cut, &inv(2), SweepOptions::default(), |_| {}).unwrap_err();
    assert!(
        matches!(&e, SweepError::Usage(m) if m.contains("--resume")),
        "{e}"
    );
    // An unfinished store cannot be exported yet.
    let e = Store::open(&cut).unwrap().points_file().unwrap_err();
    assert!(e.msg.contains("not complete"), "{e}");
    let r = run_sweep(
        &sweep,
        &cut,
        &inv(1),
        SweepOptions {
            resume: true,
            threads: 1,
            ..Default::default()
        },
        |_| {},
    )
    .unwrap();
    assert_eq!((r.points_kept, r.runs_computed), (4, 8));
    assert_eq!(data_files(&whole), data_files(&cut));
    assert_eq!(manifest_core(&whole), manifest_core(&cut));
    assert!(!cut.join("runs/3.bin.cascade-999999.tmp").exists());
    assert_eq!(std::fs::read(cut.join("runs/notes.tmp")).unwrap(), b"mine");
    assert_eq!(read_manifest(&cut).unwrap().resumed, 1);

    // Resuming with another configuration is refused and touches nothing.
    let other = load_sweep(&write_sweep(&d, "")).unwrap();
    let mut other = other;
    other.spec.seed = 12;
    let e = run_sweep(
        &other,
        &cut,
        &inv(1),
        SweepOptions {
            resume: true,
            ..Default::default()
        },
        |_| {},
    );
    let e = e.unwrap_err();
    assert!(
        matches!(&e, SweepError::Usage(m) if m.contains("another configuration")),
        "{e}"
    );
    assert_eq!(data_files(&whole), data_files(&cut));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn replay_reproduces_the_stored_row() {
    let d = tmp("replay");
    let sweep = load_sweep(&write_sweep(&d, "")).unwrap();
    let out = d.join("s");
    run_sweep(&sweep, &out, &inv(2), SweepOptions::default(), |_| {}).unwrap();
    let store = Store::open(&out).unwrap();
    for (p, r) in [(0, 0), (3, 2), (5, 3)] {
        let stored = store.row(p, r).unwrap();
        let scenario = store.point_scenario(p).unwrap();
        let mut w = cascade_sim::World::new(&scenario, store.manifest.seed, r).unwrap();
        w.enable_events();
        w.enable_trace();
        let row = w.run().unwrap();
        assert_eq!(
            row.0.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            stored.0.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            "point {p} run {r}"
        );
        let events = w.take_events();
        let mut csv = Vec::new();
        cascade_sim::events::write_header(&mut csv).unwrap();
        cascade_sim::events::write_events(&mut csv, &w.event_labels(), &events).unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert!(text.lines().count() > 100, "a real event trace");
        let cols = cascade_sim::events::HEADER.len();
        for line in text.lines().filter(|l| !l.contains('"')) {
            assert_eq!(line.split(',').count(), cols, "{line}");
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn truncated_or_corrupted_files_are_clear_errors() {
    let d = tmp("corrupt");
    let sweep = load_sweep(&write_sweep(&d, "")).unwrap();
    let out = d.join("s");
    run_sweep(&sweep, &out, &inv(2), SweepOptions::default(), |_| {}).unwrap();
    let store = Store::open(&out).unwrap();
    let path = runs_path(&out, 1);
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, &good[..good.len() - 7]).unwrap();
    let e = store.runs(1).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    assert!(e.to_string().contains("runs/1.bin"), "{e}");
    let mut bad = good.clone();
    let k = bad.len() - 20;
    bad[k] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    let e = store.runs(1).unwrap_err();
    assert!(e.to_string().contains("corrupted"), "{e}");
    std::fs::write(&path, b"not a cascade file at all").unwrap();
    assert!(
        store
            .runs(1)
            .unwrap_err()
            .to_string()
            .contains("not a cascade")
    );
    // A points file in place of a runs file.
    std::fs::copy(out.join("points.bin"), &path).unwrap();
    assert!(
        store
            .runs(1)
            .unwrap_err()
            .to_string()
            .contains("another kind")
    );
    // A runs file of another point.
    std::fs::copy(runs_path(&out, 0), &path).unwrap();
    assert!(
        store
            .runs(1)
            .unwrap_err()
            .to_string()
            .contains("holds point 0")
    );
    // Export reports the broken file instead of writing half a table.
    let e = export(&store, &d.join("exp"), Format::Csv).unwrap_err();
    assert!(e.to_string().contains("runs/1.bin"), "{e}");
    assert!(!d.join("exp/runs.csv").exists());
    // A broken manifest.
    std::fs::write(out.join("manifest.json"), "{ \"format\": ").unwrap();
    assert!(
        Store::open(&out)
            .unwrap_err()
            .to_string()
            .contains("not a cascade manifest")
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn export_round_trips_every_metric() {
    let d = tmp("export");
    let sweep = load_sweep(&write_sweep(&d, "")).unwrap();
    let out = d.join("s");
    run_sweep(&sweep, &out, &inv(2), SweepOptions::default(), |_| {}).unwrap();
    let store = Store::open(&out).unwrap();
    let files = export(&store, &d.join("csv"), Format::Csv).unwrap();
    let mut rdr = csv::Reader::from_path(&files[0]).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[..6],
        [
            "point",
            "run",
            "seed",
            "run_seed",
            "engine.liquidation.bonus",
            "oracles.0.feed.latency_s"
        ]
    );
    assert_eq!(header.len(), 6 + METRICS.len());
    let mut n = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let p: u64 = rec[0].parse().unwrap();
        let r: u64 = rec[1].parse().unwrap();
        let stored = store.row(p, r).unwrap();
        for (i, d) in METRICS.iter().enumerate() {
            // A metric not measured (NaN: the twin comparisons without a twin) is an empty
            // cell, which pandas reads as NaN.
            if stored.0[i].is_nan() {
                assert_eq!(&rec[6 + i], "", "{} at {p}/{r}", d.name);
                continue;
            }
            let v: f64 = rec[6 + i].parse().unwrap();
            assert_eq!(v.to_bits(), stored.0[i].to_bits(), "{} at {p}/{r}", d.name);
        }
        n += 1;
    }
    assert_eq!(n, 24);
    let pts = std::fs::read_to_string(&files[1]).unwrap();
    assert_eq!(pts.lines().count(), 7);
    assert!(pts.lines().next().unwrap().contains("has_cascade_rate_lo"));
    // JSON: a list of records with the same values.
    let files = export(&store, &d.join("json"), Format::Json).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 24);
    for row in rows {
        let p = row["point"].as_u64().unwrap();
        let r = row["run"].as_u64().unwrap();
        let stored = store.row(p, r).unwrap();
        for (i, d) in METRICS.iter().enumerate() {
            if stored.0[i].is_nan() {
                assert!(row[d.name].is_null(), "{}", d.name);
                continue;
            }
            let v = row[d.name].as_f64().unwrap();
            assert_eq!(v.to_bits(), stored.0[i].to_bits(), "{}", d.name);
        }
        assert!(row["oracles.0.feed.latency_s"].is_i64());
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 6);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sampled_sweeps_are_reproducible_and_in_range() {
    let d = tmp("sampled");
    let scenario = common::repo().join("configs/scenarios/gen1.toml");
    let text = format!(
        r#"
scenario = "{}"
runs = 1
seed = 3
sampling = "latin_hypercube"
points = 8
[[axis]]
key = "engine.liquidation.bonus"
range = [0.02, 0.1]
[[axis]]
key = "oracles.0.feed.latency_s"
log_range = [12, 384]
integer = true
"#,
        scenario.display()
    );
    let p = d.join("lhs.toml");
    std::fs::write(&p, text).unwrap();
    let a = load_sweep(&p).unwrap();
    let b = load_sweep(&p).unwrap();
    assert_eq!(a.points, b.points);
    assert_eq!(a.points.len(), 8);
    assert_eq!(a.name, "lhs");
    for pt in &a.points {
        let bonus = pt[0].as_f64().unwrap();
        assert!((0.02..=0.1).contains(&bonus));
        assert!(matches!(pt[1], cascade_sim::sweep::Param::Int(12..=384)));
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn broken_sweep_files_name_the_file_the_key_and_the_rule() {
    let d = tmp("errors");
    let scenario = common::repo().join("configs/scenarios/gen1.toml");
    let cases: &[(&str, &str, &str)] = &[
        (
            "runs = 0\n[[axis]]\nkey = \"gas.congestion_beta\"\nvalues = [0.1]",
            "runs",
            "must be >= 1",
        ),
        (
            "runs = 2\nrunz = 3\n[[axis]]\nkey = \"gas.congestion_beta\"\nvalues = [0.1]",
            "key `runz`",
            "is not a known key (expected one of name, description",
        ),
        (
            "runs = 2\nsampling = \"sobol\"\n[[axis]]\nkey = \"gas.congestion_beta\"\nvalues = [0.1]",
            "key `sampling`",
            "\"sobol\" is not one of the allowed values: grid, random, latin_hypercube",
        ),
        (
            "runs = 2.5\n[[axis]]\nkey = \"gas.congestion_beta\"\nvalues = [0.1]",
            "key `runs`",
            "must be a whole number (0 or more) (got 2.5)",
        ),
        ("runs = 2", "axis", "at least one"),
        (
            "runs = 2\nname = \"../escape\"\n[[axis]]\nkey = \"gas.congestion_beta\"\nvalues = [0.1]",
            "name",
            "plain directory name",
        ),
        (
            "runs = 2\n[[axis]]\nkey = \"gas.congestion_beta\"\nrange = [0.0, 1.0]",
            "axis[0].steps",
            "is required",
        ),
        (
            "runs = 2\n[[axis]]\nkey = \"gas.congestion_beta\"\nvalues = [0.1]\nrange = [0.0, 1.0]",
            "axis[0]",
            "exactly one",
        ),
        (
            "runs = 2\n[[axis]]\nkey = \"gas.gas_limt\"\nvalues = [1]",
            "gas.gas_limt",
            "is not a known key",
        ),
        (
            "runs = 2\n[[axis]]\nkey = \"gas.congestion_beta\"\nvalues = [0.1, -1.0]",
            "point 1 (gas.congestion_beta = -1)",
            "must be >= 0",
        ),
        (
            "runs = 2\nsampling = \"random\"\n[[axis]]\nkey = \"gas.congestion_beta\"\nrange = [0.0, 1.0]",
            "points",
            "is required",
        ),
        (
            "runs = 2\n[[axis]]\nkey = \"gas.congestion_beta\"\nlog_range = [0.0, 1.0]\nsteps = 3",
            "axis[0].log_range",
            "> 0",
        ),
    ];
    for (k, (body, key, rule)) in cases.iter().enumerate() {
        let p = d.join(format!("bad{k}.toml"));
        std::fs::write(
            &p,
            format!("scenario = \"{}\"\n{body}\n", scenario.display()),
        )
        .unwrap();
        let e = load_sweep(&p).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&format!("bad{k}.toml")), "{text}");
        assert!(text.contains(key), "case {k}: want key {key}: {text}");
        assert!(text.contains(rule), "case {k}: want rule {rule}: {text}");
    }
    let p = d.join("missing.toml");
    std::fs::write(
        &p,
        "scenario = \"nowhere.toml\"\nruns = 1\n[[axis]]\nkey = \"a\"\nvalues = [1]\n",
    )
    .unwrap();
    let text = load_sweep(&p).unwrap_err().to_string();
    assert!(
        text.contains("nowhere.toml") && text.contains("cannot be read"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_scenario_axis_switches_base_scenarios_and_replays() {
    let d = tmp("scenario-axis");
    let g1 = common::repo().join("configs/scenarios/gen1.toml");
    let g3 = common::repo().join("configs/scenarios/gen3.toml");
    let text = format!(
        r#"
runs = 2
seed = 4
set = ["chain.duration_s=7200", "agents.2.count=60"]
[[axis]]
key = "scenario"
values = ["{}", "{}"]
[[axis]]
key = "assets.ETH.process.noise_sigma"
values = [0.5, 1.0]
"#,
        g1.display(),
        g3.display()
    );
    let p = d.join("gens.toml");
    std::fs::write(&p, text).unwrap();
    let sweep = load_sweep(&p).unwrap();
    assert_eq!(sweep.scenarios.len(), 2);
    assert_eq!(sweep.points.len(), 4);
    let out = d.join("s");
    run_sweep(&sweep, &out, &inv(2), SweepOptions::default(), |_| {}).unwrap();
    let store = Store::open(&out).unwrap();
    assert_eq!(store.manifest.scenarios.len(), 2);
    // Point 0 is gen1, point 2 gen3: their engines differ.
    let s0 = store.point_scenario(0).unwrap();
    let s2 = store.point_scenario(2).unwrap();
    assert_ne!(s0.config.engine, s2.config.engine);
    assert_eq!(s0.config.name, "gen1");
    assert_eq!(s2.config.name, "gen3");
    for p in 0..4 {
        let s = store.point_scenario(p).unwrap();
        let row = cascade_sim::runner::run_one(&s, 4, 1, false).unwrap().row;
        assert_eq!(row, store.row(p, 1).unwrap(), "point {p}");
    }
    // A scenario axis of numbers is an error naming the axis.
    let bad = d.join("bad.toml");
    std::fs::write(
        &bad,
        "runs = 1\n[[axis]]\nkey = \"scenario\"\nvalues = [1, 2]\n",
    )
    .unwrap();
    let e = load_sweep(&bad).unwrap_err().to_string();
    assert!(
        e.contains("axis[0].values") && e.contains("scenario file names"),
        "{e}"
    );
    // No base scenario at all.
    std::fs::write(
        &bad,
        "runs = 1\n[[axis]]\nkey = \"gas.congestion_beta\"\nvalues = [1.0]\n",
    )
    .unwrap();
    let e = load_sweep(&bad).unwrap_err().to_string();
    assert!(e.contains("key `scenario`: is required"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn shards_merge_into_the_unsharded_store() {
    use cascade_sim::experiment::merge_shards;
    let d = tmp("shards");
    let sweep = load_sweep(&write_sweep(&d, "")).unwrap();
    let whole = d.join("whole");
    run_sweep(&sweep, &whole, &inv(2), SweepOptions::default(), |_| {}).unwrap();
    // 24 pairs in 5 shards: blocks of 4 or 5 pairs, so points (4 runs) straddle shards.
    let n = 5;
    let mut dirs = Vec::new();
    for i in 0..n {
        let dir = d.join(format!("shard{i}"));
        let r = run_sweep(
            &sweep,
            &dir,
            &inv(1),
            SweepOptions {
                shard: Some((i, n)),
                threads: 1,
                ..Default::default()
            },
            |_| {},
        )
        .unwrap();
        assert!(r.runs_computed == 4 || r.runs_computed == 5, "{r:?}");
        assert!(!dir.join("points.bin").exists());
        dirs.push(dir);
    }
    // Any order.
    let mut shuffled = dirs.clone();
    shuffled.reverse();
    let merged = d.join("merged");
    let r = merge_shards(&shuffled, &merged, &inv(1), false).unwrap();
    assert_eq!((r.shards, r.points, r.runs), (5, 6, 24));
    assert_eq!(data_files(&whole), data_files(&merged));
    let mut a = manifest_core(&whole);
    let mut b = manifest_core(&merged);
    a.as_object_mut().unwrap().remove("git_commit");
    b.as_object_mut().unwrap().remove("git_commit");
    assert_eq!(a, b);
    // Refuses to overwrite without force.
    let e = merge_shards(&dirs, &merged, &inv(1), false).unwrap_err();
    assert!(e.to_string().contains("--force"), "{e}");
    // With force it replaces its data and keeps what it did not write: a chart another
    // command wrote (still listed, so `cascade report` may rewrite it) and a user's file.
    {
        let s = Store::open_locked(&merged, "test").unwrap();
        let chart = merged.join("charts").join("ccdf.png");
        s.claim(std::slice::from_ref(&chart)).unwrap();
        std::fs::create_dir_all(chart.parent().unwrap()).unwrap();
        std::fs::write(&chart, b"chart").unwrap();
    }
    std::fs::write(merged.join("notes.txt"), b"mine").unwrap();
    merge_shards(&dirs, &merged, &inv(1), true).unwrap();
    assert_eq!(
        std::fs::read(merged.join("charts/ccdf.png")).unwrap(),
        b"chart"
    );
    assert_eq!(std::fs::read(merged.join("notes.txt")).unwrap(), b"mine");
    let m = read_manifest(&merged).unwrap();
    assert!(
        m.files.contains(&"charts/ccdf.png".to_string()),
        "{:?}",
        m.files
    );
    assert!(!m.files.contains(&"notes.txt".to_string()));
    assert_eq!(data_files(&whole), data_files(&merged));
    // A missing shard, a duplicated one, a whole store, a foreign shard.
    let e = merge_shards(&dirs[..4], &d.join("m2"), &inv(1), false).unwrap_err();
    assert!(e.to_string().contains("missing shard(s): 4/5"), "{e}");
    let mut dup = dirs.clone();
    dup.push(dirs[2].clone());
    let e = merge_shards(&dup, &d.join("m2"), &inv(1), false).unwrap_err();
    assert!(e.to_string().contains("shard 2/5 given 2 times"), "{e}");
    let mut with_whole = dirs.clone();
    with_whole.push(whole.clone());
    let e = merge_shards(&with_whole, &d.join("m2"), &inv(1), false).unwrap_err();
    assert!(e.to_string().contains("is not a shard store"), "{e}");
    let mut other = load_sweep(&write_sweep(&d, "")).unwrap();
    other.spec.seed = 99;
    let foreign = d.join("foreign");
    run_sweep(
        &other,
        &foreign,
        &inv(1),
        SweepOptions {
            shard: Some((4, 5)),
            ..Default::default()
        },
        |_| {},
    )
    .unwrap();
    let mut mixed = dirs[..4].to_vec();
    mixed.push(foreign.clone());
    let e = merge_shards(&mixed, &d.join("m2"), &inv(1), false).unwrap_err();
    assert!(
        e.to_string().contains("foreign") && e.to_string().contains("another sweep configuration"),
        "{e}"
    );
    assert!(!d.join("m2").exists(), "nothing written on a refused merge");
    // A shard count beyond the pairs, and an index beyond the count.
    for bad in [(0, 25), (5, 5)] {
        let e = run_sweep(
            &sweep,
            &d.join("bad"),
            &inv(1),
            SweepOptions {
                shard: Some(bad),
                ..Default::default()
            },
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(e, SweepError::Usage(_)), "{e}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn labels_name_table_values_and_charts_must_be_metrics() {
    let d = tmp("labels");
    let g1 = common::repo().join("configs/scenarios/gen1.toml");
    let text = format!(
        r#"
scenario = "{}"
runs = 1
seed = 2
set = ["chain.duration_s=600", "agents.2.count=20"]
charts = ["liquidator_profit"]
[[axis]]
key = "engine.margin"
values = [{{ kind = "fixed", initial = 0.2, maintenance = 0.1 }}, {{ kind = "fixed", initial = 0.3, maintenance = 0.15 }}]
labels = ["loose", "tight"]
"#,
        g1.display()
    );
    let p = d.join("labels.toml");
    std::fs::write(&p, &text).unwrap();
    let sweep = load_sweep(&p).unwrap();
    let out = d.join("s");
    run_sweep(&sweep, &out, &inv(1), SweepOptions::default(), |_| {}).unwrap();
    let store = Store::open(&out).unwrap();
    let raw = store.points_file().unwrap();
    let shown = store.labelled_points_file().unwrap();
    assert!(
        raw.points[0].params[0]
            .label()
            .contains("maintenance = 0.1")
    );
    assert_eq!(shown.points[0].params[0].label(), "loose");
    assert_eq!(shown.points[1].params[0].label(), "tight");
    // (Compared as printed: a metric with no run above zero has a NaN conditional mean.)
    assert_eq!(
        format!("{:?}", raw.points[1].agg),
        format!("{:?}", shown.points[1].agg)
    );
    // Labels must match the values; charts must name metrics.
    let bad = text.replace("labels = [\"loose\", \"tight\"]", "labels = [\"loose\"]");
    std::fs::write(&p, bad).unwrap();
    let e = load_sweep(&p).unwrap_err().to_string();
    assert!(
        e.contains("axis[0].labels") && e.contains("one label per value"),
        "{e}"
    );
    let bad = text.replace("liquidator_profit", "liquidator_proft");
    std::fs::write(&p, bad).unwrap();
    let e = load_sweep(&p).unwrap_err().to_string();
    assert!(
        e.contains("charts[0]") && e.contains("is not a metric"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Every shipped sweep file loads, and every point's scenario validates (no sweep in
/// `configs/sweeps/` can rot unnoticed).
#[test]
fn every_shipped_sweep_validates() {
    let dir = common::repo().join("configs/sweeps");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    for f in files {
        let s = load_sweep(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!s.points.is_empty(), "{}", f.display());
    }
}
