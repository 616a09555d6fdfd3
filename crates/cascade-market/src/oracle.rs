//! Oracles: how the engine learns prices, late and imperfectly.
//!
//! A margin engine never sees the market price; it sees what its oracle published. This module
//! models the ways that goes wrong:
//! - `push` feeds (Chainlink-like) observe the reference price `latency_blocks` late, with
//!   multiplicative noise, and publish only when the observation deviates from the last
//!   on-chain value by `deviation` or the `heartbeat_s` elapses. A publication is a transaction:
//!   it waits in the mempool like any other, so congestion delays it (and a `max_fee_gwei` cap
//!   can stall it altogether). A feed may also freeze for a while (`freeze_prob`).
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

use cascade_core::{Check, FeedId, SimRng, VenueId};
use rand::RngExt;
use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

fn default_deviation() -> f64 {
    0.005
}
fn default_heartbeat() -> f64 {
    3600.0
}
fn default_latency() -> u32 {
    1
}
fn default_tip() -> f64 {
    2.0
}
fn default_max_fee() -> f64 {
    5000.0
}
fn default_freeze_mean() -> f64 {
    600.0
}
fn default_twap_window() -> f64 {
    1800.0
}

/// One price source of an asset's oracle (serde tag `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeedConfig {
    /// Chainlink-like push feed.
    Push {
        /// Publish when |observation - on-chain| / on-chain >= deviation.
        #[serde(default = "default_deviation")]
        deviation: f64,
        /// Publish at least this often (seconds since the last landed update).
        #[serde(default = "default_heartbeat")]
        heartbeat_s: f64,
        /// The node observes the reference price of this many blocks ago.
        #[serde(default = "default_latency")]
        latency_blocks: u32,
        /// Standard deviation of the multiplicative observation noise, in basis points.
        #[serde(default)]
        noise_bp: f64,
        /// Probability per block that the feed freezes (publishes nothing) ...
        #[serde(default)]
        freeze_prob: f64,
        /// ... for an exponentially distributed time with this mean (seconds).
        #[serde(default = "default_freeze_mean")]
        freeze_mean_s: f64,
        /// Priority fee the publisher bids (gwei per gas).
        #[serde(default = "default_tip")]
        tip_gwei: f64,
        /// The publisher never pays more than this per gas (gwei): above it, updates wait.
        #[serde(default = "default_max_fee")]
        max_fee_gwei: f64,
    },
    /// Time-weighted average of a venue's price, read on chain.
    Twap {
        venue: String,
        #[serde(default = "default_twap_window")]
        window_s: f64,
    },
    /// Maker OSM: the price in use is between one and two `delay_s` hops old.
    Delayed {
        delay_s: f64,
        /// Where the OSM reads its next value; default: the reference price itself.
        #[serde(default)]
        source: Option<Box<FeedConfig>>,
        #[serde(default = "default_tip")]
        tip_gwei: f64,
        #[serde(default = "default_max_fee")]
        max_fee_gwei: f64,
    },
    /// Median of several feeds.
    Median { feeds: Vec<FeedConfig> },
}

/// What a violated guard does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    /// Liquidations are refused while the guard is violated.
    #[default]
    BlockLiquidations,
    /// The engine's circuit breaker trips.
    TripBreaker,
}

/// Checks on an asset's oracle price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// The price is stale when its age exceeds this (seconds).
    #[serde(default)]
    pub max_staleness_s: Option<f64>,
    /// The price deviates when |oracle - twap| / twap exceeds this ...
    #[serde(default)]
    pub max_twap_deviation: Option<f64>,
    /// ... where twap is this venue's TWAP ...
    #[serde(default)]
    pub twap_venue: Option<String>,
    /// ... over this window (seconds).
    #[serde(default = "default_twap_window")]
    pub twap_window_s: f64,
    #[serde(default)]
    pub action: GuardAction,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_staleness_s: None,
            max_twap_deviation: None,
            twap_venue: None,
            twap_window_s: default_twap_window(),
            action: GuardAction::default(),
        }
    }
}

/// The oracle of one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleConfig {
    pub asset: String,
    pub feed: FeedConfig,
    #[serde(default)]
    pub guards: GuardConfig,
    /// How the feeds' updates reach the chain (default: the public mempool). Left out of the
    /// serialized configuration when public, so existing configurations hash as before.
    #[serde(default, skip_serializing_if = "PublicationMode::is_public")]
    pub publication: PublicationMode,
}

fn default_share_to_protocol() -> f64 {
    0.6
}
fn default_oev_bidders() -> Vec<OevBidder> {
    vec![OevBidder::Liquidator, OevBidder::MevBot]
}

/// A population that may bid in an oracle order-flow auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OevBidder {
    /// Every `liquidator` agent.
    Liquidator,
    /// Every `mev_bot` agent (those with `backrun = true` bid).
    MevBot,
}

/// How an oracle's updates are published (serde tag `kind`).
///
/// `public`: each update is a transaction in the public mempool (searchers may backrun it).
/// `oev_auction` (Chainlink SVR, API3 OEV Network, UMA Oval; docs/references.md, R18):
/// each update first goes to a sealed-bid, second-price auction among the `bidders` for the
/// right to backrun it; the winner's liquidations run in the same block right after the update
/// and its payment is split between the protocol's insurance fund (`share_to_protocol`) and the
/// oracle; with no bid, or when the private route fails (`private_route_failure_prob`), the
/// public update is submitted `fallback_delay_blocks` later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PublicationMode {
    #[default]
    Public,
    OevAuction {
        /// Share of the winning payment paid into the insurance fund; the rest goes to the
        /// oracle. Default 0.6, SVR's published standard split.
        #[serde(default = "default_share_to_protocol")]
        share_to_protocol: f64,
        /// Blocks after the report at which the public update is submitted when the auction
        /// does not land it.
        fallback_delay_blocks: u32,
        /// Probability that the private route fails for an update (drawn from stream `oev`).
        #[serde(default)]
        private_route_failure_prob: f64,
        /// Populations that bid (default both).
        #[serde(default = "default_oev_bidders")]
        bidders: Vec<OevBidder>,
    },
}

impl PublicationMode {
    pub fn is_public(&self) -> bool {
        matches!(self, PublicationMode::Public)
    }

    /// Record every broken rule under `c` (the `publication` table); `feed` is the oracle's
    /// feed, which must publish (push feeds).
    pub fn validate(&self, c: &mut Check, feed: &FeedConfig) {
        let PublicationMode::OevAuction {
            share_to_protocol,
            fallback_delay_blocks,
            private_route_failure_prob,
            bidders,
        } = self
        else {
            return;
        };
        c.unit_interval("share_to_protocol", *share_to_protocol);
        c.unit_interval("private_route_failure_prob", *private_route_failure_prob);
        if *fallback_delay_blocks > MAX_FALLBACK_DELAY_BLOCKS {
            c.fail(
                "fallback_delay_blocks",
                format!(
                    "must be at most {MAX_FALLBACK_DELAY_BLOCKS} blocks (got {fallback_delay_blocks})"
                ),
            );
        }
        for (i, b) in bidders.iter().enumerate() {
            if bidders[..i].contains(b) {
                c.fail("bidders", format!("lists {b:?} twice"));
            }
        }
        if !feed.has_push() {
            c.fail(
                "kind",
                "oev_auction needs a feed that publishes updates: a push feed or a median with at least one push feed",
            );
        }
        if feed.has_delayed() {
            c.fail(
                "kind",
                "oev_auction cannot auction OSM pokes (`delayed` feeds): use push feeds",
            );
        }
    }
}

/// The longest fallback delay accepted (a day of 12-second blocks).
pub const MAX_FALLBACK_DELAY_BLOCKS: u32 = 7_200;

impl FeedConfig {
    /// Whether the feed (or one of a median's feeds) is a push feed.
    pub fn has_push(&self) -> bool {
        match self {
            FeedConfig::Push { .. } => true,
            FeedConfig::Median { feeds } => feeds.iter().any(|f| f.has_push()),
            FeedConfig::Twap { .. } | FeedConfig::Delayed { .. } => false,
        }
    }

    /// Whether the feed is, or contains, an OSM (`delayed`).
    pub fn has_delayed(&self) -> bool {
        match self {
            FeedConfig::Delayed { .. } => true,
            FeedConfig::Median { feeds } => feeds.iter().any(|f| f.has_delayed()),
            FeedConfig::Push { .. } | FeedConfig::Twap { .. } => false,
        }
    }

    /// Record every broken rule under `c`. `venues` are the configured venue names.
    pub fn validate(&self, c: &mut Check, venues: &[String]) {
        match self {
            FeedConfig::Push {
                deviation,
                heartbeat_s,
                latency_blocks: _,
                noise_bp,
                freeze_prob,
                freeze_mean_s,
                tip_gwei,
                max_fee_gwei,
            } => {
                c.range_open_hi("deviation", *deviation, 0.0, 1.0);
                c.positive("heartbeat_s", *heartbeat_s);
                c.non_negative("noise_bp", *noise_bp);
                c.unit_interval("freeze_prob", *freeze_prob);
                c.positive("freeze_mean_s", *freeze_mean_s);
                c.non_negative("tip_gwei", *tip_gwei);
                c.positive("max_fee_gwei", *max_fee_gwei);
            }
            FeedConfig::Twap { venue, window_s } => {
                if !venues.iter().any(|v| v == venue) {
                    c.fail(
                        "venue",
                        format!(
                            "names no configured venue (got \"{venue}\"; venues: {})",
                            venues.join(", ")
                        ),
                    );
                }
                c.positive("window_s", *window_s);
            }
            FeedConfig::Delayed {
                delay_s,
                source,
                tip_gwei,
                max_fee_gwei,
            } => {
                c.positive("delay_s", *delay_s);
                c.non_negative("tip_gwei", *tip_gwei);
                c.positive("max_fee_gwei", *max_fee_gwei);
                if let Some(s) = source {
                    s.validate(&mut c.at("source"), venues);
                }
            }
            FeedConfig::Median { feeds } => {
                if feeds.is_empty() {
                    c.fail("feeds", "must list at least one feed");
                }
                for (i, f) in feeds.iter().enumerate() {
                    f.validate(&mut c.at("feeds").at(&format!("[{i}]")), venues);
                }
            }
        }
    }
}

impl OracleConfig {
    pub fn validate(&self, c: &mut Check, venues: &[String]) {
        self.feed.validate(&mut c.at("feed"), venues);
        self.publication
            .validate(&mut c.at("publication"), &self.feed);
        let g = &self.guards;
        let mut gc = c.at("guards");
        if let Some(s) = g.max_staleness_s {
            gc.positive("max_staleness_s", s);
        }
        if let Some(d) = g.max_twap_deviation {
            gc.positive("max_twap_deviation", d);
            match &g.twap_venue {
                None => gc.fail(
                    "twap_venue",
                    "is required when max_twap_deviation is set (the venue whose TWAP is the check)",
                ),
                Some(v) if !venues.iter().any(|x| x == v) => gc.fail(
                    "twap_venue",
                    format!(
                        "names no configured venue (got \"{v}\"; venues: {})",
                        venues.join(", ")
                    ),
                ),
                _ => {}
            }
        }
        gc.positive("twap_window_s", g.twap_window_s);
    }
}

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
    latency_blocks: u32,
    noise_sd: f64,
    freeze_prob: f64,
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
    /// Reference prices of recent blocks per asset, newest last (for feed latency).
    ref_history: Vec<VecDeque<f64>>,
    max_latency: usize,
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
        let mut max_latency = 1usize;
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
                &mut max_latency,
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
                .map(|p| VecDeque::from(vec![*p]))
                .collect(),
            max_latency,
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
            h.push_back(*p);
            while h.len() > self.max_latency + 1 {
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
    /// number of values per feed per block from `rng` (common random numbers).
    pub fn observe(&mut self, t_s: f64, rng: &mut SimRng, out: &mut Vec<Publication>) {
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
                    if u < s.freeze_prob {
                        s.frozen_until = t_s + x * s.freeze_mean_s;
                        continue;
                    }
                    let lag = (s.latency_blocks as usize).min(hist.len() - 1);
                    let observed = hist[hist.len() - 1 - lag];
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
            Node::Reference(a) => self.ref_history[*a].back().copied().unwrap_or(f64::NAN),
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
    max_latency: &mut usize,
    max_window: &mut f64,
) -> Result<Node, OracleError> {
    Ok(match cfg {
        FeedConfig::Push {
            deviation,
            heartbeat_s,
            latency_blocks,
            noise_bp,
            freeze_prob,
            freeze_mean_s,
            tip_gwei,
            max_fee_gwei,
        } => {
            *max_latency = (*max_latency).max(*latency_blocks as usize);
            let id = FeedId(feeds.len() as u16);
            feeds.push(Feed {
                asset,
                kind: FeedKind::Push(PushState {
                    deviation: *deviation,
                    heartbeat_s: *heartbeat_s,
                    latency_blocks: *latency_blocks,
                    noise_sd: noise_bp / 1e4,
                    freeze_prob: *freeze_prob,
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
                Some(s) => build_node(s, asset, p0, venues, feeds, max_latency, max_window)?,
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
                .map(|c| build_node(c, asset, p0, venues, feeds, max_latency, max_window))
                .collect::<Result<_, _>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::rng::{run_seed, stream};

    fn push(deviation: f64, heartbeat_s: f64, latency_blocks: u32) -> FeedConfig {
        FeedConfig::Push {
            deviation,
            heartbeat_s,
            latency_blocks,
            noise_bp: 0.0,
            freeze_prob: 0.0,
            freeze_mean_s: 600.0,
            tip_gwei: 2.0,
            max_fee_gwei: 100.0,
        }
    }

    fn one(feed: FeedConfig, guards: GuardConfig, venues: &[String]) -> Oracles {
        Oracles::new(
            &[(
                0,
                OracleConfig {
                    asset: "ETH".into(),
                    feed,
                    guards,
                    publication: PublicationMode::Public,
                },
            )],
            &[100.0],
            venues,
        )
        .unwrap()
    }

    fn rng() -> SimRng {
        stream(run_seed(1, 0), "oracle", 0)
    }

    #[test]
    fn push_publishes_on_deviation_with_latency() {
        let mut o = one(push(0.01, 3600.0, 2), GuardConfig::default(), &[]);
        let mut r = rng();
        let mut out = Vec::new();
        // Block 1: reference moves 0.5% -> below threshold.
        o.record(12.0, &[100.5], &[]);
        o.observe(12.0, &mut r, &mut out);
        assert!(out.is_empty());
        // Block 2 and 3: reference at 103, but the node sees two blocks late.
        o.record(24.0, &[103.0], &[]);
        o.observe(24.0, &mut r, &mut out);
        assert!(out.is_empty(), "sees 100.0 (two blocks ago)");
        o.record(36.0, &[103.0], &[]);
        o.observe(36.0, &mut r, &mut out);
        assert!(out.is_empty(), "sees 100.5 (two blocks ago)");
        o.record(48.0, &[103.0], &[]);
        o.observe(48.0, &mut r, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].price, 103.0);
        assert!(!out[0].replaces_pending);
        // Until the transaction lands the engine still sees the old price.
        assert_eq!(o.price(0, 48.0), 100.0);
        o.apply(out[0].feed, out[0].price, 60.0);
        assert_eq!(o.price(0, 60.0), 103.0);
        assert_eq!(o.age(0, 70.0), 10.0);
    }

    #[test]
    fn pending_update_is_replaced_not_duplicated() {
        let mut o = one(push(0.01, 3600.0, 0), GuardConfig::default(), &[]);
        let mut r = rng();
        let mut out = Vec::new();
        o.record(12.0, &[102.0], &[]);
        o.observe(12.0, &mut r, &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        // Still pending; small move relative to the pending price: nothing new.
        o.record(24.0, &[102.5], &[]);
        o.observe(24.0, &mut r, &mut out);
        assert!(out.is_empty());
        // Large move relative to the pending price: a replacement.
        o.record(36.0, &[105.0], &[]);
        o.observe(36.0, &mut r, &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].replaces_pending);
    }

    #[test]
    fn heartbeat_publishes_without_deviation() {
        let mut o = one(push(0.5, 60.0, 0), GuardConfig::default(), &[]);
        let mut r = rng();
        let mut out = Vec::new();
        for b in 1..=4 {
            let t = 12.0 * b as f64;
            o.record(t, &[100.0], &[]);
            o.observe(t, &mut r, &mut out);
        }
        assert!(out.is_empty(), "48 s < heartbeat");
        o.record(60.0, &[100.0], &[]);
        o.observe(60.0, &mut r, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn osm_uses_a_price_one_to_two_hops_old() {
        let mut o = one(
            FeedConfig::Delayed {
                delay_s: 3600.0,
                source: None,
                tip_gwei: 1.0,
                max_fee_gwei: 100.0,
            },
            GuardConfig::default(),
            &[],
        );
        let mut r = rng();
        let mut out = Vec::new();
        o.record(1800.0, &[90.0], &[]);
        o.observe(1800.0, &mut r, &mut out);
        assert!(out.is_empty());
        o.record(3600.0, &[80.0], &[]);
        o.observe(3600.0, &mut r, &mut out);
        assert_eq!(out.len(), 1);
        o.apply(out[0].feed, f64::NAN, 3600.0);
        // First poke: cur <- nxt (the genesis 100), nxt <- 80.
        assert_eq!(o.price(0, 3600.0), 100.0);
        out.clear();
        o.record(7200.0, &[50.0], &[]);
        o.observe(7200.0, &mut r, &mut out);
        o.apply(out[0].feed, f64::NAN, 7200.0);
        assert_eq!(o.price(0, 7200.0), 80.0, "the value queued one hop earlier");
    }

    #[test]
    fn median_ignores_one_frozen_or_wild_feed() {
        let mut o = one(
            FeedConfig::Median {
                feeds: vec![
                    push(0.01, 3600.0, 0),
                    push(0.01, 3600.0, 0),
                    push(0.01, 3600.0, 0),
                ],
            },
            GuardConfig::default(),
            &[],
        );
        o.apply(FeedId(0), 1000.0, 12.0);
        o.apply(FeedId(1), 101.0, 12.0);
        assert_eq!(o.price(0, 12.0), 101.0);
        o.apply(FeedId(2), 99.0, 12.0);
        assert_eq!(o.price(0, 12.0), 101.0);
    }

    #[test]
    fn frozen_feed_publishes_nothing() {
        let mut cfg = push(0.001, 60.0, 0);
        if let FeedConfig::Push {
            freeze_prob,
            freeze_mean_s,
            ..
        } = &mut cfg
        {
            *freeze_prob = 1.0;
            *freeze_mean_s = 1e9;
        }
        let mut o = one(cfg, GuardConfig::default(), &[]);
        let mut r = rng();
        let mut out = Vec::new();
        for b in 1..50 {
            let t = 12.0 * b as f64;
            o.record(t, &[100.0 + b as f64], &[]);
            o.observe(t, &mut r, &mut out);
        }
        assert!(out.is_empty());
    }

    #[test]
    fn twap_is_time_weighted_over_the_window() {
        let mut s = TwapSamples::new(100.0);
        s.record(0.0, 10.0);
        s.record(10.0, 20.0);
        s.record(30.0, 40.0);
        // Over [0, 40]: 10*10 + 20*20 + 40*10 = 900 / 40.
        assert!((s.twap(40.0, 40.0).unwrap() - 22.5).abs() < 1e-12);
        // Over [20, 40]: 20*10 + 40*10 = 600 / 20.
        assert!((s.twap(40.0, 20.0).unwrap() - 30.0).abs() < 1e-12);
    }

    #[test]
    fn guards_report_staleness_and_twap_deviation() {
        let venues = vec!["amm".to_string()];
        let mut o = one(
            push(0.5, 1e9, 0),
            GuardConfig {
                max_staleness_s: Some(100.0),
                max_twap_deviation: Some(0.05),
                twap_venue: Some("amm".into()),
                twap_window_s: 60.0,
                action: GuardAction::BlockLiquidations,
            },
            &venues,
        );
        o.record(12.0, &[100.0], &[100.0]);
        let s = o.status(0, 12.0);
        assert!(!s.violated());
        o.record(200.0, &[100.0], &[80.0]);
        let s = o.status(0, 300.0);
        assert!(s.stale);
        assert!(s.deviated, "venue at 80 for the whole window vs oracle 100");
        assert!((s.twap_deviation.unwrap() - 0.25).abs() < 1e-12);
    }

    #[test]
    fn validation_names_keys() {
        let mut issues = Vec::new();
        let cfg = OracleConfig {
            asset: "ETH".into(),
            feed: FeedConfig::Median {
                feeds: vec![
                    FeedConfig::Twap {
                        venue: "nope".into(),
                        window_s: 0.0,
                    },
                    push(1.5, -1.0, 0),
                ],
            },
            guards: GuardConfig {
                max_twap_deviation: Some(0.1),
                ..GuardConfig::default()
            },
            publication: PublicationMode::OevAuction {
                share_to_protocol: 1.5,
                fallback_delay_blocks: 3,
                private_route_failure_prob: 0.0,
                bidders: vec![OevBidder::Liquidator, OevBidder::Liquidator],
            },
        };
        cfg.validate(
            &mut Check::new(&mut issues).at("oracles[0]"),
            &["amm".into()],
        );
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert!(keys.contains(&"oracles[0].feed.feeds[0].venue"), "{keys:?}");
        assert!(keys.contains(&"oracles[0].feed.feeds[0].window_s"));
        assert!(keys.contains(&"oracles[0].feed.feeds[1].deviation"));
        assert!(keys.contains(&"oracles[0].feed.feeds[1].heartbeat_s"));
        assert!(keys.contains(&"oracles[0].guards.twap_venue"));
        assert!(keys.contains(&"oracles[0].publication.share_to_protocol"));
        assert!(keys.contains(&"oracles[0].publication.bidders"));
        assert!(
            !keys.contains(&"oracles[0].publication.kind"),
            "a median with a push feed"
        );
    }

    #[test]
    fn oev_auction_needs_push_feeds_and_parses_with_defaults() {
        let cfg: OracleConfig = toml::from_str(
            r#"
asset = "ETH"
feed = { kind = "twap", venue = "amm" }
publication = { kind = "oev_auction", fallback_delay_blocks = 2 }
"#,
        )
        .unwrap();
        assert_eq!(
            cfg.publication,
            PublicationMode::OevAuction {
                share_to_protocol: 0.6,
                fallback_delay_blocks: 2,
                private_route_failure_prob: 0.0,
                bidders: vec![OevBidder::Liquidator, OevBidder::MevBot],
            }
        );
        let mut issues = Vec::new();
        cfg.validate(
            &mut Check::new(&mut issues).at("oracles[0]"),
            &["amm".into()],
        );
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["oracles[0].publication.kind"]);
        // Public is the default and is left out when serialized.
        let public: OracleConfig =
            toml::from_str("asset = \"ETH\"\nfeed = { kind = \"push\" }\n").unwrap();
        assert!(public.publication.is_public());
        assert!(!toml::to_string(&public).unwrap().contains("publication"));
    }

    #[test]
    fn same_seed_same_publications() {
        let run = |seed: u64| {
            let mut cfg = push(0.002, 600.0, 1);
            if let FeedConfig::Push {
                noise_bp,
                freeze_prob,
                ..
            } = &mut cfg
            {
                *noise_bp = 20.0;
                *freeze_prob = 0.01;
            }
            let mut o = one(cfg, GuardConfig::default(), &[]);
            let mut r = stream(run_seed(seed, 0), "oracle", 0);
            let mut all = Vec::new();
            for b in 1..500 {
                let t = 12.0 * b as f64;
                let mut out = Vec::new();
                o.record(t, &[100.0 * (1.0 + 0.01 * (b as f64 / 7.0).sin())], &[]);
                o.observe(t, &mut r, &mut out);
                for p in &out {
                    o.apply(p.feed, p.price, t);
                    all.push((b, p.price.to_bits()));
                }
            }
            all
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
