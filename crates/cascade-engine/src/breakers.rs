//! Circuit breakers: the pause and grace period that block liquidations after an oracle
//! moves too far in one block or diverges from its TWAP guard, the per-block liquidation cap
//! and the oracle guards, as a liquidation checks them.

use crate::{Engine, Reason};
use cascade_core::Amount;

impl Engine {
    pub fn is_paused(&self) -> bool {
        self.t_s < self.paused_until
    }

    /// Whether liquidations are blocked now (pause or grace period).
    pub fn liquidations_blocked(&self) -> bool {
        self.t_s < self.paused_until || self.t_s < self.grace_until
    }

    /// Start of a block (at `t_s`, the new prices set): trip the breakers on an oracle move
    /// or a TWAP divergence (`twap_divergence` per asset) beyond their limits, pausing from
    /// now.
    pub(crate) fn check_breakers(&mut self, t_s: f64, twap_divergence: &[Option<f64>]) {
        let b = self.cfg.breakers.clone();
        let mut trip = None;
        if let Some(x) = b.max_oracle_move {
            for a in 0..self.n_assets {
                let m = (self.prices[a] / self.prev_prices[a] - 1.0).abs();
                if m > x {
                    trip = Some(format!("oracle move {m:.4} > {x} on asset {a}"));
                }
            }
        }
        if let Some(x) = b.max_twap_divergence {
            for (a, d) in twap_divergence.iter().enumerate() {
                if let Some(d) = d
                    && *d > x
                {
                    trip = Some(format!("twap divergence {d:.4} > {x} on asset {a}"));
                }
            }
        }
        if let Some(why) = trip {
            if !self.is_paused() {
                self.metrics.breaker_trips += 1;
                self.event("breaker_trip", None, None, Amount::ZERO, 0.0, why);
            }
            self.paused_until = t_s + b.pause_s;
            self.grace_until = self.paused_until + b.grace_s;
        }
    }

    /// Whether a liquidation may happen now: not paused nor in the grace period, under the
    /// per-block cap, and (when respected) every oracle passing its guards.
    pub(crate) fn liquidation_allowed(&self) -> Result<(), Reason> {
        if self.liquidations_blocked() {
            return Err("paused");
        }
        if let Some(cap) = self.cfg.breakers.max_liquidations_per_block
            && self.liqs_this_block >= cap
        {
            return Err("block_cap");
        }
        if self.cfg.respect_oracle_guards && !self.guard_ok.iter().all(|g| *g) {
            return Err("oracle_guard");
        }
        Ok(())
    }
}
