//! Intent-based liquidation (`engine.intents`): the solvers' escrow conserves every token
//! and holds exactly the live commitments' capital after every block; commitments take the
//! liquidations before the public race, and with the mode off nothing is committed or filled;
//! bad values are configuration errors naming their key.

mod common;

use cascade_sim::World;
use cascade_sim::load::{apply_overrides, scenario_from_tree};
use cascade_sim::metrics::MetricRow;
use std::path::Path;

const SCENARIO: &str = "configs/scenarios/intents.toml";

fn m(row: &MetricRow, name: &str) -> f64 {
    row.get(name).unwrap_or_else(|| panic!("no metric {name}"))
}

fn run(sets: &[&str], seed: u64) -> MetricRow {
    let s = common::scenario(SCENARIO, sets);
    let mut w = World::new(&s, seed, 0).unwrap();
    // Ledger conservation and the engine's invariants (the escrow's included) every block.
    w.enable_ledger_checks();
    w.run().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn escrow_conserves_and_commitments_fill_before_the_race() {
    for seed in [1, 2] {
        let on = run(&[], seed);
        let fills = m(&on, "intent_fills");
        assert!(fills > 10.0, "seed {seed}: {fills} fills");
        assert!(m(&on, "committed_capital_mean") > 100_000.0);
        // The 1.5% solver is cheapest: the accounts keep at least 2.5% of the notional
        // filled at it and at most 5% of every notional filled.
        let surplus = m(&on, "intent_surplus_to_protocol");
        assert!(surplus > 0.0);
        assert!(surplus <= 0.05 * m(&on, "liquidated_notional") + 1e-6);
        let off = run(&["engine.intents={kind=\"off\"}"], seed);
        assert_eq!(m(&off, "intent_fills"), 0.0);
        assert_eq!(m(&off, "intent_surplus_to_protocol"), 0.0);
        assert_eq!(m(&off, "committed_capital_mean"), 0.0);
        assert!(m(&off, "liquidations") > 10.0);
        // Filled at the update, the liquidations wait less than in the race.
        assert!(
            m(&on, "liquidation_delay_s_mean") <= m(&off, "liquidation_delay_s_mean"),
            "{on:?} vs {off:?}"
        );
    }
}

#[test]
fn commitments_too_small_for_any_fill_are_skipped_and_the_race_takes_all() {
    // Both solvers' commitments are too small for any one liquidation's notional: nothing
    // fills, everything goes to the public race, and the capital still conserves.
    let row = run(
        &[
            "agents.5.size=10.0",
            "agents.6.size=10.0",
            "engine.intents.min_size=1.0",
        ],
        3,
    );
    assert_eq!(m(&row, "intent_fills"), 0.0);
    assert!(m(&row, "liquidations") > 10.0);
}

fn broken(edit: &str) -> String {
    let text = std::fs::read_to_string(common::repo().join(SCENARIO)).unwrap();
    let mut tree: toml::Table = text.parse().unwrap();
    apply_overrides(Path::new("intents.toml"), &mut tree, &[edit.to_string()]).unwrap();
    match scenario_from_tree(Path::new("intents.toml"), tree) {
        Ok(_) => panic!("{edit}: accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_intent_values_name_their_key() {
    let e = broken("engine.intents.max_discount=0.08");
    assert!(e.contains("engine.intents.max_discount"), "{e}");
    assert!(e.contains("engine.liquidation.bonus"), "{e}");
    let e = broken("engine.intents.max_duration_s=0");
    assert!(e.contains("engine.intents.max_duration_s"), "{e}");
    let e = broken("agents.5.size=2e6");
    assert!(e.contains("size") && e.contains("capital"), "{e}");
    let e = broken("engine.intents={kind=\"sometimes\"}");
    assert!(e.contains("engine.intents"), "{e}");
}
