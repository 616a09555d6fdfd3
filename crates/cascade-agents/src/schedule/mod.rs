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
//! (memorylessness makes the restart exact); a block wakes exactly the sleepers due by its end
//! time, which the World then orders by arrival key, never in hash order. Sleepers wait in a
//! calendar queue ([`Sleepers`]: buckets of time, O(1) a sleeper), not a heap.
//!
//! A trader holding a position also sleeps (`chain.holders_sleep`): until its close clock
//! (no time cap), or the first block in which its asset's price leaves a band
//! outside which one of its conditions (stop, deleveraging, top-up) could hold, or its
//! account or the margin ratios change. [`Naps`] (`naps.rs`) indexes the sleeping holders by
//! band edge, per asset, so a block wakes the `k` holders whose band the price left in
//! O(k log N).

use cascade_core::SimRng;
use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

mod naps;
pub use naps::{FUNDING_ROUNDING_RESERVE, FUNDING_WAKE_EVERY, HolderWatch, Naps};

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

    /// Whether consulting it in the block ending at `t` may ring it or draw: it is stopped,
    /// or its next event is due. When not, [`Clock::rings_thinned`] returns `false` without
    /// touching its generator, so a caller may skip materializing one.
    pub fn may_ring(&self, t: f64) -> bool {
        self.next.is_nan() || self.next <= t
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
        if !self.may_ring(t) {
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

/// A time in the queue (or a band edge in [`Naps`]), ordered and compared by `total_cmp`.
#[derive(Debug, Clone, Copy)]
struct WakeAt(f64);
impl PartialEq for WakeAt {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o).is_eq()
    }
}
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

/// Buckets in the near ring of [`Sleepers`].
const RING: usize = 8192;

/// Sleeping agents by wake time: a calendar queue. Wake times within `RING` buckets of the
/// present sit in a ring of buckets of `width` seconds (a power of two, so a bucket's bounds
/// are exact in floating point): putting an agent to sleep appends to its bucket and a block
/// drains the buckets it has passed, in O(1) per agent and touching memory in sequence.
/// Later times wait in a binary heap and move to the ring as it reaches them. At 10^6
/// sleepers this replaced a binary heap of every sleeper, whose pops missed the caches at
/// every level (issue 20). Which agents a block wakes is exactly the set due by its end
/// time; their order is the caller's to set (the World sorts them).
#[derive(Debug, Clone)]
pub struct Sleepers {
    /// Bucket width (s), a power of two.
    width: f64,
    /// `ring[k % RING]` holds the sleepers of bucket `k` (wake time in `[k w, (k + 1) w)`)
    /// for `cursor <= k < cursor + RING`; allocated at the first sleeper.
    ring: Vec<Vec<(f64, u32)>>,
    /// The first bucket not yet drained.
    cursor: u64,
    /// Sleepers in the ring.
    near: usize,
    /// Sleepers beyond the ring, by (time, agent).
    far: BinaryHeap<Reverse<(WakeAt, u32)>>,
    /// Each agent's one valid wake time (NaN: none); an entry at any other time is stale
    /// (the agent was woken otherwise, or rescheduled) and is dropped when reached.
    at: Vec<f64>,
}

impl Default for Sleepers {
    fn default() -> Self {
        Sleepers::new(8.0)
    }
}

impl Sleepers {
    /// An empty queue whose buckets are the largest power of two of seconds at most
    /// `block_s` (at least 1/64 s): a block then drains one or a few buckets.
    pub fn new(block_s: f64) -> Sleepers {
        let b = if block_s.is_finite() && block_s > 0.0 {
            block_s.clamp(1.0 / 64.0, 1024.0)
        } else {
            8.0
        };
        Sleepers {
            width: 2f64.powi(b.log2().floor() as i32),
            ring: Vec::new(),
            cursor: 0,
            near: 0,
            far: BinaryHeap::new(),
            at: Vec::new(),
        }
    }

    /// Whether the entry `(t, agent)` is the agent's valid one.
    fn valid(&self, t: f64, agent: u32) -> bool {
        self.at
            .get(agent as usize)
            .is_some_and(|w| w.to_bits() == t.to_bits())
    }

    /// Put the entry `(t, agent)` in the ring's bucket `k` (the ring allocated at its first
    /// entry).
    fn put_near(&mut self, k: u64, t: f64, agent: u32) {
        if self.ring.is_empty() {
            self.ring = vec![Vec::new(); RING];
        }
        self.ring[(k % RING as u64) as usize].push((t, agent));
        self.near += 1;
    }

    /// Agent `agent` no longer waits for its time (it is awake, or was woken otherwise): its
    /// queued entry, if any, is dropped when reached.
    pub fn cancel(&mut self, agent: u32) {
        if let Some(w) = self.at.get_mut(agent as usize) {
            *w = f64::NAN;
        }
    }

    /// The bucket of time `t` (exact: the width is a power of two).
    fn bucket(&self, t: f64) -> u64 {
        let k = (t / self.width).floor();
        if k > 0.0 { k as u64 } else { 0 }
    }

    /// Put agent `agent` to sleep until `t` (an infinite time: it never wakes), replacing its
    /// earlier time; the same time as its queued one adds nothing (a holder woken by the
    /// price and put back to sleep until the same close-clock event).
    /// Ask the processor for agent `agent`'s wake time slot, a few turns before its
    /// [`Sleepers::push`] (`cascade_core::prefetch`: a hint, which changes nothing).
    pub fn prefetch(&self, agent: u32) {
        if let Some(w) = self.at.get(agent as usize) {
            cascade_core::prefetch::prefetch(w);
        }
    }

    pub fn push(&mut self, t: f64, agent: u32) {
        let i = agent as usize;
        if self.at.len() <= i {
            self.at.resize(i + 1, f64::NAN);
        }
        if !t.is_finite() {
            self.at[i] = f64::NAN;
            return;
        }
        if self.at[i].to_bits() == t.to_bits() {
            return;
        }
        self.at[i] = t;
        let k = self.bucket(t).max(self.cursor);
        if k < self.cursor + RING as u64 {
            self.put_near(k, t, agent);
        } else {
            self.far.push(Reverse((WakeAt(t), agent)));
        }
    }

    /// Move the far sleepers whose bucket the ring now covers into it (a bucket already
    /// passed counts as the cursor's).
    fn refill(&mut self) {
        let end = self.cursor + RING as u64;
        while let Some(Reverse((WakeAt(w), a))) = self.far.peek().copied() {
            let k = self.bucket(w).max(self.cursor);
            if k >= end {
                break;
            }
            self.far.pop();
            if self.valid(w, a) {
                self.put_near(k, w, a);
            }
        }
    }

    /// Move every agent due by `t` (its valid wake time `<= t`) to `out`, in no particular
    /// order, each once; stale entries are dropped.
    pub fn pop_due(&mut self, t: f64, out: &mut Vec<usize>) {
        if self.is_empty() {
            return;
        }
        let kt = self.bucket(t);
        // The buckets wholly before `t`'s: every sleeper in them is due.
        while self.cursor < kt {
            if self.near == 0 {
                // Nothing in the ring: jump to `t`'s bucket and take what the heap holds.
                self.cursor = kt;
                self.refill();
                break;
            }
            let slot = &mut self.ring[(self.cursor % RING as u64) as usize];
            self.near -= slot.len();
            for (w, a) in slot.drain(..) {
                claim(&mut self.at, w, a, out);
            }
            self.cursor += 1;
            self.refill();
        }
        // `t`'s own bucket: those due by `t`.
        if self.cursor == kt && self.near > 0 {
            let slot = &mut self.ring[(kt % RING as u64) as usize];
            let at = &mut self.at;
            let before = slot.len();
            slot.retain(|&(w, a)| {
                if w > t {
                    return true;
                }
                claim(at, w, a, out);
                false
            });
            self.near -= before - slot.len();
        }
    }

    /// Entries queued (stale ones included until reached).
    pub fn len(&self) -> usize {
        self.near + self.far.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A reached entry `(w, a)`: when it is agent `a`'s valid one, the agent wakes (to `out`) and
/// no longer has a time; a stale entry is dropped.
fn claim(at: &mut [f64], w: f64, a: u32, out: &mut Vec<usize>) {
    if let Some(x) = at.get_mut(a as usize)
        && x.to_bits() == w.to_bits()
    {
        *x = f64::NAN;
        out.push(a as usize);
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

    #[test]
    fn sleepers_wake_when_due() {
        let mut s = Sleepers::default();
        for (t, a) in [(5.0, 3), (1.0, 9), (5.0, 1), (7.0, 0), (f64::INFINITY, 4)] {
            s.push(t, a);
        }
        let mut out = Vec::new();
        s.pop_due(5.0, &mut out);
        out.sort_unstable();
        assert_eq!(out, vec![1, 3, 9]);
        assert_eq!(s.len(), 1);
    }

    /// A rescheduled agent wakes at its new time only; the same time twice queues it once; a
    /// cancelled agent does not wake.
    #[test]
    fn sleepers_keep_one_valid_time_per_agent() {
        let mut s = Sleepers::new(12.0);
        s.push(100.0, 1);
        s.push(100.0, 1);
        assert_eq!(s.len(), 1);
        s.push(50.0, 2);
        s.push(200.0, 2);
        s.push(30.0, 3);
        s.cancel(3);
        s.push(1.0e6, 4);
        s.push(60.0, 4);
        let mut out = Vec::new();
        s.pop_due(150.0, &mut out);
        out.sort_unstable();
        assert_eq!(out, vec![1, 4]);
        out.clear();
        s.pop_due(2.0e6, &mut out);
        assert_eq!(out, vec![2]);
        assert!(s.is_empty());
    }

    /// The calendar queue wakes exactly the agents a sorted list of (time, agent) says are
    /// due, block after block, with wake times near and far (beyond the ring), in the past,
    /// at bucket edges, with uneven block times and a long jump.
    #[test]
    fn sleepers_agree_with_a_sorted_list() {
        let mut r = rng::stream(rng::run_seed(11, 0), "test", 0);
        for block_s in [12.0, 2.0, 0.4] {
            let mut s = Sleepers::new(block_s);
            let mut want: Vec<(f64, u32)> = Vec::new();
            let mut t = 0.0;
            let mut next_agent = 0u32;
            for k in 0..3000 {
                let dt = if k == 1500 {
                    5.0e5
                } else {
                    block_s * (0.5 + r.random::<f64>())
                };
                t += dt;
                for _ in 0..(r.random::<f64>() * 20.0) as usize {
                    let wait = match r.random_range(0..5u32) {
                        0 => -r.random::<f64>() * 50.0,
                        1 => (r.random_range(0..40u32) as f64) * 8.0,
                        2 => r.random::<f64>() * 200.0,
                        3 => r.random::<f64>() * 3.0e5,
                        _ => f64::INFINITY,
                    };
                    s.push(t + wait, next_agent);
                    if (t + wait).is_finite() {
                        want.push((t + wait, next_agent));
                    }
                    next_agent += 1;
                }
                let t_end = t + dt * r.random::<f64>();
                let mut got = Vec::new();
                s.pop_due(t_end, &mut got);
                got.sort_unstable();
                let mut due: Vec<usize> = want
                    .iter()
                    .filter(|(w, _)| *w <= t_end)
                    .map(|&(_, a)| a as usize)
                    .collect();
                due.sort_unstable();
                want.retain(|(w, _)| *w > t_end);
                assert_eq!(got, due, "block {k} at {t_end}");
                assert_eq!(s.len(), want.len());
                t = t_end;
            }
        }
    }
}
