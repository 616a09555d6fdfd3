//! Agents on a clock, not on a block: every agent rate is a number of events per hour and
//! every delay a number of seconds, so that changing the block time changes only the
//! discretisation, not the behaviour.
//!
//! A rate `r` per hour fires in a block of actual length `dt_s` with probability
//! `1 - exp(-r * dt_s / 3600)` (a Poisson clock sampled once per block; exponential block
//! times included, since `dt_s` is the block's own interval). A delay of `d` seconds after an
//! event at time `t` elapses at the first block whose end time is at least `t + d`.
//!
//! The old per-block keys are rejected by `legacy_rate` / `legacy_delay` with the conversion
//! at the scenario's block time: `rate = -ln(1 - p) * 3600 / block_time_s` and
//! `delay_s = blocks * block_time_s`.

use crate::Check;

/// The probability that a Poisson clock of `rate_per_hour` fires during `dt_s` seconds.
pub fn per_block_prob(rate_per_hour: f64, dt_s: f64) -> f64 {
    if rate_per_hour == f64::INFINITY {
        return 1.0;
    }
    -(-rate_per_hour * dt_s / 3600.0).exp_m1()
}

/// The rate per hour whose probability over one block of `block_time_s` is `p`.
pub fn rate_from_prob(p: f64, block_time_s: f64) -> f64 {
    if p >= 1.0 {
        return f64::INFINITY;
    }
    -(-p).ln_1p() * 3600.0 / block_time_s
}

/// A rate per hour: `>= 0` (`inf` is allowed: the event fires every block).
pub fn check_rate(c: &mut Check, key: &str, v: f64) {
    if v.is_nan() || v < 0.0 {
        c.fail(key, format!("must be >= 0 events per hour (got {v})"));
    }
}

/// A delay in seconds: finite and `>= 0`.
pub fn check_delay(c: &mut Check, key: &str, v: f64) {
    c.non_negative(key, v);
}

/// Reject a per-block probability key that was replaced by a rate per hour, giving the
/// conversion at `block_time_s`.
pub fn legacy_rate(c: &mut Check, old: &str, new: &str, p: Option<f64>, block_time_s: f64) {
    if let Some(p) = p {
        let r = rate_from_prob(p, block_time_s);
        c.fail(
            old,
            format!(
                "`{old}` (per block) was replaced by `{new}` (events per hour): at \
                 {block_time_s} s blocks, {p} per block is -ln(1 - {p}) * 3600 / \
                 {block_time_s} = {r} per hour"
            ),
        );
    }
}

/// Reject a block-count delay key that was replaced by seconds, giving the conversion.
pub fn legacy_delay(c: &mut Check, old: &str, new: &str, n: Option<f64>, block_time_s: f64) {
    if let Some(n) = n {
        c.fail(
            old,
            format!(
                "`{old}` (blocks) was replaced by `{new}` (seconds): at {block_time_s} s \
                 blocks, {n} blocks is {n} * {block_time_s} = {} s",
                n * block_time_s
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn conversion_round_trips_at_the_block_time() {
        for bt in [2.0, 12.0, 30.0] {
            for p in [0.0, 1e-4, 0.002, 0.05, 0.2, 0.9] {
                let back = per_block_prob(rate_from_prob(p, bt), bt);
                assert!((back - p).abs() <= 1e-15, "p {p} bt {bt}: {back}");
            }
        }
        assert_eq!(per_block_prob(f64::INFINITY, 12.0), 1.0);
        assert_eq!(rate_from_prob(1.0, 12.0), f64::INFINITY);
    }

    /// Expected events per hour do not depend on the block time: a clock of 2 events per
    /// hour sampled over 5000 hours at 2, 12 and 30 s blocks (fixed and exponential
    /// intervals); each count is within 4 standard errors of `rate * hours` = 10000 (a
    /// Poisson count's standard error is its square root, 100). What remains is
    /// discretisation: at most one event per block, a relative shortfall of about
    /// `rate * dt / 2` (0.8% at 30 s, under one standard error here).
    #[test]
    fn events_per_hour_are_invariant_to_the_block_time() {
        let rate: f64 = 2.0;
        let hours = 5000.0;
        let expected = rate * hours;
        let se = expected.sqrt();
        for bt in [2.0, 12.0, 30.0] {
            for exponential in [false, true] {
                let mut rng = SimRng::seed_from_u64(7 + bt as u64);
                let (mut t, mut n) = (0.0, 0u64);
                while t < hours * 3600.0 {
                    let dt = if exponential {
                        let u: f64 = rng.random();
                        -(1.0 - u).ln() * bt
                    } else {
                        bt
                    };
                    t += dt;
                    let u: f64 = rng.random();
                    n += (u < per_block_prob(rate, dt)) as u64;
                }
                let z = (n as f64 - expected) / se;
                assert!(
                    z.abs() < 4.0,
                    "bt {bt} exp {exponential}: {n} events, expected {expected} +- {se:.0}"
                );
            }
        }
    }
}
