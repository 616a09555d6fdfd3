//! English collateral auctions (Maker Liquidations 1.2, `flip.sol`): `tend` and `dent` bids
//! held in the vault, and the winner's `deal`.

use crate::auction::Auction;
use crate::liquidation::English;
use crate::ops::ledger_err;
use crate::ops::moves::Moves;
use crate::{Engine, Outcome, Reason, auction};
use cascade_core::{Amount, AuctionId, HolderId, Ledger, TokenId};

impl Engine {
    /// The English auction parameters, or why not.
    pub(crate) fn english(&self) -> Result<English, Reason> {
        self.mechanism
            .english()
            .copied()
            .ok_or("not_english_auction")
    }

    /// An English auction that still takes bids now, or why not. One that reached its
    /// lifetime without a bid comes back restarted (Maker's `tick`, which a bid that lands
    /// commits: the copy's `end_s` is the new end; the stored auction is not touched here, so
    /// a bid that reverts leaves it as it was).
    pub(crate) fn english_open(&self, aid: AuctionId, tau_s: f64) -> Result<Auction, Reason> {
        let mut auc = self.auctions.get(aid.index()).ok_or("no_auction")?.clone();
        if !auc.active {
            return Err("auction_over");
        }
        if self.is_paused() {
            return Err("paused");
        }
        if auc.guy.is_none() && self.t_s >= auc.end_s {
            auc.end_s = self.t_s + tau_s;
            return Ok(auc);
        }
        if auc.english_over(self.t_s) {
            return Err("auction_over");
        }
        Ok(auc)
    }

    /// Pay `amount` into the vault as the new standing bid of `aid`, standing `ttl_s`, and
    /// refund the bid it replaces; both transfers are checked before either is made.
    pub(crate) fn replace_bid(
        &mut self,
        bidder: HolderId,
        aid: AuctionId,
        amount: Amount,
        ttl_s: f64,
        ledger: &mut Ledger,
    ) -> Result<(), Reason> {
        let a = &self.auctions[aid.index()];
        let mut moves = Moves::new();
        moves.transfer(bidder, self.vault, TokenId::QUOTE, amount);
        if let Some(prev) = a.guy {
            moves.transfer(self.vault, prev, TokenId::QUOTE, a.bid);
        }
        moves.check(ledger)?;
        moves.commit_transfers(ledger);
        let a = &mut self.auctions[aid.index()];
        a.bid = amount;
        a.guy = Some(bidder);
        a.bid_end_s = Some(self.t_s + ttl_s);
        Ok(())
    }

    /// Maker `tend`: bid `bid` quote for the whole lot.
    pub(crate) fn op_tend(
        &mut self,
        bidder: HolderId,
        aid: AuctionId,
        bid: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let English {
            beg, ttl_s, tau_s, ..
        } = self.english()?;
        let auc = self.english_open(aid, tau_s)?;
        let tab = auc.tab();
        if auc.in_dent_phase() {
            return Err("tend_phase_over");
        }
        if !bid.is_positive() || bid <= auc.bid {
            return Err("bid_too_low");
        }
        if bid > tab {
            return Err("bid_above_tab");
        }
        if auc.guy.is_some() && bid != tab && bid < auction::min_next_bid(auc.bid, beg) {
            return Err("bid_below_increment");
        }
        self.replace_bid(bidder, aid, bid, ttl_s, ledger)?;
        self.auctions[aid.index()].end_s = auc.end_s;
        self.event(
            "auction_tend",
            Some(auc.account),
            Some(bidder),
            bid,
            bid.to_whole() / auc.lot.to_whole().max(1e-18),
            format!("auction {aid}, lot {}", auc.lot.to_whole()),
        );
        Ok(Outcome::default())
    }

    /// Maker `dent`: pay the whole tab for only `lot` of the collateral; the collateral given
    /// up goes back to the account.
    pub(crate) fn op_dent(
        &mut self,
        bidder: HolderId,
        aid: AuctionId,
        lot: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let English {
            beg, ttl_s, tau_s, ..
        } = self.english()?;
        let auc = self.english_open(aid, tau_s)?;
        if !auc.in_dent_phase() {
            return Err("dent_phase_not_started");
        }
        if !lot.is_positive() || lot > auction::max_next_lot(auc.lot, beg) {
            return Err("lot_above_decrement");
        }
        self.replace_bid(bidder, aid, auc.bid, ttl_s, ledger)?;
        let back = auc.lot - lot;
        self.auctions[aid.index()].lot = lot;
        self.accounts[auc.account.index()].collateral[auc.asset] += back;
        self.event(
            "auction_dent",
            Some(auc.account),
            Some(bidder),
            lot,
            auc.bid.to_whole() / lot.to_whole(),
            format!("auction {aid}, {} returned", back.to_whole()),
        );
        self.reindex(auc.account);
        Ok(Outcome::default())
    }

    /// Maker `deal`: an English auction that is over hands its lot to the winner; the bid
    /// pays the debt, then the penalty; debt it does not cover is bad debt.
    pub(crate) fn op_deal(
        &mut self,
        aid: AuctionId,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.english()?;
        let auc = self.auctions.get(aid.index()).ok_or("no_auction")?.clone();
        if !auc.active {
            return Err("auction_over");
        }
        let Some(winner) = auc.guy else {
            return Err("no_bid");
        };
        if !auc.english_over(self.t_s) {
            return Err("auction_live");
        }
        let token = TokenId(auc.asset as u16 + 1);
        ledger
            .transfer(self.vault, winner, token, auc.lot)
            .map_err(ledger_err)?;
        self.sell_from_auction(aid, auc.lot, auc.bid);
        self.auctions[aid.index()].bid = Amount::ZERO;
        self.event(
            "auction_deal",
            Some(auc.account),
            Some(winner),
            auc.bid,
            auc.bid.to_whole() / auc.lot.to_whole().max(1e-18),
            format!("auction {aid}, lot {}", auc.lot.to_whole()),
        );
        self.finish_auction(aid);
        Ok(Outcome {
            liquidation: true,
            ..Outcome::default()
        })
    }

    /// Quote `holder` has standing as English-auction bids (held by the vault, refunded if
    /// outbid): part of its wealth while the auctions run.
    pub fn escrowed_bids(&self, holder: HolderId) -> Amount {
        if self.english().is_err() {
            return Amount::ZERO;
        }
        self.auctions
            .iter()
            .filter(|a| a.active && a.guy == Some(holder))
            .fold(Amount::ZERO, |s, a| s + a.bid)
    }
}
