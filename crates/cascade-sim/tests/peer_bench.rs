//! The peer benchmark's mirror scenarios (`configs/bench/dexsim_fixed.toml`,
//! `dexsim_vol.toml`; benches/peer/README.md) are not shipped research scenarios, so no other
//! test loads them. This one checks that they load and run (ledger conserved every block, the
//! leveraged half opens, the keeper liquidates), and that their numbers are the ones their
//! comments derive from dex-sim's `aes_vs_fxd_test` (docs/references.md, R60, R61): the GARCH
//! long-run variance rate, the fixed ratios, and the volatility-adjusted maintenance ratio at
//! the long-run volatility, recomputed here from the Student-t(6) density.

mod common;

use cascade_engine::config::{MarginModel, VolEstimator};
use cascade_market::price::ProcessConfig;
use cascade_sim::World;

const FIXED: &str = "configs/bench/dexsim_fixed.toml";
const VOL: &str = "configs/bench/dexsim_vol.toml";
const YEAR_S: f64 = 31_536_000.0;
/// dex-sim's paths: daily volatility at its floor (3%), its stress factor, its t(6) shocks.
const PEER_SIGMA_DAILY: f64 = 0.03;
const PEER_STRESS: f64 = 1.5;
const NU: f64 = 6.0;
const PEER_GAMMA: f64 = 0.8;

/// Density of Student's t with `NU` degrees of freedom.
fn t_pdf(x: f64) -> f64 {
    // Gamma(7/2) / (sqrt(6 pi) Gamma(3)) = (15/8) sqrt(pi) / (2 sqrt(6 pi)).
    let c = 15.0 / 8.0 * std::f64::consts::PI.sqrt() / (2.0 * (NU * std::f64::consts::PI).sqrt());
    c * (1.0 + x * x / NU).powf(-(NU + 1.0) / 2.0)
}

/// Integral of `f` over `[a, b]` by composite Simpson with `n` (even) intervals.
fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let mut s = f(a) + f(b);
    for i in 1..n {
        s += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0
}

/// Expected shortfall at level `q` of the (unscaled) t(6): the mean of the tail beyond the
/// `q`-quantile, found by bisection on the upper tail mass, both by numerical integration
/// (the tail beyond 2,000 carries under 1e-16 of mass).
fn t6_expected_shortfall(q: f64) -> f64 {
    let tail = |x: f64| simpson(t_pdf, x, 2_000.0, 400_000);
    let (mut lo, mut hi) = (0.0, 20.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if tail(mid) > 1.0 - q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let x = 0.5 * (lo + hi);
    simpson(|u| u * t_pdf(u), x, 2_000.0, 400_000) / (1.0 - q)
}

#[test]
fn the_mirror_matches_the_peers_price_and_margin_numbers() {
    // The peer's realized daily volatility: floor x stress x the t(6) standard deviation.
    let realized_daily = PEER_SIGMA_DAILY * PEER_STRESS * (NU / (NU - 2.0)).sqrt();
    let variance_rate = realized_daily * realized_daily * 365.0;
    let es = t6_expected_shortfall(0.99);
    // The closed form of the same quantity (McNeil, Frey and Embrechts): 4.0325.
    assert!((es - 4.0325).abs() < 1e-3, "ES99 of t(6) = {es}");
    for rel in [FIXED, VOL] {
        let s = common::scenario(rel, &[]);
        let ProcessConfig::Garch11 {
            omega, alpha, beta, ..
        } = s.config.assets[0].process
        else {
            panic!("{rel}: not a garch11 process");
        };
        assert_eq!(
            (alpha, beta),
            (0.07, 0.9),
            "{rel}: the peer's alpha and beta"
        );
        let long_run = omega / (1.0 - alpha - beta);
        assert!(
            (long_run / variance_rate - 1.0).abs() < 1e-9,
            "{rel}: long-run variance rate {long_run}, the peer's {variance_rate}"
        );
        assert_eq!(s.config.chain.block_time_s, 60.0, "{rel}: one-minute steps");
        assert_eq!(s.config.chain.duration_s, 432_000.0, "{rel}: 7,200 steps");
    }
    let fixed = common::scenario(FIXED, &[]);
    let MarginModel::Fixed {
        initial,
        maintenance,
    } = fixed.config.engine.unwrap().margin
    else {
        panic!("{FIXED}: not fixed");
    };
    // FXD_20x: 1/20 initial, gamma 0.8 of it.
    assert_eq!(initial, 1.0 / 20.0);
    assert!(
        (maintenance - PEER_GAMMA * initial).abs() < 1e-15,
        "{maintenance}"
    );
    let vol = common::scenario(VOL, &[]);
    let MarginModel::VolAdjusted {
        k,
        horizon_s,
        estimator,
        initial_multiple,
        initial_vol,
        ..
    } = vol.config.engine.unwrap().margin
    else {
        panic!("{VOL}: not vol_adjusted");
    };
    // At the long-run volatility, the maintenance ratio is the peer's: gamma x ES x sigma.
    let maintenance = k * initial_vol * (horizon_s / YEAR_S).sqrt();
    let peer = PEER_GAMMA * es * PEER_SIGMA_DAILY;
    assert!(
        (maintenance / peer - 1.0).abs() < 1e-4,
        "maintenance {maintenance}, the peer's {peer}"
    );
    assert!((initial_multiple - 1.0 / PEER_GAMMA).abs() < 1e-12);
    assert!((initial_vol * initial_vol / variance_rate - 1.0).abs() < 1e-9);
    let VolEstimator::Garch { omega, alpha, beta } = estimator else {
        panic!("{VOL}: the forecast is the price's own GARCH");
    };
    assert!((omega / (1.0 - alpha - beta) / variance_rate - 1.0).abs() < 1e-9);
}

#[test]
fn both_mirrors_run_conserve_and_liquidate() {
    for rel in [FIXED, VOL] {
        // Six hours of 200 traders (100 leveraged, 100 idle).
        let s = common::scenario(
            rel,
            &[
                "chain.duration_s=21600",
                "agents.0.count=100",
                "agents.1.count=100",
            ],
        );
        let mut w = World::new(&s, 0, 0).unwrap();
        w.enable_ledger_checks();
        let row = w.run().unwrap_or_else(|e| panic!("{rel}: {e}"));
        let get = |m: &str| row.get(m).unwrap();
        assert_eq!(get("blocks"), 360.0, "{rel}");
        assert_eq!(
            get("oracle_updates"),
            360.0,
            "{rel}: a publication every block"
        );
        // At least the 100 openings and the 360 publications.
        assert!(
            get("txs_included") >= 460.0,
            "{rel}: {}",
            get("txs_included")
        );
        assert!(get("liquidations") > 0.0, "{rel}: no liquidation");
    }
}
