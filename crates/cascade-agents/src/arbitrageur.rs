//! Arbitrageurs keep venue prices in line with the reference market.
//!
//! An arbitrageur trades a venue against the off-chain reference price `p_ref` (a CEX-DEX
//! arbitrage: the offsetting trade happens at `p_ref`, outside the chain). It computes the trade
//! that maximizes its profit valued at `p_ref`, and submits it only when that profit net of the
//! gas fee beats `min_profit`. Its slippage limit is its break-even: if another transaction moves
//! the venue first, the trade reverts (and still pays gas) rather than lose money. On a
//! constant-product pool with zero fee and zero gas, arbitrage every block moves the pool
//! price exactly to `p_ref`: the setting of the loss-versus-rebalancing result.
//!
//! With `hedge = true` (the default) the World offsets each landed trade against the
//! off-chain market holder at `p_ref`, so the arbitrageur's inventory never runs dry in a
//! trend; with `hedge = false` it trades from its genesis inventory alone. When the asset's
//! price forms on a reference market the hedge walks that book, so the arbitrageur sizes its
//! trade to maximise the gain net of the hedge's impact and taker fee (`hedged_trade`) and
//! sets its slippage limit at the hedge's average price.

use crate::config::{BuildCtx, VenueInfo, check_venue_list};
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::tx::{GasKind, Side};
use cascade_core::{Action, AgentId, Amount, Check, HolderId, TokenId, VenueId};
use cascade_market::price::PriceModel;
use cascade_market::venue::Venue;
use serde::{Deserialize, Serialize};

fn one() -> u32 {
    1
}
fn default_capital() -> f64 {
    1_000_000.0
}
fn default_inventory() -> f64 {
    500.0
}
fn default_tip() -> f64 {
    1.0
}

/// `[[agents]] kind = "arbitrageur"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArbitrageurConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// Quote per agent at genesis (whole units).
    #[serde(default = "default_capital")]
    pub capital: f64,
    /// Whole units of each traded asset per agent at genesis.
    #[serde(default = "default_inventory")]
    pub inventory: f64,
    /// Minimum expected profit net of gas, in quote.
    #[serde(default)]
    pub min_profit: f64,
    /// Priority fee bid, gwei per gas.
    #[serde(default = "default_tip")]
    pub tip_gwei: f64,
    /// Fraction of the expected gross profit added to the priority fee (a priority-gas-auction
    /// bid); 0 bids the flat tip only.
    #[serde(default)]
    pub bid_share: f64,
    /// Venues to arbitrage (empty: all).
    #[serde(default)]
    pub venues: Vec<String>,
    /// Offset each landed trade on the off-chain reference market at `p_ref` (CEX-DEX
    /// arbitrage), so that the inventory never runs out in a trend. `false`: the arbitrageur
    /// lives on its genesis inventory and stops when a side runs dry.
    #[serde(default = "yes")]
    pub hedge: bool,
}

fn yes() -> bool {
    true
}

impl Default for ArbitrageurConfig {
    fn default() -> Self {
        ArbitrageurConfig {
            count: 1,
            capital: default_capital(),
            inventory: default_inventory(),
            min_profit: 0.0,
            tip_gwei: default_tip(),
            bid_share: 0.0,
            venues: Vec::new(),
            hedge: true,
        }
    }
}

impl ArbitrageurConfig {
    pub fn validate(&self, c: &mut Check, venues: &[VenueInfo]) {
        c.non_negative("capital", self.capital);
        c.non_negative("inventory", self.inventory);
        c.non_negative("min_profit", self.min_profit);
        c.non_negative("tip_gwei", self.tip_gwei);
        c.unit_interval("bid_share", self.bid_share);
        check_venue_list(c, "venues", &self.venues, venues);
    }
}

/// One arbitrageur.
pub struct Arbitrageur {
    holder: HolderId,
    label: String,
    venues: Vec<VenueId>,
    min_profit: Amount,
    tip: u128,
    bid_share: f64,
    hedge: bool,
}

impl Arbitrageur {
    pub fn build(cfg: &ArbitrageurConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let venues = ctx.select_venues(&cfg.venues, false);
        let assets = ctx.assets_of(&venues);
        (0..cfg.count)
            .map(|_| {
                let (i, _rng) = ctx.next_stream(cascade_core::rng::streams::ARBITRAGEURS);
                let label = format!("arbitrageur-{i}");
                let holder = ctx.wallet(&label, cfg.capital, cfg.inventory, &assets);
                Box::new(Arbitrageur {
                    holder,
                    label,
                    venues: venues.clone(),
                    min_profit: Amount::from_whole(cfg.min_profit),
                    tip: gwei(cfg.tip_gwei),
                    bid_share: cfg.bid_share,
                    hedge: cfg.hedge,
                }) as Box<dyn Agent>
            })
            .collect()
    }
}

/// The best arbitrage on `venue` against `target`, limited to what the wallet holds:
/// `(side, amount_in, expected_out, gross_profit)` with the profit valued at `target`, in quote
/// base units. `None` when no trade gains.
pub fn best_trade(
    venue: &Venue,
    target: f64,
    base_available: Amount,
    quote_available: Amount,
) -> Option<(Side, Amount, Amount, Amount)> {
    if !(target.is_finite() && target > 0.0) {
        return None;
    }
    let (side, ideal) = match venue {
        Venue::Cpmm(p) => p.arb_trade_to(target)?,
        Venue::Clob(book) => {
            // Sell if the best bid beats the target, buy if the best ask is below it.
            let price = venue.price();
            if !(price.is_finite() && price > 0.0) {
                return None;
            }
            let side = if price > target {
                Side::Sell
            } else {
                Side::Buy
            };
            // No amount gains when the best price on that side is not better than the target
            // (a seller receives at most `a * best_bid`, a buyer gets at most `a / best_ask`),
            // nor when the side is empty: the search below would end in `None`, so skip it.
            // The 1e-9 margin covers the float rounding of prices and values, so the answer
            // is exactly the search's.
            let best = match side {
                Side::Sell => book.best_bid(),
                Side::Buy => book.best_ask(),
            }
            .map(|t| book.price_of(t));
            let hopeless = match (side, best) {
                (_, None) => true,
                (Side::Sell, Some(bid)) => bid * (1.0 + 1e-9) < target,
                (Side::Buy, Some(ask)) => ask * (1.0 - 1e-9) > target,
            };
            if hopeless {
                return None;
            }
            let cap = match side {
                Side::Sell => base_available,
                Side::Buy => quote_available,
            };
            let a = maximize(cap, |a| gross(venue, side, a, target));
            (side, a)
        }
    };
    let cap = match side {
        Side::Sell => base_available,
        Side::Buy => quote_available,
    };
    let amount = ideal.min(cap);
    if !amount.is_positive() {
        return None;
    }
    let out = venue.quote(side, amount).amount_out;
    let g = value_gain(side, amount, out, target);
    g.is_positive().then_some((side, amount, out, g))
}

/// The gain of a venue trade (`side`, `amount_in` for `amount_out`) whose hedge walks the
/// reference market of asset `a` (impact and fee paid; at `p_ref` under the reduced form):
/// `(gain, hedge_price)`, the gain in quote base units. After a sale the hedge buys
/// `amount_in` back; after a purchase it sells `amount_out`.
pub fn hedge_value(
    prices: &PriceModel,
    a: usize,
    side: Side,
    amount_in: Amount,
    amount_out: Amount,
) -> (Amount, f64) {
    match side {
        Side::Sell => {
            let p = prices.quote_flow(a, amount_in.to_whole());
            (amount_out - amount_in.value_ceil(p), p)
        }
        Side::Buy => {
            let p = prices.quote_flow(a, -amount_out.to_whole());
            (amount_out.value_floor(p) - amount_in, p)
        }
    }
}

/// The best size up to `cap` of a trade on `venue` whose hedge walks the reference market of
/// asset `a` (impact and fee paid): `(amount_in, expected_out, gain, hedge_price)`, with the
/// gain net of the hedge, in quote base units. `None` when no size gains.
pub fn hedged_trade(
    venue: &Venue,
    prices: &PriceModel,
    a: usize,
    side: Side,
    cap: Amount,
) -> Option<(Amount, Amount, Amount, f64)> {
    let eval = |amount: Amount| -> (Amount, Amount, f64) {
        if !amount.is_positive() {
            return (Amount::ZERO, Amount::ZERO, f64::NAN);
        }
        let out = venue.quote(side, amount).amount_out;
        let (g, p) = hedge_value(prices, a, side, amount, out);
        (out, g, p)
    };
    let amount = maximize(cap, |x| eval(x).1);
    let (out, g, p) = eval(amount);
    (g.is_positive() && p.is_finite() && p > 0.0).then_some((amount, out, g, p))
}

/// Profit at `target` of trading `amount_in` on the venue's current state.
fn gross(venue: &Venue, side: Side, amount_in: Amount, target: f64) -> Amount {
    if !amount_in.is_positive() {
        return Amount::ZERO;
    }
    let out = venue.quote(side, amount_in).amount_out;
    value_gain(side, amount_in, out, target)
}

/// Value received minus value paid, both at `target` (quote base units).
pub fn value_gain(side: Side, amount_in: Amount, amount_out: Amount, target: f64) -> Amount {
    match side {
        // Paid base worth in*target, received quote.
        Side::Sell => amount_out - amount_in.value_ceil(target),
        // Paid quote, received base worth out*target.
        Side::Buy => amount_out.value_floor(target) - amount_in,
    }
}

/// Maximize a unimodal function of an amount over `[0, hi]` (golden-section search on
/// integers). Returns the best argument found.
pub fn maximize(hi: Amount, f: impl Fn(Amount) -> Amount) -> Amount {
    let (mut lo, mut hi) = (0i128, hi.raw().max(0));
    while hi - lo > 2 {
        let m1 = lo + (hi - lo) / 3;
        let m2 = hi - (hi - lo) / 3;
        if f(Amount(m1)) < f(Amount(m2)) {
            lo = m1 + 1;
        } else {
            hi = m2 - 1;
        }
        if hi < lo {
            break;
        }
    }
    let mut best = Amount(lo.max(0));
    let mut best_v = f(best);
    for x in lo..=hi.max(lo) {
        let v = f(Amount(x));
        if v > best_v {
            best = Amount(x);
            best_v = v;
        }
    }
    best
}

impl Agent for Arbitrageur {
    fn role(&self) -> Role {
        Role::Arbitrageur
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.label)
    }
    fn hedges_off_chain(&self) -> bool {
        self.hedge
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        // Last block's opportunities are gone or repriced: withdraw what did not land.
        for t in view.my_pending(me) {
            out.push(Submission::Cancel(t.id));
        }
        let mut quote_left = view.balance(self.holder, TokenId::QUOTE);
        for &v in &self.venues {
            let venue = &view.venues[v.index()];
            let asset = venue.asset();
            let target = view.p_ref[asset.index()];
            let base = view.balance(self.holder, asset.token());
            let fee_flat = view.fee_estimate(GasKind::Swap, self.tip);
            let quote_avail = (quote_left - fee_flat).max(Amount::ZERO);
            let Some((side, mut amount, mut exp_out, mut gain)) =
                best_trade(venue, target, base, quote_avail)
            else {
                continue;
            };
            // With a reference market the hedge leg walks its book: net its impact and fee,
            // within the size that gains at p_ref alone (an upper bound).
            let mut target = target;
            if self.hedge
                && let Some(pm) = view.prices.filter(|pm| pm.has_reference(asset.index()))
            {
                let Some((a, out, g, t)) = hedged_trade(venue, pm, asset.index(), side, amount)
                else {
                    continue;
                };
                (amount, exp_out, gain, target) = (a, out, g, t);
            }
            let gas = view.gas_of(GasKind::Swap);
            let mut tip = self.tip;
            if self.bid_share > 0.0 && gas > 0 && view.native_price > 0.0 {
                // Quote base units -> wei per gas: q * 1e18 / (gas * native_price * 1e9).
                let extra =
                    gain.to_whole() * self.bid_share * 1e18 / (gas as f64 * view.native_price);
                if extra.is_finite() && extra > 0.0 {
                    tip = tip.saturating_add(extra as u128);
                }
            }
            let fee = view.fee_estimate(GasKind::Swap, tip);
            if gain - fee <= self.min_profit {
                continue;
            }
            // Slippage limit: break even at the target after gas.
            let min_out = match side {
                Side::Sell => amount.value_ceil(target) + fee,
                Side::Buy => Amount::from_whole_ceil((amount + fee).to_whole() / target),
            }
            .min(exp_out);
            let req = view.request(
                Action::Swap {
                    venue: v,
                    side,
                    amount_in: amount,
                    min_out,
                },
                tip,
                None,
                false,
            );
            if side == Side::Buy {
                quote_left -= amount;
            }
            quote_left -= fee;
            out.push(Submission::Tx(req));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maximize_finds_the_peak_of_a_concave_function() {
        let f = |a: Amount| Amount(-(a.raw() - 777).pow(2));
        assert_eq!(maximize(Amount(10_000), f), Amount(777));
        assert_eq!(maximize(Amount(500), f), Amount(500));
        assert_eq!(maximize(Amount(0), f), Amount(0));
    }

    #[test]
    fn value_gain_signs() {
        // Selling 1 base for 110 quote when it is worth 100: +10.
        let g = value_gain(
            Side::Sell,
            Amount::from_whole(1.0),
            Amount::from_whole(110.0),
            100.0,
        );
        assert_eq!(g, Amount::from_whole(10.0));
        // Buying 1 base for 110 quote when it is worth 100: -10.
        let g = value_gain(
            Side::Buy,
            Amount::from_whole(110.0),
            Amount::from_whole(1.0),
            100.0,
        );
        assert_eq!(g, Amount::from_whole(-10.0));
    }
}
