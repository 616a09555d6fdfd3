//! The World: one seeded run of a scenario, advanced block by block.
//!
//! `World::step` is the block pipeline of DESIGN.md section 2, in order:
//! 1. exogenous prices (`price` and `price_jumps` streams);
//! 2. reference prices: `p_ref = p_exo * impact` from forced flow;
//! 3. gas: congestion from the absolute return, background demand (`gas` stream), the base fee
//!    (EIP-1559, from the previous block's gas used);
//! 4. oracles record prices, observe (`oracle` stream) and submit their publications;
//! 5. agents act, in a random arrival order (`arrival` stream), on a view of the public state;
//! 6. the builder packs bundles, then mempool transactions by effective priority fee, against
//!    background demand, within the gas limit; expired transactions leave the mempool;
//! 7. transactions execute in block order; a reverted one still pays for its gas;
//! 8. end of block: the base fee updates, metrics and the trace record, and (in tests) the
//!    ledger is proven to conserve every token.
//!
//! Oracles in `oev_auction` publication mode (an oracle order-flow auction) divert step 4:
//! each update is offered, sealed, to the liquidator and MEV populations (`Agent::oev_bid`);
//! the highest bid wins and pays the second-highest (a Vickrey auction: bidding one's value is
//! dominant; ties are broken by the `oev` stream), its bundle `[update, its liquidations]`
//! executes at the top of the block before the builder packs the rest, and the payment is
//! split between the engine's insurance fund and the oracle sink (`sink:oev_oracle`). With no
//! bid, or when the private route fails (stream `oev`), the update goes to the public mempool
//! `fallback_delay_blocks` later.
//!
//! Gas is charged the Ethereum way: the fee for the transaction's full gas is moved into an
//! escrow holder before execution, and after it the used part goes to the burn sink (base fee)
//! and the builder (tip) while the rest returns to the sender; every step is a ledger transfer.

use crate::config::BlockTimeDist;
use crate::load::Scenario;
use crate::metrics::{Accumulator, MetricRow};
use cascade_agents::config::BuildCtx;
use cascade_agents::{
    Agent, BundleRequest, Receipt, ReceiptStatus, Role, Submission, TwapSource, View,
};
use cascade_core::event::Event;
use cascade_core::rng::{self, StreamSeed, streams};
use cascade_core::tx::{Action, Bundle, BundleItem, Tx, TxRequest};
use cascade_core::{AgentId, Amount, HolderId, Ledger, SimRng, TokenId, TxId, VenueId};
use cascade_engine::Engine;
use cascade_market::gas::{GasConfig, GasMarket, fee_split};
use cascade_market::mempool::{Mempool, build_block};
use cascade_market::oracle::GuardAction;
use cascade_market::oracle::{
    FeedConfig, OevBidder, OracleConfig, Oracles, Publication, PublicationMode,
};
use cascade_market::price::{AssetSpec, PriceModel};
use cascade_market::venue::{Venue, VenueConfig};
use rand::RngExt;
use rand_distr::{Distribution, Exp1};

mod exec;
mod oev;

use oev::{OevParams, OevState};

/// Whole units of every token held by the off-chain market at genesis.
const OFFCHAIN_DEPTH: f64 = 1e12;

/// Quote minted to each oracle publisher at genesis, for gas (whole units).
const PUBLISHER_GAS_BUDGET: f64 = 1e12;

/// Who an actor is (agents first, then oracle publishers).
#[derive(Debug, Clone)]
pub struct Actor {
    pub holder: HolderId,
    pub role: Role,
    pub label: String,
    /// Offsets its venue trades on the off-chain market at `p_ref`.
    pub hedges: bool,
}

/// One block of the per-block path (the `--trace` CSV).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockRecord {
    pub block: u64,
    pub t_s: f64,
    pub p_exo: Vec<f64>,
    pub p_ref: Vec<f64>,
    pub oracle: Vec<f64>,
    pub venue_price: Vec<f64>,
    pub base_fee_gwei: f64,
    pub gas_used: u64,
    pub background_gas: u64,
    pub txs: u32,
    pub reverted: u32,
    pub mempool: u32,
    /// The engine's insurance fund (quote) at the end of the block; `None` without an engine.
    pub insurance_fund: Option<f64>,
    /// The engine's open interest (exposure value of live accounts, quote); `None` without
    /// an engine.
    pub open_interest: Option<f64>,
}

/// What can stop a World from being built (a configuration that skipped validation).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot build the world: {0}")]
pub struct BuildError(pub String);

/// One run in progress.
pub struct World {
    gas_cfg: GasConfig,
    block_time_s: f64,
    block_time_dist: BlockTimeDist,
    n_blocks_fixed: u64,
    duration_s: f64,
    block: u64,
    t_s: f64,
    rng_price: SimRng,
    rng_jumps: SimRng,
    rng_gas: SimRng,
    rng_oracle: SimRng,
    rng_arrival: SimRng,
    rng_chain: SimRng,
    prices: PriceModel,
    gas: GasMarket,
    native_asset: Option<usize>,
    reference_asset: usize,
    mempool: Mempool,
    bundles: Vec<Bundle>,
    oracles: Oracles,
    venues: Vec<Venue>,
    venue_is_cpmm: Vec<bool>,
    ledger: Ledger,
    agents: Vec<Box<dyn Agent>>,
    actors: Vec<Actor>,
    /// The publisher actor of each oracle feed.
    feed_publisher: Vec<AgentId>,
    burn: HolderId,
    builder: HolderId,
    escrow: HolderId,
    /// The off-chain reference market that hedging agents trade with at `p_ref`.
    offchain: HolderId,
    next_tx: u64,
    next_seq: u64,
    receipts: Vec<Receipt>,
    p_ref: Vec<f64>,
    oracle_px: Vec<f64>,
    acc: Accumulator,
    trace: Option<Vec<BlockRecord>>,
    events: Option<Vec<Event>>,
    check_ledger: bool,
    // Scratch buffers, reused every block.
    order: Vec<usize>,
    subs: Vec<Submission>,
    pubs: Vec<Publication>,
    venue_px: Vec<f64>,
    engine: Option<Engine>,
    /// Per asset, the venue whose price is the perp mark for funding.
    funding_venue: Vec<Option<usize>>,
    cascade_threshold: f64,
    /// Per asset, the venue TWAP its oracle reads when the feed is a plain `twap` (public
    /// oracle configuration, shown to agents).
    twap_oracles: Vec<Option<TwapSource>>,
    /// Oracle order-flow auctions, when an oracle is in `oev_auction` mode.
    oev: Option<Box<OevState>>,
    /// Per asset, the transport lag (blocks from report to landing) of its oracle updates,
    /// as (landing block, lag) at every change of the lag.
    report_lag: Vec<Vec<(u64, u64)>>,
}

impl World {
    /// Build run `run` of `scenario` with master seed `master_seed`.
    pub fn new(scenario: &Scenario, master_seed: u64, run: u64) -> Result<World, BuildError> {
        let cfg = &scenario.config;
        let seed: StreamSeed = rng::run_seed(master_seed, run);
        let n_assets = cfg.assets.len();
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

        // Prices first: venues and oracles start at the assets' initial prices.
        let specs: Vec<AssetSpec> = cfg
            .assets
            .iter()
            .map(|a| AssetSpec {
                name: a.name.clone(),
                initial_price: a.price,
                process: a.process.clone(),
                impact: a.impact.clone(),
            })
            .collect();
        let prices = PriceModel::new(specs, cfg.correlation.clone(), scenario.replay.clone())
            .map_err(|e| BuildError(e.to_string()))?;
        let p0: Vec<f64> = (0..n_assets).map(|i| prices.p_ref(i)).collect();

        // Venues.
        let mut venues = Vec::with_capacity(cfg.venues.len());
        let mut venue_is_cpmm = Vec::with_capacity(cfg.venues.len());
        for v in &cfg.venues {
            let asset = cfg
                .asset_index(v.asset())
                .ok_or_else(|| BuildError(format!("venue {} has an unknown asset", v.name())))?;
            let holder = ledger.add_holder(format!("venue:{}", v.name()));
            let owner = ledger.add_holder(format!("venue:{}:genesis_maker", v.name()));
            let venue = Venue::from_config(v, &mut ledger, holder, owner, asset, p0[asset.index()])
                .map_err(|e| BuildError(format!("venue {}: {e}", v.name())))?;
            venue_is_cpmm.push(matches!(v, VenueConfig::Cpmm { .. }));
            venues.push(venue);
        }

        // Agents, in configuration order.
        let infos = cfg.venue_infos();
        let asset_names = cfg.asset_names();
        let mut agents: Vec<Box<dyn Agent>> = Vec::new();
        {
            let mut ctx = BuildCtx::new(&mut ledger, seed, &asset_names, &infos, &p0);
            for a in &cfg.agents {
                agents.extend(a.build(&mut ctx));
            }
        }
        let mut actors: Vec<Actor> = agents
            .iter()
            .map(|a| Actor {
                holder: a.holder(),
                role: a.role(),
                label: a.label().to_string(),
                hedges: a.hedges_off_chain(),
            })
            .collect();

        // The margin engine: its vault holds the lenders' pool and the insurance fund.
        let engine = match &cfg.engine {
            Some(e) => {
                let eng = Engine::new(e, &mut ledger, &p0, rng::stream(seed, streams::ENGINE, 0))
                    .map_err(BuildError)?;
                Some(eng)
            }
            None => None,
        };
        let funding_venue: Vec<Option<usize>> = (0..n_assets)
            .map(|a| {
                let named = cfg
                    .engine
                    .as_ref()
                    .and_then(|e| e.funding_venue.as_ref())
                    .and_then(|n| cfg.venues.iter().position(|v| v.name() == n))
                    .filter(|&i| {
                        cfg.asset_index(cfg.venues[i].asset()).map(|x| x.index()) == Some(a)
                    });
                named.or_else(|| {
                    cfg.venues
                        .iter()
                        .position(|v| cfg.asset_index(v.asset()).map(|x| x.index()) == Some(a))
                })
            })
            .collect();

        // Oracles and their publishers.
        let oracle_cfgs: Vec<(usize, OracleConfig)> = cfg
            .oracles
            .iter()
            .map(|o| {
                cfg.asset_index(&o.asset)
                    .map(|a| (a.index(), o.clone()))
                    .ok_or_else(|| BuildError(format!("oracle for unknown asset {}", o.asset)))
            })
            .collect::<Result<_, _>>()?;
        let mut twap_oracles: Vec<Option<TwapSource>> = vec![None; n_assets];
        for (a, o) in &oracle_cfgs {
            if let FeedConfig::Twap { venue, window_s } = &o.feed {
                twap_oracles[*a] =
                    cfg.venues
                        .iter()
                        .position(|v| v.name() == venue)
                        .map(|i| TwapSource {
                            venue: VenueId(i as u16),
                            window_s: *window_s,
                        });
            }
        }
        let oracles = Oracles::new(&oracle_cfgs, &p0, &cfg.venue_names())
            .map_err(|e| BuildError(e.to_string()))?;
        let mut feed_publisher = Vec::with_capacity(oracles.n_feeds());
        for f in 0..oracles.n_feeds() {
            let asset = oracles.feed_asset(cascade_core::FeedId(f as u16));
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
                label,
                hedges: false,
            });
        }
        let oev_params: Vec<Option<OevParams>> = (0..n_assets)
            .map(|a| {
                oracle_cfgs
                    .iter()
                    .find(|(x, _)| *x == a)
                    .and_then(|(_, o)| match &o.publication {
                        PublicationMode::Public => None,
                        PublicationMode::OevAuction {
                            share_to_protocol,
                            fallback_delay_blocks,
                            private_route_failure_prob,
                            bidders,
                        } => Some(OevParams {
                            share_to_protocol: *share_to_protocol,
                            fallback_delay_blocks: *fallback_delay_blocks as u64,
                            failure_prob: *private_route_failure_prob,
                            liquidators: bidders.contains(&OevBidder::Liquidator),
                            mev: bidders.contains(&OevBidder::MevBot),
                        }),
                    })
            })
            .collect();
        let oev = if oev_params.iter().any(|p| p.is_some()) {
            Some(Box::new(OevState::new(
                oev_params,
                ledger.add_holder("sink:oev_oracle"),
                rng::stream(seed, streams::OEV, 0),
            )))
        } else {
            None
        };
        ledger.seal();

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
        let oracle_px: Vec<f64> = (0..n_assets).map(|a| oracles.price(a, 0.0)).collect();
        let n_venues = venues.len();
        let n_agents = agents.len();
        Ok(World {
            gas_cfg: cfg.gas.clone(),
            block_time_s: cfg.chain.block_time_s,
            block_time_dist: cfg.chain.block_time_dist,
            n_blocks_fixed: cfg.chain.blocks(),
            duration_s: cfg.chain.duration_s,
            block: 0,
            t_s: 0.0,
            rng_price: rng::stream(seed, streams::PRICE, 0),
            rng_jumps: rng::stream(seed, streams::PRICE_JUMPS, 0),
            rng_gas: rng::stream(seed, streams::GAS, 0),
            rng_oracle: rng::stream(seed, streams::ORACLE, 0),
            rng_arrival: rng::stream(seed, streams::ARRIVAL, 0),
            rng_chain: rng::stream(seed, streams::CHAIN, 0),
            prices,
            gas,
            native_asset,
            reference_asset: cfg.reference_asset().index(),
            mempool: Mempool::new(cfg.gas.mempool_ttl_blocks),
            bundles: Vec::new(),
            oracles,
            venues,
            venue_is_cpmm,
            ledger,
            agents,
            actors,
            feed_publisher,
            burn,
            builder,
            escrow,
            offchain,
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
            check_ledger: false,
            order: (0..n_agents).collect(),
            subs: Vec::new(),
            pubs: Vec::new(),
            venue_px: vec![0.0; n_venues],
            engine,
            funding_venue,
            cascade_threshold: cfg.metrics.cascade_threshold,
            twap_oracles,
            oev,
            report_lag: vec![Vec::new(); n_assets],
        })
    }

    /// Record the per-block path (for `--trace`).
    pub fn enable_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    /// Record every event (for replay).
    pub fn enable_events(&mut self) {
        self.events = Some(Vec::new());
        if let Some(e) = self.engine.as_mut() {
            e.enable_events();
        }
    }

    /// Prove ledger conservation after every block (tests); a violation is an error.
    pub fn enable_ledger_checks(&mut self) {
        self.check_ledger = true;
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
    pub fn block(&self) -> u64 {
        self.block
    }
    pub fn time_s(&self) -> f64 {
        self.t_s
    }
    pub fn venues(&self) -> &[Venue] {
        &self.venues
    }
    pub fn prices(&self) -> &PriceModel {
        &self.prices
    }
    pub fn oracles(&self) -> &Oracles {
        &self.oracles
    }
    pub fn gas(&self) -> &GasMarket {
        &self.gas
    }
    pub fn actors(&self) -> &[Actor] {
        &self.actors
    }
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// Whether the run has more blocks to simulate.
    pub fn running(&self) -> bool {
        match self.block_time_dist {
            BlockTimeDist::Fixed => self.block < self.n_blocks_fixed,
            BlockTimeDist::Exponential => self.t_s < self.duration_s,
        }
    }

    /// Run to the end; returns the metrics.
    pub fn run(&mut self) -> Result<MetricRow, String> {
        while self.running() {
            self.step()?;
        }
        Ok(self.metrics())
    }

    /// The metrics so far.
    pub fn metrics(&self) -> MetricRow {
        match &self.engine {
            Some(e) => self.acc.row(Some(&e.metrics()), self.cascade_threshold),
            None => self.acc.row(None, self.cascade_threshold),
        }
    }

    /// The margin engine, when the scenario has one.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    pub fn take_trace(&mut self) -> Vec<BlockRecord> {
        self.trace.take().unwrap_or_default()
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        self.events.take().unwrap_or_default()
    }

    /// The events recorded since the last call, leaving recording on.
    pub fn drain_events(&mut self) -> Vec<Event> {
        self.events.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn new_tx(&mut self, agent: AgentId, sender: HolderId, r: TxRequest) -> Tx {
        let tx = Tx {
            id: TxId(self.next_tx),
            sender,
            agent,
            action: r.action,
            gas_limit: r.gas_limit,
            max_fee: r.max_fee,
            priority_fee: r.priority_fee,
            forced: r.forced,
            submitted_block: self.block,
            seq: self.next_seq,
        };
        self.next_tx += 1;
        self.next_seq += 1;
        tx
    }

    /// Advance one block.
    pub fn step(&mut self) -> Result<(), String> {
        self.block += 1;
        let dt = match self.block_time_dist {
            BlockTimeDist::Fixed => self.block_time_s,
            BlockTimeDist::Exponential => {
                let x: f64 = Exp1.sample(&mut self.rng_chain);
                (x * self.block_time_s).max(1e-9)
            }
        };
        self.t_s += dt;
        let t = self.t_s;

        // 1-2. Exogenous and reference prices.
        self.prices
            .step(t, dt, &mut self.rng_price, &mut self.rng_jumps);
        for (a, p) in self.p_ref.iter_mut().enumerate() {
            *p = self.prices.p_ref(a);
        }

        // 3. Gas.
        if let Some(a) = self.native_asset {
            self.gas.set_native_price(self.p_ref[a]);
        }
        let abs_r = self.prices.log_return_ref(self.reference_asset).abs();
        let background = self.gas.begin_block(abs_r, dt, &mut self.rng_gas);
        let base_fee = self.gas.base_fee();

        // 4. Oracles.
        for (i, v) in self.venues.iter().enumerate() {
            self.venue_px[i] = v.price();
        }
        self.oracles.record(t, &self.p_ref, &self.venue_px);
        let mut pubs = std::mem::take(&mut self.pubs);
        pubs.clear();
        self.oracles.observe(t, &mut self.rng_oracle, &mut pubs);
        for p in &pubs {
            if let Some(oev) = self.oev.as_mut()
                && oev.params[self.oracles.feed_asset(p.feed)].is_some()
            {
                // Sealed-bid auction first (after the engine's block start, below).
                oev.reports.push((p.feed, p.price));
                continue;
            }
            let publisher = self.feed_publisher[p.feed.index()];
            if p.replaces_pending {
                let feed = p.feed;
                self.mempool.remove_where(|tx| {
                    tx.agent == publisher
                        && matches!(tx.action, Action::OracleUpdate { feed: f, .. } if f == feed)
                });
            }
            let fees = self.oracles.publisher_fees(p.feed);
            let max_fee = base_fee
                .saturating_mul(2)
                .saturating_add(fees.tip_wei)
                .min(fees.max_fee_wei);
            let req = TxRequest {
                action: Action::OracleUpdate {
                    feed: p.feed,
                    price: p.price,
                },
                gas_limit: self.gas_cfg.costs.cost(cascade_core::GasKind::OracleUpdate),
                max_fee,
                priority_fee: fees.tip_wei,
                forced: false,
            };
            let holder = self.actors[publisher.index()].holder;
            let tx = self.new_tx(publisher, holder, req);
            self.mempool.submit(tx);
        }
        self.pubs = pubs;
        if self.engine.is_some() {
            let n = self.p_ref.len();
            let mut px = vec![0.0; n];
            let mut cf = vec![0.0; n];
            let mut ok = vec![true; n];
            let mut div = vec![None; n];
            let mut mark = vec![0.0; n];
            for a in 0..n {
                let st = self.oracles.status(a, t);
                px[a] = st.price;
                cf[a] = st.price * self.prices.p_exo(a) / self.p_ref[a];
                match self.oracles.guard_action(a) {
                    GuardAction::BlockLiquidations => ok[a] = !st.violated(),
                    GuardAction::TripBreaker => {
                        if st.violated() {
                            div[a] = Some(st.twap_deviation.unwrap_or(f64::INFINITY));
                        }
                    }
                }
                mark[a] = self.funding_venue[a]
                    .map(|v| self.venues[v].price())
                    .filter(|p| p.is_finite() && *p > 0.0)
                    .unwrap_or(px[a]);
            }
            if let Some(e) = self.engine.as_mut() {
                e.begin_block(self.block, t, dt, &px, &cf, &ok, &div, &mark);
            }
        }
        if self.oev.is_some() {
            self.oev_auctions(base_fee, t);
            self.oev_release_fallbacks(base_fee);
        }

        // 5. Agents act, in a random arrival order.
        let n = self.order.len();
        for i in 0..n {
            self.order[i] = i;
        }
        for i in (1..n).rev() {
            let j = self.rng_arrival.random_range(0..=i);
            self.order.swap(i, j);
        }
        let mut subs = std::mem::take(&mut self.subs);
        for k in 0..n {
            let ai = self.order[k];
            subs.clear();
            {
                let agent = &mut self.agents[ai];
                let view = View {
                    block: self.block,
                    t_s: t,
                    block_time_s: self.block_time_s,
                    base_fee,
                    native_price: self.gas.native_price(),
                    gas_costs: &self.gas_cfg.costs,
                    p_ref: &self.p_ref,
                    oracle: &self.oracle_px,
                    venues: &self.venues,
                    ledger: &self.ledger,
                    mempool: &self.mempool,
                    receipts: &self.receipts,
                    watcher: agent.watches_mempool(),
                    engine: self.engine.as_ref(),
                    oracles: &self.oracles,
                    twap_oracles: &self.twap_oracles,
                };
                agent.act(&view, AgentId(ai as u32), &mut subs);
            }
            let me = AgentId(ai as u32);
            let holder = self.actors[ai].holder;
            for s in subs.drain(..) {
                match s {
                    Submission::Tx(r) => {
                        let tx = self.new_tx(me, holder, r);
                        self.mempool.submit(tx);
                    }
                    Submission::Cancel(id) => {
                        if self.mempool.get(id).is_some_and(|t| t.agent == me) {
                            self.mempool.remove(id);
                        }
                    }
                    Submission::Bundle {
                        items,
                        target_block,
                    } => {
                        let mut out = Vec::with_capacity(items.len());
                        for it in items {
                            out.push(match it {
                                BundleRequest::Own(r) => {
                                    BundleItem::Own(self.new_tx(me, holder, r))
                                }
                                BundleRequest::Pending(id) => BundleItem::Pending(id),
                            });
                        }
                        let seq = self.next_seq;
                        self.next_seq += 1;
                        self.bundles.push(Bundle {
                            agent: me,
                            items: out,
                            target_block,
                            seq,
                        });
                    }
                }
            }
        }
        self.subs = subs;
        self.receipts.clear();

        // 6. Expiry, then block building.
        for tx in self.mempool.expire(self.block) {
            self.acc.txs_expired += 1;
            if let Action::OracleUpdate { feed, .. } = tx.action {
                self.oracles.forget_pending(feed);
                self.oev_restore_pending(feed, Some(tx.id));
            }
            if let Some(ev) = self.events.as_mut() {
                ev.push(Event::TxExpired {
                    block: self.block,
                    tx: tx.id,
                    agent: tx.agent,
                });
            }
            self.receipts.push(Receipt {
                tx: tx.id,
                agent: tx.agent,
                block: self.block,
                status: ReceiptStatus::Expired,
                fee: Amount::ZERO,
            });
        }
        // Won order-flow auctions: their bundles open the block.
        let (oev_gas, oev_txs, oev_reverted, oev_arb) = if self.oev.is_some() {
            self.oev_execute_wins(base_fee)
        } else {
            (0, 0, 0, false)
        };
        let bundles = std::mem::take(&mut self.bundles);
        let native = self.gas.native_price();
        let ledger = &self.ledger;
        let plan = build_block(
            &mut self.mempool,
            bundles,
            &background,
            base_fee,
            self.gas_cfg.gas_limit - oev_gas,
            self.block,
            |tx| tx.gas_limit,
            |tx| {
                let (b, p) = fee_split(tx.gas_limit, tx.max_fee, 0, native);
                ledger.balance(tx.sender, TokenId::QUOTE) >= b + p
            },
        );

        // 7. Execution.
        let mut gas_used = plan.background_gas + oev_gas;
        let mut txs = oev_txs;
        let mut reverted = oev_reverted;
        let mut arb_traded = oev_arb;
        for item in plan.items {
            let (used, rev, arb) = self.execute(item, base_fee);
            gas_used += used;
            if used > 0 {
                txs += 1;
            }
            reverted += rev as u32;
            arb_traded |= arb;
        }

        // 8. End of block.
        self.gas.end_block(gas_used);
        if let Some(e) = self.engine.as_mut() {
            e.end_block();
            if let Some(ev) = self.events.as_mut() {
                ev.extend(e.take_events());
            } else {
                e.take_events();
            }
        }
        self.acc.blocks += 1;
        if arb_traded {
            self.acc.arb_blocks += 1;
        }
        self.acc.base_fee_max_wei = self.acc.base_fee_max_wei.max(base_fee);
        self.acc.observe_ref(self.p_ref[self.reference_asset]);
        for a in 0..self.p_ref.len() {
            let o = self.oracles.price(a, t);
            self.oracle_px[a] = o;
            let d = (o - self.p_ref[a]).abs() / self.p_ref[a];
            if d.is_finite() && d > self.acc.oracle_max_deviation {
                self.acc.oracle_max_deviation = d;
            }
        }
        if let Some(tr) = self.trace.as_mut() {
            tr.push(BlockRecord {
                block: self.block,
                t_s: t,
                p_exo: (0..self.p_ref.len())
                    .map(|a| self.prices.p_exo(a))
                    .collect(),
                p_ref: self.p_ref.clone(),
                oracle: self.oracle_px.clone(),
                venue_price: self.venues.iter().map(|v| v.price()).collect(),
                base_fee_gwei: base_fee as f64 / 1e9,
                gas_used,
                background_gas: plan.background_gas,
                txs,
                reverted,
                mempool: self.mempool.len() as u32,
                insurance_fund: self.engine.as_ref().map(|e| e.insurance_fund().to_whole()),
                open_interest: self.engine.as_ref().map(|e| e.open_interest()),
            });
        }
        if self.check_ledger {
            if let Some(e) = &self.engine {
                e.check_invariants(&self.ledger)
                    .map_err(|m| format!("block {}: engine: {m}", self.block))?;
            }
            self.ledger
                .check_conservation()
                .map_err(|e| format!("block {}: ledger not conserved: {e}", self.block))?;
            for (i, v) in self.venues.iter().enumerate() {
                if let Venue::Cpmm(p) = v {
                    let h = v.holder();
                    if self.ledger.balance(h, TokenId::QUOTE) != p.reserve_quote()
                        || self.ledger.balance(h, p.asset().token()) != p.reserve_base()
                    {
                        return Err(format!(
                            "block {}: venue {i} reserves differ from its ledger balances",
                            self.block
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The ids of the venues (for traces).
pub fn venue_ids(n: usize) -> impl Iterator<Item = VenueId> {
    (0..n).map(|i| VenueId(i as u16))
}
