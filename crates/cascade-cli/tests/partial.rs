//! `export`, `report` and `plot` with `--partial` on an interrupted and on a running sweep
//! (issue 21, item 3): the points complete so far, marked as partial in every output; without
//! the flag, the incomplete store's error names `--partial`. A running sweep holds the store's
//! lock: reading it needs no lock, writing outside it (`--out`) works.

use std::path::{Path, PathBuf};

mod common;
use common::{cascade, repo, s, tmp};

/// A complete three-point store over gen1 (one simulated hour, 3 runs a point) and a copy of
/// it cut back to what an interrupted sweep leaves: point 1's runs file and the points file
/// missing, the manifest's status `running`.
fn stores(dir: &Path) -> (PathBuf, PathBuf) {
    let scen = repo().join("configs/scenarios/gen1.toml");
    let text = format!(
        "name = \"tiny\"\nscenario = {:?}\nruns = 3\nseed = 5\nset = [\"chain.duration_s=3600.0\"]\n\n[[axis]]\nkey = \"engine.liquidation.bonus\"\nvalues = [0.02, 0.05, 0.08]\n",
        scen.canonicalize().unwrap().display().to_string()
    );
    let file = dir.join("tiny.toml");
    std::fs::write(&file, text).unwrap();
    let full = dir.join("full");
    let (code, _, err) = cascade(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        full.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let cut = dir.join("cut");
    std::fs::create_dir_all(cut.join("runs")).unwrap();
    for p in [0, 2] {
        let f = format!("runs/{p}.bin");
        std::fs::copy(full.join(&f), cut.join(&f)).unwrap();
    }
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("manifest.json")).unwrap())
            .unwrap();
    m["status"] = "running".into();
    m["finished"] = serde_json::Value::Null;
    m["files"] = serde_json::json!([]);
    std::fs::write(
        cut.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    (full, cut)
}

#[test]
fn partial_reads_the_points_complete_so_far_and_says_so() {
    let dir = tmp("partial", "interrupted");
    let (full, cut) = stores(&dir);

    // Without --partial: the clear error, now naming the flag.
    let (code, _, err) = cascade(&["export", s(&cut), "--format", "csv"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("not complete") && err.contains("--partial"),
        "{err}"
    );

    // Export: the complete points, rows equal to the full store's; a note beside them.
    let out = dir.join("exp");
    let (code, _, err) = cascade(&[
        "export",
        s(&cut),
        "--format",
        "csv",
        "--partial",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 0, "{err}");
    let rows = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let part = rows(&out.join("points.csv"));
    let (code, _, err) = cascade(&[
        "export",
        s(&full),
        "--format",
        "csv",
        "--out",
        s(&dir.join("fullexp")),
    ]);
    assert_eq!(code, 0, "{err}");
    let whole_csv = rows(&dir.join("fullexp/points.csv"));
    assert_eq!(part.len(), 3, "header and points 0 and 2");
    assert_eq!(part[0], whole_csv[0]);
    assert_eq!(part[1], whole_csv[1]);
    assert_eq!(part[2], whole_csv[3]);
    assert_eq!(rows(&out.join("runs.csv")).len(), 1 + 2 * 3);
    let note: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("partial.json")).unwrap()).unwrap();
    assert_eq!(note["partial"], true);
    assert_eq!(note["points_complete"], serde_json::json!([0, 2]));
    assert_eq!(note["points_total"], 3);
    assert!(!dir.join("fullexp/partial.json").exists());

    // Parquet: the note in every file's metadata.
    let pq = dir.join("pq");
    let (code, _, err) = cascade(&[
        "export",
        s(&cut),
        "--format",
        "parquet",
        "--partial",
        "--out",
        s(&pq),
    ]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(pq.join("points.parquet")).unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"cascade.partial") && has(b"2 of 3 points complete"));

    // Report (the interrupted sweep holds no lock: into the store) and plot.
    let (code, _, err) = cascade(&["report", s(&cut), "--partial"]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(cut.join("report.html")).unwrap();
    assert!(html.contains("<title>cascade (partial): tiny</title>"));
    assert!(html.contains("Partial results:</strong> 2 of 3 points complete"));
    assert!(!html.contains("Partial results: Partial results"));
    let svg =
        std::fs::read_to_string(cut.join("charts/line_has_cascade_engine.liquidation.bonus.svg"))
            .unwrap();
    assert!(svg.contains("partial results: 2 of 3 points complete"));
    let chart = dir.join("plot.svg");
    let (code, _, err) = cascade(&[
        "plot",
        s(&cut),
        "--y",
        "bad_debt",
        "--partial",
        "--out",
        s(&chart),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::read_to_string(&chart)
            .unwrap()
            .contains("partial results: 2 of 3 points complete")
    );

    // A complete store read with --partial is simply complete.
    let (code, _, err) = cascade(&[
        "export",
        s(&full),
        "--format",
        "csv",
        "--partial",
        "--out",
        s(&dir.join("fullexp")),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rows(&dir.join("fullexp/points.csv")), whole_csv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_running_sweep_is_read_without_its_lock() {
    let dir = tmp("partial", "running");
    let (_, cut) = stores(&dir);
    // The "writer": this process holds the store's lock, as a running sweep does.
    let lock =
        cascade_sim::lock::StoreLock::acquire(&cut, "cascade sweep (test)", false).expect("lock");
    // Into the store: refused (the writer's lock), naming the holder.
    let (code, _, err) = cascade(&["report", s(&cut), "--partial"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cascade sweep (test)"), "{err}");
    // Outside it: read without the lock.
    let out = dir.join("view");
    let (code, _, err) = cascade(&["report", s(&cut), "--partial", "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("2 of 3 points complete"));
    assert!(
        html.contains("href=\"charts/"),
        "links relative to the report"
    );
    let (code, _, err) = cascade(&[
        "export",
        s(&cut),
        "--format",
        "json",
        "--partial",
        "--out",
        s(&dir.join("j")),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.join("j/partial.json").is_file());
    // Nothing was written into the store.
    assert!(!cut.join("report.html").exists() && !cut.join("export").exists());
    drop(lock);
    let _ = std::fs::remove_dir_all(&dir);
}
