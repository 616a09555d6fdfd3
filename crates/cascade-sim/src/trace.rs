//! The per-block path of runs as CSV (`cascade run --trace`): one row per run and block with
//! each asset's exogenous, reference and oracle prices, each venue's price, the gas market and,
//! with a margin engine, its insurance fund and open interest.

use crate::config::ScenarioConfig;
use crate::world::BlockRecord;
use std::io::{self, Write};

/// The CSV header for a scenario.
pub fn header(cfg: &ScenarioConfig) -> Vec<String> {
    let mut h = vec!["run".to_string(), "block".into(), "t_s".into()];
    for a in &cfg.assets {
        h.push(format!("{}_p_exo", a.name));
        h.push(format!("{}_p_ref", a.name));
        h.push(format!("{}_oracle", a.name));
    }
    for v in cfg.onchain_venues() {
        h.push(format!("{}_price", v.name()));
    }
    for c in [
        "base_fee_gwei",
        "gas_used",
        "background_gas",
        "txs",
        "reverted",
        "mempool",
    ] {
        h.push(c.into());
    }
    if cfg.engine.is_some() {
        h.push("insurance_fund".into());
        h.push("open_interest".into());
    }
    h
}

/// Write the header line.
pub fn write_header<W: Write>(w: &mut W, cfg: &ScenarioConfig) -> io::Result<()> {
    writeln!(w, "{}", header(cfg).join(","))
}

/// Write one run's records. Floats use Rust's shortest round-trip form, so the file is
/// byte-identical whenever the run is.
pub fn write_run<W: Write>(w: &mut W, run: u64, records: &[BlockRecord]) -> io::Result<()> {
    let mut line = String::with_capacity(256);
    for r in records {
        line.clear();
        use std::fmt::Write as _;
        let _ = write!(line, "{run},{},{}", r.block, r.t_s);
        for a in 0..r.p_ref.len() {
            let _ = write!(line, ",{},{},{}", r.p_exo[a], r.p_ref[a], r.oracle[a]);
        }
        for p in &r.venue_price {
            let _ = write!(line, ",{p}");
        }
        let _ = write!(
            line,
            ",{},{},{},{},{},{}",
            r.base_fee_gwei, r.gas_used, r.background_gas, r.txs, r.reverted, r.mempool
        );
        if let (Some(f), Some(oi)) = (r.insurance_fund, r.open_interest) {
            let _ = write!(line, ",{f},{oi}");
        }
        writeln!(w, "{line}")?;
    }
    Ok(())
}
