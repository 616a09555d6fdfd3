//! A caller-held memo of one account's health and exposure.
//!
//! Every trader looks at its own account every block to decide whether to top up, and the
//! answer rarely changes: the engine's prices move only when an oracle publishes, and the
//! account only when it trades, funds or is liquidated. Recomputing the health each time was a
//! quarter of a reference run (benches/RESULTS.md). [`HealthMemo`] keeps what the linear
//! health reads, in the form of keys: the account's write stamp ([`crate::accounts`]: it
//! advances on every write), the engine's price epoch (it advances whenever a price changes)
//! and the generation of the margin model's ratios ([`crate::MarginState::generation`]).
//! [`Engine::health_memo`] recomputes only when a key differs. Equal keys mean equal inputs,
//! and equal inputs give bitwise-equal outputs, so a memoized answer is exactly the one a
//! fresh computation would give. A hit reads nothing but the keys (no account, no heap), which
//! matters with a million accounts that do not fit in any cache. Accounts holding options
//! (whose value also moves with time and the risk tables) are always recomputed.

use crate::Engine;
use crate::account::Health;
use cascade_core::AccountId;

/// What [`Engine::health_memo`] last computed for one account, and from what.
#[derive(Debug, Clone, Copy, Default)]
pub struct HealthMemo {
    valid: bool,
    id: u32,
    stamp: u64,
    price_epoch: u64,
    generation: u64,
    // The answer's fields flat, not a `Memoized` (whose trailing flag would pad it): 64 bytes.
    health: Health,
    exposure: f64,
    live: bool,
}

/// An account's figures as [`Engine::health_memo`] returns them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memoized {
    /// As [`Engine::health`].
    pub health: Health,
    /// As [`crate::Account::exposure_value`] at the engine's prices.
    pub exposure: f64,
    /// Open and holding a position (`!closed && has_positions()`).
    pub live: bool,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            initial: 0.0,
            maintenance: 0.0,
            equity: 0.0,
        }
    }
}

impl Engine {
    /// The account's [`Memoized`] figures, taken from `memo` when nothing they depend on has
    /// changed since it was filled, else computed and stored there. `None` for an unknown id.
    pub fn health_memo(&self, id: AccountId, memo: &mut HealthMemo) -> Option<Memoized> {
        let stamp = self.accounts.stamp(id.index())?;
        let generation = self.margin.generation();
        if memo.valid
            && memo.id == id.0
            && memo.stamp == stamp
            && memo.price_epoch == self.price_epoch
            && memo.generation == generation
        {
            return Some(Memoized {
                health: memo.health,
                exposure: memo.exposure,
                live: memo.live,
            });
        }
        let acc = &self.accounts[id.index()];
        let answer = Memoized {
            health: self.health_of(acc, &self.prices),
            exposure: acc.exposure_value(&self.prices),
            live: !acc.closed && acc.has_positions(),
        };
        *memo = HealthMemo {
            valid: !acc.has_options(),
            id: id.0,
            stamp,
            price_epoch: self.price_epoch,
            generation,
            health: answer.health,
            exposure: answer.exposure,
            live: answer.live,
        };
        Some(answer)
    }
}
