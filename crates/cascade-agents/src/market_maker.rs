//! Market makers: the order book's liquidity, and why it evaporates in a crash.
//!
//! A market maker quotes a ladder of `levels` bids and asks around its fair value (the
//! reference price), with a half-spread that widens with the realized volatility it measures
//! (`widen_bp_per_vol` basis points of half-spread per unit of annualized volatility, so the
//! spread at a given volatility does not depend on the block time).
//! It stops quoting the side that would push its inventory past `inventory_limit`, and pulls
//! all quotes while realized volatility (annualized) exceeds `vol_limit`. Requoting is a
//! transaction (`order` gas), sent once `refresh_s` seconds have passed (at the first block
//! whose time is at least the last quote's plus `refresh_s`) or when the fair value has
//! moved by more than a quarter of the half-spread.

use crate::config::{BuildCtx, VenueInfo};
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::clock::{check_delay, legacy_delay};
use cascade_core::tx::Level;
use cascade_core::{Action, AgentId, Amount, AssetId, Check, HolderId, VenueId};
use cascade_market::SECONDS_PER_YEAR;
use cascade_market::venue::Venue;
use serde::{Deserialize, Serialize};

fn one() -> u32 {
    1
}
fn default_capital() -> f64 {
    2_000_000.0
}
fn default_inventory() -> f64 {
    1_000.0
}
fn default_levels() -> u32 {
    5
}
fn default_level_size() -> f64 {
    5.0
}
fn default_spread() -> f64 {
    5.0
}
fn default_spacing() -> f64 {
    5.0
}
/// One basis point of half-spread per basis point of a 12 s block's standard deviation: the
/// former per-block default (`vol_widen = 1`) at 12 s blocks.
fn default_widen() -> f64 {
    widen_from_per_block(1.0, 12.0)
}

/// The `widen_bp_per_vol` equivalent to the replaced per-block `vol_widen` at `block_time_s`:
/// a per-block standard deviation of `s` bp is an annualized volatility of
/// `s / 1e4 * sqrt(year / block_time_s)`, so `widen_bp_per_vol = vol_widen * 1e4 *
/// sqrt(block_time_s / year)`.
pub fn widen_from_per_block(vol_widen: f64, block_time_s: f64) -> f64 {
    vol_widen * 1e4 * (block_time_s / SECONDS_PER_YEAR).sqrt()
}
/// Five 12 s blocks.
fn default_refresh() -> f64 {
    60.0
}
fn default_half_life() -> f64 {
    300.0
}
fn default_tip() -> f64 {
    1.0
}

/// `[[agents]] kind = "market_maker"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketMakerConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// The order book to quote on.
    pub venue: String,
    #[serde(default = "default_capital")]
    pub capital: f64,
    #[serde(default = "default_inventory")]
    pub inventory: f64,
    #[serde(default = "default_levels")]
    pub levels: u32,
    /// Base units (whole) per level.
    #[serde(default = "default_level_size")]
    pub level_size: f64,
    /// Calm half-spread, basis points.
    #[serde(default = "default_spread")]
    pub spread_bp: f64,
    /// Distance between levels, basis points.
    #[serde(default = "default_spacing")]
    pub level_spacing_bp: f64,
    /// Extra half-spread, basis points per unit (100%) of annualized realized volatility
    /// (default 6.17: one bp per bp of a 12 s block's standard deviation).
    #[serde(default = "default_widen")]
    pub widen_bp_per_vol: f64,
    /// Requote at least this often (seconds; default 60).
    #[serde(default = "default_refresh")]
    pub refresh_s: f64,
    /// Pull every quote while annualized realized volatility exceeds this (default: never).
    #[serde(default)]
    pub vol_limit: Option<f64>,
    /// Stop adding to a position beyond this many whole base units from the start (default:
    /// no limit).
    #[serde(default)]
    pub inventory_limit: Option<f64>,
    /// Half-life of the realized-volatility estimate, seconds.
    #[serde(default = "default_half_life")]
    pub vol_half_life_s: f64,
    #[serde(default = "default_tip")]
    pub tip_gwei: f64,
    /// Replaced block-count key, present only to be rejected with its conversion.
    #[serde(default, skip_serializing)]
    pub refresh_blocks: Option<f64>,
    /// Replaced per-block key, present only to be rejected with its conversion.
    #[serde(default, skip_serializing)]
    pub vol_widen: Option<f64>,
}

impl MarketMakerConfig {
    pub fn validate(&self, c: &mut Check, venues: &[VenueInfo], block_time_s: f64) {
        let old = self.refresh_blocks;
        legacy_delay(c, "refresh_blocks", "refresh_s", old, block_time_s);
        if let Some(v) = self.vol_widen {
            c.fail(
                "vol_widen",
                format!(
                    "`vol_widen` (bp per bp of a block's standard deviation) was replaced by \
                     `widen_bp_per_vol` (bp per unit of annualized volatility): at \
                     {block_time_s} s blocks, {v} is {v} * 1e4 * sqrt({block_time_s} / \
                     31536000) = {}",
                    widen_from_per_block(v, block_time_s)
                ),
            );
        }
        match venues.iter().find(|v| v.name == self.venue) {
            None => c.fail(
                "venue",
                format!(
                    "names no configured venue (got \"{}\"; venues: {})",
                    self.venue,
                    venues
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some(v) if !v.is_clob => c.fail(
                "venue",
                format!(
                    "must be an order book (kind = \"clob\"); \"{}\" is not",
                    v.name
                ),
            ),
            _ => {}
        }
        c.non_negative("capital", self.capital);
        c.non_negative("inventory", self.inventory);
        c.positive_int("levels", self.levels as u64);
        c.positive("level_size", self.level_size);
        c.non_negative("spread_bp", self.spread_bp);
        c.non_negative("level_spacing_bp", self.level_spacing_bp);
        c.non_negative("widen_bp_per_vol", self.widen_bp_per_vol);
        check_delay(c, "refresh_s", self.refresh_s);
        if let Some(v) = self.vol_limit {
            c.positive("vol_limit", v);
        }
        if let Some(v) = self.inventory_limit {
            c.non_negative("inventory_limit", v);
        }
        c.positive("vol_half_life_s", self.vol_half_life_s);
        c.non_negative("tip_gwei", self.tip_gwei);
    }
}

/// A market maker's public book-keeping: its asset, its starting balances and its inventory
/// limit. Its inventory is its base balance less `start_base`; its trading P&L at price `p`
/// is `(quote - start_quote) + (base - start_base) p`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MakerBook {
    pub holder: HolderId,
    pub asset: AssetId,
    pub start_base: Amount,
    pub start_quote: Amount,
    /// Whole base units (`inventory_limit`), when configured.
    pub inventory_limit: Option<f64>,
}

/// One market maker.
pub struct MarketMaker {
    holder: HolderId,
    label: String,
    venue: VenueId,
    asset: AssetId,
    cfg: MarketMakerConfig,
    tip: u128,
    start_inventory: Amount,
    start_quote: Amount,
    /// EWMA (in time) of squared log returns of the reference price per second of block.
    var_rate: f64,
    last_ref: f64,
    /// Time (s) of its last quote.
    last_quote_t: Option<f64>,
    last_quote_mid: f64,
    last_half_spread_bp: f64,
    pulled: bool,
}

impl MarketMaker {
    pub fn build(cfg: &MarketMakerConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let venue = ctx
            .venues
            .iter()
            .position(|v| v.name == cfg.venue)
            .map(|i| VenueId(i as u16))
            .unwrap_or(VenueId(0));
        let asset = ctx.venues[venue.index()].asset;
        (0..cfg.count)
            .map(|_| {
                let (i, _rng) = ctx.next_stream(cascade_core::rng::streams::MARKET_MAKERS);
                let label = format!("market_maker-{i}");
                let holder = ctx.wallet(&label, cfg.capital, cfg.inventory, &[asset]);
                Box::new(MarketMaker {
                    holder,
                    label,
                    venue,
                    asset,
                    cfg: cfg.clone(),
                    tip: gwei(cfg.tip_gwei),
                    start_inventory: Amount::from_whole(cfg.inventory),
                    start_quote: Amount::from_whole(cfg.capital),
                    var_rate: 0.0,
                    last_ref: f64::NAN,
                    last_quote_t: None,
                    last_quote_mid: f64::NAN,
                    last_half_spread_bp: 0.0,
                    pulled: false,
                }) as Box<dyn Agent>
            })
            .collect()
    }

    /// Annualized realized volatility from the EWMA of squared block returns per second.
    fn realized_vol(&self) -> f64 {
        (self.var_rate * SECONDS_PER_YEAR).sqrt()
    }
}

impl Agent for MarketMaker {
    fn role(&self) -> Role {
        Role::MarketMaker
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.label)
    }
    fn maker_book(&self) -> Option<MakerBook> {
        Some(MakerBook {
            holder: self.holder,
            asset: self.asset,
            start_base: self.start_inventory,
            start_quote: self.start_quote,
            inventory_limit: self.cfg.inventory_limit,
        })
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        let fair = view.p_ref[self.asset.index()];
        if !(fair.is_finite() && fair > 0.0) {
            return;
        }
        if self.last_ref.is_finite() {
            // Weighted by the block's own interval, so exponential block times and any block
            // time give the same estimate of the same variance rate.
            let r = (fair / self.last_ref).ln();
            let (dt, hl) = (view.dt_s, self.cfg.vol_half_life_s);
            self.var_rate = cascade_engine::margin::ewma_step(self.var_rate, r * r / dt, dt, hl);
        }
        self.last_ref = fair;
        if view.has_pending(me) {
            return; // the previous requote has not landed yet
        }
        let Venue::Clob(book) = &view.venues[self.venue.index()] else {
            return;
        };
        let rv = self.realized_vol();
        if self.cfg.vol_limit.is_some_and(|l| rv > l) {
            if !self.pulled {
                self.pulled = true;
                out.push(Submission::Tx(view.request(
                    Action::CancelAll { venue: self.venue },
                    self.tip,
                    None,
                    false,
                )));
            }
            return;
        }
        let half_bp = self.cfg.spread_bp + self.cfg.widen_bp_per_vol * rv;
        let due = match self.last_quote_t {
            None => true,
            Some(t) => {
                view.t_s >= t + self.cfg.refresh_s
                    || self.pulled
                    || (fair / self.last_quote_mid - 1.0).abs() * 1e4
                        > 0.25 * self.last_half_spread_bp
                    || (half_bp - self.last_half_spread_bp).abs() > 0.25 * self.last_half_spread_bp
            }
        };
        if !due {
            return;
        }
        let inv = view.balance(self.holder, self.asset.token()) - self.start_inventory;
        let limit = self.cfg.inventory_limit.unwrap_or(f64::INFINITY);
        let allow_bids = inv.to_whole() < limit;
        let allow_asks = -inv.to_whole() < limit;
        let tick = book.tick();
        let size = Amount::from_whole(self.cfg.level_size);
        let mut bids = Vec::new();
        let mut asks = Vec::new();
        for k in 0..self.cfg.levels {
            let off = (half_bp + k as f64 * self.cfg.level_spacing_bp) / 1e4;
            if allow_bids {
                let t = (fair * (1.0 - off) / tick).floor();
                if t >= 1.0 {
                    bids.push(Level {
                        ticks: t as u64,
                        size,
                    });
                }
            }
            if allow_asks {
                let t = (fair * (1.0 + off) / tick).ceil().max(1.0);
                asks.push(Level {
                    ticks: t as u64,
                    size,
                });
            }
        }
        self.pulled = false;
        self.last_quote_t = Some(view.t_s);
        self.last_quote_mid = fair;
        self.last_half_spread_bp = half_bp.max(1e-9);
        out.push(Submission::Tx(view.request(
            Action::Quote {
                venue: self.venue,
                bids,
                asks,
            },
            self.tip,
            None,
            false,
        )));
    }
}
