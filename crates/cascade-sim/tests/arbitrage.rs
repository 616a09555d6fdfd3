//! Arbitrageurs keep the pool at the reference price through a trend, because they hedge off
//! chain; without the hedge they run out of inventory and the pool is left behind.

mod common;

use cascade_sim::World;

/// The 90th percentile of the relative gap between the pool and `p_ref` over the last hour of
/// a 45% crash (a percentile, because a large noise trade can open a gap for one block).
fn late_gap(hedge: bool) -> f64 {
    let s = common::scenario(
        "configs/scenarios/crash_congestion.toml",
        &[
            &format!("agents.0.hedge={hedge}"),
            "gas.congestion_beta=0.0",
            "chain.duration_s=21600",
        ],
    );
    let mut w = World::new(&s, 3, 0).unwrap();
    w.enable_trace();
    w.enable_ledger_checks();
    w.run().unwrap();
    let trace = w.take_trace();
    let last_hour = trace.len() - 300;
    let mut gaps: Vec<f64> = trace[last_hour..]
        .iter()
        .map(|r| (r.venue_price[0] / r.p_ref[0] - 1.0).abs())
        .collect();
    gaps.sort_by(f64::total_cmp);
    gaps[gaps.len() * 9 / 10]
}

#[test]
fn hedged_arbitrage_tracks_a_crash_and_unhedged_runs_dry() {
    let hedged = late_gap(true);
    let unhedged = late_gap(false);
    // Fee 0.3% plus a block of drift and gas: the hedged pool stays within about 0.6%.
    assert!(hedged < 0.006, "hedged gap {hedged}");
    // Two arbitrageurs with 500 ETH each cannot absorb the ~1,700 ETH the pool must take.
    assert!(unhedged > 0.05, "unhedged gap {unhedged}");
}
