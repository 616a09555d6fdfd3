//! Oracle order-flow auctions (`oev_auction` publication mode): the sealed-bid auction of
//! each auctioned report (step 4), the public fallbacks of reports that found no buyer, and
//! the won bundles that open the block (steps 6-7). Kept apart from the pipeline because an
//! auctioned report takes a different road from a public one at every step, and all of that
//! road's state (`OevState`) lives here.

use super::World;
use super::phases::{BlockTally, can_pay_gas};
use cascade_agents::{OevBid, OevLot, Role};
use cascade_core::tx::Tx;
use cascade_core::{AgentId, Amount, FeedId, HolderId, SimRng, TokenId, TxId};
use cascade_market::mempool::PlannedTx;
use rand::RngExt;

/// The `oev_auction` settings of one asset's oracle.
#[derive(Debug, Clone, Copy)]
pub(super) struct OevParams {
    pub(super) share_to_protocol: f64,
    pub(super) fallback_delay_s: f64,
    pub(super) failure_prob: f64,
    pub(super) liquidators: bool,
    pub(super) mev: bool,
}

/// An auctioned report waiting for its public fallback.
#[derive(Debug, Clone, Copy)]
struct Fallback {
    /// Released at the first block whose time is at least this (s).
    release_t: f64,
    report_block: u64,
    feed: FeedId,
    price: f64,
}

/// A won auction: the bundle that runs at the top of this block and what the winner pays.
#[derive(Debug, Clone)]
struct OevWin {
    /// The update first, then the winner's liquidations.
    txs: Vec<Tx>,
    winner: usize,
    payment: Amount,
    share_to_protocol: f64,
    fallback: Fallback,
}

/// Oracle order-flow auctions of a run (present only when some oracle uses them).
pub(super) struct OevState {
    /// Per asset, its oracle's auction settings (`None`: public).
    pub(super) params: Vec<Option<OevParams>>,
    /// Where the oracle's share of the payments goes.
    sink: HolderId,
    /// Stream `oev`: two draws per auctioned update (route failure, tie-break).
    rng: SimRng,
    /// Reports awaiting their public fallback, in report order.
    queue: Vec<Fallback>,
    /// Released fallback transactions in the mempool, with their report block.
    pub(super) released: Vec<(TxId, u64)>,
    /// This block's reports, before their auctions.
    pub(super) reports: Vec<(FeedId, f64)>,
    /// This block's winning bundles.
    wins: Vec<OevWin>,
}

impl OevState {
    pub(super) fn new(params: Vec<Option<OevParams>>, sink: HolderId, rng: SimRng) -> OevState {
        OevState {
            params,
            sink,
            rng,
            queue: Vec::new(),
            released: Vec::new(),
            reports: Vec::new(),
            wins: Vec::new(),
        }
    }

    /// The newest report of `feed` still waiting for its fallback, if any.
    fn newest_queued(&self, feed: FeedId) -> Option<f64> {
        self.queue
            .iter()
            .rev()
            .find(|q| q.feed == feed)
            .map(|q| q.price)
    }
}

/// Oracle order-flow auctions (`oev_auction` publication mode).
impl World {
    /// Step 4, after the engine's block start: the auctions of this block's reports, then the
    /// fallbacks due at this block.
    pub(super) fn run_oev_auctions(&mut self, base_fee: u128, t: f64) {
        let Some(mut oev) = self.oev.take() else {
            return;
        };
        self.oev_auctions(&mut oev, base_fee, t);
        self.oev_release_fallbacks(&mut oev, base_fee);
        self.oev = Some(oev);
    }

    /// Auction each of this block's reports of auctioned feeds. The highest sealed bid wins
    /// and pays the second-highest (zero when it is alone); with no bid, or when the private
    /// route fails, the report waits `fallback_delay_s` for the public mempool.
    fn oev_auctions(&mut self, oev: &mut OevState, base_fee: u128, t: f64) {
        let reports = std::mem::take(&mut oev.reports);
        for &(feed, price) in &reports {
            let asset = self.oracles.feed_asset(feed);
            let Some(params) = oev.params[asset] else {
                continue;
            };
            self.acc.oev_auctions += 1;
            // Two draws per auctioned update, always (the stream's own common random numbers).
            let u_route: f64 = oev.rng.random();
            let u_tie: f64 = oev.rng.random();
            let fallback = Fallback {
                release_t: t + params.fallback_delay_s,
                report_block: self.block,
                feed,
                price,
            };
            let mut bids = self.oev_bids(&params, asset, feed, price, base_fee, t);
            if bids.is_empty() || u_route < params.failure_prob {
                self.oev_fall_back(oev, fallback);
                continue;
            }
            let (w, payment) = second_price(&bids, u_tie);
            let (winner, bid) = bids.swap_remove(w);
            // The private update supersedes older reports of the feed still on their way.
            self.oev_withdraw_updates(oev, feed);
            oev.queue.retain(|q| q.feed != feed);
            let update = self.oracle_update_tx(feed, price, base_fee);
            let holder = self.actors[winner].holder;
            let mut txs = Vec::with_capacity(bid.txs.len() + 1);
            txs.push(update);
            for r in bid.txs {
                txs.push(self.new_tx(AgentId(winner as u32), holder, r));
            }
            oev.wins.push(OevWin {
                txs,
                winner,
                payment,
                share_to_protocol: params.share_to_protocol,
                fallback,
            });
        }
        oev.reports = reports;
        oev.reports.clear();
    }

    /// The sealed bids for the report `price` of `feed` (an oracle of `asset`) from the
    /// eligible agents, in agent order: each values the engine's prices once the update has
    /// landed. None without an engine, or when the update would not move the price.
    fn oev_bids(
        &mut self,
        params: &OevParams,
        asset: usize,
        feed: FeedId,
        price: f64,
        base_fee: u128,
        t: f64,
    ) -> Vec<(usize, OevBid)> {
        let mut bids: Vec<(usize, OevBid)> = Vec::new();
        let Some(engine) = self.engine.as_ref() else {
            return bids;
        };
        let mut prices = engine.prices().to_vec();
        let next = self.oracles.price_if(asset, feed, price, t);
        if !(next.is_finite() && next > 0.0) {
            return bids;
        }
        prices[asset] = next;
        let lot = OevLot {
            feed,
            asset,
            prices: &prices,
        };
        for ai in 0..self.agents.len() {
            let eligible = match self.actors[ai].role {
                Role::Liquidator => params.liquidators,
                Role::Mev => params.mev,
                _ => false,
            };
            if !eligible {
                continue;
            }
            if let Some(b) =
                self.with_view(ai, t, base_fee, |agent, view| agent.oev_bid(view, &lot))
                && b.value.is_positive()
                && !b.txs.is_empty()
            {
                bids.push((ai, b));
            }
        }
        bids
    }

    /// Step 4, last: submit the fallbacks due at this block to the public mempool, each
    /// replacing an older pending update of its feed.
    fn oev_release_fallbacks(&mut self, oev: &mut OevState, base_fee: u128) {
        let now = self.t_s;
        if oev.queue.iter().any(|q| q.release_t <= now) {
            let due: Vec<Fallback> = oev
                .queue
                .iter()
                .copied()
                .filter(|q| q.release_t <= now)
                .collect();
            oev.queue.retain(|q| q.release_t > now);
            for q in due {
                self.oev_withdraw_updates(oev, q.feed);
                let tx = self.oracle_update_tx(q.feed, q.price, base_fee);
                oev.released.push((tx.id, q.report_block));
                self.mempool.submit(tx);
            }
        }
    }

    /// Withdraw the pending updates of `feed` from the mempool, released fallbacks included.
    fn oev_withdraw_updates(&mut self, oev: &mut OevState, feed: FeedId) {
        let removed = self.withdraw_updates(feed);
        oev.released
            .retain(|(id, _)| !removed.iter().any(|r| r.id == *id));
    }

    /// The report goes the public way after its delay.
    fn oev_fall_back(&mut self, oev: &mut OevState, f: Fallback) {
        self.acc.oev_fallbacks += 1;
        oev.queue.push(f);
        self.oracles.mark_pending(f.feed, f.price);
    }

    /// Steps 6-7, first: the won bundles execute at the top of the block, all or none (a
    /// bundle that cannot be included falls back like a failed private route), counted in
    /// `tally`; then the winner pays.
    pub(super) fn oev_execute_wins(&mut self, base_fee: u128, tally: &mut BlockTally) {
        let Some((wins, sink)) = self
            .oev
            .as_mut()
            .map(|o| (std::mem::take(&mut o.wins), o.sink))
        else {
            return;
        };
        let native = self.gas.native_price();
        for win in wins {
            let gas: u64 = win.txs.iter().map(|t| t.gas_limit).sum();
            let includable = tally.gas_used + gas <= self.gas_cfg.gas_limit
                && win.txs.iter().all(|t| {
                    t.effective_priority(base_fee).is_some() && can_pay_gas(&self.ledger, t, native)
                });
            if !includable {
                if let Some(mut oev) = self.oev.take() {
                    self.oev_fall_back(&mut oev, win.fallback);
                    self.oev = Some(oev);
                }
                continue;
            }
            for tx in win.txs {
                let ep = tx.effective_priority(base_fee).unwrap_or(0);
                let item = PlannedTx {
                    tx,
                    private: true,
                    bundle: None,
                    effective_priority: ep,
                };
                tally.count(self.execute(item, base_fee));
            }
            self.oev_pay(win.winner, win.payment, win.share_to_protocol, sink);
        }
    }

    /// The winner's payment: whatever it holds up to its price, split exactly between the
    /// oracle's sink and the protocol (the protocol's share rounded up, as rounding favours
    /// the protocol).
    fn oev_pay(&mut self, winner: usize, payment: Amount, share_to_protocol: f64, sink: HolderId) {
        let holder = self.actors[winner].holder;
        let amount = payment
            .min(self.ledger.balance(holder, TokenId::QUOTE))
            .max(Amount::ZERO);
        if !amount.is_positive() {
            return;
        }
        let to_oracle = amount.scale_floor(1.0 - share_to_protocol);
        let to_protocol = amount - to_oracle;
        let paid = self
            .ledger
            .transfer(holder, sink, TokenId::QUOTE, to_oracle)
            .is_ok()
            && match self.engine.as_mut() {
                Some(e) => e
                    .pay_insurance_fund(holder, to_protocol, &mut self.ledger)
                    .is_ok(),
                None => self
                    .ledger
                    .transfer(holder, sink, TokenId::QUOTE, to_protocol)
                    .is_ok(),
            };
        debug_assert!(paid, "the payment is capped at the winner's balance");
        let whole = amount.to_whole();
        self.acc.oev_recaptured += whole;
        self.acc.oev_to_protocol += to_protocol.to_whole();
        self.acc.oev_to_oracle += to_oracle.to_whole();
        match self.actors[winner].role {
            Role::Liquidator => self.acc.liquidator_gain -= whole,
            _ => self.acc.mev_gain -= whole,
        }
    }

    /// After an update of `feed` landed or was dropped (`dropped`: that transaction): the
    /// publisher still has the newest report waiting for its fallback in flight.
    pub(super) fn oev_restore_pending(&mut self, feed: FeedId, dropped: Option<TxId>) {
        let Some(oev) = self.oev.as_mut() else {
            return;
        };
        if let Some(id) = dropped {
            oev.released.retain(|(x, _)| *x != id);
        }
        if let Some(p) = oev.newest_queued(feed) {
            self.oracles.mark_pending(feed, p);
        }
    }
}

/// The winner of a sealed-bid second-price auction among `bids` (not empty) and its payment:
/// the highest bid wins, ties broken by `u_tie` (uniform in [0, 1)), and it pays the highest
/// other bid (zero when it is alone). Returns the winner's index in `bids`.
fn second_price(bids: &[(usize, OevBid)], u_tie: f64) -> (usize, Amount) {
    let top = bids
        .iter()
        .map(|(_, b)| b.value)
        .max()
        .unwrap_or(Amount::ZERO);
    let tied: Vec<usize> = (0..bids.len())
        .filter(|&i| bids[i].1.value == top)
        .collect();
    let w = tied[((u_tie * tied.len() as f64) as usize).min(tied.len() - 1)];
    let payment = (0..bids.len())
        .filter(|&i| i != w)
        .map(|i| bids[i].1.value)
        .max()
        .unwrap_or(Amount::ZERO);
    (w, payment)
}
