//! The agent schedule: when an agent is visited. Under the `polled` schedule every agent acts
//! in every block and decides with per-block Bernoulli trials (`p = 1 - exp(-r dt / 3600)`
//! over the block's actual interval). Under the `event` schedule an agent that waits only on
//! its rates sleeps: it holds exponential clocks in time ([`Clock`]), tells the World the time
//! of its next event ([`crate::Agent::next_wake`]), and the World wakes it in the first block
//! whose end time reaches that time ([`Sleepers`]). A block then costs in proportion to the
//! agents that act, not to the agents that exist.
//!
//! The two schedules have the same law (docs/model.md, "The agent schedule"): a Poisson clock
//! of rate `r` has at least one event in a block of length `dt` with probability
//! `1 - exp(-r dt / 3600)`, independently of its events in other blocks, which is exactly the
//! polled trial. Invariants: a clock is consulted in every block in which it may ring, or
//! stopped and restarted later at the start of the block that consults it again
//! (memorylessness makes the restart exact); sleepers wake in (time, agent index) order, never
//! in hash order.
//!
//! A trader holding a position also sleeps (`chain.holders_sleep`): until its close clock,
//! a cap of [`HOLDER_NAP_S`], or the first block in which its asset's price leaves a band
//! outside which one of its conditions (stop, deleveraging, top-up) could hold, or its
//! account or the margin ratios change. [`Naps`] indexes the sleeping holders by band edge,
//! per asset, so a block wakes the `k` holders whose band the price left in O(k + log N).

use cascade_core::SimRng;
use cascade_core::{AccountId, AssetId};
use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

/// `chain.agent_schedule`: how agents are visited.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Agents with only rates to wait on sleep until their next event.
    #[default]
    Event,
    /// Every agent acts in every block, with per-block trials (the schedule before 2026-12).
    Polled,
}

/// An agent's arrival key in a block of salt `salt`: SplitMix64's finalizer of
/// `salt + index` (a bijection of `u64`, so distinct agents get distinct keys; its output is
/// uniform for practical purposes, so the order is a uniformly random permutation up to the
/// mixer's quality).
pub fn arrival_key(salt: u64, index: u64) -> u64 {
    let mut z = salt.wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stream of a noise trader under the event schedule (its clock and its trade draws).
pub const NOISE_EVENTS: &str = "noise_events";
/// The stream of a trader under the event schedule (its clocks and its opening draws).
pub const TRADER_EVENTS: &str = "trader_events";

/// An exponential clock in time: the time of its next event, or stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Next event time (s); NaN when stopped.
    next: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { next: f64::NAN }
    }
}

/// Seconds to the next event of a Poisson clock of `rate_per_hour` (infinite at rate 0).
fn wait_s(rng: &mut SimRng, rate_per_hour: f64) -> f64 {
    if rate_per_hour <= 0.0 {
        return f64::INFINITY;
    }
    let x: f64 = Exp1.sample(rng);
    x * 3600.0 / rate_per_hour
}

impl Clock {
    /// Stop the clock; the next consultation restarts it at the start of its block.
    pub fn stop(&mut self) {
        self.next = f64::NAN;
    }

    /// The time of its next event, when running.
    pub fn next(&self) -> Option<f64> {
        (!self.next.is_nan()).then_some(self.next)
    }

    /// Whether the clock of `rate_per_hour` rings in the block `(t - dt, t]`. A stopped clock
    /// starts at `t - dt`. After ringing, the clock restarts at `t`: at most one action per
    /// block, as under the polled trial, and the events it skips are independent of the future.
    pub fn rings(&mut self, rng: &mut SimRng, rate_per_hour: f64, t: f64, dt: f64) -> bool {
        self.rings_thinned(rng, rate_per_hour, 1.0, t, dt)
    }

    /// As [`Clock::rings`], each event kept with probability `keep` (in [0, 1]): a Poisson
    /// clock of rate `keep * rate_per_hour` over this block, by thinning. The block's first
    /// event is kept with probability `keep`; if not, the kept events after it form a Poisson
    /// process of rate `keep * r`, whose first event is an exponential wait away. So the block
    /// rings with probability `1 - exp(-keep r dt / 3600)`, with at most three draws whatever
    /// the rate (an infinite rate rings whenever `keep > 0`). When the block does not ring, the
    /// clock restarts at `t`: the events after `t` are independent of those before.
    pub fn rings_thinned(
        &mut self,
        rng: &mut SimRng,
        rate_per_hour: f64,
        keep: f64,
        t: f64,
        dt: f64,
    ) -> bool {
        if self.next.is_nan() {
            self.next = (t - dt) + wait_s(rng, rate_per_hour);
        }
        if self.next > t {
            return false;
        }
        let kept = keep >= 1.0
            || (keep > 0.0
                && (rng.random::<f64>() < keep
                    || self.next + wait_s(rng, rate_per_hour * keep) <= t));
        self.next = t + wait_s(rng, rate_per_hour);
        kept
    }
}

/// A time in the queue, ordered by `total_cmp`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WakeAt(f64);
impl Eq for WakeAt {}
impl PartialOrd for WakeAt {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for WakeAt {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// Sleeping agents, keyed by (wake time, agent index): ties are broken by the index.
#[derive(Debug, Clone, Default)]
pub struct Sleepers {
    heap: BinaryHeap<Reverse<(WakeAt, u32)>>,
}

impl Sleepers {
    /// Put agent `agent` to sleep until `t` (an infinite time: it never wakes).
    pub fn push(&mut self, t: f64, agent: u32) {
        if t.is_finite() {
            self.heap.push(Reverse((WakeAt(t), agent)));
        }
    }

    /// Move every agent due by `t` (wake time `<= t`) to `out`, in (time, index) order.
    pub fn pop_due(&mut self, t: f64, out: &mut Vec<usize>) {
        while let Some(Reverse((WakeAt(w), a))) = self.heap.peek().copied() {
            if w > t {
                break;
            }
            self.heap.pop();
            out.push(a as usize);
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The longest a holder sleeps without looking (s): a backstop only (every change that can
/// make one of its conditions hold wakes it before), so its value moves no result.
pub const HOLDER_NAP_S: f64 = 3600.0;

/// What wakes a sleeping holder besides its time: its account being written, or the price of
/// `asset` (the engine's, or the oracle's the agents read) leaving `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HolderWatch {
    pub account: AccountId,
    pub asset: AssetId,
    pub lo: f64,
    pub hi: f64,
}

/// The sleeping holders, indexed by band edge per asset (ordered sets keyed by (edge, agent
/// index): deterministic, never hash order), and by agent and by account (dense vectors:
/// every acting agent is looked up once per block, so a lookup is one index, not a tree walk).
#[derive(Debug, Clone, Default)]
pub struct Naps {
    by_lo: Vec<BTreeSet<(WakeAt, u32)>>,
    by_hi: Vec<BTreeSet<(WakeAt, u32)>>,
    /// The sleeping holder of each account (`NO_AGENT`: none), indexed by account.
    by_account: Vec<u32>,
    /// Each agent's watch while it sleeps under one, indexed by agent.
    of_agent: Vec<Option<HolderWatch>>,
    /// How many agents sleep under a watch.
    len: usize,
}

const NO_AGENT: u32 = u32::MAX;

impl Naps {
    pub fn new(n_assets: usize) -> Naps {
        Naps {
            by_lo: vec![BTreeSet::new(); n_assets],
            by_hi: vec![BTreeSet::new(); n_assets],
            ..Naps::default()
        }
    }

    /// Agent `agent` sleeps under `w` (replacing any earlier watch of its own).
    pub fn insert(&mut self, agent: u32, w: HolderWatch) {
        self.remove(agent);
        let a = w.asset.index();
        self.by_lo[a].insert((WakeAt(w.lo), agent));
        self.by_hi[a].insert((WakeAt(w.hi), agent));
        let acc = w.account.0 as usize;
        if self.by_account.len() <= acc {
            self.by_account.resize(acc + 1, NO_AGENT);
        }
        self.by_account[acc] = agent;
        if self.of_agent.len() <= agent as usize {
            self.of_agent.resize(agent as usize + 1, None);
        }
        self.of_agent[agent as usize] = Some(w);
        self.len += 1;
    }

    /// Agent `agent` no longer sleeps under a watch (a no-op if it did not).
    pub fn remove(&mut self, agent: u32) {
        if let Some(w) = self.of_agent.get_mut(agent as usize).and_then(Option::take) {
            let a = w.asset.index();
            self.by_lo[a].remove(&(WakeAt(w.lo), agent));
            self.by_hi[a].remove(&(WakeAt(w.hi), agent));
            let acc = w.account.0 as usize;
            if self.by_account[acc] == agent {
                self.by_account[acc] = NO_AGENT;
            }
            self.len -= 1;
        }
    }

    /// Wake (to `out`, then out of the index) the holders of `asset` whose band does not
    /// strictly contain both of `p_min <= p_max`: `lo >= p_min` or `hi <= p_max`, each once.
    pub fn wake_by_price(&mut self, asset: usize, p_min: f64, p_max: f64, out: &mut Vec<usize>) {
        let n0 = out.len();
        out.extend(
            self.by_lo[asset]
                .range((WakeAt(p_min), 0)..)
                .map(|&(_, i)| i as usize),
        );
        let of_agent = &self.of_agent;
        out.extend(
            self.by_hi[asset]
                .range(..=(WakeAt(p_max), u32::MAX))
                // Once each: those below their band too were taken above.
                .filter(|(_, i)| {
                    of_agent
                        .get(*i as usize)
                        .and_then(Option::as_ref)
                        .is_some_and(|w| w.lo < p_min)
                })
                .map(|&(_, i)| i as usize),
        );
        for &i in &out[n0..] {
            self.remove(i as u32);
        }
    }

    /// Wake the holder sleeping on account `account`, if any.
    pub fn wake_account(&mut self, account: u32, out: &mut Vec<usize>) {
        if let Some(&agent) = self.by_account.get(account as usize)
            && agent != NO_AGENT
        {
            self.remove(agent);
            out.push(agent as usize);
        }
    }

    /// Wake every sleeping holder (the margin ratios changed), in agent order.
    pub fn wake_all(&mut self, out: &mut Vec<usize>) {
        if self.len == 0 {
            return;
        }
        for (i, slot) in self.of_agent.iter_mut().enumerate() {
            if let Some(w) = slot.take() {
                self.by_account[w.account.0 as usize] = NO_AGENT;
                out.push(i);
            }
        }
        for v in self.by_lo.iter_mut().chain(self.by_hi.iter_mut()) {
            v.clear();
        }
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::rng;

    /// The share of blocks in which a clock rings is the polled trial's probability, for
    /// fixed and varying intervals, with and without thinning (4 standard errors).
    #[test]
    fn a_clock_rings_with_the_polled_probability() {
        let mut r = rng::stream(rng::run_seed(7, 0), "test", 0);
        for (rate, keep) in [
            (30.0, 1.0),
            (300.0, 1.0),
            (300.0, 0.3),
            (2000.0, 0.5),
            (2000.0, 0.02),
        ] {
            let mut c = Clock::default();
            let (mut t, mut hits, mut want) = (0.0, 0.0, 0.0);
            let n = 200_000;
            for k in 0..n {
                let dt = if k % 3 == 0 { 2.0 } else { 12.0 };
                t += dt;
                want += cascade_core::clock::per_block_prob(rate * keep, dt);
                hits += c.rings_thinned(&mut r, rate, keep, t, dt) as u32 as f64;
            }
            let p = want / n as f64;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            let z = (hits / n as f64 - p) / se;
            assert!(z.abs() < 4.0, "rate {rate} keep {keep}: z = {z}");
        }
    }

    /// An infinite rate rings in every block unless every event is thinned away.
    #[test]
    fn an_infinite_rate_rings_every_block_unless_kept_with_zero() {
        let mut r = rng::stream(rng::run_seed(7, 0), "test", 0);
        let mut c = Clock::default();
        for k in 1..100 {
            let t = 12.0 * k as f64;
            assert!(c.rings_thinned(&mut r, f64::INFINITY, 1e-300, t, 12.0));
        }
        for k in 100..200 {
            let t = 12.0 * k as f64;
            assert!(!c.rings_thinned(&mut r, f64::INFINITY, 0.0, t, 12.0));
        }
    }

    /// A price leaving a band wakes exactly the holders whose band it left; an account write
    /// wakes its holder; a woken holder leaves every index.
    #[test]
    fn naps_wake_by_band_edge_and_by_account() {
        let mut n = Naps::new(2);
        let w = |acc: u32, asset: u16, lo: f64, hi: f64| HolderWatch {
            account: AccountId(acc),
            asset: AssetId(asset),
            lo,
            hi,
        };
        n.insert(0, w(10, 0, 90.0, 110.0));
        n.insert(1, w(11, 0, 95.0, 200.0));
        n.insert(2, w(12, 1, 0.0, 105.0));
        n.insert(3, w(13, 0, 50.0, 150.0));
        let mut out = Vec::new();
        n.wake_by_price(0, 100.0, 100.0, &mut out);
        assert!(out.is_empty());
        n.wake_by_price(0, 94.0, 100.0, &mut out);
        assert_eq!(out, vec![1]);
        out.clear();
        n.wake_by_price(0, 100.0, 110.0, &mut out);
        assert_eq!(out, vec![0]);
        out.clear();
        n.wake_account(12, &mut out);
        n.wake_account(11, &mut out);
        assert_eq!(out, vec![2]);
        assert_eq!(n.len(), 1);
        n.insert(3, w(13, 0, 60.0, 140.0));
        n.wake_by_price(0, 55.0, 145.0, &mut out);
        assert_eq!(out, vec![2, 3]);
        assert!(n.is_empty());
    }

    #[test]
    fn sleepers_wake_in_time_then_index_order() {
        let mut s = Sleepers::default();
        for (t, a) in [(5.0, 3), (1.0, 9), (5.0, 1), (7.0, 0), (f64::INFINITY, 4)] {
            s.push(t, a);
        }
        let mut out = Vec::new();
        s.pop_due(5.0, &mut out);
        assert_eq!(out, vec![9, 1, 3]);
        assert_eq!(s.len(), 1);
    }
}
