//! The paired counterfactual (`metrics.counterfactual = "twin"`): each run's twin on the same
//! seeds with the liquidations' market flow kept away from the price.
//!
//! Without impact the flow moves nothing, so the twin is the run itself: every `*_vs_twin`
//! difference is exactly zero. With impact it must differ (the tests can fail), and the twin
//! must keep rows a function of (scenario, seed, run) for any thread count.

mod common;

use cascade_sim::World;
use cascade_sim::metrics::{METRICS, MetricRow, metric_index};
use cascade_sim::runner::{run_many, run_one};

const SHORT: &str = "chain.duration_s=7200";

fn twin_row(row: &MetricRow) -> [f64; 3] {
    [
        "liquidations_vs_twin",
        "bad_debt_vs_twin",
        "drawdown_vs_twin",
    ]
    .map(|m| row.get(m).unwrap())
}

#[test]
fn without_impact_the_twin_is_the_run_itself() {
    let s = common::scenario(
        "configs/scenarios/gen1.toml",
        &[
            SHORT,
            "assets.ETH.impact.kappa=0.0",
            "metrics.counterfactual=\"twin\"",
        ],
    );
    let seed = s.config.run.seed;
    let mut liquidations = 0.0;
    for run in 0..3 {
        let o = run_one(&s, seed, run, false).unwrap();
        assert_eq!(twin_row(&o.row), [0.0; 3], "run {run}");
        liquidations += o.row.get("liquidations").unwrap();
        // Stronger: the twin's whole row is the run's, bit for bit (but for the comparisons,
        // which a World alone leaves NaN).
        let mut w = World::new(&s, seed, run).unwrap();
        w.switch_off_forced_flow();
        let t = w.run().unwrap();
        for (i, d) in METRICS.iter().enumerate() {
            if d.name.ends_with("_vs_twin") {
                continue;
            }
            assert_eq!(
                t.0[i].to_bits(),
                o.row.0[i].to_bits(),
                "run {run}, {}",
                d.name
            );
        }
    }
    // The comparison is not vacuous: the runs liquidate.
    assert!(liquidations > 0.0);
}

#[test]
fn with_impact_the_twin_differs_and_stays_deterministic() {
    let s = common::scenario(
        "configs/scenarios/gen1.toml",
        &[
            SHORT,
            "assets.ETH.impact.kappa=0.15",
            "metrics.counterfactual=\"twin\"",
        ],
    );
    let seed = s.config.run.seed;
    let one = run_many(&s, seed, 4, false, 1, |_| {}).unwrap();
    let two = run_many(&s, seed, 4, false, 2, |_| {}).unwrap();
    let li = metric_index("liquidations_vs_twin").unwrap();
    let dd = metric_index("drawdown_vs_twin").unwrap();
    for (a, b) in one.iter().zip(&two) {
        let bits = |r: &MetricRow| r.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.row), bits(&b.row), "run {}", a.run);
    }
    // Impact pushes the price down: more liquidations and a deeper drawdown than the twin's.
    let more: f64 = one.iter().map(|o| o.row.0[li]).sum();
    let deeper: f64 = one.iter().map(|o| o.row.0[dd]).sum();
    assert!(more > 0.0, "liquidations vs twin {more}");
    assert!(deeper > 0.0, "drawdown vs twin {deeper}");
    // Without the twin the comparisons are NaN (not measured), never zero.
    let plain = common::scenario("configs/scenarios/gen1.toml", &[SHORT]);
    let o = run_one(&plain, seed, 0, false).unwrap();
    assert!(twin_row(&o.row).iter().all(|v| v.is_nan()));
}
