//! The ledger conserves every token after every block of full runs, and pools' reserves always
//! equal their ledger balances.

mod common;

use cascade_sim::World;

#[test]
fn every_block_conserves_every_token() {
    let s = common::from_text(common::SMALL).unwrap();
    for run in 0..3 {
        let mut w = World::new(&s, 99, run).unwrap();
        w.enable_ledger_checks();
        let row = w.run().unwrap_or_else(|e| panic!("run {run}: {e}"));
        // The run did something: transactions were included.
        assert!(row.get("txs_included").unwrap() > 100.0);
    }
}

#[test]
fn quickstart_and_shipped_scenarios_conserve() {
    for f in [
        "configs/scenarios/quickstart.toml",
        "configs/scenarios/crash_congestion.toml",
        "configs/scenarios/oracle_lag.toml",
        "configs/scenarios/gen1.toml",
        "configs/scenarios/gen2.toml",
        "configs/scenarios/gen3.toml",
        "configs/scenarios/black_thursday.toml",
        "configs/scenarios/mev_competition.toml",
        "configs/scenarios/liquidity_crunch.toml",
    ] {
        let s = common::scenario(f, &["chain.duration_s=7200"]);
        let mut w = World::new(&s, 1, 0).unwrap();
        w.enable_ledger_checks();
        w.run().unwrap_or_else(|e| panic!("{f}: {e}"));
    }
}
