//! Block-time invariance in a whole World: every agent kind whose actions do not depend on
//! the discretisation acts as often per hour on 2, 12 and 30 s chains, fixed or exponential
//! block times; and the base fee's distribution does not depend on the block time.
//!
//! **Agents** (`actions_per_hour_do_not_depend_on_the_block_time`). A flat price (no crash,
//! nothing liquidatable), a flat 1-gwei base fee with room for everything, 24 hours, 2 runs:
//! - 20 noise traders at 2 trades per hour (swaps on the pool);
//! - 20 perp traders opening at 2 per hour when flat and closing at 2 per hour when open (a
//!   two-state Markov chain started flat: `E[opens] = o c T/(o+c) + o^2/(o+c)^2 (1 -
//!   e^{-(o+c)T})`, `E[closes] = o c T/(o+c) - o c/(o+c)^2 (1 - e^{-(o+c)T})`);
//! - 10 perp traders opening at 2 per hour and then, their health always below the top-up
//!   threshold, topping up at 4 per hour (`E = t (T - (1 - e^{-oT})/o)`);
//! - a market maker requoting every `refresh_s = 60` s, and a push oracle publishing on its
//!   600 s heartbeat: delays, so at fixed block times that divide them exactly `T / d` events,
//!   and at exponential block times `T / (d + bt)` (the first block after a delay comes a
//!   memoryless `Exp(bt)` later; renewal-count variance `T bt^2 / (d + bt)^3`).
//!
//! Each count must be within 4 standard errors of its expectation (for rates, the standard
//! error from the spread of per-agent counts; for delays, the renewal variance, plus one
//! event per run for where the day ends). What remains is discretisation: at most one event
//! of a kind per agent per block, a shortfall of about `r dt / 7200` (0.8% at 30 s and 2 per
//! hour, under one standard error here).
//!
//! **Gas** (`base_fee_distribution_does_not_depend_on_the_block_time`). Background demand
//! alone on an EIP-1559 chain: the base fee's recursion is per block and its demand noise a
//! per-block draw, so the stationary distribution of `ln(base fee)` is the same at every block
//! time (only its autocorrelation, about `8 / demand_elasticity` blocks, is in blocks). Its
//! mean and standard deviation over blocks, 16 runs of 6 hours after a 1-hour burn-in, agree
//! with the 12 s chain's within 4 standard errors (from the spread over runs).

mod common;

use cascade_agents::Role;
use cascade_core::event::Event;
use cascade_core::tx::GasKind;
use cascade_sim::World;

const HOURS: f64 = 24.0;
const RUNS: u64 = 2;
const NOISE: usize = 20;
const TRADE: f64 = 2.0;
const FLIPPERS: usize = 20;
const OPEN: f64 = 2.0;
const CLOSE: f64 = 2.0;
const TOPPERS: usize = 10;
const TOPUP: f64 = 4.0;
const REFRESH_S: f64 = 60.0;
const HEARTBEAT_S: f64 = 600.0;

fn agents_scenario(block_time_s: f64, dist: &str) -> String {
    format!(
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
[gas]
mode = "flat"
base_fee_gwei = 1.0
background_util = 0.0
[[oracles]]
asset = "ETH"
feed = {{ kind = "push", deviation = 0.9, heartbeat_s = {HEARTBEAT_S:?}, latency_s = 0.0 }}
[[venues]]
name = "amm"
kind = "cpmm"
asset = "ETH"
reserve_base = 100_000.0
reserve_quote = 200_000_000.0
[[venues]]
name = "book"
kind = "clob"
asset = "ETH"
tick = 0.01
levels = 5
level_size = 1.0
[[agents]]
kind = "noise_trader"
count = {NOISE}
trade_per_hour = {TRADE:?}
size_mean = 1000.0
size_sigma = 0.5
max_slippage = 0.5
venues = ["amm"]
capital = 100_000_000.0
inventory = 50_000.0
[[agents]]
kind = "market_maker"
venue = "book"
refresh_s = {REFRESH_S:?}
[[agents]]
kind = "trader"
count = {FLIPPERS}
capital = 100_000.0
open_per_hour = {OPEN:?}
close_per_hour = {CLOSE:?}
perp_share = 1.0
[[agents]]
kind = "trader"
count = {TOPPERS}
# The legacy habit tops up on the clock alone; an economic trader tops up only when the
# penalty it averts is worth the gas, which a flat price never makes it.
habits = "mechanical"
capital = 100_000.0
open_per_hour = {OPEN:?}
close_per_hour = 0.0
perp_share = 1.0
topup_per_hour = {TOPUP:?}
topup_threshold = 1e6
topup_fraction = 0.001
[engine]
margin = {{ kind = "fixed", initial = 0.2, maintenance = 0.1 }}
liquidation = {{ kind = "full", bonus = 0.08 }}
waterfall = [ {{ kind = "socialize" }} ]
pool_liquidity = 50_000_000.0
"#,
        duration = HOURS * 3600.0,
    )
}

/// Successful actions of one run, per agent (indexed like `World::actors`) and kind, plus
/// oracle publications.
#[derive(Default)]
struct Counts {
    swaps: Vec<f64>,
    opens: Vec<f64>,
    closes: Vec<f64>,
    topups: Vec<f64>,
    quotes: f64,
    oracle: f64,
}

fn count(block_time_s: f64, dist: &str) -> Vec<Counts> {
    let s =
        common::from_text(&agents_scenario(block_time_s, dist)).unwrap_or_else(|e| panic!("{e}"));
    (0..RUNS)
        .map(|run| {
            let mut w = World::new(&s, 3, run).unwrap();
            w.enable_events();
            w.run().unwrap_or_else(|e| panic!("{e}"));
            let n = w.actors().len();
            let roles: Vec<Role> = w.actors().iter().map(|a| a.role).collect();
            let mut c = Counts {
                swaps: vec![0.0; n],
                opens: vec![0.0; n],
                closes: vec![0.0; n],
                topups: vec![0.0; n],
                ..Counts::default()
            };
            for e in w.take_events() {
                match e {
                    Event::TxIncluded {
                        agent,
                        kind,
                        revert: None,
                        ..
                    } => {
                        let i = agent.0 as usize;
                        match (roles[i], kind) {
                            (Role::NoiseTrader, GasKind::Swap) => c.swaps[i] += 1.0,
                            (Role::Trader, GasKind::Open) => c.opens[i] += 1.0,
                            (Role::Trader, GasKind::Close) => c.closes[i] += 1.0,
                            (Role::Trader, GasKind::Deposit) => c.topups[i] += 1.0,
                            (Role::MarketMaker, GasKind::Order) => c.quotes += 1.0,
                            _ => {}
                        }
                    }
                    Event::OracleUpdate { .. } => c.oracle += 1.0,
                    _ => {}
                }
            }
            c
        })
        .collect()
}

/// Total over runs of agents `range` and its standard error from the spread of per-agent
/// counts (agents are independent and alike).
fn total(
    runs: &[Counts],
    f: impl Fn(&Counts) -> &Vec<f64>,
    range: std::ops::Range<usize>,
) -> (f64, f64) {
    let xs: Vec<f64> = runs
        .iter()
        .flat_map(|c| f(c)[range.clone()].to_vec())
        .collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean * n, (var * n).sqrt())
}

fn check(what: &str, label: &str, n: f64, expected: f64, se: f64) {
    let z = (n - expected) / se;
    println!("{label} {what:<14}: {n:>7.0}, expected {expected:>8.1} +- {se:>5.1} (z {z:+.2})");
    assert!(
        z.abs() < 4.0,
        "{label} {what}: {n}, expected {expected:.1} +- {se:.1} (z {z:.2})"
    );
}

#[test]
fn actions_per_hour_do_not_depend_on_the_block_time() {
    let t = HOURS;
    let runs = RUNS as f64;
    let (o, c) = (OPEN, CLOSE);
    let s = o + c;
    let decay = 1.0 - (-s * t).exp();
    let flip_opens = o * c * t / s + o * o / (s * s) * decay;
    let flip_closes = o * c * t / s - o * c / (s * s) * decay;
    let topups = TOPUP * (t - (1.0 - (-o * t).exp()) / o);
    // Agents in config order: noise traders, the market maker, flippers, toppers.
    let noise = 0..NOISE;
    let flippers = NOISE + 1..NOISE + 1 + FLIPPERS;
    let toppers = flippers.end..flippers.end + TOPPERS;
    for dist in ["fixed", "exponential"] {
        for bt in [2.0, 12.0, 30.0] {
            let label = format!("{dist} {bt:>2} s:");
            let r = count(bt, dist);
            let (n, se) = total(&r, |c| &c.swaps, noise.clone());
            check(
                "noise trades",
                &label,
                n,
                NOISE as f64 * runs * TRADE * t,
                se,
            );
            let (n, se) = total(&r, |c| &c.opens, flippers.clone());
            check("opens", &label, n, FLIPPERS as f64 * runs * flip_opens, se);
            let (n, se) = total(&r, |c| &c.closes, flippers.clone());
            check(
                "closes",
                &label,
                n,
                FLIPPERS as f64 * runs * flip_closes,
                se,
            );
            let (n, se) = total(&r, |c| &c.topups, toppers.clone());
            check("top-ups", &label, n, TOPPERS as f64 * runs * topups, se);
            let overshoot = if dist == "exponential" { bt } else { 0.0 };
            for (what, d, n) in [
                (
                    "mm refreshes",
                    REFRESH_S,
                    r.iter().map(|c| c.quotes).sum::<f64>(),
                ),
                (
                    "oracle updates",
                    HEARTBEAT_S,
                    r.iter().map(|c| c.oracle).sum::<f64>(),
                ),
            ] {
                let mu = d + overshoot;
                let expected = runs * t * 3600.0 / mu;
                let se =
                    (runs * t * 3600.0 * overshoot * overshoot / mu.powi(3)).sqrt() + runs / 2.0;
                check(what, &label, n, expected, se);
            }
        }
    }
}

fn gas_scenario(block_time_s: f64) -> String {
    format!(
        r#"
name = "gas-invariance"
[run]
runs = 16
seed = 9
[chain]
block_time_s = {block_time_s:?}
duration_s = 25_200.0
[[assets]]
name = "ETH"
price = 2000.0
process = {{ kind = "gbm", mu = 0.0, sigma = 0.0 }}
[gas]
base_fee_gwei = 20.0
demand_noise = 0.2
[[oracles]]
asset = "ETH"
feed = {{ kind = "push", deviation = 0.9, heartbeat_s = 1e9, latency_s = 0.0 }}
[[venues]]
name = "amm"
kind = "cpmm"
asset = "ETH"
reserve_base = 100_000.0
reserve_quote = 200_000_000.0
"#
    )
}

/// Per run, the mean and standard deviation of `ln(base fee)` over the blocks after the
/// first hour.
fn base_fee_stats(block_time_s: f64) -> Vec<(f64, f64)> {
    let s = common::from_text(&gas_scenario(block_time_s)).unwrap_or_else(|e| panic!("{e}"));
    (0..16)
        .map(|run| {
            let mut w = World::new(&s, 9, run).unwrap();
            w.enable_trace();
            w.run().unwrap_or_else(|e| panic!("{e}"));
            let x: Vec<f64> = w
                .take_trace()
                .iter()
                .filter(|b| b.t_s > 3600.0)
                .map(|b| b.base_fee_gwei.ln())
                .collect();
            let n = x.len() as f64;
            let m = x.iter().sum::<f64>() / n;
            let v = x.iter().map(|y| (y - m).powi(2)).sum::<f64>() / (n - 1.0);
            (m, v.sqrt())
        })
        .collect()
}

/// Mean over runs and its standard error.
fn mean_se(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let xs: Vec<f64> = xs.collect();
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|y| (y - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (v / n).sqrt())
}

#[test]
fn base_fee_distribution_does_not_depend_on_the_block_time() {
    let at = |bt: f64| {
        let r = base_fee_stats(bt);
        (
            mean_se(r.iter().map(|x| x.0)),
            mean_se(r.iter().map(|x| x.1)),
        )
    };
    let (m12, s12) = at(12.0);
    println!(
        "12 s: mean ln fee {:.4} +- {:.4}, sd {:.4} +- {:.4}",
        m12.0, m12.1, s12.0, s12.1
    );
    for bt in [2.0, 30.0] {
        let (m, s) = at(bt);
        let zm = (m.0 - m12.0) / (m.1.powi(2) + m12.1.powi(2)).sqrt();
        let zs = (s.0 - s12.0) / (s.1.powi(2) + s12.1.powi(2)).sqrt();
        println!(
            "{bt:>2} s: mean ln fee {:.4} +- {:.4} (z {zm:+.2}), sd {:.4} +- {:.4} (z {zs:+.2})",
            m.0, m.1, s.0, s.1
        );
        assert!(
            zm.abs() < 4.0 && zs.abs() < 4.0,
            "{bt} s: z {zm:.2} / {zs:.2}"
        );
    }
}
