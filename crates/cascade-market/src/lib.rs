//! cascade-market: everything a margin engine stands on but does not control.
//!
//! Exogenous prices and the price impact of forced sales, the gas market (EIP-1559 base fee,
//! background demand, the public mempool, private bundles and the block builder), oracles that
//! observe the market with latency and noise and must get their updates included, and the
//! venues (a constant-product pool and a limit order book) where agents trade. The crate is
//! pure: no IO, no configuration files, no command line; the simulator wires it together.

pub mod gas;
pub mod mempool;
pub mod oracle;
pub mod price;
pub mod venue;

/// Seconds in the year used to annualize rates and volatilities (365 days).
pub const SECONDS_PER_YEAR: f64 = 31_536_000.0;
