//! Liquidity providers who withdraw under stress, so on-chain depth is endogenous.
//!
//! A `cpmm` venue with `withdraw = { vol_threshold_per_year, fraction, vol_half_life_s }` has
//! its liquidity providers (the pool's genesis maker holder) watch the realised volatility of
//! the asset's reference price: an EWMA of squared block log returns of `p_ref`, annualised.
//! At the start of a block (after the prices move, before oracles and agents) they take
//! `fraction` of the reserves out when it passes the threshold, and put everything they hold
//! back, at the pool's price then, once it is below. Ledger transfers only (conservation
//! holds), no random draws, and nothing at all for a pool without the rule.

use super::World;
use cascade_core::HolderId;
use cascade_market::SECONDS_PER_YEAR;
use cascade_market::venue::{LpWithdrawal, Venue};

/// One pool's liquidity providers.
#[derive(Debug, Clone)]
pub(super) struct LpState {
    pub venue: usize,
    pub lp: HolderId,
    pub rule: LpWithdrawal,
    /// EWMA of squared log returns per second.
    pub var_rate: f64,
    /// Whether the withdrawn share is out of the pool.
    pub out: bool,
}

impl World {
    /// Step 2b: the liquidity providers of pools with a withdrawal rule act on this block's
    /// realised volatility.
    pub(super) fn lp_rebalance(&mut self, dt: f64) {
        for s in self.lps.iter_mut() {
            let Some(Venue::Cpmm(pool)) = self.venues.get_mut(s.venue) else {
                continue;
            };
            let asset = pool.asset();
            let r = self.prices.log_return_ref(asset.index());
            let a = 0.5f64.powf(dt / s.rule.vol_half_life_s);
            if dt > 0.0 && r.is_finite() {
                s.var_rate = a * s.var_rate + (1.0 - a) * r * r / dt;
            }
            let rv = (s.var_rate * SECONDS_PER_YEAR).sqrt();
            if rv > s.rule.vol_threshold_per_year && !s.out {
                if let Ok((b, _)) = pool.remove_liquidity(&mut self.ledger, s.lp, s.rule.fraction) {
                    s.out = b.is_positive();
                }
            } else if rv <= s.rule.vol_threshold_per_year && s.out {
                let base = self.ledger.balance(s.lp, asset.token());
                let quote = self.ledger.balance(s.lp, cascade_core::TokenId::QUOTE);
                let _ = pool.add_liquidity(&mut self.ledger, s.lp, base, quote);
                s.out = false;
            }
        }
    }
}
