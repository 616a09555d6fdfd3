//! Validation of the congestion mechanism of Black Thursday (MakerDAO, 12-13 March 2020;
//! validation.md section 5) with the shipped `configs/scenarios/black_thursday.toml`, and of
//! the EIP-1559 base fee inside a running World (validation.md section 4).
//!
//! The historical mechanism: a crash congests the chain, gas prices rise many-fold, keepers'
//! transactions stop landing, collateral is sold late and cheaply, and the system is left with
//! debt that no collateral covers. The scenario's keepers cap their fees at 150 gwei; its
//! background demand rises with the size of price moves (`gas.congestion_beta = 1.6`). The
//! same scenario with `gas.congestion_beta = 0` (the same crash and seeds, no congestion) is
//! the counterfactual. The figures are in docs/model.md, section "Validation"
//! (`cargo test --release -p cascade-sim --test validation_crash -- --nocapture`).

mod common;

use cascade_core::event::Event;
use cascade_market::gas::next_base_fee;
use cascade_sim::World;

const RUNS: u64 = 10;
/// The keepers' `max_fee_gwei` in the scenario.
const KEEPER_CAP_GWEI: f64 = 150.0;

#[derive(Debug, Default)]
struct Outcome {
    bad_debt: Vec<f64>,
    liquidations: f64,
    delay_mean: f64,
    delay_max: f64,
    base_fee_max: f64,
    liquidator_profit: f64,
    /// Blocks whose base fee was above the keepers' cap, and liquidations that landed in them.
    capped_blocks: u64,
    liquidations_in_capped_blocks: u64,
}

fn outcome(sets: &[&str]) -> Outcome {
    let s = common::scenario("configs/scenarios/black_thursday.toml", sets);
    let gas = &s.config.gas;
    let mut o = Outcome::default();
    for r in 0..RUNS {
        let mut w = World::new(&s, s.config.run.seed, r).unwrap();
        w.enable_trace();
        w.enable_events();
        let row = w.run().unwrap();
        let trace = w.take_trace();
        // EIP-1559 inside the World (validation.md section 4): each block's base fee is the
        // rule applied to its parent's base fee and total gas used (background and
        // transactions), to the wei.
        let wei = |gwei: f64| (gwei * 1e9).round() as u128;
        for pair in trace.windows(2) {
            assert_eq!(
                wei(pair[1].base_fee_gwei),
                next_base_fee(
                    wei(pair[0].base_fee_gwei),
                    pair[0].gas_used,
                    gas.gas_limit,
                    gas.elasticity
                ),
                "run {r}, block {}",
                pair[1].block
            );
        }
        let capped: Vec<bool> = trace
            .iter()
            .map(|b| b.base_fee_gwei > KEEPER_CAP_GWEI)
            .collect();
        o.capped_blocks += capped.iter().filter(|c| **c).count() as u64;
        for e in w.take_events() {
            if let Event::Engine { block, kind, .. } = e
                && kind == "liquidation"
                && capped[(block - 1) as usize]
            {
                o.liquidations_in_capped_blocks += 1;
            }
        }
        let get = |k: &str| row.get(k).unwrap();
        o.bad_debt.push(get("bad_debt"));
        o.liquidations += get("liquidations") / RUNS as f64;
        o.delay_mean += get("liquidation_delay_blocks_mean") / RUNS as f64;
        o.delay_max = o.delay_max.max(get("liquidation_delay_blocks_max"));
        o.base_fee_max = o.base_fee_max.max(get("base_fee_max"));
        o.liquidator_profit += get("liquidator_profit") / RUNS as f64;
    }
    o
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Under congestion: the base fee passes the keepers' cap, no liquidation lands while it is
/// above it, liquidations wait (mean delay several times the calm one, the longest over a
/// hundred blocks) and every run ends with bad debt. Without congestion, on the same crash and
/// seeds: the base fee stays far below the cap, liquidations land within a block or two and
/// the bad debt is under 5% of the congested figure, with most runs at zero. The claims are
/// qualitative (the mechanism of validation.md section 5): the thresholds separate the two
/// regimes and the measured figures are in docs/model.md. The test is deterministic (fixed
/// seeds), not a statistical test.
#[test]
fn black_thursday_congestion_starves_keepers_and_leaves_bad_debt() {
    let congested = outcome(&[]);
    let calm = outcome(&["gas.congestion_beta=0"]);
    for (name, o) in [("congested", &congested), ("calm", &calm)] {
        println!(
            "{name}: base_fee_max {:.0} gwei, blocks above the keepers' cap {} ({} liquidations in them), liquidations {:.1}, delay mean {:.2} max {:.0} blocks, bad_debt mean {:.0} (runs with bad debt {}/{RUNS}), liquidator_profit {:.0}",
            o.base_fee_max,
            o.capped_blocks,
            o.liquidations_in_capped_blocks,
            o.liquidations,
            o.delay_mean,
            o.delay_max,
            mean(&o.bad_debt),
            o.bad_debt.iter().filter(|b| **b > 0.0).count(),
            o.liquidator_profit,
        );
    }
    // Congestion: the fee passes the cap for many blocks, and then keepers stop liquidating.
    assert!(congested.base_fee_max > KEEPER_CAP_GWEI);
    assert!(congested.capped_blocks >= 10 * RUNS);
    assert_eq!(congested.liquidations_in_capped_blocks, 0);
    assert!(congested.delay_mean > 3.0 * calm.delay_mean);
    assert!(congested.delay_max > 100.0);
    // Bad debt appears in every congested run.
    assert!(congested.bad_debt.iter().all(|b| *b > 0.0));
    assert!(mean(&congested.bad_debt) > 1_000.0);
    // Without congestion: the cap never binds, keepers keep up, and bad debt mostly vanishes.
    assert!(calm.base_fee_max < KEEPER_CAP_GWEI / 2.0);
    assert_eq!(calm.capped_blocks, 0);
    assert!(calm.delay_max < 20.0);
    assert!(mean(&calm.bad_debt) < 0.05 * mean(&congested.bad_debt));
    assert!(calm.bad_debt.iter().filter(|b| **b > 0.0).count() <= RUNS as usize / 2);
}
