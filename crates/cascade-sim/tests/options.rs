//! Options end to end: `short_vol_crash` liquidates put sellers with exact accounting, the
//! risk recomputation budget's defaults are exact (an unlimited budget gives the same row),
//! and a budget of one revaluation per block leaves liquidatable accounts unseen.

mod common;

use cascade_sim::World;

fn row(set: &[&str]) -> cascade_sim::metrics::MetricRow {
    let mut s: Vec<&str> = vec!["chain.duration_s=5400"];
    s.extend_from_slice(set);
    let sc = common::scenario("configs/scenarios/short_vol_crash.toml", &s);
    let mut w = World::new(&sc, 3, 0).unwrap();
    w.enable_ledger_checks();
    w.run().unwrap()
}

#[test]
fn short_vol_crash_liquidates_option_books_and_the_budget_defaults_are_exact() {
    let base = row(&[]);
    assert!(base.get("options_liquidations").unwrap() > 0.0);
    assert!(base.get("hedge_flow").unwrap() > 0.0);
    assert!(
        base.get("engine_gamma").unwrap() < 0.0,
        "put sellers are short gamma"
    );
    assert_eq!(base.get("stale_risk_blocks"), Some(0.0));
    let unlimited = row(&["engine.max_revaluations_per_block=1000000"]);
    assert_eq!(base, unlimited);
    // Under the standard rule the requirement follows each short's mark, so a stale one
    // misses accounts in the crash (under `portfolio` the worst-case figure moves much less
    // and stale figures rarely change a flag in this scenario).
    let standard = row(&["engine.option_margin={kind=\"standard\"}"]);
    assert_eq!(standard.get("stale_risk_blocks"), Some(0.0));
    let one = row(&[
        "engine.option_margin={kind=\"standard\"}",
        "engine.max_revaluations_per_block=1",
    ]);
    assert!(
        one.get("stale_risk_blocks").unwrap() > 0.0,
        "{:?} {:?}",
        one.get("stale_risk_blocks"),
        one.get("options_liquidations")
    );
}
