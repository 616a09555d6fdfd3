//! The oracle-move circuit breaker trips on every move above its threshold, whenever in the
//! block the engine's price changes.
//!
//! With push oracles the engine's price changes when a publication transaction lands, in the
//! middle of a block; the next block then starts from the moved price. A breaker that compared
//! only block-start prices would see no move at all. A scripted path jumps through a push
//! oracle (+10%, -10%, +3%, +7.8%, each within one block, hours apart); the breaker's
//! threshold is 5%. Expected: one trip at each landed update whose price differs from the
//! previous engine price by more than 5%, in the block where it lands — three here; the 3%
//! jump trips nothing.

mod common;

use cascade_core::event::Event;
use cascade_sim::World;

const SCENARIO: &str = r#"
name = "breaker_jumps"
[chain]
block_time_s = 12.0
duration_s = 18000.0
[[assets]]
name = "ETH"
process = { kind = "scripted", points = [[0.0, 2000.0], [3600.0, 2000.0], [3612.0, 2200.0], [7200.0, 2200.0], [7212.0, 1980.0], [10800.0, 1980.0], [10812.0, 2040.0], [14400.0, 2040.0], [14412.0, 2200.0]] }
[gas]
mode = "flat"
base_fee_gwei = 1.0
native_price = 2000.0
[[oracles]]
asset = "ETH"
feed = { kind = "push", deviation = 0.01, heartbeat_s = 3600.0, latency_s = 12.0 }
[[venues]]
name = "amm"
kind = "cpmm"
asset = "ETH"
reserve_base = 1000.0
reserve_quote = 2000000.0
[engine]
margin = { kind = "fixed", initial = 0.2, maintenance = 0.1 }
liquidation = { kind = "full", bonus = 0.05 }
waterfall = [ { kind = "socialize" } ]
breakers = { max_oracle_move = 0.05, pause_s = 60.0, grace_s = 0.0 }
"#;

#[test]
fn every_oracle_move_above_the_threshold_trips_the_breaker_in_its_block() {
    let s = common::from_text(SCENARIO).unwrap();
    let mut w = World::new(&s, 1, 0).unwrap();
    w.enable_events();
    w.enable_ledger_checks();
    let mut updates: Vec<(u64, f64)> = Vec::new();
    let mut trips: Vec<u64> = Vec::new();
    while w.running() {
        w.step().unwrap();
        for e in w.drain_events() {
            match e {
                Event::OracleUpdate { block, price, .. } => updates.push((block, price)),
                Event::Engine { block, kind, .. } if kind == "breaker_trip" => trips.push(block),
                _ => {}
            }
        }
    }
    // The engine's price is the one push feed's: each landed update moves it from the last.
    let mut expected = Vec::new();
    let mut last = 2000.0;
    for &(block, price) in &updates {
        if (price / last - 1.0).abs() > 0.05 {
            expected.push(block);
        }
        last = price;
    }
    assert_eq!(
        expected.len(),
        3,
        "the path has three jumps above 5%: {updates:?}"
    );
    assert_eq!(
        trips, expected,
        "one trip per move above the threshold, in its block"
    );
    let m = w.metrics();
    assert_eq!(m.get("breaker_trips"), Some(3.0));
}
