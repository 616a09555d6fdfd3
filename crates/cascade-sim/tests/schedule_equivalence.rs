//! The event schedule has the law of the polled one (docs/model.md, "The agent schedule",
//! and Validation): over many seeds, every count of agent behaviour and the liquidations agree
//! between `chain.agent_schedule = "polled"` and `"event"` within 4 standard errors of the
//! paired difference (same seed: same price path, different agent draws).

mod common;

use cascade_agents::Role;
use cascade_core::event::Event;
use cascade_core::tx::GasKind;
use cascade_sim::World;

/// The behaviour counts of one run: positions opened, trader transactions by kind (open:
/// opens and perp deleverages; close: closes and stops; deposit: top-ups and loan
/// repayments), noise swaps, liquidations.
const NAMES: [&str; 6] = [
    "positions opened",
    "trader open txs",
    "trader close txs",
    "trader deposit txs",
    "noise swaps",
    "liquidations",
];

fn counts(rel: &str, sets: &[&str], seed: u64) -> [f64; 6] {
    let s = common::scenario(rel, sets);
    let mut w = World::new(&s, seed, 0).unwrap();
    w.enable_events();
    w.run().unwrap();
    let roles: Vec<Role> = w.actors().iter().map(|a| a.role).collect();
    let mut c = [0.0; 6];
    for e in w.take_events() {
        match e {
            Event::PositionOpened { .. } => c[0] += 1.0,
            Event::TxIncluded {
                agent,
                kind,
                revert: None,
                ..
            } => match (roles[agent.index()], kind) {
                (Role::Trader, GasKind::Open) => c[1] += 1.0,
                (Role::Trader, GasKind::Close) => c[2] += 1.0,
                (Role::Trader, GasKind::Deposit) => c[3] += 1.0,
                (Role::NoiseTrader, GasKind::Swap) => c[4] += 1.0,
                _ => {}
            },
            Event::Liquidation { .. } => c[5] += 1.0,
            _ => {}
        }
    }
    c
}

/// The z-value of each count's mean paired difference (polled minus event) over `seeds`.
fn z_values(rel: &str, sets: &[&str], seeds: u64) -> [(f64, f64, f64); 6] {
    let mut polled_sets = sets.to_vec();
    polled_sets.push("chain.agent_schedule=polled");
    let mut event_sets = sets.to_vec();
    event_sets.push("chain.agent_schedule=event");
    let mut d: Vec<[f64; 6]> = Vec::new();
    let mut mean_p = [0.0; 6];
    let mut mean_e = [0.0; 6];
    for seed in 0..seeds {
        let p = counts(rel, &polled_sets, 1000 + seed);
        let e = counts(rel, &event_sets, 1000 + seed);
        let mut row = [0.0; 6];
        for k in 0..6 {
            row[k] = p[k] - e[k];
            mean_p[k] += p[k] / seeds as f64;
            mean_e[k] += e[k] / seeds as f64;
        }
        d.push(row);
    }
    let n = seeds as f64;
    let mut out = [(0.0, 0.0, 0.0); 6];
    for k in 0..6 {
        let m = d.iter().map(|r| r[k]).sum::<f64>() / n;
        let var = d.iter().map(|r| (r[k] - m).powi(2)).sum::<f64>() / (n - 1.0);
        let se = (var / n).sqrt();
        let z = if se > 0.0 { m / se } else { 0.0 };
        out[k] = (mean_p[k], mean_e[k], z);
    }
    out
}

fn check(rel: &str, sets: &[&str], seeds: u64) {
    let z = z_values(rel, sets, seeds);
    for (k, (p, e, z)) in z.iter().enumerate() {
        eprintln!(
            "{rel} {sets:?}: {:<20} polled {p:9.2} event {e:9.2} z {z:+.2}",
            NAMES[k]
        );
    }
    for (k, (p, e, z)) in z.iter().enumerate() {
        assert!(
            z.abs() < 4.0,
            "{}: polled mean {p}, event mean {e}, z = {z} (tolerance 4)",
            NAMES[k]
        );
    }
    // The comparison has something to compare.
    assert!(z[0].0 > 10.0 && z[2].0 > 1.0 && z[4].0 > 10.0 && z[5].0 > 1.0);
}

/// gen3 (a crash with top-ups, deleveraging, stops, liquidations), fixed 12 s blocks.
#[test]
fn event_and_polled_schedules_agree_on_gen3() {
    check("configs/scenarios/gen3.toml", &[], 100);
}

/// The same with exponential block times (variable intervals).
#[test]
fn event_and_polled_schedules_agree_with_exponential_blocks() {
    check(
        "configs/scenarios/gen3.toml",
        &["chain.block_time_dist=exponential"],
        100,
    );
}
