//! Volatility forecasts for `predictive` margin: HAR-RV (Corsi 2009), GARCH(1,1) over the
//! horizon (Bollerslev 1986) and an online quantile regression fitted by pinball-loss
//! subgradient steps (Koenker and Bassett 1978) on the run's own past returns.
//!
//! Why a module of its own: the forecasts are pure arithmetic on a series of bar returns,
//! shared by the margin state (one [`Predictor`] per asset) and by the validation tests that
//! check them against closed forms and known fits (`har_fit`, `garch_horizon_var`,
//! [`Pinball`]). Everything is deterministic: no random draw, no map iteration; a forecast is
//! a function of the oracle prices seen so far (docs/model.md, "Predictive margin").
//!
//! Units: returns are log returns of the oracle price over a bar of `bar_s` seconds; a
//! variance is per bar. The horizon is `n = horizon_s / bar_s` bars.

use crate::options::norm_cdf;
use cascade_market::SECONDS_PER_YEAR;
use std::collections::VecDeque;

/// The HAR lags in bars: the last bar, the mean of the last 5 and of the last 22 (Corsi's
/// day, week and month on daily bars).
pub const HAR_LAGS: [usize; 3] = [1, 5, 22];

/// The inverse of the standard normal CDF: Acklam's rational approximation refined by one
/// Halley step against `norm_cdf` (libm's erfc), accurate to about 1e-15 in (1e-300, 1).
pub fn norm_inv(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "norm_inv needs 0 < p < 1, got {p}");
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let lo = 0.02425;
    let x = if p < lo {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - lo {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step on norm_cdf(x) - p.
    let e = norm_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    x - u / (1.0 + 0.5 * x * u)
}

/// One GARCH(1,1) step: the next bar's conditional variance `omega + alpha r^2 + beta h`.
pub fn garch_step(h: f64, r: f64, omega: f64, alpha: f64, beta: f64) -> f64 {
    omega + alpha * r * r + beta * h
}

/// The variance of the sum of the next `n` bar returns under GARCH(1,1) when the next bar's
/// variance is `h1`: `sum_{k=1..n} E[h_k] = n vbar + (h1 - vbar)(1 - phi^n)/(1 - phi)`, with
/// `vbar = omega / (1 - phi)` the long-run variance and `phi = alpha + beta < 1`
/// (`E[h_{k+1}] - vbar = phi (E[h_k] - vbar)`). `n` may be fractional.
pub fn garch_horizon_var(h1: f64, vbar: f64, phi: f64, n: f64) -> f64 {
    let decay = if phi > 0.0 {
        (1.0 - phi.powf(n)) / (1.0 - phi)
    } else {
        n.min(1.0)
    };
    n * vbar + (h1 - vbar) * decay
}

/// The HAR regressors of a history of bar variances (oldest first): the means of its last 1,
/// 5 and 22 entries (fewer when the history is shorter).
pub fn har_components(hist: &[f64]) -> [f64; 3] {
    let mut c = [0.0; 3];
    for (i, &k) in HAR_LAGS.iter().enumerate() {
        let k = k.min(hist.len()).max(1);
        let tail = &hist[hist.len().saturating_sub(k)..];
        c[i] = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
    }
    c
}

/// The HAR forecast of the next bar's variance: `b0 + b1 RV(1) + b5 RV(5) + b22 RV(22)`.
pub fn har_forecast(coef: &[f64; 4], hist: &[f64]) -> f64 {
    let c = har_components(hist);
    coef[0] + coef[1] * c[0] + coef[2] * c[1] + coef[3] * c[2]
}

/// The HAR forecast of the variance of the next `n` bars (rounded to a whole number, at least
/// one), iterating the one-step forecast on its own outputs (the direct multi-step forecast
/// of an AR model).
pub fn har_horizon_var(coef: &[f64; 4], hist: &[f64], n: f64) -> f64 {
    let steps = (n.round() as usize).max(1);
    let mut ext: Vec<f64> = hist.to_vec();
    let mut total = 0.0;
    for _ in 0..steps {
        let f = har_forecast(coef, &ext).max(0.0);
        total += f;
        ext.push(f);
    }
    total
}

/// Ordinary least squares of the HAR regression on a series of bar variances: the
/// coefficients `[b0, b1, b5, b22]` and their standard errors (homoskedastic), from the
/// 4x4 normal equations. Used to validate HAR on a simulated HAR process.
pub fn har_fit(rv: &[f64]) -> Option<([f64; 4], [f64; 4])> {
    let lag = HAR_LAGS[2];
    if rv.len() < lag + 10 {
        return None;
    }
    let mut xtx = [[0.0; 4]; 4];
    let mut xty = [0.0; 4];
    let mut rows = Vec::with_capacity(rv.len() - lag);
    for t in lag..rv.len() {
        let c = har_components(&rv[t - lag..t]);
        let x = [1.0, c[0], c[1], c[2]];
        for i in 0..4 {
            xty[i] += x[i] * rv[t];
            for j in 0..4 {
                xtx[i][j] += x[i] * x[j];
            }
        }
        rows.push((x, rv[t]));
    }
    let inv = invert4(xtx)?;
    let mut b = [0.0; 4];
    for i in 0..4 {
        b[i] = (0..4).map(|j| inv[i][j] * xty[j]).sum();
    }
    let sse: f64 = rows
        .iter()
        .map(|(x, y)| {
            let e = y - (0..4).map(|i| b[i] * x[i]).sum::<f64>();
            e * e
        })
        .sum();
    let s2 = sse / (rows.len() - 4) as f64;
    let mut se = [0.0; 4];
    for i in 0..4 {
        se[i] = (s2 * inv[i][i]).sqrt();
    }
    Some((b, se))
}

/// The inverse of a 4x4 matrix by Gauss-Jordan elimination with partial pivoting.
fn invert4(m: [[f64; 4]; 4]) -> Option<[[f64; 4]; 4]> {
    let mut a = m;
    let mut inv = [[0.0; 4]; 4];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for col in 0..4 {
        let piv = (col..4).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        inv.swap(col, piv);
        let d = a[col][col];
        for j in 0..4 {
            a[col][j] /= d;
            inv[col][j] /= d;
        }
        for r in 0..4 {
            if r != col {
                let f = a[r][col];
                for j in 0..4 {
                    a[r][j] -= f * a[col][j];
                    inv[r][j] -= f * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

/// An online linear quantile regression: `y_hat = w . x`, fitted by stochastic subgradient
/// steps on the pinball loss `rho_tau(y - y_hat)`: `w += eta (tau - 1{y < y_hat}) x`. With a
/// constant step it tracks a moving quantile; its iterates hover around the `tau`-quantile of
/// `y` given `x` within a band that shrinks with `eta`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pinball {
    pub w: Vec<f64>,
    pub tau: f64,
    pub eta: f64,
}

impl Pinball {
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.w.iter().zip(x).map(|(w, x)| w * x).sum()
    }

    /// One subgradient step on the observation `(x, y)`.
    pub fn update(&mut self, x: &[f64], y: f64) {
        let g = if y < self.predict(x) {
            self.tau - 1.0
        } else {
            self.tau
        };
        for (w, xi) in self.w.iter_mut().zip(x) {
            *w += self.eta * g * xi;
        }
    }
}

/// The forecaster of `predictive` margin (`engine.margin.forecaster`), with its parameters
/// in per-bar units.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// HAR-RV with coefficients `[b0, b1, b5, b22]`.
    Har { coef: [f64; 4] },
    /// GARCH(1,1) on bar returns.
    Garch { omega: f64, alpha: f64, beta: f64 },
    /// Online quantile regression of the next bar's |return| on `[1, sqrt RV(1), sqrt RV(5),
    /// sqrt RV(22)]`, all divided by the initial per-bar volatility; `c0 = Phi^-1((1 + tau)
    /// / 2)` turns its quantile into a normal scale.
    Learned { fit: Pinball, c0: f64 },
}

/// One asset's forecast state: the current bar's sums, the history of bar variances and the
/// forecaster's state. Bars close at the first block whose accumulated time reaches `bar_s`;
/// a longer bar's variance and return are rescaled to `bar_s`.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictor {
    method: Method,
    bar_s: f64,
    /// Horizon in bars.
    n: f64,
    /// The initial per-bar volatility (the learner's unit).
    s0: f64,
    bar_t: f64,
    bar_rv: f64,
    bar_ret: f64,
    /// Bar variances, oldest first, at most 22.
    hist: VecDeque<f64>,
    /// GARCH: the next bar's conditional variance.
    h: f64,
    /// The learner's features at the last bar close (the regressors of the next bar's label).
    x_prev: [f64; 4],
    /// The forecast standard deviation of the horizon's log return.
    sigma_h: f64,
}

impl Predictor {
    /// A predictor that starts from `initial_vol` (annualized) as if every past bar had had
    /// that volatility.
    pub fn new(method: Method, initial_vol: f64, bar_s: f64, horizon_s: f64) -> Predictor {
        let v0 = initial_vol * initial_vol * bar_s / SECONDS_PER_YEAR;
        let mut p = Predictor {
            method,
            bar_s,
            n: horizon_s / bar_s,
            s0: v0.sqrt(),
            bar_t: 0.0,
            bar_rv: 0.0,
            bar_ret: 0.0,
            hist: std::iter::repeat_n(v0, HAR_LAGS[2]).collect(),
            h: v0,
            x_prev: [0.0; 4],
            sigma_h: 0.0,
        };
        p.x_prev = p.features();
        p.sigma_h = p.forecast();
        p
    }

    /// The forecast standard deviation of the log return over the horizon.
    pub fn sigma_h(&self) -> f64 {
        self.sigma_h
    }

    /// Feed one block's log return `r` over `dt_s` seconds. Returns whether a bar closed
    /// (and the forecast was recomputed).
    pub fn observe(&mut self, r: f64, dt_s: f64) -> bool {
        self.bar_t += dt_s;
        self.bar_rv += r * r;
        self.bar_ret += r;
        if self.bar_t < self.bar_s * (1.0 - 1e-12) {
            return false;
        }
        let k = self.bar_s / self.bar_t;
        let (rv, ret) = (self.bar_rv * k, self.bar_ret * k.sqrt());
        self.bar_t = 0.0;
        self.bar_rv = 0.0;
        self.bar_ret = 0.0;
        self.hist.push_back(rv);
        if self.hist.len() > HAR_LAGS[2] {
            self.hist.pop_front();
        }
        let x_prev = self.x_prev;
        let s0 = self.s0;
        match &mut self.method {
            Method::Har { .. } => {}
            Method::Garch { omega, alpha, beta } => {
                self.h = garch_step(self.h, ret, *omega, *alpha, *beta);
            }
            Method::Learned { fit, .. } => fit.update(&x_prev, ret.abs() / s0),
        }
        self.x_prev = self.features();
        self.sigma_h = self.forecast();
        true
    }

    fn features(&self) -> [f64; 4] {
        let hist: Vec<f64> = self.hist.iter().copied().collect();
        let c = har_components(&hist);
        let s = self.s0;
        [1.0, c[0].sqrt() / s, c[1].sqrt() / s, c[2].sqrt() / s]
    }

    fn forecast(&self) -> f64 {
        let var = match &self.method {
            Method::Har { coef } => {
                let hist: Vec<f64> = self.hist.iter().copied().collect();
                har_horizon_var(coef, &hist, self.n)
            }
            Method::Garch { omega, alpha, beta } => {
                let phi = alpha + beta;
                garch_horizon_var(self.h, omega / (1.0 - phi), phi, self.n)
            }
            Method::Learned { fit, c0 } => {
                let s = fit.predict(&self.x_prev).max(0.0) / c0 * self.s0;
                s * s * self.n
            }
        };
        var.max(0.0).sqrt()
    }
}
