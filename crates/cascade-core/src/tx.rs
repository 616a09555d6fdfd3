//! Transactions: what agents (and oracle publishers) ask the chain to do.
//!
//! Every action in cascade that touches on-chain state is a transaction that must be included
//! in a block: swaps, order-book quotes, oracle publications, and (with the engine) opens,
//! deposits, liquidations and auction bids. A transaction carries EIP-1559 fee fields (a gas
//! limit, a max fee and a max priority fee, in wei per gas) and waits in the public mempool, or
//! travels privately inside a bundle, until a builder includes it. Actions are plain data (ids
//! and amounts) so that this crate needs no knowledge of venues or the engine.

use crate::amount::Amount;
use crate::ids::{
    AccountId, AgentId, AssetId, AuctionId, FeedId, HolderId, TokenId, TxId, VenueId,
};
use serde::{Deserialize, Serialize};

/// The taker's side, for the risky (base) asset: `Buy` pays quote and receives base; `Sell`
/// pays base and receives quote.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// The gas-cost class of a transaction (`gas.costs.<kind>` in the configuration).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GasKind {
    Liquidation,
    Swap,
    OracleUpdate,
    Open,
    Close,
    Deposit,
    Bid,
    Order,
    Cancel,
}

impl GasKind {
    pub const ALL: [GasKind; 9] = [
        GasKind::Liquidation,
        GasKind::Swap,
        GasKind::OracleUpdate,
        GasKind::Open,
        GasKind::Close,
        GasKind::Deposit,
        GasKind::Bid,
        GasKind::Order,
        GasKind::Cancel,
    ];

    /// The configuration name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            GasKind::Liquidation => "liquidation",
            GasKind::Swap => "swap",
            GasKind::OracleUpdate => "oracle_update",
            GasKind::Open => "open",
            GasKind::Close => "close",
            GasKind::Deposit => "deposit",
            GasKind::Bid => "bid",
            GasKind::Order => "order",
            GasKind::Cancel => "cancel",
        }
    }
}

/// One price level of an order-book quote: `size` base units at `ticks` times the book's tick.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub ticks: u64,
    pub size: Amount,
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Trade on a venue: `amount_in` of base (for `Sell`) or of quote (for `Buy`); revert if
    /// the output would be below `min_out` (the slippage limit).
    Swap {
        venue: VenueId,
        side: Side,
        amount_in: Amount,
        min_out: Amount,
    },
    /// Replace all of the sender's resting orders on an order book with these ladders.
    /// Post-only: a level that would cross the opposite best price is skipped, so the book
    /// never crosses; levels the sender cannot fund are skipped too.
    Quote {
        venue: VenueId,
        bids: Vec<Level>,
        asks: Vec<Level>,
    },
    /// Cancel all of the sender's resting orders on an order book.
    CancelAll { venue: VenueId },
    /// An oracle feed's publication of a new price.
    OracleUpdate { feed: FeedId, price: f64 },
    /// An operation on the margin engine.
    Engine(EngineOp),
}

/// What a transaction asks the margin engine to do. Amounts are base units of the token named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EngineOp {
    /// Open (or, in cross margin, add to) a borrowing position: deposit `collateral` of
    /// `asset` from the wallet and borrow `borrow` quote into it. Reverts if the account would
    /// break its initial margin.
    Borrow {
        asset: AssetId,
        collateral: Amount,
        borrow: Amount,
    },
    /// Open (or add to) a perpetual position of signed `size` (base units, positive = long) at
    /// the oracle price, depositing `margin` quote from the wallet.
    PerpOpen {
        asset: AssetId,
        size: Amount,
        margin: Amount,
    },
    /// Add collateral (a top-up): `amount` of `token` from the wallet into `account`.
    Deposit {
        account: AccountId,
        token: TokenId,
        amount: Amount,
    },
    /// Close `account`: repay its debt from the wallet, settle its perps at the oracle price,
    /// and withdraw everything left.
    Close { account: AccountId },
    /// Liquidate `account` (or, in auction mode, start its auction). With `sell_on`, the
    /// seized collateral is sold on that venue inside the transaction (a flash liquidation)
    /// and the liquidator pays the debt from the proceeds; the transaction reverts unless the
    /// liquidator keeps at least `min_profit` quote.
    Liquidate {
        account: AccountId,
        sell_on: Option<VenueId>,
        min_profit: Amount,
    },
    /// Buy up to `max_lot` collateral from a running auction at no more than `max_price`
    /// (quote per whole unit); with `sell_on`, sold on that venue inside the transaction.
    Take {
        auction: AuctionId,
        max_lot: Amount,
        max_price: f64,
        sell_on: Option<VenueId>,
    },
    /// Restart an auction whose price ran past its tail or cusp.
    Redo { auction: AuctionId },
    /// English auction, first phase: bid `bid` quote for the whole lot (paid now; the
    /// outbid bidder is refunded). Must beat the standing bid by the engine's `beg`, or equal
    /// the tab, and not exceed the tab.
    Tend { auction: AuctionId, bid: Amount },
    /// English auction, second phase (the bid has reached the tab): pay the tab for only
    /// `lot` of the collateral, at most the standing lot over `1 + beg`; the rest goes back to
    /// the account.
    Dent { auction: AuctionId, lot: Amount },
    /// Settle an English auction that is over: the lot to the winner, the bid to the debt.
    Deal { auction: AuctionId },
    /// Intent-based liquidation (`engine.intents`): post a standing commitment to buy
    /// liquidations of up to `size` quote of notional at `discount` (a fraction of the
    /// notional, below the public bonus) for `duration_s` seconds, locking `size` quote from
    /// the wallet in the engine's intent escrow. The engine routes each liquidation to the
    /// best live commitment before the public race.
    Commit {
        discount: f64,
        size: Amount,
        duration_s: f64,
    },
    /// Withdraw the sender's live commitment `commitment`: its locked quote returns.
    Withdraw { commitment: u32 },
    /// Buy (`size > 0`) or sell (`size < 0`) contracts of listed option series `series` from
    /// the engine's book at its mark plus or minus the spread, depositing `margin` quote from
    /// the wallet. Reverts if the account would break its initial margin.
    OptionTrade {
        series: u32,
        size: Amount,
        margin: Amount,
    },
    /// An options market maker posts (or replaces) its quotes on every live series of
    /// `asset`: it buys at `mark * (1 - half_spread)` and sells at `mark * (1 + half_spread)`,
    /// up to `bid_size` / `ask_size` contracts in all until its next quote (zero sizes: the
    /// quotes are pulled). `margin` quote moves from the wallet into its account (created if
    /// absent).
    OptionQuote {
        asset: AssetId,
        half_spread: f64,
        bid_size: Amount,
        ask_size: Amount,
        margin: Amount,
    },
}

impl EngineOp {
    /// Liquidation work: a liquidation or kick and every auction operation (counted in
    /// `failed_liquidation_txs` when it reverts).
    pub fn is_liquidation(&self) -> bool {
        matches!(
            self,
            EngineOp::Liquidate { .. }
                | EngineOp::Take { .. }
                | EngineOp::Redo { .. }
                | EngineOp::Tend { .. }
                | EngineOp::Dent { .. }
                | EngineOp::Deal { .. }
        )
    }

    pub fn gas_kind(&self) -> GasKind {
        match self {
            EngineOp::Borrow { .. } | EngineOp::PerpOpen { .. } | EngineOp::OptionTrade { .. } => {
                GasKind::Open
            }
            EngineOp::Deposit { .. }
            | EngineOp::OptionQuote { .. }
            | EngineOp::Commit { .. }
            | EngineOp::Withdraw { .. } => GasKind::Deposit,
            EngineOp::Close { .. } => GasKind::Close,
            EngineOp::Liquidate { .. } => GasKind::Liquidation,
            EngineOp::Take { .. }
            | EngineOp::Redo { .. }
            | EngineOp::Tend { .. }
            | EngineOp::Dent { .. }
            | EngineOp::Deal { .. } => GasKind::Bid,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            EngineOp::Borrow { .. } => "borrow",
            EngineOp::PerpOpen { .. } => "perp_open",
            EngineOp::Deposit { .. } => "deposit",
            EngineOp::Close { .. } => "close",
            EngineOp::Liquidate { .. } => "liquidate",
            EngineOp::Take { .. } => "take",
            EngineOp::Redo { .. } => "redo",
            EngineOp::Tend { .. } => "tend",
            EngineOp::Dent { .. } => "dent",
            EngineOp::Deal { .. } => "deal",
            EngineOp::OptionTrade { .. } => "option_trade",
            EngineOp::OptionQuote { .. } => "option_quote",
            EngineOp::Commit { .. } => "commit",
            EngineOp::Withdraw { .. } => "withdraw",
        }
    }
}

impl Action {
    pub fn gas_kind(&self) -> GasKind {
        match self {
            Action::Swap { .. } => GasKind::Swap,
            Action::Quote { .. } => GasKind::Order,
            Action::CancelAll { .. } => GasKind::Cancel,
            Action::OracleUpdate { .. } => GasKind::OracleUpdate,
            Action::Engine(op) => op.gas_kind(),
        }
    }

    /// A short name for traces.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Swap { .. } => "swap",
            Action::Quote { .. } => "quote",
            Action::CancelAll { .. } => "cancel_all",
            Action::OracleUpdate { .. } => "oracle_update",
            Action::Engine(op) => op.name(),
        }
    }
}

/// What an agent asks for; the World turns it into a [`Tx`] by adding the sender, an id and the
/// arrival sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxRequest {
    pub action: Action,
    pub gas_limit: u64,
    /// Max fee per gas, in wei.
    pub max_fee: u128,
    /// Max priority fee (tip) per gas, in wei.
    pub priority_fee: u128,
    /// Liquidation-originated flow: counted by the price-impact channel.
    pub forced: bool,
}

/// A transaction as the chain sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tx {
    pub id: TxId,
    /// The holder that pays gas and trades.
    pub sender: HolderId,
    pub agent: AgentId,
    pub action: Action,
    pub gas_limit: u64,
    pub max_fee: u128,
    pub priority_fee: u128,
    pub forced: bool,
    /// Block in which it was submitted.
    pub submitted_block: u64,
    /// Arrival sequence number (global within a run): ties in priority fee go to the earlier.
    pub seq: u64,
}

impl Tx {
    /// The tip per gas this transaction pays at `base_fee`: `min(priority_fee, max_fee -
    /// base_fee)`, or `None` when `max_fee < base_fee` (it cannot be included yet).
    #[inline]
    pub fn effective_priority(&self, base_fee: u128) -> Option<u128> {
        if self.max_fee < base_fee {
            None
        } else {
            Some(self.priority_fee.min(self.max_fee - base_fee))
        }
    }
}

/// An element of a bundle: a transaction of the bundle's author, or a pending public
/// transaction of someone else (e.g. an oracle update to backrun) pulled from the mempool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BundleItem {
    Own(Tx),
    Pending(TxId),
}

/// A private, atomic, ordered list of transactions for one target block (Flashbots-like):
/// included whole at the top of the block, or not at all; never seen in the public mempool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    pub agent: AgentId,
    pub items: Vec<BundleItem>,
    pub target_block: u64,
    pub seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(max_fee: u128, prio: u128) -> Tx {
        Tx {
            id: TxId(0),
            sender: HolderId(0),
            agent: AgentId(0),
            action: Action::CancelAll { venue: VenueId(0) },
            gas_limit: 1,
            max_fee,
            priority_fee: prio,
            forced: false,
            submitted_block: 0,
            seq: 0,
        }
    }

    #[test]
    fn effective_priority_follows_eip1559() {
        assert_eq!(tx(100, 5).effective_priority(90), Some(5));
        assert_eq!(tx(100, 50).effective_priority(90), Some(10));
        assert_eq!(tx(100, 50).effective_priority(101), None);
    }
}
