//! Circuit breakers: the pause and grace period that block liquidations after an oracle
//! moves too far or diverges from its TWAP.

use crate::Engine;

impl Engine {
    pub fn is_paused(&self) -> bool {
        self.t_s < self.paused_until
    }

    /// Whether liquidations are blocked now (pause or grace period).
    pub fn liquidations_blocked(&self) -> bool {
        self.t_s < self.paused_until || self.t_s < self.grace_until
    }
}
