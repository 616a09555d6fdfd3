//! Dutch collateral auctions (Maker Liquidations 2.0): the kick (`bark`, also the English
//! mode's `bite`), `take` at the falling price, `redo` of a stale auction, keeper rewards.

use crate::auction::Auction;
use crate::causal::Before;
use crate::liquidation::{Kick, SettlementMarket};
use crate::ops::moves::Moves;
use crate::{Engine, Outcome, Reason};
use cascade_core::{AccountId, Amount, AuctionId, HolderId, Ledger, Side, TokenId, VenueId};
use cascade_market::venue::Venue;

impl Engine {
    /// Maker `bark` (Dutch) or `bite` (English): move the account's collateral and debt
    /// (perps realized first) into an auction; in a Dutch auction the keeper earns `tip +
    /// chip * tab`, paid by the insurance fund (then the pool), as Maker's `vat.suck` mints
    /// it as system debt; Liquidations 1.2 paid the biting keeper nothing.
    pub(crate) fn bark(
        &mut self,
        keeper: HolderId,
        id: AccountId,
        kick: Kick,
        before: Before,
        ledger: &mut Ledger,
        market: Option<&dyn SettlementMarket>,
    ) -> Outcome {
        // Liquidated notional: the lot, the perps and the option hedge, at `p_ref`.
        let p_ref = self.market_prices(market);
        let Kick {
            buf, chop, tau_s, ..
        } = kick;
        let asset = self.accounts[id.index()].largest_collateral(&self.prices);
        let closed = self.realize_perps(id);
        let mut flow: Vec<(usize, f64)> = closed.iter().map(|(a, s)| (*a, -s.to_whole())).collect();
        if self.accounts[id.index()].has_options() {
            // The option book is closed at mark (no penalty: the auction's chop is on the
            // debt); its delta hedge is forced flow like the perps' close.
            let (_, f) = self.liquidate_options(id, 1.0, 0.0, true);
            flow.extend(f);
        }
        let acc = self.accounts[id.index()].clone();
        let Some(a) = asset else {
            // Perps only: settled directly.
            return self.kick_without_auction(keeper, id, &closed, flow, before, &p_ref);
        };
        // Net the account's quote against its debt first.
        let debt = (acc.debt - acc.quote).max(Amount::ZERO);
        let quote_left = (acc.quote - acc.debt).max(Amount::ZERO);
        self.pool_cash += acc.quote.min(acc.debt);
        if debt.is_zero() {
            // Closing the perps left enough quote to repay the debt: the account is safe
            // and, like Maker's `bark` on a safe vault, nothing is auctioned (an auction with
            // an empty tab could never be taken and would hold the collateral forever).
            let acc = &mut self.accounts[id.index()];
            acc.debt = Amount::ZERO;
            acc.quote = quote_left;
            return self.kick_without_auction(keeper, id, &closed, flow, before, &p_ref);
        }
        let penalty = debt.scale_floor(chop);
        let lot = acc.collateral[a];
        let notional = lot.to_whole() * p_ref[a] + flow_notional(&flow, &p_ref);
        let auction = Auction {
            account: id,
            asset: a,
            lot,
            debt,
            penalty,
            top: self.prices[a] * buf,
            tic: self.t_s,
            kicked_block: self.block,
            active: true,
            bid: Amount::ZERO,
            guy: None,
            bid_end_s: None,
            end_s: tau_s.map_or(f64::INFINITY, |t| self.t_s + t),
        };
        let reward = kick.reward(debt + penalty);
        let acc = &mut self.accounts[id.index()];
        acc.collateral[a] = Amount::ZERO;
        acc.debt = Amount::ZERO;
        acc.quote = quote_left;
        // Other collateral stays in the account; the auctioned part is gone from it.
        if reward.is_positive() {
            self.pay_keeper(keeper, reward, ledger);
        }
        let aid = AuctionId(self.auctions.len() as u32);
        self.auctions.push(auction);
        self.metrics.auctions += 1;
        self.liqs_this_block += 1;
        self.record_liquidation(id, notional, before, keeper, &p_ref);
        self.event(
            "auction_kick",
            Some(id),
            Some(keeper),
            debt + penalty,
            self.prices[a] * buf,
            format!("auction {aid}, lot {}", lot.to_whole()),
        );
        if !self.accounts[id.index()].has_positions() {
            self.flagged.remove(&id);
        }
        self.spend_flag(id);
        self.reindex(id);
        Outcome {
            liquidation: true,
            offvenue_flow: flow,
            ..Outcome::default()
        }
    }

    /// A kick that leaves nothing to auction (no collateral, or closing the positions repaid
    /// the debt): a liquidation of the closed perps' notional, settled directly.
    fn kick_without_auction(
        &mut self,
        keeper: HolderId,
        id: AccountId,
        closed: &[(usize, Amount)],
        flow: Vec<(usize, f64)>,
        before: Before,
        p_ref: &[f64],
    ) -> Outcome {
        let notional = flow_notional(&flow, p_ref);
        self.liqs_this_block += 1;
        self.record_liquidation(id, notional, before, keeper, p_ref);
        self.after_liquidation(id, closed);
        Outcome {
            liquidation: true,
            offvenue_flow: flow,
            ..Outcome::default()
        }
    }

    /// A keeper reward: from the insurance fund, then the pool.
    pub(crate) fn pay_keeper(
        &mut self,
        keeper: HolderId,
        reward: Amount,
        ledger: &mut Ledger,
    ) -> Amount {
        let from_if = reward.min(self.insurance).max(Amount::ZERO);
        let from_pool = (reward - from_if).min(self.pool_cash.max(Amount::ZERO));
        let paid = from_if + from_pool;
        // The vault holds every claim, so paying a claim out cannot overdraw it.
        if ledger
            .transfer(self.vault, keeper, TokenId::QUOTE, paid)
            .is_ok()
        {
            self.insurance -= from_if;
            self.pool_cash -= from_pool;
            self.metrics.insurance_paid += from_if.to_whole();
            paid
        } else {
            Amount::ZERO
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn op_take(
        &mut self,
        bidder: HolderId,
        aid: AuctionId,
        max_lot: Amount,
        max_price: f64,
        sell_on: Option<VenueId>,
        ledger: &mut Ledger,
        venues: &mut [Venue],
    ) -> Result<Outcome, Reason> {
        let curve = *self.mechanism.curve().ok_or("not_auction_mode")?;
        let auc = self.auctions.get(aid.index()).ok_or("no_auction")?.clone();
        if !auc.active {
            return Err("auction_over");
        }
        if self.is_paused() {
            return Err("paused");
        }
        let elapsed = self.t_s - auc.tic;
        if curve.needs_reset(auc.top, elapsed) {
            return Err("needs_redo");
        }
        let price = curve.price(auc.top, elapsed);
        if price > max_price || price <= 0.0 {
            return Err("too_expensive");
        }
        let mut slice = auc.lot.min(max_lot);
        let mut owe = slice.value_ceil(price);
        let tab = auc.tab();
        if owe > tab {
            owe = tab;
            slice = Amount::from_whole_floor(tab.to_whole() / price).min(auc.lot);
        }
        if !slice.is_positive() {
            return Err("invalid_amount");
        }
        // No price band on a take: the auction's price is the bidder's.
        let purchase =
            self.check_purchase(bidder, auc.asset, slice, owe, sell_on, None, ledger, venues)?;
        let mut moves = Moves::new();
        purchase.moves(self.vault, &mut moves);
        moves.check(ledger)?;
        // Commit: only the sale can still revert, undone.
        let mut out = Outcome {
            liquidation: true,
            ..Outcome::default()
        };
        if let Some((v, fill)) = moves.commit(ledger, venues)? {
            out.swaps.push((v, Side::Sell, fill));
        }
        self.sell_from_auction(aid, slice, owe);
        self.event(
            "auction_take",
            Some(auc.account),
            Some(bidder),
            owe,
            price,
            format!("auction {aid}, slice {}", slice.to_whole()),
        );
        self.finish_auction(aid);
        Ok(out)
    }

    pub(crate) fn op_redo(
        &mut self,
        keeper: HolderId,
        aid: AuctionId,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let dutch = *self.mechanism.dutch().ok_or("not_auction_mode")?;
        let (curve, kick) = (dutch.curve, dutch.kick());
        let buf = kick.buf;
        let auc = self.auctions.get(aid.index()).ok_or("no_auction")?.clone();
        if !auc.active {
            return Err("auction_over");
        }
        if self.is_paused() {
            return Err("paused");
        }
        if !curve.needs_reset(auc.top, self.t_s - auc.tic) {
            return Err("no_redo_needed");
        }
        let a = &mut self.auctions[aid.index()];
        a.top = self.prices[auc.asset] * buf;
        a.tic = self.t_s;
        let reward = kick.reward(auc.tab());
        self.pay_keeper(keeper, reward, ledger);
        self.event(
            "auction_redo",
            Some(auc.account),
            Some(keeper),
            reward,
            self.prices[auc.asset] * buf,
            format!("auction {aid}"),
        );
        Ok(Outcome::default())
    }
}

/// The notional of a kick's forced flow (perps closed and the closed options' delta hedge,
/// signed whole base units per asset) at `p_ref`.
fn flow_notional(flow: &[(usize, f64)], p_ref: &[f64]) -> f64 {
    flow.iter().map(|(a, f)| f.abs() * p_ref[*a]).sum()
}
