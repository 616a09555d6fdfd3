//! The backstop vault (Hyperliquid-like): accounts below the trigger are absorbed by the
//! protocol at the end of the block.

use crate::Engine;
use crate::liquidation::Backstop;
use cascade_core::{AccountId, Amount};

impl Engine {
    /// End of a block in the backstop mode: the vault absorbs every flagged account whose
    /// equity is below the trigger times its maintenance requirement.
    pub(crate) fn backstop_sweep(&mut self, backstop: Backstop) {
        let trigger = backstop.trigger;
        let ids: Vec<AccountId> = self.flagged.keys().copied().collect();
        for id in ids {
            if !self.settlement_allows(id) {
                continue;
            }
            let acc = &self.accounts[id.index()];
            let h = self.health_of(acc, &self.prices);
            let req = h.equity - h.maintenance; // the maintenance requirement
            if h.equity < trigger * req {
                self.absorb(id);
            }
        }
    }

    /// The backstop vault absorbs an account: its collateral goes to the pool's warehouse,
    /// its perps close at the oracle against the pool, its debt is cancelled; a negative
    /// equity goes through the waterfall.
    pub(crate) fn absorb(&mut self, id: AccountId) {
        let closed = self.realize_perps(id);
        if self.accounts[id.index()].has_options() {
            // The vault takes the option book over at mark: it stays hedged, so no flow.
            self.liquidate_options(id, 1.0, 0.0, false);
        }
        let acc = self.accounts[id.index()].clone();
        let mut value = acc.quote.to_whole() - acc.debt.to_whole();
        for a in 0..self.n_assets {
            self.pool_base[a] += acc.collateral[a];
            value += acc.collateral[a].to_whole() * self.prices[a];
        }
        // The pool takes the collateral and the quote in exchange for the debt.
        self.pool_cash += acc.quote;
        let a = &mut self.accounts[id.index()];
        a.collateral.iter_mut().for_each(|c| *c = Amount::ZERO);
        a.quote = Amount::ZERO;
        a.debt = Amount::ZERO;
        a.closed = true;
        self.flagged.remove(&id);
        self.first_flag.remove(&id);
        self.metrics.backstop_absorptions += 1;
        self.event(
            "backstop",
            Some(id),
            None,
            Amount::from_whole(value),
            0.0,
            String::new(),
        );
        if value < 0.0 {
            let shortfall = Amount::from_whole_ceil(-value);
            self.metrics.bad_debt += shortfall.to_whole();
            // The pool holds less than it lent: the loss is the pool's unless covered.
            self.waterfall(id, shortfall, &closed);
        }
        self.reindex(id);
    }
}
