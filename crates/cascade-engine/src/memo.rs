//! A caller-held memo of one account's health and exposure.
//!
//! Every trader looks at its own account every block to decide whether to top up, and the
//! answer rarely changes: the engine's prices move only when an oracle publishes, and the
//! account only when it trades, funds or is liquidated. Recomputing the health each time was a
//! quarter of a reference run (benches/RESULTS.md). [`HealthMemo`] keeps what the linear
//! health reads, in the form of keys: the account's write stamp ([`crate::accounts`]: it
//! advances on every write), the engine's prices (as bits) and the generation of the margin
//! model's ratios ([`crate::MarginState::generation`]). [`Engine::health_memo`] recomputes only
//! when a key differs. Equal keys mean equal inputs, and equal inputs give bitwise-equal
//! outputs, so a memoized answer is exactly the one a fresh computation would give. Accounts
//! holding options (whose value also moves with time and the risk tables) are always
//! recomputed.

use crate::Engine;
use crate::account::Health;
use cascade_core::AccountId;

/// What [`Engine::health_memo`] last computed for one account, and from what.
#[derive(Debug, Clone, Default)]
pub struct HealthMemo {
    valid: bool,
    id: u32,
    stamp: u64,
    generation: u64,
    /// The engine's prices, as bits (so that a NaN compares equal to itself).
    prices: Vec<u64>,
    health: Health,
    exposure: f64,
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

impl HealthMemo {
    fn matches(&self, id: AccountId, stamp: u64, engine: &Engine) -> bool {
        self.valid
            && self.id == id.0
            && self.stamp == stamp
            && self.generation == engine.margin.generation()
            && self.prices.len() == engine.prices.len()
            && self
                .prices
                .iter()
                .zip(&engine.prices)
                .fold(0, |d, (k, p)| d | (k ^ p.to_bits()))
                == 0
    }

    fn store(&mut self, id: AccountId, stamp: u64, engine: &Engine) {
        self.valid = true;
        self.id = id.0;
        self.stamp = stamp;
        self.generation = engine.margin.generation();
        self.prices.clear();
        self.prices
            .extend(engine.prices.iter().map(|p| p.to_bits()));
    }
}

impl Engine {
    /// The account's health (as [`Engine::health`]) and exposure value at the engine's prices
    /// (as [`crate::Account::exposure_value`]), taken from `memo` when nothing they depend on
    /// has changed since it was filled, else computed and stored there. `None` for an unknown
    /// id.
    pub fn health_memo(&self, id: AccountId, memo: &mut HealthMemo) -> Option<(Health, f64)> {
        let stamp = self.accounts.stamp(id.index())?;
        if memo.matches(id, stamp, self) {
            return Some((memo.health, memo.exposure));
        }
        let acc = &self.accounts[id.index()];
        let answer = (
            self.health_of(acc, &self.prices),
            acc.exposure_value(&self.prices),
        );
        if acc.has_options() {
            memo.valid = false;
        } else {
            (memo.health, memo.exposure) = answer;
            memo.store(id, stamp, self);
        }
        Some(answer)
    }
}
