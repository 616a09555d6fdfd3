//! The soft liquidation threshold of incremental liquidation
//! (`engine.liquidation.soft_threshold`, docs/model.md, "Predictive margin"): an account whose
//! equity is below `s` times its maintenance requirement is liquidatable while its maintenance
//! health is still positive, and one liquidation lifts its soft health to the exit buffer.

mod common;

use cascade_engine::config::{LiquidationMode, WaterfallStep};
use common::*;

fn mode(soft_threshold: f64) -> LiquidationMode {
    LiquidationMode::Incremental {
        step: 1.0,
        exit_buffer: 0.02,
        bonus: 0.04,
        soft_threshold,
    }
}

#[test]
fn soft_threshold_liquidates_before_the_account_is_underwater() {
    // 10 ETH against 15,000 of debt, maintenance 10%. At 1,700: equity 2,000, requirement
    // 1,700, maintenance health +300 (healthy), health ratio 2,000 / 1,700 = 1.18 < 1.25.
    let mut plain = harness(&cfg(mode(1.0), vec![WaterfallStep::Socialize]), 1);
    let id = plain.borrower(0, 10.0, 15_000.0);
    plain.price(1700.0);
    assert!(plain.engine.health(id).unwrap().maintenance > 0.0);
    assert!(!plain.engine.is_liquidatable(id));
    assert!(plain.liquidate(id).is_err());

    let mut h = harness(&cfg(mode(1.25), vec![WaterfallStep::Socialize]), 1);
    let id = h.borrower(0, 10.0, 15_000.0);
    h.price(1800.0); // ratio 3,000 / 1,800 = 1.67: not triggered
    assert!(!h.engine.is_liquidatable(id));
    h.price(1700.0);
    assert!(h.engine.is_liquidatable(id));
    assert_eq!(h.engine.liquidatable_now(), vec![id]);
    h.liquidate(id).unwrap();
    // Soft health H_s = 2,000 - 1.25 * 1,700 = -125; repaying R lifts it by R k,
    // k = 1 - 1.04 (1 - 0.125) = 0.09, to 2% of the remaining value:
    // R = (0.02 * 17,000 + 125) / (0.09 + 0.02 * 1.04) = 465 / 0.1108 = 4,196.75.
    let acc = h.engine.account(id).unwrap();
    let repaid = 15_000.0 - acc.debt.to_whole();
    assert!((repaid - 465.0 / 0.1108).abs() < 0.01, "repaid {repaid}");
    let hh = h.engine.health(id).unwrap();
    let soft = hh.equity - 1.25 * (hh.equity - hh.maintenance);
    let value = acc.collateral[0].to_whole() * 1700.0;
    assert!(
        (soft - 0.02 * value).abs() < 0.05,
        "{soft} vs {}",
        0.02 * value
    );
    assert!(!h.engine.is_liquidatable(id));
    h.check();
}

#[test]
fn predictive_and_soft_threshold_rules_name_their_keys() {
    use cascade_engine::config::{Forecaster, MarginModel};
    let mut bad = cfg(mode(0.9), vec![WaterfallStep::Socialize]);
    bad.margin = MarginModel::Predictive {
        forecaster: Forecaster::Har {
            b1: 0.5,
            b5: 0.4,
            b22: 0.2,
            long_run_vol: 0.6,
        },
        quantile: 1.2,
        horizon_s: 60.0,
        bar_s: 300.0,
        floor: 0.05,
        cap: 0.3,
        initial_multiple: 1.6,
        initial_vol: 0.6,
    };
    let mut issues = Vec::new();
    bad.validate(&mut cascade_core::Check::new(&mut issues), &[], 12.0);
    let all: Vec<String> = issues
        .iter()
        .map(|i| format!("{}: {}", i.key, i.rule))
        .collect();
    let all = all.join("\n");
    for want in [
        "liquidation.soft_threshold: must be in [1, 10]",
        "margin.quantile: must be in (0.5, 1)",
        "margin.horizon_s: must be >= bar_s",
        "margin.forecaster.b22: b1 + b5 + b22 must be < 1",
    ] {
        assert!(all.contains(want), "missing {want:?} in\n{all}");
    }
    bad.margin = MarginModel::Predictive {
        forecaster: Forecaster::Learned { tau: 1.0, eta: 0.0 },
        quantile: 0.99,
        horizon_s: 3_600.0,
        bar_s: 300.0,
        floor: 0.05,
        cap: 0.3,
        initial_multiple: 1.6,
        initial_vol: 0.6,
    };
    let mut issues = Vec::new();
    bad.validate(&mut cascade_core::Check::new(&mut issues), &[], 12.0);
    let all: Vec<String> = issues
        .iter()
        .map(|i| format!("{}: {}", i.key, i.rule))
        .collect();
    let all = all.join("\n");
    assert!(
        all.contains("margin.forecaster.tau: must be in (0, 1)"),
        "{all}"
    );
    assert!(all.contains("margin.forecaster.eta: must be > 0"), "{all}");
}
