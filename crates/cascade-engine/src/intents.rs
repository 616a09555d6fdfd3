//! Intent-based liquidation (`engine.intents`): solvers' standing commitments to buy
//! liquidations at a discount, with capital locked, routed before the public race.
//!
//! This exists to measure a design the public race and the oracle order-flow auction do not
//! cover: liquidity committed ahead of time (UniswapX fillers and CoW solvers filling signed
//! intents, Euler v2's discount auction), priced by competition on the discount rather than
//! on gas. A solver posts a commitment with an `EngineOp::Commit` transaction: buy
//! liquidations of up to `size` quote of notional (at the oracle) for `duration_s` seconds at
//! `discount`, a fraction of the notional that replaces the public bonus. Its `size` quote
//! moves from its wallet into the engine's intent escrow (a ledger holder of its own, so the
//! vault's claims are untouched). The engine routes every liquidatable account, at the block
//! start and right after each oracle update lands, to the best live commitment: the lowest
//! discount (the most left to the liquidated account), ties to the earliest posted, then the
//! lower id. The fill is an ordinary fixed liquidation whose liquidator is the escrow and
//! whose bonus is the discount; the seized collateral goes on to the solver and the payment
//! comes out of the commitment's locked quote. A commitment that has expired, cannot pay, or
//! has less size left than the liquidation's notional is skipped; what no commitment takes
//! stays for the public race. Expired commitments return their quote at the next block start;
//! `EngineOp::Withdraw` returns it earlier.
//!
//! Invariant (checked with the engine's): the escrow holds exactly the live commitments'
//! locked quote and nothing else.

use crate::liquidation::SettlementMarket;
use crate::{Engine, EngineConfig, Outcome, Reason};
use cascade_core::{AccountId, Amount, Check, HolderId, Ledger, TokenId};
use cascade_market::venue::Venue;
use serde::{Deserialize, Serialize};

/// `engine.intents` (tag `kind`): off by default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IntentPolicy {
    /// No commitments: every liquidation goes to the public race.
    #[default]
    Off,
    /// Standing commitments routed before the public race.
    Commitments {
        /// The largest discount a commitment may ask, a fraction of the notional; at most the
        /// public bonus, so a fill never leaves the account worse off than the race.
        max_discount: f64,
        /// The longest a commitment may stand, seconds.
        max_duration_s: f64,
        /// The smallest size a commitment may have, quote.
        #[serde(default)]
        min_size: f64,
    },
}

impl IntentPolicy {
    pub fn is_off(&self) -> bool {
        matches!(self, IntentPolicy::Off)
    }

    /// Record every broken rule under `c` (the `engine.intents` table); `cfg` is the engine.
    pub fn validate(&self, c: &mut Check, cfg: &EngineConfig) {
        let IntentPolicy::Commitments {
            max_discount,
            max_duration_s,
            min_size,
        } = *self
        else {
            return;
        };
        c.non_negative("min_size", min_size);
        c.positive("max_duration_s", max_duration_s);
        match cfg.liquidation.bonus() {
            None => c.fail(
                "kind",
                "\"commitments\" routes fixed-bonus liquidations; engine.liquidation is a collateral auction (use full, close_factor, incremental or backstop, or intents = { kind = \"off\" })",
            ),
            Some(bonus) => {
                if !(0.0..=bonus).contains(&max_discount) {
                    c.fail(
                        "max_discount",
                        format!(
                            "must be in [0, engine.liquidation.bonus = {bonus}]: a commitment may not ask more than the public race pays (got {max_discount})"
                        ),
                    );
                }
            }
        }
        if cfg.options.is_some() {
            c.fail(
                "kind",
                "\"commitments\" does not fill option books; remove engine.options or set intents = { kind = \"off\" }",
            );
        }
    }
}

/// One solver's standing commitment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Commitment {
    pub id: u32,
    pub solver: HolderId,
    /// The bonus it takes, a fraction of the notional it buys (at the oracle).
    pub discount: f64,
    /// Notional it may still buy, quote.
    pub size_left: Amount,
    /// Quote it holds in the escrow.
    pub locked: Amount,
    pub posted_t_s: f64,
    pub expires_t_s: f64,
    pub live: bool,
}

impl Commitment {
    /// Whether it can take a fill at time `t_s`.
    pub fn usable(&self, t_s: f64) -> bool {
        self.live && t_s < self.expires_t_s && self.size_left.is_positive()
    }
}

/// The commitments of one run, the escrow that holds their capital and the run's tallies.
#[derive(Debug, Clone)]
pub(crate) struct IntentBook {
    escrow: HolderId,
    max_discount: f64,
    max_duration_s: f64,
    min_size: Amount,
    commitments: Vec<Commitment>,
    /// The integral of the locked quote over time (quote seconds), and where it stands.
    capital_time: f64,
    last_t_s: f64,
}

impl IntentBook {
    /// The book of `policy` (none when off), registering its escrow on `ledger`.
    pub(crate) fn new(policy: &IntentPolicy, ledger: &mut Ledger) -> Option<Box<IntentBook>> {
        let IntentPolicy::Commitments {
            max_discount,
            max_duration_s,
            min_size,
        } = *policy
        else {
            return None;
        };
        Some(Box::new(IntentBook {
            escrow: ledger.add_holder("engine:intent_escrow"),
            max_discount,
            max_duration_s,
            min_size: Amount::from_whole(min_size),
            commitments: Vec::new(),
            capital_time: 0.0,
            last_t_s: 0.0,
        }))
    }

    /// The usable commitments at `t_s`, best first: lowest discount, then earliest posted,
    /// then lowest id (a total order that reads no map).
    pub(crate) fn ranked(&self, t_s: f64) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.commitments.len())
            .filter(|&i| self.commitments[i].usable(t_s))
            .collect();
        idx.sort_by(|&i, &j| {
            let (a, b) = (&self.commitments[i], &self.commitments[j]);
            a.discount
                .total_cmp(&b.discount)
                .then(a.posted_t_s.total_cmp(&b.posted_t_s))
                .then(a.id.cmp(&b.id))
        });
        idx
    }

    fn total_locked(&self) -> Amount {
        self.commitments
            .iter()
            .filter(|c| c.live)
            .fold(Amount::ZERO, |s, c| s + c.locked)
    }
}

impl Engine {
    /// Every commitment posted in the run (empty with intents off), by id.
    pub fn commitments(&self) -> &[Commitment] {
        self.intents.as_ref().map_or(&[], |b| &b.commitments)
    }

    /// The intent escrow's holder, with intents on.
    pub fn intent_escrow(&self) -> Option<HolderId> {
        self.intents.as_ref().map(|b| b.escrow)
    }

    /// `EngineOp::Commit`: lock `size` quote from `sender` behind a new commitment.
    pub(crate) fn op_commit(
        &mut self,
        sender: HolderId,
        discount: f64,
        size: Amount,
        duration_s: f64,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let t_s = self.t_s;
        let book = self.intents.as_mut().ok_or("intents_off")?;
        if !(discount >= 0.0 && discount <= book.max_discount) {
            return Err("discount_out_of_range");
        }
        if !(duration_s > 0.0 && duration_s <= book.max_duration_s) {
            return Err("duration_out_of_range");
        }
        if !size.is_positive() || size < book.min_size {
            return Err("size_too_small");
        }
        ledger
            .transfer(sender, book.escrow, TokenId::QUOTE, size)
            .map_err(|_| "insufficient_balance")?;
        let id = book.commitments.len() as u32;
        book.commitments.push(Commitment {
            id,
            solver: sender,
            discount,
            size_left: size,
            locked: size,
            posted_t_s: t_s,
            expires_t_s: t_s + duration_s,
            live: true,
        });
        self.event(
            "intent_commit",
            None,
            Some(sender),
            size,
            discount,
            format!("commitment {id} until {:.0}s", t_s + duration_s),
        );
        Ok(Outcome::default())
    }

    /// `EngineOp::Withdraw`: the solver's live commitment ends and its quote returns.
    pub(crate) fn op_withdraw(
        &mut self,
        sender: HolderId,
        commitment: u32,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let book = self.intents.as_ref().ok_or("intents_off")?;
        let c = book
            .commitments
            .get(commitment as usize)
            .ok_or("no_commitment")?;
        if c.solver != sender {
            return Err("not_owner");
        }
        if !c.live {
            return Err("not_live");
        }
        self.release(commitment as usize, ledger);
        Ok(Outcome::default())
    }

    /// End commitment `i` and return its locked quote to its solver.
    fn release(&mut self, i: usize, ledger: &mut Ledger) {
        let Some(book) = self.intents.as_mut() else {
            return;
        };
        let c = &mut book.commitments[i];
        // The escrow holds exactly the live commitments' locked quote (the invariant).
        let back = ledger
            .transfer_up_to(book.escrow, c.solver, TokenId::QUOTE, c.locked)
            .unwrap_or(Amount::ZERO);
        debug_assert_eq!(back, c.locked);
        c.locked = Amount::ZERO;
        c.live = false;
        let (solver, id) = (c.solver, c.id);
        self.event(
            "intent_release",
            None,
            Some(solver),
            back,
            0.0,
            format!("commitment {id}"),
        );
    }

    /// The block start with intents on: account the capital held since the last block,
    /// return expired and used-up commitments' quote, then route. Returns the fills' flow.
    pub fn intents_block(
        &mut self,
        ledger: &mut Ledger,
        venues: &mut [Venue],
        market: Option<&dyn SettlementMarket>,
    ) -> Outcome {
        let t_s = self.t_s;
        let Some(book) = self.intents.as_mut() else {
            return Outcome::default();
        };
        let held = book.total_locked().to_whole();
        book.capital_time += held * (t_s - book.last_t_s).max(0.0);
        book.last_t_s = t_s;
        let done: Vec<usize> = (0..book.commitments.len())
            .filter(|&i| {
                let c = &book.commitments[i];
                c.live && (t_s >= c.expires_t_s || !c.size_left.is_positive())
            })
            .collect();
        for i in done {
            self.release(i, ledger);
        }
        self.route_intents(ledger, venues, market)
    }

    /// Route every liquidatable account to the best live commitment that can take it (see the
    /// module doc); what none takes is left to the public race. Returns the fills' flow.
    pub fn route_intents(
        &mut self,
        ledger: &mut Ledger,
        venues: &mut [Venue],
        market: Option<&dyn SettlementMarket>,
    ) -> Outcome {
        let mut out = Outcome::default();
        let Some(book) = self.intents.as_ref() else {
            return out;
        };
        if book.ranked(self.t_s).is_empty() || self.mechanism.is_auction() {
            return out;
        }
        let public_bonus = self.bonus();
        for id in self.liquidatable_now() {
            if self.accounts[id.index()].has_options() {
                continue;
            }
            let ranked = match self.intents.as_ref() {
                Some(b) => b.ranked(self.t_s),
                None => break,
            };
            for i in ranked {
                if self.fill(id, i, public_bonus, &mut out, ledger, venues, market) {
                    break;
                }
            }
        }
        // Auto-deleveraging inside a fill closed positions: their flow goes out too.
        out.offvenue_flow.append(&mut self.pending_flow);
        out
    }

    /// Try to fill account `id` from commitment `i`; whether it filled.
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        id: AccountId,
        i: usize,
        public_bonus: f64,
        out: &mut Outcome,
        ledger: &mut Ledger,
        venues: &mut [Venue],
        market: Option<&dyn SettlementMarket>,
    ) -> bool {
        let Some(book) = self.intents.as_ref() else {
            return false;
        };
        let (c, escrow) = (book.commitments[i], book.escrow);
        let Ok(plan) = self.plan_at_bonus(id, &self.prices, c.discount) else {
            return false;
        };
        let mut notional = Amount::ZERO;
        if plan.asset.is_some() {
            notional += plan.repay;
        }
        if let Some(a) = plan.perp_asset {
            notional += plan.perp_close.abs().value_floor(self.prices[a]);
        }
        if !notional.is_positive() || notional > c.size_left || plan.pay > c.locked {
            return false;
        }
        let q0 = ledger.balance(escrow, TokenId::QUOTE);
        let before = self.before_liquidation(id);
        // The solver committed to the fill: no profit floor (its discount is its profit).
        let floor = Amount(i128::MIN / 4);
        let res = self.liquidate_fixed(
            escrow, id, plan, None, floor, before, ledger, venues, market,
        );
        let Ok(mut o) = res else {
            return false;
        };
        out.swaps.append(&mut o.swaps);
        out.offvenue_flow.append(&mut o.offvenue_flow);
        out.liquidation = true;
        // The seized collateral goes on to the solver; a quote gain (the perp bonus) too; a
        // payment comes out of the commitment's locked quote.
        for t in 1..ledger.n_tokens() {
            let t = TokenId(t as u16);
            let got = ledger.balance(escrow, t);
            if got.is_positive() {
                let _ = ledger.transfer(escrow, c.solver, t, got);
            }
        }
        let dq = ledger.balance(escrow, TokenId::QUOTE) - q0;
        if dq.is_positive() {
            let _ = ledger.transfer(escrow, c.solver, TokenId::QUOTE, dq);
        }
        let surplus = (public_bonus - c.discount) * notional.to_whole();
        if let Some(book) = self.intents.as_mut() {
            let cm = &mut book.commitments[i];
            if dq.is_negative() {
                cm.locked += dq;
            }
            cm.size_left -= notional;
        }
        self.metrics.intent_fills += 1;
        self.metrics.intent_surplus_to_protocol += surplus;
        self.metrics.intent_surplus_to_solvers += c.discount * notional.to_whole();
        self.event(
            "intent_fill",
            Some(id),
            Some(c.solver),
            notional,
            c.discount,
            format!("commitment {}", c.id),
        );
        true
    }

    /// The time-mean of the quote locked in commitments over the run so far.
    pub(crate) fn committed_capital_mean(&self) -> f64 {
        match &self.intents {
            Some(b) if b.last_t_s > 0.0 => b.capital_time / b.last_t_s,
            _ => 0.0,
        }
    }

    /// The escrow holds exactly the live commitments' locked quote, and no other token.
    pub(crate) fn check_intents(&self, ledger: &Ledger) -> Result<(), String> {
        let Some(book) = &self.intents else {
            return Ok(());
        };
        for c in &book.commitments {
            if c.locked.is_negative() || (!c.live && !c.locked.is_zero()) {
                return Err(format!(
                    "commitment {} locks {} (live: {})",
                    c.id,
                    c.locked.raw(),
                    c.live
                ));
            }
        }
        let held = ledger.balance(book.escrow, TokenId::QUOTE);
        if held != book.total_locked() {
            return Err(format!(
                "intent escrow holds {} quote, commitments lock {}",
                held.raw(),
                book.total_locked().raw()
            ));
        }
        for t in 1..ledger.n_tokens() {
            if !ledger.balance(book.escrow, TokenId(t as u16)).is_zero() {
                return Err(format!("intent escrow holds token {t}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(cs: &[(f64, f64, f64, f64, bool)]) -> IntentBook {
        // (discount, posted, expires, size_left, live)
        IntentBook {
            escrow: HolderId(0),
            max_discount: 0.05,
            max_duration_s: 7_200.0,
            min_size: Amount::ZERO,
            commitments: cs
                .iter()
                .enumerate()
                .map(|(i, &(d, p, e, s, live))| Commitment {
                    id: i as u32,
                    solver: HolderId(i as u32 + 1),
                    discount: d,
                    size_left: Amount::from_whole(s),
                    locked: Amount::from_whole(s),
                    posted_t_s: p,
                    expires_t_s: e,
                    live,
                })
                .collect(),
            capital_time: 0.0,
            last_t_s: 0.0,
        }
    }

    #[test]
    fn routing_order_is_lowest_discount_then_earliest_then_id() {
        let b = book(&[
            (0.03, 0.0, 1e4, 1e5, true),
            (0.01, 50.0, 1e4, 1e5, true),
            (0.01, 10.0, 1e4, 1e5, true),
            (0.02, 0.0, 1e4, 1e5, true),
            (0.01, 10.0, 1e4, 1e5, true),
        ]);
        assert_eq!(b.ranked(100.0), vec![2, 4, 1, 3, 0]);
    }

    #[test]
    fn expired_exhausted_and_withdrawn_commitments_are_skipped() {
        let b = book(&[
            (0.005, 0.0, 100.0, 1e5, true), // expired at 100 s
            (0.006, 0.0, 1e4, 0.0, true),   // used up
            (0.007, 0.0, 1e4, 1e5, false),  // withdrawn
            (0.02, 0.0, 1e4, 1e5, true),
        ]);
        assert_eq!(b.ranked(99.0), vec![0, 3]);
        assert_eq!(b.ranked(100.0), vec![3]);
        // An expired commitment locks its quote until the next block start releases it.
        assert_eq!(b.total_locked(), Amount::from_whole(2e5));
    }
}
