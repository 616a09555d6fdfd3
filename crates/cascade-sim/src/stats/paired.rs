//! Paired comparisons of two sweep points on the same seeds: run `r` of both points saw the
//! same shocks, so the difference `d_r = x_r - b_r` removes the variance the points share.
//!
//! The interval is the percentile bootstrap of the mean difference, resampling run indices
//! (one index picks both runs of a pair). The p-value is the paired sign-flip permutation
//! test of `H0: d` is symmetric about zero (Fisher 1935; the permutation form of the paired
//! t-test): the statistic is `|sum d_r|`, and under `H0` every assignment of signs to the
//! non-zero differences is equally likely. With at most [`EXACT_FLIPS`] non-zero differences
//! all `2^k` assignments are enumerated (exact p-value); beyond, `B` random assignments give
//! `p = (1 + #{|sum s_r d_r| >= |sum d_r|}) / (B + 1)`, which is never zero and is a valid
//! p-value (Phipson and Smyth 2010).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Up to this many non-zero differences the sign-flip test is exact (2^16 assignments).
pub const EXACT_FLIPS: usize = 16;

/// `x - base`, run by run (same length: the same run indices).
pub fn differences(x: &[f64], base: &[f64]) -> Vec<f64> {
    debug_assert_eq!(x.len(), base.len());
    x.iter().zip(base).map(|(a, b)| a - b).collect()
}

/// The two-sided sign-flip p-value of the differences `d` (`b` random assignments from `rng`
/// when there are more than [`EXACT_FLIPS`] non-zero ones). All zero: 1. A NaN: NaN.
pub fn sign_flip_p(d: &[f64], b: usize, rng: &mut ChaCha8Rng) -> f64 {
    if d.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let nz: Vec<f64> = d.iter().copied().filter(|v| *v != 0.0).collect();
    let k = nz.len();
    if k == 0 {
        return 1.0;
    }
    let obs = nz.iter().sum::<f64>().abs();
    // Sums equal in exact arithmetic may differ in their last bits.
    let tol = 1e-9 * nz.iter().map(|v| v.abs()).sum::<f64>();
    let at_least = |s: f64| s.abs() >= obs - tol;
    if k <= EXACT_FLIPS {
        let mut count = 0u64;
        for mask in 0u32..(1u32 << k) {
            let s: f64 = nz
                .iter()
                .enumerate()
                .map(|(i, v)| if mask >> i & 1 == 1 { -v } else { *v })
                .sum();
            if at_least(s) {
                count += 1;
            }
        }
        return count as f64 / (1u64 << k) as f64;
    }
    let mut count = 0u64;
    for _ in 0..b {
        let mut s = 0.0;
        let mut bits = 0u64;
        for (i, v) in nz.iter().enumerate() {
            if i % 64 == 0 {
                bits = rng.random::<u64>();
            }
            s += if bits >> (i % 64) & 1 == 1 { -v } else { *v };
        }
        if at_least(s) {
            count += 1;
        }
    }
    (1 + count) as f64 / (b + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Z95, metric_agg};
    use crate::stats::{bootstrap::mean_intervals, rng};

    #[test]
    fn every_differing_run_on_one_side_is_significant_exactly() {
        // 13 of 40 runs differ, all lower: the exact p-value is 2 / 2^13.
        let mut d = vec![0.0; 40];
        for (i, v) in d.iter_mut().enumerate().take(13) {
            *v = -1.0 - i as f64 * 0.1;
        }
        let mut r = rng(1, "test", 0);
        assert_eq!(sign_flip_p(&d, 100, &mut r), 2.0 / 8192.0);
        assert_eq!(sign_flip_p(&[0.0; 5], 100, &mut r), 1.0);
        // One run up, one down, equal sizes: every assignment is as extreme.
        assert_eq!(sign_flip_p(&[1.0, -1.0], 100, &mut r), 1.0);
    }

    #[test]
    fn monte_carlo_p_values_agree_with_the_exact_ones() {
        // 16 non-zero differences: the exact p; perturb to 17 by adding a tiny one and use
        // the Monte Carlo path, which must agree within its sampling error.
        let d: Vec<f64> = (0..16)
            .map(|i| {
                if i % 3 == 0 {
                    -0.5
                } else {
                    1.0 + i as f64 * 0.01
                }
            })
            .collect();
        let mut r = rng(2, "test", 0);
        let exact = sign_flip_p(&d, 0, &mut r);
        let mut d17 = d.clone();
        d17.push(1e-12);
        let mc = sign_flip_p(&d17, 20_000, &mut r);
        let sd = (exact * (1.0 - exact) / 20_000.0).sqrt();
        assert!((mc - exact).abs() < 4.0 * sd + 1e-4, "{mc} vs {exact}");
        assert!(exact > 0.0 && exact < 0.1, "{exact}");
    }

    #[test]
    fn pairing_finds_what_an_unpaired_comparison_cannot() {
        // Constructed: the runs differ wildly (common shocks), the treatment adds 1 +- 0.2 to
        // every run. Unpaired, the difference of means lies well inside 1.96 combined standard
        // errors; paired, its interval excludes zero and the test rejects.
        let base: Vec<f64> = (0..30).map(|i| ((i * 37) % 30) as f64 * 100.0).collect();
        let x: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(i, b)| b + 1.0 + 0.2 * ((i % 5) as f64 - 2.0) / 2.0)
            .collect();
        let (ax, ab) = (metric_agg(&x), metric_agg(&base));
        let diff = ax.mean - ab.mean;
        let unpaired_half = Z95 * (ax.se * ax.se + ab.se * ab.se).sqrt();
        assert!(
            diff > 0.0 && diff < unpaired_half,
            "{diff} vs {unpaired_half}"
        );
        let d = differences(&x, &base);
        let mut r = rng(4, "test", 0);
        let ci = mean_intervals(std::slice::from_ref(&d), 2000, 0.95, &mut r)[0];
        assert!(ci.0 > 0.5 && ci.1 < 1.5, "{ci:?}");
        let p = sign_flip_p(&d, 2000, &mut r);
        assert!(p < 0.001, "{p}");
    }
}
