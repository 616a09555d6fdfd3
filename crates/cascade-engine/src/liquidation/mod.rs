//! Liquidation: what a liquidation of each configured kind does, and what they share.

use crate::Engine;
use cascade_core::{AccountId, Amount, AuctionId};

mod backstop;
mod dutch;
mod english;
mod fixed;
mod options;
mod sizing;

pub(crate) use sizing::option_close;

impl Engine {
    pub(crate) fn bonus(&self) -> f64 {
        self.cfg.liquidation.bonus().unwrap_or(0.0)
    }

    /// After a liquidation: re-index, and settle bad debt if nothing is left to seize.
    pub(crate) fn after_liquidation(&mut self, id: AccountId) {
        let acc = &self.accounts[id.index()];
        if !acc.has_positions() {
            let perp_side = None;
            self.settle_bankrupt(id, perp_side);
        }
        self.revalue(id);
        if !self.is_liquidatable(id) {
            self.flagged.remove(&id);
        }
        self.reindex(id);
    }

    /// `slice` of auction `aid`'s lot sold for `paid` quote (a Dutch take, an English deal):
    /// the proceeds pay the debt first, then the penalty; the sale is recorded against the
    /// oracle price.
    pub(crate) fn sell_from_auction(&mut self, aid: AuctionId, slice: Amount, paid: Amount) {
        let auc = &self.auctions[aid.index()];
        let (asset, to_debt) = (auc.asset, paid.min(auc.debt));
        let to_pen = (paid - to_debt).min(auc.penalty);
        self.pool_cash += to_debt;
        self.book_fee(to_pen);
        let a = &mut self.auctions[aid.index()];
        a.debt -= to_debt;
        a.penalty -= to_pen;
        a.lot -= slice;
        let value = slice.to_whole() * self.prices[asset];
        let paid = paid.to_whole();
        let m = &mut self.metrics;
        m.auction_sales += 1;
        m.auction_sale_value += value;
        m.auction_sale_paid += paid;
        if paid < 0.01 * value {
            m.auction_near_zero += 1;
        }
    }

    /// An auction that has raised its tab returns the rest of the lot; one whose lot is gone
    /// with debt left books bad debt.
    pub(crate) fn finish_auction(&mut self, aid: AuctionId) {
        let auc = self.auctions[aid.index()].clone();
        if auc.tab().is_zero() || auc.lot.is_zero() {
            let acc = &mut self.accounts[auc.account.index()];
            acc.collateral[auc.asset] += auc.lot;
            self.auctions[aid.index()].active = false;
            self.auctions[aid.index()].lot = Amount::ZERO;
            // A penalty not raised when the lot ran out is forgone.
            self.auctions[aid.index()].penalty = Amount::ZERO;
            if auc.debt.is_positive() {
                let shortfall = auc.debt;
                self.auctions[aid.index()].debt = Amount::ZERO;
                self.auctions[aid.index()].penalty = Amount::ZERO;
                self.metrics.bad_debt += shortfall.to_whole();
                self.event(
                    "bad_debt",
                    Some(auc.account),
                    None,
                    shortfall,
                    0.0,
                    format!("auction {aid}"),
                );
                self.waterfall(auc.account, shortfall);
            }
            self.event(
                "auction_end",
                Some(auc.account),
                None,
                auc.lot,
                0.0,
                format!("auction {aid}"),
            );
            self.reindex(auc.account);
        }
    }
}
