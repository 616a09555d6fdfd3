//! How a trader weighs an action against the liquidation it may avert: the chance of a
//! liquidation within its horizon, and the expected penalty a top-up or a deleverage saves,
//! compared with what the action costs (gas, and for a trade its slippage and fee).
//!
//! The chance that the price moves adversely by the relative distance `d` to the
//! liquidation price within `horizon_s`, at annualized volatility `sigma`, is the
//! reflection-principle probability that a driftless Brownian motion of that volatility
//! touches `-d`: `P(d) = 2 Phi(-d / (sigma sqrt(horizon_s / year)))` (1 for `d <= 0`). The
//! distance is read from the account as `d = maintenance health / exposure` (exact for a
//! perp to first order in the maintenance ratio). The expected penalty of a position of
//! exposure `E` is `penalty * E * P(d)` (the liquidation bonus, or an auction's `chop`, on
//! what is liquidated).

use cascade_engine::options::norm_cdf;
use cascade_market::SECONDS_PER_YEAR;

/// The chance of touching the liquidation price at relative distance `d` within
/// `horizon_s` at annualized volatility `sigma`.
pub fn liquidation_chance(d: f64, sigma: f64, horizon_s: f64) -> f64 {
    if d <= 0.0 {
        return 1.0;
    }
    let s = sigma * (horizon_s / SECONDS_PER_YEAR).sqrt();
    if s <= 0.0 {
        return 0.0;
    }
    (2.0 * norm_cdf(-d / s)).min(1.0)
}

/// The market a decision is priced in: penalty, volatility and horizon.
#[derive(Debug, Clone, Copy)]
pub struct RiskCtx {
    /// Penalty of a liquidation, a fraction of what is liquidated.
    pub penalty: f64,
    /// Annualized volatility the trader assumes.
    pub sigma: f64,
    pub horizon_s: f64,
}

impl RiskCtx {
    /// Expected penalty of a position of exposure `e` at maintenance health `h`.
    pub fn expected_penalty(&self, h: f64, e: f64) -> f64 {
        if e <= 0.0 {
            return 0.0;
        }
        self.penalty * e * liquidation_chance(h / e, self.sigma, self.horizon_s)
    }

    /// What adding `amount` of margin saves: the drop of the expected penalty.
    pub fn topup_saving(&self, h: f64, e: f64, amount: f64) -> f64 {
        self.expected_penalty(h, e) - self.expected_penalty(h + amount, e)
    }

    /// What closing the fraction `f` of a perp position saves, when the trade costs
    /// `trade_cost` (slippage and fee, taken from the account's equity): the maintenance
    /// requirement `equity - h` shrinks to `(1 - f)` of itself and the exposure with it.
    pub fn reduce_saving(&self, h: f64, equity: f64, e: f64, f: f64, trade_cost: f64) -> f64 {
        let req = equity - h;
        let h_after = equity - trade_cost - (1.0 - f) * req;
        self.expected_penalty(h, e) - self.expected_penalty(h_after, (1.0 - f) * e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `2 Phi(-x / s) = erfc(x / (s sqrt 2))`: the chance at the distances where `erfc` takes
    /// known values.
    #[test]
    fn chance_matches_known_values_of_erfc() {
        let (sigma, horizon) = (0.8, 3600.0);
        let s = sigma * (horizon / SECONDS_PER_YEAR).sqrt();
        for (x, v) in [
            (0.5, 0.479_500_122),
            (1.0, 0.157_299_207),
            (2.0, 0.004_677_735),
        ] {
            let d = x * s * std::f64::consts::SQRT_2;
            let p = liquidation_chance(d, sigma, horizon);
            assert!((p - v).abs() < 2e-7, "chance at erfc({x})");
        }
    }

    #[test]
    fn chance_is_one_past_the_price_and_falls_with_distance() {
        assert_eq!(liquidation_chance(-0.01, 0.8, 3600.0), 1.0);
        let s = 0.8 * (3600.0 / SECONDS_PER_YEAR).sqrt();
        // One standard deviation away: 2 Phi(-1) = 0.3173.
        assert!((liquidation_chance(s, 0.8, 3600.0) - 0.317_310_5).abs() < 1e-6);
        assert!(liquidation_chance(0.02, 0.8, 3600.0) > liquidation_chance(0.04, 0.8, 3600.0));
    }

    /// A top-up far from the liquidation price saves nothing worth its gas; close to it, it
    /// saves a large part of the penalty.
    #[test]
    fn a_topup_saves_most_near_the_liquidation_price() {
        let ctx = RiskCtx {
            penalty: 0.08,
            sigma: 0.8,
            horizon_s: 3600.0,
        };
        let e = 20_000.0;
        let far = ctx.topup_saving(0.2 * e, e, 0.1 * e);
        let near = ctx.topup_saving(0.002 * e, e, 0.1 * e);
        assert!(far < 1.0, "far: {far}");
        assert!(near > 0.5 * 0.08 * e, "near: {near}");
    }
}
