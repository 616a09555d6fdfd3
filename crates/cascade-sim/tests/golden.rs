//! Golden fingerprints: results change only on purpose.
//!
//! For every shipped scenario (`configs/scenarios/*.toml`) and the benchmark reference
//! configuration, a few seeded runs at full length are fingerprinted three ways: SHA-256 of
//! the metric rows (every metric's name and bits, every run), of the per-block trace CSV
//! (`cascade run --trace`) and of the replay event CSV (`cascade replay`). The fingerprints
//! and each run's metric values (so that a diff shows which results moved) are committed,
//! one readable file per configuration, under `tests/golden/` at the repository root.
//! A scenario too large for a test run (`large_book`, a million accounts) is fingerprinted
//! at a reduced size listed in `REDUCED`, which its golden file's header states.
//!
//! A refactor must leave every file as it is. A change that moves a fingerprint on purpose
//! rewrites them with `UPDATE_GOLDEN=1 cargo test -p cascade-sim --test golden` and says why
//! in its commit message and in docs/model.md, "Model changes".

mod common;

use cascade_sim::metrics::{METRICS, MetricRow};
use cascade_sim::runner::run_one;
use cascade_sim::{World, events, trace};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Runs fingerprinted per configuration (run indices `0..RUNS` of the file's own seed).
const RUNS: u64 = 3;

/// The benchmark configuration, fingerprinted beside the scenarios.
const BENCH: &str = "configs/bench/reference.toml";

/// Scenarios too large to fingerprint as shipped in a test run: (configuration, runs,
/// `--set` overrides). `large_book` ships a million accounts for a day, hours of CPU per
/// run today; its fingerprint covers its first run with the book cut to 2,000 accounts (the
/// size of the benchmark reference), over the full day and its crash. The golden file's
/// header states the overrides, so nobody mistakes it for the shipped size.
const REDUCED: &[(&str, u64, &[&str])] = &[(
    "configs/scenarios/large_book.toml",
    1,
    &["agents.4.count=2000"],
)];

/// Runs and `--set` overrides of configuration `rel`: `RUNS` and none, unless it is listed
/// in `REDUCED`.
fn plan(rel: &str) -> (u64, &'static [&'static str]) {
    REDUCED
        .iter()
        .find(|(r, _, _)| *r == rel)
        .map_or((RUNS, &[]), |&(_, runs, sets)| (runs, sets))
}

fn golden_dir() -> PathBuf {
    common::repo().join("tests/golden")
}

/// The golden file of a configuration: `tests/golden/<stem>.txt` (`bench-<stem>.txt` for the
/// benchmark configurations).
fn golden_path(rel: &str) -> PathBuf {
    let stem = Path::new(rel).file_stem().unwrap().to_string_lossy();
    let name = if rel.starts_with("configs/bench/") {
        format!("bench-{stem}.txt")
    } else {
        format!("{stem}.txt")
    };
    golden_dir().join(name)
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The fingerprint file's text for configuration `rel` (relative to the repository root).
fn fingerprint(rel: &str) -> String {
    let (runs, sets) = plan(rel);
    let s = common::scenario(rel, sets);
    let seed = s.config.run.seed;
    let mut rows_hash = Sha256::new();
    let mut trace_hash = Sha256::new();
    let mut events_hash = Sha256::new();
    let mut buf = Vec::new();
    trace::write_header(&mut buf, &s.config).unwrap();
    trace_hash.update(&buf);
    buf.clear();
    events::write_header(&mut buf).unwrap();
    events_hash.update(&buf);
    let (mut n_blocks, mut n_events) = (0usize, 0usize);
    let mut rows: Vec<MetricRow> = Vec::new();
    for run in 0..runs {
        // As `cascade replay` runs it: trace and events on, events written block by block.
        let mut w = World::new(&s, seed, run).unwrap();
        w.enable_trace();
        w.enable_events();
        while w.running() {
            w.step().unwrap();
            let ev = w.drain_events();
            n_events += ev.len();
            buf.clear();
            events::write_events(&mut buf, &w.event_labels(), &ev).unwrap();
            events_hash.update(&buf);
        }
        let row = w.metrics();
        let records = w.take_trace();
        n_blocks += records.len();
        buf.clear();
        trace::write_run(&mut buf, run, &records).unwrap();
        trace_hash.update(&buf);
        // Recording must not change the results: the plain run (as a sweep runs it) gives
        // the same row bit for bit.
        let plain = run_one(&s, seed, run, false).unwrap().row;
        assert_eq!(
            bits(&row),
            bits(&plain),
            "{rel} run {run}: recording the trace and events changed the metrics"
        );
        for (m, v) in METRICS.iter().zip(&row.0) {
            rows_hash.update(m.name.as_bytes());
            rows_hash.update(v.to_bits().to_le_bytes());
        }
        rows.push(row);
    }
    let mut out = String::new();
    let _ = writeln!(out, "# Golden fingerprints of {rel}");
    if sets.is_empty() {
        let _ = writeln!(
            out,
            "# runs 0..{runs} of seed {seed}, full length; {n_blocks} blocks and {n_events} events in all."
        );
    } else {
        let _ = writeln!(
            out,
            "# runs 0..{runs} of seed {seed}, full length, REDUCED with --set {}; {n_blocks} blocks and {n_events} events in all.",
            sets.join(" --set ")
        );
    }
    let _ = writeln!(
        out,
        "# A change that moves these says why in its commit message and in docs/model.md"
    );
    let _ = writeln!(
        out,
        "# (\"Model changes\"); rewrite with UPDATE_GOLDEN=1 cargo test -p cascade-sim --test golden"
    );
    let _ = writeln!(out, "metric_rows_sha256 = {}", hex(rows_hash.finalize()));
    let _ = writeln!(out, "block_trace_sha256 = {}", hex(trace_hash.finalize()));
    let _ = writeln!(out, "event_csv_sha256 = {}", hex(events_hash.finalize()));
    let _ = writeln!(out);
    let _ = write!(out, "{:<44}", "# metric");
    for run in 0..runs {
        let _ = write!(out, " {:>24}", format!("run {run}"));
    }
    let _ = writeln!(out);
    for (i, m) in METRICS.iter().enumerate() {
        let _ = write!(out, "{:<44}", m.name);
        for r in &rows {
            // Shortest round-trip form: the text is as exact as the bits.
            let _ = write!(out, " {:>24}", format!("{:?}", r.0[i]));
        }
        let _ = writeln!(out);
    }
    out
}

fn bits(r: &MetricRow) -> Vec<u64> {
    r.0.iter().map(|x| x.to_bits()).collect()
}

/// Compare the fingerprints of `rel` with its golden file, or rewrite the file under
/// `UPDATE_GOLDEN=1`.
fn check(rel: &str) {
    let got = fingerprint(rel);
    let path = golden_path(rel);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with UPDATE_GOLDEN=1 cargo test -p cascade-sim --test golden",
            path.display()
        )
    });
    if got != want {
        let moved: Vec<String> = want
            .lines()
            .zip(got.lines())
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("  golden: {a}\n  now:    {b}"))
            .take(30)
            .collect();
        panic!(
            "{rel}: results moved against {} (first differing lines below). If the change is \
             intended, rewrite with UPDATE_GOLDEN=1 cargo test -p cascade-sim --test golden, say \
             why in the commit message and add a line to docs/model.md, \"Model changes\".\n{}",
            path.display(),
            moved.join("\n")
        );
    }
}

macro_rules! golden {
    ($($name:ident => $rel:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check($rel);
            }
        )*
        /// Every configuration fingerprinted above, for the completeness check.
        const FINGERPRINTED: &[&str] = &[$($rel),*];
    };
}

golden! {
    black_thursday => "configs/scenarios/black_thursday.toml",
    black_thursday_stochastic => "configs/scenarios/black_thursday_stochastic.toml",
    crash_congestion => "configs/scenarios/crash_congestion.toml",
    cross_chain => "configs/scenarios/cross_chain.toml",
    crash_congestion_stochastic => "configs/scenarios/crash_congestion_stochastic.toml",
    gen1 => "configs/scenarios/gen1.toml",
    gen1_stochastic => "configs/scenarios/gen1_stochastic.toml",
    gen1_hawkes => "configs/scenarios/gen1_hawkes.toml",
    gen2 => "configs/scenarios/gen2.toml",
    gen2_stochastic => "configs/scenarios/gen2_stochastic.toml",
    gen3 => "configs/scenarios/gen3.toml",
    gen3_stochastic => "configs/scenarios/gen3_stochastic.toml",
    gen3_async => "configs/scenarios/gen3_async.toml",
    intents => "configs/scenarios/intents.toml",
    keeper_congestion => "configs/scenarios/keeper_congestion.toml",
    keeper_congestion_stochastic => "configs/scenarios/keeper_congestion_stochastic.toml",
    large_book => "configs/scenarios/large_book.toml",
    liquidity_crunch => "configs/scenarios/liquidity_crunch.toml",
    liquidity_crunch_stochastic => "configs/scenarios/liquidity_crunch_stochastic.toml",
    mango_manipulation => "configs/scenarios/mango_manipulation.toml",
    mev_competition => "configs/scenarios/mev_competition.toml",
    mev_competition_stochastic => "configs/scenarios/mev_competition_stochastic.toml",
    oev_recapture => "configs/scenarios/oev_recapture.toml",
    oev_recapture_stochastic => "configs/scenarios/oev_recapture_stochastic.toml",
    options_mm_crash => "configs/scenarios/options_mm_crash.toml",
    options_mm_crash_stochastic => "configs/scenarios/options_mm_crash_stochastic.toml",
    oracle_arbitrage => "configs/scenarios/oracle_arbitrage.toml",
    oracle_lag => "configs/scenarios/oracle_lag.toml",
    predictive_margin => "configs/scenarios/predictive_margin.toml",
    quickstart => "configs/scenarios/quickstart.toml",
    short_vol_crash => "configs/scenarios/short_vol_crash.toml",
    short_vol_crash_stochastic => "configs/scenarios/short_vol_crash_stochastic.toml",
    spiral => "configs/scenarios/spiral.toml",
    twap_manipulation => "configs/scenarios/twap_manipulation.toml",
    zk_private => "configs/scenarios/zk_private.toml",
    bench_reference => BENCH,
}

/// Every shipped scenario has its fingerprints, and every golden file belongs to a shipped
/// configuration: a new scenario cannot ship unguarded, a removed one leaves nothing stale.
#[test]
fn every_shipped_configuration_is_fingerprinted() {
    let mut shipped: Vec<String> = std::fs::read_dir(common::repo().join("configs/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .map(|n| format!("configs/scenarios/{n}"))
        .collect();
    shipped.push(BENCH.to_string());
    shipped.sort();
    let mut listed: Vec<String> = FINGERPRINTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        shipped, listed,
        "add the scenario to the golden! list in this file"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    let mut expected: Vec<PathBuf> = listed.iter().map(|r| golden_path(r)).collect();
    expected.sort();
    if std::env::var_os("UPDATE_GOLDEN").is_none() {
        assert_eq!(
            files, expected,
            "tests/golden/ holds exactly one file per configuration"
        );
    }
}
