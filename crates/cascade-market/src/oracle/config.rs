//! The `[[oracles]]` configuration: feed kinds, guards and the publication mode, with the
//! rules that validate them (each broken rule names its key).

use cascade_core::Check;
use cascade_core::clock::{check_delay, check_rate, legacy_delay, legacy_rate};
use serde::{Deserialize, Serialize};

fn default_deviation() -> f64 {
    0.005
}
fn default_heartbeat() -> f64 {
    3600.0
}
/// One 12 s block (the former default of one block, at mainnet's slot time).
fn default_latency() -> f64 {
    12.0
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
        /// The node observes the reference price of this many seconds ago: that of the latest
        /// block whose time is at most now minus `latency_s` (default 12 s, one mainnet slot).
        #[serde(default = "default_latency")]
        latency_s: f64,
        /// Standard deviation of the multiplicative observation noise, in basis points.
        #[serde(default)]
        noise_bp: f64,
        /// Rate per hour at which the feed freezes (publishes nothing) ...
        #[serde(default)]
        freeze_per_hour: f64,
        /// ... for an exponentially distributed time with this mean (seconds).
        #[serde(default = "default_freeze_mean")]
        freeze_mean_s: f64,
        /// Priority fee the publisher bids (gwei per gas).
        #[serde(default = "default_tip")]
        tip_gwei: f64,
        /// The publisher never pays more than this per gas (gwei): above it, updates wait.
        #[serde(default = "default_max_fee")]
        max_fee_gwei: f64,
        /// Replaced per-block keys, present only to be rejected with their conversion.
        #[serde(default, skip_serializing)]
        latency_blocks: Option<f64>,
        #[serde(default, skip_serializing)]
        freeze_prob: Option<f64>,
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    /// Liquidations are refused while the guard is violated.
    #[default]
    BlockLiquidations,
    /// The engine's circuit breaker trips.
    TripBreaker,
}

/// Checks on an asset's oracle price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
/// public update is submitted `fallback_delay_s` seconds later (at the first block whose time
/// is at least the report's plus `fallback_delay_s`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PublicationMode {
    #[default]
    Public,
    OevAuction {
        /// Share of the winning payment paid into the insurance fund; the rest goes to the
        /// oracle. Default 0.6, SVR's published standard split.
        #[serde(default = "default_share_to_protocol")]
        share_to_protocol: f64,
        /// Seconds after the report at which the public update is submitted when the auction
        /// does not land it.
        fallback_delay_s: f64,
        /// Probability that the private route fails for an update (drawn from stream `oev`).
        #[serde(default)]
        private_route_failure_prob: f64,
        /// Populations that bid (default both).
        #[serde(default = "default_oev_bidders")]
        bidders: Vec<OevBidder>,
        /// Replaced block-count key, present only to be rejected with its conversion.
        #[serde(default, skip_serializing)]
        fallback_delay_blocks: Option<f64>,
    },
}

impl PublicationMode {
    pub fn is_public(&self) -> bool {
        matches!(self, PublicationMode::Public)
    }

    /// Record every broken rule under `c` (the `publication` table); `feed` is the oracle's
    /// feed, which must publish (push feeds); `block_time_s` is the time base of the
    /// conversion a replaced block-count key is given.
    pub fn validate(&self, c: &mut Check, feed: &FeedConfig, block_time_s: f64) {
        let PublicationMode::OevAuction {
            share_to_protocol,
            fallback_delay_s,
            private_route_failure_prob,
            bidders,
            fallback_delay_blocks,
        } = self
        else {
            return;
        };
        c.unit_interval("share_to_protocol", *share_to_protocol);
        c.unit_interval("private_route_failure_prob", *private_route_failure_prob);
        let old = *fallback_delay_blocks;
        legacy_delay(
            c,
            "fallback_delay_blocks",
            "fallback_delay_s",
            old,
            block_time_s,
        );
        if c.finite("fallback_delay_s", *fallback_delay_s)
            && !(0.0..=MAX_FALLBACK_DELAY_S).contains(fallback_delay_s)
        {
            c.fail(
                "fallback_delay_s",
                format!("must be in [0, {MAX_FALLBACK_DELAY_S}] seconds (got {fallback_delay_s})"),
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

/// The longest fallback delay accepted (a day), seconds.
pub const MAX_FALLBACK_DELAY_S: f64 = 86_400.0;

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

    /// Record every broken rule under `c`. `venues` are the configured venue names;
    /// `block_time_s` is the time base of the conversion a replaced per-block key is given.
    pub fn validate(&self, c: &mut Check, venues: &[String], block_time_s: f64) {
        match self {
            FeedConfig::Push {
                deviation,
                heartbeat_s,
                latency_s,
                noise_bp,
                freeze_per_hour,
                freeze_mean_s,
                tip_gwei,
                max_fee_gwei,
                latency_blocks,
                freeze_prob,
            } => {
                legacy_delay(
                    c,
                    "latency_blocks",
                    "latency_s",
                    *latency_blocks,
                    block_time_s,
                );
                legacy_rate(
                    c,
                    "freeze_prob",
                    "freeze_per_hour",
                    *freeze_prob,
                    block_time_s,
                );
                check_delay(c, "latency_s", *latency_s);
                c.range_open_hi("deviation", *deviation, 0.0, 1.0);
                c.positive("heartbeat_s", *heartbeat_s);
                c.non_negative("noise_bp", *noise_bp);
                check_rate(c, "freeze_per_hour", *freeze_per_hour);
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
                    s.validate(&mut c.at("source"), venues, block_time_s);
                }
            }
            FeedConfig::Median { feeds } => {
                if feeds.is_empty() {
                    c.fail("feeds", "must list at least one feed");
                }
                for (i, f) in feeds.iter().enumerate() {
                    let mut feeds = c.at("feeds");
                    f.validate(&mut feeds.at(&format!("[{i}]")), venues, block_time_s);
                }
            }
        }
    }
}

impl OracleConfig {
    pub fn validate(&self, c: &mut Check, venues: &[String], block_time_s: f64) {
        self.feed.validate(&mut c.at("feed"), venues, block_time_s);
        self.publication
            .validate(&mut c.at("publication"), &self.feed, block_time_s);
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
