//! Perpetual futures: opening, adding to, reducing or flattening a position at the oracle
//! price, with the pool as counterparty.

use crate::account::Perp;
use crate::ops::ledger_err;
use crate::{Engine, Outcome, Reason};
use cascade_core::{AgentId, Amount, HolderId, Ledger, TokenId};

impl Engine {
    pub(crate) fn op_perp_open(
        &mut self,
        sender: HolderId,
        agent: AgentId,
        a: usize,
        size: Amount,
        margin: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.check_asset(a)?;
        if size.is_zero() || margin.is_negative() {
            return Err("invalid_amount");
        }
        if self.is_paused() {
            return Err("paused");
        }
        if ledger.balance(sender, TokenId::QUOTE) < margin {
            return Err("insufficient_funds");
        }
        let p = self.prices[a];
        let (live, mut acc) = self.trading_account(sender, agent);
        // Entry at the oracle price, rounded against the trader.
        let notional_up = size.abs().value_ceil(p);
        let notional_dn = size.abs().value_floor(p);
        let dq = if size.is_positive() {
            -notional_up
        } else {
            notional_dn
        };
        let fee = notional_up.value_ceil(self.cfg.perp_fee);
        acc.quote = acc.quote + margin - fee;
        acc.perps[a].size += size;
        acc.perps[a].quote += dq;
        // A trade that flattens the position realizes its PnL against the pool: a perp of
        // size zero counts for nothing in health, so its quote must not stay behind.
        let mut realized = Amount::ZERO;
        if acc.perps[a].size.is_zero() {
            realized = acc.perps[a].quote;
            acc.quote += realized;
            acc.perps[a] = Perp::default();
        }
        if self.health_of(&acc, &self.prices).initial < 0.0 {
            return Err("insufficient_margin");
        }
        ledger
            .transfer(sender, self.vault, TokenId::QUOTE, margin)
            .map_err(ledger_err)?;
        self.pool_cash -= realized;
        self.book_fee(fee);
        // Opened or grown (not reduced or flattened): the `position_opened` event.
        let grew = acc.perps[a].size.abs() > (acc.perps[a].size - size).abs();
        let id = self.store_account(live, sender, agent, acc);
        self.reindex(id);
        if grew {
            self.opened_event(id, "perp", a, p, size);
        }
        Ok(Outcome::default())
    }
}
