//! Events: the record of what happened in a run, block by block.
//!
//! The World appends events when tracing is on (replay, `--trace`); otherwise it records
//! nothing and pays nothing. Events are plain data in the units of the ledger (amounts in base
//! units, prices in quote per whole base token, gas prices in wei per gas).

use crate::amount::Amount;
use crate::ids::{AccountId, AgentId, FeedId, HolderId, TxId, VenueId};
use crate::tx::{GasKind, Side};
use serde::{Deserialize, Serialize};

/// Why a transaction reverted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Revert {
    Slippage,
    InsufficientFunds,
    InvalidVenue,
    NoLiquidity,
    OutOfGas,
    Other(String),
}

impl Revert {
    pub fn as_str(&self) -> &str {
        match self {
            Revert::Slippage => "slippage",
            Revert::InsufficientFunds => "insufficient_funds",
            Revert::InvalidVenue => "invalid_venue",
            Revert::NoLiquidity => "no_liquidity",
            Revert::OutOfGas => "out_of_gas",
            Revert::Other(s) => s,
        }
    }
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A transaction was included (and executed, or reverted) in `block`.
    TxIncluded {
        block: u64,
        tx: TxId,
        agent: AgentId,
        sender: HolderId,
        kind: GasKind,
        gas_used: u64,
        /// Gas price paid (base fee + tip), wei per gas.
        gas_price: u128,
        /// Total fee paid, in quote base units.
        fee: Amount,
        revert: Option<Revert>,
        private: bool,
    },
    /// A transaction left the mempool unincluded after its time to live.
    TxExpired {
        block: u64,
        tx: TxId,
        agent: AgentId,
    },
    /// A trade on a venue.
    Swap {
        block: u64,
        tx: TxId,
        venue: VenueId,
        trader: HolderId,
        side: Side,
        amount_in: Amount,
        amount_out: Amount,
        price_after: f64,
        forced: bool,
    },
    /// An oracle feed's publication landed on chain.
    OracleUpdate {
        block: u64,
        feed: FeedId,
        price: f64,
    },
    /// A margin-engine step: a liquidation, an auction kick/take/redo, a waterfall step, a
    /// breaker trip, a backstop absorption. `amount` is in quote base units (the debt repaid,
    /// the loss covered ...), `value` a price or a count, `detail` the rest in words.
    Engine {
        block: u64,
        kind: String,
        account: Option<AccountId>,
        actor: Option<HolderId>,
        amount: Amount,
        value: f64,
        detail: String,
    },
}
