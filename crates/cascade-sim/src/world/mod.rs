//! The World: one seeded run of a scenario, advanced block by block.
//!
//! `World::step` is the block pipeline (ARCHITECTURE.md, "Bird's-eye view"), in order:
//! 1. exogenous prices (`price` and `price_jumps` streams);
//! 2. reference prices: `p_ref = p_exo * impact` from forced flow, or the reference market's
//!    book (`p_exo * exp(x(C))`); then pools' liquidity providers withdraw or return (`lp`);
//! 3. gas: congestion from the absolute return, background demand (`gas` stream), the base fee
//!    (EIP-1559, from the previous block's gas used);
//! 4. oracles record prices, observe (`oracle` stream) and submit their publications;
//! 5. agents act, in a random arrival order (`arrival` stream: a shuffle when polled, a key per
//!    (block, agent) under the event schedule), on a view of the public state;
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
//! `fallback_delay_s` later.
//!
//! With `engine.intents` on, the engine routes liquidatable accounts to solvers' standing
//! commitments after it opens its block (step 4) and right after each oracle update lands
//! (step 7), before the public race (`intents`).
//!
//! Gas is charged the Ethereum way: the fee for the transaction's full gas is moved into an
//! escrow holder before execution, and after it the used part goes to the burn sink (base fee)
//! and the builder (tip) while the rest returns to the sender; every step is a ledger transfer.
//!
//! The code follows the pipeline: `build` makes a World from a scenario, `phases` holds one
//! function per step (called in order by `World::step`), `exec` executes one transaction
//! (step 7) and `oev` runs the order-flow auctions.

use crate::config::BlockTimeDist;
use crate::metrics::{Accumulator, MetricRow};
use cascade_agents::config::WatchSpec;
use cascade_agents::trader::watch::MarketWatch;
use cascade_agents::{
    Agent, Naps, Receipt, Role, Schedule, Sleepers, Submission, TwapSource, View,
};
use cascade_core::event::Event;
use cascade_core::tx::{Bundle, Tx, TxRequest};
use cascade_core::{AgentId, HolderId, Ledger, SimRng, TxId, VenueId};
use cascade_engine::Engine;
use cascade_market::gas::{GasConfig, GasMarket};
use cascade_market::mempool::Mempool;
use cascade_market::oracle::{Oracles, Publication};
use cascade_market::price::PriceModel;
use cascade_market::venue::Venue;

mod build;
mod exec;
mod intents;
mod lp;
mod makers;
mod oev;
mod phases;

use lp::LpState;
use oev::OevState;

/// Who an actor is (agents first, then oracle publishers).
#[derive(Debug, Clone)]
pub struct Actor {
    pub holder: HolderId,
    pub role: Role,
    /// Its label (`trader-17`), compact: [`cascade_core::Name`].
    pub label: cascade_core::Name,
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

/// The random streams the pipeline draws from, one per source of randomness (named in
/// `cascade_core::rng::streams`), so that a change in one source leaves the others' draws alone.
struct Streams {
    price: SimRng,
    jumps: SimRng,
    gas: SimRng,
    oracle: SimRng,
    arrival: SimRng,
    chain: SimRng,
}

/// The engine's per-asset inputs of a block (`begin_engine_block`), kept between blocks.
#[derive(Default)]
struct EngineInputs {
    px: Vec<f64>,
    cf: Vec<f64>,
    ok: Vec<bool>,
    div: Vec<Option<f64>>,
    mark: Vec<f64>,
}

/// One run in progress.
pub struct World {
    gas_cfg: GasConfig,
    block_time_s: f64,
    /// The current block's actual interval, seconds (set by `advance_clock`).
    dt_s: f64,
    block_time_dist: BlockTimeDist,
    n_blocks_fixed: u64,
    duration_s: f64,
    block: u64,
    t_s: f64,
    rng: Streams,
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
    /// With events on: each block's time (index `block - 1`), and the venues' and assets'
    /// names, for the event CSV's `t_s`, `venue` and `asset` columns.
    event_t_s: Vec<f64>,
    venue_names: Vec<String>,
    asset_names: Vec<String>,
    check_ledger: bool,
    /// `chain.agent_schedule`.
    schedule: Schedule,
    /// Event schedule: the agents that act next block whatever the time (`next_wake` None).
    awake: Vec<u32>,
    /// Event schedule: the sleeping agents, by wake time.
    sleepers: Sleepers,
    /// Event schedule with `chain.holders_sleep`: the sleeping holders' other wakes (account
    /// writes, price bands, margin ratios, funding; `None` otherwise), the engine's accounts
    /// written since last block, the margin generation last seen, and the funding index of
    /// each asset and the epoch of funding settlements (`FUNDING_WAKE_EVERY`) last seen.
    naps: Option<Naps>,
    touched: Vec<u32>,
    margin_gen: u64,
    funding_seen: Vec<f64>,
    funding_epoch: u64,
    /// Agent visits so far (`act` calls in step 5), for `World::agent_visits`.
    visits: u64,
    /// The agents' market watches (`BuildCtx::watch`), observed once per block.
    watch_specs: Vec<WatchSpec>,
    watches: Vec<MarketWatch>,
    // Scratch buffers, reused every block.
    engine_inputs: EngineInputs,
    /// The block's arrival order (all agents polled; the acting set under the event schedule).
    order: Vec<usize>,
    subs: Vec<Submission>,
    /// Scratch: the transactions an agent withdraws in a row (`Submission::Cancel`), removed
    /// from the mempool in one pass.
    cancels: Vec<cascade_core::TxId>,
    /// Scratch: the agents whose last pending transaction left the mempool since the agents
    /// last acted (`Mempool::drain_cleared`).
    cleared: Vec<AgentId>,
    pubs: Vec<Publication>,
    venue_px: Vec<f64>,
    engine: Option<Engine>,
    /// Per asset, the venue whose price is the perp mark for funding.
    funding_venue: Vec<Option<usize>>,
    /// When a run counts as a cascade (`metrics.cascade_rule`, resolved).
    cascade: crate::metrics::CascadeTest,
    /// Per asset, the venue TWAP its oracle reads when the feed is a plain `twap` (public
    /// oracle configuration, shown to agents).
    twap_oracles: Vec<Option<TwapSource>>,
    /// Oracle order-flow auctions, when an oracle is in `oev_auction` mode.
    oev: Option<Box<OevState>>,
    /// Per asset, the transport lag (blocks from report to landing) of its oracle updates,
    /// as (landing block, lag) at every change of the lag.
    report_lag: Vec<Vec<(u64, u64)>>,
    /// Liquidity providers of pools with a withdrawal rule (`lp.rs`).
    lps: Vec<LpState>,
    /// The counterfactual twin: forced flow (liquidations' sales and closes, option hedges,
    /// ADL) never reaches the price model (`switch_off_forced_flow`).
    forced_flow_off: bool,
}

impl World {
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

    /// Make this World the counterfactual twin of its run: the forced flow of liquidations
    /// (the seized collateral's sale, closed perps, unwound option hedges, ADL closes) never
    /// reaches the price model, neither the reduced-form impact nor a reference market's book.
    /// Trades on on-chain venues still execute (the ledger needs their counterparty) and move
    /// those venues; only the reference price `p_ref` forms without the forced flow. Call it
    /// before the first step.
    pub fn switch_off_forced_flow(&mut self) {
        self.forced_flow_off = true;
    }

    /// Record forced flow of asset `a` on the price model, unless this is the twin.
    fn forced_flow(&mut self, a: usize, base: f64) {
        if !self.forced_flow_off {
            self.prices.add_forced_flow(a, base);
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
            Some(e) => {
                let mut m = e.metrics();
                let p_ref: Vec<f64> = (0..self.prices.n_assets())
                    .map(|a| self.prices.p_ref(a))
                    .collect();
                m.protocol_loss_at_market = e.protocol_loss_at_market(&p_ref);
                m.structure = e.structure_metrics(&p_ref);
                self.acc.row(Some(&m), self.cascade)
            }
            None => self.acc.row(None, self.cascade),
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

    /// What the event CSV needs besides the events: actor labels, venue and asset names,
    /// block times.
    pub fn event_labels(&self) -> crate::events::EventLabels<'_> {
        crate::events::EventLabels {
            actors: &self.actors,
            venues: &self.venue_names,
            assets: &self.asset_names,
            block_t_s: &self.event_t_s,
        }
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

    /// Let agent `ai` see the public state: `f` gets the agent and its view. This is the one
    /// place a `View` is built, so acting (step 5) and bidding in an order-flow auction
    /// (step 4) see the public state the same way.
    fn with_view<R>(
        &mut self,
        ai: usize,
        t: f64,
        base_fee: u128,
        f: impl FnOnce(&mut dyn Agent, &View<'_>) -> R,
    ) -> R {
        let agent = self.agents[ai].as_mut();
        let view = View {
            block: self.block,
            t_s: t,
            block_time_s: self.block_time_s,
            dt_s: self.dt_s,
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
            prices: Some(&self.prices),
            watches: &self.watches,
        };
        f(agent, &view)
    }

    /// How many times an agent has acted so far (the sum over blocks of the acting set's
    /// size): what the schedule costs, whatever the machine.
    pub fn agent_visits(&self) -> u64 {
        self.visits
    }

    /// Advance one block: the pipeline of the module doc, one call per step.
    pub fn step(&mut self) -> Result<(), String> {
        let (t, dt) = self.advance_clock();
        // 1-2. Exogenous and reference prices (the reference markets first read their market
        // makers' state).
        self.observe_makers();
        self.move_prices(t, dt);
        self.lp_rebalance(dt);
        // 3. Gas.
        let (base_fee, background) = self.open_gas_block(dt);
        // 4. Oracles; the engine opens its block at their prices; auctioned reports are sold
        // and the fallbacks due go public.
        self.publish_oracles(t, base_fee);
        self.begin_engine_block(t, dt);
        self.intents_block_start();
        self.run_oev_auctions(base_fee, t);
        // 5. Agents act, in a random arrival order.
        self.agents_act(t, base_fee);
        // 6. Expiry, won auctions' bundles, then block building.
        let (txs, mut tally) = self.pack_block(base_fee, &background);
        // 7. Execution.
        self.execute_block(txs, base_fee, &mut tally);
        // 8. End of block.
        self.end_block(t, base_fee, &tally)
    }
}

/// The ids of the venues (for traces).
pub fn venue_ids(n: usize) -> impl Iterator<Item = VenueId> {
    (0..n).map(|i| VenueId(i as u16))
}
