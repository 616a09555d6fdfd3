//! Agent populations as configured in a scenario (`[[agents]]`), and how they are built.
//!
//! Each `[[agents]]` entry is a population: `kind` names the agent type and `count` how many
//! identical agents (each with its own wallet and its own random stream) it holds. Wallets are
//! funded at genesis with `capital` (quote) and `inventory` (whole units of each asset the
//! population trades).

use crate::Agent;
use crate::arbitrageur::{Arbitrageur, ArbitrageurConfig};
use crate::liquidator::{Liquidator, LiquidatorConfig};
use crate::manipulator::{Manipulator, ManipulatorConfig};
use crate::market_maker::{MarketMaker, MarketMakerConfig};
use crate::mev::{MevBot, MevConfig};
use crate::noise::{NoiseTrader, NoiseTraderConfig};
use crate::options_market_maker::{OptionsMarketMaker, OptionsMarketMakerConfig};
use crate::options_trader::{OptionTrader, OptionTraderConfig};
use crate::oracle_arbitrageur::{OracleArbitrageur, OracleArbitrageurConfig};
use crate::solver::{Solver, SolverConfig};
use crate::trader::{Trader, TraderConfig};
use cascade_core::rng;
use cascade_core::{
    Amount, AssetId, Check, HolderId, Ledger, SimRng, StreamSeed, TokenId, VenueId,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What agents need to know about a venue.
#[derive(Debug, Clone)]
pub struct VenueInfo {
    pub name: String,
    pub asset: AssetId,
    pub is_clob: bool,
}

/// One population of agents (serde tag `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // built once per run: size does not matter
pub enum AgentConfig {
    Arbitrageur(ArbitrageurConfig),
    NoiseTrader(NoiseTraderConfig),
    MarketMaker(MarketMakerConfig),
    Trader(TraderConfig),
    Liquidator(LiquidatorConfig),
    MevBot(MevConfig),
    OptionTrader(OptionTraderConfig),
    OptionsMarketMaker(OptionsMarketMakerConfig),
    OracleArbitrageur(OracleArbitrageurConfig),
    Manipulator(ManipulatorConfig),
    Solver(SolverConfig),
}

impl AgentConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            AgentConfig::Arbitrageur(_) => "arbitrageur",
            AgentConfig::NoiseTrader(_) => "noise_trader",
            AgentConfig::MarketMaker(_) => "market_maker",
            AgentConfig::Trader(_) => "trader",
            AgentConfig::Liquidator(_) => "liquidator",
            AgentConfig::MevBot(_) => "mev_bot",
            AgentConfig::OptionTrader(_) => "option_trader",
            AgentConfig::OptionsMarketMaker(_) => "options_market_maker",
            AgentConfig::OracleArbitrageur(_) => "oracle_arbitrageur",
            AgentConfig::Manipulator(_) => "manipulator",
            AgentConfig::Solver(_) => "solver",
        }
    }

    /// Whether the population only makes sense with a margin engine.
    pub fn needs_engine(&self) -> bool {
        matches!(
            self,
            AgentConfig::Trader(_)
                | AgentConfig::Liquidator(_)
                | AgentConfig::MevBot(_)
                | AgentConfig::OptionTrader(_)
                | AgentConfig::OptionsMarketMaker(_)
                | AgentConfig::OracleArbitrageur(_)
                | AgentConfig::Manipulator(_)
                | AgentConfig::Solver(_)
        )
    }

    /// Record every broken rule under `c`.
    /// `block_time_s` (the chain's mean block time) is the time base of the conversion that
    /// the rejection of a replaced per-block key gives.
    pub fn validate(
        &self,
        c: &mut Check,
        venues: &[VenueInfo],
        assets: &[String],
        block_time_s: f64,
    ) {
        match self {
            AgentConfig::Arbitrageur(a) => a.validate(c, venues),
            AgentConfig::NoiseTrader(a) => a.validate(c, venues, block_time_s),
            AgentConfig::MarketMaker(a) => a.validate(c, venues, block_time_s),
            AgentConfig::Trader(a) => a.validate(c, assets, block_time_s),
            AgentConfig::Liquidator(a) => a.validate(c, venues, block_time_s),
            AgentConfig::MevBot(a) => a.validate(c, venues),
            AgentConfig::OptionTrader(a) => a.validate(c, assets, block_time_s),
            AgentConfig::OptionsMarketMaker(a) => a.validate(c, assets),
            AgentConfig::OracleArbitrageur(a) => a.validate(c, assets, block_time_s),
            AgentConfig::Manipulator(a) => a.validate(c, assets),
            AgentConfig::Solver(a) => a.validate(c),
        }
    }

    /// Create the population's agents: register and fund their wallets, give each its stream.
    pub fn build(&self, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        match self {
            AgentConfig::Arbitrageur(a) => Arbitrageur::build(a, ctx),
            AgentConfig::NoiseTrader(a) => NoiseTrader::build(a, ctx),
            AgentConfig::MarketMaker(a) => MarketMaker::build(a, ctx),
            AgentConfig::Trader(a) => Trader::build(a, ctx),
            AgentConfig::Liquidator(a) => Liquidator::build(a, ctx),
            AgentConfig::MevBot(a) => MevBot::build(a, ctx),
            AgentConfig::OptionTrader(a) => OptionTrader::build(a, ctx),
            AgentConfig::OptionsMarketMaker(a) => OptionsMarketMaker::build(a, ctx),
            AgentConfig::OracleArbitrageur(a) => OracleArbitrageur::build(a, ctx),
            AgentConfig::Manipulator(a) => Manipulator::build(a, ctx),
            AgentConfig::Solver(a) => Solver::build(a, ctx),
        }
    }
}

/// Resolve an optional list of venue names (empty = every venue) to ids, recording unknown
/// names under `key`.
pub fn check_venue_list(c: &mut Check, key: &str, names: &[String], venues: &[VenueInfo]) {
    for (i, n) in names.iter().enumerate() {
        if !venues.iter().any(|v| &v.name == n) {
            c.fail(
                &format!("{key}[{i}]"),
                format!(
                    "names no configured venue (got \"{n}\"; venues: {})",
                    venues
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
}

/// Genesis context for building agents.
pub struct BuildCtx<'a> {
    pub ledger: &'a mut Ledger,
    pub seed: StreamSeed,
    pub asset_names: &'a [String],
    pub venues: &'a [VenueInfo],
    /// Each asset's reference price at genesis.
    pub initial_prices: &'a [f64],
    /// How the World will visit the agents (`chain.agent_schedule`).
    pub schedule: crate::Schedule,
    /// Whether traders holding a position sleep under the event schedule
    /// (`chain.holders_sleep`).
    pub holders_sleep: bool,
    /// The market watches the agents read (`View::watches`), one per distinct spec.
    pub watches: Vec<WatchSpec>,
    counters: BTreeMap<&'static str, u32>,
}

/// A market watch the World keeps for the agents: the oracle price of `asset` observed once
/// per block with these parameters (`trader::watch`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WatchSpec {
    pub asset: AssetId,
    pub half_life_s: f64,
    pub window_s: f64,
}

impl<'a> BuildCtx<'a> {
    pub fn new(
        ledger: &'a mut Ledger,
        seed: StreamSeed,
        asset_names: &'a [String],
        venues: &'a [VenueInfo],
        initial_prices: &'a [f64],
    ) -> BuildCtx<'a> {
        BuildCtx {
            ledger,
            seed,
            asset_names,
            venues,
            initial_prices,
            schedule: crate::Schedule::default(),
            holders_sleep: true,
            watches: Vec::new(),
            counters: BTreeMap::new(),
        }
    }

    /// The index of the watch `spec` (registered on first use): agents with the same spec
    /// share one watch, observed once per block for all of them.
    pub fn watch(&mut self, spec: WatchSpec) -> usize {
        match self.watches.iter().position(|w| *w == spec) {
            Some(i) => i,
            None => {
                self.watches.push(spec);
                self.watches.len() - 1
            }
        }
    }

    /// The next member's stream of the component `name` (members numbered from 0 in build
    /// order, so adding a population of another kind never shifts this kind's draws).
    pub fn next_stream(&mut self, name: &'static str) -> (u32, SimRng) {
        let c = self.counters.entry(name).or_insert(0);
        let i = *c;
        *c += 1;
        (i, rng::stream(self.seed, name, i))
    }

    /// As [`BuildCtx::next_stream`], the stream parked ([`rng::ParkedStream`], drawn from
    /// with the run seed `self.seed`): the same draws, 24 bytes while the member does not draw
    /// instead of a generator's 304.
    pub fn next_parked(&mut self, name: &'static str) -> (u32, rng::ParkedStream) {
        let c = self.counters.entry(name).or_insert(0);
        let i = *c;
        *c += 1;
        (i, rng::ParkedStream::new(name, i))
    }

    /// A new wallet funded with `capital` quote and `inventory` of each asset in `assets`.
    pub fn wallet(
        &mut self,
        label: &str,
        capital: f64,
        inventory: f64,
        assets: &[AssetId],
    ) -> HolderId {
        let h = self.ledger.add_holder(label);
        // Genesis minting cannot fail for a fresh holder before the ledger is sealed; the
        // simulator builds agents before sealing.
        let _ = self
            .ledger
            .mint_genesis(h, TokenId::QUOTE, Amount::from_whole(capital));
        for a in assets {
            let _ = self
                .ledger
                .mint_genesis(h, a.token(), Amount::from_whole(inventory));
        }
        h
    }

    /// Venue ids selected by `names` (empty: all venues, optionally only order books).
    pub fn select_venues(&self, names: &[String], clob_only: bool) -> Vec<VenueId> {
        self.venues
            .iter()
            .enumerate()
            .filter(|(_, v)| {
                (names.is_empty() || names.iter().any(|n| n == &v.name))
                    && (!clob_only || v.is_clob)
            })
            .map(|(i, _)| VenueId(i as u16))
            .collect()
    }

    /// The asset named `name`.
    pub fn asset_id(&self, name: &str) -> Option<AssetId> {
        self.asset_names
            .iter()
            .position(|n| n == name)
            .map(|i| AssetId(i as u16))
    }

    /// The distinct assets traded on `venues`, in asset order.
    pub fn assets_of(&self, venues: &[VenueId]) -> Vec<AssetId> {
        let mut a: Vec<AssetId> = venues
            .iter()
            .map(|v| self.venues[v.index()].asset)
            .collect();
        a.sort();
        a.dedup();
        a
    }
}
