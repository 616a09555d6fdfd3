//! TWAP manipulation (configs/scenarios/twap_manipulation.toml): the MEV bot pushes the thin
//! pool the engine's TWAP oracle reads only when the campaign pays. On the shipped thin pool it
//! pushes, liquidates accounts that nobody liquidates without it, and profits; on a pool a
//! hundred times deeper every campaign loses and it never pushes. The ledger is conserved after
//! every block of both, and the runs are reproducible.

mod common;

use cascade_core::event::Event;
use cascade_core::{HolderId, VenueId};
use cascade_sim::World;
use cascade_sim::metrics::MetricRow;

const FILE: &str = "configs/scenarios/twap_manipulation.toml";
/// Two hours: the first campaign starts once the 10-minute window has a history.
const SHORT: &str = "chain.duration_s=7200";

/// Run 0 with ledger checks after every block; returns the metrics and the number of the
/// bot's own swaps on the thin pool (its pushes and buy-backs).
fn run(sets: &[&str]) -> (MetricRow, usize) {
    let mut all = vec![SHORT];
    all.extend_from_slice(sets);
    let s = common::scenario_legacy(FILE, &all);
    let mut w = World::new(&s, 77, 0).unwrap();
    w.enable_ledger_checks();
    w.enable_events();
    let bot: HolderId = w
        .actors()
        .iter()
        .find(|a| a.label == "mev_bot-0")
        .expect("the scenario has a MEV bot")
        .holder;
    let mut pushes = 0;
    while w.running() {
        w.step().unwrap_or_else(|e| panic!("{e}"));
        for e in w.drain_events() {
            if let Event::Swap { trader, venue, .. } = e
                && trader == bot
                && venue == VenueId(0)
            {
                pushes += 1;
            }
        }
    }
    (w.metrics(), pushes)
}

fn get(row: &MetricRow, k: &str) -> f64 {
    row.get(k).unwrap_or_else(|| panic!("metric {k}"))
}

#[test]
fn the_bot_manipulates_a_thin_pool_for_profit() {
    let (with, pushes) = run(&[]);
    let (without, none) = run(&["agents.4.manipulate=false"]);
    assert_eq!(none, 0, "a bot with manipulate = false never trades");
    assert!(pushes > 20, "the bot pushed the pool: {pushes} swaps");
    let mev = get(&with, "mev_profit");
    assert!(mev > 10_000.0, "manipulation pays: mev_profit = {mev}");
    // The accounts it liquidates would not have been liquidated without it.
    let (l1, l0) = (get(&with, "liquidations"), get(&without, "liquidations"));
    assert!(
        l1 > 3.0 * l0 + 50.0,
        "liquidations {l1} with the bot, {l0} without"
    );
    // Its pushes are paid for again every block: the arbitrageurs earn from pulling the pool
    // back what the bot loses on the pushes.
    let (a1, a0) = (get(&with, "arb_profit"), get(&without, "arb_profit"));
    assert!(
        a1 > 10.0 * a0 + 10_000.0,
        "arb_profit {a1} with, {a0} without"
    );
    // The oracle was moved away from the market.
    assert!(get(&with, "oracle_max_deviation") > 0.05);
    assert!(get(&without, "oracle_max_deviation") < 0.03);
}

#[test]
fn a_deep_pool_makes_manipulation_unprofitable() {
    // A hundred times the depth: each push costs a hundred times more for the same move of the
    // TWAP, every campaign's expected profit is negative, and the bot does not push. It still
    // liquidates what the market alone makes liquidatable (first, in bundles).
    let (row, pushes) = run(&[
        "venues.0.reserve_base=25000",
        "venues.0.reserve_quote=50000000",
    ]);
    let (base, _) = run(&[
        "venues.0.reserve_base=25000",
        "venues.0.reserve_quote=50000000",
        "agents.4.manipulate=false",
    ]);
    assert_eq!(pushes, 0, "no push on a deep pool");
    assert!(get(&row, "oracle_max_deviation") < 0.03);
    assert_eq!(get(&row, "liquidations"), get(&base, "liquidations"));
}

#[test]
fn manipulation_runs_are_reproducible() {
    let s = common::scenario(FILE, &[SHORT]);
    let a = cascade_sim::runner::run_one(&s, 5, 1, false).unwrap().row.0;
    let b = cascade_sim::runner::run_one(&s, 5, 1, false).unwrap().row.0;
    assert_eq!(
        a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
}
