//! The structure of a cascade: which liquidation's forced flow induced which (generations),
//! how many offspring a generation has (the branching ratio), how long the chain runs, and
//! how much of the positions the exogenous stress put at risk the liquidations consumed.
//!
//! The causal rule (`causal.rs`) says whether a liquidation is exogenous (generation 0). An
//! induced liquidation is attributed to the forced flow before it: at its moment the oracle
//! stands at `p_cf exp(m)` per asset, `p_cf` the oracle price `p_exo` alone gives and `m` the
//! induced log move. Its *threshold share* `theta` is the smallest share of that move at which
//! the account, as it stood, is liquidatable (`p_cf exp(theta m)`, found by bisection). The
//! induced move is attributed to the liquidations before it pro rata to their liquidated
//! notional (the forced flow each one sent to the market), so the flow accumulated up to and
//! including the latest generation-`k` liquidation explains the share `Q_k / Q` of it, `Q`
//! being all liquidated notional before this one. The liquidation is of generation `k + 1`
//! for the smallest `k` with `Q_k >= theta Q`: it would not have been liquidatable without
//! the forced flow accumulated up to the latest generation-`k` liquidation, but was with it.
//! Generations are assigned in the order of the liquidations with each one's final
//! classification (a liquidation the exogenous path explains later is generation 0).
//!
//! Invariant: the generation-0 notional is the exogenous liquidated notional and the rest is
//! the induced notional, so the structure refines the causal measure and never contradicts it.

use crate::Engine;
use crate::account::Account;
use cascade_core::{AccountId, Amount};

/// One liquidation as the cascade structure sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LiqRecord {
    pub(crate) account: AccountId,
    pub(crate) block: u64,
    /// Liquidated notional at `p_ref`, quote.
    pub(crate) notional: f64,
    /// Liquidated notional of every earlier liquidation of the run, quote.
    pub(crate) before: f64,
    /// The threshold share of the induced move (0 for a liquidation exogenous at once).
    pub(crate) theta: f64,
    /// The causal classification, final once the run ends.
    pub(crate) exogenous: bool,
}

/// An account's first liquidation, for `cluster_consumed`: the account as it stood, its
/// exposure then at `p_ref`, and the notional liquidated from it over the run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FirstLiq {
    pub(crate) account: Account,
    pub(crate) exposure: f64,
    pub(crate) liquidated: f64,
    pub(crate) exogenous: bool,
}

/// The run's cascade structure so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Structure {
    pub(crate) log: Vec<LiqRecord>,
    /// Sum of the notional in `log`.
    pub(crate) total: f64,
    /// Per account id (grown on demand), its first liquidation.
    pub(crate) first: Vec<Option<Box<FirstLiq>>>,
    /// Per asset, the lowest and highest oracle price `p_exo` alone gave over the run.
    pub(crate) cf_low: Vec<f64>,
    pub(crate) cf_high: Vec<f64>,
}

/// Generations of liquidations given in run order as `(notional, before, theta,
/// exogenous)`: 0 for an exogenous one; for an induced one `k + 1`, `k` the smallest
/// generation so far whose front (the liquidated notional accumulated up to and including its
/// latest liquidation) reaches `theta * before`; one past the largest generation so far when
/// none does (an induced liquidation with no liquidation before it is generation 1).
pub fn generations(liqs: &[(f64, f64, f64, bool)]) -> Vec<u32> {
    let mut fronts: Vec<f64> = Vec::new();
    let mut out = Vec::with_capacity(liqs.len());
    for &(notional, before, theta, exogenous) in liqs {
        let g = if exogenous {
            0
        } else {
            let need = theta * before;
            match fronts.iter().position(|&q| q > 0.0 && q >= need) {
                Some(k) => k + 1,
                None => fronts.len().max(1),
            }
        };
        if fronts.len() <= g {
            fronts.resize(g + 1, 0.0);
        }
        fronts[g] = before + notional;
        out.push(g as u32);
    }
    out
}

/// The pooled branching ratio of notional per generation `n[k]` (Harris's estimator of the
/// mean offspring of a branching process): the notional of generations 1..=K over that of
/// generations 0..K, `K` the last generation; 0 without an induced generation or without
/// notional in the parents.
pub fn branching_ratio(n: &[f64]) -> f64 {
    if n.len() < 2 {
        return 0.0;
    }
    let offspring: f64 = n[1..].iter().sum();
    let parents: f64 = n[..n.len() - 1].iter().sum();
    if parents > 0.0 {
        offspring / parents
    } else {
        0.0
    }
}

/// The per-run summary of the structure.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StructureMetrics {
    pub branching_ratio: f64,
    pub longest_chain: u32,
    pub cluster_consumed: f64,
}

impl Structure {
    /// Final generations of the liquidations so far.
    pub(crate) fn generations(&self) -> Vec<u32> {
        let v: Vec<(f64, f64, f64, bool)> = self
            .log
            .iter()
            .map(|r| (r.notional, r.before, r.theta, r.exogenous))
            .collect();
        generations(&v)
    }

    /// Track the exogenous path's extremes.
    pub(crate) fn observe_cf(&mut self, cf: &[f64]) {
        if self.cf_low.is_empty() {
            self.cf_low = cf.to_vec();
            self.cf_high = cf.to_vec();
        }
        for (a, &p) in cf.iter().enumerate() {
            self.cf_low[a] = self.cf_low[a].min(p);
            self.cf_high[a] = self.cf_high[a].max(p);
        }
    }
}

impl Engine {
    /// The threshold share of the induced move for `acc` (as it stood before its
    /// liquidation): the smallest `theta` in `[0, 1]` with `acc` liquidatable at `p_cf
    /// exp(theta ln(p / p_cf))`, by bisection to 2^-30 (health is monotone in `theta` for an
    /// account exposed to one asset; for several, the bisection's answer is the definition).
    pub(crate) fn threshold_share(&self, acc: &Account) -> f64 {
        let (p, cf) = (&self.prices, &self.cf_prices);
        let at = |theta: f64| -> bool {
            let q: Vec<f64> = (0..self.n_assets)
                .map(|a| cf[a] * (theta * (p[a] / cf[a]).ln()).exp())
                .collect();
            self.triggered(&self.health_of(acc, &q))
        };
        if at(0.0) {
            return 0.0;
        }
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..30 {
            let mid = 0.5 * (lo + hi);
            if at(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    /// Log a liquidation of `id` (`acc` as it stood before it, `exposure` its exposure then
    /// at `p_ref`) for the structure; returns its index in the log.
    pub(crate) fn log_liquidation(
        &mut self,
        id: AccountId,
        acc: &Account,
        exposure: f64,
        notional: f64,
        exogenous_now: bool,
    ) -> usize {
        let theta = if exogenous_now {
            0.0
        } else {
            self.threshold_share(acc)
        };
        let s = &mut self.structure;
        s.log.push(LiqRecord {
            account: id,
            block: self.block,
            notional,
            before: s.total,
            theta,
            exogenous: exogenous_now,
        });
        s.total += notional;
        let i = id.index();
        if s.first.len() <= i {
            s.first.resize(i + 1, None);
        }
        match &mut s.first[i] {
            Some(f) => {
                f.liquidated += notional;
                f.exogenous |= exogenous_now;
            }
            None => {
                s.first[i] = Some(Box::new(FirstLiq {
                    account: acc.clone(),
                    exposure,
                    liquidated: notional,
                    exogenous: exogenous_now,
                }))
            }
        }
        s.log.len() - 1
    }

    /// The `i`-th logged liquidation turned out exogenous.
    pub(crate) fn mark_exogenous(&mut self, i: usize) {
        let s = &mut self.structure;
        s.log[i].exogenous = true;
        let a = s.log[i].account.index();
        if let Some(f) = s.first[a].as_mut() {
            f.exogenous = true;
        }
    }

    /// Branching ratio, longest chain and cluster consumed so far; `p_ref` values the
    /// exposure of accounts never liquidated.
    ///
    /// `cluster_consumed`: the stress cluster is every account with an exogenous liquidation,
    /// and every other account (as it stood before its first liquidation, or at the end when
    /// never liquidated and still open) that is liquidatable at the exogenous path's extremes
    /// (the per-asset lowest or the per-asset highest oracle price `p_exo` alone gave over the
    /// run). Its share consumed is the sum over those accounts of `min(liquidated notional,
    /// exposure)` over the sum of their exposure (at `p_ref` at the first liquidation, at the
    /// end's `p_ref` for the others); 0 for an empty cluster.
    pub fn structure_metrics(&self, p_ref: &[f64]) -> StructureMetrics {
        let s = &self.structure;
        let gens = s.generations();
        let k = gens.iter().copied().max().unwrap_or(0);
        let mut n = vec![0.0; k as usize + 1];
        for (r, g) in s.log.iter().zip(&gens) {
            n[*g as usize] += r.notional;
        }
        let stressed = |acc: &Account| {
            !s.cf_low.is_empty()
                && (self.triggered(&self.health_of(acc, &s.cf_low))
                    || self.triggered(&self.health_of(acc, &s.cf_high)))
        };
        let (mut consumed, mut at_risk) = (0.0, 0.0);
        for (i, acc) in self.accounts.iter().enumerate() {
            match s.first.get(i).and_then(|f| f.as_deref()) {
                Some(f) => {
                    if f.exogenous || stressed(&f.account) {
                        consumed += f.liquidated.min(f.exposure);
                        at_risk += f.exposure;
                    }
                }
                None => {
                    if !acc.closed && stressed(acc) {
                        at_risk += acc.exposure_value(p_ref);
                    }
                }
            }
        }
        StructureMetrics {
            branching_ratio: branching_ratio(&n),
            longest_chain: k,
            cluster_consumed: if at_risk > 0.0 {
                consumed / at_risk
            } else {
                0.0
            },
        }
    }

    /// The last block of the run: one `LiquidationGeneration` event per liquidation, with
    /// its final generation (only when events are recorded).
    pub fn finish_events(&mut self) {
        if self.events.is_none() {
            return;
        }
        let gens = self.structure.generations();
        let rows: Vec<_> = self
            .structure
            .log
            .iter()
            .zip(gens)
            .map(|(r, g)| (r.account, r.block, r.notional, g))
            .collect();
        let block = self.block;
        if let Some(ev) = self.events.as_mut() {
            for (account, at, notional, generation) in rows {
                ev.push(cascade_core::event::Event::LiquidationGeneration {
                    block,
                    account,
                    liquidation_block: at,
                    notional: Amount::from_whole(notional),
                    generation,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_of_generations_and_its_branching_ratio() {
        // (notional, before, theta, exogenous): two exogenous liquidations of 100; one that
        // needs 30% of the induced move (reached by the first 100 of 200: generation 1);
        // one that needs 90% (only the flow up to the generation-1 liquidation: 2); one
        // that needs 10% (generation 1 again).
        let liqs = [
            (100.0, 0.0, 0.0, true),
            (100.0, 100.0, 0.0, true),
            (50.0, 200.0, 0.3, false),
            (40.0, 250.0, 0.9, false),
            (10.0, 290.0, 0.1, false),
        ];
        assert_eq!(generations(&liqs), vec![0, 0, 1, 2, 1]);
        // Generations 0, 1, 2 carry 200, 60, 40: (60 + 40) / (200 + 60).
        assert!((branching_ratio(&[200.0, 60.0, 40.0]) - 100.0 / 260.0).abs() < 1e-15);
        assert_eq!(branching_ratio(&[200.0]), 0.0);
        assert_eq!(branching_ratio(&[]), 0.0);
    }

    #[test]
    fn an_induced_liquidation_without_parents_is_generation_one() {
        assert_eq!(generations(&[(10.0, 0.0, 0.5, false)]), vec![1]);
        // Exogenous liquidations after an induced one stay generation 0.
        assert_eq!(
            generations(&[(10.0, 0.0, 0.5, false), (5.0, 10.0, 0.0, true)]),
            vec![1, 0]
        );
    }
}
