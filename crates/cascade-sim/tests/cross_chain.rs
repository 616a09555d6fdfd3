//! Cross-chain collateral (`engine.cross_chain = { kind = "bridge" }`) end to end: the ledger,
//! the engine's claims and the bridge escrow balance after every block with the bridge on;
//! the metrics are defined (0) when off; runs are the same bits at any thread count (the
//! bridge draws only from its own stream); a bad value is refused with its key.

mod common;

use cascade_sim::World;

#[test]
fn every_block_conserves_with_the_bridge() {
    let s = common::scenario(
        "configs/scenarios/cross_chain.toml",
        &["chain.duration_s=14400"],
    );
    for run in 0..2 {
        let mut w = World::new(&s, 7, run).unwrap();
        w.enable_ledger_checks();
        let row = w.run().unwrap_or_else(|e| panic!("run {run}: {e}"));
        assert!(row.get("liquidations").unwrap() > 0.0, "run {run}");
        assert!(row.get("remote_liquidation_delay_s_mean").unwrap() > 900.0);
        assert!(row.get("bridge_fees").unwrap() > 0.0);
    }
}

#[test]
fn off_is_gen3_and_the_bridge_metrics_are_zero() {
    let gen3 = common::scenario("configs/scenarios/gen3.toml", &[]);
    let off = common::scenario(
        "configs/scenarios/cross_chain.toml",
        &["engine.cross_chain={kind=\"off\"}"],
    );
    for run in 0..2 {
        let a = World::new(&gen3, 2024, run).unwrap().run().unwrap();
        let b = World::new(&off, 2024, run).unwrap().run().unwrap();
        assert_eq!(a, b, "run {run}");
        for m in [
            "remote_liquidation_delay_s_mean",
            "bridge_bad_debt",
            "bridge_messages_failed",
            "bridge_fees",
        ] {
            assert_eq!(b.get(m), Some(0.0), "{m}");
        }
    }
}

/// The error of loading the scenario with `sets` (it must fail), as text.
fn try_scenario(sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let path = common::repo().join("configs/scenarios/cross_chain.toml");
    match cascade_sim::load::load_scenario(&path, &sets) {
        Ok(_) => panic!("{sets:?} accepted"),
        Err(e) => format!("{e}"),
    }
}

#[test]
fn a_bad_bridge_value_is_refused_with_its_key() {
    let err = try_scenario(&["engine.cross_chain.failure_prob=1.5"]);
    assert!(err.contains("engine.cross_chain.failure_prob"), "{err}");
    let err = try_scenario(&[
        "engine.liquidation={kind=\"dutch_auction\", start_premium=1.2, curve=\"stairstep\", step_s=90, cut=0.99, tail_s=8400, cusp=0.4, tip=50, chip=0.001, chop=0.13}",
    ]);
    assert!(err.contains("engine.cross_chain"), "{err}");
}
