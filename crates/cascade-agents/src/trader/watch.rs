//! What a trader observes of the market before it enters: the realized volatility and the
//! drawdown of the oracle price it can read on chain (the View's `oracle`), computed from
//! those observations alone, in block order, so the numbers are deterministic and the same
//! for every trader of an asset.
//!
//! - Realized volatility: an EWMA of the variance rate `r^2 / dt` of the log returns between
//!   consecutive block observations, with weight `2^(-dt / vol_half_life_s)` on the past
//!   (the engine's `margin::ewma_step`, shared with `vol_adjusted` margin and the market
//!   maker), annualized (`rv = sqrt(v * 31,536,000)`).
//! - Drawdown: `1 - p / max(p over the last drawdown_window_s)`.
//!
//! The entry rate is `open_per_hour * exp(-entry_vol_k * max(0, rv / vol_ref - 1)
//! - entry_drawdown_k * drawdown)`.

use cascade_engine::margin::ewma_step;
use cascade_market::SECONDS_PER_YEAR;
use std::collections::VecDeque;

/// One trader's running observation of one asset's oracle price.
#[derive(Debug, Clone, Default)]
pub struct MarketWatch {
    /// Last observation (time, price).
    last: Option<(f64, f64)>,
    /// EWMA variance rate per second.
    var_rate: f64,
    /// Observations that can still be the window's maximum: prices strictly decreasing from
    /// front to back (a monotone queue), with their times.
    peaks: VecDeque<(f64, f64)>,
}

impl MarketWatch {
    /// Record the price `p` observed at time `t` (once per block; `t` increasing).
    pub fn observe(&mut self, t: f64, p: f64, half_life_s: f64, window_s: f64) {
        if !(p > 0.0 && p.is_finite()) {
            return;
        }
        if let Some((t0, p0)) = self.last {
            let dt = t - t0;
            if dt > 0.0 {
                let r = (p / p0).ln();
                self.var_rate = ewma_step(self.var_rate, r * r / dt, dt, half_life_s);
            }
        }
        self.last = Some((t, p));
        while self.peaks.back().is_some_and(|&(_, q)| q <= p) {
            self.peaks.pop_back();
        }
        self.peaks.push_back((t, p));
        while self.peaks.front().is_some_and(|&(s, _)| s < t - window_s) {
            self.peaks.pop_front();
        }
    }

    /// Annualized realized volatility.
    pub fn rv(&self) -> f64 {
        (self.var_rate * SECONDS_PER_YEAR).sqrt()
    }

    /// `1 - p / max(p over the window)`, 0 before any observation.
    pub fn drawdown(&self) -> f64 {
        match (self.last, self.peaks.front()) {
            (Some((_, p)), Some(&(_, peak))) if peak > 0.0 => (1.0 - p / peak).max(0.0),
            _ => 0.0,
        }
    }
}

/// The factor on `open_per_hour` at realized volatility `rv` and drawdown `dd`:
/// `exp(-k_vol max(0, rv / vol_ref - 1) - k_dd dd)`.
pub fn entry_factor(rv: f64, dd: f64, vol_ref: f64, k_vol: f64, k_dd: f64) -> f64 {
    (-k_vol * (rv / vol_ref - 1.0).max(0.0) - k_dd * dd).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_is_from_the_window_maximum() {
        let mut w = MarketWatch::default();
        for (t, p) in [(0.0, 100.0), (10.0, 120.0), (20.0, 90.0), (30.0, 96.0)] {
            w.observe(t, p, 600.0, 100.0);
        }
        assert!((w.drawdown() - (1.0 - 96.0 / 120.0)).abs() < 1e-12);
        // The peak leaves the window: the maximum is then 96 (at t = 30), then 60.
        w.observe(115.0, 60.0, 600.0, 100.0);
        assert!((w.drawdown() - (1.0 - 60.0 / 96.0)).abs() < 1e-12);
        w.observe(200.0, 60.0, 600.0, 100.0);
        assert_eq!(w.drawdown(), 0.0);
    }

    /// A constant-volatility path of returns +-s per dt gives `rv` = s / sqrt(dt) annualized.
    #[test]
    fn realized_vol_converges_to_the_path_volatility() {
        let mut w = MarketWatch::default();
        let (dt, s): (f64, f64) = (12.0, 0.004);
        let mut p = 2000.0;
        for i in 0..5000 {
            p *= if i % 2 == 0 { s.exp() } else { (-s).exp() };
            w.observe(i as f64 * dt, p, 600.0, 3600.0);
        }
        let want = s / dt.sqrt() * SECONDS_PER_YEAR.sqrt();
        assert!((w.rv() / want - 1.0).abs() < 1e-6, "{} vs {want}", w.rv());
    }

    #[test]
    fn entry_falls_with_volatility_above_reference_and_with_drawdown() {
        assert_eq!(entry_factor(0.5, 0.0, 0.8, 1.0, 10.0), 1.0);
        let f = entry_factor(1.6, 0.0, 0.8, 1.0, 10.0);
        assert!((f - (-1.0f64).exp()).abs() < 1e-12);
        let g = entry_factor(0.5, 0.2, 0.8, 1.0, 10.0);
        assert!((g - (-2.0f64).exp()).abs() < 1e-12);
    }
}
