//! Noise traders: uninformed flow on the venues.
//!
//! A noise trader trades at rate `trade_per_hour` (a Poisson clock: sampled each block under
//! the polled schedule, see `clock`; under the event schedule an exponential clock in time
//! from its `noise_events` stream, on which it sleeps, see `schedule`): a random venue among its
//! own, a random side, a lognormal notional with mean `size_mean` (quote). It accepts up to
//! `max_slippage` of price impact and pays the usual gas. Noise flow is what pays liquidity
//! providers and market makers for the losses they take to arbitrageurs.
//!
//! With `offchain_share` (default 0), that share of the trades goes to the off-chain
//! reference market of the venue's asset instead (a market order there, no gas, executed at
//! once with its impact and fee; `Submission::OffChain`), chosen by the same `pick` draw that
//! picks the venue (below the share: off chain, the venue from `pick / share`; above it: on
//! chain, the venue from `(pick - share) / (1 - share)`), so no draw is added and a share of 0
//! picks exactly as before. An asset without a reference market is traded on its venue.

use crate::config::{BuildCtx, VenueInfo, check_venue_list};
use crate::schedule::{Clock, NOISE_EVENTS, Schedule};
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::clock::{check_rate, legacy_rate, rate_from_prob};
use cascade_core::tx::{GasKind, Side};
use cascade_core::{Action, AgentId, Amount, Check, HolderId, SimRng, TokenId, VenueId};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

fn one() -> u32 {
    1
}
fn default_capital() -> f64 {
    100_000.0
}
fn default_inventory() -> f64 {
    50.0
}
/// 0.1 per 12 s block.
fn default_rate() -> f64 {
    rate_from_prob(0.1, 12.0)
}
fn default_size() -> f64 {
    1_000.0
}
fn default_size_sigma() -> f64 {
    1.0
}
fn default_slippage() -> f64 {
    0.02
}
fn default_tip() -> f64 {
    1.0
}

/// `[[agents]] kind = "noise_trader"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoiseTraderConfig {
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default = "default_capital")]
    pub capital: f64,
    #[serde(default = "default_inventory")]
    pub inventory: f64,
    /// Trades per hour (default 31.61: 0.1 per 12 s block).
    #[serde(default = "default_rate")]
    pub trade_per_hour: f64,
    /// Mean notional per trade (quote).
    #[serde(default = "default_size")]
    pub size_mean: f64,
    /// Standard deviation of the log notional.
    #[serde(default = "default_size_sigma")]
    pub size_sigma: f64,
    /// Maximum accepted slippage versus the quoted fill (fraction).
    #[serde(default = "default_slippage")]
    pub max_slippage: f64,
    #[serde(default = "default_tip")]
    pub tip_gwei: f64,
    #[serde(default)]
    pub venues: Vec<String>,
    /// Share of trades sent to the asset's off-chain reference market, in [0, 1].
    #[serde(default)]
    pub offchain_share: f64,
    /// Replaced per-block key, present only to be rejected with its conversion.
    #[serde(default, skip_serializing)]
    pub trade_prob: Option<f64>,
}

impl NoiseTraderConfig {
    pub fn validate(&self, c: &mut Check, venues: &[VenueInfo], block_time_s: f64) {
        legacy_rate(
            c,
            "trade_prob",
            "trade_per_hour",
            self.trade_prob,
            block_time_s,
        );
        c.non_negative("capital", self.capital);
        c.non_negative("inventory", self.inventory);
        check_rate(c, "trade_per_hour", self.trade_per_hour);
        c.positive("size_mean", self.size_mean);
        c.non_negative("size_sigma", self.size_sigma);
        c.unit_interval("max_slippage", self.max_slippage);
        c.non_negative("tip_gwei", self.tip_gwei);
        check_venue_list(c, "venues", &self.venues, venues);
        c.unit_interval("offchain_share", self.offchain_share);
    }
}

/// One noise trader.
pub struct NoiseTrader {
    holder: HolderId,
    label: String,
    rng: SimRng,
    /// Its venues and configuration, shared by its population.
    venues: Arc<Vec<VenueId>>,
    cfg: Arc<NoiseTraderConfig>,
    tip: u128,
    /// Under the event schedule, its trade clock (`None`: polled).
    clock: Option<Clock>,
}

impl NoiseTrader {
    pub fn build(cfg: &NoiseTraderConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let venues = Arc::new(ctx.select_venues(&cfg.venues, false));
        let assets = ctx.assets_of(&venues);
        let shared_cfg = Arc::new(cfg.clone());
        let event = ctx.schedule == Schedule::Event;
        let stream = if event {
            NOISE_EVENTS
        } else {
            cascade_core::rng::streams::NOISE
        };
        (0..cfg.count)
            .map(|_| {
                let (i, rng) = ctx.next_stream(stream);
                let label = format!("noise_trader-{i}");
                let holder = ctx.wallet(&label, cfg.capital, cfg.inventory, &assets);
                Box::new(NoiseTrader {
                    holder,
                    label,
                    rng,
                    venues: venues.clone(),
                    cfg: shared_cfg.clone(),
                    tip: gwei(cfg.tip_gwei),
                    clock: event.then(Clock::default),
                }) as Box<dyn Agent>
            })
            .collect()
    }
}

impl Agent for NoiseTrader {
    fn role(&self) -> Role {
        Role::NoiseTrader
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.label)
    }

    fn next_wake(&self) -> Option<f64> {
        self.clock.and_then(|c| c.next())
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        let (pick, side_u, z) = match self.clock.as_mut() {
            Some(c) => {
                // Event schedule: draws only when the clock rings.
                let rate = self.cfg.trade_per_hour;
                if !c.rings(&mut self.rng, rate, view.t_s, view.dt_s) || self.venues.is_empty() {
                    return;
                }
                let pick: f64 = self.rng.random();
                let side_u: f64 = self.rng.random();
                let z: f64 = StandardNormal.sample(&mut self.rng);
                (pick, side_u, z)
            }
            None => {
                // A fixed number of draws per block keeps the stream aligned whatever happens.
                let u: f64 = self.rng.random();
                let pick: f64 = self.rng.random();
                let side_u: f64 = self.rng.random();
                let z: f64 = StandardNormal.sample(&mut self.rng);
                if u >= view.chance(self.cfg.trade_per_hour) || self.venues.is_empty() {
                    return;
                }
                (pick, side_u, z)
            }
        };
        if view.has_pending(me) {
            return;
        }
        let share = self.cfg.offchain_share;
        let (off, slot) = if pick < share {
            (true, pick / share)
        } else {
            (false, (pick - share) / (1.0 - share))
        };
        let v =
            self.venues[((slot * self.venues.len() as f64) as usize).min(self.venues.len() - 1)];
        let venue = &view.venues[v.index()];
        let asset = venue.asset();
        let off = off && view.prices.is_some_and(|p| p.has_reference(asset.index()));
        let price = view.p_ref[asset.index()];
        let s = self.cfg.size_sigma;
        let notional = self.cfg.size_mean * (s * z - 0.5 * s * s).exp();
        let fee = view.fee_estimate(GasKind::Swap, self.tip);
        let quote_bal = view.balance(self.holder, TokenId::QUOTE) - fee;
        let base_bal = view.balance(self.holder, asset.token());
        let want_buy = side_u < 0.5;
        let buy_amt = Amount::from_whole(notional).min(quote_bal);
        let sell_amt = Amount::from_whole(notional / price).min(base_bal);
        let (side, amount) = match (want_buy, buy_amt.is_positive(), sell_amt.is_positive()) {
            (true, true, _) | (false, true, false) => (Side::Buy, buy_amt),
            (false, _, true) | (true, false, true) => (Side::Sell, sell_amt),
            _ => return,
        };
        if off {
            // Off chain: a market order for the base amount, no gas, no slippage limit.
            let base = match side {
                Side::Buy => amount.scale_floor(1.0 / price),
                Side::Sell => amount,
            };
            if base.is_positive() {
                out.push(Submission::OffChain { asset, side, base });
            }
            return;
        }
        let q = venue.quote(side, amount);
        if !q.amount_out.is_positive() {
            return;
        }
        let min_out = q.amount_out.scale_floor(1.0 - self.cfg.max_slippage);
        out.push(Submission::Tx(view.request(
            Action::Swap {
                venue: v,
                side,
                amount_in: amount,
                min_out,
            },
            self.tip,
            None,
            false,
        )));
    }
}
