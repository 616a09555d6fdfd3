//! The Parquet export read back with the parquet crate: the wide tables hold the same values
//! as the CSV export, bit for bit; axis columns carry labels (the sweep file's `labels`, a
//! scenario's name instead of its path); runs carry their seeds; units are in the schema and
//! the manifest in the file metadata; the long tables have one row per run and metric and
//! per point, metric and statistic.

mod common;

use arrow_array::{Array, Float64Array, RecordBatch, StringArray, UInt64Array};
use cascade_sim::experiment::{SweepOptions, run_sweep};
use cascade_sim::export::{Format, export};
use cascade_sim::metrics::METRICS;
use cascade_sim::store::{Invocation, Store};
use cascade_sim::sweep::load_sweep;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cascade-pq-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A 1 x 2 sweep over a scenario axis (gen1, by path) and a labelled bonus axis.
fn store(dir: &Path) -> Store {
    let scenario = common::repo().join("configs/scenarios/gen1.toml");
    let text = format!(
        r#"
name = "tinypq"
runs = 3
seed = 5
set = ["chain.duration_s=3600"]

[[axis]]
key = "scenario"
values = ["{}"]

[[axis]]
key = "engine.liquidation.bonus"
values = [0.03, 0.09]
labels = ["low", "high"]
"#,
        scenario.display()
    );
    let p = dir.join("tinypq.toml");
    std::fs::write(&p, text).unwrap();
    let sw = load_sweep(&p).unwrap();
    let out = dir.join("store");
    let inv = Invocation {
        command_line: vec!["test".into()],
        git_commit: "test".into(),
        threads: 1,
    };
    run_sweep(
        &sw,
        &out,
        &inv,
        SweepOptions {
            threads: 1,
            resume: false,
            force: false,
            shard: None,
        },
        |_| {},
    )
    .unwrap();
    Store::open(&out).unwrap()
}

/// A Parquet file as one batch (with the file's Arrow schema, metadata included) and the
/// file's key-value metadata.
fn read(path: &Path) -> (RecordBatch, std::collections::HashMap<String, String>) {
    let f = std::fs::File::open(path).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let schema = b.schema().clone();
    let kv: std::collections::HashMap<String, String> = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|v| {
            v.iter()
                .filter_map(|k| Some((k.key.clone(), k.value.clone()?)))
                .collect()
        })
        .unwrap_or_default();
    let batches: Vec<RecordBatch> = b
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(batches.len(), 1, "a small table reads as one batch");
    (batches[0].clone().with_schema(schema).unwrap(), kv)
}

fn f64_col<'a>(b: &'a RecordBatch, name: &str) -> &'a Float64Array {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap_or_else(|| panic!("{name} is not float64"))
}

fn str_col<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap_or_else(|| panic!("{name} is not text"))
}

/// A CSV file as (header, rows of cells); the export's cells hold no commas or quotes here.
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let h = lines.next().unwrap().split(',').map(String::from).collect();
    (
        h,
        lines
            .map(|l| l.split(',').map(String::from).collect())
            .collect(),
    )
}

#[test]
fn parquet_equals_csv_and_carries_labels_seeds_units_and_manifest() {
    let d = tmp("roundtrip");
    let s = store(&d);
    export(&s, &d.join("csv"), Format::Csv).unwrap();
    let files = export(&s, &d.join("pq"), Format::Parquet).unwrap();
    assert_eq!(files.len(), 4);

    let (h, rows) = csv(&d.join("csv/runs.csv"));
    let (runs, kv) = read(&d.join("pq/runs.parquet"));
    assert_eq!(runs.num_rows(), rows.len());
    assert_eq!(rows.len(), 2 * 3);
    // Every metric: the same bits as the CSV (empty CSV cell = null).
    for d in METRICS {
        let c = h.iter().position(|x| x == d.name).unwrap();
        let col = f64_col(&runs, d.name);
        for (i, r) in rows.iter().enumerate() {
            if r[c].is_empty() {
                assert!(col.is_null(i), "{} row {i}", d.name);
            } else {
                let v: f64 = r[c].parse().unwrap();
                assert_eq!(col.value(i).to_bits(), v.to_bits(), "{} row {i}", d.name);
            }
        }
    }
    // Labels: the scenario by name, the bonus by its label; the same in the CSV.
    let sc = str_col(&runs, "scenario");
    assert!((0..sc.len()).all(|i| sc.value(i) == "gen1"));
    let bonus = str_col(&runs, "engine.liquidation.bonus");
    let labels: Vec<&str> = (0..bonus.len()).map(|i| bonus.value(i)).collect();
    assert_eq!(labels, ["low", "low", "low", "high", "high", "high"]);
    let cb = h
        .iter()
        .position(|x| x == "engine.liquidation.bonus")
        .unwrap();
    assert_eq!(rows[0][cb], "low");
    // Seeds: the master seed and each run's seed, equal to the CSV's.
    let seed = runs
        .column_by_name("seed")
        .unwrap()
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap();
    assert!((0..seed.len()).all(|i| seed.value(i) == 5));
    let rs = str_col(&runs, "run_seed");
    let crs = h.iter().position(|x| x == "run_seed").unwrap();
    assert_eq!(rs.value(1), rows[1][crs]);
    assert_ne!(rs.value(0), rs.value(1), "runs have their own seeds");
    // Units in the schema; the manifest in the file metadata.
    let schema = runs.schema();
    let f = schema.field_with_name("bad_debt").unwrap();
    assert_eq!(f.metadata().get("unit").map(String::as_str), Some("quote"));
    let units: serde_json::Value =
        serde_json::from_str(schema.metadata().get("cascade.units").unwrap()).unwrap();
    assert_eq!(units["has_cascade"], "bool");
    let man: serde_json::Value = serde_json::from_str(&kv["cascade.manifest"]).unwrap();
    assert_eq!(man["name"], "tinypq");
    assert_eq!(man["seed"], 5);

    // Points: the wide table equals the CSV's.
    let (ph, prow) = csv(&d.join("csv/points.csv"));
    let (pts, _) = read(&d.join("pq/points.parquet"));
    assert_eq!(pts.num_rows(), 2);
    for name in [
        "bad_debt_mean",
        "has_cascade_rate",
        "liquidations_p95",
        "bad_debt_ci_hi",
    ] {
        let c = ph.iter().position(|x| x == name).unwrap();
        let col = f64_col(&pts, name);
        for (i, r) in prow.iter().enumerate() {
            let v: f64 = r[c].parse().unwrap();
            assert_eq!(col.value(i).to_bits(), v.to_bits(), "{name} point {i}");
        }
    }

    // Long forms.
    let (rl, _) = read(&d.join("pq/runs_long.parquet"));
    assert_eq!(rl.num_rows(), 6 * METRICS.len());
    let metric = str_col(&rl, "metric");
    let value = f64_col(&rl, "value");
    let unit = str_col(&rl, "unit");
    let k = METRICS
        .iter()
        .position(|m| m.name == "liquidations")
        .unwrap();
    assert_eq!(metric.value(k), "liquidations");
    assert_eq!(unit.value(k), "count");
    assert_eq!(
        value.value(k).to_bits(),
        f64_col(&runs, "liquidations").value(0).to_bits()
    );
    let (pl, _) = read(&d.join("pq/points_long.parquet"));
    let (m, st, v) = (
        str_col(&pl, "metric"),
        str_col(&pl, "statistic"),
        f64_col(&pl, "value"),
    );
    let i = (0..pl.num_rows())
        .find(|&i| m.value(i) == "has_cascade" && st.value(i) == "rate")
        .unwrap();
    assert_eq!(str_col(&pl, "unit").value(i), "share");
    assert_eq!(
        v.value(i).to_bits(),
        f64_col(&pts, "has_cascade_rate").value(0).to_bits()
    );

    // The CSV's units sidecar names every column's unit.
    let (uh, urows) = csv(&d.join("csv/units.csv"));
    assert_eq!(uh, ["table", "column", "unit", "title"]);
    assert!(
        urows
            .iter()
            .any(|r| r == &["points", "bad_debt_p95", "quote", "Bad debt (p95)"])
    );
    assert!(
        urows
            .iter()
            .any(|r| r[..3] == ["points", "has_cascade_rate", "share"])
    );
    assert!(
        urows
            .iter()
            .any(|r| r[..2] == ["runs", "bad_debt"] && r[3] == "Bad debt")
    );
}
