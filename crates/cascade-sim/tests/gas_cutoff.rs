//! Gas against the liquidation bonus (validation.md section 3): a liquidator gains
//! `bonus * debt - gas - slippage`, so below the debt `D* = gas / ((1 + b)(1 - f) - 1)` no
//! rational liquidator acts, and those positions end as bad debt. The test runs a crash that
//! makes every borrower liquidatable and checks the cut-off against the analytic one.

mod common;

use cascade_core::event::Event;
use cascade_sim::World;
use std::collections::BTreeSet;

const SCENARIO: &str = r#"
name = "gas_cutoff"
[chain]
block_time_s = 12.0
duration_s = 10800.0
[[assets]]
name = "ETH"
process = { kind = "scripted", points = [[0.0, 2000.0], [1800.0, 2000.0], [9000.0, 1000.0]] }
[gas]
mode = "flat"
base_fee_gwei = BASE
native_price = 2000.0
[[oracles]]
asset = "ETH"
feed = { kind = "push", deviation = 0.002, heartbeat_s = 600.0, latency_blocks = 0, max_fee_gwei = 100000.0, tip_gwei = 50.0 }
[[venues]]
name = "amm"
kind = "cpmm"
asset = "ETH"
reserve_base = 100_000.0
reserve_quote = 200_000_000.0
fee = 0.003
[[agents]]
kind = "arbitrageur"
count = 1
[[agents]]
kind = "trader"
count = 120
capital = 100_000.0
inventory = 100.0
open_prob = 1.0
size_mean = 3_000.0
size_sigma = 1.0
leverage_min = 4.0
leverage_max = 4.0
perp_share = 0.0
close_prob = 0.0
[[agents]]
kind = "liquidator"
count = 1
tip_gwei = 1.0
max_per_block = 50
[engine]
margin = { kind = "fixed", initial = 0.2, maintenance = 0.1 }
liquidation = { kind = "full", bonus = 0.05 }
waterfall = [ { kind = "socialize" } ]
"#;

#[test]
fn positions_below_the_gas_cutoff_are_left_to_bad_debt() {
    let base_gwei = 40.0;
    let s = common::from_text(&SCENARIO.replace("BASE", &base_gwei.to_string())).unwrap();
    let mut w = World::new(&s, 4, 0).unwrap();
    w.enable_events();
    w.enable_ledger_checks();
    let mut liquidated = BTreeSet::new();
    let mut notional = Vec::new();
    while w.running() {
        w.step().unwrap();
        for e in w.drain_events() {
            if let Event::Engine {
                kind,
                account: Some(a),
                amount,
                ..
            } = e
                && kind == "liquidation"
            {
                liquidated.insert(a);
                notional.push(amount.to_whole());
            }
        }
    }
    // Analytic cut-off: gas = 400,000 gas at (40 + 1) gwei with ETH at 2000 quote = 32.8;
    // a full liquidation of debt D sells D (1 + b) of collateral through a 0.3% fee:
    // profit = D ((1 + b)(1 - f) - 1) - gas, zero at D* = 32.8 / 0.04685 = 700.
    let gas = 400_000.0 * (base_gwei + 1.0) * 1e-9 * 2000.0;
    let d_star = gas / (1.05 * 0.997 - 1.0);
    let engine = w.engine().unwrap();
    let (mut small_left, mut big_done) = (0, 0);
    for (i, acc) in engine.accounts().iter().enumerate() {
        let id = cascade_core::AccountId(i as u32);
        if liquidated.contains(&id) {
            continue;
        }
        // Never liquidated: its debt is the opening debt.
        let d = acc.debt.to_whole();
        assert!(
            d < d_star * 1.1,
            "account {i} with debt {d} > D* = {d_star} was never liquidated"
        );
        if d > 0.0 {
            small_left += 1;
        }
    }
    for n in &notional {
        // Every liquidation repaid at least about D* (slippage and price moves within a block
        // widen the band a little).
        assert!(
            *n > d_star * 0.9,
            "a liquidation of {n} below D* = {d_star}"
        );
        big_done += 1;
    }
    assert!(
        small_left > 5,
        "the lognormal sizes put several positions under D*: {small_left}"
    );
    assert!(big_done > 30, "{big_done} liquidations");
    // The positions left behind end under water: bad debt.
    let row = w.metrics();
    assert!(row.get("bad_debt").unwrap() > 0.0);
}

#[test]
fn raising_gas_above_the_bonus_of_small_positions_raises_bad_debt() {
    // The same crash and seed at 1 gwei (D* = 2.8 x 42 / 2 = 17 quote, about 1/40 of the cut-off
    // at 40 gwei) and at 400 gwei (D* about 6,900): the dearer gas leaves more positions
    // unliquidated and more bad debt.
    let run = |base_gwei: f64| {
        let s = common::from_text(&SCENARIO.replace("BASE", &base_gwei.to_string())).unwrap();
        let mut w = World::new(&s, 4, 0).unwrap();
        let row = w.run().unwrap();
        (
            row.get("liquidations").unwrap(),
            row.get("bad_debt").unwrap(),
        )
    };
    let (liq_cheap, bad_cheap) = run(1.0);
    let (liq_dear, bad_dear) = run(400.0);
    assert!(
        liq_dear < liq_cheap,
        "{liq_dear} vs {liq_cheap} liquidations"
    );
    assert!(bad_dear > bad_cheap, "bad debt {bad_dear} vs {bad_cheap}");
    assert!(bad_dear > 0.0);
}
