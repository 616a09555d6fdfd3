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
    /// The engine's own check found an account liquidatable for the first time since it
    /// opened or since a liquidation last left it healthy (a bounce back above the threshold
    /// does not reset it). `oracle_price` is the engine's price of `asset` (its largest perp,
    /// else its largest collateral), `health` its maintenance health (quote; negative:
    /// liquidatable).
    AccountFlagged {
        block: u64,
        account: AccountId,
        asset: usize,
        oracle_price: f64,
        health: f64,
    },
    /// A position opened or grown on an engine account: a perp (`size` signed base units) or
    /// a borrow (`size` the collateral deposited). `entry_price` is the price it was entered
    /// at (quote per whole base unit); `leverage` the position's notional over the account's
    /// equity after the operation, at the engine's prices.
    PositionOpened {
        block: u64,
        account: AccountId,
        owner: HolderId,
        kind: String,
        asset: usize,
        entry_price: f64,
        size: Amount,
        leverage: f64,
    },
    /// A liquidation (or the kick of an auction): `notional` is the collateral seized plus
    /// the perp notional closed (plus the delta hedge of closed option books), valued at the
    /// market price `p_ref` of the moment, in quote base units; the delay runs from the
    /// account's first flag (see `AccountFlagged`); `generation` is the cascade generation
    /// as known at the block (0: exogenous now; the final one comes in
    /// `LiquidationGeneration` rows at the end of the run); `cause` is `exogenous` or
    /// `not_exogenous_yet`.
    Liquidation {
        block: u64,
        account: AccountId,
        liquidator: HolderId,
        notional: Amount,
        delay_blocks: u64,
        delay_s: f64,
        generation: u32,
        cause: String,
    },
    /// The final cascade generation of the liquidation of `account` at `liquidation_block`,
    /// written once per liquidation in the last block of the run.
    LiquidationGeneration {
        block: u64,
        account: AccountId,
        liquidation_block: u64,
        notional: Amount,
        generation: u32,
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
