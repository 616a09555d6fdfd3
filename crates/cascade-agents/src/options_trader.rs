//! Option traders: premium sellers (the short-volatility books whose convexity the margin
//! engine must price) and option buyers.
//!
//! An option trader without a position opens one at rate `open_per_hour` (see `clock`): it
//! picks one of the live listed series of its asset of kind `option_kind` (uniformly), and a
//! notional (lognormal with mean `size_mean`, in quote at the oracle price) and a leverage
//! (uniform in `[leverage_min, leverage_max]`). A seller sells `notional / S` contracts and
//! posts `notional / leverage` of margin; a buyer buys that many and posts the premium (plus
//! the spread). Trades go to the best options market maker quote that can fill them
//! ([`crate::options_market_maker`]), else to the engine's book at its mark plus or minus
//! the spread (the lenders' pool is the counterparty, as for perps); the pool's delta hedge
//! of the part of a liquidated book it takes is the forced flow the engine reports.
//!
//! Holding a position, it closes at rate `close_per_hour`, and when its maintenance health
//! falls below `topup_threshold` of its notional it tops up `topup_fraction` of the notional
//! at rate `topup_per_hour`. Six draws per block,
//! whatever it does, so one trader's choices never shift another's stream.

use crate::config::BuildCtx;
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::clock::{check_rate, rate_from_prob};
use cascade_core::tx::{EngineOp, GasKind};
use cascade_core::{Action, AgentId, Amount, AssetId, Check, HolderId, SimRng, TokenId};
use cascade_engine::OptKind;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Whether the population sells or buys options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptionSide {
    Sell,
    Buy,
}

fn one() -> u32 {
    1
}
fn d_capital() -> f64 {
    50_000.0
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
    4.0
}
/// 0.001 per 12 s block.
fn d_close() -> f64 {
    rate_from_prob(0.001, 12.0)
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
fn d_put() -> OptKind {
    OptKind::Put
}
fn d_sell() -> OptionSide {
    OptionSide::Sell
}

/// `[[agents]] kind = "option_trader"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionTraderConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// Quote per trader at genesis.
    #[serde(default = "d_capital")]
    pub capital: f64,
    /// The underlying (default: the first asset).
    #[serde(default)]
    pub asset: Option<String>,
    #[serde(default = "d_sell")]
    pub side: OptionSide,
    #[serde(default = "d_put")]
    pub option_kind: OptKind,
    /// Openings per hour while without a position (default 15.39: 0.05 per 12 s block).
    #[serde(default = "d_open")]
    pub open_per_hour: f64,
    /// Mean underlying notional of a position, quote.
    #[serde(default = "d_size")]
    pub size_mean: f64,
    #[serde(default = "d_sigma")]
    pub size_sigma: f64,
    /// Sellers: underlying notional over posted margin.
    #[serde(default = "d_lmin")]
    pub leverage_min: f64,
    #[serde(default = "d_lmax")]
    pub leverage_max: f64,
    /// Closings per hour (default 0.3002: 0.001 per 12 s block).
    #[serde(default = "d_close")]
    pub close_per_hour: f64,
    /// Top-ups per hour while health is low (default 0).
    #[serde(default)]
    pub topup_per_hour: f64,
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
}

impl OptionTraderConfig {
    pub fn validate(&self, c: &mut Check, assets: &[String], block_time_s: f64) {
        let legacy = [self.open_prob, self.close_prob, self.topup_prob, None];
        crate::trader::reject_legacy_habits(c, legacy, block_time_s);
        c.non_negative("capital", self.capital);
        check_rate(c, "open_per_hour", self.open_per_hour);
        c.positive("size_mean", self.size_mean);
        c.non_negative("size_sigma", self.size_sigma);
        crate::trader::check_leverage(c, self.leverage_min, self.leverage_max);
        crate::trader::check_position_habits(
            c,
            [
                self.close_per_hour,
                self.topup_per_hour,
                self.topup_threshold,
                self.topup_fraction,
                self.tip_gwei,
            ],
        );
        crate::trader::check_asset(c, self.asset.as_deref(), assets);
    }
}

pub struct OptionTrader {
    holder: HolderId,
    label: String,
    rng: SimRng,
    asset: AssetId,
    cfg: OptionTraderConfig,
    tip: u128,
    /// Underlying notional of the open position (for top-ups).
    notional: f64,
}

impl OptionTrader {
    pub fn build(cfg: &OptionTraderConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let asset = cfg
            .asset
            .as_ref()
            .and_then(|n| ctx.asset_id(n))
            .unwrap_or(AssetId(0));
        (0..cfg.count)
            .map(|_| {
                let (i, rng) = ctx.next_stream(cascade_core::rng::streams::OPTION_TRADERS);
                let label = format!("option-trader-{i}");
                let holder = ctx.wallet(&label, cfg.capital, 0.0, &[]);
                Box::new(OptionTrader {
                    holder,
                    label,
                    rng,
                    asset,
                    cfg: cfg.clone(),
                    tip: gwei(cfg.tip_gwei),
                    notional: 0.0,
                }) as Box<dyn Agent>
            })
            .collect()
    }
}

impl Agent for OptionTrader {
    fn role(&self) -> Role {
        Role::Trader
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.label)
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        let u_open: f64 = self.rng.random();
        let u_series: f64 = self.rng.random();
        let u_lev: f64 = self.rng.random();
        let u_act: f64 = self.rng.random();
        let u_top: f64 = self.rng.random();
        let z: f64 = StandardNormal.sample(&mut self.rng);
        let Some(engine) = view.engine else { return };
        if view.has_pending(me) {
            return;
        }
        let a = self.asset.index();
        let p = engine.prices()[a];
        if p.is_nan() || p <= 0.0 {
            return;
        }
        let account = engine.account_of(self.holder).filter(|id| {
            engine
                .account(*id)
                .is_some_and(|x| !x.closed && x.has_options())
        });
        match account {
            None => {
                if u_open >= view.chance(self.cfg.open_per_hour) {
                    return;
                }
                let live: Vec<usize> = engine
                    .option_series()
                    .iter()
                    .enumerate()
                    .filter(|(i, s)| {
                        s.asset == a && s.kind == self.cfg.option_kind && engine.option_live(*i)
                    })
                    .map(|(i, _)| i)
                    .collect();
                if live.is_empty() {
                    return;
                }
                let i = live[((u_series * live.len() as f64) as usize).min(live.len() - 1)];
                let Some(mark) = engine.option_mark(i) else {
                    return;
                };
                let s = self.cfg.size_sigma;
                let notional = self.cfg.size_mean * (s * z - 0.5 * s * s).exp();
                let lev =
                    self.cfg.leverage_min + u_lev * (self.cfg.leverage_max - self.cfg.leverage_min);
                let fee = view.fee_estimate(GasKind::Open, self.tip);
                let quote = view.balance(self.holder, TokenId::QUOTE) - fee;
                let contracts = Amount::from_whole(notional / p);
                if !contracts.is_positive() {
                    return;
                }
                let (size, margin) = match self.cfg.side {
                    OptionSide::Sell => (-contracts, Amount::from_whole(notional / lev)),
                    OptionSide::Buy => {
                        // What the engine would charge: a market maker's ask where one
                        // quotes, else the pool's mark plus spread.
                        let ask = engine.option_price(i, contracts).unwrap_or(mark);
                        (contracts, contracts.value_ceil(ask * 1.01 + 1e-9))
                    }
                };
                let margin = margin.min(quote);
                if !margin.is_positive() {
                    return;
                }
                self.notional = notional;
                out.push(Submission::Tx(view.request(
                    Action::Engine(EngineOp::OptionTrade {
                        series: i as u32,
                        size,
                        margin,
                    }),
                    self.tip,
                    None,
                    false,
                )));
            }
            Some(id) => {
                let Some(h) = engine.health(id) else { return };
                if h.maintenance < self.cfg.topup_threshold * self.notional {
                    if u_top < view.chance(self.cfg.topup_per_hour) {
                        let fee = view.fee_estimate(GasKind::Deposit, self.tip);
                        let amount = Amount::from_whole(self.cfg.topup_fraction * self.notional)
                            .min(view.balance(self.holder, TokenId::QUOTE) - fee);
                        if amount.is_positive() {
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
                if u_act < view.chance(self.cfg.close_per_hour) && h.equity > 0.0 {
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
