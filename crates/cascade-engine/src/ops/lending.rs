//! Lending operations: borrow against collateral, deposit, and close an account.

use crate::ops::ledger_err;
use crate::{Engine, Outcome, Reason};
use cascade_core::{AccountId, AgentId, Amount, HolderId, Ledger, TokenId};

impl Engine {
    pub(crate) fn op_borrow(
        &mut self,
        sender: HolderId,
        agent: AgentId,
        a: usize,
        collateral: Amount,
        borrow: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.check_asset(a)?;
        if collateral.is_negative()
            || borrow.is_negative()
            || (collateral.is_zero() && borrow.is_zero())
        {
            return Err("invalid_amount");
        }
        if self.is_paused() {
            return Err("paused");
        }
        let token = TokenId(a as u16 + 1);
        if ledger.balance(sender, token) < collateral {
            return Err("insufficient_funds");
        }
        if borrow > self.pool_cash {
            return Err("pool_exhausted");
        }
        let (live, mut acc) = self.trading_account(sender, agent);
        acc.collateral[a] += collateral;
        acc.debt += borrow;
        if self.health_of(&acc, &self.prices).initial < 0.0 {
            return Err("insufficient_margin");
        }
        ledger
            .transfer(sender, self.vault, token, collateral)
            .map_err(ledger_err)?;
        ledger
            .transfer(self.vault, sender, TokenId::QUOTE, borrow)
            .map_err(ledger_err)?;
        self.pool_cash -= borrow;
        let id = self.store_account(live, sender, agent, acc);
        self.reindex(id);
        Ok(Outcome::default())
    }

    pub(crate) fn op_deposit(
        &mut self,
        sender: HolderId,
        id: AccountId,
        token: TokenId,
        amount: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.owned(sender, id)?;
        if !amount.is_positive() || token.index() > self.n_assets {
            return Err("invalid_amount");
        }
        ledger
            .transfer(sender, self.vault, token, amount)
            .map_err(ledger_err)?;
        let acc = &mut self.accounts[id.index()];
        match token.asset() {
            None => acc.quote += amount,
            Some(a) => acc.collateral[a.index()] = acc.collateral[a.index()] + amount,
        }
        self.reindex(id);
        Ok(Outcome::default())
    }

    pub(crate) fn op_close(
        &mut self,
        sender: HolderId,
        id: AccountId,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.owned(sender, id)?;
        if self.auctions.iter().any(|x| x.active && x.account == id) {
            return Err("in_auction");
        }
        let before = (
            self.accounts[id.index()].clone(),
            self.pool_cash,
            self.insurance,
        );
        let debt = self.accounts[id.index()].debt;
        if ledger.balance(sender, TokenId::QUOTE) < debt {
            return Err("insufficient_funds");
        }
        // Close fee on perp notional.
        let mut fee = Amount::ZERO;
        for a in 0..self.n_assets {
            let perp = self.accounts[id.index()].perps[a];
            fee += perp
                .size
                .abs()
                .value_ceil(self.prices[a])
                .value_ceil(self.cfg.perp_fee);
        }
        self.realize_perps(id);
        self.realize_options(id);
        let acc = &mut self.accounts[id.index()];
        acc.quote -= fee;
        if acc.quote.is_negative() {
            // Underwater: it must be liquidated, not closed.
            let (a, p, i) = before;
            self.accounts[id.index()] = a;
            self.pool_cash = p;
            self.insurance = i;
            return Err("insufficient_margin");
        }
        self.book_fee(fee);
        let acc = self.accounts[id.index()].clone();
        // Repay, then withdraw everything.
        ledger
            .transfer(sender, self.vault, TokenId::QUOTE, debt)
            .map_err(ledger_err)?;
        self.pool_cash += debt;
        ledger
            .transfer(self.vault, sender, TokenId::QUOTE, acc.quote)
            .map_err(ledger_err)?;
        for a in 0..self.n_assets {
            ledger
                .transfer(self.vault, sender, TokenId(a as u16 + 1), acc.collateral[a])
                .map_err(ledger_err)?;
        }
        let acc = &mut self.accounts[id.index()];
        acc.quote = Amount::ZERO;
        acc.debt = Amount::ZERO;
        acc.collateral.iter_mut().for_each(|c| *c = Amount::ZERO);
        acc.closed = true;
        if self.account_of(sender) == Some(id) {
            self.by_owner[sender.index()] = None;
        }
        self.flagged.remove(&id);
        self.reindex(id);
        Ok(Outcome::default())
    }
}
