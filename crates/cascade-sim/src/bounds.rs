//! Resource bounds: an estimate of the memory and work a command will need, checked before
//! anything is allocated.
//!
//! A typo such as `count = 1000000000` or `--runs 1000000000000` passes every value rule and
//! then dies in the allocator ("memory allocation of N bytes failed", exit 134), or runs for
//! centuries. Here the size of what a run holds (agents and their accounts, book levels, the
//! per-block trace) and what a command holds at once (runs in flight on every thread, the
//! rows of a point or of every run) is estimated from the configuration, and compared with a
//! memory budget the command line passes in (the machine's available memory, or
//! `--max-memory`), and the work (runs x blocks x actors) with [`MAX_WORK`]. Too large is a
//! [`ConfigError`] naming the key that drives the estimate (exit 2), never an abort.
//!
//! The estimate is deliberately generous (a few KiB per agent, a fixed allowance per run);
//! it guards against orders of magnitude, not against the last percent.

use crate::config::ScenarioConfig;
use crate::load::ConfigError;
use crate::metrics::METRICS;
use crate::sweep::{SCENARIO_AXIS, Sweep, point_scenario};
use cascade_core::ConfigIssue;
use std::path::Path;

/// Bytes a run holds per agent (the agent, its wallet's ledger row, its engine account and
/// index entries).
pub const PER_AGENT: u64 = 4096;
/// Bytes per genesis book level and side (the resting order and its place in the book).
pub const PER_LEVEL: u64 = 256;
/// Bytes a run holds regardless of its size (the World, the engine, the price model).
pub const PER_RUN: u64 = 4 << 20;
/// Bytes of one run's stored metric row (the values and the vector holding them).
pub const PER_ROW: u64 = METRICS.len() as u64 * 8 + 64;
/// The most work a command may ask for: runs x blocks x (agents + venues + oracles + 1).
/// At 10^8 agent-blocks per second this is about four months of computing.
pub const MAX_WORK: f64 = 1e15;

/// The memory a command may use.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Bytes; `None`: no memory bound (the available memory is unknown).
    pub bytes: Option<u64>,
    /// Where the figure comes from, for messages ("MemAvailable in /proc/meminfo").
    pub source: String,
}

/// What a command does with a scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// `cascade run`: every run's row is kept (for the summary); traces of a batch are held.
    Run {
        runs: u64,
        /// The key that sets `runs` (`run.runs` or `--runs`).
        runs_key: String,
        threads: u64,
        trace: bool,
    },
    /// One point of a sweep: a point's rows are held while it is written and aggregated.
    Sweep {
        runs: u64,
        points: u64,
        threads: u64,
    },
    /// `cascade replay`: one run with its trace.
    Replay,
}

/// One part of an estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The key that drives it.
    pub key: String,
    pub bytes: u64,
    /// What it counts, e.g. "1000000000 agents x 4 KiB".
    pub what: String,
}

/// An estimate of memory and work.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub bytes: u64,
    pub work: f64,
    pub terms: Vec<Term>,
    /// The key that drives the work (`runs`), and its breakdown.
    pub work_key: String,
    pub work_what: String,
}

/// Bytes in words: "3.7 GiB".
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    for (unit, size) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)] {
        if bytes >= size {
            return format!("{:.1} {unit}", b / size as f64);
        }
    }
    format!("{:.1} KiB", b / 1024.0)
}

/// Parse a `--max-memory` figure: bytes, or a number with K, M, G or T (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => {
                    return Err(format!(
                        "\"{s}\" is not a size (bytes, or a whole number with K, M, G or T)"
                    ));
                }
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num.trim().parse().map_err(|_| {
        format!("\"{s}\" is not a size (bytes, or a whole number with K, M, G or T)")
    })?;
    n.checked_mul(mult)
        .filter(|b| *b > 0)
        .ok_or_else(|| format!("\"{s}\" must be between 1 byte and 16 EiB"))
}

/// The agents of each population, by key.
fn populations(cfg: &ScenarioConfig) -> Vec<(String, u64, Option<u64>)> {
    cfg.agents
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let v = serde_json::to_value(a).unwrap_or_default();
            let count = v.get("count").and_then(|c| c.as_u64()).unwrap_or(1);
            let levels = v.get("levels").and_then(|c| c.as_u64());
            (format!("agents[{i}]"), count, levels)
        })
        .collect()
}

/// Bytes one run of `cfg` holds (without its trace), as terms.
pub fn run_terms(cfg: &ScenarioConfig) -> Vec<Term> {
    let mut terms = vec![Term {
        key: "--threads".into(),
        bytes: PER_RUN,
        what: format!("{} per run in flight", human(PER_RUN)),
    }];
    for (key, count, levels) in populations(cfg) {
        terms.push(Term {
            key: format!("{key}.count"),
            bytes: count.saturating_mul(PER_AGENT),
            what: format!("{count} agents x {} KiB", PER_AGENT / 1024),
        });
        if let Some(l) = levels {
            let orders = count.saturating_mul(l).saturating_mul(2);
            terms.push(Term {
                key: format!("{key}.levels"),
                bytes: orders.saturating_mul(PER_LEVEL),
                what: format!("{count} x {l} levels x 2 sides x {PER_LEVEL} bytes"),
            });
        }
    }
    for (i, v) in cfg.venues.iter().enumerate() {
        if let cascade_market::venue::VenueConfig::Clob { levels, .. } = v {
            let l = *levels as u64;
            terms.push(Term {
                key: format!("venues[{i}].levels"),
                bytes: l.saturating_mul(2 * PER_LEVEL),
                what: format!("{l} levels x 2 sides x {PER_LEVEL} bytes"),
            });
        }
    }
    terms
}

/// Bytes of one run's per-block trace.
pub fn trace_bytes(cfg: &ScenarioConfig) -> u64 {
    let per_block = 64 + 8 * (3 * cfg.assets.len() as u64 + cfg.venues.len() as u64) + 96;
    cfg.chain.blocks().saturating_mul(per_block)
}

fn sum(terms: &[Term]) -> u64 {
    terms.iter().fold(0u64, |a, t| a.saturating_add(t.bytes))
}

/// The estimate of `job` on `cfg`.
pub fn estimate(cfg: &ScenarioConfig, job: &Job) -> Estimate {
    let per_run = run_terms(cfg);
    let blocks = cfg.chain.blocks();
    let actors = populations(cfg).iter().map(|p| p.1).sum::<u64>() as f64
        + cfg.venues.len() as f64
        + cfg.oracles.len() as f64
        + 1.0;
    let scale = |terms: &[Term], k: u64, why: &str| -> Vec<Term> {
        terms
            .iter()
            .map(|t| Term {
                key: t.key.clone(),
                bytes: t.bytes.saturating_mul(k),
                what: format!("{}, {k} {why}", t.what),
            })
            .collect()
    };
    let (terms, runs, runs_key) = match job {
        Job::Run {
            runs,
            runs_key,
            threads,
            trace,
        } => {
            let t = (*threads).max(1);
            let mut terms = scale(&per_run, t, "runs at once");
            if *trace {
                // A batch of 4 runs per thread holds its traces until they are written.
                terms.push(Term {
                    key: "chain.duration_s".into(),
                    bytes: trace_bytes(cfg).saturating_mul(4 * t),
                    what: format!("{blocks} blocks of trace, {} runs per batch", 4 * t),
                });
            }
            terms.push(Term {
                key: runs_key.clone(),
                bytes: runs.saturating_mul(PER_ROW).saturating_mul(3),
                what: format!("{runs} rows of {PER_ROW} bytes, kept for the summary"),
            });
            (terms, *runs, runs_key.clone())
        }
        Job::Sweep {
            runs,
            points,
            threads,
        } => {
            let mut terms = scale(&per_run, (*threads).max(1), "runs at once");
            // A point's rows: the runs file being filled, read back and sorted to aggregate.
            terms.push(Term {
                key: "runs".into(),
                bytes: runs.saturating_mul(PER_ROW).saturating_mul(3),
                what: format!("{runs} rows of {PER_ROW} bytes per point"),
            });
            terms.push(Term {
                key: "axis".into(),
                bytes: points.saturating_mul(METRICS.len() as u64 * 128),
                what: format!("{points} points' aggregates"),
            });
            (terms, runs.saturating_mul(*points), "runs".to_string())
        }
        Job::Replay => {
            let mut terms = per_run;
            terms.push(Term {
                key: "chain.duration_s".into(),
                bytes: trace_bytes(cfg),
                what: format!("{blocks} blocks of trace"),
            });
            (terms, 1, "run".to_string())
        }
    };
    Estimate {
        bytes: sum(&terms),
        work: runs as f64 * blocks as f64 * actors,
        terms,
        work_key: runs_key,
        work_what: format!("{runs} runs x {blocks} blocks x {actors} actors"),
    }
}

/// Refuse an estimate over the budget or over [`MAX_WORK`], naming the key that drives it.
pub fn check(file: &Path, est: &Estimate, budget: &Budget) -> Result<(), ConfigError> {
    let mut issues = Vec::new();
    if let Some(max) = budget.bytes
        && est.bytes > max
    {
        let driver = est
            .terms
            .iter()
            .max_by_key(|t| t.bytes)
            .expect("an estimate has terms");
        issues.push(ConfigIssue {
            key: driver.key.clone(),
            rule: format!(
                "needs about {} of memory ({}: {}; {} in all), more than the {} allowed ({}); lower it, or pass --max-memory if the estimate is wrong",
                human(est.bytes),
                driver.key,
                driver.what,
                human(est.bytes),
                human(max),
                budget.source
            ),
        });
    }
    if est.work > MAX_WORK {
        issues.push(ConfigIssue {
            key: est.work_key.clone(),
            rule: format!(
                "asks for {:.1e} agent-block steps ({}); at most {MAX_WORK:.0e} are allowed (months of computing)",
                est.work, est.work_what
            ),
        });
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ConfigError {
            file: file.to_path_buf(),
            issues,
        })
    }
}

/// Whether an axis changes the size of a run.
fn sizes_a_run(key: &str) -> bool {
    key == SCENARIO_AXIS
        || ["count", "levels", "duration_s", "block_time_s"]
            .iter()
            .any(|k| key == *k || key.ends_with(&format!(".{k}")))
}

/// Check a sweep: the largest point (every point when an axis changes a run's size, else
/// each base scenario) on `threads` threads.
pub fn check_sweep(sweep: &Sweep, threads: u64, budget: &Budget) -> Result<Estimate, ConfigError> {
    let job = Job::Sweep {
        runs: sweep.spec.runs,
        points: sweep.points.len() as u64,
        threads,
    };
    let mut worst: Option<Estimate> = None;
    let mut consider = |cfg: &ScenarioConfig| {
        let e = estimate(cfg, &job);
        if worst.as_ref().is_none_or(|w| e.bytes > w.bytes) {
            worst = Some(e);
        }
    };
    let mut work = 0.0f64;
    if sweep.axes.iter().any(|k| sizes_a_run(k)) {
        for p in &sweep.points {
            let s = point_scenario(&sweep.scenarios, &sweep.axes, p)?;
            work += estimate(&s.config, &job).work / sweep.points.len().max(1) as f64;
            consider(&s.config);
        }
    } else {
        for b in &sweep.scenarios {
            let s = crate::load::scenario_from_tree(&b.file, b.tree.clone())?;
            let e = estimate(&s.config, &job);
            work = work.max(e.work);
            consider(&s.config);
        }
    }
    let mut est = worst.expect("a sweep has a scenario");
    est.work = work;
    check(&sweep.file, &est, budget)?;
    Ok(est)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert_eq!(parse_bytes("2K").unwrap(), 2048);
        assert_eq!(parse_bytes("3g").unwrap(), 3 << 30);
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("1.5G").is_err());
        assert!(parse_bytes("9999999999T").is_err());
        assert!(parse_bytes("12X").is_err());
    }
}
