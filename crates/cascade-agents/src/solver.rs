//! Intent solvers: liquidators who post standing commitments (`engine.intents`) instead of
//! racing, and decide from their own profit when to post, renew and withdraw.
//!
//! A solver holds at most one commitment at a time. It estimates the liquidation flow, in
//! quote of notional per hour, as an exponentially weighted mean of the engine's liquidated
//! notional with half-life `flow_half_life_s`, starting from its prior `expected_flow_per_hour`.
//! It expects the share `1 / (1 + k)` of the flow, `k` the other usable commitments that ask
//! no more than it does (the engine routes to the lowest discount first). A commitment of
//! size `S` for `T` seconds at discount `d` is then worth
//! `d min(S, share flow T / 3600) - rho S T / year - gas`, `rho` its opportunity cost of
//! locked capital per year (`capital_cost_per_year`): it posts when that beats `min_profit`
//! (a renewal is the same decision once its last commitment has expired or filled up), and it
//! withdraws a live commitment, paying the gas of a withdrawal, when the rest of it is worth
//! less than that gas. The collateral its fills buy it holds. It draws no random numbers.

use crate::config::BuildCtx;
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::tx::{EngineOp, GasKind};
use cascade_core::{Action, AgentId, Amount, Check, HolderId, TokenId};
use cascade_market::SECONDS_PER_YEAR;
use serde::{Deserialize, Serialize};

fn one() -> u32 {
    1
}
fn d_capital() -> f64 {
    5_000_000.0
}
fn d_tip() -> f64 {
    2.0
}
fn d_half_life() -> f64 {
    3_600.0
}

/// `[[agents]] kind = "solver"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SolverConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// Quote per solver at genesis.
    #[serde(default = "d_capital")]
    pub capital: f64,
    /// The discount it asks, a fraction of the notional it buys (at most
    /// `engine.intents.max_discount`).
    pub discount: f64,
    /// Notional per commitment, quote (all of it locked).
    pub size: f64,
    /// How long each commitment stands, seconds (at most `engine.intents.max_duration_s`).
    pub duration_s: f64,
    /// Opportunity cost of locked capital, a rate per year.
    #[serde(default)]
    pub capital_cost_per_year: f64,
    /// Its prior liquidation flow, quote of notional per hour.
    pub expected_flow_per_hour: f64,
    /// Half-life of its estimate of the flow, seconds.
    #[serde(default = "d_half_life")]
    pub flow_half_life_s: f64,
    /// Minimum expected profit of a new commitment, net of gas, quote.
    #[serde(default)]
    pub min_profit: f64,
    #[serde(default = "d_tip")]
    pub tip_gwei: f64,
}

impl SolverConfig {
    pub fn validate(&self, c: &mut Check) {
        c.positive_int("count", self.count as u64);
        c.non_negative("capital", self.capital);
        c.range("discount", self.discount, 0.0, 1.0);
        c.positive("size", self.size);
        if self.size > self.capital {
            c.fail(
                "size",
                format!(
                    "must not exceed capital (the whole size is locked; got size {} > capital {})",
                    self.size, self.capital
                ),
            );
        }
        c.positive("duration_s", self.duration_s);
        c.non_negative("capital_cost_per_year", self.capital_cost_per_year);
        c.non_negative("expected_flow_per_hour", self.expected_flow_per_hour);
        c.positive("flow_half_life_s", self.flow_half_life_s);
        c.non_negative("min_profit", self.min_profit);
        c.non_negative("tip_gwei", self.tip_gwei);
    }
}

/// One solver.
pub struct Solver {
    holder: HolderId,
    label: String,
    cfg: SolverConfig,
    tip: u128,
    /// Its estimate of the liquidation flow, quote of notional per hour.
    flow: f64,
    /// The engine's liquidated notional and the time when it last looked.
    seen: Option<(f64, f64)>,
}

impl Solver {
    pub fn build(cfg: &SolverConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        (0..cfg.count)
            .map(|_| {
                let (i, _rng) = ctx.next_stream(cascade_core::rng::streams::SOLVERS);
                let label = format!("solver-{i}");
                let holder = ctx.wallet(&label, cfg.capital, 0.0, &[]);
                Box::new(Solver {
                    holder,
                    label,
                    cfg: cfg.clone(),
                    tip: gwei(cfg.tip_gwei),
                    flow: cfg.expected_flow_per_hour,
                    seen: None,
                }) as Box<dyn Agent>
            })
            .collect()
    }

    /// Update the flow estimate from the engine's liquidated notional.
    fn observe(&mut self, notional: f64, t_s: f64) {
        if let Some((n0, t0)) = self.seen {
            let dt = t_s - t0;
            if dt > 0.0 {
                let rate = (notional - n0).max(0.0) / dt * 3_600.0;
                let w = 1.0 - (-dt * std::f64::consts::LN_2 / self.cfg.flow_half_life_s).exp();
                self.flow += w * (rate - self.flow);
            }
        }
        self.seen = Some((notional, t_s));
    }

    /// The value of holding `locked` quote ready to buy up to `size` of notional for `span`
    /// seconds, before gas, when it expects `share` of the flow.
    fn worth(&self, size: f64, locked: f64, span: f64, share: f64) -> f64 {
        let fills = size.min(share * self.flow * span / 3_600.0);
        self.cfg.discount * fills
            - self.cfg.capital_cost_per_year * locked * span / SECONDS_PER_YEAR
    }
}

impl Agent for Solver {
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
        self.observe(engine.metrics().liquidated_notional, view.t_s);
        if engine.intent_escrow().is_none() || view.has_pending(me) {
            return;
        }
        let t = view.t_s;
        let all = engine.commitments();
        let mine = all.iter().find(|c| c.solver == self.holder && c.usable(t));
        // Rivals it shares the flow with: usable commitments asking no more than it does.
        let rivals = all
            .iter()
            .filter(|c| c.solver != self.holder && c.usable(t) && c.discount <= self.cfg.discount)
            .count();
        let share = 1.0 / (1.0 + rivals as f64);
        let gas = view.fee_estimate(GasKind::Deposit, self.tip).to_whole();
        let request = |op| view.request(Action::Engine(op), self.tip, None, false);
        match mine {
            Some(c) => {
                let span = c.expires_t_s - t;
                let rest = self.worth(c.size_left.to_whole(), c.locked.to_whole(), span, share);
                if rest + gas < 0.0 {
                    out.push(Submission::Tx(request(EngineOp::Withdraw {
                        commitment: c.id,
                    })));
                }
            }
            None => {
                let size = self.cfg.size;
                let value = self.worth(size, size, self.cfg.duration_s, share) - gas;
                let wallet = view.balance(self.holder, TokenId::QUOTE).to_whole();
                if value > self.cfg.min_profit && wallet >= size + 2.0 * gas {
                    out.push(Submission::Tx(request(EngineOp::Commit {
                        discount: self.cfg.discount,
                        size: Amount::from_whole(size),
                        duration_s: self.cfg.duration_s,
                    })));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solver(flow: f64, rho: f64) -> Solver {
        Solver {
            holder: HolderId(0),
            label: "solver-0".into(),
            cfg: SolverConfig {
                count: 1,
                capital: 1e6,
                discount: 0.02,
                size: 1e5,
                duration_s: 3_600.0,
                capital_cost_per_year: rho,
                expected_flow_per_hour: flow,
                flow_half_life_s: 3_600.0,
                min_profit: 0.0,
                tip_gwei: 1.0,
            },
            tip: 0,
            flow,
            seen: None,
        }
    }

    #[test]
    fn worth_is_discount_on_expected_fills_less_capital_cost() {
        let s = solver(50_000.0, 0.10);
        // Half the size fills in an hour: 0.02 x 50,000 = 1,000; capital 0.1 x 1e5 / 8766.
        let w = s.worth(1e5, 1e5, 3_600.0, 1.0);
        assert!((w - (1_000.0 - 0.10 * 1e5 * 3_600.0 / SECONDS_PER_YEAR)).abs() < 1e-9);
        // A rival halves the share, capped fills by size.
        assert!(s.worth(1e5, 1e5, 3_600.0, 0.5) < w);
        assert!((s.worth(1e3, 0.0, 3_600.0, 1.0) - 20.0).abs() < 1e-9);
    }

    #[test]
    fn flow_estimate_decays_with_its_half_life() {
        let mut s = solver(1_000.0, 0.0);
        s.observe(0.0, 0.0);
        s.observe(0.0, 3_600.0);
        assert!((s.flow - 500.0).abs() < 1e-9);
        // 10,000 of notional in the next hour pulls it halfway to 10,000/h.
        s.observe(10_000.0, 7_200.0);
        assert!((s.flow - 5_250.0).abs() < 1e-9);
    }
}
