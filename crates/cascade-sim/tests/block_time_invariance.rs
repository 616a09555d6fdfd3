//! Block-time invariance of agent rates in a whole World: noise traders with a rate per hour
//! trade as often per hour on 2, 12 and 30 s chains, fixed or exponential block times.
//!
//! Twenty noise traders at 2 trades per hour each, on a flat price with one pool and no
//! oracle updates (deviation 0.9, heartbeat 1e9 s), for 24 hours: 960 expected trades per
//! run, 3,840 over four runs (Poisson standard error 62). Each count must be within 4 standard
//! errors of the expectation; what remains is discretisation (at most one trade per trader
//! per block, about `rate dt / 7200` fewer: 0.8% at 30 s, half a standard error).

mod common;

use cascade_sim::World;

const N: f64 = 20.0;
const RATE: f64 = 2.0;
const HOURS: f64 = 24.0;
const RUNS: u64 = 4;

fn trades(block_time_s: f64, dist: &str) -> f64 {
    let text = format!(
        r#"
name = "invariance"
[run]
runs = {RUNS}
seed = 3
[chain]
block_time_s = {block_time_s:?}
block_time_dist = "{dist}"
duration_s = {duration:?}
[[assets]]
name = "ETH"
price = 2000.0
process = {{ kind = "gbm", mu = 0.0, sigma = 0.0 }}
[[oracles]]
asset = "ETH"
feed = {{ kind = "push", deviation = 0.9, heartbeat_s = 1e9, latency_s = 0.0 }}
[[venues]]
name = "amm"
kind = "cpmm"
asset = "ETH"
reserve_base = 100_000.0
reserve_quote = 200_000_000.0
[[agents]]
kind = "noise_trader"
count = {N}
trade_per_hour = {RATE:?}
size_mean = 1000.0
size_sigma = 0.5
max_slippage = 0.5
capital = 100_000_000.0
inventory = 50_000.0
"#,
        duration = HOURS * 3600.0,
    );
    let s = common::from_text(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut total = 0.0;
    for run in 0..RUNS {
        let mut w = World::new(&s, 3, run).unwrap();
        let row = w.run().unwrap_or_else(|e| panic!("{e}"));
        total += row.get("txs_included").expect("txs_included");
    }
    total
}

#[test]
fn noise_trades_per_hour_do_not_depend_on_the_block_time() {
    let expected = N * RATE * HOURS * RUNS as f64;
    let se = expected.sqrt();
    for dist in ["fixed", "exponential"] {
        for bt in [2.0, 12.0, 30.0] {
            let n = trades(bt, dist);
            let z = (n - expected) / se;
            println!(
                "{dist} {bt:>4} s blocks: {n} trades, expected {expected} +- {se:.0} (z {z:.2})"
            );
            assert!(
                z.abs() < 4.0,
                "{dist} {bt} s: {n} trades, expected {expected} +- {se:.0}"
            );
        }
    }
}
