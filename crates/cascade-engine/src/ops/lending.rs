//! Lending operations: borrow against collateral, deposit, and close an account.

use crate::liquidation::SettlementMarket;
use crate::ops::ledger_err;
use crate::ops::moves::Moves;
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
        let mut moves = Moves::new();
        moves
            .transfer(sender, self.vault, token, collateral)
            .transfer(self.vault, sender, TokenId::QUOTE, borrow);
        moves.check(ledger)?;
        moves.commit_transfers(ledger);
        self.pool_cash -= borrow;
        let id = self.store_account(live, sender, agent, acc);
        self.reindex(id);
        if borrow.is_positive() {
            self.opened_event(id, "borrow", a, self.prices[a], collateral);
        }
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
        market: Option<&dyn SettlementMarket>,
    ) -> Result<Outcome, Reason> {
        self.owned(sender, id)?;
        if self.auctions.iter().any(|x| x.active && x.account == id) {
            return Err("in_auction");
        }
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
        // The account with its perps and options closed against the pool (a copy: nothing
        // is written before every check has passed), and what the pool pays for them.
        let mut acc = self.accounts[id.index()].clone();
        // Each perp closes at its trade price (`engine.perp_trade_price`): the execution
        // price of the closing flow on the market, or the oracle.
        let close_at: Vec<f64> = (0..self.n_assets)
            .map(|a| {
                let size = acc.perps[a].size;
                if size.is_zero() {
                    self.prices[a]
                } else {
                    self.trade_price(a, -size.to_whole(), market)
                }
            })
            .collect();
        let (perps_paid, closed) = acc.realize_perps(&close_at);
        let options_paid = match &self.opts {
            Some(o) => acc.realize_options(&o.marks),
            None => Amount::ZERO,
        };
        acc.quote -= fee;
        if acc.quote.is_negative() {
            // Underwater: it must be liquidated, not closed.
            return Err("insufficient_margin");
        }
        // Repay, then withdraw everything.
        let mut moves = Moves::new();
        moves.transfer(sender, self.vault, TokenId::QUOTE, debt);
        moves.transfer(self.vault, sender, TokenId::QUOTE, acc.quote);
        for a in 0..self.n_assets {
            moves.transfer(self.vault, sender, TokenId(a as u16 + 1), acc.collateral[a]);
        }
        moves.check(ledger)?;
        // Commit.
        moves.commit_transfers(ledger);
        self.pool_cash -= perps_paid;
        self.pool_cash -= options_paid;
        self.book_fee(fee);
        self.pool_cash += debt;
        acc.quote = Amount::ZERO;
        acc.debt = Amount::ZERO;
        acc.collateral.iter_mut().for_each(|c| *c = Amount::ZERO);
        acc.closed = true;
        self.accounts[id.index()] = acc;
        if self.account_of(sender) == Some(id) {
            self.by_owner[sender.index()] = crate::NO_ACCOUNT;
        }
        self.flagged.remove(&id);
        self.first_flag.remove(&id);
        self.reindex(id);
        let mut out = Outcome::default();
        if self.trades_at_market(market) {
            out.offvenue_flow = closed.iter().map(|(a, s)| (*a, -s.to_whole())).collect();
        }
        Ok(out)
    }
}
