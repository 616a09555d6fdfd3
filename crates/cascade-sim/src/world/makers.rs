//! The simulated market makers' aggregate state, read by the reference markets' depth rule.
//!
//! Why it exists: market makers withdraw depth for inventory and losses, not only volatility.
//! A reference venue whose `withdraw` rule has `inventory_weight` or `loss_limit` reads, at the
//! start of every block (before the prices move), the mean inventory use and loss use of the
//! market makers quoting its asset, from their public balances at the previous block's `p_ref`
//! (deterministic, no random draws). Nothing is computed for an asset whose rule does not ask.

use super::World;
use cascade_core::TokenId;
use cascade_market::price::MakerStress;

impl World {
    /// Step 1a: hand each reference market that asks for it its market makers' state.
    pub(super) fn observe_makers(&mut self) {
        for a in 0..self.prices.n_assets() {
            if !self.prices.depth_reads_makers(a) {
                continue;
            }
            let loss_limit = self
                .prices
                .reference(a)
                .and_then(|r| r.config().withdraw.as_ref())
                .and_then(|w| w.loss_limit);
            let p = self.p_ref[a];
            let (mut n, mut inv_sum, mut loss_sum) = (0usize, 0.0, 0.0);
            for book in self.agents.iter().filter_map(|g| g.maker_book()) {
                if book.asset.index() != a {
                    continue;
                }
                let base = self.ledger.balance(book.holder, book.asset.token());
                let quote = self.ledger.balance(book.holder, TokenId::QUOTE);
                let inv = (base - book.start_base).to_whole();
                if let Some(limit) = book.inventory_limit {
                    inv_sum += if limit > 0.0 {
                        (inv.abs() / limit).min(1.0)
                    } else {
                        1.0
                    };
                }
                if let Some(l) = loss_limit {
                    let pnl = (quote - book.start_quote).to_whole() + inv * p;
                    loss_sum += ((-pnl).max(0.0) / l).min(1.0);
                }
                n += 1;
            }
            let s = if n == 0 {
                MakerStress::default()
            } else {
                MakerStress {
                    inventory_use: inv_sum / n as f64,
                    loss_use: loss_sum / n as f64,
                }
            };
            self.prices.set_maker_stress(a, s);
        }
    }
}
