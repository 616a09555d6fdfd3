//! Bids in oracle order-flow auctions (OEV recapture: Chainlink SVR, API3 OEV Network, UMA
//! Oval; docs/references.md, R18).
//!
//! With an oracle in `oev_auction` publication mode, every update is first offered, sealed,
//! to the liquidator and MEV populations: the right to backrun it, i.e. to liquidate right
//! after it in the same block. This module is what a bidder computes: the accounts the update
//! makes liquidatable (healthy at the engine's current price, unhealthy at the updated one),
//! what liquidating each would earn with the bidder's own profit rule (the liquidators' and
//! the MEV bots' `proceeds - payment + bonus - gas`, with the bidder's own venues, flash or
//! inventory choice, tip and minimum profit), and the transactions it would run.
//!
//! Several liquidations in one backrun sell on the same venues one after the other, so each
//! sale is valued at the venue's marginal quote after the bidder's earlier sales in the bundle
//! (`quote(sold + x) - quote(sold)`), not at the untouched venue: a sealed bid is a
//! commitment, and counting the same depth twice would make the winner overpay.
//!
//! The auction is second-price (World, step 4): bidding one's value is a dominant strategy, so
//! the bid is the value, net of gas and of the bidder's own minimum profit per liquidation.

use crate::view::View;
use cascade_core::tx::{EngineOp, GasKind, TxRequest};
use cascade_core::{Action, Amount, FeedId, HolderId, TokenId, VenueId};

/// An oracle update offered in an auction.
#[derive(Debug, Clone, Copy)]
pub struct OevLot<'a> {
    pub feed: FeedId,
    /// The asset whose oracle price the update moves.
    pub asset: usize,
    /// The engine's oracle prices of every asset once the update has landed.
    pub prices: &'a [f64],
}

/// A sealed bid: the most the bidder pays for the lot, and the transactions (liquidations)
/// it runs right after the update when it wins.
#[derive(Debug, Clone, PartialEq)]
pub struct OevBid {
    /// Quote base units, positive.
    pub value: Amount,
    pub txs: Vec<TxRequest>,
}

/// A bidder's own liquidation rule, as its public strategy applies it.
#[derive(Debug, Clone, Copy)]
pub struct BackrunPolicy<'a> {
    /// The wallet that pays gas, the payment and (without flash) the repayments.
    pub holder: HolderId,
    /// Venues it may sell seized collateral on.
    pub venues: &'a [VenueId],
    /// Sell seized collateral inside the transaction; otherwise keep it at
    /// `p_ref * (1 - inventory_risk)`, paying from its own quote.
    pub flash: bool,
    pub inventory_risk: f64,
    /// Minimum profit per liquidation, net of gas (whole quote).
    pub min_profit: f64,
    /// Priority fee of its backrun transactions, wei per gas (the auction, not the tip, is
    /// where bidders compete).
    pub tip: u128,
    /// Most liquidations in one backrun.
    pub max_liquidations: usize,
}

/// The bidder's value of backrunning `lot` and the liquidations it would send; `None` when
/// nothing pays (or health is private, or the engine sells by auction, where a backrun earns
/// only keeper rewards or the right to bid).
pub fn value_backrun(view: &View<'_>, lot: &OevLot<'_>, pol: &BackrunPolicy<'_>) -> Option<OevBid> {
    let engine = view.engine?;
    // Under the legacy flag nothing is readable before the flag; under proofs only public
    // accounts are (read through the View below).
    let flag = engine.config().privacy == cascade_engine::Privacy::HiddenHealth;
    if flag || engine.mechanism().is_auction() || pol.max_liquidations == 0 {
        return None;
    }
    let gas = view.fee_estimate(GasKind::Liquidation, pol.tip).to_whole();
    let mut quote_left = view.balance(pol.holder, TokenId::QUOTE).to_whole();
    // Base sold on each venue so far in this backrun.
    let mut sold: Vec<(VenueId, Amount)> = Vec::new();
    let mut value = 0.0;
    let mut txs = Vec::new();
    // The accounts under water at the lot's prices, in account order, from the engine's
    // liquidation index (what a scan of every account finds).
    for id in engine.maintenance_negative_at(lot.prices) {
        if txs.len() >= pol.max_liquidations {
            break;
        }
        // Only what the update itself makes liquidatable: accounts liquidatable already are
        // open to everyone's public race.
        match (
            view.public_health(id),
            view.public_health_at(id, lot.prices),
        ) {
            (Some(now), Some(next)) if now.maintenance >= 0.0 && next.maintenance < 0.0 => {}
            _ => continue,
        }
        let Ok(plan) = engine.plan_liquidation_at(id, lot.prices) else {
            continue;
        };
        let pay = plan.pay.to_whole();
        let bonus = plan.perp_bonus.to_whole();
        let (sell_on, proceeds) = match plan.asset {
            Some(a) if plan.seize.is_positive() => {
                if pol.flash {
                    match view.best_sale(pol.venues, a, plan.seize, &sold) {
                        Some((v, q)) => (Some(v), q.to_whole()),
                        None => continue,
                    }
                } else {
                    if pay > quote_left - gas {
                        continue;
                    }
                    (
                        None,
                        plan.seize.to_whole() * view.p_ref[a] * (1.0 - pol.inventory_risk),
                    )
                }
            }
            _ => (None, 0.0),
        };
        let profit = proceeds - pay + bonus - gas;
        if profit <= pol.min_profit {
            continue;
        }
        // The wallet must cover the gas (and without flash the repayment) of every backrun
        // transaction before the proceeds arrive.
        let outlay = gas + if sell_on.is_none() { pay } else { 0.0 };
        if outlay > quote_left {
            continue;
        }
        quote_left -= outlay;
        if let Some(v) = sell_on {
            match sold.iter_mut().find(|(x, _)| *x == v) {
                Some((_, s)) => *s += plan.seize,
                None => sold.push((v, plan.seize)),
            }
        }
        value += profit - pol.min_profit;
        txs.push(view.request(
            Action::Engine(EngineOp::Liquidate {
                account: id,
                sell_on,
                min_profit: Amount::ZERO,
            }),
            pol.tip,
            None,
            true,
        ));
    }
    // The payment comes out of the wallet after the backrun: never bid more than it will hold
    // before the proceeds (a conservative cap; flash proceeds only add to it).
    let value = value.min(quote_left.max(0.0));
    let value = Amount::from_whole_floor(value);
    (value.is_positive() && !txs.is_empty()).then_some(OevBid { value, txs })
}
