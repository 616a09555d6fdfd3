//! Validation of market-consistent settlement and of ADL as dYdX v4 and Hyperliquid do it
//! (docs/references.md, R9, R10, R35, R36), on the shipped gen1 crash
//! (`configs/scenarios/gen1.toml`) with paired seeds. The figures are in docs/model.md,
//! section "Validation" (`cargo test --profile ci -p cascade-sim --test validation_settlement
//! -- --nocapture`).
//!
//! - A late oracle settles liquidated perps at a stale price: `oracle_gap_loss`, the value
//!   moved away from the protocol, grows with the oracle's latency.
//! - ADL closes only opposite-side positions in the bankrupt position's market: with only
//!   long traders it has nothing to close, whatever the bad debt.
//! - Settlement away from the oracle charges the forced closes their slippage against `p_ref`
//!   (`liquidation_slippage`) and moves no value through the oracle (`oracle_gap_loss = 0`).

mod common;

use cascade_sim::World;

const RUNS: u64 = 8;

/// The metrics `names` of runs `0..RUNS` of gen1 with `sets`, one vector per name.
fn gen1(sets: &[&str], names: &[&str]) -> Vec<Vec<f64>> {
    let s = common::scenario_legacy("configs/scenarios/gen1.toml", sets);
    let mut out = vec![Vec::new(); names.len()];
    for r in 0..RUNS {
        let mut w = World::new(&s, s.config.run.seed, r).unwrap();
        let m = w.run().unwrap();
        for (o, n) in out.iter_mut().zip(names) {
            o.push(m.get(n).unwrap());
        }
    }
    out
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

#[test]
fn oracle_gap_loss_grows_with_the_oracles_latency() {
    // The push feed's latency: 1 block (the shipped gen1), 10 and 50 blocks (12 s, 2 min,
    // 10 min); the same seeds at each.
    let mut means = Vec::new();
    let mut per_run: Vec<Vec<f64>> = Vec::new();
    for lag in [1, 10, 50] {
        let set = format!("oracles.0.feed.latency_s={}", 12 * lag);
        let m = gen1(&[&set], &["oracle_gap_loss", "liquidation_slippage"]);
        eprintln!(
            "latency {lag:>2} blocks: oracle_gap_loss mean {:.0} (runs {:?}), slippage {:?}",
            mean(&m[0]),
            m[0].iter().map(|x| x.round()).collect::<Vec<_>>(),
            m[1]
        );
        // The oracle rule charges no slippage: the gap is all there is.
        assert!(m[1].iter().all(|x| *x == 0.0));
        means.push(mean(&m[0]));
        per_run.push(m[0].clone());
    }
    // Paired seeds: in every run the gap grows with the latency.
    for (r, ((a, b), c)) in per_run[0]
        .iter()
        .zip(&per_run[1])
        .zip(&per_run[2])
        .enumerate()
    {
        assert!(a < b && b < c, "run {r}: {a} {b} {c}");
    }
    // Tolerance: strictly increasing means, and a stale oracle moves value away from the
    // protocol (positive gap at the longest latency).
    assert!(
        means[0] < means[1] && means[1] < means[2],
        "oracle_gap_loss means {means:?} do not grow with the latency"
    );
    assert!(means[2] > 0.0);
}

#[test]
fn adl_with_only_long_traders_does_nothing() {
    // gen1 with ADL first in the waterfall. Its traders are 80% long: ADL finds shorts to
    // close. With every trader long there is no opposite side, and ADL does nothing though
    // bad debt reaches the waterfall.
    let adl =
        "engine.waterfall=[{kind=\"adl\", ranking=\"pnl_times_leverage\"}, {kind=\"socialize\"}]";
    let names = ["adl_events", "bad_debt", "socialized_loss"];
    let mixed = gen1(&[adl], &names);
    let longs = gen1(&[adl, "agents.2.long_prob=1.0"], &names);
    eprintln!(
        "80% long: adl_events {:?}, bad_debt mean {:.0}; all long: adl_events {:?}, bad_debt mean {:.0}",
        mixed[0],
        mean(&mixed[1]),
        longs[0],
        mean(&longs[1])
    );
    assert!(
        mixed[0].iter().sum::<f64>() > 0.0,
        "ADL never ran with shorts present"
    );
    assert!(
        longs[1].iter().sum::<f64>() > 0.0,
        "no bad debt with only longs"
    );
    assert!(
        longs[0].iter().all(|x| *x == 0.0),
        "ADL closed positions with no short open: {:?}",
        longs[0]
    );
    // Everything ADL did not cover was socialized (the only other step).
    for (b, s) in longs[1].iter().zip(&longs[2]) {
        assert!((b - s).abs() <= 1e-6 * (1.0 + b));
    }
}

#[test]
fn settlement_away_from_the_oracle_charges_slippage_and_moves_nothing_through_the_oracle() {
    let lag = "oracles.0.feed.latency_s=600.0";
    let names = [
        "oracle_gap_loss",
        "liquidation_slippage",
        "liquidated_notional",
    ];
    let oracle = gen1(&[lag], &names);
    let backstop = gen1(
        &[
            lag,
            "engine.perp_settlement=\"backstop\"",
            "engine.settlement_backstop={discount=0.02, capacity=1000000000.0}",
        ],
        &names,
    );
    let market = gen1(&[lag, "engine.perp_settlement=\"market\""], &names);
    eprintln!(
        "stale oracle (50 blocks): oracle rule gap {:.0}; backstop (2%) slippage {:.0}, gap {:.0}; market slippage {:.0}, gap {:.0}",
        mean(&oracle[0]),
        mean(&backstop[1]),
        mean(&backstop[0]),
        mean(&market[1]),
        mean(&market[0])
    );
    assert!(oracle[0].iter().all(|x| *x > 0.0), "{:?}", oracle[0]);
    for m in [&backstop, &market] {
        assert!(m[0].iter().all(|x| *x == 0.0));
        assert!(m[1].iter().all(|x| *x >= 0.0));
    }
    // A backstop with unlimited capacity takes every close at 2% off p_ref: the slippage is
    // 2% of the closed perps' notional at p_ref, a positive amount in every run.
    assert!(backstop[1].iter().all(|x| *x > 0.0), "{:?}", backstop[1]);
}

#[test]
fn settlement_keys_are_validated_with_their_full_key() {
    let gen1 = common::repo().join("configs/scenarios/gen1.toml");
    let err = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        match cascade_sim::load::load_scenario(&gen1, &sets) {
            Ok(_) => panic!("{sets:?}: accepted"),
            Err(e) => e.to_string(),
        }
    };
    let cases: [(&[&str], &str, &str); 3] = [
        (
            &["engine.perp_settlement=\"backstop\""],
            "engine.settlement_backstop",
            "required when perp_settlement = \"backstop\"",
        ),
        (
            &[
                "engine.perp_settlement=\"backstop\"",
                "engine.settlement_backstop={discount=1.5, capacity=1.0}",
            ],
            "engine.settlement_backstop.discount",
            "[0, 1)",
        ),
        (
            &[
                "engine.perp_settlement=\"backstop\"",
                "engine.settlement_backstop={discount=0.01, capacity=-1.0}",
            ],
            "engine.settlement_backstop.capacity",
            ">= 0",
        ),
    ];
    for (sets, key, rule) in cases {
        let e = err(sets);
        assert!(e.contains(key) && e.contains(rule), "{sets:?}: {e}");
    }
    // An unknown rule is refused by name.
    let e = err(&["engine.perp_settlement=\"auction\""]);
    assert!(
        e.contains("perp_settlement") || e.contains("unknown variant"),
        "{e}"
    );
}
