//! Options market makers: the liquidity of the option book, and why it evaporates in a
//! crash.
//!
//! Without a market maker the engine's book (the lenders' pool at mark plus or minus a fixed
//! spread) is an unconditional counterparty: option liquidity never dries up, which is the
//! opposite of what happens in a crash. A market maker (`[[agents]] kind =
//! "options_market_maker"`) posts quotes on every live series of its underlying through
//! `EngineOp::OptionQuote`: it buys at `mark * (1 - h)` and sells at `mark * (1 + h)` with
//! the half-spread `h = min(max_spread, base_spread + spread_per_vol * rv)` widening with
//! the engine's realized vol `rv`, up to `quote_size` contracts per side until its next
//! quote. Option trades and the buy-backs of liquidations go to the best such quote first
//! (the pool is the fallback; see the engine's `maker_offer`), so the maker's book is the
//! other side of the premium sellers'.
//!
//! Its limits make liquidity procyclical: when the book's vega exceeds `vega_limit` (quote
//! per 1.00 of implied vol) or its inventory (contracts, long and short) exceeds
//! `inventory_limit`, it pulls both sides (a quote of zero size) until the book is back
//! inside. It delta-hedges on the engine's perp of the underlying (`EngineOp::PerpOpen` from
//! its own account, at the oracle price; in cross margin only, the mode where the perp lands
//! in the account that holds the options): when the book's net delta (the
//! options' delta from the engine's risk tables plus the perp) leaves `[-hedge_band,
//! hedge_band]` it trades the perp to bring it back to zero. It re-quotes when its quote was
//! pulled or filled below half its size, or when the wanted half-spread moved by more than
//! `requote_tolerance` of the posted one. Its transactions bid `tip_gwei` (a hedge at least
//! `hedge_priority` of its notional, the urgency of an unhedged book) and accept up to
//! `max_fee_multiple` base fees, so they land while liquidations congest the chain. It draws
//! no randomness.

use crate::config::BuildCtx;
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::tx::{EngineOp, GasKind};
use cascade_core::{AccountId, Action, AgentId, Amount, AssetId, Check, HolderId, TokenId};
use cascade_engine::Engine;
use serde::{Deserialize, Serialize};

fn one() -> u32 {
    1
}
fn d_capital() -> f64 {
    2_000_000.0
}
fn d_deposit() -> f64 {
    0.9
}
fn d_base_spread() -> f64 {
    0.01
}
fn d_spread_per_vol() -> f64 {
    0.05
}
fn d_max_spread() -> f64 {
    0.5
}
fn d_quote_size() -> f64 {
    100.0
}
fn d_vega_limit() -> f64 {
    200_000.0
}
fn d_inventory_limit() -> f64 {
    2_000.0
}
fn d_band() -> f64 {
    10.0
}
fn d_hedge_margin() -> f64 {
    0.0
}
fn d_tolerance() -> f64 {
    0.2
}
fn d_tip() -> f64 {
    2.0
}
fn d_hedge_priority() -> f64 {
    0.0005
}
fn d_fee_multiple() -> f64 {
    10.0
}

/// `[[agents]] kind = "options_market_maker"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionsMarketMakerConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// Quote per market maker at genesis.
    #[serde(default = "d_capital")]
    pub capital: f64,
    /// Fraction of the capital moved into its engine account with its first quote.
    #[serde(default = "d_deposit")]
    pub deposit_fraction: f64,
    /// The underlying (default: the first asset).
    #[serde(default)]
    pub asset: Option<String>,
    /// Half-spread at zero realized vol (fraction of the mark).
    #[serde(default = "d_base_spread")]
    pub base_spread: f64,
    /// Half-spread added per unit of annualized realized vol.
    #[serde(default = "d_spread_per_vol")]
    pub spread_per_vol: f64,
    /// Largest half-spread (below 1).
    #[serde(default = "d_max_spread")]
    pub max_spread: f64,
    /// Contracts per side between quotes.
    #[serde(default = "d_quote_size")]
    pub quote_size: f64,
    /// Quotes are pulled while |book vega| exceeds this (quote per 1.00 of implied vol).
    #[serde(default = "d_vega_limit")]
    pub vega_limit: f64,
    /// Quotes are pulled while the book holds more contracts than this (sum of |position|).
    #[serde(default = "d_inventory_limit")]
    pub inventory_limit: f64,
    /// Net delta (whole units of the underlying) tolerated before hedging.
    #[serde(default = "d_band")]
    pub hedge_band: f64,
    /// Margin posted with a hedge, as a fraction of its notional (from the wallet; zero: the
    /// account's equity carries it, and the wallet keeps paying gas).
    #[serde(default = "d_hedge_margin")]
    pub hedge_margin: f64,
    /// Relative change of the wanted half-spread that triggers a new quote.
    #[serde(default = "d_tolerance")]
    pub requote_tolerance: f64,
    #[serde(default = "d_tip")]
    pub tip_gwei: f64,
    /// Priority bid of a hedge, as a fraction of its notional (at least `tip_gwei`).
    #[serde(default = "d_hedge_priority")]
    pub hedge_priority: f64,
    /// Max fee per gas of its transactions, in base fees (plus the tip).
    #[serde(default = "d_fee_multiple")]
    pub max_fee_multiple: f64,
}

impl Default for OptionsMarketMakerConfig {
    /// The serde defaults.
    fn default() -> Self {
        OptionsMarketMakerConfig {
            count: one(),
            capital: d_capital(),
            deposit_fraction: d_deposit(),
            asset: None,
            base_spread: d_base_spread(),
            spread_per_vol: d_spread_per_vol(),
            max_spread: d_max_spread(),
            quote_size: d_quote_size(),
            vega_limit: d_vega_limit(),
            inventory_limit: d_inventory_limit(),
            hedge_band: d_band(),
            hedge_margin: d_hedge_margin(),
            requote_tolerance: d_tolerance(),
            tip_gwei: d_tip(),
            hedge_priority: d_hedge_priority(),
            max_fee_multiple: d_fee_multiple(),
        }
    }
}

impl OptionsMarketMakerConfig {
    pub fn validate(&self, c: &mut Check, assets: &[String]) {
        c.non_negative("capital", self.capital);
        c.unit_interval("deposit_fraction", self.deposit_fraction);
        c.non_negative("base_spread", self.base_spread);
        c.non_negative("spread_per_vol", self.spread_per_vol);
        c.range_open_hi("max_spread", self.max_spread, 0.0, 1.0);
        if self.base_spread.is_finite()
            && self.max_spread.is_finite()
            && self.base_spread > self.max_spread
        {
            c.fail(
                "base_spread",
                format!(
                    "must be <= max_spread ({} > {})",
                    self.base_spread, self.max_spread
                ),
            );
        }
        c.positive("quote_size", self.quote_size);
        c.positive("vega_limit", self.vega_limit);
        c.positive("inventory_limit", self.inventory_limit);
        c.positive("hedge_band", self.hedge_band);
        c.non_negative("hedge_margin", self.hedge_margin);
        c.non_negative("requote_tolerance", self.requote_tolerance);
        c.non_negative("tip_gwei", self.tip_gwei);
        c.non_negative("hedge_priority", self.hedge_priority);
        if self.max_fee_multiple.is_nan() || self.max_fee_multiple < 1.0 {
            c.fail(
                "max_fee_multiple",
                format!("must be >= 1 (got {})", self.max_fee_multiple),
            );
        }
        if let Some(a) = &self.asset
            && !assets.iter().any(|n| n == a)
        {
            c.fail("asset", format!("names no configured asset (got {a:?})"));
        }
    }

    /// The half-spread quoted at realized vol `rv`: widens with vol, capped.
    pub fn half_spread(&self, rv: f64) -> f64 {
        (self.base_spread + self.spread_per_vol * rv.max(0.0)).min(self.max_spread)
    }

    /// Whether a book past the vega or inventory limit pulls its quotes.
    pub fn pulls(&self, b: &MakerBook) -> bool {
        b.vega.abs() > self.vega_limit || b.inventory > self.inventory_limit
    }

    /// The perp trade (signed whole units) that flattens a book outside the hedge band.
    pub fn hedge(&self, b: &MakerBook) -> Option<f64> {
        (b.delta.abs() > self.hedge_band).then_some(-b.delta)
    }
}

/// A market maker's book in one underlying, from the engine's risk tables.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MakerBook {
    /// Options' delta plus the perp, whole units of the underlying.
    pub delta: f64,
    /// Quote per 1.00 of implied vol.
    pub vega: f64,
    /// Sum of |position| over the series, contracts.
    pub inventory: f64,
}

/// The book of account `id` in asset `a`, with the Greeks of the engine's last risk update.
pub fn maker_book(engine: &Engine, id: AccountId, a: usize) -> MakerBook {
    let mut b = MakerBook::default();
    let Some(acc) = engine.account(id) else {
        return b;
    };
    if acc.closed {
        return b;
    }
    b.delta = acc.perps.get(a).map(|p| p.size.to_whole()).unwrap_or(0.0);
    let (Some(t), chain) = (engine.risk_tables(), engine.option_series()) else {
        return b;
    };
    for (i, q) in acc.options.iter().enumerate() {
        if q.is_zero() || chain[i].asset != a || !engine.option_live(i) {
            continue;
        }
        let q = q.to_whole();
        let g = &t.series[i].g;
        b.delta += q * g.delta;
        b.vega += q * g.vega;
        b.inventory += q.abs();
    }
    b
}

pub struct OptionsMarketMaker {
    holder: HolderId,
    label: String,
    asset: AssetId,
    cfg: OptionsMarketMakerConfig,
    tip: u128,
}

impl OptionsMarketMaker {
    pub fn build(cfg: &OptionsMarketMakerConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let asset = cfg
            .asset
            .as_ref()
            .and_then(|n| ctx.asset_id(n))
            .unwrap_or(AssetId(0));
        (0..cfg.count)
            .map(|_| {
                // The stream only numbers the makers: a market maker draws nothing.
                let (i, _) = ctx.next_stream(cascade_core::rng::streams::OPTIONS_MARKET_MAKERS);
                let label = format!("options-mm-{i}");
                let holder = ctx.wallet(&label, cfg.capital, 0.0, &[]);
                Box::new(OptionsMarketMaker {
                    holder,
                    label,
                    asset,
                    cfg: cfg.clone(),
                    tip: gwei(cfg.tip_gwei),
                }) as Box<dyn Agent>
            })
            .collect()
    }
}

impl OptionsMarketMaker {
    /// A request whose max fee is `max_fee_multiple` base fees plus the tip: quotes and
    /// hedges must land while liquidations congest the chain.
    fn request(&self, view: &View<'_>, action: Action, tip: u128) -> Submission {
        let mut r = view.request(action, tip, None, false);
        let m = self.cfg.max_fee_multiple.max(1.0);
        r.max_fee = ((view.base_fee as f64 * m) as u128).saturating_add(tip);
        Submission::Tx(r)
    }
}

impl Agent for OptionsMarketMaker {
    fn role(&self) -> Role {
        Role::MarketMaker
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.label)
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        let Some(engine) = view.engine else { return };
        let a = self.asset.index();
        let p = engine.prices()[a];
        if p.is_nan() || p <= 0.0 || engine.options_config().is_none() {
            return;
        }
        let (mut quote_pending, mut hedge_pending) = (false, false);
        for t in view.my_pending(me) {
            match t.action {
                Action::Engine(EngineOp::OptionQuote { .. }) => quote_pending = true,
                Action::Engine(EngineOp::PerpOpen { .. }) => hedge_pending = true,
                _ => {}
            }
        }
        let standing = engine.maker_quote(self.holder);
        let account = standing
            .map(|q| q.account)
            .filter(|id| engine.account(*id).is_some_and(|x| !x.closed));
        let book = account
            .map(|id| maker_book(engine, id, a))
            .unwrap_or_default();
        let rv = engine.realized_vol(a).unwrap_or(0.0);
        let h = self.cfg.half_spread(rv);
        let pulled = self.cfg.pulls(&book);
        // Quotes.
        if !quote_pending {
            let half = Amount::from_whole(0.5 * self.cfg.quote_size);
            let requote = match standing.filter(|_| account.is_some()) {
                None => true,
                Some(q) => {
                    let was_pulled = q.bid_left.is_zero() && q.ask_left.is_zero();
                    pulled != was_pulled
                        || (!pulled
                            && (q.bid_left < half
                                || q.ask_left < half
                                || (h - q.half_spread).abs()
                                    > self.cfg.requote_tolerance * q.half_spread))
                }
            };
            if requote {
                let fee = view.fee_estimate(GasKind::Deposit, self.tip);
                let wallet = view.balance(self.holder, TokenId::QUOTE) - fee;
                let margin = if account.is_none() {
                    Amount::from_whole(self.cfg.capital * self.cfg.deposit_fraction)
                        .min(wallet)
                        .max(Amount::ZERO)
                } else {
                    Amount::ZERO
                };
                let size = if pulled {
                    Amount::ZERO
                } else {
                    Amount::from_whole(self.cfg.quote_size)
                };
                out.push(self.request(
                    view,
                    Action::Engine(EngineOp::OptionQuote {
                        asset: self.asset,
                        half_spread: h,
                        bid_size: size,
                        ask_size: size,
                        margin,
                    }),
                    self.tip,
                ));
            }
        }
        // Delta hedge on the perp, from the same account: only in cross margin, where a perp
        // trade lands in the quoting account (in isolated margin each trade would open an
        // account of its own, never hedging the book; the maker then only quotes).
        let cross = engine.config().margin_mode == cascade_engine::MarginMode::Cross;
        if account.is_some()
            && cross
            && !hedge_pending
            && let Some(x) = self.cfg.hedge(&book)
        {
            let size = Amount::from_whole(x);
            if size.is_zero() {
                return;
            }
            let fee = view.fee_estimate(GasKind::Open, self.tip);
            let wallet = view.balance(self.holder, TokenId::QUOTE) - fee;
            // At most half the wallet: gas can rise before the hedge lands.
            let margin = Amount::from_whole(x.abs() * p * self.cfg.hedge_margin)
                .min(wallet.scale_floor(0.5))
                .max(Amount::ZERO);
            // The hedge's priority bid is worth `hedge_priority` of its notional.
            let tip = self
                .tip
                .max(view.tip_worth(GasKind::Open, self.cfg.hedge_priority * x.abs() * p));
            out.push(self.request(
                view,
                Action::Engine(EngineOp::PerpOpen {
                    asset: self.asset,
                    size,
                    margin,
                }),
                tip,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> OptionsMarketMakerConfig {
        OptionsMarketMakerConfig::default()
    }

    #[test]
    fn spread_widens_with_realized_vol_up_to_the_cap() {
        let c = cfg();
        let calm = c.half_spread(0.3);
        let crash = c.half_spread(3.0);
        assert!((calm - (0.01 + 0.05 * 0.3)).abs() < 1e-15);
        assert!(crash > 2.0 * calm, "{crash} vs {calm}");
        assert_eq!(c.half_spread(100.0), c.max_spread);
    }

    #[test]
    fn quotes_are_pulled_past_either_limit_and_only_then() {
        let c = cfg();
        let inside = MakerBook {
            delta: 0.0,
            vega: 0.9 * c.vega_limit,
            inventory: 0.9 * c.inventory_limit,
        };
        assert!(!c.pulls(&inside));
        assert!(c.pulls(&MakerBook {
            vega: -1.1 * c.vega_limit,
            ..inside
        }));
        assert!(c.pulls(&MakerBook {
            inventory: 1.1 * c.inventory_limit,
            ..inside
        }));
    }

    #[test]
    fn hedge_flattens_outside_the_band_only() {
        let c = cfg();
        let b = |delta| MakerBook {
            delta,
            ..MakerBook::default()
        };
        assert_eq!(c.hedge(&b(0.5 * c.hedge_band)), None);
        assert_eq!(c.hedge(&b(-0.5 * c.hedge_band)), None);
        assert_eq!(c.hedge(&b(37.0)), Some(-37.0));
        assert_eq!(c.hedge(&b(-37.0)), Some(37.0));
    }

    #[test]
    fn config_errors_name_the_key() {
        let mut c = cfg();
        c.max_spread = 1.0;
        c.quote_size = 0.0;
        let mut issues = Vec::new();
        c.validate(&mut Check::new(&mut issues), &["ETH".to_string()]);
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["max_spread", "quote_size"], "{issues:?}");
    }
}
