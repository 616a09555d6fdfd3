//! Validation of the `predictive` margin's forecasters (docs/model.md, "Predictive margin",
//! Validation): the GARCH(1,1) recursion and horizon sum against their closed forms, the HAR
//! coefficients recovered by least squares on a simulated HAR process, the pinball-loss
//! learner's convergence to a known quantile, and the margin they set.

use cascade_engine::config::{Forecaster, MarginModel};
use cascade_engine::margin::forecast::{
    HAR_LAGS, Method, Pinball, Predictor, garch_horizon_var, garch_step, har_components, har_fit,
    har_horizon_var, norm_inv,
};
use cascade_engine::{MarginState, Req};
use cascade_market::SECONDS_PER_YEAR;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn norm_inv_matches_known_quantiles() {
    // Phi^-1 at 0.975, 0.99, 0.999 (tables): 1.959963984540, 2.326347874041, 3.090232306168.
    for (p, z) in [
        (0.975, 1.959_963_984_540),
        (0.99, 2.326_347_874_041),
        (0.999, 3.090_232_306_168),
        (0.5, 0.0),
        (0.01, -2.326_347_874_041),
    ] {
        assert!((norm_inv(p) - z).abs() < 1e-11, "{p}: {}", norm_inv(p));
    }
}

#[test]
fn garch_predictor_follows_the_one_step_recursion_exactly() {
    // One block per bar: each return closes a bar, h' = omega + alpha r^2 + beta h, and the
    // horizon variance is the closed form of the iterated expectations.
    let (omega, alpha, beta) = (2e-8, 0.08, 0.9);
    let bar_s = 60.0;
    let horizon_s = 3_600.0;
    let v0 = 0.6f64.powi(2) * bar_s / SECONDS_PER_YEAR;
    let mut p = Predictor::new(Method::Garch { omega, alpha, beta }, 0.6, bar_s, horizon_s);
    let mut h = v0;
    let returns = [0.001, -0.004, 0.0, 0.02, -0.015, 0.0005];
    for r in returns {
        assert!(p.observe(r, bar_s));
        h = garch_step(h, r, omega, alpha, beta);
        let phi: f64 = alpha + beta;
        let vbar = omega / (1.0 - phi);
        let n = horizon_s / bar_s;
        let want = n * vbar + (h - vbar) * (1.0 - phi.powf(n)) / (1.0 - phi);
        assert_eq!(p.sigma_h(), want.sqrt());
    }
    // The closed form equals the sum of E[h_k] iterated bar by bar.
    let (phi, vbar, h1) = (0.95, 3e-7, 9e-6);
    let mut e = h1;
    let mut sum = 0.0;
    for _ in 0..60 {
        sum += e;
        e = vbar + phi * (e - vbar);
    }
    assert!((garch_horizon_var(h1, vbar, phi, 60.0) - sum).abs() < 1e-15 * sum.max(1.0) * 1e3);
}

#[test]
fn har_least_squares_recovers_the_coefficients_of_a_simulated_har_process() {
    // RV_t = b0 + b1 RV(1) + b5 RV(5) + b22 RV(22) + e_t, e_t uniform on [-0.5, 0.5] (iid,
    // mean zero); 40,000 bars. Each estimate must lie within 3 standard errors of the truth.
    let b = [0.2, 0.35, 0.3, 0.2];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut rv = vec![b[0] / (1.0 - b[1] - b[2] - b[3]); HAR_LAGS[2]];
    for _ in 0..40_000 {
        let c = har_components(&rv[rv.len() - HAR_LAGS[2]..]);
        let e: f64 = rng.random::<f64>() - 0.5;
        rv.push(b[0] + b[1] * c[0] + b[2] * c[1] + b[3] * c[2] + e);
    }
    let (hat, se) = har_fit(&rv).unwrap();
    eprintln!("HAR fit: {hat:?} se {se:?}");
    for i in 0..4 {
        assert!(
            (hat[i] - b[i]).abs() < 3.0 * se[i],
            "coefficient {i}: {} vs {} (se {})",
            hat[i],
            b[i],
            se[i]
        );
        assert!(se[i] < 0.05, "se {i} = {}", se[i]);
    }
}

#[test]
fn har_horizon_forecast_reverts_to_the_long_run_level() {
    // From a history at the fixed point, the multi-step forecast is n times that level; from
    // a shocked history it lies between the shock and the fixed point.
    let coef = [0.1 * 4.0, 0.4, 0.3, 0.2];
    let level = 4.0;
    let flat = vec![level; 22];
    assert!((har_horizon_var(&coef, &flat, 10.0) - 10.0 * level).abs() < 1e-12);
    let mut shocked = flat.clone();
    shocked.push(40.0);
    let f = har_horizon_var(&coef, &shocked, 10.0);
    assert!(f > 10.0 * level && f < 10.0 * 40.0, "{f}");
}

#[test]
fn pinball_learner_converges_to_the_quantile_of_an_iid_series() {
    // y ~ N(0, 1) iid, tau = 0.9: the 0.9-quantile is 1.281552. Constant step eta = 0.01 from
    // w = 0; the mean of the last 100,000 of 200,000 iterates must be within 0.02.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut fit = Pinball {
        w: vec![0.0],
        tau: 0.9,
        eta: 0.01,
    };
    let mut mean = 0.0;
    let n = 200_000;
    for i in 0..n {
        // Box-Muller.
        let (u1, u2): (f64, f64) = (rng.random(), rng.random());
        let y = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        fit.update(&[1.0], y);
        if i >= n / 2 {
            mean += fit.w[0] / (n / 2) as f64;
        }
    }
    let q = norm_inv(0.9);
    eprintln!("pinball: mean iterate {mean}, last {}, true {q}", fit.w[0]);
    assert!((mean - q).abs() < 0.02, "mean iterate {mean} vs {q}");
    assert!(
        (fit.w[0] - q).abs() < 0.1,
        "last iterate {} vs {q}",
        fit.w[0]
    );
}

fn predictive(forecaster: Forecaster) -> MarginModel {
    MarginModel::Predictive {
        forecaster,
        quantile: 0.99,
        horizon_s: 3_600.0,
        bar_s: 60.0,
        floor: 0.001,
        cap: 0.5,
        initial_multiple: 1.5,
        initial_vol: 0.6,
    }
}

#[test]
fn every_forecaster_starts_at_the_initial_vol_and_rises_after_a_shock() {
    let z = norm_inv(0.99);
    let start = z * 0.6 * (3_600.0 / SECONDS_PER_YEAR).sqrt();
    for f in [
        Forecaster::Har {
            b1: 0.4,
            b5: 0.3,
            b22: 0.2,
            long_run_vol: 0.6,
        },
        Forecaster::GarchQuantile {
            alpha: 0.1,
            beta: 0.85,
            long_run_vol: 0.6,
        },
        Forecaster::Learned {
            tau: 0.8,
            eta: 0.05,
        },
    ] {
        let mut m = MarginState::new(&predictive(f.clone()), &[100.0]);
        assert!(
            (m.base(0, Req::Maintenance) - start).abs() < 1e-12,
            "{f:?}: {}",
            m.base(0, Req::Maintenance)
        );
        assert!((m.base(0, Req::Initial) - 1.5 * start).abs() < 1e-12);
        // Within a bar nothing changes; the generation advances only at a bar close.
        let g = m.generation();
        m.update(&[97.0], 12.0);
        assert_eq!(m.generation(), g);
        for p in [94.0, 91.0, 89.0, 86.0] {
            m.update(&[p], 12.0);
        }
        assert!(m.generation() > g, "{f:?}");
        assert!(m.base(0, Req::Maintenance) > start, "{f:?}");
        // The procyclicality measure: the rise of the ratio over its starting value.
        let rise = m.base(0, Req::Maintenance) / start - 1.0;
        assert!((m.maintenance_rise() - rise).abs() < 1e-12, "{f:?}");
    }
}
