//! Gas against the liquidation bonus (docs/references.md, R26): a liquidator gains
//! `bonus * debt - gas - slippage`, so below the debt `D* = gas / ((1 + b)(1 - f) - 1)` no
//! rational liquidator acts, and those positions end as bad debt. The test runs a crash that
//! makes every borrower liquidatable and checks the cut-off against the analytic one.
//!
//! Formula (a full liquidation of debt `D` at bonus `b`, flash-selling the seized `D (1 + b)`
//! of collateral through a constant-product pool of fee `f` at the oracle price, gas `G`):
//! `profit = D ((1 + b)(1 - f) - 1) - G - slippage`; the slippage of selling `q` quote worth
//! into a pool of quote depth `Y` is `q^2 / Y` to first order, below 1e-5 of `q` here (a pool
//! of 2e8 quote, positions of a few thousand), so `D* = G / ((1 + b)(1 - f) - 1)`.
//! Tolerance: the test is deterministic (one seeded run), and the sale price differs from the
//! oracle price by at most the oracle's deviation threshold (0.2%) plus the pool's no-arbitrage
//! band (its fee, 0.3%); a relative error `e` in the sale price moves the cut-off by
//! `e (1 + b) / ((1 + b)(1 - f) - 1)`, so the observed cut-off must lie within
//! `CUTOFF_BAND = 0.005 * 1.05 / 0.04685 = 11.2%` of `D*` on either side: every account left
//! alone is below `D* (1 + CUTOFF_BAND)`, every liquidation above `D* (1 - CUTOFF_BAND)`, and
//! the largest account left alone and the smallest one liquidated both lie in that band.

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
feed = { kind = "push", deviation = 0.002, heartbeat_s = 600.0, latency_s = 0.0, max_fee_gwei = 100000.0, tip_gwei = 50.0 }
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
open_per_hour = inf
size_mean = 3_000.0
size_sigma = 1.0
leverage_min = 4.0
leverage_max = 4.0
perp_share = 0.0
close_per_hour = 0.0
habits = "mechanical"
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
            if let Event::Liquidation {
                account,
                notional: n,
                ..
            } = e
            {
                liquidated.insert(account);
                // The liquidated notional is the collateral seized at p_ref: D (1 + b) in a
                // full liquidation of debt D with bonus b = 0.05 (p_ref within the oracle's
                // deviation threshold of the oracle, inside the band below).
                notional.push(n.to_whole() / 1.05);
            }
        }
    }
    // Analytic cut-off: gas = 400,000 gas at (40 + 1) gwei with ETH at 2000 quote = 32.8;
    // a full liquidation of debt D sells D (1 + b) of collateral through a 0.3% fee:
    // profit = D ((1 + b)(1 - f) - 1) - gas, zero at D* = 32.8 / 0.04685 = 700.
    let gas = 400_000.0 * (base_gwei + 1.0) * 1e-9 * 2000.0;
    let margin = 1.05 * 0.997 - 1.0;
    let d_star = gas / margin;
    // Oracle deviation threshold plus the pool's fee band, as a relative error of the sale
    // price, carried through to the cut-off.
    let band = (0.002 + 0.003) * 1.05 / margin;
    let (mut largest_left, mut smallest_done) = (0.0f64, f64::INFINITY);
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
            d < d_star * (1.0 + band),
            "account {i} with debt {d} > D* = {d_star} was never liquidated"
        );
        if d > 0.0 {
            small_left += 1;
            largest_left = largest_left.max(d);
        }
    }
    for n in &notional {
        // Every liquidation repaid at least about D* (slippage and price moves within a block
        // widen the band a little).
        assert!(
            *n > d_star * (1.0 - band),
            "a liquidation of {n} below D* = {d_star}"
        );
        smallest_done = smallest_done.min(*n);
        big_done += 1;
    }
    println!(
        "D* = {d_star:.1}: largest debt left alone {largest_left:.1}, smallest liquidated {smallest_done:.1} (band +-{:.1}%)",
        band * 100.0
    );
    // The observed cut-off: both sides of it lie within the band around D*.
    assert!(largest_left > d_star * (1.0 - band), "{largest_left}");
    assert!(smallest_done < d_star * (1.0 + band), "{smallest_done}");
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
