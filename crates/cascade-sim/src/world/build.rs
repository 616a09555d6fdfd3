//! Building a World from a scenario: the genesis ledger and its holders, the price model, the
//! venues, the agents, the margin engine and its funding venues, the oracles and their
//! publishers, and the order-flow auction state. Every holder is added, and every genesis
//! balance minted, in a fixed order (the ledger's holder ids and so the event traces depend on
//! it), so the steps below run in the order `World::new` calls them.

use super::lp::LpState;
use super::oev::{OevParams, OevState};
use super::{Actor, BuildError, Streams, World};
use crate::config::ScenarioConfig;
use crate::load::Scenario;
use crate::metrics::Accumulator;
use cascade_agents::config::{BuildCtx, WatchSpec};
use cascade_agents::trader::watch::MarketWatch;
use cascade_agents::{Agent, Naps, Role, Schedule, Sleepers, TwapSource};
use cascade_core::rng::{self, StreamSeed, streams};
use cascade_core::{AgentId, Amount, FeedId, HolderId, Ledger, TokenId, VenueId};
use cascade_engine::Engine;
use cascade_market::gas::GasMarket;
use cascade_market::mempool::Mempool;
use cascade_market::oracle::{FeedConfig, OevBidder, OracleConfig, Oracles, PublicationMode};
use cascade_market::price::{AssetSpec, PriceModel};
use cascade_market::venue::{Venue, VenueConfig};

/// Whole units of every token held by the off-chain market at genesis.
const OFFCHAIN_DEPTH: f64 = 1e12;

/// Quote minted to each oracle publisher at genesis, for gas (whole units).
const PUBLISHER_GAS_BUDGET: f64 = 1e12;

/// The chain's own holders, the first in the ledger.
struct ChainHolders {
    burn: HolderId,
    builder: HolderId,
    escrow: HolderId,
    /// The off-chain reference market (a CEX).
    offchain: HolderId,
}

impl World {
    /// Build run `run` of `scenario` with master seed `master_seed`.
    pub fn new(scenario: &Scenario, master_seed: u64, run: u64) -> Result<World, BuildError> {
        let cfg = &scenario.config;
        let seed: StreamSeed = rng::run_seed(master_seed, run);
        let n_assets = cfg.assets.len();
        let (mut ledger, holders) = genesis_ledger(cfg)?;
        let prices = price_model(scenario)?;
        let p0: Vec<f64> = (0..n_assets).map(|i| prices.p_ref(i)).collect();
        let (venues, venue_is_cpmm, lps) = build_venues(cfg, &mut ledger, &p0)?;
        let (agents, watch_specs) = build_agents(cfg, &mut ledger, seed, &p0);
        let mut actors: Vec<Actor> = agents.iter().map(|a| agent_actor(a.as_ref())).collect();
        let engine = build_engine(cfg, &mut ledger, seed, &p0)?;
        let funding_venue = funding_venues(cfg);
        let oracle_cfgs = oracle_configs(cfg)?;
        let twap_oracles = twap_sources(cfg, &oracle_cfgs);
        let oracles = Oracles::new(&oracle_cfgs, &p0, &cfg.venue_names())
            .map_err(|e| BuildError(e.to_string()))?;
        let feed_publisher = add_publishers(cfg, &oracles, &mut ledger, &mut actors)?;
        let oev = oev_state(&oracle_cfgs, n_assets, &mut ledger, seed);
        ledger.seal();

        let (gas, native_asset) = gas_market(cfg, &p0);
        let oracle_px: Vec<f64> = (0..n_assets).map(|a| oracles.price(a, 0.0)).collect();
        let n_venues = venues.len();
        let n_agents = agents.len();
        // Sleeping holders are woken by any write to their account: the engine logs them.
        let holder_naps = cfg.chain.agent_schedule == Schedule::Event && cfg.chain.holders_sleep;
        let mut engine = engine;
        if let (true, Some(e)) = (holder_naps, engine.as_mut()) {
            e.track_touched(true);
        }
        let naps = (holder_naps && engine.is_some()).then(|| Naps::new(n_assets));
        Ok(World {
            gas_cfg: cfg.gas.clone(),
            block_time_s: cfg.chain.block_time_s,
            dt_s: cfg.chain.block_time_s,
            block_time_dist: cfg.chain.block_time_dist,
            n_blocks_fixed: cfg.chain.blocks(),
            duration_s: cfg.chain.duration_s,
            block: 0,
            t_s: 0.0,
            rng: Streams::new(seed),
            prices,
            gas,
            native_asset,
            reference_asset: cfg.reference_asset().index(),
            mempool: Mempool::new(cfg.gas.mempool_ttl_s),
            bundles: Vec::new(),
            oracles,
            venues,
            venue_is_cpmm,
            ledger,
            agents,
            actors,
            feed_publisher,
            burn: holders.burn,
            builder: holders.builder,
            escrow: holders.escrow,
            offchain: holders.offchain,
            next_tx: 0,
            next_seq: 0,
            receipts: Vec::new(),
            p_ref: p0.clone(),
            oracle_px,
            acc: Accumulator {
                ref_peak: p0[cfg.reference_asset().index()],
                ..Accumulator::default()
            },
            trace: None,
            events: None,
            event_t_s: Vec::new(),
            venue_names: cfg.onchain_venues().map(|v| v.name().to_string()).collect(),
            asset_names: cfg.asset_names(),
            check_ledger: false,
            order: (0..n_agents).collect(),
            engine_inputs: Default::default(),
            schedule: cfg.chain.agent_schedule,
            awake: (0..n_agents as u32).collect(),
            sleepers: Sleepers::new(cfg.chain.block_time_s),
            naps,
            touched: Vec::new(),
            margin_gen: 0,
            funding_seen: vec![0.0; cfg.assets.len()],
            funding_epoch: 0,
            visits: 0,
            watches: vec![MarketWatch::default(); watch_specs.len()],
            watch_specs,
            subs: Vec::new(),
            cancels: Vec::new(),
            cleared: Vec::new(),
            pubs: Vec::new(),
            venue_px: vec![0.0; n_venues],
            engine,
            funding_venue,
            cascade: cfg.metrics.cascade_test(),
            twap_oracles,
            oev,
            report_lag: vec![Vec::new(); n_assets],
            lps,
            forced_flow_off: false,
        })
    }
}

impl Streams {
    /// The pipeline's streams of run seed `seed`.
    fn new(seed: StreamSeed) -> Streams {
        Streams {
            price: rng::stream(seed, streams::PRICE, 0),
            jumps: rng::stream(seed, streams::PRICE_JUMPS, 0),
            gas: rng::stream(seed, streams::GAS, 0),
            oracle: rng::stream(seed, streams::ORACLE, 0),
            arrival: rng::stream(seed, streams::ARRIVAL, 0),
            chain: rng::stream(seed, streams::CHAIN, 0),
        }
    }
}

/// The ledger with its first holders: the burn sink, the builder, the gas escrow and the
/// off-chain market.
fn genesis_ledger(cfg: &ScenarioConfig) -> Result<(Ledger, ChainHolders), BuildError> {
    let mut tokens = vec![cfg.quote.clone()];
    tokens.extend(cfg.assets.iter().map(|a| a.name.clone()));
    let mut ledger = Ledger::new(tokens);
    let burn = ledger.add_holder("sink:burn");
    let builder = ledger.add_holder("builder");
    let escrow = ledger.add_holder("gas_escrow");
    // The off-chain reference market (a CEX), deep enough never to run dry: hedging
    // arbitrageurs trade against it at p_ref.
    let offchain = ledger.add_holder("market:offchain");
    for t in 0..=cfg.assets.len() {
        ledger
            .mint_genesis(
                offchain,
                TokenId(t as u16),
                Amount::from_whole(OFFCHAIN_DEPTH),
            )
            .map_err(|e| BuildError(e.to_string()))?;
    }
    let holders = ChainHolders {
        burn,
        builder,
        escrow,
        offchain,
    };
    Ok((ledger, holders))
}

/// Prices come first: venues and oracles start at the assets' initial prices.
fn price_model(scenario: &Scenario) -> Result<PriceModel, BuildError> {
    let cfg = &scenario.config;
    let references = cfg.reference_markets();
    let specs: Vec<AssetSpec> = cfg
        .assets
        .iter()
        .zip(references)
        .map(|(a, reference)| AssetSpec {
            name: a.name.clone(),
            initial_price: a.price,
            process: a.process.clone(),
            impact: a.impact.clone(),
            reference,
        })
        .collect();
    PriceModel::new(specs, cfg.correlation.clone(), scenario.replay.clone())
        .map_err(|e| BuildError(e.to_string()))
}

/// The on-chain venues, which of them are pools, and the pools' withdrawing providers.
type BuiltVenues = (Vec<Venue>, Vec<bool>, Vec<LpState>);

/// The venues at the initial prices `p0`, each with its holder and genesis maker; which of
/// them are constant-product pools; and the liquidity providers (the genesis maker) of the
/// pools with a withdrawal rule.
fn build_venues(
    cfg: &ScenarioConfig,
    ledger: &mut Ledger,
    p0: &[f64],
) -> Result<BuiltVenues, BuildError> {
    let mut lps = Vec::new();
    let mut venues = Vec::with_capacity(cfg.venues.len());
    let mut venue_is_cpmm = Vec::with_capacity(cfg.venues.len());
    for v in cfg.onchain_venues() {
        let asset = cfg
            .asset_index(v.asset())
            .ok_or_else(|| BuildError(format!("venue {} has an unknown asset", v.name())))?;
        let holder = ledger.add_holder(format!("venue:{}", v.name()));
        let owner = ledger.add_holder(format!("venue:{}:genesis_maker", v.name()));
        let venue = Venue::from_config(v, ledger, holder, owner, asset, p0[asset.index()])
            .map_err(|e| BuildError(format!("venue {}: {e}", v.name())))?;
        venue_is_cpmm.push(matches!(v, VenueConfig::Cpmm { .. }));
        if let VenueConfig::Cpmm {
            withdraw: Some(rule),
            ..
        } = v
        {
            lps.push(LpState {
                venue: venues.len(),
                lp: owner,
                rule: rule.clone(),
                var_rate: 0.0,
                out: false,
            });
        }
        venues.push(venue);
    }
    Ok((venues, venue_is_cpmm, lps))
}

/// The agents, in configuration order, and the market watches they read.
fn build_agents(
    cfg: &ScenarioConfig,
    ledger: &mut Ledger,
    seed: StreamSeed,
    p0: &[f64],
) -> (Vec<Box<dyn Agent>>, Vec<WatchSpec>) {
    let infos = cfg.venue_infos();
    let asset_names = cfg.asset_names();
    let mut agents: Vec<Box<dyn Agent>> = Vec::new();
    let mut ctx = BuildCtx::new(ledger, seed, &asset_names, &infos, p0);
    ctx.schedule = cfg.chain.agent_schedule;
    ctx.holders_sleep = cfg.chain.holders_sleep;
    for a in &cfg.agents {
        agents.extend(a.build(&mut ctx));
    }
    (agents, ctx.watches)
}

/// Who agent `a` is.
fn agent_actor(a: &dyn Agent) -> Actor {
    Actor {
        holder: a.holder(),
        role: a.role(),
        label: cascade_core::Name::new(&a.label()),
        hedges: a.hedges_off_chain(),
    }
}

/// The margin engine: its vault holds the lenders' pool and the insurance fund.
fn build_engine(
    cfg: &ScenarioConfig,
    ledger: &mut Ledger,
    seed: StreamSeed,
    p0: &[f64],
) -> Result<Option<Engine>, BuildError> {
    cfg.engine
        .as_ref()
        .map(|e| {
            let mut engine = Engine::new(e, ledger, p0, rng::stream(seed, streams::ENGINE, 0))
                .map_err(BuildError)?;
            // Asynchronous settlement draws its outages from its own stream.
            engine.seed_sequencer(rng::stream(seed, streams::SEQUENCER, 0));
            // Cross-chain collateral draws its messages from its own stream.
            engine.seed_bridge(rng::stream(seed, streams::BRIDGE, 0));
            Ok(engine)
        })
        .transpose()
}

/// Per asset, the venue whose price is the perp mark for funding: the engine's
/// `funding_venue` when it trades the asset, else the asset's first venue.
fn funding_venues(cfg: &ScenarioConfig) -> Vec<Option<usize>> {
    let venues: Vec<&VenueConfig> = cfg.onchain_venues().collect();
    (0..cfg.assets.len())
        .map(|a| {
            let named = cfg
                .engine
                .as_ref()
                .and_then(|e| e.funding_venue.as_ref())
                .and_then(|n| venues.iter().position(|v| v.name() == n))
                .filter(|&i| cfg.asset_index(venues[i].asset()).map(|x| x.index()) == Some(a));
            named.or_else(|| {
                venues
                    .iter()
                    .position(|v| cfg.asset_index(v.asset()).map(|x| x.index()) == Some(a))
            })
        })
        .collect()
}

/// Each oracle's configuration with its asset's index.
fn oracle_configs(cfg: &ScenarioConfig) -> Result<Vec<(usize, OracleConfig)>, BuildError> {
    cfg.oracles
        .iter()
        .map(|o| {
            cfg.asset_index(&o.asset)
                .map(|a| (a.index(), o.clone()))
                .ok_or_else(|| BuildError(format!("oracle for unknown asset {}", o.asset)))
        })
        .collect()
}

/// Per asset, the venue TWAP its oracle reads when the feed is a plain `twap`.
fn twap_sources(
    cfg: &ScenarioConfig,
    oracle_cfgs: &[(usize, OracleConfig)],
) -> Vec<Option<TwapSource>> {
    let mut twap_oracles: Vec<Option<TwapSource>> = vec![None; cfg.assets.len()];
    for (a, o) in oracle_cfgs {
        if let FeedConfig::Twap { venue, window_s } = &o.feed {
            twap_oracles[*a] = cfg
                .onchain_venues()
                .position(|v| v.name() == venue)
                .map(|i| TwapSource {
                    venue: VenueId(i as u16),
                    window_s: *window_s,
                });
        }
    }
    twap_oracles
}

/// One publisher actor per oracle feed, after the agents, each with its gas budget; returns
/// the publisher of each feed.
fn add_publishers(
    cfg: &ScenarioConfig,
    oracles: &Oracles,
    ledger: &mut Ledger,
    actors: &mut Vec<Actor>,
) -> Result<Vec<AgentId>, BuildError> {
    let mut feed_publisher = Vec::with_capacity(oracles.n_feeds());
    // Exactly the publishers more (pushing past the agents' exact capacity would double it).
    actors.reserve_exact(oracles.n_feeds());
    for f in 0..oracles.n_feeds() {
        let asset = oracles.feed_asset(FeedId(f as u16));
        let label = format!("oracle:{}:{f}", cfg.assets[asset].name);
        let holder = ledger.add_holder(&label);
        ledger
            .mint_genesis(
                holder,
                TokenId::QUOTE,
                Amount::from_whole(PUBLISHER_GAS_BUDGET),
            )
            .map_err(|e| BuildError(e.to_string()))?;
        feed_publisher.push(AgentId(actors.len() as u32));
        actors.push(Actor {
            holder,
            role: Role::OraclePublisher,
            label: label.into(),
            hedges: false,
        });
    }
    Ok(feed_publisher)
}

/// The order-flow auction state, when some oracle publishes by `oev_auction` (with the
/// oracle's sink holder, the last one added).
fn oev_state(
    oracle_cfgs: &[(usize, OracleConfig)],
    n_assets: usize,
    ledger: &mut Ledger,
    seed: StreamSeed,
) -> Option<Box<OevState>> {
    let params: Vec<Option<OevParams>> = (0..n_assets)
        .map(|a| {
            oracle_cfgs
                .iter()
                .find(|(x, _)| *x == a)
                .and_then(|(_, o)| oev_params(&o.publication))
        })
        .collect();
    params.iter().any(|p| p.is_some()).then(|| {
        Box::new(OevState::new(
            params,
            ledger.add_holder("sink:oev_oracle"),
            rng::stream(seed, streams::OEV, 0),
        ))
    })
}

/// The auction settings of an oracle's publication mode (`None`: public).
fn oev_params(publication: &PublicationMode) -> Option<OevParams> {
    match publication {
        PublicationMode::Public => None,
        PublicationMode::OevAuction {
            share_to_protocol,
            fallback_delay_s,
            private_route_failure_prob,
            bidders,
            ..
        } => Some(OevParams {
            share_to_protocol: *share_to_protocol,
            fallback_delay_s: *fallback_delay_s,
            failure_prob: *private_route_failure_prob,
            liquidators: bidders.contains(&OevBidder::Liquidator),
            mev: bidders.contains(&OevBidder::MevBot),
        }),
    }
}

/// The gas market, pricing gas at the native asset's initial price when there is one; and
/// that asset.
fn gas_market(cfg: &ScenarioConfig, p0: &[f64]) -> (GasMarket, Option<usize>) {
    let mut gas = GasMarket::new(&cfg.gas);
    let native_asset = cfg
        .gas
        .native_asset
        .as_deref()
        .and_then(|n| cfg.asset_index(n))
        .map(|a| a.index());
    if let Some(a) = native_asset {
        gas.set_native_price(p0[a]);
    }
    (gas, native_asset)
}
