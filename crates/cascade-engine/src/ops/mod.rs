//! The operations agents submit (`EngineOp`), dispatched by [`Engine::apply`], and what
//! they share: the account a sender trades through, fee booking, ownership checks and
//! closing positions against the pool.
//!
//! Every operation is atomic: on `Err` nothing changed (the engine, its event log and random
//! stream, the ledger, the venues). Each is written as "check everything, then commit": the
//! checks read only (changed accounts are built as copies), an operation that moves tokens
//! more than once checks all its moves first (`moves.rs`), and the first write comes after
//! the last check that can fail. The liquidation operations live in `crate::liquidation`
//! and follow the same rule.

use crate::account::Account;
use crate::config::MarginMode;
use crate::liquidation::SettlementMarket;
use crate::{Engine, Outcome, Reason};
use cascade_core::tx::EngineOp;
use cascade_core::{AccountId, AgentId, Amount, HolderId, Ledger, LedgerError, TokenId};
use cascade_market::venue::Venue;

mod lending;
pub(crate) mod moves;
pub(crate) mod options;
mod perps;

pub(crate) fn ledger_err(_: LedgerError) -> Reason {
    "insufficient_funds"
}

impl Engine {
    /// Execute an engine operation for `sender` (agent `agent`). Atomic: on `Err` nothing
    /// changed. Without a market, liquidated perps settle at the oracle
    /// ([`Engine::apply_at_market`]).
    pub fn apply(
        &mut self,
        op: &EngineOp,
        sender: HolderId,
        agent: AgentId,
        ledger: &mut Ledger,
        venues: &mut [Venue],
    ) -> Result<Outcome, Reason> {
        self.apply_inner(op, sender, agent, ledger, venues, None)
    }

    /// [`Engine::apply`] with the market where the price forms: liquidated perps settle by
    /// `engine.perp_settlement` against its quotes. The outcome's `offvenue_flow` includes
    /// the closes of auto-deleveraged positions. Atomic: on `Err` nothing changed.
    pub fn apply_at_market(
        &mut self,
        op: &EngineOp,
        sender: HolderId,
        agent: AgentId,
        ledger: &mut Ledger,
        venues: &mut [Venue],
        market: &dyn SettlementMarket,
    ) -> Result<Outcome, Reason> {
        self.apply_inner(op, sender, agent, ledger, venues, Some(market))
    }

    fn apply_inner(
        &mut self,
        op: &EngineOp,
        sender: HolderId,
        agent: AgentId,
        ledger: &mut Ledger,
        venues: &mut [Venue],
        market: Option<&dyn SettlementMarket>,
    ) -> Result<Outcome, Reason> {
        let mut out = self.dispatch(op, sender, agent, ledger, venues, market)?;
        // Auto-deleveraging inside the operation closed positions: their flow goes out
        // with the operation's.
        out.offvenue_flow.append(&mut self.pending_flow);
        Ok(out)
    }

    fn dispatch(
        &mut self,
        op: &EngineOp,
        sender: HolderId,
        agent: AgentId,
        ledger: &mut Ledger,
        venues: &mut [Venue],
        market: Option<&dyn SettlementMarket>,
    ) -> Result<Outcome, Reason> {
        match op {
            EngineOp::Borrow {
                asset,
                collateral,
                borrow,
            } => self.op_borrow(sender, agent, asset.index(), *collateral, *borrow, ledger),
            EngineOp::PerpOpen {
                asset,
                size,
                margin,
            } => self.op_perp_open(sender, agent, asset.index(), *size, *margin, ledger, market),
            EngineOp::Deposit {
                account,
                token,
                amount,
            } => self.op_deposit(sender, *account, *token, *amount, ledger),
            EngineOp::Close { account } => self.op_close(sender, *account, ledger, market),
            EngineOp::Liquidate {
                account,
                sell_on,
                min_profit,
            } => self.op_liquidate(
                sender,
                *account,
                *sell_on,
                *min_profit,
                ledger,
                venues,
                market,
            ),
            EngineOp::Take {
                auction,
                max_lot,
                max_price,
                sell_on,
            } => self.op_take(
                sender, *auction, *max_lot, *max_price, *sell_on, ledger, venues,
            ),
            EngineOp::Redo { auction } => self.op_redo(sender, *auction, ledger),
            EngineOp::Tend { auction, bid } => self.op_tend(sender, *auction, *bid, ledger),
            EngineOp::Dent { auction, lot } => self.op_dent(sender, *auction, *lot, ledger),
            EngineOp::Deal { auction } => self.op_deal(*auction, ledger),
            EngineOp::OptionTrade {
                series,
                size,
                margin,
            } => self.op_option_trade(sender, agent, *series, *size, *margin, ledger),
            EngineOp::OptionQuote {
                asset,
                half_spread,
                bid_size,
                ask_size,
                margin,
            } => self.op_option_quote(
                sender,
                agent,
                asset.index(),
                *half_spread,
                (*bid_size, *ask_size),
                *margin,
                ledger,
            ),
            EngineOp::Commit {
                discount,
                size,
                duration_s,
            } => self.op_commit(sender, *discount, *size, *duration_s, ledger),
            EngineOp::Withdraw { commitment } => self.op_withdraw(sender, *commitment, ledger),
        }
    }

    /// The `position_opened` event (only when events are recorded): a position of `kind`
    /// in `asset` opened or grown on account `id` at `entry_price` by `size`; the leverage is
    /// the account's exposure over its equity after the operation, at the engine's prices.
    pub(crate) fn opened_event(
        &mut self,
        id: AccountId,
        kind: &str,
        asset: usize,
        entry_price: f64,
        size: Amount,
    ) {
        if self.events.is_none() {
            return;
        }
        let acc = &self.accounts[id.index()];
        let equity = self.health_of(acc, &self.prices).equity;
        let exposure = acc.exposure_value(&self.prices);
        let leverage = if equity > 0.0 {
            exposure / equity
        } else {
            f64::INFINITY
        };
        let (block, owner) = (self.block, acc.owner);
        if let Some(ev) = self.events.as_mut() {
            ev.push(cascade_core::event::Event::PositionOpened {
                block,
                account: id,
                owner,
                kind: kind.to_string(),
                asset,
                entry_price,
                size,
                leverage,
            });
        }
    }

    pub(crate) fn target_account(&self, sender: HolderId) -> Option<AccountId> {
        match self.cfg.margin_mode {
            MarginMode::Cross => self.account_of(sender),
            MarginMode::Isolated => None,
        }
    }

    /// The account `sender` trades through (its open cross-margin account, if any) and a
    /// copy of it to change, or a new account when it has none.
    pub(crate) fn trading_account(
        &self,
        sender: HolderId,
        agent: AgentId,
    ) -> (Option<AccountId>, Account) {
        match self.target_account(sender) {
            Some(id) if !self.accounts[id.index()].closed => {
                (Some(id), self.accounts[id.index()].clone())
            }
            _ => (None, Account::new(sender, agent, self.n_assets)),
        }
    }

    /// Store `acc` (changed from [`Engine::trading_account`]) over the account `live`, or as
    /// a new account of `sender`.
    pub(crate) fn store_account(
        &mut self,
        live: Option<AccountId>,
        sender: HolderId,
        agent: AgentId,
        acc: Account,
    ) -> AccountId {
        let id = match live {
            Some(id) => id,
            None => self.new_account(sender, agent),
        };
        self.accounts[id.index()] = acc;
        id
    }

    pub(crate) fn new_account(&mut self, sender: HolderId, agent: AgentId) -> AccountId {
        let id = AccountId(self.accounts.len() as u32);
        self.accounts
            .push(Account::new(sender, agent, self.n_assets));
        if self.cfg.margin_mode == MarginMode::Cross {
            let i = sender.index();
            if i >= self.by_owner.len() {
                self.by_owner.resize(i + 1, crate::NO_ACCOUNT);
            }
            self.by_owner[i] = id.0;
        }
        id
    }

    pub(crate) fn check_asset(&self, a: usize) -> Result<(), Reason> {
        if a < self.n_assets {
            Ok(())
        } else {
            Err("invalid_asset")
        }
    }

    /// An external payment into the insurance fund (the protocol's share of an oracle
    /// order-flow auction payment): `amount` quote moves from `from` to the vault and the
    /// fund's claim grows by exactly that. Atomic: on `Err` nothing changed.
    pub fn pay_insurance_fund(
        &mut self,
        from: HolderId,
        amount: Amount,
        ledger: &mut Ledger,
    ) -> Result<(), Reason> {
        if amount.is_negative() {
            return Err("invalid_amount");
        }
        ledger
            .transfer(from, self.vault, TokenId::QUOTE, amount)
            .map_err(ledger_err)?;
        self.insurance += amount;
        Ok(())
    }

    /// A protocol fee or penalty: the insurance share to the fund, the rest to the pool.
    pub(crate) fn book_fee(&mut self, fee: Amount) {
        if !fee.is_positive() {
            return;
        }
        let to_if = fee.scale_floor(self.cfg.insurance_fee_share);
        self.insurance += to_if;
        self.pool_cash += fee - to_if;
    }

    pub(crate) fn owned(&self, sender: HolderId, id: AccountId) -> Result<(), Reason> {
        match self.accounts.get(id.index()) {
            None => Err("no_account"),
            Some(a) if a.closed => Err("account_closed"),
            Some(a) if a.owner != sender => Err("not_owner"),
            Some(_) => Ok(()),
        }
    }

    /// Realize every perp of account `id` at the oracle price against the pool (PnL rounded
    /// down for the account). Returns the closed sizes.
    pub(crate) fn realize_perps(&mut self, id: AccountId) -> Vec<(usize, Amount)> {
        let (paid, closed) = self.accounts[id.index()].realize_perps(&self.prices);
        self.pool_cash -= paid;
        closed
    }
}
