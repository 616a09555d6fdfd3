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

use crate::config::{BuildCtx, VenueInfo, check_venue_list};
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
    }
}

pub struct MevBot {
    holder: HolderId,
    label: String,
    cfg: MevConfig,
    venues: Vec<VenueId>,
    tip: u128,
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
                }) as Box<dyn Agent>
            })
            .collect()
    }

    fn best_sale(&self, view: &View<'_>, a: usize, amount: Amount) -> Option<(VenueId, Amount)> {
        self.venues
            .iter()
            .filter(|v| view.venues[v.index()].asset().index() == a)
            .map(|v| {
                (
                    *v,
                    view.venues[v.index()].quote(Side::Sell, amount).amount_out,
                )
            })
            .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(&x.0)))
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

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        for t in view.my_pending(me) {
            out.push(Submission::Cancel(t.id));
        }
        let Some(engine) = view.engine else { return };
        let Some(pool) = view.public_mempool() else {
            return;
        };
        let gas_liq = view.fee_estimate(GasKind::Liquidation, self.tip).to_whole();
        let private = engine.config().privacy;
        let mut targeted: Vec<cascade_core::AccountId> = Vec::new();

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

        // 2. Priority-gas auction against public liquidations; 3. sandwiches.
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
                && let Some(s) = self.sandwich(view, engine, tx, account, v, min_profit)
            {
                targeted.push(account);
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
        let tip = self.tip_for(view, GasKind::Swap, profit);
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
