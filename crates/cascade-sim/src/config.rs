//! The scenario: everything a run needs, as one serde tree read from TOML.
//!
//! Every table rejects unknown keys, every policy is a tagged enum, and
//! [`ScenarioConfig::validate`] checks every value against its rule and reports all problems at
//! once, each with the dotted key it concerns. Any key can be overridden from the command line
//! (`--set key=value`) or swept (see `overrides`).

use cascade_agents::AgentConfig;
use cascade_agents::config::VenueInfo;
use cascade_core::{AssetId, Check, ConfigIssue};
use cascade_engine::EngineConfig;
use cascade_market::gas::GasConfig;
use cascade_market::oracle::OracleConfig;
use cascade_market::price::{ImpactConfig, ProcessConfig, ReferenceConfig, validate_correlation};
use cascade_market::venue::VenueConfig;
use serde::{Deserialize, Serialize};

fn default_quote() -> String {
    "USD".to_string()
}
fn default_runs() -> u64 {
    10
}
fn default_seed() -> u64 {
    1
}
fn default_block_time() -> f64 {
    12.0
}
fn default_duration() -> f64 {
    86_400.0
}

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    /// A short name (defaults to the file name).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub run: RunConfig,
    #[serde(default)]
    pub chain: ChainConfig,
    /// Name of the quote asset (the numeraire; gas and margin are paid in it).
    #[serde(default = "default_quote")]
    pub quote: String,
    pub assets: Vec<AssetConfig>,
    /// Correlation matrix of the assets' price shocks (default: independent).
    #[serde(default)]
    pub correlation: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    pub gas: GasConfig,
    #[serde(default)]
    pub oracles: Vec<OracleConfig>,
    #[serde(default)]
    pub venues: Vec<VenueConfig>,
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// The margin engine (absent: a market without a protocol).
    #[serde(default)]
    pub engine: Option<EngineConfig>,
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// `[run]`: how many seeded runs and from which master seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    #[serde(default = "default_runs")]
    pub runs: u64,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            runs: default_runs(),
            seed: default_seed(),
        }
    }
}

/// How block times are drawn.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BlockTimeDist {
    /// Every block lasts exactly `block_time_s`.
    #[default]
    Fixed,
    /// Block times are exponential with mean `block_time_s` (Poisson block arrivals).
    Exponential,
}

/// `[chain]`: time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// Seconds per block (the mean, for exponential block times).
    #[serde(default = "default_block_time")]
    pub block_time_s: f64,
    /// Simulated time per run, seconds.
    #[serde(default = "default_duration")]
    pub duration_s: f64,
    #[serde(default)]
    pub block_time_dist: BlockTimeDist,
    /// How agents are visited: `"event"` (default; agents waiting on rates sleep until their
    /// next event) or `"polled"` (every agent every block, per-block trials).
    #[serde(default)]
    pub agent_schedule: cascade_agents::Schedule,
    /// Under the event schedule, traders holding a position sleep until their close clock,
    /// their account changes, or their asset's price leaves the band in which their
    /// conditions stay as they are, and traders waiting on a transaction until it leaves the
    /// mempool (default true). Results are bit-identical either way; `false` only costs time
    /// (it visits them every block).
    #[serde(default = "default_true")]
    pub holders_sleep: bool,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            block_time_s: default_block_time(),
            duration_s: default_duration(),
            block_time_dist: BlockTimeDist::Fixed,
            agent_schedule: cascade_agents::Schedule::default(),
            holders_sleep: true,
        }
    }
}

fn default_true() -> bool {
    true
}

impl ChainConfig {
    /// Blocks per run for fixed block times; the expected count for exponential ones.
    pub fn blocks(&self) -> u64 {
        (self.duration_s / self.block_time_s).ceil().max(1.0) as u64
    }
}

/// `[[assets]]`: a risky asset with its price process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetConfig {
    pub name: String,
    /// Initial price, quote per whole unit (for scripted and replay processes the path's value
    /// at time 0 is used instead).
    #[serde(default = "one_f")]
    pub price: f64,
    pub process: ProcessConfig,
    #[serde(default)]
    pub impact: ImpactConfig,
}

fn one_f() -> f64 {
    1.0
}

/// `[metrics]`: settings of the measures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// How `has_cascade` is decided (`induced_vs_exogenous` by default).
    #[serde(default)]
    pub cascade_rule: CascadeRule,
    /// The rule's threshold: under `induced_vs_exogenous` the ratio of induced to exogenous
    /// liquidated notional (default 1, an amplification of 2); under `share_of_open_interest`
    /// the fraction of peak open interest the induced notional must reach (default 0.01).
    #[serde(default)]
    pub cascade_threshold: Option<f64>,
    /// The asset whose reference price defines `max_drawdown` (default: the first).
    #[serde(default)]
    pub reference_asset: Option<String>,
    /// `"twin"`: each run also runs its twin on the same seeds with the liquidations' market
    /// flow switched off, and reports the `*_vs_twin` metrics (NaN with `"none"`).
    #[serde(default)]
    pub counterfactual: Counterfactual,
}

/// `metrics.counterfactual`: what each run is compared with inside the run itself.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Counterfactual {
    /// No twin: the `*_vs_twin` metrics are NaN.
    #[default]
    None,
    /// The run's twin: same scenario and seeds, forced flow of liquidations kept away from
    /// the price (`World::switch_off_forced_flow`).
    Twin,
}

/// `metrics.cascade_rule`: when a run counts as a cascade.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CascadeRule {
    /// Induced liquidated notional at least `cascade_threshold` times the exogenous one.
    #[default]
    InducedVsExogenous,
    /// Induced liquidated notional at least `cascade_threshold` of peak open interest.
    ShareOfOpenInterest,
}

impl MetricsConfig {
    /// The resolved cascade test (the rule with its threshold or the rule's default).
    pub fn cascade_test(&self) -> crate::metrics::CascadeTest {
        use crate::metrics::CascadeTest;
        match self.cascade_rule {
            CascadeRule::InducedVsExogenous => CascadeTest::InducedVsExogenous {
                ratio: self.cascade_threshold.unwrap_or(1.0),
            },
            CascadeRule::ShareOfOpenInterest => CascadeTest::ShareOfOpenInterest {
                share: self.cascade_threshold.unwrap_or(0.01),
            },
        }
    }
}

impl ScenarioConfig {
    /// Index of the asset named `name`.
    pub fn asset_index(&self, name: &str) -> Option<AssetId> {
        self.assets
            .iter()
            .position(|a| a.name == name)
            .map(|i| AssetId(i as u16))
    }

    pub fn asset_names(&self) -> Vec<String> {
        self.assets.iter().map(|a| a.name.clone()).collect()
    }

    /// The on-chain venues' names, in venue-index order (reference markets are not venues
    /// agents, oracles or the engine can name).
    pub fn venue_names(&self) -> Vec<String> {
        self.onchain_venues()
            .map(|v| v.name().to_string())
            .collect()
    }

    /// The on-chain venues (pools and books), in configuration order: venue `i` of a World is
    /// the `i`-th of these; `kind = "reference"` entries are off chain.
    pub fn onchain_venues(&self) -> impl Iterator<Item = &VenueConfig> {
        self.venues.iter().filter(|v| v.is_onchain())
    }

    /// The reference market of each asset (`None`: its price forms by the reduced-form impact).
    pub fn reference_markets(&self) -> Vec<Option<ReferenceConfig>> {
        (0..self.assets.len())
            .map(|a| {
                self.venues.iter().find_map(|v| match v {
                    VenueConfig::Reference(r)
                        if self.asset_index(&r.asset).map(|x| x.index()) == Some(a) =>
                    {
                        Some(r.clone())
                    }
                    _ => None,
                })
            })
            .collect()
    }

    /// Venue descriptions for agents (unknown assets map to asset 0; validation reports them).
    pub fn venue_infos(&self) -> Vec<VenueInfo> {
        self.onchain_venues()
            .map(|v| VenueInfo {
                name: v.name().to_string(),
                asset: self.asset_index(v.asset()).unwrap_or(AssetId(0)),
                is_clob: matches!(v, VenueConfig::Clob { .. }),
            })
            .collect()
    }

    /// A manipulator pumps the pool its asset's engine oracle reads: that oracle must be a
    /// plain `twap` feed on a cpmm venue.
    fn check_manipulated_oracle(&self, c: &mut Check, asset: &str) {
        let feed = self
            .oracles
            .iter()
            .find(|o| o.asset == asset)
            .map(|o| &o.feed);
        let ok = match feed {
            Some(cascade_market::oracle::FeedConfig::Twap { venue, .. }) => self
                .venues
                .iter()
                .any(|v| v.name() == venue && matches!(v, VenueConfig::Cpmm { .. })),
            _ => false,
        };
        if !ok {
            c.fail(
                "asset",
                format!(
                    "a manipulator pumps the pool its oracle reads: the [[oracles]] entry of \
                     \"{asset}\" must have feed = {{ kind = \"twap\", venue = <a cpmm venue> }}"
                ),
            );
        }
    }

    /// The asset defining drawdown.
    pub fn reference_asset(&self) -> AssetId {
        self.metrics
            .reference_asset
            .as_deref()
            .and_then(|n| self.asset_index(n))
            .unwrap_or(AssetId(0))
    }

    /// Check every value against its rule. Returns every problem found (empty: valid).
    pub fn validate(&self) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        let mut c = Check::new(&mut issues);
        {
            let mut r = c.at("run");
            r.positive_int("runs", self.run.runs);
        }
        {
            let mut ch = c.at("chain");
            ch.positive("block_time_s", self.chain.block_time_s);
            ch.positive("duration_s", self.chain.duration_s);
            if self.chain.block_time_s > 0.0 && self.chain.duration_s > 0.0 {
                ch.ensure(
                    self.chain.duration_s >= self.chain.block_time_s,
                    "duration_s",
                    || {
                        format!(
                            "must be at least one block (block_time_s = {}, got {})",
                            self.chain.block_time_s, self.chain.duration_s
                        )
                    },
                );
                ch.ensure(self.chain.blocks() <= 50_000_000, "duration_s", || {
                    format!(
                        "gives {} blocks per run; at most 50,000,000 are allowed",
                        self.chain.blocks()
                    )
                });
            }
        }
        c.ensure(!self.quote.trim().is_empty(), "quote", || {
            "must name the quote asset (e.g. \"USD\")".into()
        });
        if self.assets.is_empty() {
            c.fail("assets", "must list at least one asset ([[assets]])");
        }
        if self.assets.len() > 64 {
            c.fail(
                "assets",
                format!("at most 64 assets (got {})", self.assets.len()),
            );
        }
        for (i, a) in self.assets.iter().enumerate() {
            let mut ac = c.at(&format!("assets[{i}]"));
            if a.name.trim().is_empty() {
                ac.fail("name", "must not be empty");
            } else if a.name == self.quote {
                ac.fail(
                    "name",
                    format!("\"{}\" is the quote asset's name; pick another", a.name),
                );
            } else if self.assets[..i].iter().any(|b| b.name == a.name) {
                ac.fail(
                    "name",
                    format!("\"{}\" is used by an earlier asset", a.name),
                );
            }
            ac.positive("price", a.price);
            a.process.validate(&mut ac.at("process"));
            a.impact.validate(&mut ac.at("impact"));
        }
        if let Some(m) = &self.correlation {
            validate_correlation(m, self.assets.len(), &mut c.at("correlation"));
        }
        self.gas.validate(&mut c.at("gas"), self.chain.block_time_s);
        if let Some(n) = &self.gas.native_asset
            && self.asset_index(n).is_none()
        {
            c.at("gas").fail(
                "native_asset",
                format!(
                    "names no configured asset (got \"{n}\"; assets: {})",
                    self.asset_names().join(", ")
                ),
            );
        }
        let venue_names = self.venue_names();
        for (i, v) in self.venues.iter().enumerate() {
            let mut vc = c.at(&format!("venues[{i}]"));
            v.validate(&mut vc);
            if self.venues[..i].iter().any(|w| w.name() == v.name()) {
                vc.fail(
                    "name",
                    format!("\"{}\" is used by an earlier venue", v.name()),
                );
            }
            if let VenueConfig::Reference(r) = v {
                if self.venues[..i]
                    .iter()
                    .any(|w| !w.is_onchain() && w.asset() == r.asset)
                {
                    vc.fail(
                        "asset",
                        format!(
                            "\"{}\" already has a reference market (one per asset)",
                            r.asset
                        ),
                    );
                }
                if let Some(a) = self.asset_index(&r.asset)
                    && self.assets[a.index()].impact != ImpactConfig::None
                {
                    vc.fail(
                        "kind",
                        format!(
                            "asset \"{}\" forms its price on this reference market, so its reduced-form impact must be absent (remove assets[{}].impact)",
                            r.asset,
                            a.index()
                        ),
                    );
                }
            }
            if self.asset_index(v.asset()).is_none() {
                vc.fail(
                    "asset",
                    format!(
                        "names no configured asset (got \"{}\"; assets: {})",
                        v.asset(),
                        self.asset_names().join(", ")
                    ),
                );
            }
        }
        for (i, o) in self.oracles.iter().enumerate() {
            let mut oc = c.at(&format!("oracles[{i}]"));
            o.validate(&mut oc, &venue_names, self.chain.block_time_s);
            if !o.publication.is_public() && self.engine.is_none() {
                oc.at("publication").fail(
                    "kind",
                    "oev_auction sells the right to liquidate after an update: it needs a margin engine (add an [engine] section)",
                );
            }
            match self.asset_index(&o.asset) {
                None => oc.fail(
                    "asset",
                    format!(
                        "names no configured asset (got \"{}\"; assets: {})",
                        o.asset,
                        self.asset_names().join(", ")
                    ),
                ),
                Some(_) if self.oracles[..i].iter().any(|p| p.asset == o.asset) => oc.fail(
                    "asset",
                    format!("\"{}\" already has an oracle (one per asset)", o.asset),
                ),
                _ => {}
            }
        }
        for (i, a) in self.assets.iter().enumerate() {
            if !self.oracles.iter().any(|o| o.asset == a.name) {
                c.fail(
                    "oracles",
                    format!(
                        "asset \"{}\" (assets[{i}]) has no oracle: add an [[oracles]] entry with asset = \"{}\"",
                        a.name, a.name
                    ),
                );
            }
        }
        let infos = self.venue_infos();
        for (i, a) in self.agents.iter().enumerate() {
            a.validate(
                &mut c.at(&format!("agents[{i}]")),
                &infos,
                &self.asset_names(),
                self.chain.block_time_s,
            );
            if a.needs_engine() && self.engine.is_none() {
                c.at(&format!("agents[{i}]")).fail(
                    "kind",
                    format!(
                        "a {} needs a margin engine: add an [engine] section",
                        a.kind()
                    ),
                );
            } else if matches!(
                a,
                AgentConfig::OptionTrader(_) | AgentConfig::OptionsMarketMaker(_)
            ) && self.engine.as_ref().is_some_and(|e| e.options.is_none())
            {
                c.at(&format!("agents[{i}]")).fail(
                    "kind",
                    format!(
                        "`{}` agents trade listed options: add an [engine.options] chain",
                        a.kind()
                    ),
                );
            }
            if let AgentConfig::Manipulator(m) = a {
                self.check_manipulated_oracle(&mut c.at(&format!("agents[{i}]")), &m.asset);
            }
            // Its edge is the gap between a stale oracle and the market: it needs perps
            // that fill at the oracle.
            if matches!(a, AgentConfig::OracleArbitrageur(_))
                && let Some(e) = &self.engine
                && e.perp_trade_price != cascade_engine::config::PerpTradePrice::Oracle
            {
                c.at("engine").fail(
                    "perp_trade_price",
                    format!(
                        "must be \"oracle\" with an oracle_arbitrageur (agents[{i}]), which \
                         trades perps that fill at the oracle"
                    ),
                );
            }
        }
        if let Some(e) = &self.engine {
            e.validate(&mut c.at("engine"), &venue_names, self.chain.block_time_s);
            e.validate_assets(&mut c.at("engine"), self.assets.len());
        }
        {
            let mut m = c.at("metrics");
            if let Some(t) = self.metrics.cascade_threshold {
                match self.metrics.cascade_rule {
                    CascadeRule::InducedVsExogenous => m.positive("cascade_threshold", t),
                    CascadeRule::ShareOfOpenInterest => m.unit_interval("cascade_threshold", t),
                }
            }
            if let Some(n) = &self.metrics.reference_asset
                && self.asset_index(n).is_none()
            {
                m.fail(
                    "reference_asset",
                    format!("names no configured asset (got \"{n}\")"),
                );
            }
        }
        issues
    }
}
