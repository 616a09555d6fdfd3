//! The manipulator: pumps its own collateral on the thin pool the oracle reads, borrows
//! against it at the inflated price and walks away (the Mango Markets pattern, October 2022).
//!
//! It holds `inventory` units of an asset whose engine oracle is the TWAP of a constant-product
//! pool (`feed = { kind = "twap", venue, window_s }`; a short window is a spot oracle). Each
//! block, while idle, it prices every campaign of `n = 1..=max_push_blocks` pushes that hold
//! the pool at `p_ref (1 + d)` (`d` on a grid up to `max_push`), with the arithmetic the MEV
//! bot's TWAP campaigns use (`crate::manipulation`): the engine's price after the pushes
//! `E(d, n)` ([`forecast_twap`]), the value the first push loses at `p_ref` and each later one
//! after the arbitrageurs have pulled the pool back ([`push_cost`], [`restore`]). Depositing
//! its `C` units and borrowing the most the initial margin allows at `E`,
//! `B = ltv_share (1 - r_init) C E`, and never repaying, it gains
//!
//! `profit(d, n) = B - C p_ref - C_1 - (n - 1) C_ss - n gas_push - gas_borrow`
//!
//! (it gives up collateral worth `C p_ref` at the market). It starts the best campaign when that
//! beats `min_profit`, pushes every block of it, and borrows in the block after the last push
//! (at the engine's price then, keeping on pushing that block so the TWAP holds). Once the
//! loan lands it is done: the account, worth `C p_ref` against a debt `B`, is left to the
//! liquidators, and what they cannot recover is the protocol's bad debt. The pushes' tokens
//! stay in its wallet. It acts through public transactions only.

use crate::config::BuildCtx;
use crate::manipulation::{forecast_twap, push_cost, restore};
use crate::view::TwapSource;
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::tx::{EngineOp, GasKind, Side};
use cascade_core::{Action, AgentId, Amount, AssetId, Check, HolderId, TokenId};
use cascade_engine::Req;
use cascade_market::venue::Cpmm;
use serde::{Deserialize, Serialize};

/// Displacements priced per campaign length: `max_push * k / PUSH_GRID`, `k = 1..=PUSH_GRID`.
const PUSH_GRID: u32 = 12;
/// A push reverts when it would get less than this share of its quoted output.
const PUSH_SLIPPAGE: f64 = 0.02;
/// Blocks it tries to land the loan before giving the campaign up.
const BORROW_TRIES: u32 = 3;

fn one() -> u32 {
    1
}
fn d_push() -> f64 {
    2.0
}
fn d_blocks() -> u32 {
    10
}
fn d_ltv() -> f64 {
    0.98
}
fn d_tip() -> f64 {
    3.0
}

/// `[[agents]] kind = "manipulator"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManipulatorConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// The asset it holds and pumps (its engine oracle must be a TWAP of a cpmm).
    pub asset: String,
    /// Quote per manipulator at genesis (what pays for the pushes).
    #[serde(default)]
    pub capital: f64,
    /// Whole units of `asset` per manipulator at genesis: the collateral it borrows against.
    #[serde(default)]
    pub inventory: f64,
    /// Largest displacement of the pool above `p_ref` it considers (1.0: twice the market).
    #[serde(default = "d_push")]
    pub max_push: f64,
    /// Most blocks a campaign pushes.
    #[serde(default = "d_blocks")]
    pub max_push_blocks: u32,
    /// Share of the most the initial margin allows that it borrows (headroom for rounding
    /// and the TWAP moving before the loan lands).
    #[serde(default = "d_ltv")]
    pub ltv_share: f64,
    /// Minimum expected profit of a campaign, quote.
    #[serde(default)]
    pub min_profit: f64,
    #[serde(default = "d_tip")]
    pub tip_gwei: f64,
}

impl ManipulatorConfig {
    pub fn validate(&self, c: &mut Check, assets: &[String]) {
        if !assets.iter().any(|a| a == &self.asset) {
            c.fail(
                "asset",
                format!(
                    "names no configured asset (got \"{}\"; assets: {})",
                    self.asset,
                    assets.join(", ")
                ),
            );
        }
        c.non_negative("capital", self.capital);
        c.positive("inventory", self.inventory);
        c.positive("max_push", self.max_push);
        c.positive_int("max_push_blocks", self.max_push_blocks as u64);
        c.ensure(
            self.ltv_share > 0.0 && self.ltv_share <= 1.0,
            "ltv_share",
            || {
                format!(
                    "the share of the largest loan it takes: must be in (0, 1] (got {})",
                    self.ltv_share
                )
            },
        );
        c.non_negative("min_profit", self.min_profit);
        c.non_negative("tip_gwei", self.tip_gwei);
    }
}

/// Where a manipulator stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Looking for a campaign that pays.
    Idle,
    /// Holding the pool at `target` (a multiple of `p_ref`), `left` more pushes before the
    /// loan; then borrowing (still pushing), at most `BORROW_TRIES` times.
    Pushing { target: f64, left: u32, tries: u32 },
    /// The loan landed: it walked away.
    Done,
}

/// A campaign's expected profit (module doc): the loan, less the collateral's market value
/// given up, the first push's cost and `n - 1` later ones (`push = [C_1, C_ss]`), `n` pushes'
/// gas and the loan's.
pub fn campaign_profit(
    loan: f64,
    collateral_value: f64,
    push: [f64; 2],
    n: u32,
    gas_push: f64,
    gas_borrow: f64,
) -> f64 {
    let n = n.max(1) as f64;
    loan - collateral_value - push[0] - (n - 1.0) * push[1] - n * gas_push - gas_borrow
}

/// The best campaign found this block.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The pool's target, as a multiple of `p_ref`.
    pub lift: f64,
    /// Pushes before the loan.
    pub pushes: u32,
    /// Expected profit, quote.
    pub profit: f64,
}

pub struct Manipulator {
    holder: HolderId,
    label: String,
    cfg: ManipulatorConfig,
    asset: AssetId,
    tip: u128,
    phase: Phase,
}

impl Manipulator {
    pub fn build(cfg: &ManipulatorConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let Some(asset) = ctx.asset_id(&cfg.asset) else {
            return Vec::new();
        };
        (0..cfg.count)
            .map(|_| {
                let (i, _rng) = ctx.next_stream(cascade_core::rng::streams::MANIPULATORS);
                let label = format!("manipulator-{i}");
                let holder = ctx.wallet(&label, cfg.capital, cfg.inventory, &[asset]);
                Box::new(Manipulator {
                    holder,
                    label,
                    cfg: cfg.clone(),
                    asset,
                    tip: gwei(cfg.tip_gwei),
                    phase: Phase::Idle,
                }) as Box<dyn Agent>
            })
            .collect()
    }

    /// The loan `C` units of collateral carry at engine price `e` under initial ratio
    /// `r_init`: `ltv_share (1 - r_init) C e`.
    pub fn loan(&self, c: f64, e: f64, r_init: f64) -> f64 {
        self.cfg.ltv_share * (1.0 - r_init).max(0.0) * c * e
    }

    /// The best campaign on `pool` (module doc), if any beats `min_profit`.
    pub fn plan(&self, view: &View<'_>, src: TwapSource, pool: &Cpmm, r_init: f64) -> Option<Plan> {
        let a = self.asset.index();
        let p = view.p_ref[a];
        let c = view.balance(self.holder, self.asset.token()).to_whole();
        let budget = view.balance(self.holder, TokenId::QUOTE).to_whole();
        if !(p > 0.0 && c > 0.0) {
            return None;
        }
        let window_s = src.window_s;
        let hist = |w: f64| view.oracles.venue_twap(src.venue, view.t_s, w);
        let gas_push = view.fee_estimate(GasKind::Swap, self.tip).to_whole();
        let gas_borrow = view.fee_estimate(GasKind::Open, self.tip).to_whole();
        let arb_gas = view.fee_estimate(GasKind::Swap, 0);
        let mut start = pool.clone();
        restore(&mut start, p, arb_gas);
        let mut best: Option<Plan> = None;
        for k in 1..=PUSH_GRID {
            let lift = 1.0 + self.cfg.max_push * k as f64 / PUSH_GRID as f64;
            let target = p * lift;
            let mut first = start.clone();
            let Some((side, x1, _, c1)) = push_cost(&mut first, target, p) else {
                continue;
            };
            if side != Side::Buy || x1.to_whole() > budget {
                continue;
            }
            let mut again = first.clone();
            let c_ss = if restore(&mut again, p, arb_gas) {
                push_cost(&mut again, target, p).map_or(Amount::ZERO, |r| r.3)
            } else {
                Amount::ZERO
            };
            for n in 1..=self.cfg.max_push_blocks {
                // The engine's price in the block after the n-th push.
                let Some(e) = forecast_twap(
                    hist,
                    view.t_s,
                    view.block_time_s,
                    window_s,
                    pool.price(),
                    target,
                    n + 1,
                ) else {
                    continue;
                };
                let profit = campaign_profit(
                    self.loan(c, e, r_init),
                    c * p,
                    [c1.to_whole(), c_ss.to_whole()],
                    n,
                    gas_push,
                    gas_borrow,
                );
                if best.is_none_or(|b| profit > b.profit) {
                    best = Some(Plan {
                        lift,
                        pushes: n,
                        profit,
                    });
                }
            }
        }
        best.filter(|b| b.profit > self.cfg.min_profit)
    }

    /// The swap that holds `pool` at `target`, after the arbitrageurs, as a public
    /// transaction.
    fn push(
        &self,
        view: &View<'_>,
        src: TwapSource,
        pool: &Cpmm,
        target: f64,
        out: &mut Vec<Submission>,
    ) {
        let a = self.asset.index();
        let venue = src.venue;
        let mut after = pool.clone();
        restore(
            &mut after,
            view.p_ref[a],
            view.fee_estimate(GasKind::Swap, 0),
        );
        let Some((side, amount_in, amount_out, _)) = push_cost(&mut after, target, view.p_ref[a])
        else {
            return;
        };
        if side != Side::Buy || amount_in > view.balance(self.holder, TokenId::QUOTE) {
            return;
        }
        out.push(Submission::Tx(view.request(
            Action::Swap {
                venue,
                side,
                amount_in,
                min_out: amount_out.scale_floor(1.0 - PUSH_SLIPPAGE),
            },
            self.tip,
            None,
            false,
        )));
    }
}

impl Agent for Manipulator {
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
        if self.phase == Phase::Done {
            return;
        }
        for t in view.my_pending(me) {
            out.push(Submission::Cancel(t.id));
        }
        let a = self.asset.index();
        let Some(src) = view.twap_oracles.get(a).copied().flatten() else {
            return;
        };
        let Some(pool) = view.venues.get(src.venue.index()).and_then(|v| v.as_cpmm()) else {
            return;
        };
        // The loan landed: walk away.
        if engine
            .account_of(self.holder)
            .and_then(|id| engine.account(id))
            .is_some_and(|acc| acc.debt.is_positive())
        {
            self.phase = Phase::Done;
            return;
        }
        let c = view.balance(self.holder, self.asset.token());
        let r_init = engine.margin().ratio(a, c.to_whole(), Req::Initial);
        match self.phase {
            Phase::Idle => {
                if let Some(plan) = self.plan(view, src, pool, r_init) {
                    self.phase = Phase::Pushing {
                        target: plan.lift,
                        left: plan.pushes - 1,
                        tries: 0,
                    };
                    self.push(view, src, pool, view.p_ref[a] * plan.lift, out);
                }
            }
            Phase::Pushing {
                target,
                left,
                tries,
            } => {
                if tries >= BORROW_TRIES {
                    self.phase = Phase::Idle;
                    return;
                }
                self.push(view, src, pool, view.p_ref[a] * target, out);
                self.phase = Phase::Pushing {
                    target,
                    left: left.saturating_sub(1),
                    tries: if left == 0 { tries + 1 } else { 0 },
                };
                if left > 0 {
                    return;
                }
                // Borrow at the engine's price now, if walking away still pays; else give up.
                let e = view.oracle[a];
                let borrow = self.loan(c.to_whole(), e, r_init);
                let gain = borrow - c.to_whole() * view.p_ref[a];
                if gain > self.cfg.min_profit {
                    out.push(Submission::Tx(view.request(
                        Action::Engine(EngineOp::Borrow {
                            asset: self.asset,
                            collateral: c,
                            borrow: Amount::from_whole_floor(borrow),
                        }),
                        self.tip,
                        None,
                        false,
                    )));
                } else {
                    self.phase = Phase::Idle;
                }
            }
            Phase::Done => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walking away pays only when the loan at the pumped price beats the collateral's market
    /// value plus every push: with 20% initial margin the oracle must rise above
    /// `1 / (0.8 ltv_share)` of the market before the pushes are even paid for.
    #[test]
    fn the_attack_pays_only_above_the_margin_breakeven() {
        let (c, p, r) = (1_000_000.0, 1.0, 0.2);
        let loan = |e: f64| 0.98 * (1.0 - r) * c * e;
        let breakeven = 1.0 / (0.98 * 0.8);
        let pushes = [20_000.0, 15_000.0];
        assert!(campaign_profit(loan(breakeven * 0.999), c * p, [0.0, 0.0], 1, 0.0, 0.0) < 0.0);
        assert!(campaign_profit(loan(breakeven * 1.001), c * p, [0.0, 0.0], 1, 0.0, 0.0) > 0.0);
        // At twice the market: 1.568 M - 1 M = 568 k before costs; ten pushes cost 155 k.
        let v = campaign_profit(loan(2.0), c * p, pushes, 10, 100.0, 200.0);
        let want = 0.98 * 0.8 * 2.0e6 - 1.0e6 - 20_000.0 - 9.0 * 15_000.0 - 1_000.0 - 200.0;
        assert!((v - want).abs() < 1e-6, "{v} vs {want}");
        // The same pump is not worth it when each push costs more than the loan gains.
        assert!(campaign_profit(loan(2.0), c * p, [80_000.0, 60_000.0], 10, 0.0, 0.0) < 0.0);
    }
}
