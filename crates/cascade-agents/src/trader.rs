//! Leveraged traders: the accounts whose failures the engine must handle.
//!
//! A trader without a position opens one at rate `open_per_hour` (a Poisson clock sampled
//! each block, see `clock`): either a
//! borrowing position (deposit collateral of the asset, borrow quote against it) or, with
//! probability `perp_share`, a perpetual (long with probability `long_prob`). Its leverage is
//! drawn uniformly in `[leverage_min, leverage_max]` and its notional is lognormal with mean
//! `size_mean`. A borrower with leverage `L` borrows `(1 - 1/L)` of its collateral's value; a
//! perp trader posts `notional / L` of margin. Positions are closed at rate `close_per_hour`.
//! When maintenance health falls below `topup_threshold` of the position value, the trader
//! tops up at rate `topup_per_hour` once `topup_delay_s` seconds have passed since it first
//! noticed (at the first block whose time is at least then), adding `topup_fraction` of the
//! position value (if its wallet can).
//!
//! The draws per block are fixed (six), whatever the trader does, so one trader's choices
//! never shift another's stream.

use crate::config::BuildCtx;
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::clock::{check_delay, check_rate, legacy_delay, legacy_rate, rate_from_prob};
use cascade_core::tx::{EngineOp, GasKind};
use cascade_core::{Action, AgentId, Amount, AssetId, Check, HolderId, SimRng, TokenId};
use cascade_engine::HealthMemo;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

fn one() -> u32 {
    1
}
fn d_capital() -> f64 {
    50_000.0
}
fn d_inventory() -> f64 {
    20.0
}
/// 0.05 per 12 s block.
fn d_open() -> f64 {
    rate_from_prob(0.05, 12.0)
}
fn d_size() -> f64 {
    20_000.0
}
fn d_sigma() -> f64 {
    0.5
}
fn d_lmin() -> f64 {
    2.0
}
fn d_lmax() -> f64 {
    5.0
}
fn d_half() -> f64 {
    0.5
}
/// 0.002 per 12 s block.
fn d_close() -> f64 {
    rate_from_prob(0.002, 12.0)
}
fn d_topup_threshold() -> f64 {
    0.02
}
fn d_topup_fraction() -> f64 {
    0.1
}
fn d_tip() -> f64 {
    1.0
}

/// `[[agents]] kind = "trader"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraderConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// Quote per trader at genesis.
    #[serde(default = "d_capital")]
    pub capital: f64,
    /// Whole units of the asset per trader at genesis (borrowers' collateral).
    #[serde(default = "d_inventory")]
    pub inventory: f64,
    /// The asset traded (default: the first).
    #[serde(default)]
    pub asset: Option<String>,
    /// Openings per hour while without a position (default: 15.39, 0.05 per 12 s block).
    #[serde(default = "d_open")]
    pub open_per_hour: f64,
    /// Mean notional of a position, quote.
    #[serde(default = "d_size")]
    pub size_mean: f64,
    #[serde(default = "d_sigma")]
    pub size_sigma: f64,
    #[serde(default = "d_lmin")]
    pub leverage_min: f64,
    #[serde(default = "d_lmax")]
    pub leverage_max: f64,
    /// Share of positions that are perps (the rest borrow against collateral).
    #[serde(default = "d_half")]
    pub perp_share: f64,
    /// Probability that a perp is long.
    #[serde(default = "d_half")]
    pub long_prob: f64,
    /// Closings per hour while holding a position (default: 0.6006, 0.002 per 12 s block).
    #[serde(default = "d_close")]
    pub close_per_hour: f64,
    /// Top-ups per hour while health is low (default 0).
    #[serde(default)]
    pub topup_per_hour: f64,
    /// Seconds between first noticing low health and the first possible top-up.
    #[serde(default)]
    pub topup_delay_s: f64,
    #[serde(default = "d_topup_threshold")]
    pub topup_threshold: f64,
    #[serde(default = "d_topup_fraction")]
    pub topup_fraction: f64,
    #[serde(default = "d_tip")]
    pub tip_gwei: f64,
    /// Replaced per-block keys, present only to be rejected with their conversion.
    #[serde(default, skip_serializing)]
    pub open_prob: Option<f64>,
    #[serde(default, skip_serializing)]
    pub close_prob: Option<f64>,
    #[serde(default, skip_serializing)]
    pub topup_prob: Option<f64>,
    #[serde(default, skip_serializing)]
    pub topup_delay_blocks: Option<f64>,
}

/// Reject the per-block keys that `open_per_hour`, `close_per_hour`, `topup_per_hour` and
/// `topup_delay_s` replaced, with their conversion at `block_time_s`.
pub(crate) fn reject_legacy_habits(c: &mut Check, v: [Option<f64>; 4], block_time_s: f64) {
    legacy_rate(c, "open_prob", "open_per_hour", v[0], block_time_s);
    legacy_rate(c, "close_prob", "close_per_hour", v[1], block_time_s);
    legacy_rate(c, "topup_prob", "topup_per_hour", v[2], block_time_s);
    legacy_delay(c, "topup_delay_blocks", "topup_delay_s", v[3], block_time_s);
}

impl TraderConfig {
    pub fn validate(&self, c: &mut Check, assets: &[String], block_time_s: f64) {
        let legacy = [
            self.open_prob,
            self.close_prob,
            self.topup_prob,
            self.topup_delay_blocks,
        ];
        reject_legacy_habits(c, legacy, block_time_s);
        c.non_negative("capital", self.capital);
        c.non_negative("inventory", self.inventory);
        check_rate(c, "open_per_hour", self.open_per_hour);
        check_delay(c, "topup_delay_s", self.topup_delay_s);
        c.positive("size_mean", self.size_mean);
        c.non_negative("size_sigma", self.size_sigma);
        check_leverage(c, self.leverage_min, self.leverage_max);
        c.unit_interval("perp_share", self.perp_share);
        c.unit_interval("long_prob", self.long_prob);
        check_position_habits(
            c,
            [
                self.close_per_hour,
                self.topup_per_hour,
                self.topup_threshold,
                self.topup_fraction,
                self.tip_gwei,
            ],
        );
        check_asset(c, self.asset.as_deref(), assets);
    }
}

/// The leverage range of a population that opens leveraged positions: `1 <= min <= max`.
pub(crate) fn check_leverage(c: &mut Check, min: f64, max: f64) {
    if min.is_nan() || min < 1.0 {
        c.fail("leverage_min", format!("must be >= 1 (got {min})"));
    }
    if max.is_nan() || max < min {
        c.fail(
            "leverage_max",
            format!("must be >= leverage_min ({max} < {min})"),
        );
    }
}

/// `close_per_hour`, `topup_per_hour`, `topup_threshold`, `topup_fraction`, `tip_gwei`: the
/// habits every position-holding population shares.
pub(crate) fn check_position_habits(c: &mut Check, v: [f64; 5]) {
    check_rate(c, "close_per_hour", v[0]);
    check_rate(c, "topup_per_hour", v[1]);
    c.non_negative("topup_threshold", v[2]);
    c.non_negative("topup_fraction", v[3]);
    c.non_negative("tip_gwei", v[4]);
}

/// An optional `asset` must name a configured asset.
pub(crate) fn check_asset(c: &mut Check, asset: Option<&str>, assets: &[String]) {
    if let Some(a) = asset
        && !assets.iter().any(|n| n == a)
    {
        c.fail("asset", format!("names no configured asset (got {a:?})"));
    }
}

pub struct Trader {
    holder: HolderId,
    label: String,
    rng: SimRng,
    asset: AssetId,
    cfg: TraderConfig,
    tip: u128,
    /// Time (s) at which the trader first saw its health below the top-up threshold.
    low_since: Option<f64>,
    /// Its account's health as last computed (recomputed only when the account, the prices
    /// or the margin ratios change).
    memo: HealthMemo,
}

impl Trader {
    pub fn build(cfg: &TraderConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let asset = cfg
            .asset
            .as_ref()
            .and_then(|n| ctx.asset_id(n))
            .unwrap_or(AssetId(0));
        (0..cfg.count)
            .map(|_| {
                let (i, rng) = ctx.next_stream(cascade_core::rng::streams::TRADERS);
                let label = format!("trader-{i}");
                let holder = ctx.wallet(&label, cfg.capital, cfg.inventory, &[asset]);
                Box::new(Trader {
                    holder,
                    label,
                    rng,
                    asset,
                    cfg: cfg.clone(),
                    tip: gwei(cfg.tip_gwei),
                    low_since: None,
                    memo: HealthMemo::default(),
                }) as Box<dyn Agent>
            })
            .collect()
    }
}

impl Agent for Trader {
    fn role(&self) -> Role {
        Role::Trader
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> &str {
        &self.label
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        let u_open: f64 = self.rng.random();
        let u_kind: f64 = self.rng.random();
        let u_side: f64 = self.rng.random();
        let u_lev: f64 = self.rng.random();
        let u_act: f64 = self.rng.random();
        let z: f64 = StandardNormal.sample(&mut self.rng);
        let Some(engine) = view.engine else { return };
        if view.my_pending(me).next().is_some() {
            return;
        }
        let a = self.asset.index();
        let p = view.oracle[a];
        if p.is_nan() || p <= 0.0 {
            return;
        }
        // The memo answers without touching the account when nothing changed.
        let account = engine.account_of(self.holder).and_then(|id| {
            engine
                .health_memo(id, &mut self.memo)
                .filter(|m| m.live)
                .map(|m| (id, m))
        });
        match account {
            None => {
                self.low_since = None;
                if u_open >= view.chance(self.cfg.open_per_hour) {
                    return;
                }
                let s = self.cfg.size_sigma;
                let notional = self.cfg.size_mean * (s * z - 0.5 * s * s).exp();
                let lev =
                    self.cfg.leverage_min + u_lev * (self.cfg.leverage_max - self.cfg.leverage_min);
                let fee = view.fee_estimate(GasKind::Open, self.tip);
                let quote = view.balance(self.holder, TokenId::QUOTE) - fee;
                let op = if u_kind < self.cfg.perp_share {
                    let margin = Amount::from_whole(notional / lev).min(quote);
                    if !margin.is_positive() {
                        return;
                    }
                    let base = Amount::from_whole(margin.to_whole() * lev / p);
                    let size = if u_side < self.cfg.long_prob {
                        base
                    } else {
                        -base
                    };
                    EngineOp::PerpOpen {
                        asset: self.asset,
                        size,
                        margin,
                    }
                } else {
                    let have = view.balance(self.holder, self.asset.token());
                    let collateral = Amount::from_whole(notional / p).min(have);
                    if !collateral.is_positive() || quote.is_negative() {
                        return;
                    }
                    let borrow = collateral.value_floor(p).scale_floor(1.0 - 1.0 / lev);
                    EngineOp::Borrow {
                        asset: self.asset,
                        collateral,
                        borrow,
                    }
                };
                out.push(Submission::Tx(view.request(
                    Action::Engine(op),
                    self.tip,
                    None,
                    false,
                )));
            }
            Some((id, m)) => {
                let h = m.health;
                let value = m.exposure.max(1e-9);
                if h.maintenance < self.cfg.topup_threshold * value {
                    let since = *self.low_since.get_or_insert(view.t_s);
                    if view.t_s >= since + self.cfg.topup_delay_s
                        && u_act < view.chance(self.cfg.topup_per_hour)
                    {
                        // Top up with quote (perps, or borrowers who kept the loan).
                        let fee = view.fee_estimate(GasKind::Deposit, self.tip);
                        let amount = Amount::from_whole(self.cfg.topup_fraction * value)
                            .min(view.balance(self.holder, TokenId::QUOTE) - fee);
                        if amount.is_positive() {
                            self.low_since = None;
                            out.push(Submission::Tx(view.request(
                                Action::Engine(EngineOp::Deposit {
                                    account: id,
                                    token: TokenId::QUOTE,
                                    amount,
                                }),
                                self.tip,
                                None,
                                false,
                            )));
                        }
                    }
                    return;
                }
                self.low_since = None;
                if u_act < view.chance(self.cfg.close_per_hour) && h.equity > 0.0 {
                    let fee = view.fee_estimate(GasKind::Close, self.tip);
                    let debt = engine.account(id).map_or(Amount::ZERO, |a| a.debt);
                    if view.balance(self.holder, TokenId::QUOTE) - fee >= debt {
                        out.push(Submission::Tx(view.request(
                            Action::Engine(EngineOp::Close { account: id }),
                            self.tip,
                            None,
                            false,
                        )));
                    }
                }
            }
        }
    }
}
