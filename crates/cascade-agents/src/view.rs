//! The public state an agent sees when it decides.
//!
//! A `View` is a read-only window on the World at the end of the previous block, plus the
//! current block's market price and base fee. It holds references only, so building one per
//! agent per block costs nothing. The public mempool is visible only to agents that watch it.

use cascade_core::tx::{GasKind, Side, Tx, TxRequest};
use cascade_core::{AgentId, Amount, HolderId, Ledger, TokenId, TxId, VenueId};
use cascade_engine::Engine;
use cascade_market::gas::{GasCosts, fee_in_quote};
use cascade_market::mempool::Mempool;
use cascade_market::oracle::Oracles;
use cascade_market::price::PriceModel;
use cascade_market::venue::Venue;

/// How an agent's transaction ended.
#[derive(Clone, Debug, PartialEq)]
pub enum ReceiptStatus {
    Success,
    Reverted(String),
    Expired,
    Dropped(String),
}

/// The outcome of one of last block's transactions.
#[derive(Clone, Debug, PartialEq)]
pub struct Receipt {
    pub tx: TxId,
    pub agent: AgentId,
    pub block: u64,
    pub status: ReceiptStatus,
    /// Gas fee paid, in quote base units.
    pub fee: Amount,
}

/// Where an asset's oracle price comes from when the engine reads a venue's TWAP directly
/// (`feed = { kind = "twap", venue, window_s }`): the oracle contract's configuration, public on
/// chain, which a searcher needs to forecast how moving the venue moves the engine's price.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct TwapSource {
    pub venue: VenueId,
    pub window_s: f64,
}

/// The public state at decision time.
pub struct View<'a> {
    pub block: u64,
    /// Simulated time at the end of this block, seconds.
    pub t_s: f64,
    /// The configured mean block time, seconds.
    pub block_time_s: f64,
    /// This block's actual interval (its end time minus the previous block's), seconds.
    pub dt_s: f64,
    /// Current base fee, wei per gas.
    pub base_fee: u128,
    /// Quote per whole native gas token.
    pub native_price: f64,
    pub gas_costs: &'a GasCosts,
    /// Reference (off-chain market) price of each asset this block.
    pub p_ref: &'a [f64],
    /// The engine's oracle price of each asset (on chain, end of the previous block).
    pub oracle: &'a [f64],
    pub venues: &'a [Venue],
    pub ledger: &'a Ledger,
    pub mempool: &'a Mempool,
    /// Outcomes of the previous block's transactions (and of expiries).
    pub receipts: &'a [Receipt],
    /// Whether this agent may read the public mempool.
    pub watcher: bool,
    /// The margin engine, when the scenario has one.
    pub engine: Option<&'a Engine>,
    /// The oracles (public on-chain state).
    pub oracles: &'a Oracles,
    /// Per asset, the venue TWAP the engine's oracle reads, when it is a plain TWAP feed.
    pub twap_oracles: &'a [Option<TwapSource>],
    /// The price model, for quoting flows on reference markets (`quote_flow`): agents read
    /// the off-chain book's depth through it, never the fundamental value `p_exo`.
    pub prices: Option<&'a PriceModel>,
    /// The market watches of `BuildCtx::watch`, observed this block (oracle prices).
    pub watches: &'a [crate::trader::watch::MarketWatch],
}

impl<'a> View<'a> {
    /// The probability that a clock of `rate_per_hour` events per hour fires in this block
    /// (over its actual interval `dt_s`).
    pub fn chance(&self, rate_per_hour: f64) -> f64 {
        cascade_core::clock::per_block_prob(rate_per_hour, self.dt_s)
    }

    /// The public mempool, for agents that watch it.
    pub fn public_mempool(&self) -> Option<&'a [Tx]> {
        if self.watcher {
            Some(self.mempool.pending())
        } else {
            None
        }
    }

    /// Account `id`'s health at `prices` if the public may read it (`engine.privacy`: always
    /// when off; under the flag once the protocol flagged it; under proofs once its
    /// insolvency is proven or its state public). Searchers, MEV bots and keepers read
    /// other accounts' health only through this, [`View::public_health`] and
    /// [`View::public_liquidatable`].
    pub fn public_health_at(
        &self,
        id: cascade_core::AccountId,
        prices: &[f64],
    ) -> Option<cascade_engine::Health> {
        let e = self.engine?;
        if e.is_public(id) {
            e.health_at(id, prices)
        } else {
            None
        }
    }

    /// Account `id`'s health at the engine's prices, if public.
    pub fn public_health(&self, id: cascade_core::AccountId) -> Option<cascade_engine::Health> {
        let e = self.engine?;
        self.public_health_at(id, e.prices())
    }

    /// The accounts the public knows to be liquidatable: every liquidatable one without
    /// privacy, the protocol's flagged set with it.
    pub fn public_liquidatable(&self) -> Vec<cascade_core::AccountId> {
        let Some(e) = self.engine else {
            return Vec::new();
        };
        if e.config().privacy.hides_health() {
            e.flagged().keys().copied().collect()
        } else {
            e.liquidatable_now()
        }
    }

    /// The agent's own pending public transactions.
    pub fn my_pending(&self, me: AgentId) -> impl Iterator<Item = &'a Tx> + 'a {
        self.mempool.pending_of(me)
    }

    /// Whether the agent has a transaction in the mempool: O(1) (`my_pending` scans the
    /// mempool, whose length grows with the agents that act).
    pub fn has_pending(&self, me: AgentId) -> bool {
        self.mempool.pending_count(me) > 0
    }

    /// The agent's receipts from the previous block.
    pub fn my_receipts(&self, me: AgentId) -> impl Iterator<Item = &'a Receipt> + 'a {
        self.receipts.iter().filter(move |r| r.agent == me)
    }

    pub fn balance(&self, h: HolderId, t: TokenId) -> Amount {
        self.ledger.balance(h, t)
    }

    /// Wei per gas that spends `quote` whole units over the gas of `kind` (a priority bid
    /// worth `quote`).
    pub fn tip_worth(&self, kind: GasKind, quote: f64) -> u128 {
        let gas = self.gas_of(kind) as f64;
        if !(quote > 0.0 && gas > 0.0 && self.native_price > 0.0) {
            return 0;
        }
        (quote / (gas * self.native_price) * 1e18) as u128
    }

    /// The gas a transaction of `kind` uses.
    pub fn gas_of(&self, kind: GasKind) -> u64 {
        self.gas_costs.cost(kind)
    }

    /// The fee, in quote base units, of a successful transaction of `kind` paying `tip` wei per
    /// gas on top of the current base fee.
    pub fn fee_estimate(&self, kind: GasKind, tip: u128) -> Amount {
        fee_in_quote(self.gas_of(kind), self.base_fee + tip, self.native_price)
    }

    /// The venue among `venues` that pays most for `amount` more of asset `a`, and what it
    /// pays: its quote for selling `amount` after the `sold` sales already made on it (base
    /// per venue, earlier in the same bundle; `&[]` for none), i.e. the marginal quote
    /// `quote(sold + amount) - quote(sold)`. The largest amount out wins, ties to the lower
    /// venue id.
    pub fn best_sale(
        &self,
        venues: &[VenueId],
        a: usize,
        amount: Amount,
        sold: &[(VenueId, Amount)],
    ) -> Option<(VenueId, Amount)> {
        venues
            .iter()
            .filter(|v| self.venues[v.index()].asset().index() == a)
            .map(|v| {
                let venue = &self.venues[v.index()];
                let before = sold
                    .iter()
                    .find(|(x, _)| x == v)
                    .map_or(Amount::ZERO, |(_, s)| *s);
                let out = if before.is_positive() {
                    let all = venue.quote(Side::Sell, before + amount).amount_out;
                    let prior = venue.quote(Side::Sell, before).amount_out;
                    (all - prior).max(Amount::ZERO)
                } else {
                    venue.quote(Side::Sell, amount).amount_out
                };
                (*v, out)
            })
            .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(&x.0)))
    }

    /// A transaction request with the usual wallet fee policy: gas limit = the kind's gas,
    /// max fee = 2 x base fee + tip (room for the base fee to rise for a few blocks), capped at
    /// `max_fee_cap` wei if given.
    pub fn request(
        &self,
        action: cascade_core::Action,
        tip: u128,
        max_fee_cap: Option<u128>,
        forced: bool,
    ) -> TxRequest {
        let kind = action.gas_kind();
        let mut max_fee = self.base_fee.saturating_mul(2).saturating_add(tip);
        if let Some(cap) = max_fee_cap {
            max_fee = max_fee.min(cap);
        }
        TxRequest {
            action,
            gas_limit: self.gas_of(kind),
            max_fee,
            priority_fee: tip,
            forced,
        }
    }
}

/// Gwei (as users write them) to wei.
pub fn gwei(g: f64) -> u128 {
    if g.is_finite() && g > 0.0 {
        (g * 1e9).round() as u128
    } else {
        0
    }
}
