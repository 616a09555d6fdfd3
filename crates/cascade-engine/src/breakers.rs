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
        let mut trip = self.oracle_move_trip();
        if let Some(x) = self.cfg.breakers.max_twap_divergence {
            for (a, d) in twap_divergence.iter().enumerate() {
                if let Some(d) = d
                    && *d > x
                {
                    trip = Some(format!("twap divergence {d:.4} > {x} on asset {a}"));
                }
            }
        }
        if let Some(why) = trip {
            self.trip(t_s, why);
        }
    }

    /// An oracle publication landed mid-block and moved the engine's prices: the oracle-move
    /// breaker compares them with the prices the block started from, so a move trips it
    /// whenever in the block it happens (the next block starts from the moved price).
    pub(crate) fn check_oracle_move(&mut self) {
        if let Some(why) = self.oracle_move_trip() {
            self.trip(self.t_s, why);
        }
    }

    /// Why the oracle-move breaker trips now, if it does: an asset's price moved by more than
    /// `max_oracle_move` since the start of the block.
    fn oracle_move_trip(&self) -> Option<String> {
        let x = self.cfg.breakers.max_oracle_move?;
        let mut trip = None;
        for a in 0..self.n_assets {
            let m = (self.prices[a] / self.prev_prices[a] - 1.0).abs();
            if m > x {
                trip = Some(format!("oracle move {m:.4} > {x} on asset {a}"));
            }
        }
        trip
    }

    /// Trip: pause from `t_s` for `pause_s`, then a grace period; a trip while paused extends
    /// the pause without counting again.
    fn trip(&mut self, t_s: f64, why: String) {
        if !self.is_paused() {
            self.metrics.breaker_trips += 1;
            self.event("breaker_trip", None, None, Amount::ZERO, 0.0, why);
        }
        self.paused_until = t_s + self.cfg.breakers.pause_s;
        self.grace_until = self.paused_until + self.cfg.breakers.grace_s;
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
