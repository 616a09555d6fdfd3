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

use super::watch::YEAR_S;

/// `erfc(x)` to 1.2e-7 (Numerical Recipes' Chebyshev fit), enough for a decision rule.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The chance of touching the liquidation price at relative distance `d` within
/// `horizon_s` at annualized volatility `sigma`.
pub fn liquidation_chance(d: f64, sigma: f64, horizon_s: f64) -> f64 {
    if d <= 0.0 {
        return 1.0;
    }
    let s = sigma * (horizon_s / YEAR_S).sqrt();
    if s <= 0.0 {
        return 0.0;
    }
    // 2 Phi(-x) = erfc(x / sqrt 2).
    erfc(d / (s * std::f64::consts::SQRT_2)).min(1.0)
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

    #[test]
    fn erfc_matches_known_values() {
        for (x, v) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122),
            (1.0, 0.157_299_207),
            (2.0, 0.004_677_735),
        ] {
            assert!((erfc(x) - v).abs() < 2e-7, "erfc({x})");
            assert!((erfc(-x) - (2.0 - v)).abs() < 2e-7);
        }
    }

    #[test]
    fn chance_is_one_past_the_price_and_falls_with_distance() {
        assert_eq!(liquidation_chance(-0.01, 0.8, 3600.0), 1.0);
        let s = 0.8 * (3600.0 / YEAR_S).sqrt();
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
