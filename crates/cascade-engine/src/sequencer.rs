//! Asynchronous settlement (`engine.sequencer`, generation 3 with an off-chain engine): an
//! off-chain risk engine (an app-chain or sequencer, as in dYdX v4 or Hyperliquid) decides
//! liquidations at its own revaluation ticks and settles its decisions to the chain in
//! batches, after a latency; a liquidation is executed on chain only once its decision has
//! settled. It exists so that the delay and the divergence between the off-chain view and the
//! on-chain state are a mechanism with its own failure modes (outages, a backlog of
//! decisions beyond a batch's capacity, prices moving between decision and settlement), not
//! an assumption.
//!
//! The model (docs/model.md, "Asynchronous settlement"), at the end of every block, after the
//! engine's own check has flagged the liquidatable accounts (`Engine::end_block`):
//! 1. the outage process: with `outage_per_hour > 0`, two uniforms from the `sequencer`
//!    stream every block (common random numbers); an outage starts in a block of length `dt`
//!    with probability `1 - exp(-rate dt / 3600)` and lasts an exponential time of mean
//!    `outage_mean_s`; scripted windows `[start, end)` are outages too;
//! 2. the accounts flagged on chain are tracked with the time first seen flagged;
//! 3. risk tick (sequencer up, time at or past the next multiple of `risk_interval_s`):
//!    every flagged account without a decision is decided (queued, in account order);
//! 4. settlement tick (up, time at or past the next multiple of `settlement_interval_s`): the
//!    first `batch_capacity` queued decisions leave in one batch that lands `latency_s` later;
//! 5. batches whose landing time is reached land (at the first block end whose time reaches
//!    it, outage or not): a decision whose account is still flagged makes its liquidation
//!    allowed on chain until the account leaves the flagged set.
//!
//! A tick missed while the sequencer is down happens at the first block end after it comes
//! back. Exactness: with both intervals equal to the block time and `latency_s = 0`, every
//! account flagged at a block end is allowed at that same block end, so a population that
//! liquidates only flagged accounts (the `liquidator`) sees the on-chain engine block by
//! block (test `crates/cascade-sim/tests/sequencer.rs`).

use crate::Engine;
use cascade_core::Check;
use cascade_core::clock::{check_delay, check_rate};
use cascade_core::{AccountId, SimRng};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Who decides liquidations (`engine.sequencer`, tag `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SequencerConfig {
    /// The chain itself: an account is liquidatable on chain as soon as the engine's check
    /// finds it so (every generation before this one).
    #[default]
    Onchain,
    /// An off-chain engine that decides liquidations and settles them in batches.
    Async {
        /// The off-chain engine revalues accounts (and decides) every this many seconds.
        risk_interval_s: f64,
        /// A batch of decisions is settled to the chain every this many seconds.
        settlement_interval_s: f64,
        /// Seconds from a batch's submission to its landing on chain.
        latency_s: f64,
        /// Most decisions one batch carries (absent: all queued); the rest wait.
        #[serde(default)]
        batch_capacity: Option<u32>,
        /// Random sequencer outages, per hour of uptime (0: none).
        #[serde(default)]
        outage_per_hour: f64,
        /// Mean length of a random outage (exponential), seconds.
        #[serde(default)]
        outage_mean_s: f64,
        /// Scripted outages, `[start_s, end_s)` windows in increasing order.
        #[serde(default)]
        outages: Vec<[f64; 2]>,
    },
}

impl SequencerConfig {
    pub fn is_onchain(&self) -> bool {
        matches!(self, SequencerConfig::Onchain)
    }

    /// Record every broken rule (under `engine.sequencer`).
    pub fn validate(&self, c: &mut Check) {
        let SequencerConfig::Async {
            risk_interval_s,
            settlement_interval_s,
            latency_s,
            batch_capacity,
            outage_per_hour,
            outage_mean_s,
            outages,
        } = self
        else {
            return;
        };
        c.positive("risk_interval_s", *risk_interval_s);
        c.positive("settlement_interval_s", *settlement_interval_s);
        check_delay(c, "latency_s", *latency_s);
        if *batch_capacity == Some(0) {
            c.fail(
                "batch_capacity",
                "must be >= 1 (0 would never settle a liquidation; leave it out for unlimited)",
            );
        }
        check_rate(c, "outage_per_hour", *outage_per_hour);
        if outage_per_hour.is_infinite() {
            c.fail(
                "outage_per_hour",
                "must be finite (an infinite rate would keep the sequencer down for ever)",
            );
        }
        check_delay(c, "outage_mean_s", *outage_mean_s);
        if *outage_per_hour > 0.0 && *outage_mean_s <= 0.0 {
            c.fail(
                "outage_mean_s",
                "must be > 0 seconds when outage_per_hour > 0",
            );
        }
        let mut prev_end = 0.0;
        for (i, w) in outages.iter().enumerate() {
            let key = format!("outages[{i}]");
            if !(w[0].is_finite() && w[1].is_finite() && w[0] >= prev_end && w[1] > w[0]) {
                c.fail(
                    &key,
                    format!(
                        "must be a window [start_s, end_s) with {prev_end} <= start_s < end_s, \
                         finite, after the previous window (got [{}, {}])",
                        w[0], w[1]
                    ),
                );
            } else {
                prev_end = w[1];
            }
        }
    }
}

/// One decision of the off-chain engine to liquidate an account.
#[derive(Debug, Clone, PartialEq)]
struct Decision {
    account: AccountId,
    /// When the account was first seen flagged on chain (s).
    flagged_at: f64,
    /// The account's equity at the engine's oracle prices when decided (quote).
    equity: f64,
}

/// The off-chain engine's state and its metrics.
#[derive(Debug, Clone)]
pub struct Sequencer {
    risk_interval_s: f64,
    settlement_interval_s: f64,
    latency_s: f64,
    batch_capacity: Option<u32>,
    outage_per_hour: f64,
    outage_mean_s: f64,
    outages: Vec<[f64; 2]>,
    rng: SimRng,
    /// Time of the previous block end (the block length for the outage clock).
    last_t: f64,
    /// End of the current random outage (s).
    down_until: f64,
    next_risk_t: f64,
    next_settle_t: f64,
    /// Accounts flagged on chain, with the time first seen flagged.
    since: BTreeMap<AccountId, f64>,
    /// Accounts with a decision queued or in flight.
    decided: BTreeSet<AccountId>,
    queue: VecDeque<Decision>,
    /// Batches submitted to the chain: landing time and decisions, in submission order.
    in_flight: VecDeque<(f64, Vec<Decision>)>,
    /// Accounts whose decision has settled: their liquidation is allowed on chain.
    settled: BTreeSet<AccountId>,
    metrics: SequencerMetrics,
}

/// The asynchronous-settlement metrics (docs/model.md, "Metrics table").
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SequencerMetrics {
    /// Sum and count of the settlement lags of effective decisions: from the account's
    /// first flag on chain to its decision's landing (s).
    pub lag_s_sum: f64,
    pub lag_count: u64,
    /// Largest block-end exposure value of accounts flagged on chain but not yet allowed.
    pub unsettled_exposure_max: f64,
    /// Sum over effective decisions of `max(0, equity at decision - equity at landing)`.
    pub divergence_loss: f64,
    /// Block ends at which the sequencer was down.
    pub down_blocks: u64,
}

impl SequencerMetrics {
    /// The mean settlement lag, 0 without a settled decision.
    pub fn lag_s_mean(&self) -> f64 {
        if self.lag_count > 0 {
            self.lag_s_sum / self.lag_count as f64
        } else {
            0.0
        }
    }
}

/// The next multiple of `step` strictly after `t`.
fn next_multiple(t: f64, step: f64) -> f64 {
    ((t / step).floor() + 1.0) * step
}

impl Sequencer {
    /// The off-chain engine of `cfg` (`None` for `onchain`), drawing outages from `rng` (the
    /// `sequencer` stream).
    pub fn new(cfg: &SequencerConfig, rng: SimRng) -> Option<Sequencer> {
        match cfg {
            SequencerConfig::Onchain => None,
            SequencerConfig::Async {
                risk_interval_s,
                settlement_interval_s,
                latency_s,
                batch_capacity,
                outage_per_hour,
                outage_mean_s,
                outages,
            } => Some(Sequencer {
                risk_interval_s: *risk_interval_s,
                settlement_interval_s: *settlement_interval_s,
                latency_s: *latency_s,
                batch_capacity: *batch_capacity,
                outage_per_hour: *outage_per_hour,
                outage_mean_s: *outage_mean_s,
                outages: outages.clone(),
                rng,
                last_t: 0.0,
                down_until: f64::NEG_INFINITY,
                next_risk_t: 0.0,
                next_settle_t: 0.0,
                since: BTreeMap::new(),
                decided: BTreeSet::new(),
                queue: VecDeque::new(),
                in_flight: VecDeque::new(),
                settled: BTreeSet::new(),
                metrics: SequencerMetrics::default(),
            }),
        }
    }

    pub fn metrics(&self) -> SequencerMetrics {
        self.metrics
    }

    /// Whether a liquidation of `id` is allowed on chain (its decision has settled).
    pub fn allows(&self, id: AccountId) -> bool {
        self.settled.contains(&id)
    }

    /// Whether the sequencer is up at `t` (outside a random outage and every scripted window).
    pub fn is_up(&self, t: f64) -> bool {
        t >= self.down_until && !self.outages.iter().any(|w| t >= w[0] && t < w[1])
    }

    /// Advance the random outage process over the block ending at `t`: a fixed two draws
    /// per block when the rate is positive, none otherwise.
    fn advance_outages(&mut self, t: f64) {
        let dt = (t - self.last_t).max(0.0);
        self.last_t = t;
        if self.outage_per_hour <= 0.0 {
            return;
        }
        let fire: f64 = self.rng.random();
        let dur: f64 = self.rng.random();
        if t >= self.down_until
            && fire < cascade_core::clock::per_block_prob(self.outage_per_hour, dt)
        {
            self.down_until = t - self.outage_mean_s * (-dur).ln_1p();
        }
    }

    /// Steps 1-5 of the module doc at the block end at `t`. `flagged` are the accounts the
    /// engine's check finds liquidatable now (in account order); `equity` and `exposure`
    /// value an account at the engine's oracle prices.
    pub fn block_end(
        &mut self,
        t: f64,
        flagged: &[AccountId],
        equity: impl Fn(AccountId) -> f64,
        exposure: impl Fn(AccountId) -> f64,
    ) {
        self.advance_outages(t);
        let up = self.is_up(t);
        if !up {
            self.metrics.down_blocks += 1;
        }
        // 2. Track the on-chain flags; an account no longer flagged loses its allowance.
        self.since.retain(|id, _| flagged.binary_search(id).is_ok());
        self.settled.retain(|id| flagged.binary_search(id).is_ok());
        for &id in flagged {
            self.since.entry(id).or_insert(t);
        }
        // 3. Risk tick: decide every flagged account without a decision.
        if up && t >= self.next_risk_t {
            for (&id, &at) in &self.since {
                if !self.decided.contains(&id) && !self.settled.contains(&id) {
                    self.decided.insert(id);
                    self.queue.push_back(Decision {
                        account: id,
                        flagged_at: at,
                        equity: equity(id),
                    });
                }
            }
            self.next_risk_t = next_multiple(t, self.risk_interval_s);
        }
        // 4. Settlement tick: one batch of at most `batch_capacity` decisions.
        if up && t >= self.next_settle_t {
            let n = self
                .batch_capacity
                .map_or(self.queue.len(), |c| (c as usize).min(self.queue.len()));
            if n > 0 {
                let batch: Vec<Decision> = self.queue.drain(..n).collect();
                self.in_flight.push_back((t + self.latency_s, batch));
            }
            self.next_settle_t = next_multiple(t, self.settlement_interval_s);
        }
        // 5. Landing: batches whose time has come, in submission order.
        while self.in_flight.front().is_some_and(|(at, _)| *at <= t) {
            let (_, batch) = self.in_flight.pop_front().expect("checked");
            for d in batch {
                self.decided.remove(&d.account);
                if !self.since.contains_key(&d.account) {
                    continue; // healthy again on chain: the decision is void
                }
                self.settled.insert(d.account);
                self.metrics.lag_s_sum += t - d.flagged_at;
                self.metrics.lag_count += 1;
                self.metrics.divergence_loss += (d.equity - equity(d.account)).max(0.0);
            }
        }
        let unsettled: f64 = self
            .since
            .keys()
            .filter(|id| !self.settled.contains(id))
            .map(|id| exposure(*id))
            .sum();
        if unsettled > self.metrics.unsettled_exposure_max {
            self.metrics.unsettled_exposure_max = unsettled;
        }
    }
}

impl Engine {
    /// The asynchronous-settlement step at the end of a block (after the flagged set is
    /// recomputed, before the backstop sweep); nothing under `onchain`.
    pub(crate) fn sequencer_block_end(&mut self) {
        let Some(mut seq) = self.seq.take() else {
            return;
        };
        let flagged: Vec<AccountId> = self.flagged.keys().copied().collect();
        let prices = &self.prices;
        seq.block_end(
            self.t_s,
            &flagged,
            |id| self.health_of(&self.accounts[id.index()], prices).equity,
            |id| self.accounts[id.index()].exposure_value(prices),
        );
        self.seq = Some(seq);
    }

    /// Whether the off-chain engine allows a liquidation of `id` now (always under
    /// `onchain`).
    pub(crate) fn settlement_allows(&self, id: AccountId) -> bool {
        self.seq.as_ref().is_none_or(|s| s.allows(id))
    }

    /// The asynchronous-settlement metrics (`None` under `onchain`).
    pub fn sequencer_metrics(&self) -> Option<SequencerMetrics> {
        self.seq.as_ref().map(|s| s.metrics())
    }

    /// Replace the sequencer's outage stream (the World passes the run's `sequencer`
    /// stream; the engine starts with a fixed-seed one, used by tests).
    pub fn seed_sequencer(&mut self, rng: SimRng) {
        if let Some(s) = self.seq.as_mut() {
            s.rng = rng;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn seq(ri: f64, si: f64, lat: f64, cap: Option<u32>, outages: Vec<[f64; 2]>) -> Sequencer {
        Sequencer::new(
            &SequencerConfig::Async {
                risk_interval_s: ri,
                settlement_interval_s: si,
                latency_s: lat,
                batch_capacity: cap,
                outage_per_hour: 0.0,
                outage_mean_s: 0.0,
                outages,
            },
            SimRng::seed_from_u64(1),
        )
        .expect("async")
    }

    /// Run blocks of 12 s to `t_end` with `flagged` liquidatable from `t_flag` on; the time
    /// the account's liquidation is first allowed.
    fn allowed_at(s: &mut Sequencer, t_flag: f64, t_end: f64) -> Option<f64> {
        let id = AccountId(0);
        let mut t = 12.0;
        while t <= t_end {
            let f: Vec<AccountId> = if t >= t_flag { vec![id] } else { vec![] };
            s.block_end(t, &f, |_| 100.0, |_| 1_000.0);
            if s.allows(id) {
                return Some(t);
            }
            t += 12.0;
        }
        None
    }

    #[test]
    fn equal_intervals_and_no_latency_allow_at_the_flag() {
        let mut s = seq(12.0, 12.0, 0.0, None, vec![]);
        assert_eq!(allowed_at(&mut s, 120.0, 600.0), Some(120.0));
        let m = s.metrics();
        assert_eq!((m.lag_s_mean(), m.divergence_loss), (0.0, 0.0));
        assert_eq!(m.unsettled_exposure_max, 0.0);
    }

    /// Flag at 120 s; risk tick at 120 (a multiple of 60), settlement at 180 (multiple of
    /// 90), latency 30: allowed at the first block end at or after 210, which is 216.
    #[test]
    fn intervals_and_latency_delay_by_the_known_amount() {
        let mut s = seq(60.0, 90.0, 30.0, None, vec![]);
        assert_eq!(allowed_at(&mut s, 120.0, 1_000.0), Some(216.0));
        assert_eq!(s.metrics().lag_s_mean(), 96.0);
        assert_eq!(s.metrics().unsettled_exposure_max, 1_000.0);
    }

    /// The same with an outage over [100, 300): the decision waits for 300 (the first block
    /// end is 300), settles in the same block, lands at 330 -> 336: 120 s later than without.
    #[test]
    fn an_outage_delays_by_the_known_amount() {
        let mut s = seq(60.0, 90.0, 30.0, None, vec![[100.0, 300.0]]);
        assert_eq!(allowed_at(&mut s, 120.0, 1_000.0), Some(336.0));
        assert_eq!(s.metrics().lag_s_mean(), 216.0);
        assert!(s.metrics().down_blocks > 0);
    }

    /// A batch capacity of one: three accounts flagged together settle one per tick.
    #[test]
    fn the_backlog_drains_one_batch_per_tick() {
        let mut s = seq(12.0, 60.0, 0.0, Some(1), vec![]);
        let ids = [AccountId(0), AccountId(1), AccountId(2)];
        let mut when = [None; 3];
        let mut t = 12.0;
        while t <= 600.0 {
            s.block_end(t, &ids, |_| 0.0, |_| 1.0);
            for (k, id) in ids.iter().enumerate() {
                if when[k].is_none() && s.allows(*id) {
                    when[k] = Some(t);
                }
            }
            t += 12.0;
        }
        assert_eq!(when, [Some(12.0), Some(60.0), Some(120.0)]);
        assert_eq!(s.metrics().unsettled_exposure_max, 2.0);
    }

    /// The equity lost between decision and landing is the divergence loss; a decision whose
    /// account recovered before landing is void (no lag, no loss).
    #[test]
    fn divergence_counts_equity_lost_before_landing() {
        let mut s = seq(12.0, 12.0, 24.0, None, vec![]);
        let id = [AccountId(0)];
        s.block_end(12.0, &id, |_| 500.0, |_| 1.0);
        s.block_end(24.0, &id, |_| 300.0, |_| 1.0);
        s.block_end(36.0, &id, |_| -50.0, |_| 1.0);
        assert!(s.allows(id[0]));
        assert_eq!(s.metrics().divergence_loss, 550.0);
        let mut s = seq(12.0, 12.0, 24.0, None, vec![]);
        s.block_end(12.0, &id, |_| 500.0, |_| 1.0);
        s.block_end(24.0, &[], |_| 900.0, |_| 1.0);
        s.block_end(36.0, &[], |_| 900.0, |_| 1.0);
        assert!(!s.allows(id[0]));
        assert_eq!(s.metrics().lag_count, 0);
        assert_eq!(s.metrics().lag_s_mean(), 0.0);
        assert_eq!(s.metrics().divergence_loss, 0.0);
    }

    /// Random outages: about `rate * mean / (1 + rate * mean)` of the time down.
    #[test]
    fn random_outages_have_their_rate() {
        let mut s = Sequencer::new(
            &SequencerConfig::Async {
                risk_interval_s: 12.0,
                settlement_interval_s: 12.0,
                latency_s: 0.0,
                batch_capacity: None,
                outage_per_hour: 1.0,
                outage_mean_s: 600.0,
                outages: vec![],
            },
            SimRng::seed_from_u64(7),
        )
        .expect("async");
        let n = 1_000_000u64;
        for b in 1..=n {
            s.block_end(b as f64 * 12.0, &[], |_| 0.0, |_| 0.0);
        }
        let down = s.metrics().down_blocks as f64 / n as f64;
        // One outage of mean 600 s per hour of uptime: 1/7 of the time down.
        assert!((down - 1.0 / 7.0).abs() < 0.01, "down share {down}");
    }

    proptest::proptest! {
        /// Random flag histories of four accounts over 200 blocks of 12 s, random intervals,
        /// latency, capacity and an outage window: after every block end only flagged
        /// accounts are allowed, every settled lag is at least the latency, the metrics are
        /// non-negative; with both intervals at the block time, no latency and no outage,
        /// the allowed set is the flagged set.
        #[test]
        fn only_flagged_accounts_are_allowed(
            ri in 1usize..12, si in 1usize..12, lat in 0usize..10, cap in 0u32..4,
            window in proptest::option::of((0usize..200, 1usize..50)),
            flags in proptest::collection::vec(0u8..16, 200),
        ) {
            let equal = ri == 1 && si == 1 && lat == 0 && window.is_none();
            let outages = window
                .map(|(a, d)| vec![[a as f64 * 12.0, (a + d) as f64 * 12.0]])
                .unwrap_or_default();
            let mut s = seq(
                ri as f64 * 12.0,
                si as f64 * 12.0,
                lat as f64 * 12.0,
                (cap > 0).then_some(cap),
                outages,
            );
            for (b, f) in flags.iter().enumerate() {
                let t = (b + 1) as f64 * 12.0;
                let flagged: Vec<AccountId> =
                    (0..4).filter(|i| f & (1 << i) != 0).map(AccountId).collect();
                s.block_end(t, &flagged, |id| t * (id.0 as f64 + 1.0), |_| 1.0);
                for i in 0..4 {
                    let id = AccountId(i);
                    let on = flagged.contains(&id);
                    proptest::prop_assert!(!s.allows(id) || on, "{id:?} allowed, not flagged, t {t}");
                    if equal {
                        proptest::prop_assert_eq!(s.allows(id), on);
                    }
                }
                let m = s.metrics();
                proptest::prop_assert!(m.lag_s_sum >= lat as f64 * 12.0 * m.lag_count as f64);
                proptest::prop_assert!(m.divergence_loss >= 0.0 && m.unsettled_exposure_max >= 0.0);
                if equal {
                    proptest::prop_assert_eq!(m.lag_s_sum, 0.0);
                    proptest::prop_assert_eq!(m.unsettled_exposure_max, 0.0);
                }
            }
        }
    }
}
