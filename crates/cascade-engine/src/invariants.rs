//! The engine's bookkeeping proof: its integer claims add up exactly to the vault's ledger
//! balance of every token, and the bad debt booked is the bad debt covered.

use crate::Engine;
use cascade_core::{Ledger, TokenId};

impl Engine {
    /// The engine's claims add up exactly to the vault's balance of every token.
    pub fn check_invariants(&self, ledger: &Ledger) -> Result<(), String> {
        let mut quote = self.pool_cash + self.insurance;
        for acc in &self.accounts {
            quote += acc.quote;
        }
        for auc in &self.auctions {
            if auc.bid.is_negative() || (!auc.active && !auc.bid.is_zero()) {
                return Err("an auction holds a negative bid, or a finished one a bid".into());
            }
            quote += auc.bid;
        }
        let held = ledger.balance(self.vault, TokenId::QUOTE);
        if quote != held {
            return Err(format!(
                "engine quote claims {} != vault balance {}",
                quote.raw(),
                held.raw()
            ));
        }
        for a in 0..self.n_assets {
            let mut total = self.pool_base[a];
            for acc in &self.accounts {
                if acc.collateral[a].is_negative() {
                    return Err(format!("negative collateral of asset {a}"));
                }
                total += acc.collateral[a];
            }
            for auc in &self.auctions {
                if auc.asset == a {
                    total += auc.lot;
                }
            }
            let held = ledger.balance(self.vault, TokenId(a as u16 + 1));
            if total != held {
                return Err(format!(
                    "engine asset {a} claims {} != vault balance {}",
                    total.raw(),
                    held.raw()
                ));
            }
        }
        self.check_intents(ledger)?;
        self.check_bridge(ledger)?;
        if self.insurance.is_negative() {
            return Err("negative insurance fund".into());
        }
        let m = &self.metrics;
        let accounted =
            m.insurance_paid_for_debt() + m.socialized_loss + m.adl_loss + m.uncovered_bad_debt;
        if (accounted - m.bad_debt).abs() > 1e-6 * (1.0 + m.bad_debt) {
            return Err(format!(
                "bad debt {} != covered + socialized + adl + uncovered {}",
                m.bad_debt, accounted
            ));
        }
        Ok(())
    }
}
