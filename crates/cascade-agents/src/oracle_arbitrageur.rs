//! The oracle arbitrageur: trades perps against the engine's oracle when the oracle is away
//! from the market by more than fees and gas.
//!
//! A perp opens and closes at the engine's oracle price with the pool as counterparty, so when
//! the oracle lags the market (`p_ref`, which every agent sees) a position opened at the stale
//! price and closed once the oracle has caught up earns the gap. Each block, with no position
//! open, it looks at every asset it trades and at the gap `g = p_ref / oracle - 1`; a position
//! of `notional` quote (`s = notional / oracle` units, long when the oracle is below the market,
//! short when above) is expected to earn, if the oracle converges to today's market,
//!
//! `profit = s |p_ref - oracle| - perp_fee (notional + s p_ref) - gas_open - gas_close`
//!
//! and it opens the best one when that beats `min_profit`, depositing `notional / leverage`
//! (at least the engine's initial margin with 5% headroom). With a position open it closes
//! (the account: its perps settle at the oracle) once the oracle has published a new price
//! (it has caught up with the market) or the market has come back across the oracle, or after
//! `max_hold_s` seconds (at the first block whose time is at least the opening's plus
//! `max_hold_s`). It is an expected profit on the belief that the oracle follows the
//! market: with a deviation-threshold push feed and a martingale market, a position opened at
//! gap `p - o` and closed when the feed next publishes (at the market) or the market comes back
//! to the oracle is worth `s (p - o)` in expectation (optional stopping); each trade can still
//! lose. An oracle that converges to a past market
//! price (an OSM's queued value) is not what it assumes. Its gain is the pool's loss (the perp counterparty). Borrowing against collateral the
//! oracle overvalues is the manipulator's trade (`crate::manipulator`).

use crate::config::BuildCtx;
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::clock::legacy_delay;
use cascade_core::tx::{EngineOp, GasKind};
use cascade_core::{Action, AgentId, Amount, AssetId, Check, HolderId, TokenId};
use cascade_engine::Req;
use serde::{Deserialize, Serialize};

fn one() -> u32 {
    1
}
fn d_capital() -> f64 {
    1_000_000.0
}
fn d_notional() -> f64 {
    100_000.0
}
fn d_leverage() -> f64 {
    5.0
}
/// 300 12 s blocks.
fn d_hold() -> f64 {
    3600.0
}
fn d_tip() -> f64 {
    2.0
}

/// `[[agents]] kind = "oracle_arbitrageur"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OracleArbitrageurConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// Quote per agent at genesis.
    #[serde(default = "d_capital")]
    pub capital: f64,
    /// Notional of each position at the oracle price, quote.
    #[serde(default = "d_notional")]
    pub notional: f64,
    /// Notional over margin deposited.
    #[serde(default = "d_leverage")]
    pub leverage: f64,
    /// Minimum expected profit net of fees and gas, quote.
    #[serde(default)]
    pub min_profit: f64,
    /// Close after this many seconds whatever the gap (default 3600).
    #[serde(default = "d_hold")]
    pub max_hold_s: f64,
    #[serde(default = "d_tip")]
    pub tip_gwei: f64,
    /// Assets it trades (empty: all).
    #[serde(default)]
    pub assets: Vec<String>,
    /// Replaced block-count key, present only to be rejected with its conversion.
    #[serde(default, skip_serializing)]
    pub max_hold_blocks: Option<f64>,
}

impl OracleArbitrageurConfig {
    pub fn validate(&self, c: &mut Check, assets: &[String], block_time_s: f64) {
        let old = self.max_hold_blocks;
        legacy_delay(c, "max_hold_blocks", "max_hold_s", old, block_time_s);
        c.non_negative("capital", self.capital);
        c.positive("notional", self.notional);
        c.ensure(
            self.leverage.is_finite() && self.leverage >= 1.0,
            "leverage",
            || {
                format!(
                    "notional over margin: must be at least 1 (got {})",
                    self.leverage
                )
            },
        );
        c.non_negative("min_profit", self.min_profit);
        c.positive("max_hold_s", self.max_hold_s);
        c.non_negative("tip_gwei", self.tip_gwei);
        for (i, n) in self.assets.iter().enumerate() {
            if !assets.iter().any(|a| a == n) {
                c.fail(
                    &format!("assets[{i}]"),
                    format!(
                        "names no configured asset (got \"{n}\"; assets: {})",
                        assets.join(", ")
                    ),
                );
            }
        }
    }
}

/// An open position: asset, direction (+1 long, -1 short), block opened, the oracle price it
/// opened at.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Open {
    asset: usize,
    dir: f64,
    /// Time (s) it opened.
    since: f64,
    oracle: f64,
}

pub struct OracleArbitrageur {
    holder: HolderId,
    label: String,
    cfg: OracleArbitrageurConfig,
    assets: Vec<AssetId>,
    tip: u128,
    open: Option<Open>,
}

/// The expected profit of a position of `notional` at oracle `o` when the market is `p`, with
/// perp fee rate `fee` and gas `gas` (open and close together), and its direction (+1 long
/// when the oracle is below the market).
pub fn expected_profit(p: f64, o: f64, notional: f64, fee: f64, gas: f64) -> (f64, f64) {
    if !(p > 0.0 && o > 0.0 && notional > 0.0) {
        return (f64::NEG_INFINITY, 0.0);
    }
    let s = notional / o;
    let dir = if p >= o { 1.0 } else { -1.0 };
    (s * (p - o).abs() - fee * (notional + s * p) - gas, dir)
}

impl OracleArbitrageur {
    pub fn build(cfg: &OracleArbitrageurConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let assets: Vec<AssetId> = if cfg.assets.is_empty() {
            (0..ctx.asset_names.len())
                .map(|i| AssetId(i as u16))
                .collect()
        } else {
            cfg.assets.iter().filter_map(|n| ctx.asset_id(n)).collect()
        };
        (0..cfg.count)
            .map(|_| {
                let (i, _rng) = ctx.next_stream(cascade_core::rng::streams::ORACLE_ARBITRAGEURS);
                let label = format!("oracle-arbitrageur-{i}");
                let holder = ctx.wallet(&label, cfg.capital, 0.0, &[]);
                Box::new(OracleArbitrageur {
                    holder,
                    label,
                    cfg: cfg.clone(),
                    assets: assets.clone(),
                    tip: gwei(cfg.tip_gwei),
                    open: None,
                }) as Box<dyn Agent>
            })
            .collect()
    }
}

impl Agent for OracleArbitrageur {
    fn role(&self) -> Role {
        Role::Custom
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.label)
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        let Some(engine) = view.engine else { return };
        if view.has_pending(me) {
            return;
        }
        let account = engine.account_of(self.holder).filter(|id| {
            engine
                .account(*id)
                .is_some_and(|a| !a.closed && a.has_positions())
        });
        match (account, self.open) {
            (Some(id), Some(pos)) => {
                let p = view.p_ref[pos.asset];
                let o = view.oracle[pos.asset];
                let published = o != pos.oracle;
                let converged = published || (p - o) * pos.dir <= 0.0;
                let stale = view.t_s >= pos.since + self.cfg.max_hold_s;
                if converged || stale {
                    out.push(Submission::Tx(view.request(
                        Action::Engine(EngineOp::Close { account: id }),
                        self.tip,
                        None,
                        false,
                    )));
                }
            }
            (Some(_), None) => {
                // A position it did not record (a close that failed): close it.
                if let Some(id) = account {
                    out.push(Submission::Tx(view.request(
                        Action::Engine(EngineOp::Close { account: id }),
                        self.tip,
                        None,
                        false,
                    )));
                }
            }
            (None, _) => {
                self.open = None;
                let fee = engine.config().perp_fee;
                let gas = view.fee_estimate(GasKind::Open, self.tip).to_whole()
                    + view.fee_estimate(GasKind::Close, self.tip).to_whole();
                let best = self
                    .assets
                    .iter()
                    .map(|a| {
                        let i = a.index();
                        let (profit, dir) = expected_profit(
                            view.p_ref[i],
                            view.oracle[i],
                            self.cfg.notional,
                            fee,
                            gas,
                        );
                        (profit, dir, *a)
                    })
                    .filter(|x| x.0 > self.cfg.min_profit)
                    .max_by(|x, y| x.0.total_cmp(&y.0).then(y.2.cmp(&x.2)));
                let Some((_, dir, asset)) = best else { return };
                let i = asset.index();
                let o = view.oracle[i];
                let size = Amount::from_whole_floor(self.cfg.notional / o);
                let r_init = engine.margin().ratio(i, size.to_whole(), Req::Initial);
                let margin = (self.cfg.notional / self.cfg.leverage)
                    .max(1.05 * r_init * self.cfg.notional + fee * self.cfg.notional);
                let margin = Amount::from_whole_ceil(margin);
                let cash = view.balance(self.holder, TokenId::QUOTE)
                    - view.fee_estimate(GasKind::Open, self.tip);
                if !size.is_positive() || margin > cash {
                    return;
                }
                out.push(Submission::Tx(view.request(
                    Action::Engine(EngineOp::PerpOpen {
                        asset,
                        size: if dir > 0.0 { size } else { -size },
                        margin,
                    }),
                    self.tip,
                    None,
                    false,
                )));
                self.open = Some(Open {
                    asset: i,
                    dir,
                    since: view.t_s,
                    oracle: o,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// It trades only when the gap beats fees and gas, in the direction of the market.
    #[test]
    fn the_decision_rule_nets_fees_and_gas() {
        // Oracle 2,000, market 1,900: a short of 50 units earns 5,000 before costs.
        let (p, d) = expected_profit(1900.0, 2000.0, 100_000.0, 0.0005, 20.0);
        assert_eq!(d, -1.0);
        let want = 50.0 * 100.0 - 0.0005 * (100_000.0 + 50.0 * 1900.0) - 20.0;
        assert!((p - want).abs() < 1e-9, "{p} vs {want}");
        // Oracle below the market: long.
        assert_eq!(expected_profit(2100.0, 2000.0, 1e5, 0.0, 0.0).1, 1.0);
        // A gap smaller than the fees loses: 0.05% gap against 2 x 0.05% fees.
        assert!(expected_profit(1999.0, 2000.0, 1e5, 0.0005, 0.0).0 < 0.0);
        // Gas can eat a small gap on a small notional.
        assert!(expected_profit(1990.0, 2000.0, 1_000.0, 0.0, 10.0).0 < 0.0);
        assert!(expected_profit(1990.0, 2000.0, 100_000.0, 0.0, 10.0).0 > 0.0);
    }
}
