//! The steps of the block pipeline, one function each, in the order `World::step` calls them
//! (the module doc of `world` says what each step does and why it comes where it does).
//! Each step reads what the ones before it left, so the order of calls, and within a step the
//! order of random draws, transactions and events, is part of a run's result.

use super::{BlockRecord, World};
use crate::config::BlockTimeDist;
use cascade_agents::schedule::{FUNDING_WAKE_EVERY, arrival_key};
use cascade_agents::{BundleRequest, Receipt, ReceiptStatus, Schedule, Submission};
use cascade_core::event::Event;
use cascade_core::prefetch::prefetch;
use cascade_core::tx::{Action, Bundle, BundleItem, GasKind, Side, Tx, TxRequest};
use cascade_core::{AgentId, Amount, FeedId, Ledger, TokenId};
use cascade_market::gas::{BackgroundDemand, fee_split};
use cascade_market::mempool::{PlannedTx, build_block};
use cascade_market::oracle::GuardAction;
use cascade_market::venue::Venue;
use rand::RngExt;
use rand_distr::{Distribution, Exp1};

/// How many turns ahead a block asks for an acting agent's slot in the agent table (its
/// pointer), for its own memory (which reads the slot), and for what it points to
/// (`Agent::prefetch`, which reads the agent), each stage's memory asked for by the one before.
const PREFETCH_SLOT: usize = 24;
const PREFETCH_AGENT: usize = 16;
const PREFETCH_DEPS: usize = 8;

/// What one block's transactions came to, for the metrics and the trace.
#[derive(Debug, Default)]
pub(super) struct BlockTally {
    /// Gas used: background demand, then every included transaction.
    pub(super) gas_used: u64,
    pub(super) background_gas: u64,
    /// Transactions that used gas.
    pub(super) txs: u32,
    pub(super) reverted: u32,
    /// An arbitrageur traded successfully.
    pub(super) arb_traded: bool,
}

impl BlockTally {
    /// Count one executed transaction: `execute`'s (gas used, reverted, arbitrage).
    pub(super) fn count(&mut self, (used, reverted, arb): (u64, bool, bool)) {
        self.gas_used += used;
        if used > 0 {
            self.txs += 1;
        }
        self.reverted += reverted as u32;
        self.arb_traded |= arb;
    }
}

impl World {
    /// The next block and its time; returns (its end time, its length), both seconds.
    pub(super) fn advance_clock(&mut self) -> (f64, f64) {
        self.block += 1;
        let dt = match self.block_time_dist {
            BlockTimeDist::Fixed => self.block_time_s,
            BlockTimeDist::Exponential => {
                let x: f64 = Exp1.sample(&mut self.rng.chain);
                (x * self.block_time_s).max(1e-9)
            }
        };
        self.t_s += dt;
        self.dt_s = dt;
        (self.t_s, dt)
    }

    /// Steps 1-2: exogenous, then reference prices.
    pub(super) fn move_prices(&mut self, t: f64, dt: f64) {
        self.prices
            .step(t, dt, &mut self.rng.price, &mut self.rng.jumps);
        for (a, p) in self.p_ref.iter_mut().enumerate() {
            *p = self.prices.p_ref(a);
        }
    }

    /// Step 3: the gas market opens the block; returns the base fee and the background
    /// demand.
    pub(super) fn open_gas_block(&mut self, dt: f64) -> (u128, BackgroundDemand) {
        if let Some(a) = self.native_asset {
            self.gas.set_native_price(self.p_ref[a]);
        }
        let abs_r = self.prices.log_return_ref(self.reference_asset).abs();
        let background = self.gas.begin_block(abs_r, dt, &mut self.rng.gas);
        (self.gas.base_fee(), background)
    }

    /// Step 4, first: the oracles record this block's prices, observe, and their publishers
    /// submit the publications; reports of auctioned feeds wait for their auction instead.
    pub(super) fn publish_oracles(&mut self, t: f64, base_fee: u128) {
        for (i, v) in self.venues.iter().enumerate() {
            self.venue_px[i] = v.price();
        }
        self.oracles.record(t, &self.p_ref, &self.venue_px);
        let mut pubs = std::mem::take(&mut self.pubs);
        pubs.clear();
        let dt = self.dt_s;
        self.oracles.observe(t, dt, &mut self.rng.oracle, &mut pubs);
        for p in &pubs {
            if let Some(oev) = self.oev.as_mut()
                && oev.params[self.oracles.feed_asset(p.feed)].is_some()
            {
                // Sealed-bid auction first (after the engine's block start, below).
                oev.reports.push((p.feed, p.price));
                continue;
            }
            if p.replaces_pending {
                self.withdraw_updates(p.feed);
            }
            let tx = self.oracle_update_tx(p.feed, p.price, base_fee);
            self.mempool.submit(tx);
        }
        self.pubs = pubs;
    }

    /// An update transaction of `feed` by its publisher, with the publisher's fee policy.
    pub(super) fn oracle_update_tx(&mut self, feed: FeedId, price: f64, base_fee: u128) -> Tx {
        let publisher = self.feed_publisher[feed.index()];
        let fees = self.oracles.publisher_fees(feed);
        let max_fee = base_fee
            .saturating_mul(2)
            .saturating_add(fees.tip_wei)
            .min(fees.max_fee_wei);
        let req = TxRequest {
            action: Action::OracleUpdate { feed, price },
            gas_limit: self.gas_cfg.costs.cost(GasKind::OracleUpdate),
            max_fee,
            priority_fee: fees.tip_wei,
            forced: false,
        };
        let holder = self.actors[publisher.index()].holder;
        self.new_tx(publisher, holder, req)
    }

    /// Take the pending updates of `feed` out of the mempool (a newer report replaces them);
    /// returns them.
    pub(super) fn withdraw_updates(&mut self, feed: FeedId) -> Vec<Tx> {
        let publisher = self.feed_publisher[feed.index()];
        self.mempool.remove_where(|tx| {
            tx.agent == publisher
                && matches!(tx.action, Action::OracleUpdate { feed: f, .. } if f == feed)
        })
    }

    /// Step 4, then: the engine opens its block at the oracles' prices, with each asset's
    /// guard verdict and funding mark.
    pub(super) fn begin_engine_block(&mut self, t: f64, dt: f64) {
        if self.engine.is_none() {
            return;
        }
        let n = self.p_ref.len();
        // The per-asset inputs, in buffers reused every block (no allocation in the loop).
        let mut inp = std::mem::take(&mut self.engine_inputs);
        let (px, cf, ok, div, mark) = (
            &mut inp.px,
            &mut inp.cf,
            &mut inp.ok,
            &mut inp.div,
            &mut inp.mark,
        );
        px.clear();
        px.resize(n, 0.0);
        cf.clear();
        cf.resize(n, 0.0);
        ok.clear();
        ok.resize(n, true);
        div.clear();
        div.resize(n, None);
        mark.clear();
        mark.resize(n, 0.0);
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
            e.begin_block(self.block, t, dt, px, cf, ok, div, mark);
        }
        self.engine_inputs = inp;
    }

    /// Step 5: the market watches observe the oracle prices; then the acting agents act once
    /// each, in a random arrival order, on their view of the public state; what they submit
    /// enters the mempool or the bundle list. Under the polled schedule every agent acts;
    /// under the event schedule the awake agents and the sleepers due by `t` (the acting set)
    /// act, and each then says when it next needs to (`Agent::next_wake`). Last block's
    /// receipts have then been seen by all.
    pub(super) fn agents_act(&mut self, t: f64, base_fee: u128) {
        if self.engine.is_some() {
            for (w, spec) in self.watches.iter_mut().zip(&self.watch_specs) {
                w.observe(
                    t,
                    self.oracle_px[spec.asset.index()],
                    spec.half_life_s,
                    spec.window_s,
                );
            }
        }
        let event = self.schedule == Schedule::Event;
        if event {
            self.collect_acting(t);
        } else {
            // Polled: every agent acts anyway.
            self.mempool.drain_cleared(&mut self.cleared);
            let n = self.order.len();
            for i in 0..n {
                self.order[i] = i;
            }
        }
        if event {
            self.key_arrivals();
        } else {
            self.shuffle_arrivals();
        }
        self.visits += self.order.len() as u64;
        let mut subs = std::mem::take(&mut self.subs);
        let n = self.order.len();
        for k in 0..n {
            // Ask for the memory of the agents a few turns ahead (their state, then what it
            // points to), so that their visits do not start with cache misses at 10^5-10^6
            // agents; a hint only, no value depends on it.
            if k + PREFETCH_SLOT < n {
                prefetch(&self.agents[self.order[k + PREFETCH_SLOT]]);
            }
            if k + PREFETCH_AGENT < n {
                prefetch(&*self.agents[self.order[k + PREFETCH_AGENT]]);
            }
            if k + PREFETCH_DEPS < n {
                let next = self.order[k + PREFETCH_DEPS];
                self.agents[next].prefetch(self.engine.as_ref());
                if event {
                    self.sleepers.prefetch(next as u32);
                }
                self.mempool.prefetch(AgentId(next as u32));
                self.ledger.prefetch(self.agents[next].holder());
            }
            let ai = self.order[k];
            let me = AgentId(ai as u32);
            subs.clear();
            self.with_view(ai, t, base_fee, |agent, view| {
                agent.act(view, me, &mut subs)
            });
            for s in subs.drain(..) {
                match s {
                    Submission::Cancel(id) => self.cancels.push(id),
                    s => {
                        self.withdraw(me);
                        self.submit(me, s);
                    }
                }
            }
            self.withdraw(me);
            if event {
                match self.agents[ai].next_wake() {
                    None => {
                        self.awake.push(ai as u32);
                        self.sleepers.cancel(ai as u32);
                    }
                    Some(w) => {
                        self.sleepers.push(w, ai as u32);
                        if let Some(naps) = self.naps.as_mut()
                            && let Some(watch) = self.agents[ai].holder_watch()
                        {
                            naps.insert(ai as u32, watch);
                        }
                    }
                }
            }
        }
        self.subs = subs;
        self.receipts.clear();
    }

    /// Event schedule: this block's acting set in `order`, in agent order, before the arrival
    /// keys: the awake agents, the sleepers due by `t`, and the sleeping holders woken by a
    /// write to their account, a change of the margin ratios, or their asset's price (the
    /// engine's or the oracle's) outside their band. Each appears once; a holder that acts
    /// leaves the band index (it says again after acting whether it sleeps).
    fn collect_acting(&mut self, t: f64) {
        self.order.clear();
        self.order.extend(self.awake.drain(..).map(|a| a as usize));
        self.sleepers.pop_due(t, &mut self.order);
        // Those asleep until their last pending transaction left the mempool, and it has.
        self.mempool.drain_cleared(&mut self.cleared);
        for &a in &self.cleared {
            // (Transactions of no agent, the oracle's publisher, carry ids past the agents.)
            if self
                .agents
                .get(a.index())
                .is_some_and(|g| g.wakes_when_settled())
            {
                self.sleepers.cancel(a.0);
                self.order.push(a.index());
            }
        }
        if let (Some(naps), Some(e)) = (self.naps.as_mut(), self.engine.as_mut()) {
            e.drain_touched(&mut self.touched);
            for &acc in &self.touched {
                naps.wake_account(acc, &mut self.order);
            }
            self.touched.clear();
            // The margin ratios moved: wake the holders whose bound the maintenance ratio
            // reached (the initial ratio enters no holder's sleeping conditions).
            let generation = e.margin().generation();
            if generation != self.margin_gen {
                self.margin_gen = generation;
                for a in 0..e.prices().len() {
                    let r = e.margin().base(a, cascade_engine::Req::Maintenance);
                    naps.wake_by_ratio(a, r, &mut self.order);
                }
            }
            // Funding settlements are not logged as writes: the holders with a perp watch the
            // funding index, and all wake once every `FUNDING_WAKE_EVERY` settlements (the
            // bound their bands keep for the settlements' rounding).
            let epoch = e.funding_settlements() / FUNDING_WAKE_EVERY;
            if epoch != self.funding_epoch {
                self.funding_epoch = epoch;
                naps.wake_all(&mut self.order);
            }
            for (a, seen) in self.funding_seen.iter_mut().enumerate() {
                let f = e.funding_index(a);
                if f.to_bits() != seen.to_bits() {
                    *seen = f;
                    naps.wake_by_funding(a, f, &mut self.order);
                }
            }
            for (a, &pe) in e.prices().iter().enumerate() {
                let po = self.oracle_px[a];
                naps.wake_by_price(a, pe.min(po), pe.max(po), &mut self.order);
            }
        }
        self.order.sort_unstable();
        self.order.dedup();
        if let Some(naps) = self.naps.as_mut()
            && !naps.is_empty()
        {
            for &ai in &self.order {
                naps.remove(ai as u32);
            }
        }
    }

    /// Event schedule: this block's arrival order, by a key per (block, agent): one `u64` salt
    /// per block from the `arrival` stream, mixed with the agent's index by a bijection
    /// (`arrival_key`), ties (none: the keys of one block are distinct) broken by the index.
    /// The relative order of two agents depends only on the block's salt and their indices,
    /// never on who else acts, so an agent that acts without effect (a holder woken early)
    /// moves no one else's turn and no draw.
    fn key_arrivals(&mut self) {
        let salt: u64 = self.rng.arrival.random();
        self.order
            .sort_unstable_by_key(|&ai| (arrival_key(salt, ai as u64), ai));
    }

    /// Polled schedule: this block's arrival order, a Fisher-Yates shuffle of `order` from
    /// the `arrival` stream (the legacy figures).
    fn shuffle_arrivals(&mut self) {
        let n = self.order.len();
        for i in (1..n).rev() {
            let j = self.rng.arrival.random_range(0..=i);
            self.order.swap(i, j);
        }
    }

    /// Withdraw the transactions of agent `me` it cancelled in a row (`cancels`) from the
    /// mempool, in one pass however many (a keeper withdrawing thousands of stale
    /// liquidations from a backlog of openings would otherwise pay a scan and a shift each).
    /// Ids of other agents' transactions, or of none pending, are ignored.
    fn withdraw(&mut self, me: AgentId) {
        if !self.cancels.is_empty() {
            self.mempool.withdraw(me, &mut self.cancels);
            self.cancels.clear();
        }
    }

    /// One submission of agent `me`.
    fn submit(&mut self, me: AgentId, s: Submission) {
        let holder = self.actors[me.index()].holder;
        match s {
            Submission::Tx(r) => {
                let tx = self.new_tx(me, holder, r);
                self.mempool.submit(tx);
            }
            Submission::OffChain { asset, side, base } => {
                // A market order on the reference market is the hedge leg alone: a purchase
                // is the buy-back after a sale of `base`, a sale the sale after a purchase.
                if self.prices.has_reference(asset.index()) {
                    match side {
                        Side::Buy => self.hedge(holder, asset, Side::Sell, base, Amount::ZERO),
                        Side::Sell => self.hedge(holder, asset, Side::Buy, Amount::ZERO, base),
                    }
                }
            }
            Submission::Cancel(id) => {
                self.cancels.push(id);
                self.withdraw(me);
            }
            Submission::Bundle {
                items,
                target_block,
            } => {
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    out.push(match it {
                        BundleRequest::Own(r) => BundleItem::Own(self.new_tx(me, holder, r)),
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

    /// Step 6: expired transactions leave the mempool; the won order-flow auctions' bundles
    /// open the block (they execute here); then the builder packs bundles and mempool
    /// transactions into the gas left. Returns the block's transactions in execution order
    /// and the tally so far (the auctions' bundles and the background demand).
    pub(super) fn pack_block(
        &mut self,
        base_fee: u128,
        background: &BackgroundDemand,
    ) -> (Vec<PlannedTx>, BlockTally) {
        self.expire_txs();
        let mut tally = BlockTally::default();
        self.oev_execute_wins(base_fee, &mut tally);
        let bundles = std::mem::take(&mut self.bundles);
        let native = self.gas.native_price();
        let ledger = &self.ledger;
        let plan = build_block(
            &mut self.mempool,
            bundles,
            background,
            base_fee,
            self.gas_cfg.gas_limit - tally.gas_used,
            self.block,
            |tx| tx.gas_limit,
            |tx| can_pay_gas(ledger, tx, native),
        );
        tally.gas_used += plan.background_gas;
        tally.background_gas = plan.background_gas;
        (plan.items, tally)
    }

    /// Step 6, first: transactions past their time to live leave the mempool, with a receipt.
    fn expire_txs(&mut self) {
        for tx in self.mempool.expire(self.block, self.t_s) {
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
    }

    /// Step 7: the packed transactions execute in block order.
    pub(super) fn execute_block(
        &mut self,
        mut items: Vec<PlannedTx>,
        base_fee: u128,
        tally: &mut BlockTally,
    ) {
        for item in items.drain(..) {
            tally.count(self.execute(item, base_fee));
        }
        self.mempool.recycle(items);
    }

    /// Step 8: the base fee updates, the engine closes its block, then the metrics, the trace
    /// and (in tests) the ledger checks.
    pub(super) fn end_block(
        &mut self,
        t: f64,
        base_fee: u128,
        tally: &BlockTally,
    ) -> Result<(), String> {
        self.gas.end_block(tally.gas_used);
        let last = !self.running();
        if self.events.is_some() {
            self.event_t_s.push(t);
        }
        let mut adl_flow = Vec::new();
        if let Some(e) = self.engine.as_mut() {
            // Private positions with proofs (no-ops otherwise): solvency deadlines before the
            // protocol's check, the insolvency proofs it verified paid after it.
            let native = self.gas.native_price();
            e.prove_solvency(&mut self.ledger, base_fee, native, self.burn);
            e.end_block();
            e.settle_proofs(&mut self.ledger, self.burn);
            // Cross-chain collateral (a no-op when off): decisions, remote blocks, landings.
            e.bridge_block_end(&mut self.ledger, &self.p_ref, native);
            if last {
                // The final cascade generation of every liquidation.
                e.finish_events();
            }
            // Auto-deleveraging in the backstop sweep: its closes reach the market.
            adl_flow = e.take_forced_flow();
            if let Some(ev) = self.events.as_mut() {
                ev.extend(e.take_events());
            } else {
                e.take_events();
            }
        }
        for (a, base) in adl_flow {
            self.forced_flow(a, base);
        }
        self.count_block(t, base_fee, tally.arb_traded);
        self.record_trace(t, base_fee, tally);
        if self.check_ledger {
            self.check_block()?;
        }
        Ok(())
    }

    /// The block's metrics, and the oracle prices agents see next block.
    fn count_block(&mut self, t: f64, base_fee: u128, arb_traded: bool) {
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
    }

    /// The block's row of the per-block path, when it is recorded.
    fn record_trace(&mut self, t: f64, base_fee: u128, tally: &BlockTally) {
        let Some(tr) = self.trace.as_mut() else {
            return;
        };
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
            gas_used: tally.gas_used,
            background_gas: tally.background_gas,
            txs: tally.txs,
            reverted: tally.reverted,
            mempool: self.mempool.len() as u32,
            insurance_fund: self.engine.as_ref().map(|e| e.insurance_fund().to_whole()),
            open_interest: self.engine.as_ref().map(|e| e.open_interest()),
        });
    }

    /// The engine's invariants, the ledger's conservation, and every pool's reserves equal
    /// to its ledger balances.
    fn check_block(&self) -> Result<(), String> {
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
        Ok(())
    }
}

/// Whether the sender of `tx` holds the quote for its gas at its maximum fee (`native`: quote
/// per whole native token): the builder's test of includability.
pub(super) fn can_pay_gas(ledger: &Ledger, tx: &Tx, native: f64) -> bool {
    let (b, p) = fee_split(tx.gas_limit, tx.max_fee, 0, native);
    ledger.balance(tx.sender, TokenId::QUOTE) >= b + p
}
