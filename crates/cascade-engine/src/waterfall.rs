//! Bad debt: an account with nothing left at risk settles its debt from its quote, and any
//! shortfall goes through the configured waterfall (insurance fund, auto-deleveraging,
//! socialization to the lenders' pool).

use crate::Engine;
use crate::account::{Perp, close_value};
use crate::config::{AdlRanking, WaterfallStep};
use cascade_core::{AccountId, Amount};
use rand::RngExt;

impl Engine {
    /// An account with nothing left at risk: its quote pays its debt; any shortfall goes
    /// through the waterfall.
    pub(crate) fn settle_bankrupt(&mut self, id: AccountId, _perp: Option<(usize, Amount)>) {
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
        self.metrics.bad_debt += shortfall.to_whole();
        self.event("bad_debt", Some(id), None, shortfall, 0.0, String::new());
        self.waterfall(id, shortfall);
    }

    pub(crate) fn waterfall(&mut self, id: AccountId, shortfall: Amount) {
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
                    let covered = self.adl(id, left, *ranking);
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

    /// Auto-deleveraging: profitable perp positions are cut, highest ranked first, and each
    /// gives up PnL (at most what it has) until the loss is covered. Returns what was covered.
    pub(crate) fn adl(&mut self, bankrupt: AccountId, loss: Amount, ranking: AdlRanking) -> Amount {
        let mut cands: Vec<(f64, AccountId, usize)> = Vec::new();
        for (i, acc) in self.accounts.iter().enumerate() {
            if acc.closed || i == bankrupt.index() {
                continue;
            }
            for a in 0..self.n_assets {
                let perp = &acc.perps[a];
                if !perp.is_open() {
                    continue;
                }
                let p = self.prices[a];
                let pnl = perp.pnl(p);
                if pnl <= 0.0 {
                    continue;
                }
                let h = self.health_of(acc, &self.prices);
                let notional = perp.size.abs().to_whole() * p;
                let entry = -perp.quote.to_whole() / perp.size.to_whole();
                let score = match ranking {
                    AdlRanking::PnlTimesLeverage => {
                        (p / entry).abs() * notional / h.equity.max(1e-9)
                    }
                    AdlRanking::Random => 0.0,
                };
                cands.push((score, AccountId(i as u32), a));
            }
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
        for (_, id, a) in cands {
            if !left.is_positive() {
                break;
            }
            // Close the position at the oracle and take up to its PnL.
            let p = self.prices[a];
            let perp = self.accounts[id.index()].perps[a];
            let pnl = close_value(perp.size, p) + perp.quote;
            if !pnl.is_positive() {
                continue;
            }
            let take = pnl.min(left);
            let acc = &mut self.accounts[id.index()];
            acc.perps[a] = Perp::default();
            acc.quote = acc.quote + pnl - take;
            // The pool paid the pnl minus what the deleveraged trader gave up.
            self.pool_cash -= pnl - take;
            left -= take;
            self.metrics.adl_events += 1;
            self.metrics.adl_loss += take.to_whole();
            self.revalue(id);
            self.event(
                "adl",
                Some(id),
                None,
                take,
                p,
                format!("for account {bankrupt}"),
            );
            self.reindex(id);
        }
        loss - left
    }
}
