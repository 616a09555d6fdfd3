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
use crate::metrics::{Accumulator, MetricRow};
use cascade_agents::{
    Agent, BundleRequest, Receipt, ReceiptStatus, Role, Submission, TwapSource, View,
};
use cascade_core::event::Event;
use cascade_core::tx::{Action, Bundle, BundleItem, Tx, TxRequest};
use cascade_core::{AgentId, Amount, HolderId, Ledger, SimRng, TokenId, TxId, VenueId};
use cascade_engine::Engine;
use cascade_market::gas::{GasConfig, GasMarket, fee_split};
use cascade_market::mempool::{Mempool, build_block};
use cascade_market::oracle::GuardAction;
use cascade_market::oracle::{Oracles, Publication};
use cascade_market::price::PriceModel;
use cascade_market::venue::Venue;
use rand::RngExt;
use rand_distr::{Distribution, Exp1};

mod build;
mod exec;
mod oev;

use oev::OevState;

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

/// One run in progress.
pub struct World {
    gas_cfg: GasConfig,
    block_time_s: f64,
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
                let x: f64 = Exp1.sample(&mut self.rng.chain);
                (x * self.block_time_s).max(1e-9)
            }
        };
        self.t_s += dt;
        let t = self.t_s;

        // 1-2. Exogenous and reference prices.
        self.prices
            .step(t, dt, &mut self.rng.price, &mut self.rng.jumps);
        for (a, p) in self.p_ref.iter_mut().enumerate() {
            *p = self.prices.p_ref(a);
        }

        // 3. Gas.
        if let Some(a) = self.native_asset {
            self.gas.set_native_price(self.p_ref[a]);
        }
        let abs_r = self.prices.log_return_ref(self.reference_asset).abs();
        let background = self.gas.begin_block(abs_r, dt, &mut self.rng.gas);
        let base_fee = self.gas.base_fee();

        // 4. Oracles.
        for (i, v) in self.venues.iter().enumerate() {
            self.venue_px[i] = v.price();
        }
        self.oracles.record(t, &self.p_ref, &self.venue_px);
        let mut pubs = std::mem::take(&mut self.pubs);
        pubs.clear();
        self.oracles.observe(t, &mut self.rng.oracle, &mut pubs);
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
            let j = self.rng.arrival.random_range(0..=i);
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
