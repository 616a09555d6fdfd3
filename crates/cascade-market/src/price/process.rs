//! Exogenous price processes: the market moves that no agent in the simulation causes.
//!
//! Units: time in seconds, rates and volatilities annualized over a 365-day year; a block of
//! `dt_s` seconds is `dt = dt_s / SECONDS_PER_YEAR` years. Each process receives one correlated
//! standard normal `e` per block (the caller draws exactly one per asset per block, whatever
//! the kinds, so paths stay aligned across sweep points) and, for jumps, a separate stream.
//!
//! - `gbm {mu, sigma}`: exact log step `ln S' = ln S + (mu - sigma^2/2) dt + sigma sqrt(dt) e`.
//! - `jump_diffusion {mu, sigma, lambda, jump_mean, jump_std}` (Merton): the diffusion drift is
//!   compensated, `mu - lambda * kbar` with `kbar = exp(jump_mean + jump_std^2/2) - 1`, so that
//!   `E[S_t] = S_0 e^{mu t}`; `N ~ Poisson(lambda dt)` jumps each add `N(jump_mean, jump_std^2)`
//!   to `ln S`.
//! - `hawkes_jump_diffusion {mu, sigma, lambda0, alpha, beta, jump_mean, jump_std}`: the
//!   same, with self-exciting jump times (`hawkes.rs`): intensity `lambda0 + sum alpha
//!   e^{-beta (t - t_i)}` per year; the drift is compensated by the block's integrated
//!   intensity, so again `E[S_t] = S_0 e^{mu t}`.
//! - `garch11 {mu, omega, alpha, beta}`: with per-block variance `h`, `eps = sqrt(h) e`,
//!   `ln S' = ln S + mu dt - h/2 + eps`, `h' = omega dt + alpha eps^2 + beta h`. `omega` is an
//!   annualized variance rate, so the long-run annualized variance is `omega / (1 - alpha -
//!   beta)` whatever the block time; the process starts there. With varying block times
//!   (exponential blocks) the variance is carried as a rate `h / dt` and rescaled to each
//!   block's length.
//! - `scripted {points, noise_sigma}`: the path `path(t)` is piecewise log-linear through the
//!   points (flat before the first and after the last); with noise,
//!   `ln S_t = ln path(t) + W_t`, `W` a Brownian motion of volatility `noise_sigma` with drift
//!   `-noise_sigma^2 / 2`, so that `E[S_t] = path(t)`.
//! - `replay {path, column, time_column}`: historical data, loaded by the simulator (this crate
//!   does no IO), interpolated log-linearly between rows and held flat outside them.

use super::hawkes::{Hawkes, validate_hawkes};
use crate::SECONDS_PER_YEAR;
use cascade_core::{Check, SimRng};
use rand_distr::{Distribution, Poisson, StandardNormal};
use serde::{Deserialize, Serialize};

/// The largest `jump_diffusion` intensity, jumps per year: every jump is drawn in the block
/// it falls in, so an unbounded intensity would make a block unbounded work.
pub const MAX_JUMPS_PER_YEAR: f64 = 1e6;

/// The log jump size of both jump kinds: `jump_mean` finite in `[-5, 5]`, `jump_std >= 0`.
fn check_jump_size(c: &mut Check, jump_mean: f64, jump_std: f64) {
    c.finite("jump_mean", jump_mean);
    c.non_negative("jump_std", jump_std);
    if jump_mean.abs() > 5.0 {
        c.fail(
            "jump_mean",
            format!("must be in [-5, 5] (a log jump; got {jump_mean})"),
        );
    }
}

fn default_time_column() -> String {
    "t_s".to_string()
}

/// An asset's exogenous process (serde tag `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProcessConfig {
    Gbm {
        mu: f64,
        sigma: f64,
    },
    JumpDiffusion {
        mu: f64,
        sigma: f64,
        /// Expected jumps per year.
        lambda: f64,
        /// Mean of the log jump size.
        jump_mean: f64,
        /// Standard deviation of the log jump size.
        jump_std: f64,
    },
    /// Merton's jumps at self-exciting (Hawkes) times; rates per year (`hawkes.rs`).
    HawkesJumpDiffusion {
        mu: f64,
        sigma: f64,
        /// Baseline jump intensity, per year.
        lambda0: f64,
        /// Intensity added by each jump, per year.
        alpha: f64,
        /// Decay rate of that excitation, per year (`alpha / beta < 1`).
        beta: f64,
        jump_mean: f64,
        jump_std: f64,
    },
    Garch11 {
        mu: f64,
        /// Annualized variance rate.
        omega: f64,
        alpha: f64,
        beta: f64,
    },
    Scripted {
        /// `[[t_s, price], ...]`, times strictly increasing.
        points: Vec<[f64; 2]>,
        /// Annualized volatility of the noise around the path.
        #[serde(default)]
        noise_sigma: f64,
    },
    Replay {
        /// CSV file, relative to the scenario file.
        path: String,
        /// The price column.
        column: String,
        /// The time column (seconds from the start of the run).
        #[serde(default = "default_time_column")]
        time_column: String,
    },
}

impl ProcessConfig {
    /// Record every broken rule under `c`.
    pub fn validate(&self, c: &mut Check) {
        match self {
            ProcessConfig::Gbm { mu, sigma } => {
                c.finite("mu", *mu);
                c.non_negative("sigma", *sigma);
            }
            ProcessConfig::JumpDiffusion {
                mu,
                sigma,
                lambda,
                jump_mean,
                jump_std,
            } => {
                c.finite("mu", *mu);
                c.non_negative("sigma", *sigma);
                c.non_negative("lambda", *lambda);
                // Each jump is a draw in the block's loop: bound the work a block can take.
                if *lambda > MAX_JUMPS_PER_YEAR {
                    c.fail(
                        "lambda",
                        format!(
                            "must be at most {MAX_JUMPS_PER_YEAR:e} jumps a year (about one \
                             every 32 s; got {lambda})"
                        ),
                    );
                }
                check_jump_size(c, *jump_mean, *jump_std);
            }
            ProcessConfig::HawkesJumpDiffusion {
                mu,
                sigma,
                lambda0,
                alpha,
                beta,
                jump_mean,
                jump_std,
            } => {
                c.finite("mu", *mu);
                c.non_negative("sigma", *sigma);
                validate_hawkes(c, *lambda0, *alpha, *beta);
                check_jump_size(c, *jump_mean, *jump_std);
            }
            ProcessConfig::Garch11 {
                mu,
                omega,
                alpha,
                beta,
            } => {
                c.finite("mu", *mu);
                c.positive("omega", *omega);
                c.non_negative("alpha", *alpha);
                c.non_negative("beta", *beta);
                if alpha.is_finite() && beta.is_finite() && alpha + beta >= 1.0 {
                    c.fail(
                        "beta",
                        format!(
                            "alpha + beta must be < 1 for a stationary variance (got {})",
                            alpha + beta
                        ),
                    );
                }
            }
            ProcessConfig::Scripted {
                points,
                noise_sigma,
            } => {
                c.non_negative("noise_sigma", *noise_sigma);
                if points.is_empty() {
                    c.fail("points", "must list at least one [t_s, price] point");
                }
                for (i, p) in points.iter().enumerate() {
                    if !(p[0].is_finite() && p[0] >= 0.0) {
                        c.fail(
                            &format!("points[{i}]"),
                            format!("time must be finite and >= 0 (got {})", p[0]),
                        );
                    }
                    if !(p[1].is_finite() && p[1] > 0.0) {
                        c.fail(
                            &format!("points[{i}]"),
                            format!("price must be > 0 (got {})", p[1]),
                        );
                    }
                    if i > 0 && p[0] <= points[i - 1][0] {
                        c.fail(
                            &format!("points[{i}]"),
                            format!(
                                "times must increase strictly ({} follows {})",
                                p[0],
                                points[i - 1][0]
                            ),
                        );
                    }
                }
            }
            ProcessConfig::Replay {
                path,
                column,
                time_column,
            } => {
                if path.trim().is_empty() {
                    c.fail("path", "must name a CSV file");
                }
                if column.trim().is_empty() {
                    c.fail("column", "must name the price column");
                }
                if time_column.trim().is_empty() {
                    c.fail("time_column", "must name the time column");
                }
            }
        }
    }
}

/// A historical series: times (seconds from the start of the run) and prices.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplayData {
    pub t_s: Vec<f64>,
    pub price: Vec<f64>,
}

impl ReplayData {
    /// At least one row, strictly increasing finite times, finite positive prices. The message
    /// names the first bad row (1 = the first data row).
    pub fn validate(&self) -> Result<(), String> {
        if self.t_s.is_empty() || self.t_s.len() != self.price.len() {
            return Err("has no data rows".into());
        }
        for i in 0..self.t_s.len() {
            if !self.t_s[i].is_finite() {
                return Err(format!("data row {}: time is not finite", i + 1));
            }
            if !(self.price[i].is_finite() && self.price[i] > 0.0) {
                return Err(format!(
                    "data row {}: price must be > 0 (got {})",
                    i + 1,
                    self.price[i]
                ));
            }
            if i > 0 && self.t_s[i] <= self.t_s[i - 1] {
                return Err(format!(
                    "data row {}: times must increase strictly ({} follows {})",
                    i + 1,
                    self.t_s[i],
                    self.t_s[i - 1]
                ));
            }
        }
        Ok(())
    }

    /// Log-linear interpolation at `t`, held flat outside the data.
    pub fn at(&self, t: f64) -> f64 {
        interp_log(&self.t_s, &self.price, t)
    }
}

/// Piecewise log-linear interpolation through `(ts[i], ps[i])`, flat outside.
pub fn interp_log(ts: &[f64], ps: &[f64], t: f64) -> f64 {
    let n = ts.len();
    if n == 0 {
        return f64::NAN;
    }
    if t <= ts[0] {
        return ps[0];
    }
    if t >= ts[n - 1] {
        return ps[n - 1];
    }
    // First index with ts[i] > t.
    let i = ts.partition_point(|&x| x <= t);
    let (t0, t1) = (ts[i - 1], ts[i]);
    if t == t0 {
        return ps[i - 1];
    }
    let w = (t - t0) / (t1 - t0);
    (ps[i - 1].ln() * (1.0 - w) + ps[i].ln() * w).exp()
}

#[derive(Debug, Clone)]
enum Kind {
    Gbm {
        mu: f64,
        sigma: f64,
    },
    Jump {
        mu: f64,
        sigma: f64,
        lambda: f64,
        jump_mean: f64,
        jump_std: f64,
        kbar: f64,
    },
    Hawkes {
        mu: f64,
        sigma: f64,
        jump_mean: f64,
        jump_std: f64,
        kbar: f64,
        intensity: Hawkes,
    },
    Garch {
        mu: f64,
        omega: f64,
        alpha: f64,
        beta: f64,
        /// Per-block variance divided by the block's length in years (a rate).
        h_rate: f64,
    },
    Path {
        ts: Vec<f64>,
        ps: Vec<f64>,
        noise_sigma: f64,
        w: f64,
    },
}

/// The state of one asset's exogenous process.
#[derive(Debug, Clone)]
pub struct Process {
    kind: Kind,
    price: f64,
}

impl Process {
    /// Build from a configuration; `replay` must be given for a replay process.
    pub fn new(
        cfg: &ProcessConfig,
        initial_price: f64,
        replay: Option<&ReplayData>,
    ) -> Result<Process, String> {
        let (kind, p0) = match cfg {
            ProcessConfig::Gbm { mu, sigma } => (
                Kind::Gbm {
                    mu: *mu,
                    sigma: *sigma,
                },
                initial_price,
            ),
            ProcessConfig::JumpDiffusion {
                mu,
                sigma,
                lambda,
                jump_mean,
                jump_std,
            } => (
                Kind::Jump {
                    mu: *mu,
                    sigma: *sigma,
                    lambda: *lambda,
                    jump_mean: *jump_mean,
                    jump_std: *jump_std,
                    kbar: (jump_mean + 0.5 * jump_std * jump_std).exp() - 1.0,
                },
                initial_price,
            ),
            ProcessConfig::HawkesJumpDiffusion {
                mu,
                sigma,
                lambda0,
                alpha,
                beta,
                jump_mean,
                jump_std,
            } => {
                if !(*beta > 0.0 && alpha / beta < 1.0) {
                    return Err("hawkes_jump_diffusion: alpha / beta must be < 1".into());
                }
                (
                    Kind::Hawkes {
                        mu: *mu,
                        sigma: *sigma,
                        jump_mean: *jump_mean,
                        jump_std: *jump_std,
                        kbar: (jump_mean + 0.5 * jump_std * jump_std).exp() - 1.0,
                        intensity: Hawkes::new(*lambda0, *alpha, *beta),
                    },
                    initial_price,
                )
            }
            ProcessConfig::Garch11 {
                mu,
                omega,
                alpha,
                beta,
            } => {
                if alpha + beta >= 1.0 {
                    return Err("garch11: alpha + beta must be < 1".into());
                }
                (
                    Kind::Garch {
                        mu: *mu,
                        omega: *omega,
                        alpha: *alpha,
                        beta: *beta,
                        h_rate: omega / (1.0 - alpha - beta),
                    },
                    initial_price,
                )
            }
            ProcessConfig::Scripted {
                points,
                noise_sigma,
            } => {
                if points.is_empty() {
                    return Err("scripted: no points".into());
                }
                let ts: Vec<f64> = points.iter().map(|p| p[0]).collect();
                let ps: Vec<f64> = points.iter().map(|p| p[1]).collect();
                let p0 = interp_log(&ts, &ps, 0.0);
                (
                    Kind::Path {
                        ts,
                        ps,
                        noise_sigma: *noise_sigma,
                        w: 0.0,
                    },
                    p0,
                )
            }
            ProcessConfig::Replay { .. } => {
                let d = replay.ok_or("replay: no data loaded")?;
                d.validate()?;
                (
                    Kind::Path {
                        ts: d.t_s.clone(),
                        ps: d.price.clone(),
                        noise_sigma: 0.0,
                        w: 0.0,
                    },
                    d.at(0.0),
                )
            }
        };
        if !(p0.is_finite() && p0 > 0.0) {
            return Err(format!("initial price must be > 0 (got {p0})"));
        }
        Ok(Process { kind, price: p0 })
    }

    /// The current price.
    pub fn price(&self) -> f64 {
        self.price
    }

    /// Advance over a block ending at `t_s` of length `dt_s`, with this block's correlated
    /// standard normal `e`; jump draws come from `jumps`.
    pub fn step(&mut self, t_s: f64, dt_s: f64, e: f64, jumps: &mut SimRng) -> f64 {
        let dt = dt_s / SECONDS_PER_YEAR;
        match &mut self.kind {
            Kind::Gbm { mu, sigma } => {
                self.price *= ((*mu - 0.5 * *sigma * *sigma) * dt + *sigma * dt.sqrt() * e).exp();
            }
            Kind::Jump {
                mu,
                sigma,
                lambda,
                jump_mean,
                jump_std,
                kbar,
            } => {
                let drift = *mu - *lambda * *kbar - 0.5 * *sigma * *sigma;
                let mut x = drift * dt + *sigma * dt.sqrt() * e;
                let rate = *lambda * dt;
                if rate > 0.0 {
                    let n: f64 = Poisson::new(rate).map(|p| p.sample(jumps)).unwrap_or(0.0);
                    for _ in 0..(n as u64) {
                        let z: f64 = StandardNormal.sample(jumps);
                        x += *jump_mean + *jump_std * z;
                    }
                }
                self.price *= x.exp();
            }
            Kind::Hawkes {
                mu,
                sigma,
                jump_mean,
                jump_std,
                kbar,
                intensity,
            } => {
                // The compensator is the block's integrated intensity, exact from the thinning.
                let (n, integral) = intensity.step(dt, jumps);
                let mut x =
                    (*mu - 0.5 * *sigma * *sigma) * dt + *sigma * dt.sqrt() * e - *kbar * integral;
                for _ in 0..n {
                    let z: f64 = StandardNormal.sample(jumps);
                    x += *jump_mean + *jump_std * z;
                }
                self.price *= x.exp();
            }
            Kind::Garch {
                mu,
                omega,
                alpha,
                beta,
                h_rate,
            } => {
                let h = *h_rate * dt;
                let eps = h.sqrt() * e;
                self.price *= (*mu * dt - 0.5 * h + eps).exp();
                let h_next = *omega * dt + *alpha * eps * eps + *beta * h;
                if dt > 0.0 {
                    *h_rate = h_next / dt;
                }
            }
            Kind::Path {
                ts,
                ps,
                noise_sigma,
                w,
            } => {
                let s = *noise_sigma;
                if s > 0.0 {
                    *w += s * dt.sqrt() * e - 0.5 * s * s * dt;
                }
                self.price = interp_log(ts, ps, t_s) * w.exp();
            }
        }
        self.price()
    }

    /// The conditional per-block variance rate of a GARCH process (annualized), if any.
    pub fn garch_variance_rate(&self) -> Option<f64> {
        match &self.kind {
            Kind::Garch { h_rate, .. } => Some(*h_rate),
            _ => None,
        }
    }
}
