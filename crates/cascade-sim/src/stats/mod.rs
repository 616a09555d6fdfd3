//! Statistics that use a sweep's design: bootstrap intervals, paired comparisons with a
//! baseline point, and false-discovery-rate control over many comparisons.
//!
//! A sweep's points share common random numbers (run `r` of every point sees the same shocks),
//! and loss metrics are zero in most runs and large in a few. Normal-theory intervals
//! (mean ± 1.96 se) ignore both: they cross zero for a non-negative metric and compare points
//! as if their runs were independent. This module holds the pure functions that replace them:
//! percentile bootstrap intervals over runs ([`bootstrap`]), paired differences with a sign-flip
//! permutation test ([`paired`]) and Benjamini-Hochberg q-values ([`bh`]). Every random draw
//! comes from a named ChaCha8 stream of the sweep's master seed ([`rng`]), so a store's
//! aggregates are the same bytes on every machine, thread count and resume.

pub mod bh;
pub mod bootstrap;
pub mod paired;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Bootstrap resamples (and Monte Carlo sign flips) per interval and test.
pub const RESAMPLES: usize = 2000;
/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;
/// The stream of the bootstrap resamples of point `p` (index `p`).
pub const STREAM_BOOTSTRAP: &str = "bootstrap";
/// The stream of the paired bootstrap of point `p` against the baseline (index `p`).
pub const STREAM_PAIRED: &str = "paired_bootstrap";
/// The stream of the Monte Carlo sign flips of point `p` (index `p`).
pub const STREAM_SIGN_FLIP: &str = "sign_flip";
/// Runs below which a p95 is marked unreliable: `20 / (1 - 0.95)`.
pub const P95_MIN_RUNS: u64 = 400;
/// Runs below which a p99 is marked unreliable: `20 / (1 - 0.99)`.
pub const P99_MIN_RUNS: u64 = 2000;

/// The generator of stream `name`, index `index`, of the master seed `seed` (a statistics
/// stream: it never touches a run's streams, which derive from the run seed).
pub fn rng(seed: u64, name: &str, index: u32) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(cascade_core::rng::stream_id(name, index));
    r
}

/// Whether the `q`-quantile of `n` runs is reliable: at least 20 runs expected beyond it,
/// `n (1 - q) >= 20` (p95: 400 runs, p99: 2000).
pub fn tail_reliable(n: u64, q: f64) -> bool {
    (n as f64) * (1.0 - q) >= 20.0 - 1e-9
}
