//! MEV bots: searchers who read the public mempool and take liquidations and value from those
//! who act in the open.
//!
//! Three strategies, each enabled separately and each taken only when its expected profit net
//! of gas beats `min_profit`:
//!
//! - **Oracle backrun** (`backrun = true`): a pending oracle publication reveals the next
//!   oracle price; the bot computes which accounts it makes liquidatable and sends a private
//!   bundle `[oracle update, liquidation, ...]` for the current block, so its liquidations land
//!   right behind the update, before any public liquidator has seen the flag. With
//!   `engine.privacy = true` health is hidden until the protocol flags an account, and this
//!   strategy has nothing to read.
//! - **Priority-gas auction** (`outbid = true`): a pending public liquidation is copied with a
//!   priority fee `outbid_factor` times the victim's plus one gwei.
//! - **Sandwich** (`sandwich = true`): a pending flash liquidation that will sell collateral on
//!   a constant-product pool is wrapped in a bundle `[sell X, victim, buy X back]`. The bot
//!   chooses `X` to maximize `quote from the front-run - quote for the back-run` (what the
//!   victim loses to the extra slippage, at zero pool fee exactly) under the victim's own
//!   revert condition (its sale must still cover its payment plus its minimum profit), by
//!   simulating the three trades on a copy of the pool.
//! - **TWAP manipulation** (`manipulate = true`): when the engine's oracle is the TWAP of a
//!   constant-product pool the bot trades on, the bot plans a campaign each block: push the
//!   pool to `p_ref (1 -/+ d)` at the end of each of the next `n` blocks, so that the TWAP
//!   crosses some accounts' liquidation prices, then liquidate them (keeping the seized
//!   collateral, worth `p_ref`) and buy the last push back. Arbitrageurs pull the pool back to
//!   `p_ref` every block, so every push after the first is paid for again; the bot prices each
//!   push at `p_ref` (it offsets its pool trades on the off-chain market, as a hedged searcher
//!   does), adds gas, and pushes only while the best campaign's expected profit at the prices
//!   it sees is positive and beats waiting (the formula is in docs/model.md). Nothing forces
//!   it: a deeper pool or a longer window makes every campaign lose, and it does nothing.
//!   Accounts that are liquidatable at the engine's price now are liquidated at once, in a
//!   private bundle. With `engine.privacy = true` it cannot see which accounts are close to
//!   their liquidation price, so it only liquidates flagged accounts and never pushes.
//!
//! In an auction engine (`dutch_auction`, `english_auction`) a liquidation only starts an
//! auction, with no collateral to flash-sell: the bots leave liquidations to the keepers.

use crate::config::{BuildCtx, VenueInfo, check_venue_list};
use crate::manipulation::{forecast_twap, push_cost, restore};
use crate::oev::{BackrunPolicy, OevBid, OevLot, value_backrun};
use crate::view::{View, gwei};
use crate::{Agent, BundleRequest, Role, Submission};
use cascade_core::tx::{EngineOp, GasKind, Side, Tx};
use cascade_core::{Action, AgentId, Amount, Check, HolderId, TokenId, VenueId};
use cascade_engine::Engine;
use cascade_market::venue::Venue;
use serde::{Deserialize, Serialize};

fn one() -> u32 {
    1
}
fn d_capital() -> f64 {
    2_000_000.0
}
fn d_inventory() -> f64 {
    500.0
}
fn d_true() -> bool {
    true
}
fn d_factor() -> f64 {
    1.125
}
fn d_tip() -> f64 {
    2.0
}
fn d_share() -> f64 {
    0.5
}
fn d_max_push() -> f64 {
    0.2
}
fn d_push_blocks() -> u32 {
    20
}

/// Most campaign lengths the planner evaluates (bounds its work per block).
const MAX_PUSH_BLOCKS_LIMIT: u32 = 200;
/// Displacements evaluated between 0 and `max_push` (evenly spaced).
const PUSH_GRID: u32 = 8;
/// A push or buy-back reverts when the pool is more than this far (in output) from where the
/// bot expected it: someone else moved it, and the plan no longer holds.
const PUSH_SLIPPAGE: f64 = 0.01;
/// Most liquidations in one harvest bundle (the rest wait a block).
const MAX_HARVEST: usize = 10;

/// `[[agents]] kind = "mev_bot"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MevConfig {
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default = "d_capital")]
    pub capital: f64,
    /// Units of each asset held (for sandwich front-runs).
    #[serde(default = "d_inventory")]
    pub inventory: f64,
    #[serde(default = "d_true")]
    pub backrun: bool,
    #[serde(default = "d_true")]
    pub outbid: bool,
    #[serde(default)]
    pub sandwich: bool,
    #[serde(default = "d_factor")]
    pub outbid_factor: f64,
    #[serde(default)]
    pub min_profit: f64,
    #[serde(default = "d_tip")]
    pub tip_gwei: f64,
    /// Share of the expected profit paid to the builder as priority fee.
    #[serde(default = "d_share")]
    pub bid_share: f64,
    #[serde(default)]
    pub venues: Vec<String>,
    /// Manipulate a TWAP oracle that reads a constant-product pool, when a campaign pays.
    #[serde(default)]
    pub manipulate: bool,
    /// Largest displacement of the pool from `p_ref` the bot considers, a fraction in (0, 1).
    #[serde(default = "d_max_push")]
    pub max_push: f64,
    /// Longest campaign, in consecutive blocks of pushing, the bot considers.
    #[serde(default = "d_push_blocks")]
    pub max_push_blocks: u32,
    /// Priority fee of the pushes, gwei: low, so that they land after the arbitrageurs' trades
    /// and the pool ends the block where the bot wants it.
    #[serde(default)]
    pub push_tip_gwei: f64,
}

impl MevConfig {
    pub fn validate(&self, c: &mut Check, venues: &[VenueInfo]) {
        c.non_negative("capital", self.capital);
        c.non_negative("inventory", self.inventory);
        if self.outbid_factor.is_nan() || self.outbid_factor < 1.0 {
            c.fail(
                "outbid_factor",
                format!("must be >= 1 (got {})", self.outbid_factor),
            );
        }
        c.non_negative("min_profit", self.min_profit);
        c.non_negative("tip_gwei", self.tip_gwei);
        c.unit_interval("bid_share", self.bid_share);
        check_venue_list(c, "venues", &self.venues, venues);
        if !(self.max_push > 0.0 && self.max_push < 1.0) {
            c.fail(
                "max_push",
                format!(
                    "must be in (0, 1), a fraction of the reference price (got {})",
                    self.max_push
                ),
            );
        }
        if self.max_push_blocks == 0 || self.max_push_blocks > MAX_PUSH_BLOCKS_LIMIT {
            c.fail(
                "max_push_blocks",
                format!(
                    "must be between 1 and {MAX_PUSH_BLOCKS_LIMIT} (got {})",
                    self.max_push_blocks
                ),
            );
        }
        c.non_negative("push_tip_gwei", self.push_tip_gwei);
        if self.manipulate
            && !venues.is_empty()
            && !venues
                .iter()
                .any(|v| !v.is_clob && (self.venues.is_empty() || self.venues.contains(&v.name)))
        {
            c.fail(
                "manipulate",
                "needs a constant-product pool among the bot's venues (the TWAP it moves)",
            );
        }
    }
}

pub struct MevBot {
    holder: HolderId,
    label: String,
    cfg: MevConfig,
    venues: Vec<VenueId>,
    tip: u128,
    push_tip: u128,
    /// The block of the bot's latest push, per venue (to buy it back when the campaign ends).
    last_push: Vec<(VenueId, u64)>,
}

/// A campaign the planner found: push to `target` for `blocks - 1` blocks, liquidate at
/// block `b + blocks`.
#[derive(Debug, Clone, Copy)]
struct Campaign {
    profit: f64,
    side: Side,
    amount_in: Amount,
    amount_out: Amount,
}

/// The best sandwich of a sale of `victim_in` base on `pool` whose seller needs at least
/// `victim_floor` quote out: `(front-run size X, quote gained)`, or `None` if nothing pays.
/// The gain is `quote out of selling X - quote to buy X back after the victim`, computed
/// exactly on copies of the pool.
pub fn plan_sandwich(
    pool: &Venue,
    victim_in: Amount,
    victim_floor: Amount,
    max_x: Amount,
) -> Option<(Amount, Amount)> {
    let Venue::Cpmm(_) = pool else { return None };
    let gain = |x: Amount| -> Option<Amount> {
        if !x.is_positive() {
            return None;
        }
        let Venue::Cpmm(p) = pool else { return None };
        let mut p = p.clone();
        let front = p.simulate(Side::Sell, x)?;
        let v_out = p.simulate(Side::Sell, victim_in)?;
        if v_out < victim_floor {
            return None;
        }
        let back = p.amount_in_for_exact_out(Side::Buy, x)?;
        Some(front - back)
    };
    // The gain rises then falls in X (and is cut off by the victim's floor): search on a
    // geometric grid, then refine around the best point.
    let mut best: Option<(Amount, Amount)> = None;
    let mut x = Amount::from_whole(0.01).min(max_x);
    while x <= max_x && x.is_positive() {
        if let Some(g) = gain(x)
            && best.is_none_or(|(_, b)| g > b)
        {
            best = Some((x, g));
        }
        x = Amount(x.raw() + x.raw() / 4 + 1);
    }
    let (bx, _) = best?;
    let (mut lo, mut hi) = (
        Amount(bx.raw() * 4 / 5),
        Amount((bx.raw() * 5 / 4).min(max_x.raw())),
    );
    for _ in 0..60 {
        let m1 = Amount(lo.raw() + (hi.raw() - lo.raw()) / 3);
        let m2 = Amount(hi.raw() - (hi.raw() - lo.raw()) / 3);
        let g1 = gain(m1).unwrap_or(Amount(i128::MIN / 4));
        let g2 = gain(m2).unwrap_or(Amount(i128::MIN / 4));
        if g1 < g2 {
            lo = m1;
        } else {
            hi = m2;
        }
    }
    for cand in [lo, hi, bx] {
        if let Some(g) = gain(cand)
            && best.is_none_or(|(_, b)| g > b)
        {
            best = Some((cand, g));
        }
    }
    best.filter(|(_, g)| g.is_positive())
}

impl MevBot {
    pub fn build(cfg: &MevConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let venues = ctx.select_venues(&cfg.venues, false);
        let assets = ctx.assets_of(&venues);
        (0..cfg.count)
            .map(|_| {
                let (i, _rng) = ctx.next_stream(cascade_core::rng::streams::MEV);
                let label = format!("mev_bot-{i}");
                let holder = ctx.wallet(&label, cfg.capital, cfg.inventory, &assets);
                Box::new(MevBot {
                    holder,
                    label,
                    cfg: cfg.clone(),
                    venues: venues.clone(),
                    tip: gwei(cfg.tip_gwei),
                    push_tip: gwei(cfg.push_tip_gwei),
                    last_push: Vec::new(),
                }) as Box<dyn Agent>
            })
            .collect()
    }

    /// The venue that pays most for `amount` of asset `a`, and what it pays.
    fn best_sale(&self, view: &View<'_>, a: usize, amount: Amount) -> Option<(VenueId, Amount)> {
        view.best_sale(&self.venues, a, amount, &[])
    }

    /// Expected profit (whole quote, before gas) of liquidating `id` at `prices`.
    fn liq_value(
        &self,
        view: &View<'_>,
        engine: &Engine,
        id: cascade_core::AccountId,
        prices: &[f64],
    ) -> Option<(f64, Option<VenueId>)> {
        let plan = engine.plan_liquidation_at(id, prices).ok()?;
        let bonus = plan.perp_bonus.to_whole();
        match plan.asset {
            Some(a) if plan.seize.is_positive() => {
                let (v, q) = self.best_sale(view, a, plan.seize)?;
                Some((q.to_whole() - plan.pay.to_whole() + bonus, Some(v)))
            }
            _ => Some((bonus - plan.pay.to_whole(), None)),
        }
    }

    fn tip_for(&self, view: &View<'_>, kind: GasKind, profit: f64) -> u128 {
        self.tip + view.tip_worth(kind, self.cfg.bid_share * profit)
    }
}

impl Agent for MevBot {
    fn role(&self) -> Role {
        Role::Mev
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> &str {
        &self.label
    }
    fn watches_mempool(&self) -> bool {
        true
    }
    fn hedges_off_chain(&self) -> bool {
        // A manipulating bot offsets its pushes at p_ref, so that a push costs exactly the
        // value it loses on the pool and its inventory never runs dry mid-campaign.
        self.cfg.manipulate
    }

    /// With `backrun = true` it bids for an oracle update's backrun what its backrun strategy
    /// would earn: flash liquidations on its venues, at most `MAX_HARVEST` per update, at its
    /// base tip.
    fn oev_bid(&mut self, view: &View<'_>, lot: &OevLot<'_>) -> Option<OevBid> {
        if !self.cfg.backrun {
            return None;
        }
        value_backrun(
            view,
            lot,
            &BackrunPolicy {
                holder: self.holder,
                venues: &self.venues,
                flash: true,
                inventory_risk: 0.0,
                min_profit: self.cfg.min_profit,
                tip: self.tip,
                max_liquidations: MAX_HARVEST,
            },
        )
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        for t in view.my_pending(me) {
            out.push(Submission::Cancel(t.id));
        }
        let Some(engine) = view.engine else { return };
        // In an auction engine a liquidation only starts an auction: there is no seized
        // collateral to flash-sell, so nothing to backrun, copy, sandwich or manipulate for.
        if engine.mechanism().is_auction() {
            return;
        }
        let Some(pool) = view.public_mempool() else {
            return;
        };
        let gas_liq = view.fee_estimate(GasKind::Liquidation, self.tip).to_whole();
        let private = engine.config().privacy;
        let mut targeted: Vec<cascade_core::AccountId> = Vec::new();

        // 0. TWAP manipulation: harvest, plan, push or buy back.
        if self.cfg.manipulate {
            self.manipulate(view, engine, &mut targeted, out);
        }

        // 1. Backrun pending oracle updates.
        if self.cfg.backrun && !private {
            for tx in pool {
                let Action::OracleUpdate { feed, price } = tx.action else {
                    continue;
                };
                let a = view.oracles.feed_asset(feed);
                let mut prices = engine.prices().to_vec();
                let new = view.oracles.price_if(a, feed, price, view.t_s);
                if !(new.is_finite() && new > 0.0) {
                    continue;
                }
                prices[a] = new;
                let mut items = vec![BundleRequest::Pending(tx.id)];
                let mut profit = 0.0;
                for (i, acc) in engine.accounts().iter().enumerate() {
                    if acc.closed || items.len() > 5 {
                        continue;
                    }
                    let id = cascade_core::AccountId(i as u32);
                    if targeted.contains(&id) {
                        continue;
                    }
                    let Some(h) = engine.health_at(id, &prices) else {
                        continue;
                    };
                    if h.maintenance >= 0.0 {
                        continue;
                    }
                    let Some((v, sell_on)) = self.liq_value(view, engine, id, &prices) else {
                        continue;
                    };
                    if v - gas_liq > self.cfg.min_profit {
                        profit += v - gas_liq;
                        targeted.push(id);
                        let req = view.request(
                            Action::Engine(EngineOp::Liquidate {
                                account: id,
                                sell_on,
                                min_profit: Amount::ZERO,
                            }),
                            self.tip_for(view, GasKind::Liquidation, v),
                            None,
                            true,
                        );
                        items.push(BundleRequest::Own(req));
                    }
                }
                if items.len() > 1 && profit > 0.0 {
                    out.push(Submission::Bundle {
                        items,
                        target_block: view.block,
                    });
                }
            }
        }

        // 2. Priority-gas auction against public liquidations; 3. sandwiches, at most one per
        // pool per block (each is planned on the pool as it stands; a second would meet the
        // first one's trades and revert).
        let mut sandwiched: Vec<VenueId> = Vec::new();
        for tx in pool {
            if tx.agent == me {
                continue;
            }
            let Action::Engine(EngineOp::Liquidate {
                account,
                sell_on,
                min_profit,
            }) = tx.action
            else {
                continue;
            };
            if targeted.contains(&account) {
                continue;
            }
            if self.cfg.outbid
                && let Some((v, own_sell)) = self.liq_value(view, engine, account, engine.prices())
            {
                let tip = (tx.priority_fee as f64 * self.cfg.outbid_factor) as u128 + gwei(1.0);
                let gas = cascade_market::gas::fee_in_quote(
                    view.gas_of(GasKind::Liquidation),
                    view.base_fee + tip,
                    view.native_price,
                )
                .to_whole();
                if v - gas > self.cfg.min_profit {
                    targeted.push(account);
                    let mut req = view.request(
                        Action::Engine(EngineOp::Liquidate {
                            account,
                            sell_on: own_sell,
                            min_profit: Amount::ZERO,
                        }),
                        tip,
                        None,
                        true,
                    );
                    req.max_fee = req.max_fee.max(view.base_fee * 2 + tip);
                    out.push(Submission::Tx(req));
                    continue;
                }
            }
            if self.cfg.sandwich
                && let Some(v) = sell_on
                && !sandwiched.contains(&v)
                && let Some(s) = self.sandwich(view, engine, tx, account, v, min_profit)
            {
                targeted.push(account);
                sandwiched.push(v);
                out.push(s);
            }
        }
    }
}

impl MevBot {
    fn sandwich(
        &self,
        view: &View<'_>,
        engine: &Engine,
        victim: &Tx,
        account: cascade_core::AccountId,
        v: VenueId,
        victim_min: Amount,
    ) -> Option<Submission> {
        let venue = view.venues.get(v.index())?;
        if !matches!(venue, Venue::Cpmm(_)) || !self.venues.contains(&v) {
            return None;
        }
        let plan = engine.plan_liquidation(account).ok()?;
        if plan.asset != Some(venue.asset().index()) || !plan.seize.is_positive() {
            return None;
        }
        let floor = plan.pay + victim_min;
        let have = view.balance(self.holder, venue.asset().token());
        let (x, gain) = plan_sandwich(venue, plan.seize, floor, have)?;
        let gas = 2.0 * view.fee_estimate(GasKind::Swap, self.tip).to_whole();
        let profit = gain.to_whole() - gas;
        if profit <= self.cfg.min_profit {
            return None;
        }
        // The back-run's quote: computed on the state after the front-run and the victim.
        let mut p = match venue {
            Venue::Cpmm(p) => p.clone(),
            _ => return None,
        };
        let front = p.simulate(Side::Sell, x)?;
        p.simulate(Side::Sell, plan.seize)?;
        let back_in = p.amount_in_for_exact_out(Side::Buy, x)?;
        if view.balance(self.holder, TokenId::QUOTE) < back_in {
            return None;
        }
        // Both legs pay the tip: each bids half, so the bundle gives the builder `bid_share`
        // of the profit (not twice that).
        let tip = self.tip_for(view, GasKind::Swap, profit / 2.0);
        let front_req = view.request(
            Action::Swap {
                venue: v,
                side: Side::Sell,
                amount_in: x,
                min_out: front,
            },
            tip,
            None,
            false,
        );
        let back_req = view.request(
            Action::Swap {
                venue: v,
                side: Side::Buy,
                amount_in: back_in,
                min_out: x,
            },
            tip,
            None,
            false,
        );
        Some(Submission::Bundle {
            items: vec![
                BundleRequest::Own(front_req),
                BundleRequest::Pending(victim.id),
                BundleRequest::Own(back_req),
            ],
            target_block: view.block,
        })
    }
}

impl MevBot {
    /// What liquidating `id` at `prices` is worth to the bot (whole quote, before gas): the
    /// better of keeping the seized collateral (worth `p_ref`, paying from its own quote, at
    /// most `budget`) and selling it on a venue inside the transaction. Returns the value, the
    /// venue to sell on (`None`: keep) and the quote it must hold.
    fn liquidation_value(
        &self,
        view: &View<'_>,
        engine: &Engine,
        id: cascade_core::AccountId,
        prices: &[f64],
        budget: f64,
    ) -> Option<(f64, Option<VenueId>, f64)> {
        let plan = engine.plan_liquidation_at(id, prices).ok()?;
        let bonus = plan.perp_bonus.to_whole();
        let pay = plan.pay.to_whole();
        match plan.asset {
            Some(a) if plan.seize.is_positive() => {
                let keep = (pay <= budget).then(|| {
                    (
                        plan.seize.to_whole() * view.p_ref[a] - pay + bonus,
                        None,
                        pay,
                    )
                });
                let sale = self
                    .best_sale(view, a, plan.seize)
                    .map(|(v, q)| (q.to_whole() - pay + bonus, Some(v), 0.0));
                match (keep, sale) {
                    (Some(k), Some(s)) => Some(if s.0 > k.0 { s } else { k }),
                    (k, s) => k.or(s),
                }
            }
            _ => (pay <= budget).then_some((bonus - pay, None, pay.max(0.0))),
        }
    }

    /// Strategy 0: liquidate what the engine's price already allows (a private bundle, first
    /// in the block), buy back the last push when the campaign is over, and push the pool
    /// again when the best campaign pays.
    fn manipulate(
        &mut self,
        view: &View<'_>,
        engine: &Engine,
        targeted: &mut Vec<cascade_core::AccountId>,
        out: &mut Vec<Submission>,
    ) {
        let prices = engine.prices();
        let private = engine.config().privacy;
        let gas_liq = view.fee_estimate(GasKind::Liquidation, self.tip).to_whole();
        let mut budget = view.balance(self.holder, TokenId::QUOTE).to_whole();
        let mut items: Vec<BundleRequest> = Vec::new();

        // Harvest: accounts liquidatable now (with privacy, only those the protocol flagged).
        let now: Vec<cascade_core::AccountId> = if private {
            engine.flagged().keys().copied().collect()
        } else {
            engine.liquidatable_now()
        };
        let mut harvest: Vec<(f64, cascade_core::AccountId, Option<VenueId>, f64)> = now
            .iter()
            .filter_map(|&id| {
                let (v, sell_on, need) =
                    self.liquidation_value(view, engine, id, prices, budget)?;
                let net = (1.0 - self.cfg.bid_share) * (v - gas_liq);
                (net > self.cfg.min_profit).then_some((v, id, sell_on, need))
            })
            .collect();
        harvest.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        for (v, id, sell_on, need) in harvest.into_iter().take(MAX_HARVEST) {
            if need > budget {
                continue;
            }
            budget -= need;
            targeted.push(id);
            items.push(BundleRequest::Own(view.request(
                Action::Engine(EngineOp::Liquidate {
                    account: id,
                    sell_on,
                    min_profit: Amount::ZERO,
                }),
                self.tip_for(view, GasKind::Liquidation, v - gas_liq),
                None,
                true,
            )));
        }

        for a in 0..view.p_ref.len() {
            let Some(src) = view.twap_oracles.get(a).copied().flatten() else {
                continue;
            };
            if !self.venues.contains(&src.venue) {
                continue;
            }
            let Some(pool) = view.venues.get(src.venue.index()).and_then(|v| v.as_cpmm()) else {
                continue;
            };
            let campaign = if private {
                None
            } else {
                self.plan_campaign(view, engine, a, src, pool, &now, budget)
            };
            let p = view.p_ref[a];
            if let Some(c) = campaign {
                let min_out = c.amount_out.scale_floor(1.0 - PUSH_SLIPPAGE);
                out.push(Submission::Tx(view.request(
                    Action::Swap {
                        venue: src.venue,
                        side: c.side,
                        amount_in: c.amount_in,
                        min_out,
                    },
                    self.push_tip,
                    None,
                    false,
                )));
                self.last_push.retain(|(v, _)| *v != src.venue);
                self.last_push.push((src.venue, view.block));
                continue;
            }
            // No push this block: if the pool still stands where the last push left it, buy
            // that push back first in the block (the unwind; an arbitrage against p_ref).
            let pushed_last = self
                .last_push
                .iter()
                .any(|&(v, b)| v == src.venue && b + 1 == view.block);
            if !pushed_last {
                continue;
            }
            let Some((side, amount)) = pool.arb_trade_to(p) else {
                continue;
            };
            let fill = pool.quote(side, amount);
            let gain = crate::arbitrageur::value_gain(side, amount, fill.amount_out, p).to_whole();
            let gas = view.fee_estimate(GasKind::Swap, self.tip).to_whole();
            let have = match side {
                Side::Sell => view.balance(self.holder, pool.asset().token()).to_whole(),
                Side::Buy => budget,
            };
            if gain - gas > self.cfg.min_profit && amount.to_whole() <= have {
                if side == Side::Buy {
                    budget -= amount.to_whole();
                }
                items.push(BundleRequest::Own(view.request(
                    Action::Swap {
                        venue: src.venue,
                        side,
                        amount_in: amount,
                        min_out: fill.amount_out.scale_floor(1.0 - PUSH_SLIPPAGE),
                    },
                    self.tip,
                    None,
                    false,
                )));
            }
        }
        if !items.is_empty() {
            out.push(Submission::Bundle {
                items,
                target_block: view.block,
            });
        }
    }

    /// The best campaign on asset `a`'s TWAP source, if pushing this block is part of it and
    /// its expected profit beats `min_profit`:
    ///
    /// `profit(d, n) = V(d, n) - V(0, n) - C_1(d) - (n - 1) C_ss(d) - n gas_push`
    ///
    /// over displacements `d` (the pool held at `p_ref (1 -/+ d)`) and `n = 1..max_push_blocks`
    /// pushes. `V(d, n)` sums, over the accounts healthy now, `(1 - bid_share)(V_i - gas_liq)`
    /// for each account `i` that the forecast TWAP `E_j(d)` (`forecast_twap`) makes liquidatable
    /// at some block `b + j`, `j <= n + 1`, valued at the first such `E_j` (collateral at
    /// `p_ref`); `V(0, n)` is the same with the pool left at `p_ref` (what the bot harvests
    /// anyway, without pushing). `C_1` is the value the first push loses at `p_ref` and `C_ss`
    /// that of each later one, after the arbitrageurs have pulled the pool back.
    #[allow(clippy::too_many_arguments)]
    fn plan_campaign(
        &self,
        view: &View<'_>,
        engine: &Engine,
        a: usize,
        src: crate::view::TwapSource,
        pool: &cascade_market::venue::Cpmm,
        now: &[cascade_core::AccountId],
        budget: f64,
    ) -> Option<Campaign> {
        let p = view.p_ref[a];
        let t = view.t_s;
        let dt = view.block_time_s;
        let window = src.window_s;
        let p0 = pool.price();
        let hist = |w: f64| view.oracles.venue_twap(src.venue, t, w);
        let gas_liq = view.fee_estimate(GasKind::Liquidation, self.tip).to_whole();
        let gas_push = view.fee_estimate(GasKind::Swap, self.push_tip).to_whole();
        // The arbitrageurs trade when the gap pays for a swap at the base fee.
        let arb_gas = view.fee_estimate(GasKind::Swap, 0);
        let max_blocks = self.cfg.max_push_blocks + 1;
        let base_held = view.balance(self.holder, pool.asset().token()).to_whole();
        // The share of each liquidation's profit the bot keeps after its priority bid.
        let keep = 1.0 - self.cfg.bid_share;
        let mut prices = engine.prices().to_vec();
        // Cumulative value, by campaign length (index `blocks - 1`), of the candidates that the
        // pool held at `target` (from the second block on) makes liquidatable, each valued at
        // the first forecast price that crosses it.
        let mut value_path = |target: f64, cands: &[cascade_core::AccountId]| -> Vec<f64> {
            let mut crossed = vec![false; cands.len()];
            let mut path = Vec::with_capacity(max_blocks as usize);
            let mut total = 0.0;
            for blocks in 1..=max_blocks {
                if let Some(e) = forecast_twap(hist, t, dt, window, p0, target, blocks) {
                    prices[a] = e;
                    for (i, &id) in cands.iter().enumerate() {
                        if crossed[i]
                            || !engine
                                .health_at(id, &prices)
                                .is_some_and(|h| h.maintenance < 0.0)
                        {
                            continue;
                        }
                        crossed[i] = true;
                        if let Some((v, _, _)) =
                            self.liquidation_value(view, engine, id, &prices, budget)
                        {
                            total += (keep * (v - gas_liq)).max(0.0);
                        }
                    }
                }
                path.push(total);
            }
            path
        };
        // The pool as the bot expects it when its push lands: after the arbitrageurs.
        let mut start = pool.clone();
        restore(&mut start, p, arb_gas);

        let mut best: Option<Campaign> = None;
        for down in [true, false] {
            let dir = if down { -1.0 } else { 1.0 };
            // Accounts healthy now that the largest campaign would make liquidatable.
            let e_max = forecast_twap(
                hist,
                t,
                dt,
                window,
                p0,
                p * (1.0 + dir * self.cfg.max_push),
                max_blocks,
            )?;
            let mut ext = engine.prices().to_vec();
            ext[a] = e_max;
            let cands: Vec<cascade_core::AccountId> = engine
                .accounts()
                .iter()
                .enumerate()
                .filter(|(_, acc)| !acc.closed)
                .map(|(i, _)| cascade_core::AccountId(i as u32))
                .filter(|id| now.binary_search(id).is_err())
                .filter(|&id| {
                    engine
                        .health_at(id, &ext)
                        .is_some_and(|h| h.maintenance < 0.0)
                })
                .collect();
            if cands.is_empty() {
                continue;
            }
            // Without pushing: the pool stays at p_ref and the TWAP drifts on its own.
            let idle = value_path(p, &cands);
            for k in 1..=PUSH_GRID {
                let d = self.cfg.max_push * k as f64 / PUSH_GRID as f64;
                let target = p * (1.0 + dir * d);
                let mut first = start.clone();
                let Some((side, x1, out1, c1)) = push_cost(&mut first, target, p) else {
                    continue;
                };
                if (side == Side::Sell) != down {
                    continue;
                }
                let affordable = match side {
                    Side::Sell => x1.to_whole() <= base_held,
                    Side::Buy => x1.to_whole() <= budget,
                };
                if !affordable {
                    continue;
                }
                let mut again = first.clone();
                let c_ss = if restore(&mut again, p, arb_gas) {
                    push_cost(&mut again, target, p).map_or(Amount::ZERO, |r| r.3)
                } else {
                    Amount::ZERO
                };
                let pushed = value_path(target, &cands);
                for blocks in 2..=max_blocks {
                    let i = (blocks - 1) as usize;
                    let n = (blocks - 1) as f64;
                    let cost = c1.to_whole() + (n - 1.0) * c_ss.to_whole() + n * gas_push;
                    let profit = pushed[i] - idle[i] - cost;
                    if best.is_none_or(|b| profit > b.profit) {
                        best = Some(Campaign {
                            profit,
                            side,
                            amount_in: x1,
                            amount_out: out1,
                        });
                    }
                }
            }
        }
        best.filter(|b| b.profit > self.cfg.min_profit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::{AssetId, Ledger};
    use cascade_market::venue::VenueConfig;

    #[test]
    fn sandwich_gain_equals_the_victims_extra_slippage_at_zero_fee() {
        // Executed on the ledger: the bot's quote gain (front-run proceeds minus back-run
        // cost, base inventory restored) equals what the victim receives less, to rounding.
        let mut l = Ledger::new(["USD", "ETH"]);
        let pool_h = l.add_holder("pool");
        let owner = l.add_holder("owner");
        let bot = l.add_holder("bot");
        let victim = l.add_holder("victim");
        for h in [bot, victim] {
            l.mint_genesis(h, TokenId::QUOTE, Amount::from_whole(10_000_000.0))
                .unwrap();
            l.mint_genesis(h, TokenId(1), Amount::from_whole(1_000.0))
                .unwrap();
        }
        let cfg = VenueConfig::Cpmm {
            name: "amm".into(),
            asset: "ETH".into(),
            reserve_base: 5_000.0,
            reserve_quote: 10_000_000.0,
            fee: 0.0,
        };
        let pool = Venue::from_config(&cfg, &mut l, pool_h, owner, AssetId(0), 2000.0).unwrap();
        l.seal();
        let sale = Amount::from_whole(100.0);
        let alone = pool.quote(Side::Sell, sale).amount_out;
        // The victim accepts up to 2% less than the undisturbed sale.
        let floor = alone.scale_floor(0.98);
        let (x, gain) = plan_sandwich(&pool, sale, floor, Amount::from_whole(1_000.0)).unwrap();
        let mut venue = pool.clone();
        let (q0, b0) = (l.balance(bot, TokenId::QUOTE), l.balance(bot, TokenId(1)));
        let front = venue
            .execute(&mut l, bot, Side::Sell, x, Amount::ZERO)
            .unwrap();
        let v = venue
            .execute(&mut l, victim, Side::Sell, sale, floor)
            .unwrap();
        let Venue::Cpmm(p) = &venue else {
            unreachable!()
        };
        let back_in = p.amount_in_for_exact_out(Side::Buy, x).unwrap();
        let back = venue.execute(&mut l, bot, Side::Buy, back_in, x).unwrap();
        assert!(front.amount_out.is_positive());
        // The base inventory is restored (to a few base units) and the quote gain is the
        // planned one.
        let base_diff = l.balance(bot, TokenId(1)) - b0;
        assert!(
            base_diff >= Amount::ZERO && base_diff.raw() < 10,
            "{base_diff:?}"
        );
        let bot_gain = l.balance(bot, TokenId::QUOTE) - q0;
        assert_eq!(bot_gain, gain);
        let extra_slippage = alone - v.amount_out;
        assert!(
            (bot_gain.raw() - extra_slippage.raw()).abs() <= 4,
            "{bot_gain:?} vs {extra_slippage:?}"
        );
        // The victim's floor binds: a bigger front-run would make it revert.
        assert!(v.amount_out >= floor);
        assert!(v.amount_out.raw() - floor.raw() < alone.raw() / 1_000);
        let _ = back;
        l.check_conservation().unwrap();
    }
}
