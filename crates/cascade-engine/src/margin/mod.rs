//! Margin ratios: how much of a position's value must be backed by equity.
//!
//! Three models (docs/model.md, section 8, "Margin models"): `fixed` ratios; `vol_adjusted`, where the maintenance
//! ratio follows a forecast of the asset's volatility over a liquidation horizon (the
//! "volatility-adjusted" and "predictive" margining of the seed), floored and capped; and
//! `size_premium`, Drift's IMF rule `MR(size) = max(MR, 0.8 MR + imf sqrt(|size|))`
//! (docs/references.md, R2), which charges large positions more because they
//! take longer to unwind.
//!
//! A fourth, `predictive` (docs/model.md, "Predictive margin"), sets maintenance to a
//! quantile of the loss over the liquidation horizon under a volatility forecast from
//! `forecast` (HAR-RV, GARCH(1,1) over the horizon, or an online-learned quantile
//! regression), updated at the close of each bar of oracle returns.
//!
//! The forecast is updated once per block from the oracle price the engine uses, so margins
//! react to what the protocol can see, not to the true market.

pub mod forecast;

use crate::config::{Forecaster, MarginModel, VolEstimator};
use cascade_market::SECONDS_PER_YEAR;
use forecast::{Method, Pinball, Predictor, norm_inv};

/// One step of the EWMA variance-rate estimator: `v + w (sample - v)` with weight
/// `w = 1 - 0.5^(dt_s / half_life_s)`, `sample = r^2 / dt` the block's squared log return as
/// an annualized rate. Shared by `vol_adjusted` margin, the options' realized vol, the
/// market maker's spread widening and the traders' view of volatility (cascade-agents).
pub fn ewma_step(v: f64, sample: f64, dt_s: f64, half_life_s: f64) -> f64 {
    let w = 1.0 - 0.5f64.powf(dt_s / half_life_s);
    v + w * (sample - v)
}

/// Per-asset margin state: the volatility forecast (annualized variance rate) and the
/// resulting base ratios.
#[derive(Debug, Clone)]
pub struct MarginState {
    model: MarginModel,
    var_rate: Vec<f64>,
    last_price: Vec<f64>,
    maint: Vec<f64>,
    init: Vec<f64>,
    /// `predictive` only: one forecast state per asset.
    predictors: Vec<Predictor>,
    /// The maintenance ratios at construction (for `maintenance_ratio_rise`).
    maint0: Vec<f64>,
    /// Counts the changes of the ratios (`maint`, `init`): equal generations of one state's
    /// history mean equal ratios (for memos of health, `crate::memo`).
    generation: u64,
}

/// Which requirement is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Req {
    Initial,
    Maintenance,
}

impl MarginState {
    pub fn new(model: &MarginModel, prices: &[f64]) -> MarginState {
        let n = prices.len();
        let var0 = match model {
            MarginModel::VolAdjusted { initial_vol, .. } => initial_vol * initial_vol,
            _ => 0.0,
        };
        let predictors = match model {
            MarginModel::Predictive {
                forecaster,
                horizon_s,
                bar_s,
                initial_vol,
                ..
            } => {
                let method = method(forecaster, *bar_s);
                vec![Predictor::new(method, *initial_vol, *bar_s, *horizon_s); n]
            }
            _ => Vec::new(),
        };
        let mut s = MarginState {
            model: model.clone(),
            var_rate: vec![var0; n],
            last_price: prices.to_vec(),
            maint: vec![0.0; n],
            init: vec![0.0; n],
            predictors,
            maint0: Vec::new(),
            generation: 0,
        };
        for a in 0..n {
            s.refresh(a);
        }
        s.maint0 = s.maint.clone();
        s
    }

    fn refresh(&mut self, a: usize) {
        let (m, i) = match &self.model {
            MarginModel::Fixed {
                initial,
                maintenance,
            }
            | MarginModel::SizePremium {
                initial,
                maintenance,
                ..
            } => (*maintenance, *initial),
            MarginModel::VolAdjusted {
                k,
                horizon_s,
                floor,
                cap,
                initial_multiple,
                ..
            } => {
                let sigma = self.var_rate[a].max(0.0).sqrt();
                let m = (k * sigma * (horizon_s / SECONDS_PER_YEAR).sqrt()).clamp(*floor, *cap);
                (m, (m * initial_multiple).min(0.999))
            }
            MarginModel::Predictive {
                quantile,
                floor,
                cap,
                initial_multiple,
                ..
            } => {
                let z = norm_inv(*quantile);
                let m = (z * self.predictors[a].sigma_h()).clamp(*floor, *cap);
                (m, (m * initial_multiple).min(0.999))
            }
        };
        if self.maint[a].to_bits() != m.to_bits() || self.init[a].to_bits() != i.to_bits() {
            self.generation += 1;
        }
        self.maint[a] = m;
        self.init[a] = i;
    }

    /// The largest relative rise of an asset's maintenance ratio over its value at
    /// construction, `max_a m_a / m_a(0) - 1` (0 for fixed ratios): how far the margin has
    /// tightened, the procyclicality of a forecast-driven model.
    pub fn maintenance_rise(&self) -> f64 {
        self.maint
            .iter()
            .zip(&self.maint0)
            .filter(|(_, m0)| **m0 > 0.0)
            .map(|(m, m0)| m / m0 - 1.0)
            .fold(0.0, f64::max)
    }

    /// The number of times the ratios have changed (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Feed the block's oracle prices (after `dt_s` seconds). Only `vol_adjusted` changes.
    pub fn update(&mut self, prices: &[f64], dt_s: f64) {
        let dt = dt_s / SECONDS_PER_YEAR;
        for (a, &p) in prices.iter().enumerate() {
            let prev = self.last_price[a];
            self.last_price[a] = p;
            if let MarginModel::Predictive { .. } = &self.model {
                if p > 0.0
                    && prev > 0.0
                    && dt_s > 0.0
                    && self.predictors[a].observe((p / prev).ln(), dt_s)
                {
                    self.refresh(a);
                }
                continue;
            }
            if let MarginModel::VolAdjusted { estimator, .. } = &self.model {
                if !(p > 0.0 && prev > 0.0 && dt > 0.0) {
                    continue;
                }
                let r = (p / prev).ln();
                let sample = r * r / dt;
                let v = self.var_rate[a];
                self.var_rate[a] = match estimator {
                    VolEstimator::Ewma { half_life_s } => ewma_step(v, sample, dt_s, *half_life_s),
                    VolEstimator::Garch { omega, alpha, beta } => {
                        // Per-block GARCH on variance rates: long-run rate omega/(1-a-b).
                        omega + alpha * sample + beta * v
                    }
                };
                self.refresh(a);
            }
        }
    }

    /// The forecast annualized volatility of asset `a`.
    pub fn vol(&self, a: usize) -> f64 {
        match &self.model {
            MarginModel::Predictive { horizon_s, .. } => {
                self.predictors[a].sigma_h() / (horizon_s / SECONDS_PER_YEAR).sqrt()
            }
            _ => self.var_rate[a].max(0.0).sqrt(),
        }
    }

    /// The base ratio of asset `a` (before any size premium).
    pub fn base(&self, a: usize, req: Req) -> f64 {
        match req {
            Req::Initial => self.init[a],
            Req::Maintenance => self.maint[a],
        }
    }

    /// The ratio for an exposure of `size` whole units of asset `a`.
    pub fn ratio(&self, a: usize, size: f64, req: Req) -> f64 {
        let base = self.base(a, req);
        match &self.model {
            MarginModel::SizePremium { imf, .. } => {
                (0.8 * base + imf * size.abs().sqrt()).max(base).min(0.999)
            }
            _ => base,
        }
    }

    /// Whether the ratios can change during a run (volatility-adjusted and predictive
    /// models): what a sleeping holder must watch besides prices and its account. Any model's
    /// ratio rises by at most the rise of its base (`ratio` is non-decreasing in the base with
    /// slope at most 1).
    pub fn moves(&self) -> bool {
        matches!(
            self.model,
            MarginModel::VolAdjusted { .. } | MarginModel::Predictive { .. }
        )
    }

    /// Whether ratios depend on the position size (so the index must key on it).
    pub fn size_dependent(&self) -> bool {
        matches!(self.model, MarginModel::SizePremium { imf, .. } if imf > 0.0)
    }
}

/// The per-bar forecaster of a `predictive` margin's configuration: long-run volatilities
/// become per-bar variances, and the learner starts at the quantile of `|N(0, 1)|` on the
/// 22-bar volatility (the initial forecast is then `initial_vol`, as for HAR and GARCH).
fn method(f: &Forecaster, bar_s: f64) -> Method {
    let per_bar = |vol: f64| vol * vol * bar_s / SECONDS_PER_YEAR;
    match f {
        Forecaster::Har {
            b1,
            b5,
            b22,
            long_run_vol,
        } => Method::Har {
            coef: [
                (1.0 - b1 - b5 - b22) * per_bar(*long_run_vol),
                *b1,
                *b5,
                *b22,
            ],
        },
        Forecaster::GarchQuantile {
            alpha,
            beta,
            long_run_vol,
        } => Method::Garch {
            omega: (1.0 - alpha - beta) * per_bar(*long_run_vol),
            alpha: *alpha,
            beta: *beta,
        },
        Forecaster::Learned { tau, eta } => {
            let c0 = norm_inv(0.5 + 0.5 * tau);
            Method::Learned {
                fit: Pinball {
                    w: vec![0.0, 0.0, 0.0, c0],
                    tau: *tau,
                    eta: *eta,
                },
                c0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_size_premium_example() {
        // docs/references.md, R2 (worked check): base 1000, MR 10%, IMF 0.001 -> 0.08 + 0.0316 = 11.16%.
        let m = MarginState::new(
            &MarginModel::SizePremium {
                initial: 0.1,
                maintenance: 0.05,
                imf: 0.001,
            },
            &[100.0],
        );
        let r = m.ratio(0, 1000.0, Req::Initial);
        assert!((r - (0.08 + 0.001 * 1000f64.sqrt())).abs() < 1e-12);
        assert!((r - 0.1116).abs() < 1e-4);
        // Small positions pay the base ratio.
        assert_eq!(m.ratio(0, 1.0, Req::Initial), 0.1);
    }

    #[test]
    fn vol_adjusted_follows_the_ewma_forecast() {
        let model = MarginModel::VolAdjusted {
            k: 3.0,
            horizon_s: 86_400.0,
            estimator: VolEstimator::Ewma { half_life_s: 12.0 },
            floor: 0.01,
            cap: 0.5,
            initial_multiple: 1.5,
            initial_vol: 0.5,
        };
        let mut m = MarginState::new(&model, &[100.0]);
        let day = (86_400.0 / SECONDS_PER_YEAR).sqrt();
        assert!((m.base(0, Req::Maintenance) - 3.0 * 0.5 * day).abs() < 1e-12);
        // One 12-second block with a 1% move: the EWMA moves halfway to r^2/dt.
        m.update(&[101.0], 12.0);
        let r = (1.01f64).ln();
        let sample = r * r / (12.0 / SECONDS_PER_YEAR);
        let var = 0.25 + 0.5 * (sample - 0.25);
        let want = (3.0 * var.sqrt() * day).clamp(0.01, 0.5);
        assert!((m.base(0, Req::Maintenance) - want).abs() < 1e-12);
        assert!((m.base(0, Req::Initial) - 1.5 * want).abs() < 1e-12);
        // A huge move hits the cap.
        m.update(&[60.0], 12.0);
        assert_eq!(m.base(0, Req::Maintenance), 0.5);
    }

    #[test]
    fn vol_adjusted_falls_to_the_floor_in_a_still_market() {
        // No returns: the EWMA forecast halves every half-life (12 s, one block), so after 40
        // blocks sigma = 0.5 * 2^-20 and k sigma sqrt(1 day) is far below the 4% floor.
        let model = MarginModel::VolAdjusted {
            k: 3.0,
            horizon_s: 86_400.0,
            estimator: VolEstimator::Ewma { half_life_s: 12.0 },
            floor: 0.04,
            cap: 0.5,
            initial_multiple: 1.5,
            initial_vol: 0.5,
        };
        let mut m = MarginState::new(&model, &[100.0]);
        for _ in 0..40 {
            m.update(&[100.0], 12.0);
        }
        assert!((m.vol(0) - 0.5 * 0.5f64.powi(20)).abs() < 1e-15);
        assert_eq!(m.base(0, Req::Maintenance), 0.04);
        assert!((m.base(0, Req::Initial) - 0.06).abs() < 1e-15);
    }

    #[test]
    fn vol_adjusted_follows_the_garch_forecast() {
        // GARCH(1,1) on annualized variance rates: v' = omega + alpha r^2/dt + beta v.
        // omega 0.02, alpha 0.1, beta 0.85, v0 = 0.6^2 = 0.36. A 12-second block with a 0.5%
        // move: r^2/dt = ln(1.005)^2 * 31,536,000 / 12 = 65.37..., so
        // v1 = 0.02 + 6.537 + 0.306 = 6.863 (sigma 2.62: one 0.5% move in 12 s is a 262%
        // annualized volatility), maintenance = 2 * 2.62 * sqrt(3,600 / year) = 0.0560.
        let model = MarginModel::VolAdjusted {
            k: 2.0,
            horizon_s: 3_600.0,
            estimator: VolEstimator::Garch {
                omega: 0.02,
                alpha: 0.1,
                beta: 0.85,
            },
            floor: 0.01,
            cap: 0.5,
            initial_multiple: 2.0,
            initial_vol: 0.6,
        };
        let mut m = MarginState::new(&model, &[2000.0]);
        let hour = (3_600.0 / SECONDS_PER_YEAR).sqrt();
        assert!((m.base(0, Req::Maintenance) - 2.0 * 0.6 * hour).abs() < 1e-12);
        m.update(&[2010.0], 12.0);
        let sample = 1.005f64.ln().powi(2) * SECONDS_PER_YEAR / 12.0;
        assert!((sample - 65.37).abs() < 0.01);
        let v1 = 0.02 + 0.1 * sample + 0.85 * 0.36;
        assert!((m.vol(0) - v1.sqrt()).abs() < 1e-12);
        let want = 2.0 * v1.sqrt() * hour;
        assert!((want - 0.0560).abs() < 1e-4);
        assert!((m.base(0, Req::Maintenance) - want).abs() < 1e-12);
        assert!((m.base(0, Req::Initial) - 2.0 * want).abs() < 1e-12);
        // Quiet blocks afterwards: v decays geometrically (by beta) towards omega / (1 - beta),
        // the forecast with no returns, never below it.
        for _ in 0..400 {
            m.update(&[2010.0], 12.0);
        }
        assert!((m.vol(0).powi(2) - 0.02 / 0.15).abs() < 1e-9);
    }

    #[test]
    fn size_premium_applies_to_maintenance_and_initial() {
        // Drift's rule with maintenance 5%, imf 0.002: 0.04 + 0.002 sqrt(400) = 0.08 at 400
        // units; 0.8 * 0.1 + 0.04 = 0.12 for the initial ratio. Below (0.2 r / imf)^2 units
        // (25 for maintenance) the base ratio applies.
        let m = MarginState::new(
            &MarginModel::SizePremium {
                initial: 0.1,
                maintenance: 0.05,
                imf: 0.002,
            },
            &[100.0],
        );
        assert!((m.ratio(0, 400.0, Req::Maintenance) - 0.08).abs() < 1e-12);
        assert!((m.ratio(0, -400.0, Req::Maintenance) - 0.08).abs() < 1e-12);
        assert!((m.ratio(0, 400.0, Req::Initial) - 0.12).abs() < 1e-12);
        assert_eq!(m.ratio(0, 24.0, Req::Maintenance), 0.05);
        assert!(m.ratio(0, 26.0, Req::Maintenance) > 0.05);
        assert!(m.size_dependent());
    }
}
