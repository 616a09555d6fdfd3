//! Option operations: trades with the engine's book or a market maker's standing quote, and
//! the makers' quotes. The pricing and margin library is `crate::options`; this module is
//! what agents do with it.

use crate::account::Account;
use crate::ops::ledger_err;
use crate::{Engine, Outcome, Reason};
use cascade_core::{AccountId, AgentId, Amount, HolderId, Ledger, TokenId};

/// One options market maker's standing quote (`EngineOp::OptionQuote`): every live series
/// of `asset` at the engine's mark plus or minus `half_spread`, `bid_left` / `ask_left`
/// contracts left until the next quote.
#[derive(Debug, Clone, PartialEq)]
pub struct MakerQuote {
    pub holder: HolderId,
    pub account: AccountId,
    pub asset: usize,
    pub half_spread: f64,
    pub bid_left: Amount,
    pub ask_left: Amount,
}

/// A fill a maker can give: the maker's index, the taker's premium (its quote change) and
/// the maker's account after the fill.
pub(crate) struct MakerFill {
    pub(crate) k: usize,
    pub(crate) premium: Amount,
    pub(crate) acc: Account,
}

impl Engine {
    /// Trade `size` contracts of option series `series` with the engine's book (the
    /// lenders' pool is the counterparty): buys at `mark * (1 + spread)`, sales at
    /// `mark * (1 - spread)`, the premium settled in the account's quote; `margin` quote comes
    /// from the wallet. Reverts if the account would break its initial margin.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn op_option_trade(
        &mut self,
        sender: HolderId,
        agent: AgentId,
        series: u32,
        size: Amount,
        margin: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let i = series as usize;
        if !self.option_live(i) {
            return Err("invalid_series");
        }
        if size.is_zero() || margin.is_negative() {
            return Err("invalid_amount");
        }
        if self.is_paused() {
            return Err("paused");
        }
        if ledger.balance(sender, TokenId::QUOTE) < margin {
            return Err("insufficient_funds");
        }
        let o = self.opts.as_ref().expect("options");
        let n_series = o.chain.len();
        let (mark, spread) = (o.marks[i], o.cfg.spread);
        let (live, mut acc) = self.trading_account(sender, agent);
        if acc.options.len() < n_series {
            acc.options.resize(n_series, Amount::ZERO);
        }
        let fill = self.maker_offer(live, i, size);
        let premium = match &fill {
            Some(f) => f.premium,
            None if size.is_positive() => -size.value_ceil(mark * (1.0 + spread)),
            None => size.abs().value_floor(mark * (1.0 - spread)),
        };
        acc.quote = acc.quote + margin + premium;
        acc.options[i] += size;
        acc.risk = None;
        acc.opt_ref = Some(Box::new(o.opt_ref(&self.prices, self.t_s)));
        if self.health_of(&acc, &self.prices).initial < 0.0 {
            return Err("insufficient_margin");
        }
        ledger
            .transfer(sender, self.vault, TokenId::QUOTE, margin)
            .map_err(ledger_err)?;
        match fill {
            // The maker pays what the taker receives: no quote leaves the accounts.
            Some(f) => self.commit_maker(f, size),
            None => self.pool_cash -= premium,
        }
        let id = self.store_account(live, sender, agent, acc);
        self.revalue(id);
        self.reindex(id);
        Ok(Outcome::default())
    }

    /// The best fill a market maker can give a taker (account `taker`, none for a quote
    /// request) changing its position in series `i` by `size`: the lowest half-spread among
    /// the quotes on the series' asset with `|size|` left on the side the taker hits, whose
    /// account stays within its initial margin after taking `-size` (ties: the quote posted
    /// first). Buys by the taker cost `mark * (1 + half_spread)` rounded up; its sales earn
    /// `mark * (1 - half_spread)` rounded down; the maker's quote moves by the opposite.
    pub(crate) fn maker_offer(
        &self,
        taker: Option<AccountId>,
        i: usize,
        size: Amount,
    ) -> Option<MakerFill> {
        let o = self.opts.as_ref()?;
        if size.is_zero() || self.makers.is_empty() || !self.option_live(i) {
            return None;
        }
        let (asset, mark, n) = (o.chain[i].asset, o.marks[i], o.chain.len());
        let mut order: Vec<usize> = (0..self.makers.len())
            .filter(|&k| {
                let m = &self.makers[k];
                let left = if size.is_positive() {
                    m.ask_left
                } else {
                    m.bid_left
                };
                m.asset == asset
                    && Some(m.account) != taker
                    && left >= size.abs()
                    && !self.accounts[m.account.index()].closed
            })
            .collect();
        order.sort_by(|&x, &y| {
            self.makers[x]
                .half_spread
                .total_cmp(&self.makers[y].half_spread)
                .then(x.cmp(&y))
        });
        for k in order {
            let hs = self.makers[k].half_spread;
            let premium = if size.is_positive() {
                -size.value_ceil(mark * (1.0 + hs))
            } else {
                size.abs().value_floor(mark * (1.0 - hs))
            };
            let mut acc = self.accounts[self.makers[k].account.index()].clone();
            if acc.options.len() < n {
                acc.options.resize(n, Amount::ZERO);
            }
            acc.options[i] -= size;
            acc.quote -= premium;
            acc.risk = None;
            acc.opt_ref = Some(Box::new(o.opt_ref(&self.prices, self.t_s)));
            if self.health_of(&acc, &self.prices).initial >= 0.0 {
                return Some(MakerFill { k, premium, acc });
            }
        }
        None
    }

    /// Book a maker fill of a taker's position change `size`.
    pub(crate) fn commit_maker(&mut self, f: MakerFill, size: Amount) {
        let m = &mut self.makers[f.k];
        if size.is_positive() {
            m.ask_left -= size;
        } else {
            m.bid_left -= size.abs();
        }
        let id = m.account;
        self.accounts[id.index()] = f.acc;
        self.revalue(id);
        self.reindex(id);
    }

    /// What a taker would pay (`size > 0`) or receive (`size < 0`) per contract of series
    /// `i` now: a maker's quote where one can fill it, else the pool's mark plus or minus
    /// the spread.
    pub fn option_price(&self, i: usize, size: Amount) -> Option<f64> {
        let o = self.opts.as_ref()?;
        let mark = *o.marks.get(i)?;
        let hs = match self.maker_offer(None, i, size) {
            Some(f) => self.makers[f.k].half_spread,
            None => o.cfg.spread,
        };
        Some(if size.is_positive() {
            mark * (1.0 + hs)
        } else {
            mark * (1.0 - hs)
        })
    }

    /// The standing quote of market maker `holder`, if it has posted one.
    pub fn maker_quote(&self, holder: HolderId) -> Option<&MakerQuote> {
        self.makers.iter().find(|m| m.holder == holder)
    }

    /// Post or replace `sender`'s option quotes on `asset` (see `EngineOp::OptionQuote`),
    /// moving `margin` quote from its wallet into its account.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn op_option_quote(
        &mut self,
        sender: HolderId,
        agent: AgentId,
        a: usize,
        half_spread: f64,
        (bid, ask): (Amount, Amount),
        margin: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.check_asset(a)?;
        let Some(o) = &self.opts else {
            return Err("invalid_series");
        };
        if !o.cfg.assets.contains(&a) {
            return Err("invalid_series");
        }
        if !(half_spread.is_finite() && (0.0..1.0).contains(&half_spread))
            || bid.is_negative()
            || ask.is_negative()
            || margin.is_negative()
        {
            return Err("invalid_amount");
        }
        if ledger.balance(sender, TokenId::QUOTE) < margin {
            return Err("insufficient_funds");
        }
        let k = self.makers.iter().position(|m| m.holder == sender);
        let id = k
            .map(|k| self.makers[k].account)
            .or(self.target_account(sender))
            .filter(|id| !self.accounts[id.index()].closed);
        ledger
            .transfer(sender, self.vault, TokenId::QUOTE, margin)
            .map_err(ledger_err)?;
        let id = match id {
            Some(id) => id,
            None => self.new_account(sender, agent),
        };
        self.accounts[id.index()].quote += margin;
        let q = MakerQuote {
            holder: sender,
            account: id,
            asset: a,
            half_spread,
            bid_left: bid,
            ask_left: ask,
        };
        match k {
            Some(k) => self.makers[k] = q,
            None => self.makers.push(q),
        }
        self.revalue(id);
        self.reindex(id);
        Ok(Outcome::default())
    }
}
