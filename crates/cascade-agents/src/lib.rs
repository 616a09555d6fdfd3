//! cascade-agents: the decision makers.
//!
//! Every agent acts on its own profit, net of gas and slippage: it observes the public state at
//! the end of the previous block (and the public mempool, if it watches it), and submits
//! transactions or bundles with a gas limit, a max fee and a priority fee. Nothing in the
//! simulator forces an outcome; failures such as late liquidations must emerge from these
//! choices.
//!
//! A new agent is one file: implement [`Agent`], add a variant to [`AgentConfig`] (or build it
//! directly and hand it to the World).

pub mod arbitrageur;
pub mod config;
pub mod liquidator;
pub mod manipulation;
pub mod manipulator;
pub mod market_maker;
pub mod mev;
pub mod noise;
pub mod oev;
pub mod options_market_maker;
pub mod options_trader;
pub mod oracle_arbitrageur;
pub mod sale;
pub mod schedule;
pub mod solver;
pub mod trader;
pub mod view;

pub use config::{AgentConfig, BuildCtx};
pub use market_maker::MakerBook;
pub use oev::{OevBid, OevLot};
pub use schedule::{HolderWatch, Naps, Schedule, Sleepers};
pub use view::{Receipt, ReceiptStatus, TwapSource, View};

use cascade_core::tx::{Side, TxRequest};
use cascade_core::{AgentId, Amount, AssetId, HolderId, TxId};

/// What kind of agent this is (for metrics: arbitrage profit, liquidator profit, ...).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Arbitrageur,
    NoiseTrader,
    MarketMaker,
    Trader,
    Liquidator,
    Mev,
    OraclePublisher,
    Custom,
}

impl Role {
    /// Whether the role trades on information about the market price (arbitrage, forced
    /// liquidation sales, MEV) rather than for its own uninformed reasons. The pool's loss to
    /// informed flow is its loss-versus-rebalancing.
    pub fn is_informed(self) -> bool {
        matches!(self, Role::Arbitrageur | Role::Liquidator | Role::Mev)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Arbitrageur => "arbitrageur",
            Role::NoiseTrader => "noise_trader",
            Role::MarketMaker => "market_maker",
            Role::Trader => "trader",
            Role::Liquidator => "liquidator",
            Role::Mev => "mev_bot",
            Role::OraclePublisher => "oracle_publisher",
            Role::Custom => "custom",
        }
    }
}

/// An element of a bundle request.
#[derive(Clone, Debug, PartialEq)]
pub enum BundleRequest {
    /// A transaction of the bundle's author.
    Own(TxRequest),
    /// Someone else's pending public transaction (e.g. an oracle update to backrun).
    Pending(TxId),
}

/// What an agent hands to the chain in one block.
#[derive(Clone, Debug, PartialEq)]
pub enum Submission {
    /// A public transaction, into the mempool.
    Tx(TxRequest),
    /// A private bundle for `target_block`, straight to the builder.
    Bundle {
        items: Vec<BundleRequest>,
        target_block: u64,
    },
    /// Withdraw one of the agent's own pending public transactions.
    Cancel(TxId),
    /// A market order of `base` units of `asset` on its off-chain reference market, executed
    /// at once (no gas, no mempool) at the book's average price, impact and taker fee
    /// included; a buy is limited to the agent's quote balance, a sale to its holding. Ignored
    /// for an asset without a reference market.
    OffChain {
        asset: AssetId,
        side: Side,
        base: Amount,
    },
}

/// A decision maker. Implementations hold their own state and their own random stream.
pub trait Agent: Send {
    /// The agent's kind, for metrics.
    fn role(&self) -> Role;
    /// The wallet that pays gas and trades.
    fn holder(&self) -> HolderId;
    /// A short label for traces (e.g. `arbitrageur-0`); borrowed where the agent keeps one,
    /// computed where keeping a string per agent would cost more than the label (traders).
    fn label(&self) -> std::borrow::Cow<'_, str>;
    /// Whether the agent sees the public mempool.
    fn watches_mempool(&self) -> bool {
        false
    }
    /// Whether the agent offsets each of its venue trades on the off-chain reference market
    /// at `p_ref` right after it lands (a CEX-DEX arbitrageur's hedge), so that its inventory
    /// stays where it started.
    fn hedges_off_chain(&self) -> bool {
        false
    }
    /// A market maker's public book-keeping, which a reference market's depth rule reads
    /// (inventory and losses). Default: the agent is no market maker.
    fn maker_book(&self) -> Option<MakerBook> {
        None
    }
    /// Ask the processor for the memory that `act` will read first beyond the agent itself
    /// (its position's state, its account), a few turns before its visit: a hint, which
    /// changes no value (`cascade_core::prefetch`). Default: nothing.
    fn prefetch(&self, engine: Option<&cascade_engine::Engine>) {
        let _ = engine;
    }
    /// Observe and decide. `me` is this agent's id (its own transactions carry it).
    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>);
    /// Under the event schedule, asked after each `act`: `Some(t)` puts the agent to sleep
    /// until the first block whose end time reaches `t` (infinite: for good); `None` (the
    /// default) has it act again next block.
    fn next_wake(&self) -> Option<f64> {
        None
    }
    /// Under the event schedule with `chain.holders_sleep`, asked after `next_wake` gave a
    /// time: what else wakes the agent (its account written, its asset's price leaving a
    /// band). Default: nothing.
    fn holder_watch(&self) -> Option<HolderWatch> {
        None
    }
    /// Under the event schedule, asked after `next_wake` gave a time: whether the agent also
    /// wakes in the first block after its last pending transaction leaves the mempool
    /// (included, expired or pulled into a bundle). Default: no.
    fn wakes_when_settled(&self) -> bool {
        false
    }
    /// A sealed bid in an oracle order-flow auction for the right to backrun `lot` (an oracle
    /// update in `oev_auction` mode), from the agent's own valuation; called before `act` in
    /// the block of the update, on the same public state. Default: no bid.
    fn oev_bid(&mut self, view: &View<'_>, lot: &OevLot<'_>) -> Option<OevBid> {
        let _ = (view, lot);
        None
    }
}
