//! Bad debt: an account with nothing left at risk settles its debt from its quote, and any
//! shortfall goes through the configured waterfall (insurance fund, auto-deleveraging in the
//! bankrupt position's market, socialization to the lenders' pool).

use crate::Engine;
use crate::account::close_value;
use crate::config::{AdlPrice, AdlRanking, WaterfallStep};
use cascade_core::{AccountId, Amount};
use rand::RngExt;

impl Engine {
    /// An account with nothing left at risk: its quote pays its debt; any shortfall goes
    /// through the waterfall.
    /// `closed` are the perps (asset, size as held) the liquidation that bankrupted it closed:
    /// the positions ADL matches.
    pub(crate) fn settle_bankrupt(&mut self, id: AccountId, closed: &[(usize, Amount)]) {
        let acc = &mut self.accounts[id.index()];
        let net = acc.quote - acc.debt;
        if !net.is_negative() {
            if acc.debt.is_positive() {
                acc.quote -= acc.debt;
                self.pool_cash += acc.debt;
                acc.debt = Amount::ZERO;
            }
            return;
        }
        let shortfall = -net;
        // The account's quote (possibly negative after perp losses) goes to the pool; the
        // debt is written off.
        self.pool_cash += acc.quote;
        acc.quote = Amount::ZERO;
        acc.debt = Amount::ZERO;
        acc.closed = true;
        self.flagged.remove(&id);
        self.first_flag.remove(&id);
        self.metrics.bad_debt += shortfall.to_whole();
        self.event("bad_debt", Some(id), None, shortfall, 0.0, String::new());
        self.waterfall(id, shortfall, closed);
    }

    /// Cover `shortfall` of account `id` through the configured steps; `closed` as in
    /// [`Engine::settle_bankrupt`].
    pub(crate) fn waterfall(
        &mut self,
        id: AccountId,
        shortfall: Amount,
        closed: &[(usize, Amount)],
    ) {
        let mut left = shortfall;
        let steps = self.cfg.waterfall.clone();
        for step in &steps {
            if !left.is_positive() {
                break;
            }
            match step {
                WaterfallStep::InsuranceFund => {
                    let pay = left.min(self.insurance).max(Amount::ZERO);
                    self.insurance -= pay;
                    self.pool_cash += pay;
                    left -= pay;
                    self.metrics.insurance_paid += pay.to_whole();
                    self.metrics.insurance_for_debt += pay.to_whole();
                    self.event("insurance_fund", Some(id), None, pay, 0.0, String::new());
                }
                WaterfallStep::Adl { ranking } => {
                    let covered = self.adl(id, left, *ranking, closed);
                    left -= covered;
                }
                WaterfallStep::Socialize => {
                    // The lenders' pool writes the rest off pro rata to its suppliers.
                    self.metrics.socialized_loss += left.to_whole();
                    self.event("socialize", Some(id), None, left, 0.0, String::new());
                    left = Amount::ZERO;
                }
            }
        }
        if left.is_positive() {
            self.metrics.uncovered_bad_debt += left.to_whole();
            self.event("uncovered", Some(id), None, left, 0.0, String::new());
        }
    }

    /// Auto-deleveraging as dYdX v4 and Hyperliquid do it (docs/references.md, R35, R36;
    /// R9 and R10 for the rankings): in each market where the bankrupt account's perp was
    /// just closed (`closed`, largest notional first), positions on the opposite side,
    /// ranked by `ranking`, are closed against it up to its size (partial closes allowed) at
    /// the ADL price: the bankruptcy price (`p + loss / size`, where the bankrupt position's
    /// equity is zero) or the previous mark (`engine.adl_price`). Each gives up what that
    /// price takes from it against the oracle, until the loss is covered. Their closes are
    /// forced flow (the pool's unwind of the bankrupt position, in the opposite direction,
    /// nets with them).
    /// Returns what was covered.
    pub(crate) fn adl(
        &mut self,
        bankrupt: AccountId,
        loss: Amount,
        ranking: AdlRanking,
        closed: &[(usize, Amount)],
    ) -> Amount {
        let mut markets: Vec<(usize, Amount)> = closed
            .iter()
            .copied()
            .filter(|(_, s)| !s.is_zero())
            .collect();
        markets.sort_by(|x, y| {
            let nx = x.1.abs().to_whole() * self.prices[x.0];
            let ny = y.1.abs().to_whole() * self.prices[y.0];
            ny.total_cmp(&nx).then(x.0.cmp(&y.0))
        });
        let mut left = loss;
        for (a, s) in markets {
            if !left.is_positive() {
                break;
            }
            left -= self.adl_market(bankrupt, a, s, left, ranking);
        }
        loss - left
    }

    /// ADL in market `a` against the bankrupt position `s` (signed, as it was held) for
    /// `loss`. Returns what was covered.
    fn adl_market(
        &mut self,
        bankrupt: AccountId,
        a: usize,
        s: Amount,
        loss: Amount,
        ranking: AdlRanking,
    ) -> Amount {
        let p = self.prices[a];
        let sb = s.to_whole();
        let p_adl = match self.cfg.adl_price {
            AdlPrice::Bankruptcy => p + loss.to_whole() / sb,
            AdlPrice::Mark => self.mark[a],
        };
        // What one unit of an opposite position gives up by closing at p_adl, not p.
        let per_unit = (p_adl - p) * sb.signum();
        if !(per_unit > 0.0 && p_adl.is_finite() && p_adl > 0.0) {
            return Amount::ZERO;
        }
        let mut cands: Vec<(f64, AccountId)> = Vec::new();
        for (i, acc) in self.accounts.iter().enumerate() {
            let perp = &acc.perps[a];
            if acc.closed
                || i == bankrupt.index()
                || !perp.is_open()
                || perp.size.is_positive() == s.is_positive()
            {
                continue;
            }
            let score = match ranking {
                AdlRanking::PnlTimesLeverage => {
                    let h = self.health_of(acc, &self.prices);
                    let notional = perp.size.abs().to_whole() * p;
                    let entry = -perp.quote.to_whole() / perp.size.to_whole();
                    (p / entry).abs() * notional / h.equity.max(1e-9)
                }
                AdlRanking::Random => 0.0,
            };
            cands.push((score, AccountId(i as u32)));
        }
        match ranking {
            AdlRanking::PnlTimesLeverage => {
                cands.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)))
            }
            AdlRanking::Random => {
                for i in (1..cands.len()).rev() {
                    let j = self.rng.random_range(0..=i);
                    cands.swap(i, j);
                }
            }
        }
        let mut left = loss;
        // Matched size: at most the bankrupt position, and no more than covers the loss.
        let mut size_left = s
            .abs()
            .min(Amount::from_whole_ceil(loss.to_whole() / per_unit).max(Amount::ONE_UNIT));
        for (_, id) in cands {
            if !left.is_positive() || !size_left.is_positive() {
                break;
            }
            let perp = self.accounts[id.index()].perps[a];
            let q_abs = perp.size.abs().min(size_left);
            let q = if perp.size.is_positive() {
                q_abs
            } else {
                -q_abs
            };
            let share_q = if q == perp.size {
                perp.quote
            } else {
                Amount(
                    cascade_core::math::mul_div_floor_i128(
                        perp.quote.raw(),
                        q.raw(),
                        perp.size.raw(),
                    )
                    .unwrap_or(perp.quote.raw()),
                )
            };
            let pnl_adl = close_value(q, p_adl) + share_q;
            let pnl_oracle = close_value(q, p) + share_q;
            let take = (pnl_oracle - pnl_adl).max(Amount::ZERO);
            let acc = &mut self.accounts[id.index()];
            acc.perps[a].size = perp.size - q;
            acc.perps[a].quote = perp.quote - share_q;
            acc.quote += pnl_adl;
            // The pool (the counterparty of the closed position) pays its PnL at p_adl.
            self.pool_cash -= pnl_adl;
            // Rounding can take a few units more than the loss left: the pool keeps them.
            let covered = take.min(left);
            left -= covered;
            size_left -= q_abs;
            self.pending_flow.push((a, -q.to_whole()));
            self.metrics.adl_events += 1;
            self.metrics.adl_loss += covered.to_whole();
            self.revalue(id);
            self.event(
                "adl",
                Some(id),
                None,
                covered,
                p_adl,
                format!("for account {bankrupt}, size {}", q.to_whole()),
            );
            self.reindex(id);
        }
        loss - left
    }
}
