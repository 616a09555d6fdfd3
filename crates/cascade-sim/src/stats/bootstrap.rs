//! The nonparametric bootstrap over runs: percentile intervals of means and bootstrap
//! standard errors.
//!
//! A resample draws `n` run indices uniformly with replacement (`random_range(0..n)` of the
//! caller's ChaCha8 stream); every column is averaged over the same indices, so the metrics of
//! a point (or the differences of a paired comparison) are resampled together, run by run.
//! The percentile interval at level `1 - a` is the `a/2` and `1 - a/2` quantiles of the `B`
//! resample means (Efron and Tibshirani 1993, ch. 13), with the same linear interpolation as
//! the p95. Each bound is a mean of observed values, so the interval of a non-negative metric
//! never goes below zero, and it follows the skew of a metric that is zero in most runs.

use crate::summary::quantile_sorted;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Fill `idx` with `n` indices drawn uniformly from `0..n` with replacement.
pub fn resample(n: usize, rng: &mut ChaCha8Rng, idx: &mut Vec<usize>) {
    idx.clear();
    idx.extend((0..n).map(|_| rng.random_range(0..n)));
}

/// Percentile intervals at `level` of the mean of each column (all of length `n`), from `b`
/// resamples of the rows. A column holding a NaN, or no rows, gets `(NaN, NaN)`.
pub fn mean_intervals(
    cols: &[Vec<f64>],
    b: usize,
    level: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<(f64, f64)> {
    let n = cols.first().map_or(0, |c| c.len());
    let nan = (f64::NAN, f64::NAN);
    if n == 0 || b == 0 {
        return vec![nan; cols.len()];
    }
    let live: Vec<bool> = cols.iter().map(|c| c.iter().all(|v| !v.is_nan())).collect();
    let mut means: Vec<Vec<f64>> = cols
        .iter()
        .zip(&live)
        .map(|(_, l)| {
            if *l {
                Vec::with_capacity(b)
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut idx = Vec::with_capacity(n);
    for _ in 0..b {
        resample(n, rng, &mut idx);
        for (c, col) in cols.iter().enumerate() {
            if live[c] {
                let s: f64 = idx.iter().map(|&i| col[i]).sum();
                means[c].push(s / n as f64);
            }
        }
    }
    let a = (1.0 - level) / 2.0;
    means
        .iter_mut()
        .zip(&live)
        .map(|(m, l)| {
            if !*l {
                return nan;
            }
            m.sort_by(|x, y| x.total_cmp(y));
            (quantile_sorted(m, a), quantile_sorted(m, 1.0 - a))
        })
        .collect()
}

/// The bootstrap standard error of a statistic of `n` observations: the sample standard
/// deviation (divisor `b - 1`) of `stat` over `b` resamples (`stat` gets the indices).
pub fn standard_error(
    n: usize,
    b: usize,
    rng: &mut ChaCha8Rng,
    mut stat: impl FnMut(&[usize]) -> f64,
) -> f64 {
    let mut idx = Vec::with_capacity(n);
    let vals: Vec<f64> = (0..b)
        .map(|_| {
            resample(n, rng, &mut idx);
            stat(&idx)
        })
        .collect();
    let mean = vals.iter().sum::<f64>() / b as f64;
    (vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (b - 1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rng;

    /// The law school data: average LSAT and GPA of the 1973 entering classes of 15 American
    /// law schools (Efron and Tibshirani 1986, Statistical Science 1(1), 54-77, table 1; also
    /// Efron and Tibshirani 1993, table 3.1).
    const LSAT: [f64; 15] = [
        576., 635., 558., 578., 666., 580., 555., 661., 651., 605., 653., 575., 545., 572., 594.,
    ];
    const GPA: [f64; 15] = [
        3.39, 3.30, 2.81, 3.03, 3.44, 3.07, 3.00, 3.43, 3.36, 3.13, 3.12, 2.74, 2.76, 2.88, 2.96,
    ];

    fn corr(idx: &[usize]) -> f64 {
        let n = idx.len() as f64;
        let mx = idx.iter().map(|&i| LSAT[i]).sum::<f64>() / n;
        let my = idx.iter().map(|&i| GPA[i]).sum::<f64>() / n;
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for &i in idx {
            let (dx, dy) = (LSAT[i] - mx, GPA[i] - my);
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        sxy / (sxx * syy).sqrt()
    }

    #[test]
    fn law_school_correlation_standard_error_matches_efron_and_tibshirani() {
        let all: Vec<usize> = (0..15).collect();
        // The sample correlation, as published: 0.776.
        assert!((corr(&all) - 0.776).abs() < 5e-4, "{}", corr(&all));
        // Efron and Tibshirani (1986), section 2: bootstrap standard error 0.127 from
        // B = 1000 resamples. A B = 1000 estimate has a Monte Carlo standard deviation of
        // about se / sqrt(2 B) = 0.003, so the published figure is the ideal bootstrap value
        // within about 0.009 (3 sd); with B = 20000 ours has a Monte Carlo sd of 0.0007.
        let mut r = rng(1, "test", 0);
        let se = standard_error(15, 20_000, &mut r, corr);
        assert!((se - 0.127).abs() < 0.009, "bootstrap se {se}");
        // Measured: printed so the docs can quote it.
        eprintln!("law school bootstrap se (B = 20000): {se:.4}");
    }

    #[test]
    fn the_bootstrap_variance_of_a_mean_is_the_plug_in_variance_over_n() {
        // Exactly computable: the ideal bootstrap variance of the mean is
        // sum (x - xbar)^2 / n^2.
        let x = [0.0, 0.0, 0.0, 1.0, 5.0, 0.0, 2.0, 0.0, 30.0, 0.0];
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let ideal = (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n * n)).sqrt();
        let mut r = rng(3, "test", 1);
        let se = standard_error(x.len(), 40_000, &mut r, |idx| {
            idx.iter().map(|&i| x[i]).sum::<f64>() / n
        });
        // Monte Carlo sd of the estimate: about ideal / sqrt(2 B) x sqrt(kurtosis factor),
        // under 1.5% here; 5% tolerance.
        assert!((se / ideal - 1.0).abs() < 0.05, "{se} vs {ideal}");
    }

    #[test]
    fn percentile_intervals_of_a_non_negative_metric_stay_non_negative() {
        // Zero in most runs, large in a few: mean ± 1.96 se crosses zero, the bootstrap does not.
        let mut x = vec![0.0; 40];
        x[3] = 900.0;
        x[17] = 40.0;
        let a = crate::aggregate::metric_agg(&x);
        assert!(a.mean - crate::aggregate::Z95 * a.se < 0.0);
        let mut r = rng(5, "test", 2);
        let ci = mean_intervals(&[x.clone(), vec![1.0; 40]], 2000, 0.95, &mut r);
        assert!(
            ci[0].0 >= 0.0 && ci[0].0 <= a.mean && a.mean <= ci[0].1,
            "{:?}",
            ci[0]
        );
        assert_eq!(ci[1], (1.0, 1.0));
        // Deterministic: the same stream gives the same bytes.
        let mut r2 = rng(5, "test", 2);
        assert_eq!(
            mean_intervals(&[x, vec![1.0; 40]], 2000, 0.95, &mut r2)[0],
            ci[0]
        );
        let mut r3 = rng(5, "test", 2);
        let nan = mean_intervals(&[vec![f64::NAN, 1.0]], 10, 0.95, &mut r3);
        assert!(nan[0].0.is_nan() && nan[0].1.is_nan());
    }
}
