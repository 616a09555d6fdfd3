//! cascade-core: the vocabulary every other crate speaks.
//!
//! It exists so that the market, the engine, the agents and the simulator agree on what an
//! amount, a holder, a transaction and a random stream are, without depending on each other.
//! Nothing here does IO; nothing here knows about configuration files or the command line.

pub mod amount;
pub mod check;
pub mod clock;
pub mod event;
pub mod ids;
pub mod ledger;
pub mod math;
pub mod name;
pub mod prefetch;
pub mod rng;
pub mod tx;

pub use amount::{Amount, SCALE};
pub use check::{Check, ConfigIssue};
pub use ids::{
    AccountId, AgentId, AssetId, AuctionId, FeedId, HolderId, OrderId, TokenId, TxId, VenueId,
};
pub use ledger::{Ledger, LedgerError};
pub use name::Name;
pub use rng::{SimRng, StreamSeed};
pub use tx::{Action, Bundle, BundleItem, EngineOp, GasKind, Side, Tx};
