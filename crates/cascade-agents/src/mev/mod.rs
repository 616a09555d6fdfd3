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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    fn label(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.label)
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
        // The legacy flag hides every account's health until the flag: no backrun at all.
        // Under proofs only public accounts can be valued (`View::public_health_at`).
        let private = engine.config().privacy == cascade_engine::Privacy::HiddenHealth;
        let zk = engine.config().privacy.zk().is_some();
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
                // The accounts under water at the new price, in account order, from the
                // engine's liquidation index (what a scan of every account finds).
                for id in engine.maintenance_negative_at(&prices) {
                    if items.len() > 5 {
                        break;
                    }
                    if targeted.contains(&id) {
                        continue;
                    }
                    let Some(h) = view.public_health_at(id, &prices) else {
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
            // Under proofs a liquidation of an account not yet proven insolvent reverts, and
            // its health is not readable: leave it.
            if zk && !engine.is_public(account) {
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

mod manipulate;
mod sandwich;
