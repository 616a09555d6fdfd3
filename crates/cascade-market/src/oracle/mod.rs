//! Oracles: how the engine learns prices, late and imperfectly.
//!
//! A margin engine never sees the market price; it sees what its oracle published. This module
//! models the ways that goes wrong:
//! - `push` feeds (Chainlink-like) observe the reference price `latency_s` late, with
//!   multiplicative noise, and publish only when the observation deviates from the last
//!   on-chain value by `deviation` or the `heartbeat_s` elapses. A publication is a transaction:
//!   it waits in the mempool like any other, so congestion delays it (and a `max_fee_gwei` cap
//!   can stall it altogether). A feed may also freeze for a while (at `freeze_per_hour`).
//! - `twap` reads a venue's time-weighted average price on chain: always fresh, and
//!   manipulable by whoever moves that venue's price.
//! - `delayed` is Maker's OSM: once per `delay_s` hop a poke transaction promotes the queued
//!   price (`nxt`) to the current one (`cur`) and queues the source's present value, so the
//!   engine uses a price between one and two hops old.
//! - `median` takes the median of several feeds, each with its own latency, noise and freezes.
//!
//! Guards report staleness and the deviation from a venue TWAP; the engine decides what they
//! block (liquidations) or trip (a circuit breaker).
//!
//! Feeds are numbered (`FeedId`) in the order the configuration lists them, depth first, so a
//! feed's random draws never depend on another asset's oracle settings.

use cascade_core::clock::per_block_prob;
use cascade_core::{FeedId, SimRng, VenueId};
use rand::RngExt;
use rand_distr::{Distribution, Exp1, StandardNormal};
use std::collections::VecDeque;

mod config;
pub use config::*;

/// Time-weighted average of a price sampled at block starts (Uniswap-v2 style: each sample holds
/// until the next one).
#[derive(Debug, Clone, Default)]
pub struct TwapSamples {
    samples: VecDeque<(f64, f64)>,
    keep_s: f64,
}

impl TwapSamples {
    pub fn new(keep_s: f64) -> TwapSamples {
        TwapSamples {
            samples: VecDeque::new(),
            keep_s,
        }
    }

    /// Record `price` as holding from `t_s` on.
    pub fn record(&mut self, t_s: f64, price: f64) {
        self.samples.push_back((t_s, price));
        // Keep one sample older than the longest window so the window start is covered.
        while self.samples.len() > 2 && self.samples[1].0 <= t_s - self.keep_s {
            self.samples.pop_front();
        }
    }

    /// The time-weighted mean over `[now - window_s, now]`; over the available history when it is
    /// shorter. `None` before the first sample.
    pub fn twap(&self, now: f64, window_s: f64) -> Option<f64> {
        let start = now - window_s;
        let mut acc = 0.0;
        let mut span = 0.0;
        let n = self.samples.len();
        for i in 0..n {
            let (t, p) = self.samples[i];
            let end = if i + 1 < n {
                self.samples[i + 1].0
            } else {
                now
            };
            let a = t.max(start);
            let b = end.min(now);
            if b > a {
                acc += p * (b - a);
                span += b - a;
            }
        }
        if span > 0.0 {
            Some(acc / span)
        } else {
            self.samples.back().map(|s| s.1)
        }
    }
}

/// A publisher's fee policy for its update transactions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublisherFees {
    pub tip_wei: u128,
    pub max_fee_wei: u128,
}

/// An oracle update a publisher wants on chain now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Publication {
    pub feed: FeedId,
    pub price: f64,
    /// A pending update of this feed must be replaced by this one.
    pub replaces_pending: bool,
}

#[derive(Debug, Clone)]
struct PushState {
    deviation: f64,
    heartbeat_s: f64,
    latency_s: f64,
    noise_sd: f64,
    freeze_per_hour: f64,
    freeze_mean_s: f64,
    frozen_until: f64,
}

#[derive(Debug, Clone)]
struct OsmState {
    hop_s: f64,
    source: Node,
    cur: f64,
    nxt: f64,
    last_poke: f64,
}

#[derive(Debug, Clone)]
enum FeedKind {
    Push(PushState),
    Osm(Box<OsmState>),
}

#[derive(Debug, Clone)]
struct Feed {
    asset: usize,
    kind: FeedKind,
    fees: PublisherFees,
    /// On-chain value and time of the last landed update.
    value: f64,
    updated_t: f64,
    /// Price of the update in flight, if any.
    pending: Option<f64>,
}

#[derive(Debug, Clone)]
enum Node {
    Feed(FeedId),
    Median(Vec<Node>),
    Twap {
        venue: VenueId,
        window_s: f64,
    },
    /// The newest reference price of an asset (the default OSM source: an ideal observer).
    Reference(usize),
}

/// Guard settings resolved to ids.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guards {
    pub max_staleness_s: Option<f64>,
    pub max_twap_deviation: Option<f64>,
    pub twap_venue: Option<VenueId>,
    pub twap_window_s: f64,
    pub action: GuardAction,
}

/// The state of an asset's oracle against its guards.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OracleStatus {
    pub price: f64,
    pub age_s: f64,
    pub stale: bool,
    /// |oracle - twap| / twap, when a TWAP guard is configured.
    pub twap_deviation: Option<f64>,
    pub deviated: bool,
}

impl OracleStatus {
    /// Any guard violated.
    pub fn violated(&self) -> bool {
        self.stale || self.deviated
    }
}

/// Resolves venue names to ids while building oracles.
pub trait VenueLookup {
    fn venue_id(&self, name: &str) -> Option<VenueId>;
}

impl VenueLookup for [String] {
    fn venue_id(&self, name: &str) -> Option<VenueId> {
        self.iter()
            .position(|v| v == name)
            .map(|i| VenueId(i as u16))
    }
}

/// Everything that can go wrong building oracles from a configuration that passed validation
/// only partially (e.g. the caller skipped it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OracleError {
    #[error("oracle for asset index {0}: unknown venue \"{1}\"")]
    UnknownVenue(usize, String),
    #[error("asset index {0} has no oracle")]
    MissingOracle(usize),
    #[error("asset index {0} has more than one oracle")]
    DuplicateOracle(usize),
}

/// The oracles of every asset, with their feeds, publishers and guards.
#[derive(Debug, Clone)]
pub struct Oracles {
    feeds: Vec<Feed>,
    roots: Vec<Node>,
    guards: Vec<Guards>,
    /// (time, reference price) of recent blocks per asset, newest last (for feed latency):
    /// every block later than now minus the longest latency, and the latest one before.
    ref_history: Vec<VecDeque<(f64, f64)>>,
    max_latency_s: f64,
    /// Venue price samples for TWAPs.
    venue_samples: Vec<TwapSamples>,
    /// Blocks recorded so far.
    block: u64,
}

fn gwei_to_wei(g: f64) -> u128 {
    (g * 1e9).round().max(0.0) as u128
}

impl Oracles {
    /// Build the oracles. `asset_of[i]` is the asset index of `configs[i]` (resolved by the
    /// caller), `initial_prices` the assets' reference prices at genesis, `venue_names` the
    /// venues in id order. Every asset must have exactly one oracle.
    pub fn new(
        configs: &[(usize, OracleConfig)],
        initial_prices: &[f64],
        venue_names: &[String],
    ) -> Result<Oracles, OracleError> {
        let n_assets = initial_prices.len();
        let mut roots: Vec<Option<Node>> = vec![None; n_assets];
        let mut guards: Vec<Option<Guards>> = vec![None; n_assets];
        let mut feeds = Vec::new();
        let mut max_latency_s: f64 = 0.0;
        let mut max_window: f64 = 0.0;
        for (asset, cfg) in configs {
            let asset = *asset;
            if roots[asset].is_some() {
                return Err(OracleError::DuplicateOracle(asset));
            }
            let p0 = initial_prices[asset];
            let root = build_node(
                &cfg.feed,
                asset,
                p0,
                venue_names,
                &mut feeds,
                &mut max_latency_s,
                &mut max_window,
            )?;
            roots[asset] = Some(root);
            let g = &cfg.guards;
            let twap_venue = match &g.twap_venue {
                Some(v) => Some(
                    venue_names
                        .venue_id(v)
                        .ok_or_else(|| OracleError::UnknownVenue(asset, v.clone()))?,
                ),
                None => None,
            };
            if twap_venue.is_some() {
                max_window = max_window.max(g.twap_window_s);
            }
            guards[asset] = Some(Guards {
                max_staleness_s: g.max_staleness_s,
                max_twap_deviation: g.max_twap_deviation,
                twap_venue,
                twap_window_s: g.twap_window_s,
                action: g.action,
            });
        }
        let roots = roots
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.ok_or(OracleError::MissingOracle(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let guards = guards
            .into_iter()
            .map(|g| g.expect("set together with roots")) // every root has its guards
            .collect();
        Ok(Oracles {
            feeds,
            roots,
            guards,
            ref_history: initial_prices
                .iter()
                .map(|p| VecDeque::from(vec![(0.0, *p)]))
                .collect(),
            max_latency_s,
            venue_samples: venue_names
                .iter()
                .map(|_| TwapSamples::new(max_window.max(1.0)))
                .collect(),
            block: 0,
        })
    }

    pub fn n_feeds(&self) -> usize {
        self.feeds.len()
    }

    /// The asset whose oracle feed `f` belongs to.
    pub fn feed_asset(&self, f: FeedId) -> usize {
        self.feeds[f.index()].asset
    }

    /// The fee policy of feed `f`'s publisher.
    pub fn publisher_fees(&self, f: FeedId) -> PublisherFees {
        self.feeds[f.index()].fees
    }

    /// Step 4, first half: record this block's reference prices and the venues' prices at the
    /// block start (for TWAPs).
    pub fn record(&mut self, t_s: f64, p_ref: &[f64], venue_prices: &[f64]) {
        self.block += 1;
        for (h, p) in self.ref_history.iter_mut().zip(p_ref) {
            h.push_back((t_s, *p));
            // Keep the latest block at or before the longest latency's horizon.
            let horizon = t_s - self.max_latency_s;
            while h.len() > 1 && h[1].0 <= horizon {
                h.pop_front();
            }
        }
        for (s, p) in self.venue_samples.iter_mut().zip(venue_prices) {
            if p.is_finite() && *p > 0.0 {
                s.record(t_s, *p);
            }
        }
    }

    /// Step 4, second half: each feed observes and decides whether to publish. Draws a fixed
    /// number of values per feed per block from `rng` (common random numbers). `dt_s` is the
    /// block's actual interval (the freeze clock's exposure).
    pub fn observe(&mut self, t_s: f64, dt_s: f64, rng: &mut SimRng, out: &mut Vec<Publication>) {
        for fi in 0..self.feeds.len() {
            // Three draws per feed per block, always: noise, freeze trigger, freeze length.
            let z: f64 = StandardNormal.sample(rng);
            let u: f64 = rng.random();
            let x: f64 = Exp1.sample(rng);
            let asset = self.feeds[fi].asset;
            let hist = &self.ref_history[asset];
            let feed = &mut self.feeds[fi];
            match &mut feed.kind {
                FeedKind::Push(s) => {
                    if t_s < s.frozen_until {
                        continue;
                    }
                    if u < per_block_prob(s.freeze_per_hour, dt_s) {
                        s.frozen_until = t_s + x * s.freeze_mean_s;
                        continue;
                    }
                    // The latest block whose time is at most now - latency (else the oldest).
                    let horizon = t_s - s.latency_s;
                    let at = hist.iter().rposition(|e| e.0 <= horizon).unwrap_or(0);
                    let observed = hist[at].1;
                    let obs = observed * (s.noise_sd * z).exp();
                    let reference = feed.pending.unwrap_or(feed.value);
                    let deviates = (obs - reference).abs() >= s.deviation * reference;
                    let heartbeat = feed.pending.is_none() && t_s - feed.updated_t >= s.heartbeat_s;
                    if deviates || heartbeat {
                        out.push(Publication {
                            feed: FeedId(fi as u16),
                            price: obs,
                            replaces_pending: feed.pending.is_some(),
                        });
                        feed.pending = Some(obs);
                    }
                }
                FeedKind::Osm(o) => {
                    if feed.pending.is_none() && t_s - o.last_poke >= o.hop_s {
                        out.push(Publication {
                            feed: FeedId(fi as u16),
                            price: f64::NAN,
                            replaces_pending: false,
                        });
                        feed.pending = Some(f64::NAN);
                    }
                }
            }
        }
    }

    /// A publication transaction of feed `f` landed on chain at time `t_s` with `price` (ignored
    /// for an OSM poke, which reads its source at execution).
    pub fn apply(&mut self, f: FeedId, price: f64, t_s: f64) {
        let fi = f.index();
        if fi >= self.feeds.len() {
            return;
        }
        // An OSM poke reads its source now: evaluate before borrowing the feed mutably.
        let source_value = match &self.feeds[fi].kind {
            FeedKind::Osm(o) => Some(self.eval(&o.source, t_s)),
            FeedKind::Push(_) => None,
        };
        let feed = &mut self.feeds[fi];
        feed.pending = None;
        match &mut feed.kind {
            FeedKind::Push(_) => {
                if price.is_finite() && price > 0.0 {
                    feed.value = price;
                    feed.updated_t = t_s;
                }
            }
            FeedKind::Osm(o) => {
                o.cur = o.nxt;
                if let Some(v) = source_value {
                    o.nxt = v;
                }
                o.last_poke = t_s;
                feed.value = o.cur;
                feed.updated_t = t_s;
            }
        }
    }

    /// Feed `f` has an update of `price` in flight (an auctioned report waiting for its
    /// public fallback): the publisher compares new observations with it, as with a pending
    /// public transaction.
    pub fn mark_pending(&mut self, f: FeedId, price: f64) {
        if let Some(feed) = self.feeds.get_mut(f.index()) {
            feed.pending = Some(price);
        }
    }

    /// A publication of feed `f` expired or was dropped before landing: the publisher will
    /// decide afresh next block.
    pub fn forget_pending(&mut self, f: FeedId) {
        if let Some(feed) = self.feeds.get_mut(f.index()) {
            feed.pending = None;
        }
    }

    /// The engine's oracle price of `asset` at time `t_s`.
    pub fn price(&self, asset: usize, t_s: f64) -> f64 {
        self.eval(&self.roots[asset], t_s)
    }

    /// The age of the asset's oracle price (seconds since its inputs were updated).
    pub fn age(&self, asset: usize, t_s: f64) -> f64 {
        self.age_of(&self.roots[asset], t_s)
    }

    /// What the engine does when the asset's guards are violated.
    pub fn guard_action(&self, asset: usize) -> GuardAction {
        self.guards[asset].action
    }

    /// The engine's price of `asset` if feed `f`'s pending publication of `price` landed now
    /// (what a searcher computes from an oracle update in the mempool).
    pub fn price_if(&self, asset: usize, f: FeedId, price: f64, t_s: f64) -> f64 {
        self.eval_with(&self.roots[asset], t_s, Some((f, price)))
    }

    /// The asset's oracle price checked against its guards.
    pub fn status(&self, asset: usize, t_s: f64) -> OracleStatus {
        let price = self.price(asset, t_s);
        let age_s = self.age(asset, t_s);
        let g = &self.guards[asset];
        let stale = g.max_staleness_s.is_some_and(|m| age_s > m);
        let twap_deviation = g.twap_venue.and_then(|v| {
            self.venue_samples[v.index()]
                .twap(t_s, g.twap_window_s)
                .map(|tw| (price - tw).abs() / tw)
        });
        let deviated = match (g.max_twap_deviation, twap_deviation) {
            (Some(m), Some(d)) => d > m,
            _ => false,
        };
        OracleStatus {
            price,
            age_s,
            stale,
            twap_deviation,
            deviated,
        }
    }

    pub fn guards(&self, asset: usize) -> &Guards {
        &self.guards[asset]
    }

    /// The TWAP of venue `v` over `window_s` at `t_s`.
    pub fn venue_twap(&self, v: VenueId, t_s: f64, window_s: f64) -> Option<f64> {
        self.venue_samples.get(v.index())?.twap(t_s, window_s)
    }

    fn eval(&self, node: &Node, t_s: f64) -> f64 {
        self.eval_with(node, t_s, None)
    }

    fn eval_with(&self, node: &Node, t_s: f64, over: Option<(FeedId, f64)>) -> f64 {
        match node {
            Node::Feed(f) => match over {
                Some((g, p)) if g == *f => p,
                _ => self.feeds[f.index()].value,
            },
            Node::Median(children) => {
                let mut v: Vec<f64> = children
                    .iter()
                    .map(|c| self.eval_with(c, t_s, over))
                    .collect();
                median(&mut v)
            }
            Node::Twap { venue, window_s } => self.venue_samples[venue.index()]
                .twap(t_s, *window_s)
                .unwrap_or(f64::NAN),
            Node::Reference(a) => self.ref_history[*a].back().map_or(f64::NAN, |e| e.1),
        }
    }

    fn age_of(&self, node: &Node, t_s: f64) -> f64 {
        match node {
            Node::Feed(f) => t_s - self.feeds[f.index()].updated_t,
            Node::Median(children) => {
                let mut v: Vec<f64> = children.iter().map(|c| self.age_of(c, t_s)).collect();
                median(&mut v)
            }
            Node::Twap { .. } | Node::Reference(_) => 0.0,
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn build_node(
    cfg: &FeedConfig,
    asset: usize,
    p0: f64,
    venues: &[String],
    feeds: &mut Vec<Feed>,
    max_latency_s: &mut f64,
    max_window: &mut f64,
) -> Result<Node, OracleError> {
    Ok(match cfg {
        FeedConfig::Push {
            deviation,
            heartbeat_s,
            latency_s,
            noise_bp,
            freeze_per_hour,
            freeze_mean_s,
            tip_gwei,
            max_fee_gwei,
            ..
        } => {
            *max_latency_s = max_latency_s.max(*latency_s);
            let id = FeedId(feeds.len() as u16);
            feeds.push(Feed {
                asset,
                kind: FeedKind::Push(PushState {
                    deviation: *deviation,
                    heartbeat_s: *heartbeat_s,
                    latency_s: *latency_s,
                    noise_sd: noise_bp / 1e4,
                    freeze_per_hour: *freeze_per_hour,
                    freeze_mean_s: *freeze_mean_s,
                    frozen_until: f64::NEG_INFINITY,
                }),
                fees: PublisherFees {
                    tip_wei: gwei_to_wei(*tip_gwei),
                    max_fee_wei: gwei_to_wei(*max_fee_gwei),
                },
                value: p0,
                updated_t: 0.0,
                pending: None,
            });
            Node::Feed(id)
        }
        FeedConfig::Twap { venue, window_s } => {
            let v = venues
                .venue_id(venue)
                .ok_or_else(|| OracleError::UnknownVenue(asset, venue.clone()))?;
            *max_window = max_window.max(*window_s);
            Node::Twap {
                venue: v,
                window_s: *window_s,
            }
        }
        FeedConfig::Delayed {
            delay_s,
            source,
            tip_gwei,
            max_fee_gwei,
        } => {
            let src = match source {
                Some(s) => build_node(s, asset, p0, venues, feeds, max_latency_s, max_window)?,
                None => Node::Reference(asset),
            };
            let id = FeedId(feeds.len() as u16);
            feeds.push(Feed {
                asset,
                kind: FeedKind::Osm(Box::new(OsmState {
                    hop_s: *delay_s,
                    source: src,
                    cur: p0,
                    nxt: p0,
                    last_poke: 0.0,
                })),
                fees: PublisherFees {
                    tip_wei: gwei_to_wei(*tip_gwei),
                    max_fee_wei: gwei_to_wei(*max_fee_gwei),
                },
                value: p0,
                updated_t: 0.0,
                pending: None,
            });
            Node::Feed(id)
        }
        FeedConfig::Median { feeds: children } => Node::Median(
            children
                .iter()
                .map(|c| build_node(c, asset, p0, venues, feeds, max_latency_s, max_window))
                .collect::<Result<_, _>>()?,
        ),
    })
}

#[cfg(test)]
mod tests;
