//! Liquidators: keepers who liquidate unsafe accounts when, and only when, it pays them.
//!
//! A liquidator looks at the accounts the protocol's own check has flagged, once they have
//! been flagged for `latency_s` seconds (its monitoring delay: it acts from the first block
//! whose time is at least the flagging block's time plus `latency_s`). For each it asks the engine what
//! a liquidation would repay and seize (`plan_liquidation`), quotes the sale of the seized
//! collateral on the venue that pays most (a flash liquidation: the sale happens inside the
//! transaction), and submits only if
//! `sale proceeds + perp bonus - payment - gas - inventory risk > min_profit`.
//! Without flash loans (`flash = false`) it pays from its own capital and keeps the
//! collateral, valuing it at `p_ref * (1 - inventory_risk)`. It bids a priority fee of
//! `tip_gwei` plus `bid_share` of the expected profit (a priority-gas auction against the other
//! liquidators), never above `max_fee_gwei` if set: in a congested block that cap is what
//! starves it.
//!
//! In auction mode it is also a keeper (barks flagged accounts when the reward beats the gas,
//! redoes stale auctions) and a bidder (takes collateral when the auction price plus gas is
//! below what the venue pays).
//!
//! In English auctions (Maker Liquidations 1.2) it bites a flagged account when the lot is
//! worth more than the gas of biting and bidding (the bite itself pays nothing), and bids
//! from its reserve, `value - 2 gas - min_profit` (the lot at the venue that pays most, less
//! `inventory_risk`; the bid and the deal each cost gas; the bid is paid from its capital): it
//! opens an auction nobody has bid on at `open_bid` of the lot's value (the smallest bid at
//! 0), and answers a rival's bid with its whole reserve (each bid costs gas, so it does not
//! creep up by the minimum increment), capped at the tab; once the bid is the tab it offers
//! the smallest lot still worth the tab to it. It settles (`deal`) the auctions it has won.
//! So the price an auction clears at is set by the competition that reaches the chain: with
//! rivals it is about the second reserve, alone it is the opening bid.
//!
//! With a sale policy (`sale`, see [`crate::sale`]) every acquisition (direct liquidation,
//! Dutch take, English win) is paid from its capital and the collateral is valued and disposed
//! of by the policy, the same whatever the mechanism; without it the legacy rules above hold.

use crate::config::{BuildCtx, VenueInfo, check_venue_list};
use crate::oev::{BackrunPolicy, OevBid, OevLot, value_backrun};
use crate::sale::{SaleBook, SalePolicy};
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::clock::{check_delay, legacy_delay};
use cascade_core::tx::{EngineOp, GasKind};
use cascade_core::{
    AccountId, Action, AgentId, Amount, AuctionId, Check, HolderId, TokenId, VenueId,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

fn one() -> u32 {
    1
}
fn d_capital() -> f64 {
    1_000_000.0
}
fn d_max() -> u32 {
    5
}
fn d_tip() -> f64 {
    2.0
}

/// `[[agents]] kind = "liquidator"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiquidatorConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// Quote per liquidator at genesis (also what it can pay without a flash loan).
    #[serde(default = "d_capital")]
    pub capital: f64,
    /// Minimum expected profit net of gas, quote.
    #[serde(default)]
    pub min_profit: f64,
    /// Seconds between the protocol flagging an account and this liquidator acting on it.
    #[serde(default)]
    pub latency_s: f64,
    /// Sell seized collateral inside the transaction (flash liquidation; absent: true). Only
    /// without `sale`: a sale policy pays from capital and sells by its own rule.
    #[serde(default)]
    pub flash: Option<bool>,
    /// Haircut on collateral it keeps instead of selling (price risk while holding it).
    #[serde(default)]
    pub inventory_risk: f64,
    #[serde(default = "d_tip")]
    pub tip_gwei: f64,
    /// Share of the expected profit added to the priority fee.
    #[serde(default)]
    pub bid_share: f64,
    /// Cap on the max fee, gwei (absent: the wallet's 2 x base fee + tip).
    #[serde(default)]
    pub max_fee_gwei: Option<f64>,
    /// Most liquidations it submits per block.
    #[serde(default = "d_max")]
    pub max_per_block: u32,
    /// Venues it may sell on (empty: all).
    #[serde(default)]
    pub venues: Vec<String>,
    /// English auctions: its opening bid on an auction nobody has bid on, as a fraction of
    /// the lot's value (0: the smallest bid, one base unit of quote).
    #[serde(default)]
    pub open_bid: f64,
    /// What it does with the collateral it acquires, the same for direct liquidations and
    /// English and Dutch auctions (`crate::sale`). Absent: the legacy behaviour (flash sales
    /// in liquidations and Dutch takes, English lots held).
    #[serde(default)]
    pub sale: Option<SalePolicy>,
    /// Replaced block-count key, present only to be rejected with its conversion.
    #[serde(default, skip_serializing)]
    pub latency_blocks: Option<f64>,
}

impl LiquidatorConfig {
    pub fn validate(&self, c: &mut Check, venues: &[VenueInfo], block_time_s: f64) {
        let old = self.latency_blocks;
        legacy_delay(c, "latency_blocks", "latency_s", old, block_time_s);
        check_delay(c, "latency_s", self.latency_s);
        c.non_negative("capital", self.capital);
        c.non_negative("min_profit", self.min_profit);
        c.unit_interval("inventory_risk", self.inventory_risk);
        c.non_negative("tip_gwei", self.tip_gwei);
        c.unit_interval("bid_share", self.bid_share);
        if let Some(m) = self.max_fee_gwei {
            c.positive("max_fee_gwei", m);
        }
        c.positive_int("max_per_block", self.max_per_block as u64);
        c.unit_interval("open_bid", self.open_bid);
        check_venue_list(c, "venues", &self.venues, venues);
        if let Some(sale) = &self.sale {
            sale.validate(&mut c.at("sale"), block_time_s);
            if self.flash == Some(true) {
                c.fail(
                    "flash",
                    "a sale inside the liquidation is the legacy policy, used only without `sale`; \
                     with `sale` set every acquisition is paid from capital and sold by the sale \
                     policy (remove `flash` or `sale`)",
                );
            }
        }
    }

    /// Whether liquidations sell the seized collateral inside the transaction.
    pub fn flash(&self) -> bool {
        self.sale.is_none() && self.flash.unwrap_or(true)
    }
}

pub struct Liquidator {
    holder: HolderId,
    label: String,
    cfg: LiquidatorConfig,
    venues: Vec<VenueId>,
    tip: u128,
    cap: Option<u128>,
    min_profit: Amount,
    book: SaleBook,
    /// The blocks it has seen whose time is later than now minus `latency_s`, oldest first:
    /// an account flagged in one of them is still too fresh to act on.
    recent: VecDeque<(u64, f64)>,
}

impl Liquidator {
    pub fn build(cfg: &LiquidatorConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let venues = ctx.select_venues(&cfg.venues, false);
        (0..cfg.count)
            .map(|_| {
                let (i, _rng) = ctx.next_stream(cascade_core::rng::streams::LIQUIDATORS);
                let label = format!("liquidator-{i}");
                let holder = ctx.wallet(&label, cfg.capital, 0.0, &[]);
                Box::new(Liquidator {
                    holder,
                    label,
                    cfg: cfg.clone(),
                    venues: venues.clone(),
                    tip: gwei(cfg.tip_gwei),
                    cap: cfg.max_fee_gwei.map(gwei),
                    min_profit: Amount::from_whole(cfg.min_profit),
                    book: SaleBook::default(),
                    recent: VecDeque::new(),
                }) as Box<dyn Agent>
            })
            .collect()
    }

    /// Record this block's time and forget the blocks that are at least `latency_s` old.
    fn tick(&mut self, view: &View<'_>) {
        self.recent.push_back((view.block, view.t_s));
        while let Some(&(_, t)) = self.recent.front() {
            if view.t_s >= t + self.cfg.latency_s {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }

    /// Whether an account flagged at block `since` has waited `latency_s`: the current
    /// block's time is at least the flagging block's time plus `latency_s`.
    fn waited(&self, since: u64) -> bool {
        !self.recent.iter().any(|&(b, _)| b == since)
    }

    /// The venue that pays most for `amount` of asset `a`, and what it pays.
    fn best_sale(&self, view: &View<'_>, a: usize, amount: Amount) -> Option<(VenueId, Amount)> {
        view.best_sale(&self.venues, a, amount, &[])
    }

    /// What an auction lot of `amount` of asset `a` is worth to it: the best venue's price
    /// for it less `inventory_risk` (it holds the lot before it can sell).
    /// With a sale policy: what the lot is worth sold (or held) by the policy.
    fn lot_value(&self, view: &View<'_>, a: usize, amount: Amount) -> Option<f64> {
        if let Some(sale) = &self.cfg.sale {
            return sale.value(
                view,
                &self.venues,
                a,
                amount,
                self.cfg.inventory_risk,
                self.tip,
            );
        }
        let (_, q) = self.best_sale(view, a, amount)?;
        Some(q.to_whole() * (1.0 - self.cfg.inventory_risk))
    }

    /// Start the auction of `account` (Maker `bark` or `bite`).
    fn kick(&self, view: &View<'_>, account: AccountId, profit: f64, out: &mut Vec<Submission>) {
        let op = EngineOp::Liquidate {
            account,
            sell_on: None,
            min_profit: Amount::ZERO,
        };
        self.submit(view, op, profit, out);
    }

    fn submit(&self, view: &View<'_>, op: EngineOp, profit: f64, out: &mut Vec<Submission>) {
        let kind = op.gas_kind();
        let tip = self.tip + view.tip_worth(kind, self.cfg.bid_share * profit);
        out.push(Submission::Tx(view.request(
            Action::Engine(op),
            tip,
            self.cap,
            true,
        )));
    }

    /// English auctions: settle the ones it won, bid on the others (module doc). Every
    /// transaction here bids only the base tip: an English auction is decided by the bids
    /// standing when it ends, not by which transaction comes first in a block.
    fn bid_english(
        &self,
        view: &View<'_>,
        beg: f64,
        mut budget: Amount,
        mut sent: u32,
        out: &mut Vec<Submission>,
    ) {
        let Some(engine) = view.engine else { return };
        let gas = view.fee_estimate(GasKind::Bid, self.tip).to_whole();
        for (i, auc) in engine.auctions().iter().enumerate() {
            if !auc.active || sent >= self.cfg.max_per_block {
                continue;
            }
            let aid = AuctionId(i as u32);
            if auc.english_over(view.t_s) {
                if auc.guy == Some(self.holder) {
                    self.submit(view, EngineOp::Deal { auction: aid }, 0.0, out);
                    sent += 1;
                }
                continue;
            }
            if auc.guy == Some(self.holder) || !auc.lot.is_positive() {
                continue;
            }
            let Some(value) = self.lot_value(view, auc.asset, auc.lot) else {
                continue;
            };
            let reserve = value - 2.0 * gas - self.cfg.min_profit;
            let tab = auc.tab();
            if reserve <= 0.0 {
                continue;
            }
            if auc.in_dent_phase() {
                // The smallest lot still worth the tab, its gas and its minimum profit.
                let unit = value / auc.lot.to_whole();
                let need = (tab.to_whole() + 2.0 * gas + self.cfg.min_profit) / unit;
                let lot = Amount::from_whole_ceil(need);
                if !lot.is_positive()
                    || lot > cascade_engine::auction::max_next_lot(auc.lot, beg)
                    || budget < tab
                {
                    continue;
                }
                self.submit(view, EngineOp::Dent { auction: aid, lot }, 0.0, out);
                budget -= tab;
            } else {
                let (bid, floor) = if auc.guy.is_none() {
                    (
                        Amount::from_whole_floor(self.cfg.open_bid * value).max(Amount::ONE_UNIT),
                        Amount::ONE_UNIT,
                    )
                } else {
                    (
                        Amount::from_whole_floor(reserve),
                        cascade_engine::auction::min_next_bid(auc.bid, beg),
                    )
                };
                let bid = bid.min(tab);
                if (bid < floor && bid != tab) || bid <= auc.bid || bid > budget {
                    continue;
                }
                self.submit(view, EngineOp::Tend { auction: aid, bid }, 0.0, out);
                budget -= bid;
            }
            sent += 1;
        }
    }
}

impl Agent for Liquidator {
    fn role(&self) -> Role {
        Role::Liquidator
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.label)
    }

    /// Its bid for an oracle update's backrun: the liquidations the update makes possible,
    /// each valued by its own rule (venues, flash or keep with inventory risk, minimum profit),
    /// up to `max_per_block`, at its base tip. Its monitoring latency does not apply: the
    /// auction hands it the update.
    fn oev_bid(&mut self, view: &View<'_>, lot: &OevLot<'_>) -> Option<OevBid> {
        value_backrun(
            view,
            lot,
            &BackrunPolicy {
                holder: self.holder,
                venues: &self.venues,
                flash: self.cfg.flash(),
                inventory_risk: self.cfg.inventory_risk,
                min_profit: self.cfg.min_profit,
                tip: self.tip,
                max_liquidations: self.cfg.max_per_block as usize,
            },
        )
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        let Some(engine) = view.engine else { return };
        self.tick(view);
        // Last block's attempts either landed or are stale: withdraw what did not land.
        for t in view.my_pending(me) {
            out.push(Submission::Cancel(t.id));
        }
        if let Some(sale) = self.cfg.sale {
            self.book.act(
                sale,
                view,
                self.holder,
                &self.venues,
                self.tip,
                self.cap,
                out,
            );
        }
        let auction_mode = engine.mechanism().is_auction();
        let english = engine.mechanism().english().map(|e| e.beg);
        let mut budget = view.balance(self.holder, TokenId::QUOTE);
        let mut sent = 0u32;
        for (&id, &since) in engine.flagged() {
            if sent >= self.cfg.max_per_block {
                break;
            }
            if !self.waited(since) {
                continue;
            }
            let Ok(plan) = engine.plan_liquidation(id) else {
                continue;
            };
            let gas = view.fee_estimate(GasKind::Liquidation, self.tip).to_whole();
            if english.is_some() {
                // Liquidations 1.2 pays nothing for the bite: bite when the lot is worth the
                // gas of biting and of bidding on it.
                let Some(a) = plan.asset else { continue };
                let lot = engine
                    .account(id)
                    .map_or(Amount::ZERO, |acc| acc.collateral[a]);
                let Some(value) = self.lot_value(view, a, lot) else {
                    continue;
                };
                let bid_gas = view.fee_estimate(GasKind::Bid, self.tip).to_whole();
                let profit = value - gas - 2.0 * bid_gas;
                if profit > self.cfg.min_profit {
                    // Its bite bids only the base tip: the auction, not the bite, pays.
                    self.kick(view, id, 0.0, out);
                    sent += 1;
                }
                continue;
            }
            if auction_mode {
                // Keeper reward for the bark: tip + chip * tab.
                if let Some(dutch) = engine.mechanism().dutch() {
                    let tab = dutch.tab_for(plan.repay.to_whole());
                    let reward = dutch.keeper_reward(tab);
                    let profit = reward - gas;
                    if profit > self.cfg.min_profit {
                        self.kick(view, id, profit, out);
                        sent += 1;
                    }
                }
                continue;
            }
            let bonus = plan.perp_bonus.to_whole();
            let (sell_on, proceeds) = match plan.asset {
                Some(a) if plan.seize.is_positive() => {
                    if self.cfg.flash() {
                        match self.best_sale(view, a, plan.seize) {
                            Some((v, q)) => (Some(v), q.to_whole()),
                            None => continue,
                        }
                    } else {
                        if plan.pay > budget {
                            continue;
                        }
                        let value = match &self.cfg.sale {
                            Some(_) => match self.lot_value(view, a, plan.seize) {
                                Some(v) => v,
                                None => continue,
                            },
                            None => {
                                plan.seize.to_whole()
                                    * view.p_ref[a]
                                    * (1.0 - self.cfg.inventory_risk)
                            }
                        };
                        (None, value)
                    }
                }
                _ => (None, 0.0),
            };
            let gross = proceeds - plan.pay.to_whole() + bonus;
            let profit = gross - gas;
            if profit <= self.cfg.min_profit {
                continue;
            }
            if sell_on.is_none() && plan.pay.is_positive() {
                budget -= plan.pay;
            }
            // The engine re-checks at execution: revert unless the sale still covers the
            // payment plus our minimum (gas is sunk by then).
            let floor = Amount::from_whole((self.cfg.min_profit + gas - bonus).max(0.0))
                .max(self.min_profit);
            self.submit(
                view,
                EngineOp::Liquidate {
                    account: id,
                    sell_on,
                    min_profit: floor.min(
                        Amount::from_whole_floor(proceeds - plan.pay.to_whole()).max(Amount::ZERO),
                    ),
                },
                profit,
                out,
            );
            sent += 1;
        }
        if !auction_mode {
            return;
        }
        if let Some(beg) = english {
            self.bid_english(view, beg, budget, sent, out);
            return;
        }
        // Auctions: redo stale ones, take when the sale pays.
        let Some(curve) = engine.auction_curve() else {
            return;
        };
        for (i, auc) in engine.auctions().iter().enumerate() {
            if !auc.active || sent >= self.cfg.max_per_block {
                continue;
            }
            let aid = AuctionId(i as u32);
            let elapsed = view.t_s - auc.tic;
            let gas = view.fee_estimate(GasKind::Bid, self.tip).to_whole();
            if curve.needs_reset(auc.top, elapsed) {
                if let Some(dutch) = engine.mechanism().dutch() {
                    let reward = dutch.keeper_reward(auc.tab().to_whole());
                    if reward - gas > self.cfg.min_profit {
                        self.submit(view, EngineOp::Redo { auction: aid }, reward - gas, out);
                        sent += 1;
                    }
                }
                continue;
            }
            let price = curve.price(auc.top, elapsed);
            if price.is_nan() || price <= 0.0 {
                continue;
            }
            let slice = auc
                .lot
                .min(Amount::from_whole_floor(auc.tab().to_whole() / price));
            if !slice.is_positive() {
                continue;
            }
            let owe = slice.to_whole() * price;
            let (sell_on, value) = if self.cfg.sale.is_some() {
                // Paid from capital; the sale policy disposes of the lot.
                if Amount::from_whole_ceil(owe) > budget {
                    continue;
                }
                match self.lot_value(view, auc.asset, slice) {
                    Some(v) => (None, v),
                    None => continue,
                }
            } else {
                match self.best_sale(view, auc.asset, slice) {
                    Some((v, q)) => (Some(v), q.to_whole()),
                    None => continue,
                }
            };
            let profit = value - owe - gas;
            if profit > self.cfg.min_profit {
                if sell_on.is_none() {
                    budget -= Amount::from_whole_ceil(owe);
                }
                self.submit(
                    view,
                    EngineOp::Take {
                        auction: aid,
                        max_lot: slice,
                        max_price: price,
                        sell_on,
                    },
                    profit,
                    out,
                );
                sent += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::View;
    use cascade_core::tx::Side;
    use cascade_core::{AccountId, AssetId, Ledger, rng};
    use cascade_engine::{Engine, EngineConfig, LiquidationMode};
    use cascade_market::gas::{GasCosts, fee_in_quote};
    use cascade_market::mempool::Mempool;
    use cascade_market::oracle::{FeedConfig, GuardConfig, OracleConfig, Oracles};
    use cascade_market::venue::{Venue, VenueConfig};

    /// Borrowers of every size, all liquidatable at 1,600, and a liquidator deciding at
    /// several gas prices: every liquidation it submits is one it expects to gain on at the
    /// prices in its View, after the fee of its own bid; the ones it leaves are the ones that
    /// would not pay.
    #[test]
    fn a_liquidator_never_submits_a_liquidation_it_expects_to_lose_on() {
        let mut ledger = Ledger::new(["USD", "ETH"]);
        let cfg = EngineConfig::plain(0.2, 0.1, LiquidationMode::Full { bonus: 0.05 });
        let sizes: Vec<f64> = (0..40).map(|i| 0.05 * 1.25f64.powi(i)).collect();
        let traders: Vec<HolderId> = sizes
            .iter()
            .enumerate()
            .map(|(i, eth)| {
                let h = ledger.add_holder(format!("t{i}"));
                ledger
                    .mint_genesis(h, AssetId(0).token(), Amount::from_whole(*eth))
                    .unwrap();
                h
            })
            .collect();
        let pool_h = ledger.add_holder("pool");
        let owner = ledger.add_holder("owner");
        let vc = VenueConfig::Cpmm {
            name: "amm".into(),
            asset: "ETH".into(),
            reserve_base: 10_000.0,
            reserve_quote: 16_000_000.0,
            fee: 0.003,
            withdraw: None,
        };
        let mut venues =
            vec![Venue::from_config(&vc, &mut ledger, pool_h, owner, AssetId(0), 1600.0).unwrap()];
        let mut ctx_ledger = ledger;
        let infos = vec![VenueInfo {
            name: "amm".into(),
            asset: AssetId(0),
            is_clob: false,
        }];
        let names = vec!["ETH".to_string()];
        let lcfg = LiquidatorConfig {
            count: 1,
            capital: 1_000_000.0,
            min_profit: 0.0,
            latency_s: 0.0,
            latency_blocks: None,
            flash: Some(true),
            inventory_risk: 0.0,
            tip_gwei: 1.0,
            bid_share: 0.3,
            max_fee_gwei: None,
            max_per_block: 100,
            venues: vec![],
            open_bid: 0.0,
            sale: None,
        };
        let mut agent = {
            let mut ctx = crate::config::BuildCtx::new(
                &mut ctx_ledger,
                rng::run_seed(1, 0),
                &names,
                &infos,
                &[1600.0],
            );
            Liquidator::build(&lcfg, &mut ctx).pop().unwrap()
        };
        let mut engine = Engine::new(
            &cfg,
            &mut ctx_ledger,
            &[2000.0],
            rng::stream(rng::run_seed(1, 0), "engine", 0),
        )
        .unwrap();
        let mut ledger = ctx_ledger;
        ledger.seal();
        // Each borrows 79% of its collateral's value at 2,000 (initial margin allows 80%).
        for (h, eth) in traders.iter().zip(&sizes) {
            engine
                .apply(
                    &EngineOp::Borrow {
                        asset: AssetId(0),
                        collateral: Amount::from_whole(*eth),
                        borrow: Amount::from_whole(eth * 2000.0 * 0.79),
                    },
                    *h,
                    AgentId(1),
                    &mut ledger,
                    &mut venues,
                )
                .unwrap();
        }
        engine.begin_block(
            1,
            12.0,
            12.0,
            &[1600.0],
            &[1600.0],
            &[true],
            &[None],
            &[1600.0],
        );
        engine.end_block();
        assert_eq!(engine.flagged().len(), sizes.len());
        let oracle = OracleConfig {
            asset: "ETH".into(),
            feed: FeedConfig::Twap {
                venue: "amm".into(),
                window_s: 600.0,
            },
            guards: GuardConfig::default(),
            publication: Default::default(),
        };
        let oracles = Oracles::new(&[(0, oracle)], &[1600.0], &["amm".to_string()]).unwrap();
        let costs = GasCosts::default();
        let mempool = Mempool::new(600.0);
        let mut skipped_at_high_gas = 0;
        for base_gwei in [1.0, 20.0, 100.0, 500.0] {
            let view = View {
                block: 2,
                t_s: 24.0,
                block_time_s: 12.0,
                dt_s: 12.0,
                base_fee: gwei(base_gwei),
                native_price: 1600.0,
                gas_costs: &costs,
                p_ref: &[1600.0],
                oracle: &[1600.0],
                venues: &venues,
                ledger: &ledger,
                mempool: &mempool,
                receipts: &[],
                watcher: false,
                engine: Some(&engine),
                oracles: &oracles,
                twap_oracles: &[None],
                prices: None,
                watches: &[],
            };
            let mut out = Vec::new();
            agent.act(&view, AgentId(0), &mut out);
            let mut submitted: Vec<AccountId> = Vec::new();
            for s in &out {
                let Submission::Tx(req) = s else {
                    panic!("a liquidator sends public transactions: {s:?}")
                };
                let Action::Engine(EngineOp::Liquidate {
                    account, sell_on, ..
                }) = req.action
                else {
                    panic!("{req:?}")
                };
                // Its expectation at the View's prices, after the fee of its own bid.
                let plan = engine.plan_liquidation(account).unwrap();
                let v = sell_on.expect("flash liquidation");
                let proceeds = venues[v.index()].quote(Side::Sell, plan.seize).amount_out;
                let fee = fee_in_quote(req.gas_limit, view.base_fee + req.priority_fee, 1600.0);
                let gain = proceeds - plan.pay + plan.perp_bonus - fee;
                assert!(
                    gain.is_positive(),
                    "{base_gwei} gwei: account {account:?} expected {gain:?}"
                );
                submitted.push(account);
            }
            // What it left: not worth the gas at this base fee.
            let gas = view.fee_estimate(GasKind::Liquidation, gwei(1.0));
            for (i, _) in sizes.iter().enumerate() {
                let id = AccountId(i as u32);
                if submitted.contains(&id) {
                    continue;
                }
                let plan = engine.plan_liquidation(id).unwrap();
                let proceeds = venues[0].quote(Side::Sell, plan.seize).amount_out;
                assert!(
                    proceeds - plan.pay - gas <= Amount::ZERO,
                    "{base_gwei} gwei: skipped a profitable liquidation of {id:?}"
                );
                if base_gwei >= 500.0 {
                    skipped_at_high_gas += 1;
                }
            }
            assert!(
                !submitted.is_empty(),
                "{base_gwei} gwei: the large ones pay"
            );
        }
        assert!(skipped_at_high_gas > 5, "{skipped_at_high_gas}");
    }
}
