//! The memory budget of a command: `--max-memory`, else the machine's available memory.
//!
//! The model crates and cascade-sim never read the machine; the command line reads
//! `MemAvailable` from /proc/meminfo (and the address-space limit of `ulimit -v`, when lower)
//! here and passes the figure to `cascade_sim::bounds`, which
//! refuses a configuration whose estimate exceeds it (exit 2) before anything is allocated.

use cascade_sim::bounds::{Budget, Estimate, human, parse_bytes};

/// The budget from `--max-memory`, or from /proc/meminfo (no memory bound where it cannot be
/// read).
pub fn budget(max_memory: Option<&str>) -> Result<Budget, String> {
    if let Some(s) = max_memory {
        let bytes = parse_bytes(s).map_err(|e| format!("--max-memory {e}"))?;
        return Ok(Budget {
            bytes: Some(bytes),
            source: format!("--max-memory {s}"),
        });
    }
    let avail = mem_available().map(|b| (b, "MemAvailable in /proc/meminfo"));
    let limit = address_space_limit().map(|b| (b, "the address-space limit, ulimit -v"));
    let least = match (avail, limit) {
        (Some(a), Some(l)) => Some(if l.0 < a.0 { l } else { a }),
        (a, l) => a.or(l),
    };
    Ok(match least {
        Some((bytes, source)) => Budget {
            bytes: Some(bytes),
            source: source.into(),
        },
        None => Budget {
            bytes: None,
            source: "available memory unknown".into(),
        },
    })
}

/// The soft limit on this process's address space (`ulimit -v`), in bytes, if any.
fn address_space_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `MemAvailable` in bytes.
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// The worker threads a pool of `threads` (0: one per core) will have.
pub fn threads_of(threads: usize) -> u64 {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get()) as u64
    } else {
        threads as u64
    }
}

/// One line describing an estimate against a budget.
pub fn describe(est: &Estimate, budget: &Budget) -> String {
    format!(
        "estimated memory {} ({}), work {:.1e} agent-block steps",
        human(est.bytes),
        match budget.bytes {
            Some(b) => format!("{} allowed by {}", human(b), budget.source),
            None => budget.source.clone(),
        },
        est.work
    )
}
